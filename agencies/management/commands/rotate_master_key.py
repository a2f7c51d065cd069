"""Re-wrap every data key under the newest master key in MUSTER_MASTER_KEYS (see docs/encryption.md)."""

from django.core.management.base import BaseCommand
from django.db import transaction

from agencies.models import DataKey
from network import crypto
from network.audit import AuditAction, audit_record


class Command(BaseCommand):
    help = "Re-wrap all data keys under the newest master key. Data is not re-encrypted."

    def handle(self, *args, **options):
        newest = crypto.master_keys()[0].key_id
        stale = DataKey.objects.exclude(master_key_id=newest).filter(destroyed_at__isnull=True)
        count = 0
        for data_key in stale.iterator():
            with transaction.atomic():
                raw = crypto.unwrap(data_key.master_key_id, data_key.wrapped_key)
                master_key_id, wrapped = crypto.wrap(raw)
                DataKey.objects.filter(pk=data_key.pk).update(master_key_id=master_key_id, wrapped_key=wrapped)
                audit_record(action=AuditAction.MASTER_KEY_ROTATED, agency=data_key.agency, obj=data_key)
            count += 1
        crypto.forget_cached_keys()
        self.stdout.write(
            self.style.SUCCESS(
                f"{count} data key(s) re-wrapped under master key {newest}. "
                "Older master keys can be removed from MUSTER_MASTER_KEYS once every process has restarted."
            )
        )
