"""Agency offboarding (suspend, export, destroy by shredding the key) and the quarterly roster check."""

from __future__ import annotations

import datetime
import io
import zipfile

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from agencies import offboarding
from agencies.models import Agency, AgencyExport, DataKey, Membership, Role
from agencies.roster import services as roster_services
from network.models import AuditEvent
from tests.support import agency_url, refused

pytestmark = pytest.mark.django_db


@pytest.fixture
def export_dir(settings, tmp_path):
    settings.MUSTER_EXPORT_DIR = str(tmp_path / "exports")
    return tmp_path / "exports"


def _schema_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [name])
        return cursor.fetchone() is not None


def test_a_suspended_agency_is_closed_to_its_members_and_can_be_reinstated(client, world):
    client.force_login(world.a[Role.COORDINATOR])
    assert client.get(agency_url(world.agency_a, "agency_home")).status_code == 200
    offboarding.agency_suspend(actor=world.state_admin, agency=world.agency_a)
    assert client.get(agency_url(world.agency_a, "agency_home")).status_code == 404
    offboarding.agency_reinstate(actor=world.state_admin, agency=world.agency_a)
    assert client.get(agency_url(world.agency_a, "agency_home")).status_code == 200
    assert list(
        AuditEvent.objects.filter(agency=world.agency_a, action__in=["agency.suspended", "agency.reinstated"])
        .order_by("chain_position")
        .values_list("action", flat=True)
    ) == ["agency.suspended", "agency.reinstated"]


def test_an_export_needs_a_suspended_agency(world, export_dir):
    with refused("agency_not_suspended"):
        offboarding.export_request(actor=world.state_admin, agency=world.agency_a, enqueue=False)


def test_offboarding_exports_readable_files_and_a_dump_then_shreds_the_key_and_drops_the_schema(
    client, world, export_dir
):
    agency = world.agency_a
    client.force_login(world.state_admin)
    page = f"/network/agencies/{agency.pk}/offboarding/"
    assert client.post(page, {"action": "suspend"}).status_code == 302
    assert client.post(page, {"action": "export"}).status_code == 302
    export = AgencyExport.objects.get(agency=agency)
    assert export.status == AgencyExport.Status.QUEUED

    export = offboarding.export_build(export_id=export.pk)  # the Celery task's body
    assert export.status == AgencyExport.Status.READY, export.error
    with zipfile.ZipFile(export_dir / export.file_name) as archive:
        names = set(archive.namelist())
        encounters_csv = archive.read("readable/encounters.csv").decode()
    assert any(name.startswith("schema-dump/") and name.endswith("manifest.json") for name in names)
    assert str(world.encounter.uuid) in encounters_csv

    # Destruction waits for the download, and for the address typed back.
    response = client.post(page, {"action": "destroy", "confirm_slug": agency.slug})
    assert "download it first" in response.content.decode()
    assert Agency.objects.get(pk=agency.pk).status == Agency.Status.SUSPENDED

    download = client.get(f"/network/agencies/{agency.pk}/exports/{export.pk}/download/")
    assert download.status_code == 200
    assert zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))).testzip() is None

    response = client.post(page, {"action": "destroy", "confirm_slug": "not-the-slug"})
    assert "Type the agency" in response.content.decode()
    assert _schema_exists(agency.schema_name)

    client.post(page, {"action": "destroy", "confirm_slug": agency.slug})
    agency.refresh_from_db()
    assert agency.status == Agency.Status.DESTROYED
    assert not _schema_exists(agency.schema_name)
    keys = DataKey.objects.filter(agency=agency)
    assert keys.exists() and all(bytes(key.wrapped_key) == b"" and key.destroyed_at for key in keys)
    assert not Membership.objects.filter(agency=agency, is_active=True).exists()
    assert not world.a[Role.COORDINATOR].groups.filter(name__startswith=f"agency-{agency.pk}-").exists()
    assert AuditEvent.objects.filter(action="agency.destroyed", agency=agency).count() == 1
    assert AuditEvent.objects.filter(action="agency.export_downloaded", agency=agency).count() == 1


def test_a_failed_export_is_recorded_and_nothing_half_written_is_offered(world, export_dir, monkeypatch):
    offboarding.agency_suspend(actor=world.state_admin, agency=world.agency_a)
    export = offboarding.export_request(actor=world.state_admin, agency=world.agency_a, enqueue=False)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("agencies.backup.agency_backup", broken)
    export = offboarding.export_build(export_id=export.pk)
    assert export.status == AgencyExport.Status.FAILED and "OSError" in export.error
    assert not list(export_dir.glob("*.zip")) and not list(export_dir.glob("*.partial"))
    with pytest.raises(ValidationError):
        offboarding.export_path(export)


# --- Quarterly roster confirmation ------------------------------------------------------------------------


def test_coordinators_are_reminded_once_a_quarter_until_they_confirm_the_roster(
    client, world, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    Agency.objects.exclude(pk=world.agency_a.pk).update(roster_confirmed_at=timezone.now())
    now = timezone.make_aware(datetime.datetime(2026, 11, 22, 9, 0))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert roster_services.roster_reminders_send(now=now) == 1
        assert roster_services.roster_reminders_send(now=now + datetime.timedelta(days=1)) == 0
    assert len(mail.outbox) == 1
    assert set(mail.outbox[0].to) == {world.a[Role.COORDINATOR].email, world.a[Role.AGENCY_ADMIN].email}
    assert agency_url(world.agency_a, "agency_roster") in mail.outbox[0].body

    client.force_login(world.a[Role.COORDINATOR])
    roster = agency_url(world.agency_a, "agency_roster")
    assert "The roster is current" in client.get(roster).content.decode()
    client.post(agency_url(world.agency_a, "agency_roster_confirm"))
    page = client.get(roster).content.decode()
    assert "Confirmed current on" in page and "The roster is current" not in page

    # Next quarter, the confirmation is due again and one more reminder goes out.
    next_quarter = timezone.make_aware(datetime.datetime(2027, 1, 4, 9, 0))
    Agency.objects.exclude(pk=world.agency_a.pk).update(roster_confirmed_at=next_quarter)
    with django_capture_on_commit_callbacks(execute=True):
        assert roster_services.roster_reminders_send(now=next_quarter) == 1
    assert len(mail.outbox) == 2


def test_a_destroyed_agency_cannot_be_restored_from_an_old_backup(world, tmp_path):
    from agencies.backup import BackupError, agency_backup, backup_check

    backup = agency_backup(world.agency_b, tmp_path)
    assert backup_check(backup)["agency"]["slug"] == world.agency_b.slug
    Agency.objects.filter(pk=world.agency_b.pk).update(status=Agency.Status.DESTROYED)
    with pytest.raises(BackupError, match="destroyed"):
        backup_check(backup)  # the checks agency_restore makes before it touches anything


def test_reinstating_an_agency_deletes_its_offboarding_exports(world, export_dir, django_capture_on_commit_callbacks):
    offboarding.agency_suspend(actor=world.state_admin, agency=world.agency_a)
    export = offboarding.export_request(actor=world.state_admin, agency=world.agency_a, enqueue=False)
    export = offboarding.export_build(export_id=export.pk)
    path = export_dir / export.file_name
    assert path.exists()
    with django_capture_on_commit_callbacks(execute=True):
        offboarding.agency_reinstate(actor=world.state_admin, agency=world.agency_a)
    export.refresh_from_db()
    assert export.status == AgencyExport.Status.DELETED and not path.exists()
