"""Snapshot runs: create one (from the dashboard, beat or the command) and carry it out."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django_tenants.utils import tenant_context

from agencies.models import Agency
from network.audit import AuditAction, audit_record
from network.outbox import outbox_enqueue
from reporting import builder
from reporting.models import AgencySnapshotState, SnapshotRun

logger = logging.getLogger(__name__)


def run_request(*, actor=None, full: bool = False, enqueue: bool = True, request=None) -> SnapshotRun:
    """Record a run and, after commit, hand it to a Celery worker."""
    with transaction.atomic():
        run = SnapshotRun.objects.create(requested_by=actor, full=full)
        if actor is not None:
            audit_record(action=AuditAction.SNAPSHOTS_REQUESTED, actor=actor, obj=run, request=request)
        if enqueue:
            outbox_enqueue(task="reporting.tasks.snapshots_build_task", args=[run.pk])
    return run


def run_execute(*, run_id: int) -> SnapshotRun:
    """Build every active agency's snapshots. One failing agency is recorded and the others go on.
    Idempotent: a finished run is left alone; a re-delivered unfinished run starts its agencies again."""
    run = SnapshotRun.objects.get(pk=run_id)
    if run.is_finished:
        return run
    today = timezone.localdate()
    since = builder.build_since(full=run.full, today=today)
    agencies = list(Agency.objects.filter(status=Agency.Status.ACTIVE).select_related("network").order_by("pk"))
    SnapshotRun.objects.filter(pk=run.pk).update(
        status=SnapshotRun.Status.RUNNING,
        started_at=timezone.now(),
        agencies_total=len(agencies),
        agencies_done=0,
        failures=[],
        attempts=F("attempts") + 1,
    )
    failures = []
    for agency in agencies:
        try:
            with tenant_context(agency):
                rows = builder.agency_metrics(agency, since=since, today=today)
            builder.write_agency(agency, rows, since=since)
        except Exception as exc:  # recorded by class only: messages could carry data
            logger.exception("snapshot build failed for agency %s", agency.pk)
            failures.append({"agency": agency.pk, "error": type(exc).__name__})
            SnapshotRun.objects.filter(pk=run.pk).update(failures=failures)
        SnapshotRun.objects.filter(pk=run.pk).update(agencies_done=F("agencies_done") + 1)
        if settings.MUSTER_SNAPSHOT_AGENCY_PAUSE_MS:  # test-only knob, refused in production
            time.sleep(settings.MUSTER_SNAPSHOT_AGENCY_PAUSE_MS / 1000)
    builder.write_network_medians(since=since)
    status = SnapshotRun.Status.DONE_WITH_FAILURES if failures else SnapshotRun.Status.DONE
    SnapshotRun.objects.filter(pk=run.pk).update(status=status, finished_at=timezone.now(), failures=failures)
    run.refresh_from_db()
    return run


def agency_snapshot_mark_stale(*, agency: Agency) -> None:
    """Record that `agency`'s data changed and queue a refresh of its snapshots. Call inside the
    transaction that makes the change: both commit with it, and the refresh survives a Redis outage."""
    # One statement, so concurrent saves in one agency count every change without a lost update.
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO reporting_agencysnapshotstate AS state (agency_id, changes, built, changed_at) "
            "VALUES (%s, 1, 0, %s) ON CONFLICT (agency_id) DO UPDATE SET "
            "changes = state.changes + 1, changed_at = EXCLUDED.changed_at",
            [agency.pk, timezone.now()],
        )
    outbox_enqueue(task="reporting.tasks.agency_snapshot_refresh_task", args=[agency.pk])


def agency_snapshot_refresh(*, agency_id: int) -> bool:
    """Rebuild one agency's recent snapshots (incremental) if it changed since its last refresh. Returns
    whether it built. Refreshes queued by many saves collapse into one: the later ones find nothing new."""
    agency = Agency.objects.filter(pk=agency_id, status=Agency.Status.ACTIVE).select_related("network").first()
    state = AgencySnapshotState.objects.filter(agency_id=agency_id).first()
    if agency is None or state is None or not state.is_stale:
        return False
    # Read before the build: a change committed after this read may be missed by this build, but it
    # raised `changes` past what we record, and its own queued refresh builds it.
    changes = state.changes
    today = timezone.localdate()
    since = builder.build_since(full=False, today=today)
    with tenant_context(agency):
        rows = builder.agency_metrics(agency, since=since, today=today)
    builder.write_agency(agency, rows, since=since)
    builder.write_network_medians(since=since)
    AgencySnapshotState.objects.filter(agency_id=agency_id, built__lt=changes).update(
        built=changes, refreshed_at=timezone.now()
    )
    return True
