"""Print the audit chain's head as a signed anchor line, to keep outside the database."""

from django.core.management.base import BaseCommand, CommandError

from network.audit import ChainBroken, anchor_current, chain_verify


class Command(BaseCommand):
    help = (
        "Print the audit chain head (position, event id, time, hash) signed with MUSTER_AUDIT_KEY, as one line "
        "to paste into a ticket or log outside the database; `audit_verify --anchor LINE` checks it later."
    )

    def handle(self, *args, **options):
        try:
            chain_verify()  # never anchor a chain that is already broken
            self.stdout.write(anchor_current().line())
        except ChainBroken as empty:
            raise CommandError(str(empty)) from None
