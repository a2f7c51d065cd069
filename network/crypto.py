"""Envelope encryption, the cipher half: master keys, AES-256-GCM field encryption, the per-process key caches.

    MUSTER_MASTER_KEYS (newest first) --wraps--> data key (one current per owner) --encrypts--> fields

A ciphertext names its data key and is bound, through GCM's associated data, to the schema,
table, column and row it was written for: moved anywhere else it fails to decrypt, and a
failure raises DecryptionError; it never hands back ciphertext as if it were text.

The data key records (agencies.models.DataKey: one current key per agency, per activation and one
for the network, owner=None) live in a higher layer than this module, which is used by the bottom
layer itself (the MFA secret, network.models.AuthenticatorApp). So this module never reads them
directly: it asks the `KeyStore` registered at start-up (agencies.crypto registers its DataKey-backed
store in AgenciesConfig.ready()) for an owner's current key id and for a key's wrapped bytes, and
keeps the unwrapped ciphers and current key ids cached per process itself (docs/decisions.md,
"The cipher sits in network, the key records in agencies").
"""

from __future__ import annotations

import base64
import binascii
import os
import time
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

PREFIX = "m1"  # format version of stored ciphertexts: m1.<data key id>.<base64(nonce | ciphertext+tag)>
_WRAP_AAD = b"muster:data-key"


def cache_seconds() -> int:
    """How long each process caches unwrapped keys and each owner's current key id
    (MUSTER_KEY_CACHE_SECONDS, 60): a key rotated or destroyed elsewhere is seen everywhere within
    this window (docs/encounters.md)."""
    return settings.MUSTER_KEY_CACHE_SECONDS


class DecryptionError(Exception):
    """A ciphertext could not be decrypted: wrong place, wrong key, destroyed key or tampering."""


# --- Master keys ---------------------------------------------------------------------------------


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


# --- Where the data keys are kept ----------------------------------------------------------------


class KeyStore(Protocol):
    """The data key records, as this module needs them. An owner is an agency, an activation (an
    object with `pk`; the store may read more of it), a subject (the uuid of one row that has a key of its
    own: a member's request or check-ins, shredded when they end; docs/members.md) or none of them (the
    network's own key)."""

    def current_key_id(self, *, agency=None, activation=None, subject=None) -> str:
        """The owner's current data key id, making the owner's first key when it has none."""

    def wrapped_key(self, key_id: str) -> tuple[str, bytes]:
        """(master key id, wrapped bytes) of a live data key; DecryptionError when it is gone."""

    def forget_cached_keys(self) -> None:
        """Drop whatever key material the store itself caches in this process."""


_store: KeyStore | None = None


def key_store_register(store: KeyStore) -> None:
    """Called once at start-up by the app that keeps the data key records (agencies)."""
    global _store
    _store = store


def _key_store() -> KeyStore:
    if _store is None:
        raise ImproperlyConfigured("No key store is registered (agencies registers one in AgenciesConfig.ready()).")
    return _store


# --- Per-process caches ----------------------------------------------------------------------------

# Bounded: a process that meets more keys than this (hundreds of agencies, every activation's key)
# first drops the entries whose window has passed, then the oldest (_cache_put).
CACHE_MAX_KEYS = 1000
# key id -> (until when it may be used, its cipher): the deadline, not the time of unwrapping, so a
# read compares two numbers and does not go through django.conf.settings once per value.
_unwrapped: dict[str, tuple[float, AESGCM]] = {}
# Each owner's current key id, so an encrypted save costs no key lookup (docs/performance.md).
_current: dict[tuple, tuple[float, str]] = {}


def _cache_put(cache: dict, key, entry: tuple, stale) -> None:
    """cache[key] = entry, keeping at most CACHE_MAX_KEYS entries: when full, the entries `stale`
    says have had their window go first, then the oldest."""
    if key not in cache and len(cache) >= CACHE_MAX_KEYS:
        for old in [k for k, held in cache.items() if stale(held)]:
            del cache[old]
        while len(cache) >= CACHE_MAX_KEYS:
            del cache[next(iter(cache))]  # the oldest: dicts keep insertion order
    cache.pop(key, None)  # re-inserted at the end, so the order stays oldest first
    cache[key] = entry


def _owner(agency, activation, subject=None) -> tuple:
    """(agency id, activation id), or ("subject", uuid) for a row with a key of its own."""
    if subject is not None:
        return ("subject", str(subject))
    return (getattr(agency, "pk", None), getattr(activation, "pk", None))


def forget_cached_keys() -> None:
    """Forget every key this process holds: unwrapped ciphers, current key ids and the store's own."""
    _unwrapped.clear()
    _current.clear()
    if _store is not None:
        _store.forget_cached_keys()


def current_key_forget(*, agency=None, activation=None, subject=None) -> None:
    """This process sees the owner's new current key at once (the store made one)."""
    _current.pop(_owner(agency, activation, subject), None)


def _cipher(key_id: str) -> AESGCM:
    """The key's cipher: unwrapped once per key and cache window in each process, however many
    values (or requests) use it; the key store is asked only on a miss."""
    cached = _unwrapped.get(key_id)
    if cached and time.monotonic() < cached[0]:
        return cached[1]
    master_key_id, wrapped = _key_store().wrapped_key(key_id)
    cipher = AESGCM(unwrap(master_key_id, wrapped))
    now = time.monotonic()
    _cache_put(_unwrapped, key_id, (now + cache_seconds(), cipher), lambda held: held[0] <= now)
    return cipher


# --- Field-level encryption ----------------------------------------------------------------------


def current_key_id(*, agency=None, activation=None, subject=None) -> str:
    """The owner's current data key id, cached per process for `cache_seconds()`. After a rotation
    elsewhere, this process may encrypt under the previous (retired, still valid) key until the
    window ends; `reencrypt_agency --destroy-retired` waits it out and sweeps again first."""
    owner = _owner(agency, activation, subject)
    cached = _current.get(owner)
    if cached and time.monotonic() - cached[0] < cache_seconds():
        return cached[1]
    if subject is not None:
        key_id = _key_store().current_key_id(subject=subject)
    else:
        key_id = _key_store().current_key_id(agency=agency, activation=activation)
    # Remember it only once it is committed: a key created in a transaction that rolls back must not
    # be used by the next save (its data could never be decrypted).
    transaction.on_commit(lambda: _remember_current(owner, key_id))
    return key_id


def _remember_current(owner, key_id: str) -> None:
    now, window = time.monotonic(), cache_seconds()
    _cache_put(_current, owner, (now, key_id), lambda held: now - held[0] >= window)


def encrypt(plaintext: str, *, aad: bytes, agency=None, activation=None, subject=None) -> str:
    key_id = current_key_id(agency=agency, activation=activation, subject=subject)
    nonce = os.urandom(12)
    sealed = _cipher(key_id).encrypt(nonce, plaintext.encode(), aad)
    return f"{PREFIX}.{key_id}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"


def key_id_of(token: str) -> str:
    parts = token.split(".", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        raise DecryptionError("not a Muster ciphertext")
    return parts[1]


_URLSAFE_TO_STANDARD = bytes.maketrans(b"-_", b"+/")


def decrypt(token: str, *, aad: bytes) -> str:
    parts = token.split(".", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        raise DecryptionError("not a Muster ciphertext")
    try:
        # base64.urlsafe_b64decode, inlined: it runs once per value shown (a third of the decrypt's time).
        blob = binascii.a2b_base64(parts[2].encode("ascii").translate(_URLSAFE_TO_STANDARD))
        return _cipher(parts[1]).decrypt(blob[:12], blob[12:], aad).decode()
    except (InvalidTag, ValueError):  # binascii.Error and UnicodeError are ValueErrors
        raise DecryptionError("ciphertext does not belong here or was altered") from None
