"""Snapshot runs: create one (from the dashboard, beat or the command) and carry it out."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django_tenants.utils import tenant_context

from agencies.models import Agency
from network.audit import AuditAction, audit_record
from reporting import builder
from reporting.models import SnapshotRun

logger = logging.getLogger(__name__)


def run_request(*, actor=None, full: bool = False, enqueue: bool = True, request=None) -> SnapshotRun:
    """Record a run and, after commit, hand it to a Celery worker."""
    with transaction.atomic():
        run = SnapshotRun.objects.create(requested_by=actor, full=full)
        if actor is not None:
            audit_record(action=AuditAction.SNAPSHOTS_REQUESTED, actor=actor, obj=run, request=request)
        if enqueue:
            from reporting.tasks import snapshots_build_task

            transaction.on_commit(lambda: snapshots_build_task.delay(run.pk))
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
    builder.write_network_medians(since=since)
    status = SnapshotRun.Status.DONE_WITH_FAILURES if failures else SnapshotRun.Status.DONE
    SnapshotRun.objects.filter(pk=run.pk).update(status=status, finished_at=timezone.now(), failures=failures)
    run.refresh_from_db()
    return run
