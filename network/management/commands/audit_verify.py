"""Check the audit log's hash chain and report the first event where it breaks."""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from network.audit_sql import VERIFY


class Command(BaseCommand):
    help = "Verify the audit log's hash chain; exit 1 at the first broken event."

    def handle(self, *args, **options):
        checked = 0
        with connection.cursor() as cursor:
            cursor.execute(VERIFY)
            for event_id, stored, previous, expected_previous, expected_hash in cursor.fetchall():
                if previous != expected_previous:
                    raise CommandError(
                        f"Audit chain broken at event {event_id}: the event before it was changed or removed."
                    )
                if stored != expected_hash:
                    raise CommandError(f"Audit chain broken at event {event_id}: its content was changed.")
                checked += 1
        self.stdout.write(self.style.SUCCESS(f"Audit chain intact: {checked} events verified."))
