"""Key material: the data key records, each activation's blind-index key, the blind index itself and
the name normalisation it uses. The cipher that uses the data keys is network/crypto.py.

    MUSTER_MASTER_KEYS (newest first) --wraps--> DataKey (one current per agency) --encrypts--> fields

One current data key per agency, per activation and one for the network (agency and activation
None), each stored only wrapped by a master key. Rotating a master key re-wraps data keys only;
destroying an agency's data keys shreds its data. `DataKeyStore` hands the records to the cipher
(registered in AgenciesConfig.ready(): the cipher sits in the bottom layer, the records here).

An activation also has its own blind-index key (HMAC-SHA256 for duplicate detection), created with
its data key, wrapped by the master key like it, cached like it and shredded in the same step: once
an activation's names are destroyed, no key remains anywhere that could recompute an index value
and confirm a guessed name against an old backup.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
import unicodedata

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import transaction
from django.utils import timezone

from agencies.models import DataKey
from network import crypto
from network.crypto import DecryptionError

# --- Data keys -------------------------------------------------------------------------------

_index_keys: dict[int, tuple[float, bytes]] = {}  # activation id -> (when unwrapped, its blind-index key)


def data_key_create(*, agency=None, activation=None, subject=None) -> DataKey:
    """A new current data key for an agency or an activation; the previous one is retired. An
    activation's first data key comes with its blind-index key (`index_key_for`)."""
    raw = AESGCM.generate_key(bit_length=256)
    master_key_id, wrapped = crypto.wrap(raw)
    with transaction.atomic():
        DataKey.objects.filter(
            agency=agency,
            activation=activation,
            subject=subject,
            purpose=DataKey.Purpose.ENCRYPTION,
            retired_at__isnull=True,
        ).update(retired_at=timezone.now())
        data_key = DataKey.objects.create(
            agency=agency,
            activation=activation,
            subject=subject,
            key_id=secrets.token_hex(8),
            wrapped_key=wrapped,
            master_key_id=master_key_id,
        )
        if activation is not None and not _live_index_keys(activation).exists():
            _index_key_create(activation)
        # this process sees the new key at once
        crypto.current_key_forget(agency=agency, activation=activation, subject=subject)
    return data_key


def data_key_current(*, agency=None, activation=None, subject=None) -> DataKey:
    data_key = (
        DataKey.objects.filter(
            agency=agency,
            activation=activation,
            subject=subject,
            purpose=DataKey.Purpose.ENCRYPTION,
            retired_at__isnull=True,
            destroyed_at__isnull=True,
        )
        .order_by("-created_at")
        .first()
    )
    if data_key is None and activation is not None and activation.names_destroyed_at is not None:
        raise DecryptionError("this activation's key was destroyed; its names cannot be written or read")
    if data_key is None and subject is not None and DataKey.objects.filter(subject=subject).exists():
        raise DecryptionError("this subject's key was destroyed; its text cannot be written or read")
    return data_key or data_key_create(agency=agency, activation=activation, subject=subject)


def data_keys_destroy(*, agency=None, activation=None, subject=None) -> int:
    """Shred: empty every key of the owner (an activation's blind-index key with its data keys), so what
    they encrypted can never be read again and no index value can be recomputed."""
    if agency is None and activation is None and subject is None:
        raise ValueError("data_keys_destroy needs an owner: it never shreds the network's own key")
    count = DataKey.objects.filter(
        agency=agency, activation=activation, subject=subject, destroyed_at__isnull=True
    ).update(wrapped_key=b"", destroyed_at=timezone.now(), retired_at=timezone.now())
    crypto.forget_cached_keys()
    return count


class DataKeyStore:
    """The DataKey records as network.crypto's KeyStore: registered in AgenciesConfig.ready()."""

    def current_key_id(self, *, agency=None, activation=None, subject=None) -> str:
        return data_key_current(agency=agency, activation=activation, subject=subject).key_id

    def wrapped_key(self, key_id: str) -> tuple[str, bytes]:
        data_key = DataKey.objects.filter(key_id=key_id, purpose=DataKey.Purpose.ENCRYPTION).first()
        if data_key is None or data_key.destroyed_at is not None or not data_key.wrapped_key:
            raise DecryptionError(f"data key {key_id} does not exist or was destroyed")
        return data_key.master_key_id, data_key.wrapped_key

    def forget_cached_keys(self) -> None:
        _index_keys.clear()


# --- Blind-index keys (one per activation) -----------------------------------------------------


def _live_index_keys(activation):
    return DataKey.objects.filter(
        activation=activation, purpose=DataKey.Purpose.BLIND_INDEX, destroyed_at__isnull=True
    ).exclude(wrapped_key=b"")


def _index_key_create(activation) -> DataKey:
    master_key_id, wrapped = crypto.wrap(secrets.token_bytes(32))
    return DataKey.objects.create(
        activation=activation,
        purpose=DataKey.Purpose.BLIND_INDEX,
        key_id=secrets.token_hex(8),
        wrapped_key=wrapped,
        master_key_id=master_key_id,
    )


def index_key_for(activation) -> bytes:
    """The activation's blind-index key (32 bytes for HMAC-SHA256), cached per process like data keys.

    Made with the activation's first data key; an activation whose names were destroyed has none, and
    asking for it raises DecryptionError rather than making a new one."""
    cached = _index_keys.get(activation.pk)
    if cached and time.monotonic() - cached[0] < crypto.cache_seconds():
        return cached[1]
    row = _live_index_keys(activation).first()
    if row is None:
        if activation.names_destroyed_at is not None:
            raise DecryptionError("this activation's keys were destroyed; its index cannot be computed")
        data_key_current(activation=activation)  # a new activation: its data key and index key together
        row = _live_index_keys(activation).first() or _index_key_create(activation)
    raw = crypto.unwrap(row.master_key_id, row.wrapped_key)
    # Cached only once committed: a key made in a transaction that rolls back must not index anything.
    transaction.on_commit(lambda: _index_keys.__setitem__(activation.pk, (time.monotonic(), raw)))
    return raw


# --- Names and the blind index --------------------------------------------------------------------


def normalize_name(name: str) -> str:
    """Case, spacing, accents and punctuation do not make a different person."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = re.sub(r"[^\w\s]", " ", text.casefold())
    return " ".join(text.split())


def blind_index_value(key: bytes, activation_uuid, name: str) -> str:
    """The index formula: HMAC-SHA256 of the activation's uuid and the normalized name."""
    message = f"{activation_uuid}|{normalize_name(name)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def blind_index(activation, name: str) -> str:
    """HMAC of the normalized name under the activation's own index key (`index_key_for`): equal names
    match within an activation and nowhere else, and shredding the activation's keys leaves nothing
    that could recompute an index value."""
    return blind_index_value(index_key_for(activation), activation.uuid, name)
