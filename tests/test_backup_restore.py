"""Per-agency backups restore: an agency backed up, destroyed and restored has every row back and
every encrypted value decrypts to its original text. Tampered or partial backups, restores over a
live agency without --replace, and restores that fail half-way leave everything as it was. The
readable export gives the agency its records decrypted, and only the export holds the plaintext.

pg_dump and pg_restore are separate processes that see only committed rows, so these tests commit
(django_db_blocker.unblock) and each builds its own agency with a unique address through the
services; the shared world's agencies are only read.
"""

import base64
import csv
import hashlib
import io
import json
import stat
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_exists, tenant_context

from agencies import backup, export, offboarding, schemas
from agencies import crypto as agency_crypto
from agencies import services as agency_services
from agencies.management.commands.reencrypt_agency import encrypted_models
from agencies.models import Agency, DataKey, Membership, Role
from encounters import services as encounter_services
from encounters.models import CheckInPlan, Encounter
from network import crypto
from network.models import AuditEvent, Network
from tests.support import WORLD_NOTE, log_encounter, make_agency, make_ready, open_activation

NOTES = (
    "Night shift debrief \u2014 wants a call Friday.",
    "Worried about sleep since the rollover; referred to the team clinician.",
    "After the key rotation: still private.",
)


@pytest.fixture
def committed(django_db_blocker):
    """Commit for real; afterwards, destroy the agencies the test made (as offboarding does), so later
    tests that walk every active agency (snapshot runs, the worker-kill test) never meet a
    half-restored or key-shredded one."""
    with django_db_blocker.unblock():
        first_new = (Agency.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
        yield
        for agency in Agency.objects.filter(pk__gte=first_new):
            with transaction.atomic():
                offboarding._shred(agency)
    crypto.forget_cached_keys()


def new_agency(world, prefix="backup"):
    """A fresh agency with A's supporter, a co-supporter, a clinician and a coordinator, all committed."""
    agency = make_agency(
        actor=world.state_admin,
        network=Network.objects.get(pk=world.network_id),
        region=world.agency_a.region,
        slug=f"{prefix}-{uuid.uuid4().hex[:8]}",
    )
    for user, role in (
        (world.a[Role.PEER_SUPPORTER], Role.PEER_SUPPORTER),
        (world.two_agency_user, Role.PEER_SUPPORTER),
        (world.a[Role.CLINICIAN], Role.CLINICIAN),
        (world.a[Role.COORDINATOR], Role.COORDINATOR),
    ):
        membership = agency_services.membership_add(actor=world.state_admin, user=user, agency=agency, role=role)
        if role == Role.PEER_SUPPORTER:
            make_ready(membership, actor=world.state_admin)
    return agency


def populate(world, agency):
    """Encounters with notes under two data keys (one rotation), a follow-up, a disclosure, a
    co-supporter and a link to a public activation: rows in every tenant table."""
    supporter, clinician = world.a[Role.PEER_SUPPORTER], world.a[Role.CLINICIAN]
    activation = open_activation(world, lead_agency=agency, actor=world.a[Role.COORDINATOR], name="Backup drill")
    first = log_encounter(
        agency,
        author=supporter,
        notes=NOTES[0],
        co_supporters=[world.two_agency_user],
        follow_up_due_on=timezone.localdate() + timedelta(days=3),
    )
    second = log_encounter(
        agency, author=supporter, notes=NOTES[1], referral="clinician", referred_to=clinician, escalation=True
    )
    encounter_services.disclosure_record(
        actor=supporter,
        agency=agency,
        encounter=second,
        exception="suicide-risk",
        disclosed_at=timezone.now(),
        notified=["clinician"],
    )
    agency_crypto.data_key_create(agency=agency)  # later notes go under a second key
    log_encounter(agency, author=supporter, notes=NOTES[2], activation=activation)
    log_encounter(agency, author=supporter)  # no notes at all
    return first


def state_of(agency) -> dict:
    """Every table's row count (read from the catalog, not the manifest) and every encrypted value, decrypted."""
    crypto.forget_cached_keys()
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [agency.schema_name])
        counts = {}
        for (table,) in cursor.fetchall():
            cursor.execute(f'SELECT count(*) FROM "{agency.schema_name}"."{table}"')
            counts[table] = cursor.fetchone()[0]
    values = {}
    with tenant_context(agency):
        for model, fields in encrypted_models():
            for row in model.objects.all():
                for field in fields:
                    values[(model._meta.label, str(row.uuid), field.name)] = getattr(row, field.name)
    return {"counts": counts, "values": values}


def destroy(agency):
    """What a disaster leaves: no schema, no data key rows, nothing cached."""
    schemas.schema_drop(agency.schema_name)
    DataKey.objects.filter(agency=agency).delete()
    crypto.forget_cached_keys()


def leftover_schemas(agency) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", [agency.schema_name + "%"])
        return sorted(row[0] for row in cursor.fetchall())


def test_agency_backed_up_destroyed_and_restored_has_every_row_and_every_encrypted_value(world, committed, tmp_path):
    agency = new_agency(world)
    populate(world, agency)
    before = state_of(agency)
    key_ids = sorted(DataKey.objects.filter(agency=agency).values_list("key_id", flat=True))
    assert len(key_ids) == 2 and sorted(v for v in before["values"].values() if v) == sorted(NOTES)

    path = backup.agency_backup(agency, tmp_path)
    destroy(agency)
    assert not schema_exists(agency.schema_name)
    assert not DataKey.objects.filter(agency=agency).exists()

    result = backup.agency_restore(path)

    assert sorted(result.keys_recreated) == key_ids
    assert result.values_decrypted == len(NOTES)
    after = state_of(agency)
    assert after == before
    assert after["counts"]["encounters_encounter"] == 4
    assert after["counts"]["encounters_encounter_co_supporters"] == 1
    assert after["counts"]["encounters_followup"] == 1
    assert after["counts"]["encounters_disclosurerecord"] == 1
    assert leftover_schemas(agency) == [agency.schema_name]
    actions = set(AuditEvent.objects.filter(agency=agency).values_list("action", flat=True))
    assert {"agency.backup", "agency.restore"} <= actions


def test_backup_manifest_describes_the_agency_and_checksums_every_file(world, committed, tmp_path):
    agency = new_agency(world)
    populate(world, agency)
    path = backup.agency_backup(agency, tmp_path)

    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["format"] == "muster-agency-backup" and manifest["format_version"] == 1
    assert manifest["agency"] == {"id": agency.pk, "slug": agency.slug, "schema_name": agency.schema_name}
    assert manifest["created_at"].endswith("+00:00")
    assert "encounters.0001_initial" in manifest["migrations"]
    assert manifest["row_counts"] == state_of(agency)["counts"]
    for name in ("schema.dump", "public.json"):
        data = (path / name).read_bytes()
        assert manifest["files"][name]["bytes"] == len(data)
        assert manifest["files"][name]["sha256"] == hashlib.sha256(data).hexdigest()
    public = json.loads((path / "public.json").read_text())
    assert public["agency"]["slug"] == agency.slug
    live_keys = {k.key_id: bytes(k.wrapped_key) for k in DataKey.objects.filter(agency=agency)}
    assert {k["key_id"]: base64.b64decode(k["wrapped_key"]) for k in public["data_keys"]} == live_keys
    # Only wrapped material: no backup file holds an unwrapped data key.
    raw_keys = [crypto.unwrap(k.master_key_id, k.wrapped_key) for k in DataKey.objects.filter(agency=agency)]
    for file in path.iterdir():
        content = file.read_bytes()
        for raw in raw_keys:
            assert raw not in content and base64.b64encode(raw) not in content
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    assert {stat.S_IMODE(f.stat().st_mode) for f in path.iterdir()} == {0o600}


def test_tampered_backup_is_refused_and_nothing_changes(world, committed, tmp_path):
    agency = new_agency(world)
    populate(world, agency)
    path = backup.agency_backup(agency, tmp_path)
    before = state_of(agency)
    dump = path / "schema.dump"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))

    with pytest.raises(backup.BackupError, match="does not match its checksum"):
        backup.agency_restore(path, replace=True)
    with pytest.raises(CommandError, match="does not match its checksum"):
        call_command("restore_agency", str(path), "--check", stdout=io.StringIO())

    assert state_of(agency) == before
    assert leftover_schemas(agency) == [agency.schema_name]


def test_partial_backup_is_refused(world, committed, tmp_path):
    agency = new_agency(world)
    path = backup.agency_backup(agency, tmp_path)
    destroy(agency)
    (path / "public.json").unlink()

    with pytest.raises(backup.BackupError, match="missing"):
        backup.agency_restore(path)
    (path / "manifest.json").unlink()
    with pytest.raises(backup.BackupError, match="no manifest.json"):
        backup.agency_restore(path)
    assert not schema_exists(agency.schema_name)


def test_restore_that_fails_after_pg_restore_puts_the_live_agency_back(world, committed, tmp_path):
    """The manifest promises one encounter more than the dump holds: the restored schema is dropped
    and the live one, moved aside for the restore, comes back untouched."""
    agency = new_agency(world)
    populate(world, agency)
    path = backup.agency_backup(agency, tmp_path)
    log_encounter(agency, author=world.a[Role.PEER_SUPPORTER], notes="Logged after the backup.")
    before = state_of(agency)
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["row_counts"]["encounters_encounter"] += 1
    # Re-signed with the server's key: an edited manifest is otherwise refused before pg_restore runs.
    (path / "manifest.json").write_text(json.dumps(backup.manifest_sign(manifest)))

    with pytest.raises(backup.BackupError, match="row counts differ"):
        backup.agency_restore(path, replace=True)

    assert state_of(agency) == before
    assert leftover_schemas(agency) == [agency.schema_name]
    assert AuditEvent.objects.filter(agency=agency, action="agency.restore", outcome="failure").exists()


def test_restore_over_a_live_agency_needs_replace(world, committed, tmp_path):
    agency = new_agency(world)
    populate(world, agency)
    path = backup.agency_backup(agency, tmp_path)
    at_backup = state_of(agency)
    log_encounter(agency, author=world.a[Role.PEER_SUPPORTER], notes="Logged after the backup.")
    after_backup = state_of(agency)

    with pytest.raises(backup.BackupError, match="exists"):
        backup.agency_restore(path)
    assert state_of(agency) == after_backup

    result = backup.agency_restore(path, replace=True)
    assert result.keys_recreated == []  # the live keys were kept
    assert state_of(agency) == at_backup
    assert leftover_schemas(agency) == [agency.schema_name]


def test_restore_under_a_different_master_key_fails_and_leaves_nothing(world, committed, tmp_path, settings):
    """Same key id, other key bytes (a mistyped MUSTER_MASTER_KEYS): pg_restore succeeds, decryption
    does not, and the restore removes the schema and the data key rows it had put back."""
    settings.MUSTER_MASTER_KEYS = [crypto.generate_master_key("drill")]
    crypto.forget_cached_keys()
    agency = new_agency(world)
    populate(world, agency)
    before = state_of(agency)
    path = backup.agency_backup(agency, tmp_path)
    real_keys = settings.MUSTER_MASTER_KEYS
    destroy(agency)

    settings.MUSTER_MASTER_KEYS = [crypto.generate_master_key("drill")]
    # The manifest's signing key derives from the master key, so a mistyped key alone is now refused
    # before anything is touched (test_manifest_is_signed_and_...). Re-signed under it here, the
    # restore goes on to pg_restore and decryption: the clean-up path this test is about.
    genuine = (path / "manifest.json").read_text()
    (path / "manifest.json").write_text(json.dumps(backup.manifest_sign(json.loads(genuine))))
    with pytest.raises(backup.BackupError, match="does not decrypt"):
        backup.agency_restore(path)
    assert not schema_exists(agency.schema_name)
    assert not DataKey.objects.filter(agency=agency).exists()

    settings.MUSTER_MASTER_KEYS = real_keys
    (path / "manifest.json").write_text(genuine)
    backup.agency_restore(path)
    assert state_of(agency) == before


def test_restore_refuses_to_bring_back_a_crypto_shredded_key(world, committed, tmp_path):
    agency = new_agency(world)
    populate(world, agency)
    path = backup.agency_backup(agency, tmp_path)
    counts = state_of(agency)["counts"]
    agency_crypto.data_keys_destroy(agency=agency)

    with pytest.raises(backup.BackupError, match="crypto-shredded"):
        backup.agency_restore(path, replace=True)

    assert not DataKey.objects.filter(agency=agency, destroyed_at__isnull=True).exists()
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{agency.schema_name}".encounters_encounter')
        assert cursor.fetchone()[0] == counts["encounters_encounter"]


def with_checkins(world, agency, contact="member@example.net") -> CheckInPlan:
    """An encounter whose member asked for check-ins: a plan whose contact has a key of its own."""
    encounter = log_encounter(agency, author=world.a[Role.PEER_SUPPORTER], checkin_contact=contact)
    with tenant_context(agency):
        plan = CheckInPlan.objects.get(encounter_id=encounter.pk)
        assert plan.contact == contact
    return plan


def plan_now(agency, plan) -> CheckInPlan:
    crypto.forget_cached_keys()
    with tenant_context(agency):
        return CheckInPlan.objects.get(pk=plan.pk)  # its contact decrypts against this schema when read


def test_a_restore_into_a_database_that_lost_the_check_in_keys_brings_the_members_contacts_back(
    world, committed, tmp_path
):
    agency = new_agency(world)
    populate(world, agency)
    plan = with_checkins(world, agency)
    stopped = with_checkins(world, agency, "stopped@example.net")
    encounter_services.checkins_stop(agency=agency, plan=stopped)  # before the backup: its key is a tombstone
    (subject_key,) = DataKey.objects.filter(subject=plan.uuid).values_list("key_id", flat=True)
    (tombstone,) = DataKey.objects.filter(subject=stopped.uuid).values_list("key_id", flat=True)

    path = backup.agency_backup(agency, tmp_path)
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["subject_values_by_key"] == {subject_key: 1}
    saved = json.loads((path / "public.json").read_text())["subject_keys"]
    assert sorted((key["key_id"], key["subject"]) for key in saved) == sorted(
        [(subject_key, str(plan.uuid)), (tombstone, str(stopped.uuid))]
    )
    destroy(agency)
    DataKey.objects.filter(subject__in=[plan.uuid, stopped.uuid]).delete()  # the disaster took the public rows too

    result = backup.agency_restore(path)

    assert (
        sorted(result.keys_recreated)
        == sorted([*DataKey.objects.filter(agency=agency).values_list("key_id", flat=True), subject_key, tombstone])
        and result.contacts_shredded == 0
    )
    assert result.values_decrypted == len(NOTES) + 1
    assert plan_now(agency, plan).contact == "member@example.net"
    # The stopped plan's key comes back as what it was: destroyed, no key material.
    restored_tombstone = DataKey.objects.get(key_id=tombstone)
    assert restored_tombstone.destroyed_at is not None and bytes(restored_tombstone.wrapped_key) == b""
    assert plan_now(agency, stopped).contact is None


def test_a_backup_cannot_plant_a_check_in_key_for_a_row_it_does_not_hold(world, committed, tmp_path):
    agency = new_agency(world)
    plan = with_checkins(world, agency)
    path = backup.agency_backup(agency, tmp_path)
    public = json.loads((path / "public.json").read_text())
    (real,) = public["subject_keys"]
    planted = dict(real, key_id="planted0000000000000000000000000", subject=str(uuid.uuid4()))
    public["subject_keys"].append(planted)
    (path / "public.json").write_text(json.dumps(public))
    rewrite_manifest(
        path,
        lambda manifest: manifest["files"].update(
            {
                "public.json": {
                    "sha256": hashlib.sha256((path / "public.json").read_bytes()).hexdigest(),
                    "bytes": (path / "public.json").stat().st_size,
                }
            }
        ),
    )
    destroy(agency)
    DataKey.objects.filter(subject=plan.uuid).delete()

    result = backup.agency_restore(path)

    assert result.keys_recreated.count(real["key_id"]) == 1 and planted["key_id"] not in result.keys_recreated
    assert not DataKey.objects.filter(key_id=planted["key_id"]).exists()
    assert plan_now(agency, plan).contact == "member@example.net"


def test_a_backup_from_before_check_ins_existed_restores_and_the_agency_takes_check_ins_after(
    world, committed, tmp_path
):
    """An agency schema as it was before encounters 0004 (check-ins) and 0005 (referrals): the backup holds no
    check-in table, the restore reads none, and the migrations made since give the agency check-ins again."""
    agency = new_agency(world)
    populate(world, agency)
    schema = agency.schema_name
    with connection.cursor() as cursor:
        cursor.execute(
            f'DROP TABLE "{schema}".encounters_referral, "{schema}".encounters_checkin, '
            f'"{schema}".encounters_checkinplan CASCADE'
        )
        cursor.execute(f'ALTER TABLE "{schema}".encounters_encounter DROP COLUMN member_request_id')
        cursor.execute(f"DELETE FROM \"{schema}\".django_migrations WHERE app = 'encounters' AND name >= '0004'")
    path = backup.agency_backup(agency, tmp_path)
    assert json.loads((path / "manifest.json").read_text())["subject_values_by_key"] == {}

    result = backup.agency_restore(path, replace=True)

    assert result.migrations_applied == ["encounters.0004_member_requests_and_checkins", "encounters.0005_referral"]
    assert result.values_decrypted == len(NOTES) and result.contacts_shredded == 0
    plan = with_checkins(world, agency)
    assert plan_now(agency, plan).contact == "member@example.net"


def test_a_check_in_contact_shredded_after_the_backup_stays_shredded_when_the_backup_is_restored(
    world, committed, tmp_path
):
    agency = new_agency(world)
    kept, stopped = with_checkins(world, agency, "kept@example.net"), with_checkins(world, agency, "stops@example.net")
    path = backup.agency_backup(agency, tmp_path)
    encounter_services.checkins_stop(agency=agency, plan=stopped)  # the member stopped: contact and key destroyed

    result = backup.agency_restore(path, replace=True)

    assert result.contacts_shredded == 1 and result.keys_recreated == []
    assert plan_now(agency, kept).contact == "kept@example.net"
    restored = plan_now(agency, stopped)  # emptied and ended: nothing is sent to a contact that cannot be read
    assert restored.contact is None and restored.contact_destroyed_at is not None and restored.ended_at is not None
    key = DataKey.objects.get(subject=stopped.uuid)
    assert key.destroyed_at is not None and bytes(key.wrapped_key) == b""


def test_a_backup_from_before_check_in_keys_were_kept_restores_with_those_contacts_emptied(world, committed, tmp_path):
    agency = new_agency(world)
    plan = with_checkins(world, agency)
    path = backup.agency_backup(agency, tmp_path)
    public = json.loads((path / "public.json").read_text())
    del public["subject_keys"]
    (path / "public.json").write_text(json.dumps(public))

    def older(manifest):
        del manifest["subject_values_by_key"]
        manifest["files"]["public.json"] = {
            "sha256": hashlib.sha256((path / "public.json").read_bytes()).hexdigest(),
            "bytes": (path / "public.json").stat().st_size,
        }

    rewrite_manifest(path, older)
    destroy(agency)
    DataKey.objects.filter(subject=plan.uuid).delete()

    out = io.StringIO()
    call_command("restore_agency", str(path), stdout=out)

    assert "1 check-in contact(s) emptied" in out.getvalue()
    restored = plan_now(agency, plan)
    assert restored.contact is None and restored.contact_destroyed_at is not None and restored.ended_at is not None


def test_commands_back_up_and_restore_printing_path_sizes_and_row_counts(world, committed, tmp_path):
    agency = new_agency(world)
    populate(world, agency)
    out = io.StringIO()
    call_command("backup_agency", agency.slug, "--output", str(tmp_path), stdout=out)
    final = out.getvalue().strip().splitlines()[-1]
    (path,) = [p for p in tmp_path.iterdir()]
    assert f"Backed up {agency.slug} to {path}" in final
    assert "encounters_encounter 4" in final and "schema.dump" in final and "kB" in final

    out = io.StringIO()
    call_command("restore_agency", str(path), "--check", stdout=out)
    assert f"Backup {path} of {agency.slug}" in out.getvalue() and "is intact and restorable here" in out.getvalue()
    with pytest.raises(CommandError, match="--replace"):
        call_command("restore_agency", str(path), stdout=io.StringIO())
    out = io.StringIO()
    call_command("restore_agency", str(path), "--replace", stdout=out)
    final = out.getvalue().strip().splitlines()[-1]
    assert f"Restored {agency.slug} (schema {agency.schema_name}) from {path}" in final
    assert "encounters_encounter 4" in final and "3 encrypted value(s) decrypted" in final


def test_backup_errors_say_what_is_wrong(world, committed, tmp_path):
    with pytest.raises(CommandError, match="No agency with the address 'no-such-agency'"):
        call_command("backup_agency", "no-such-agency", "--output", str(tmp_path))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(backup.BackupError, match="Cannot create the directory"):
        backup.agency_backup(world.agency_a, blocker / "backups")
    with pytest.raises(backup.BackupError, match="No pg_dump and pg_restore for PostgreSQL 99"):
        backup.pg_tools(99)
    assert list(tmp_path.iterdir()) == [blocker]  # no half-written backup left behind


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_readable_export_lists_every_encounter_with_its_decrypted_notes(world, committed, tmp_path):
    agency = new_agency(world, prefix="export")
    first = populate(world, agency)
    with tenant_context(agency):
        expected = {str(e.uuid): e.notes or "" for e in Encounter.objects.all()}

    path = export.agency_export(agency, tmp_path)

    encounters = read_csv(path / "encounters.csv")
    assert {row["encounter_id"]: row["notes"] for row in encounters} == expected
    row = next(r for r in encounters if r["encounter_id"] == str(first.uuid))
    assert row["author_email"] == world.a[Role.PEER_SUPPORTER].email
    assert row["co_supporter_emails"] == world.two_agency_user.email
    assert [r["encounter_id"] for r in read_csv(path / "follow_ups.csv")] == [str(first.uuid)]
    (disclosure,) = read_csv(path / "disclosures.csv")
    assert disclosure["exception"].startswith("Suicide threat")
    members = {r["email"]: r for r in read_csv(path / "members.csv")}
    assert set(members) == set(Membership.objects.filter(agency=agency).values_list("user__email", flat=True))
    assert members[world.a[Role.CLINICIAN].email]["role"] == "Team clinician"
    certified = {r["email"] for r in read_csv(path / "certifications.csv")}
    assert certified == {world.a[Role.PEER_SUPPORTER].email, world.two_agency_user.email}
    readme = (path / "README.txt").read_text()
    assert "CONFIDENTIAL" in readme and "4 support contacts" in readme
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=path, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    assert AuditEvent.objects.filter(agency=agency, action="agency.export").exists()


@pytest.mark.django_db
def test_the_readable_export_is_the_sections_apps_register(world, tmp_path, monkeypatch):
    """agencies/ reads no model of the apps above it: encounters adds its four files in its ready(),
    and any app can add one; an agency-schema section is read inside the agency's schema."""
    assert [section.file_name for section in export.export_sections()] == [
        "encounters.csv", "follow_ups.csv", "disclosures.csv", "referrals.csv", "members.csv", "certifications.csv",
    ]  # fmt: skip
    monkeypatch.setattr(export, "_sections", dict(export._sections))
    schemas_seen = []

    def rows(agency):
        schemas_seen.append(connection.schema_name)
        yield ["=one", 1]

    export.export_section_register(
        export.ExportSection(
            file_name="extra.csv",
            label="extras",
            header=["name", "number"],
            rows=rows,
            readme="{count} extra row,\nfrom a test.",
            in_agency_schema=True,
        )
    )
    path = export.agency_export(world.agency_a, tmp_path)

    assert read_csv(path / "extra.csv") == [{"name": "'=one", "number": "1"}]
    assert schemas_seen == [world.agency_a.schema_name]
    readme = (path / "README.txt").read_text()
    assert "  extra.csv           1 extra row,\n                      from a test.\n" in readme
    assert readme.index("disclosures.csv") < readme.index("extra.csv") < readme.index("members.csv")


def test_decrypted_notes_are_only_in_the_export_never_in_the_backup(world, committed, tmp_path):
    """The backup holds ciphertext only (checked in the dump's data as SQL, since the dump itself is
    compressed); the export, made for the agency, holds the plaintext."""
    agency = world.agency_a
    readable = export.agency_export(agency, tmp_path / "export")
    saved = backup.agency_backup(agency, tmp_path / "backup")

    encounters = read_csv(readable / "encounters.csv")
    with tenant_context(agency):
        assert {r["encounter_id"] for r in encounters} == {
            str(u) for u in Encounter.objects.values_list("uuid", flat=True)
        }
    assert WORLD_NOTE in {r["notes"] for r in encounters}
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        tools = backup.pg_tools(int(cursor.fetchone()[0]) // 10000)
    dump_sql = subprocess.run(
        [str(tools.pg_restore), "--data-only", "--file=-", str(saved / "schema.dump")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "encounters_encounter" in dump_sql and "m1." in dump_sql
    assert WORLD_NOTE not in dump_sql
    for file in saved.iterdir():
        assert WORLD_NOTE.encode() not in file.read_bytes()


def test_restoring_a_backup_from_older_code_applies_the_migrations_made_since(world, committed, tmp_path):
    """A backup taken before a migration existed: simulated by removing the record of a public app's
    leaf migration (a no-op in agency schemas) before the backup. The restore applies it afterwards."""
    from django.db.migrations.loader import MigrationLoader

    leaf = next(node for node in sorted(MigrationLoader(None).graph.leaf_nodes()) if node[0] == "reporting")
    agency = new_agency(world)
    populate(world, agency)
    with connection.cursor() as cursor:
        cursor.execute(f'DELETE FROM "{agency.schema_name}".django_migrations WHERE app = %s AND name = %s', list(leaf))
    path = backup.agency_backup(agency, tmp_path)
    assert f"{leaf[0]}.{leaf[1]}" not in json.loads((path / "manifest.json").read_text())["migrations"]

    result = backup.agency_restore(path, replace=True)

    assert result.migrations_applied == [f"{leaf[0]}.{leaf[1]}"]
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT count(*) FROM "{agency.schema_name}".django_migrations WHERE app = %s AND name = %s', list(leaf)
        )
        assert cursor.fetchone()[0] == 1


# --- What a restore may write: one agency's schema, under a signed manifest ---------------------------


def rewrite_manifest(path: Path, change, *, sign: bool = True) -> None:
    manifest = json.loads((path / "manifest.json").read_text())
    change(manifest)
    (path / "manifest.json").write_text(json.dumps(backup.manifest_sign(manifest) if sign else manifest))


def public_tables() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        return [row[0] for row in cursor.fetchall()]


def test_manifest_is_signed_and_a_wrong_or_missing_signature_is_refused(world, committed, tmp_path, settings):
    agency = new_agency(world)
    populate(world, agency)
    path = backup.agency_backup(agency, tmp_path)
    signature = json.loads((path / "manifest.json").read_text())["signature"]
    assert signature["algorithm"] == "HMAC-SHA256"
    assert signature["master_key_id"] == crypto.master_keys()[0].key_id and len(signature["value"]) == 64
    before = state_of(agency)

    def more_encounters(manifest):
        manifest["row_counts"]["encounters_encounter"] += 1

    rewrite_manifest(path, more_encounters, sign=False)  # edited without the key
    with pytest.raises(backup.BackupError, match="does not match its signature"):
        backup.agency_restore(path, replace=True)
    with pytest.raises(CommandError, match="does not match its signature"):
        call_command("restore_agency", str(path), "--check", stdout=io.StringIO())
    rewrite_manifest(path, lambda manifest: manifest.pop("signature"), sign=False)
    with pytest.raises(backup.BackupError, match="is not signed"):
        backup.agency_restore(path, replace=True)
    real_keys = list(settings.MUSTER_MASTER_KEYS)
    settings.MUSTER_MASTER_KEYS = [crypto.generate_master_key("elsewhere")]
    rewrite_manifest(path, lambda manifest: None)  # signed by another deployment's key
    settings.MUSTER_MASTER_KEYS = real_keys
    with pytest.raises(backup.BackupError, match="signed under master key 'elsewhere'"):
        backup.agency_restore(path, replace=True)
    mistyped = crypto.generate_master_key(crypto.master_keys()[0].key_id)  # same id, other bytes
    rewrite_manifest(path, lambda manifest: None)
    settings.MUSTER_MASTER_KEYS = [mistyped, *real_keys[1:]]
    with pytest.raises(backup.BackupError, match="is not the one it was signed under"):
        backup.agency_restore(path, replace=True)
    settings.MUSTER_MASTER_KEYS = real_keys
    rewrite_manifest(path, lambda manifest: manifest["signature"].update(value="é" * 64), sign=False)
    with pytest.raises(backup.BackupError, match="does not match its signature"):
        backup.agency_restore(path, replace=True)

    assert state_of(agency) == before
    assert leftover_schemas(agency) == [agency.schema_name]


@pytest.mark.parametrize("target", ["public", "agency_template", "other agency"])
def test_a_forged_manifest_naming_a_schema_other_than_the_agencys_is_refused_even_when_signed(
    world, committed, tmp_path, target
):
    """The forgery: an agency that is not live here (new address and id, no keys to check), whose
    schema is `public` (or the template, or another agency's), so that `--replace` would move that
    schema aside. Unsigned it fails the signature; signed here (as a key holder or a faulty tool
    could), it still fails: the schema must be the one the agency's address gives."""
    agency = new_agency(world)
    populate(world, agency)
    path = backup.agency_backup(agency, tmp_path)
    schema = world.agency_b.schema_name if target == "other agency" else target
    ghost = f"ghost-{uuid.uuid4().hex[:8]}"
    ghost_id = Agency.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000
    public_rows = json.loads((path / "public.json").read_text())
    public_rows["agency"].update(id=ghost_id, slug=ghost, schema_name=schema)
    (path / "public.json").write_text(json.dumps(public_rows))
    tables, before = public_tables(), state_of(agency)

    def aim_elsewhere(manifest):
        manifest["agency"] = {"id": ghost_id, "slug": ghost, "schema_name": schema}
        manifest["encrypted_values_by_key"] = {}
        data = (path / "public.json").read_bytes()
        manifest["files"]["public.json"] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}

    rewrite_manifest(path, aim_elsewhere, sign=False)
    with pytest.raises(backup.BackupError, match="does not match its signature"):
        backup.agency_restore(path, replace=True)
    rewrite_manifest(path, aim_elsewhere)
    with pytest.raises(backup.BackupError, match=f"names schema '{schema}' for agency '{ghost}'"):
        backup.agency_restore(path, replace=True)
    with pytest.raises(CommandError, match="refused"):
        call_command("restore_agency", str(path), "--check", stdout=io.StringIO())

    assert public_tables() == tables and state_of(agency) == before
    assert schema_exists("agency_template") and schema_exists(world.agency_b.schema_name)
    assert not Agency.objects.filter(slug=ghost).exists()


def test_an_archive_holding_objects_of_another_schema_is_refused(world, committed, tmp_path):
    """A dump of the agency's schema plus another one, with its checksum and signature made good:
    the table of contents shows the intruder and nothing is restored."""
    agency = new_agency(world)
    populate(world, agency)
    path = backup.agency_backup(agency, tmp_path)
    intruder = f"intruder_{uuid.uuid4().hex[:8]}"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{intruder}"')
        cursor.execute(f'CREATE TABLE "{intruder}".network_user (id int)')
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version_num")
            tools = backup.pg_tools(int(cursor.fetchone()[0]) // 10000)
        dump = path / "schema.dump"
        dump.chmod(0o600)
        backup._run(
            tools.pg_dump,
            ["--format=custom", f"--schema={agency.schema_name}", f"--schema={intruder}", f"--file={dump}"],
            what="pg_dump",
        )

        def vouch_for_the_dump(manifest):
            manifest["files"]["schema.dump"] = {"sha256": hashlib.sha256(dump.read_bytes()).hexdigest(),
                                                "bytes": dump.stat().st_size}  # fmt: skip

        rewrite_manifest(path, vouch_for_the_dump)
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA "{intruder}" CASCADE')  # what the dump would bring back
        before = state_of(agency)
        with pytest.raises(backup.BackupError, match=f"outside schema {agency.schema_name}.*{intruder}"):
            backup.agency_restore(path, replace=True)
        with pytest.raises(CommandError, match="outside schema"):
            call_command("restore_agency", str(path), "--check", stdout=io.StringIO())
        assert state_of(agency) == before
        assert leftover_schemas(agency) == [agency.schema_name]
        assert not schema_exists(intruder)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP SCHEMA IF EXISTS "{intruder}" CASCADE')
