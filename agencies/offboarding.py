"""Agency offboarding: suspend, export for the agency, then destroy by shredding its data key.

The order is enforced, so nothing is lost by accident: an agency is destroyed only while suspended,
after an export was built and downloaded. Destruction shreds the agency's data keys first (every
encrypted value, in the database and in any backup, becomes unreadable), then drops its schema and
ends its memberships. Every step is audited.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import zipfile
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from agencies import backup, schemas
from agencies import export as export_module
from agencies.crypto import data_keys_destroy
from agencies.models import Agency, AgencyExport, Membership, Role, role_group_name
from agencies.signals import agency_destroying, agency_suspended
from network import crypto
from network.audit import AuditAction, audit_record
from network.outbox import outbox_enqueue

log = logging.getLogger(__name__)


def export_directory() -> Path:
    path = Path(settings.MUSTER_EXPORT_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def agency_suspend(*, actor, agency: Agency, request=None) -> Agency:
    """Members lose access at once, everywhere: agency pages answer 404, and every activation right that
    came through the agency ends (activations.access.activation_perms_for counts active agencies only), so
    its coordinators, supporters and chiefs get 404 on every activation page, its supporters are no
    longer called out or assignable, and the open assignments they hold return to the boards unassigned,
    in this same transaction. Nothing is deleted; reinstating restores rights, not the old assignments."""
    with transaction.atomic():
        updated = Agency.objects.filter(pk=agency.pk, status=Agency.Status.ACTIVE).update(
            status=Agency.Status.SUSPENDED, suspended_at=timezone.now()
        )
        if not updated:
            raise ValidationError("Only an active agency can be suspended.")
        audit_record(action=AuditAction.AGENCY_SUSPENDED, actor=actor, agency=agency, obj=agency, request=request)
        # The activations layer returns the assignments (activations/receivers.py), in this transaction.
        agency_suspended.send(sender=Agency, actor=actor, agency=agency, request=request)
    agency.refresh_from_db()
    return agency


def agency_reinstate(*, actor, agency: Agency, request=None) -> Agency:
    """Back to active: activation rights return with the status; assignments returned at suspension stay
    unassigned (coordinators assign again). Offboarding exports made meanwhile are deleted: they hold
    decrypted records and are no longer needed once the agency stays."""
    with transaction.atomic():
        updated = Agency.objects.filter(pk=agency.pk, status=Agency.Status.SUSPENDED).update(
            status=Agency.Status.ACTIVE, suspended_at=None
        )
        if not updated:
            raise ValidationError("Only a suspended agency can be reinstated.")
        _exports_delete(agency)
        audit_record(action=AuditAction.AGENCY_REINSTATED, actor=actor, agency=agency, obj=agency, request=request)
    agency.refresh_from_db()
    return agency


def export_request(*, actor, agency: Agency, request=None, enqueue: bool = True) -> AgencyExport:
    """Queue the offboarding export: the readable files and a restorable schema dump, in one zip."""
    if agency.status != Agency.Status.SUSPENDED:
        raise ValidationError(
            "Suspend the agency first, so the export is a complete, frozen copy.", code="agency_not_suspended"
        )
    with transaction.atomic():
        export = AgencyExport.objects.create(agency=agency, requested_by=actor)
        audit_record(
            action=AuditAction.AGENCY_EXPORT_REQUESTED, actor=actor, agency=agency, obj=export, request=request
        )
        if enqueue:
            outbox_enqueue(task="agencies.tasks.agency_export_task", args=[export.pk])
    return export


def _progress(export: AgencyExport, progress: int, step: str) -> None:
    AgencyExport.objects.filter(pk=export.pk).update(progress=progress, step=step[:100])


def export_build(*, export_id: int) -> AgencyExport:
    """Build the zip (the Celery task's body). Idempotent: a finished export is left as it is."""
    claimed = AgencyExport.objects.filter(
        pk=export_id, status__in=[AgencyExport.Status.QUEUED, AgencyExport.Status.RUNNING]
    ).update(status=AgencyExport.Status.RUNNING, progress=5, step="Starting")
    export = AgencyExport.objects.select_related("agency").get(pk=export_id)
    if not claimed:
        return export
    agency = export.agency
    name = f"{agency.slug}-offboarding-{export.pk}.zip"
    target = export_directory() / name
    try:
        with tempfile.TemporaryDirectory(prefix="muster-export-") as scratch:
            _progress(export, 15, "Writing the readable export")
            readable = export_module.agency_export(agency, scratch, actor=export.requested_by)
            _progress(export, 50, "Dumping the agency's schema")
            dump = backup.agency_backup(agency, scratch, actor=export.requested_by)
            _progress(export, 80, "Packing the zip file")
            partial = target.with_suffix(".partial")
            with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for folder, prefix in ((readable, "readable"), (dump, "schema-dump")):
                    for file in sorted(folder.rglob("*")):
                        if file.is_file():
                            archive.write(file, f"{prefix}/{file.relative_to(folder)}")
            partial.replace(target)
        digest = hashlib.sha256(target.read_bytes()).hexdigest()
        AgencyExport.objects.filter(pk=export.pk).update(
            status=AgencyExport.Status.READY,
            progress=100,
            step="Ready",
            file_name=name,
            size_bytes=target.stat().st_size,
            sha256=digest,
            finished_at=timezone.now(),
        )
    except Exception as error:  # recorded for the state admin; the message may name paths, not data
        log.warning("agency export %s failed: %s", export.pk, type(error).__name__)
        AgencyExport.objects.filter(pk=export.pk).update(
            status=AgencyExport.Status.FAILED, error=f"{type(error).__name__}: {error}"[:200], step="Failed"
        )
    export.refresh_from_db()
    return export


def export_path(export: AgencyExport) -> Path:
    if export.status != AgencyExport.Status.READY or not export.file_name:
        raise ValidationError("This export is not ready.")
    return export_directory() / export.file_name


def export_downloaded(*, actor, export: AgencyExport, request=None) -> None:
    with transaction.atomic():
        AgencyExport.objects.filter(pk=export.pk, downloaded_at__isnull=True).update(downloaded_at=timezone.now())
        audit_record(
            action=AuditAction.AGENCY_EXPORT_DOWNLOADED, actor=actor, agency=export.agency, obj=export, request=request
        )


def agency_destroy(*, actor, agency: Agency, confirm_slug: str, request=None) -> Agency:
    """Shred the agency's data keys, drop its schema, end its memberships, delete its export files."""
    if confirm_slug.strip() != agency.slug:
        raise ValidationError({"confirm_slug": f"Type the agency's address, {agency.slug}, to confirm."})
    if agency.status != Agency.Status.SUSPENDED:
        raise ValidationError("Only a suspended agency can be destroyed.")
    if not agency.exports.filter(status=AgencyExport.Status.READY, downloaded_at__isnull=False).exists():
        raise ValidationError("Build the export and download it first: destruction cannot be undone.")
    with transaction.atomic():
        locked = Agency.objects.select_for_update().get(pk=agency.pk)
        if locked.status != Agency.Status.SUSPENDED:
            raise ValidationError("Only a suspended agency can be destroyed.")
        shredded = _shred(locked)
        audit_record(action=AuditAction.AGENCY_DESTROYED, actor=actor, agency=locked, obj=locked, request=request)
        log.info("agency %s destroyed: %s data keys shredded, schema dropped", locked.pk, shredded)
    crypto.forget_cached_keys()
    agency.refresh_from_db()
    return agency


def _shred(agency: Agency) -> int:
    """The destruction itself, without the checks: keys, schema, memberships, grants, export files.
    Call inside a transaction. Returns how many data keys were shredded."""
    agency_destroying.send(sender=Agency, agency=agency)  # while the schema is still there to read
    shredded = data_keys_destroy(agency=agency)
    schemas.schema_drop(agency.schema_name)
    Membership.objects.filter(agency=agency, is_active=True).update(is_active=False)
    for group in Group.objects.filter(name__in=[role_group_name(agency.pk, role) for role in Role.values]):
        group.user_set.clear()  # activation grants go through these groups
    Agency.objects.filter(pk=agency.pk).update(status=Agency.Status.DESTROYED, destroyed_at=timezone.now())
    _exports_delete(agency)
    return shredded


def _exports_delete(agency: Agency) -> None:
    """Mark the agency's exports deleted and remove their files once the transaction commits."""
    files = list(agency.exports.exclude(file_name="").exclude(status=AgencyExport.Status.DELETED))
    agency.exports.exclude(status=AgencyExport.Status.DELETED).update(status=AgencyExport.Status.DELETED)
    transaction.on_commit(lambda: _delete_export_files(files))


def _delete_export_files(exports) -> None:
    for export in exports:
        path = export_directory() / export.file_name
        path.unlink(missing_ok=True)
