"""Publish every period whose publication day has come (what the daily beat task does), now, in this process."""

import datetime

from django.core.management.base import BaseCommand, CommandError

from network.models import Network
from reporting import services


class Command(BaseCommand):
    help = "Publish the leadership figures of every due, unpublished period (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--today", help="publish as if today were YYYY-MM-DD (default: today)")

    def handle(self, *args, **options):
        today = None
        if options["today"]:
            try:
                today = datetime.date.fromisoformat(options["today"])
            except ValueError as error:
                raise CommandError("--today takes a date as YYYY-MM-DD") from error
        for network in Network.objects.order_by("pk"):
            made = services.publication_publish_due(network=network, today=today)
            names = ", ".join(f"{p.period_kind} {p.period_start:%Y-%m}" for p in made) or "nothing due"
            self.stdout.write(f"{network.name}: {names}")
