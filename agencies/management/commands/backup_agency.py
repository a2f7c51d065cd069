"""Back up one agency: its schema (pg_dump), its public rows and a manifest with checksums."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from agencies.backup import BackupError, agency_backup, agency_for_slug, backup_read_manifest, human_size


class Command(BaseCommand):
    help = "Back up one agency's schema and its data keys (wrapped) to a new directory (docs/operations.md)."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="the agency's address, e.g. riverton-fire")
        parser.add_argument("--output", default="backups", help="directory to write the backup into (default: backups)")

    def handle(self, *args, **options):
        try:
            agency = agency_for_slug(options["slug"])
            path = agency_backup(agency, options["output"], progress=self.stdout.write)
            manifest = backup_read_manifest(path)
        except BackupError as error:
            raise CommandError(str(error)) from None
        sizes = ", ".join(f"{name} {human_size(info['bytes'])}" for name, info in sorted(manifest["files"].items()))
        total = sum(file.stat().st_size for file in Path(path).iterdir())
        rows = ", ".join(f"{table} {count}" for table, count in manifest["row_counts"].items())
        keys = manifest["encrypted_values_by_key"]
        self.stdout.write(
            self.style.SUCCESS(
                f"Backed up {agency.slug} to {path} ({human_size(total)} in all: {sizes}); rows: {rows}; "
                f"{sum(keys.values())} encrypted value(s) under {len(keys)} data key(s)."
            )
        )
