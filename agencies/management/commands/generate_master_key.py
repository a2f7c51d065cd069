"""Print a new master key entry for MUSTER_MASTER_KEYS."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from network import crypto


class Command(BaseCommand):
    help = "Print a new random master key as 'id:base64' to put first in MUSTER_MASTER_KEYS."

    def add_arguments(self, parser):
        parser.add_argument("--id", default=None, help="key id (default: today's date)")

    def handle(self, *args, **options):
        self.stdout.write(crypto.generate_master_key(options["id"] or timezone.now().strftime("%Y%m%d")))
