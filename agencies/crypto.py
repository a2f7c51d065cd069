"""Envelope encryption: AES-256-GCM data keys per agency, wrapped by master keys from the environment.

    MUSTER_MASTER_KEYS (newest first) --wraps--> DataKey (one current per agency) --encrypts--> fields

A ciphertext names its data key and is bound, through GCM's associated data, to the schema,
table, column and row it was written for: moved anywhere else it fails to decrypt, and a
failure raises DecryptionError; it never hands back ciphertext as if it were text.
Rotating a master key re-wraps data keys only; destroying an agency's data keys shreds its data.

An activation also has its own blind-index key (HMAC-SHA256 for duplicate detection), created with
its data key, wrapped by the master key like it, cached like it and shredded in the same step: once
an activation's names are destroyed, no key remains anywhere that could recompute an index value
and confirm a guessed name against an old backup.
"""

from __future__ import annotations

import base64
import os
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

if TYPE_CHECKING:
    from agencies.models import DataKey

PREFIX = "m1"  # format version of stored ciphertexts: m1.<data key id>.<base64(nonce | ciphertext+tag)>
_WRAP_AAD = b"muster:data-key"


def cache_seconds() -> int:
    """How long each process caches unwrapped keys and each owner's current key id
    (MUSTER_KEY_CACHE_SECONDS, 60): a key rotated or destroyed elsewhere is seen everywhere within
    this window (docs/encounters.md)."""
    return settings.MUSTER_KEY_CACHE_SECONDS


class DecryptionError(Exception):
    """A ciphertext could not be decrypted: wrong place, wrong key, destroyed key or tampering."""


@dataclass(frozen=True)
class MasterKey:
    key_id: str
    key: bytes


def master_keys() -> list[MasterKey]:
    """The configured master keys, newest first, from settings.MUSTER_MASTER_KEYS ("id:base64,...")."""
    keys = []
    for item in settings.MUSTER_MASTER_KEYS:
        key_id, _, encoded = item.partition(":")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except ValueError:
            raise ImproperlyConfigured(f"MUSTER_MASTER_KEYS: key {key_id!r} is not base64.") from None
        if not key_id or len(raw) != 32:
            raise ImproperlyConfigured(f"MUSTER_MASTER_KEYS: key {key_id!r} must be 32 bytes (AES-256), base64.")
        keys.append(MasterKey(key_id, raw))
    if not keys:
        raise ImproperlyConfigured("MUSTER_MASTER_KEYS is empty.")
    return keys


def generate_master_key(key_id: str) -> str:
    """A new master key entry for MUSTER_MASTER_KEYS."""
    return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"


def _master(key_id: str) -> MasterKey:
    for key in master_keys():
        if key.key_id == key_id:
            return key
    raise DecryptionError(f"master key {key_id!r} is not configured")


def wrap(raw: bytes) -> tuple[str, bytes]:
    newest = master_keys()[0]
    nonce = os.urandom(12)
    return newest.key_id, nonce + AESGCM(newest.key).encrypt(nonce, raw, _WRAP_AAD)


def unwrap(master_key_id: str, wrapped: bytes) -> bytes:
    wrapped = bytes(wrapped)
    try:
        return AESGCM(_master(master_key_id).key).decrypt(wrapped[:12], wrapped[12:], _WRAP_AAD)
    except InvalidTag:
        raise DecryptionError("data key does not unwrap under its master key") from None


# --- Data keys -------------------------------------------------------------------------------

_unwrapped: dict[str, tuple[float, AESGCM]] = {}  # key id -> (when unwrapped, its cipher)
_index_keys: dict[int, tuple[float, bytes]] = {}  # activation id -> (when unwrapped, its blind-index key)


# Each owner's current key id, so an encrypted save costs no key lookup (docs/performance.md).
_current: dict[tuple[int | None, int | None], tuple[float, str]] = {}


def forget_cached_keys() -> None:
    _unwrapped.clear()
    _current.clear()
    _index_keys.clear()


def _owner(agency, activation) -> tuple[int | None, int | None]:
    return (getattr(agency, "pk", None), getattr(activation, "pk", None))


def _cipher(key_id: str) -> AESGCM:
    from agencies.models import DataKey

    cached = _unwrapped.get(key_id)
    if cached and time.monotonic() - cached[0] < cache_seconds():
        return cached[1]
    data_key = DataKey.objects.filter(key_id=key_id, purpose=DataKey.Purpose.ENCRYPTION).first()
    if data_key is None or data_key.destroyed_at is not None or not data_key.wrapped_key:
        raise DecryptionError(f"data key {key_id} does not exist or was destroyed")
    cipher = AESGCM(unwrap(data_key.master_key_id, data_key.wrapped_key))
    _unwrapped[key_id] = (time.monotonic(), cipher)
    return cipher


def data_key_create(*, agency=None, activation=None) -> DataKey:
    """A new current data key for an agency or an activation; the previous one is retired. An
    activation's first data key comes with its blind-index key (`index_key_for`)."""
    from agencies.models import DataKey

    raw = AESGCM.generate_key(bit_length=256)
    master_key_id, wrapped = wrap(raw)
    with transaction.atomic():
        DataKey.objects.filter(
            agency=agency, activation=activation, purpose=DataKey.Purpose.ENCRYPTION, retired_at__isnull=True
        ).update(retired_at=timezone.now())
        data_key = DataKey.objects.create(
            agency=agency,
            activation=activation,
            key_id=secrets.token_hex(8),
            wrapped_key=wrapped,
            master_key_id=master_key_id,
        )
        if activation is not None and not _live_index_keys(activation).exists():
            _index_key_create(activation)
        _current.pop(_owner(agency, activation), None)  # this process sees the new key at once
    return data_key


def data_key_current(*, agency=None, activation=None) -> DataKey:
    from agencies.models import DataKey

    data_key = (
        DataKey.objects.filter(
            agency=agency,
            activation=activation,
            purpose=DataKey.Purpose.ENCRYPTION,
            retired_at__isnull=True,
            destroyed_at__isnull=True,
        )
        .order_by("-created_at")
        .first()
    )
    if data_key is None and activation is not None and activation.names_destroyed_at is not None:
        raise DecryptionError("this activation's key was destroyed; its names cannot be written or read")
    return data_key or data_key_create(agency=agency, activation=activation)


def data_keys_destroy(*, agency=None, activation=None) -> int:
    """Shred: empty every key of the owner (an activation's blind-index key with its data keys), so what
    they encrypted can never be read again and no index value can be recomputed."""
    from agencies.models import DataKey

    count = DataKey.objects.filter(agency=agency, activation=activation, destroyed_at__isnull=True).update(
        wrapped_key=b"", destroyed_at=timezone.now(), retired_at=timezone.now()
    )
    forget_cached_keys()
    return count


# --- Blind-index keys (one per activation) -----------------------------------------------------


def _live_index_keys(activation):
    from agencies.models import DataKey

    return DataKey.objects.filter(
        activation=activation, purpose=DataKey.Purpose.BLIND_INDEX, destroyed_at__isnull=True
    ).exclude(wrapped_key=b"")


def _index_key_create(activation) -> DataKey:
    from agencies.models import DataKey

    master_key_id, wrapped = wrap(secrets.token_bytes(32))
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
    if cached and time.monotonic() - cached[0] < cache_seconds():
        return cached[1]
    row = _live_index_keys(activation).first()
    if row is None:
        if activation.names_destroyed_at is not None:
            raise DecryptionError("this activation's keys were destroyed; its index cannot be computed")
        data_key_current(activation=activation)  # a new activation: its data key and index key together
        row = _live_index_keys(activation).first() or _index_key_create(activation)
    raw = unwrap(row.master_key_id, row.wrapped_key)
    # Cached only once committed: a key made in a transaction that rolls back must not index anything.
    transaction.on_commit(lambda: _index_keys.__setitem__(activation.pk, (time.monotonic(), raw)))
    return raw


# --- Field-level encryption ----------------------------------------------------------------------


def current_key_id(*, agency=None, activation=None) -> str:
    """The owner's current data key id, cached per process for `cache_seconds()`. After a rotation
    elsewhere, this process may encrypt under the previous (retired, still valid) key until the
    window ends; `reencrypt_agency --destroy-retired` waits it out and sweeps again first."""
    owner = _owner(agency, activation)
    cached = _current.get(owner)
    if cached and time.monotonic() - cached[0] < cache_seconds():
        return cached[1]
    key_id = data_key_current(agency=agency, activation=activation).key_id
    # Remember it only once it is committed: a key created in a transaction that rolls back must not
    # be used by the next save (its data could never be decrypted).
    transaction.on_commit(lambda: _current.__setitem__(owner, (time.monotonic(), key_id)))
    return key_id


def encrypt(plaintext: str, *, aad: bytes, agency=None, activation=None) -> str:
    key_id = current_key_id(agency=agency, activation=activation)
    nonce = os.urandom(12)
    sealed = _cipher(key_id).encrypt(nonce, plaintext.encode(), aad)
    return f"{PREFIX}.{key_id}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def key_id_of(token: str) -> str:
    parts = token.split(".", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        raise DecryptionError("not a Muster ciphertext")
    return parts[1]


def decrypt(token: str, *, aad: bytes) -> str:
    parts = token.split(".", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        raise DecryptionError("not a Muster ciphertext")
    try:
        blob = base64.urlsafe_b64decode(parts[2])
        return _cipher(parts[1]).decrypt(blob[:12], blob[12:], aad).decode()
    except (InvalidTag, ValueError):
        raise DecryptionError("ciphertext does not belong here or was altered") from None
