"""Snapshot runs: create one (from the dashboard, beat or the command) and carry it out."""

from __future__ import annotations

import datetime
import logging
import time

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from agencies.models import Agency
from agencies.tenancy import active_agencies, for_each_active_agency
from network import suppression
from network.audit import AuditAction, audit_record
from network.models import Network
from network.outbox import outbox_enqueue
from network.selectors import policy_for
from network.suppression import Cell
from reporting import builder, publication
from reporting.models import AgencySnapshotState, PeriodKind, Publication, SnapshotRun

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
    agencies = list(active_agencies())
    SnapshotRun.objects.filter(pk=run.pk).update(
        status=SnapshotRun.Status.RUNNING,
        started_at=timezone.now(),
        agencies_total=len(agencies),
        agencies_done=0,
        failures=[],
        attempts=F("attempts") + 1,
    )
    failures = []

    def one_done() -> None:
        SnapshotRun.objects.filter(pk=run.pk).update(agencies_done=F("agencies_done") + 1)
        if settings.MUSTER_SNAPSHOT_AGENCY_PAUSE_MS:  # test-only knob, refused in production
            time.sleep(settings.MUSTER_SNAPSHOT_AGENCY_PAUSE_MS / 1000)

    concepts = builder.vocabulary_concepts()  # once for the run, not once per agency

    def build(agency: Agency) -> None:
        rows = builder.agency_metrics(agency, since=since, today=today, concepts=concepts)
        builder.write_agency(agency, rows, since=since)
        one_done()

    def failed(agency: Agency, exc: Exception) -> None:  # recorded by class only: messages could carry data
        failures.append({"agency": agency.pk, "error": type(exc).__name__})
        SnapshotRun.objects.filter(pk=run.pk).update(failures=failures)
        one_done()

    for_each_active_agency(build, what="snapshot build", agencies=agencies, on_failure=failed)
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
    rows = builder.agency_metrics(agency, since=since, today=today)
    builder.write_agency(agency, rows, since=since)
    builder.write_network_medians(since=since)
    AgencySnapshotState.objects.filter(agency_id=agency_id, built__lt=changes).update(
        built=changes, refreshed_at=timezone.now()
    )
    return True


# --- Publication ---------------------------------------------------------------------------------------------

PUBLICATION_LOCK = 74230003  # advisory lock class; the audit chain uses 74230001, snapshots 74230002


def publication_publish_due(*, network: Network, today: datetime.date | None = None) -> list[Publication]:
    """Publish every period of `network` whose day has come (`publication_delay_days` after it ends) and that
    is not published yet, oldest first. Idempotent and safe to run twice at once: each period is published
    in its own transaction under an advisory lock, and a period already published is left alone."""
    today = today or timezone.localdate()
    delay = policy_for(network).publication_delay_days
    published, failed = [], []
    for kind, start in publication.due_periods(network, today=today, delay=delay):
        try:
            made = publication_publish_period(network=network, kind=kind, start=start)
        except Exception as exc:  # one period that cannot be published must not hold back the others
            logger.exception("publication of %s %s failed for network %s", kind, start, network.pk)
            failed.append(exc)
            continue
        if made is not None:
            published.append(made)
    if failed:  # after publishing what could be: the task fails visibly, and the next run tries again
        raise failed[0]
    return published


def publication_publish_period(*, network: Network, kind: str, start: datetime.date) -> Publication | None:
    """Publish one period once: decide its figures (suppression over everything it overlaps) and store them.
    Returns None when it was already published. A published period is never recomputed."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s::int, %s::int)", [PUBLICATION_LOCK, network.pk])
        if Publication.objects.filter(network=network, period_kind=kind, period_start=start).exists():
            return None
        if kind == PeriodKind.QUARTER:
            # Its regional and network figures add up the months that monthly agencies published.
            first = publication.network_start(network) or start
            wanted = [m for m in publication.months_of(start) if m >= first]
            months = Publication.objects.filter(network=network, period_kind=PeriodKind.MONTH, period_start__in=wanted)
            if months.count() != len(wanted):
                raise ValueError(f"The months of the quarter starting {start} must be published before it.")
        threshold = policy_for(network).suppression_threshold
        plan = (
            publication.plan_month(network, start)
            if kind == PeriodKind.MONTH
            else publication.plan_quarter(network, start)
        )
        # A new figure that adds up exactly the atoms of a figure already shown (a region of one monthly
        # agency, say) is public already: it is published as it is, and not offered to the engine as a
        # candidate to hide, where hiding it would protect nothing.
        known = {row.atoms: row.value for row, shown in plan.fixed if shown}
        decided = {row.cell_key: known[row.atoms] for row in plan.rows if row.atoms in known}
        decided |= suppression.protect(
            [Cell(row.cell_key, row.atoms, row.value) for row in plan.rows if row.atoms not in known],
            threshold=threshold,
            fixed=[(Cell(row.cell_key, row.atoms, row.value), shown) for row, shown in plan.fixed],
            equalities=plan.equalities,
        )
        made = Publication.objects.create(
            network=network,
            period_kind=kind,
            period_start=start,
            period_end=publication.period_end(kind, start),
            threshold=threshold,
        )
        publication.write(made, plan, decided)
        audit_record(action=AuditAction.PERIOD_PUBLISHED, obj=made)
    logger.info("published %s %s for network %s", kind, start, network.pk)
    return made
