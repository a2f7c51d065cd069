"""Re-encrypt one agency's confidential fields under a new data key, in batches; resumable."""

import time

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from agencies.crypto import data_key_create, data_key_current
from agencies.models import Agency, DataKey
from agencies.tenancy import agency_schema
from network import crypto
from network.audit import AuditAction, audit_record
from network.fields import Ciphertext, EncryptedTextField


def encrypted_models(*, own_keys: bool = False):
    """Agency-schema models with encrypted fields under the agency's data keys, and those fields; with
    `own_keys`, those whose every row has a key of its own instead (a member's check-ins: docs/members.md).
    Such a model's `encryption_subject()` is its `uuid`, and its `shredded_columns()` says what a row becomes
    when that key is gone (agencies/backup.py empties a restored row whose key is destroyed)."""
    tenant_labels = {app.rsplit(".", 1)[-1] for app in settings.TENANT_APPS}
    for model in apps.get_models():
        if model._meta.app_label not in tenant_labels:
            continue
        if hasattr(model, "encryption_subject") != own_keys:
            continue
        fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
        if fields:
            yield model, fields


class Command(BaseCommand):
    help = "Give an agency a new data key and re-encrypt its data under it (batched; safe to stop and resume)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument("--max-batches", type=int, default=None, help="stop after this many batches")
        parser.add_argument("--resume", action="store_true", help="continue with the current key; no new key")
        parser.add_argument(
            "--destroy-retired", action="store_true", help="after completion, destroy the agency's retired keys"
        )

    def handle(self, *args, **options):
        agency = Agency.objects.filter(slug=options["slug"]).first()
        if agency is None:
            raise CommandError(f"No agency with the address {options['slug']!r}.")
        if options["resume"]:
            key = data_key_current(agency=agency)
        else:
            key = data_key_create(agency=agency)
            self.stdout.write(f"New data key {key.key_id} for {agency.slug}.")
        _, remaining = self._sweep(agency, key, options["batch_size"], options["max_batches"])
        if remaining:
            self.stdout.write(f"Stopped with {remaining} row(s) left; run again with --resume to continue.")
            return
        audit_record(action=AuditAction.DATA_KEY_ROTATED, agency=agency, obj=key)
        if options["destroy_retired"]:
            # Other processes cache the current key id (crypto.cache_seconds()): until that window has
            # passed since the new key was made, one may still have encrypted a row under an old key.
            # Wait it out and sweep again, so destroying the old keys loses nothing.
            wait = crypto.cache_seconds() - (timezone.now() - key.created_at).total_seconds()
            if wait > 0:
                self.stdout.write(f"Waiting {wait:.0f} s for other processes to stop using the previous key.")
                time.sleep(wait)
            _, remaining = self._sweep(agency, key, options["batch_size"], None)
            if remaining:
                self.stdout.write(f"{remaining} row(s) still under an old key; nothing destroyed. Run again.")
                return
            destroyed = DataKey.objects.filter(agency=agency, retired_at__isnull=False, destroyed_at__isnull=True)
            count = destroyed.update(wrapped_key=b"", destroyed_at=timezone.now())
            self.stdout.write(f"Destroyed {count} retired key(s).")
        crypto.forget_cached_keys()
        self.stdout.write(self.style.SUCCESS(f"All of {agency.slug}'s encrypted data is under key {key.key_id}."))

    def _sweep(self, agency: Agency, key: DataKey, batch_size: int, max_batches: int | None) -> tuple[int, int]:
        """Re-encrypt rows not yet under `key`, in batches. Returns (batches done, rows left)."""
        prefix = Ciphertext(f"{crypto.PREFIX}.{key.key_id}.")
        batches = 0
        remaining = 0
        with agency_schema(agency):
            for model, fields in encrypted_models():
                pending = Q()
                for field in fields:
                    pending |= Q(**{f"{field.name}__isnull": False}) & ~Q(**{f"{field.name}__startswith": prefix})
                while max_batches is None or batches < max_batches:
                    with transaction.atomic():
                        rows = list(model.objects.select_for_update().filter(pending).order_by("pk")[:batch_size])
                        for row in rows:
                            for field in fields:
                                # Reading decrypts under the old key; assigning marks it for encryption anew.
                                setattr(row, field.attname, getattr(row, field.attname))
                            row.save(update_fields=[f.name for f in fields])
                    if not rows:
                        break
                    batches += 1
                    self.stdout.write(f"{model._meta.label}: re-encrypted {len(rows)} row(s) (batch {batches})")
                remaining += model.objects.filter(pending).count()
        return batches, remaining
