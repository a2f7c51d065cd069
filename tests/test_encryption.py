"""Encrypted fields hold ciphertext in the database, decrypt only where they were written, and
survive master-key rotation and data-key re-encryption."""

import io

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django_tenants.utils import tenant_context

from agencies import crypto as agency_crypto
from agencies.models import DataKey, Role
from encounters.models import Encounter
from network import crypto
from tests.support import WORLD_NOTE, log_encounter

pytestmark = pytest.mark.django_db


def raw_notes(agency, encounter_id) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT notes FROM "{agency.schema_name}".encounters_encounter WHERE id = %s', [encounter_id])
        return cursor.fetchone()[0]


def test_notes_are_ciphertext_in_the_database_and_text_in_the_app(world):
    stored = raw_notes(world.agency_a, world.encounter.pk)
    assert "night shift" not in stored and WORLD_NOTE not in stored
    assert stored.startswith("m1.")
    with tenant_context(world.agency_a):
        assert Encounter.objects.get(pk=world.encounter.pk).notes == WORLD_NOTE


def test_each_agency_has_its_own_data_key(world):
    log_encounter(world.agency_b, author=world.b[Role.PEER_SUPPORTER], notes="b's note")
    a_key = crypto.key_id_of(raw_notes(world.agency_a, world.encounter.pk))
    assert DataKey.objects.get(key_id=a_key).agency == world.agency_a
    assert DataKey.objects.filter(agency=world.agency_b, retired_at__isnull=True).count() == 1


def test_ciphertext_moved_to_another_row_fails_to_decrypt(world):
    other = log_encounter(world.agency_a, author=world.a[Role.PEER_SUPPORTER], notes="other row")
    with tenant_context(world.agency_a):
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE encounters_encounter SET notes = %s WHERE id = %s",
                [raw_notes(world.agency_a, world.encounter.pk), other.pk],
            )
        moved = Encounter.objects.get(pk=other.pk)
        with pytest.raises(crypto.DecryptionError):
            _ = moved.notes


def test_ciphertext_copied_into_another_agency_fails_to_decrypt(world):
    stolen = raw_notes(world.agency_a, world.encounter.pk)
    with tenant_context(world.agency_a):  # A's notes read first: the field keeps A's bound prefix
        assert Encounter.objects.get(pk=world.encounter.pk).notes == WORLD_NOTE
    victim = log_encounter(world.agency_b, author=world.b[Role.PEER_SUPPORTER], notes="b's own")
    with tenant_context(world.agency_b):
        # Same row identity too: only the schema differs.
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE encounters_encounter SET notes = %s, uuid = %s WHERE id = %s",
                [stolen, str(world.encounter.uuid), victim.pk],
            )
        copied = Encounter.objects.get(pk=victim.pk)
        with pytest.raises(crypto.DecryptionError):
            _ = copied.notes


def test_tampered_ciphertext_raises_and_never_returns_ciphertext(world):
    stored = raw_notes(world.agency_a, world.encounter.pk)
    tampered = stored[:-6] + ("AAAAAA" if not stored.endswith("AAAAAA") else "BBBBBB")
    with tenant_context(world.agency_a):
        with connection.cursor() as cursor:
            cursor.execute("UPDATE encounters_encounter SET notes = %s WHERE id = %s", [tampered, world.encounter.pk])
        with pytest.raises(crypto.DecryptionError):
            _ = Encounter.objects.get(pk=world.encounter.pk).notes


def test_queryset_update_with_plain_text_is_refused(world):
    with tenant_context(world.agency_a), pytest.raises(TypeError, match="model.save"):
        Encounter.objects.filter(pk=world.encounter.pk).update(notes="in the clear")


def test_destroyed_data_key_shreds_the_agencys_notes(world):
    DataKey.objects.filter(agency=world.agency_a).update(wrapped_key=b"", destroyed_at="2026-01-01T00:00:00Z")
    crypto.forget_cached_keys()
    with tenant_context(world.agency_a), pytest.raises(crypto.DecryptionError):
        _ = Encounter.objects.get(pk=world.encounter.pk).notes
    crypto.forget_cached_keys()


def test_master_key_rotation_rewraps_data_keys_and_everything_still_decrypts(world, settings):
    old = list(settings.MUSTER_MASTER_KEYS)
    settings.MUSTER_MASTER_KEYS = [crypto.generate_master_key("2027a"), *old]
    call_command("rotate_master_key", stdout=io.StringIO())
    assert set(DataKey.objects.values_list("master_key_id", flat=True)) == {"2027a"}
    crypto.forget_cached_keys()
    settings.MUSTER_MASTER_KEYS = settings.MUSTER_MASTER_KEYS[:1]  # the old master key is gone
    with tenant_context(world.agency_a):
        assert Encounter.objects.get(pk=world.encounter.pk).notes == WORLD_NOTE
    crypto.forget_cached_keys()


def test_reencrypting_an_agency_moves_every_note_to_a_new_data_key_in_resumable_batches(world):
    for n in range(5):
        log_encounter(world.agency_a, author=world.a[Role.PEER_SUPPORTER], notes=f"note {n}")
    old_key = crypto.key_id_of(raw_notes(world.agency_a, world.encounter.pk))
    out = io.StringIO()
    call_command("reencrypt_agency", world.agency_a.slug, "--batch-size", "2", "--max-batches", "1", stdout=out)
    with tenant_context(world.agency_a):
        keys = [crypto.key_id_of(n) for n in Encounter.objects.exclude(notes=None).values_list("notes", flat=True)]
    assert keys.count(old_key) == len(keys) - 2  # stopped after one batch of two
    call_command("reencrypt_agency", world.agency_a.slug, "--batch-size", "2", "--resume", stdout=out)
    new_key = DataKey.objects.get(agency=world.agency_a, retired_at__isnull=True).key_id
    with tenant_context(world.agency_a):
        stored = list(Encounter.objects.exclude(notes=None).values_list("notes", flat=True))
        assert {crypto.key_id_of(n) for n in stored} == {new_key}
        assert Encounter.objects.get(pk=world.encounter.pk).notes == WORLD_NOTE
    assert DataKey.objects.get(key_id=old_key).retired_at is not None


def _data_key_queries(captured) -> int:
    return sum(1 for query in captured if "agencies_datakey" in query["sql"])


def test_saving_looks_up_the_current_key_once_per_cache_window(world, django_capture_on_commit_callbacks):
    from django.test.utils import CaptureQueriesContext

    crypto.forget_cached_keys()
    with django_capture_on_commit_callbacks(execute=True):  # the key id is remembered once committed
        log_encounter(world.agency_a, author=world.a[Role.PEER_SUPPORTER], notes="first")
    with CaptureQueriesContext(connection) as captured:
        for n in range(3):
            log_encounter(world.agency_a, author=world.a[Role.PEER_SUPPORTER], notes=f"next {n}")
    assert _data_key_queries(captured) == 0


def test_a_key_made_in_a_transaction_that_rolls_back_is_never_used(world, settings):
    from django.db import transaction

    from tests.support import make_agency

    agency = make_agency(
        actor=world.state_admin, network=world.agency_a.network, region=world.agency_a.region, slug="keyless-ems"
    )
    crypto.forget_cached_keys()
    with tenant_context(agency):
        with pytest.raises(RuntimeError), transaction.atomic():
            crypto.encrypt("lost", aad=b"x", agency=agency)  # creates the agency's first key
            raise RuntimeError("the save fails")
        assert not DataKey.objects.filter(agency=agency).exists()
        token = crypto.encrypt("kept", aad=b"x", agency=agency)
    assert DataKey.objects.filter(agency=agency, key_id=crypto.key_id_of(token)).exists()
    crypto.forget_cached_keys()
    assert crypto.decrypt(token, aad=b"x") == "kept"


def test_destroying_retired_keys_waits_out_other_processes_caches_and_sweeps_again(world, monkeypatch):
    old_key = crypto.key_id_of(raw_notes(world.agency_a, world.encounter.pk))
    late = []

    def another_process_writes_meanwhile(seconds):
        """While the command waits, a process whose cache still names the old key saves a note."""
        assert 0 < seconds <= crypto.cache_seconds()
        crypto._current[(world.agency_a.pk, None)] = (crypto.time.monotonic(), old_key)
        late.append(log_encounter(world.agency_a, author=world.a[Role.PEER_SUPPORTER], notes="written late"))
        assert crypto.key_id_of(raw_notes(world.agency_a, late[0].pk)) == old_key
        crypto.forget_cached_keys()  # back to the command's own process

    monkeypatch.setattr("agencies.management.commands.reencrypt_agency.time.sleep", another_process_writes_meanwhile)
    call_command("reencrypt_agency", world.agency_a.slug, "--destroy-retired", stdout=io.StringIO())
    assert late, "the command did not wait for other processes' key caches"
    assert DataKey.objects.get(key_id=old_key).destroyed_at is not None
    crypto.forget_cached_keys()
    with tenant_context(world.agency_a):
        assert Encounter.objects.get(pk=late[0].pk).notes == "written late"


def test_the_cipher_reaches_the_key_records_only_through_the_store_agencies_registered(monkeypatch):
    """network/crypto.py (bottom layer) reads no DataKey itself: without a registered store it refuses."""
    assert isinstance(crypto._store, agency_crypto.DataKeyStore)
    monkeypatch.setattr(crypto, "_store", None)
    crypto.forget_cached_keys()
    with pytest.raises(ImproperlyConfigured, match="No key store is registered"):
        crypto.encrypt("text", aad=b"x")
    with pytest.raises(ImproperlyConfigured, match="No key store is registered"):
        crypto.decrypt("m1.somekey.AAAA", aad=b"x")


def test_forgetting_cached_keys_forgets_the_blind_index_keys_too(world, django_capture_on_commit_callbacks):
    """One call still empties every key cache of the process, the store's included."""
    with django_capture_on_commit_callbacks(execute=True):
        agency_crypto.index_key_for(world.activation)
    assert world.activation.pk in agency_crypto._index_keys
    crypto.forget_cached_keys()
    assert agency_crypto._index_keys == {} and crypto._unwrapped == {} and crypto._current == {}


def test_a_loaded_value_stays_bound_to_the_schema_it_was_read_from(world):
    """A row read in agency A's schema decrypts against A's schema even if its notes are first read after
    the connection moved on (the field records the schema as the row loads, instead of asking the
    connection once per value: docs/performance.md, "Encryption cost")."""
    with tenant_context(world.agency_a):
        encounter = Encounter.objects.get(pk=world.encounter.pk)
    with tenant_context(world.agency_b):
        assert encounter.notes == WORLD_NOTE


class _DecryptCounter:
    """The real crypto.decrypt, counted (installed with monkeypatch; the cipher itself runs)."""

    def __init__(self, monkeypatch) -> None:
        self.calls = 0
        self._decrypt = crypto.decrypt
        monkeypatch.setattr(crypto, "decrypt", self)

    def __call__(self, token, *, aad):
        self.calls += 1
        return self._decrypt(token, aad=aad)


def test_the_encounter_list_decrypts_no_notes_and_the_detail_page_one(client, world, monkeypatch):
    """Values decrypt when a page reads them: a list of 6 encounters (notes not shown) decrypts nothing,
    one encounter's page decrypts its notes once."""
    from tests.support import agency_url

    author = world.a[Role.PEER_SUPPORTER]
    for n in range(5):
        log_encounter(world.agency_a, author=author, notes=f"listed note {n}")
    client.force_login(author)
    counter = _DecryptCounter(monkeypatch)
    listing = client.get(agency_url(world.agency_a, "encounter_list"))
    assert listing.status_code == 200 and str(world.encounter.uuid) in listing.content.decode()
    assert counter.calls == 0
    detail = client.get(agency_url(world.agency_a, "encounter_detail", encounter_uuid=world.encounter.uuid))
    assert WORLD_NOTE in detail.content.decode()
    assert counter.calls == 1


def test_a_data_key_is_unwrapped_once_for_many_values(world, monkeypatch):
    """Reading every note of an agency asks the key store for the key once, not once per value."""
    for n in range(4):
        log_encounter(world.agency_a, author=world.a[Role.PEER_SUPPORTER], notes=f"note {n}")
    asked = []
    wrapped_key = crypto._store.wrapped_key
    monkeypatch.setattr(crypto._store, "wrapped_key", lambda key_id: asked.append(key_id) or wrapped_key(key_id))
    crypto.forget_cached_keys()
    with tenant_context(world.agency_a):
        notes = [e.notes for e in Encounter.objects.exclude(notes=None)]
    assert len(notes) >= 5 and WORLD_NOTE in notes
    assert len(asked) == 1
    crypto.forget_cached_keys()


def test_the_unwrapped_key_cache_is_bounded(world, monkeypatch):
    """A process that meets more data keys than CACHE_MAX_KEYS keeps that many, the newest, and still
    decrypts everything (the evicted key is unwrapped again)."""
    monkeypatch.setattr(crypto, "CACHE_MAX_KEYS", 2)
    crypto.forget_cached_keys()
    tokens = []
    for n in range(3):  # three data keys of agency A, each a rotation of the previous
        agency_crypto.data_key_create(agency=world.agency_a)
        tokens.append(crypto.encrypt(f"value {n}", aad=b"x", agency=world.agency_a))
    assert len({crypto.key_id_of(token) for token in tokens}) == 3
    assert len(crypto._unwrapped) == 2
    assert list(crypto._unwrapped) == [crypto.key_id_of(token) for token in tokens[1:]]
    assert [crypto.decrypt(token, aad=b"x") for token in tokens] == ["value 0", "value 1", "value 2"]
    assert len(crypto._unwrapped) == 2
    crypto.forget_cached_keys()
