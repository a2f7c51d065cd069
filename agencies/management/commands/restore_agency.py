"""Restore one agency from a backup made by backup_agency: all of it or, on any failure, nothing."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from agencies.backup import BackupError, agency_restore, backup_check, human_size


class Command(BaseCommand):
    help = (
        "Restore one agency from a backup directory. Checks the manifest's signature, its schema, the "
        "checksums and the dump's contents first; restores only that agency's schema; refuses to "
        "overwrite a live agency unless --replace (docs/operations.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="the backup directory written by backup_agency")
        parser.add_argument(
            "--replace", action="store_true", help="replace the agency's live schema (all its current data)"
        )
        parser.add_argument(
            "--check", action="store_true", help="only verify that the backup is intact and restorable here"
        )

    def handle(self, *args, **options):
        path = Path(options["path"])
        if options["check"]:
            return self._check(path)
        try:
            result = agency_restore(path, replace=options["replace"], progress=self.stdout.write)
        except BackupError as error:
            raise CommandError(str(error)) from None
        size = sum(file.stat().st_size for file in path.iterdir())
        rows = ", ".join(f"{table} {count}" for table, count in result.row_counts.items())
        extras = []
        if result.agency_recreated:
            extras.append("agency row re-created")
        if result.keys_recreated:
            extras.append(f"data key(s) re-created: {', '.join(result.keys_recreated)}")
        if result.contacts_shredded:
            extras.append(
                f"{result.contacts_shredded} check-in contact(s) emptied: their own keys are destroyed here "
                "or were in no backup"
            )
        if result.migrations_applied:
            extras.append(f"migrations applied since the backup: {', '.join(result.migrations_applied)}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored {result.agency.slug} (schema {result.schema_name}) from {path} ({human_size(size)}); "
                f"rows: {rows}; {result.values_decrypted} encrypted value(s) decrypted"
                + ("; " + "; ".join(extras) if extras else "")
                + "."
            )
        )

    def _check(self, path: Path) -> None:
        try:
            manifest = backup_check(path)
        except BackupError as error:
            raise CommandError(str(error)) from None
        rows = sum(manifest["row_counts"].values())
        self.stdout.write(
            self.style.SUCCESS(
                f"Backup {path} of {manifest['agency']['slug']} ({manifest['created_at']}) is intact and restorable "
                f"here: {len(manifest['files'])} files match their checksums, {rows} rows in "
                f"{len(manifest['row_counts'])} tables, every data key it needs is available."
            )
        )
