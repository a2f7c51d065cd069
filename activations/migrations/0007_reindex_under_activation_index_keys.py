"""Give every activation whose names still exist its own blind-index key, and re-index its affected
members under it (names decrypted with the activation's data key). The global MUSTER_BLIND_INDEX_KEY
is not read: indexes are recomputed from the names, so that key can be deleted everywhere.
Activations whose names were destroyed keep an empty index (done when they were destroyed)."""

import base64
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import migrations


def reindex(apps, schema_editor):
    from agencies.crypto import blind_index_value
    from network import crypto

    Activation = apps.get_model("activations", "Activation")
    OutreachTarget = apps.get_model("activations", "OutreachTarget")
    DataKey = apps.get_model("agencies", "DataKey")
    ciphers = {}

    def decrypt(token, aad):
        prefix, key_id, blob = (token.split(".", 2) + ["", ""])[:3]
        if prefix != crypto.PREFIX:
            return None
        if key_id not in ciphers:
            row = DataKey.objects.filter(key_id=key_id, destroyed_at__isnull=True).exclude(wrapped_key=b"").first()
            ciphers[key_id] = AESGCM(crypto.unwrap(row.master_key_id, bytes(row.wrapped_key))) if row else None
        if ciphers[key_id] is None:
            return None
        raw = base64.urlsafe_b64decode(blob)
        try:
            return ciphers[key_id].decrypt(raw[:12], raw[12:], aad).decode()
        except InvalidTag:
            return None

    for activation in Activation.objects.filter(names_destroyed_at__isnull=True).iterator():
        live = DataKey.objects.filter(activation=activation, purpose="blind-index", destroyed_at__isnull=True)
        if live.exists():
            continue
        key = secrets.token_bytes(32)
        master_key_id, wrapped = crypto.wrap(key)
        DataKey.objects.create(
            activation=activation,
            purpose="blind-index",
            key_id=secrets.token_hex(8),
            wrapped_key=wrapped,
            master_key_id=master_key_id,
        )
        # Raw values: the historical model's encrypted field must not decrypt through today's code.
        targets = OutreachTarget.objects.filter(activation=activation).exclude(name=None)
        for pk, row_uuid, token in targets.values_list("pk", "uuid", "name").iterator():
            name = decrypt(str(token), f"public|activations_outreachtarget|name|{row_uuid}".encode())
            index = blind_index_value(key, activation.uuid, name) if name is not None else ""
            OutreachTarget.objects.filter(pk=pk).update(name_index=index)
    crypto.forget_cached_keys()


class Migration(migrations.Migration):
    dependencies = [
        ("activations", "0006_event_kind_assignment_returned"),
        ("agencies", "0011_datakey_blind_index_purpose"),
    ]

    operations = [migrations.RunPython(reindex, migrations.RunPython.noop)]
