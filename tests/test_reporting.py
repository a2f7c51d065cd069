"""Reporting: snapshots built from every agency schema, dashboards that read only snapshots, suppression."""

import csv
import datetime
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context
from hypothesis import given, settings
from hypothesis import strategies as st

from agencies.models import Role
from encounters.models import Encounter, FollowUp
from network import selectors, standards
from network.audit import AuditAction
from network.models import AuditEvent, Network, Vocabulary
from network.suppression import line_total, suppress_table
from reporting import builder, services
from reporting.models import MetricSnapshot, PeriodKind, SnapshotRun
from tests.support import agency_url, entered, joined, log_encounter


def month_start(day=None):
    return builder.period_start(PeriodKind.MONTH, day or timezone.localdate())


def snapshot(agency, metric, dimension="", key="", kind=PeriodKind.MONTH, period=None):
    row = MetricSnapshot.objects.filter(
        agency=agency,
        period_kind=kind,
        period_start=period or month_start(),
        metric=metric,
        dimension=dimension,
        key=key,
    ).first()
    return row.value if row else 0


def rebuild(full=True):
    return services.run_execute(run_id=services.run_request(full=full, enqueue=False).pk)


# --- Building ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_snapshots_match_what_is_in_the_agency_schema(world):
    for _ in range(3):
        log_encounter(world.agency_a, author=world.a[Role.PEER_SUPPORTER], contact_mode="video")
    with tenant_context(world.agency_a):
        this_month = Encounter.objects.filter(occurred_on__gte=month_start()).count()
        video = Encounter.objects.filter(occurred_on__gte=month_start(), contact_mode="video").count()
        next_month = month_start(month_start() + datetime.timedelta(days=32))
        due = FollowUp.objects.filter(due_on__gte=month_start(), due_on__lt=next_month).count()
    run = rebuild()
    assert run.status == SnapshotRun.Status.DONE and run.agencies_done == run.agencies_total >= 2
    assert snapshot(world.agency_a, "encounters") == this_month
    assert snapshot(world.agency_a, "encounters", Vocabulary.CONTACT_MODE, "video") == video == 3
    assert snapshot(world.agency_a, "followups_due") == due
    assert snapshot(world.agency_a, "activations", "incident_type", "major-fire") == 1
    assert snapshot(world.agency_a, "roster") == 3  # peer supporter, coordinator and the two-agency supporter
    assert snapshot(world.agency_b, "encounters") == 0


@pytest.mark.django_db
def test_breakdowns_count_concepts_across_standard_versions(world):
    network = Network.objects.get(pk=world.network_id)
    v1 = selectors.standard_current(network)
    terms = {v: [(t.code, t.label, t.concept) for t in ts] for v, ts in selectors.terms_by_vocabulary(v1).items()}
    terms[Vocabulary.CONTACT_MODE] = [("face-to-face", "Face to face", "in-person"), ("phone", "Phone")]
    log_encounter(world.agency_a, author=world.a[Role.PEER_SUPPORTER], contact_mode="in-person")
    standards.standard_publish(actor=world.state_admin, network=network, terms=terms)
    log_encounter(world.agency_a, author=world.a[Role.PEER_SUPPORTER], contact_mode="face-to-face")
    rebuild()
    assert snapshot(world.agency_a, "encounters", Vocabulary.CONTACT_MODE, "in-person") == 2
    assert snapshot(world.agency_a, "encounters", Vocabulary.CONTACT_MODE, "face-to-face") == 0


@pytest.mark.django_db
def test_building_twice_gives_the_same_snapshots(world):
    def cells():
        return sorted(
            MetricSnapshot.objects.values_list(
                "agency", "region", "period_kind", "period_start", "metric", "dimension", "key", "value"
            ),
            key=str,
        )

    rebuild()
    first = cells()
    rebuild()
    assert cells() == first and first


@pytest.mark.django_db
def test_incremental_builds_leave_older_periods_alone(world):
    old = month_start(timezone.localdate() - datetime.timedelta(days=400))
    MetricSnapshot.objects.create(
        agency=world.agency_a, period_kind=PeriodKind.MONTH, period_start=old, metric="encounters", value=42
    )
    rebuild(full=False)
    assert snapshot(world.agency_a, "encounters", period=old) == 42
    assert builder.build_since(full=False, today=datetime.date(2026, 5, 20)) == datetime.date(2026, 1, 1)


@pytest.mark.django_db
def test_one_failing_agency_is_reported_and_the_others_are_built(world, monkeypatch):
    real = builder.agency_metrics

    def failing_for_b(agency, **kwargs):
        if agency.pk == world.agency_b.pk:
            raise RuntimeError("schema unreadable")
        return real(agency, **kwargs)

    monkeypatch.setattr(builder, "agency_metrics", failing_for_b)
    MetricSnapshot.objects.all().delete()
    run = rebuild()
    assert run.status == SnapshotRun.Status.DONE_WITH_FAILURES
    assert run.failures == [{"agency": world.agency_b.pk, "error": "RuntimeError"}]
    assert run.agencies_done == run.agencies_total
    assert snapshot(world.agency_a, "encounters") >= 1


def test_beat_rebuilds_snapshots_nightly(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "reporting.tasks.snapshots_nightly_task" in tasks


# --- Dashboards ------------------------------------------------------------------------------------------


def published(world, *, codes=(("video", 3), ("phone", 1)), today=datetime.date(2026, 11, 20)):
    """Leadership pages show published periods only: agencies A and B joined in July 2026, A's supporter
    entered `codes` (contact mode, how many) in August, and every period due by `today` is published
    (months to October, and the third quarter, which small agencies like A and B publish)."""
    for agency in (world.agency_a, world.agency_b):
        joined(agency, datetime.date(2026, 7, 1))
    day = datetime.date(2026, 8, 1)
    for mode, count in codes:
        for _ in range(count):
            entered(world.agency_a, author=world.a[Role.PEER_SUPPORTER], on=day, contact_mode=mode)
    services.publication_publish_due(network=Network.objects.get(pk=world.network_id), today=today)


# Adapted for issue 12: the dashboards read published figures (reporting_publishedfigure), never the
# snapshots, which a saved encounter refreshes within seconds.
@pytest.mark.django_db
def test_chief_dashboard_reads_published_figures_only_and_never_touches_the_agency_schema(client, world):
    published(world)
    client.force_login(world.a[Role.CHIEF])
    with CaptureQueriesContext(connection) as queries:
        response = client.get(agency_url(world.agency_a, "agency_dashboard"))
    assert response.status_code == 200
    reads = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith("SET search_path")]
    sql = " ".join(reads)
    assert "reporting_publishedfigure" in sql and "reporting_metricsnapshot" not in sql
    for tenant_table in ("encounters_encounter", "encounters_followup", "encounters_disclosurerecord"):
        assert tenant_table not in sql
    assert world.agency_a.schema_name not in sql


@pytest.mark.django_db
def test_chief_dashboard_shows_charts_with_tables_and_no_names(client, world):
    published(world)  # set-up only: the page shows published periods (issue 12)
    client.force_login(world.a[Role.CHIEF])
    page = client.get(agency_url(world.agency_a, "agency_dashboard")).content.decode()
    assert page.count("<svg") >= 5 and "The numbers" in page
    assert "suppressed" in page  # the test agency's counts are all small
    for role in (Role.PEER_SUPPORTER, Role.COORDINATOR, Role.CLINICIAN):
        assert world.a[role].full_name not in page
    assert "night shift" not in page and "Jordan" not in page


@pytest.mark.django_db
def test_small_counts_are_suppressed_and_large_ones_shown(client, world):
    network = Network.objects.get(pk=world.network_id)
    published(world, codes=(("video", 7), ("text", 6), ("phone", 1)))
    client.force_login(world.a[Role.CHIEF])
    page = client.get(agency_url(world.agency_a, "agency_dashboard")).content.decode()
    row = '<th scope="row">{}</th><td>{}</td>'
    assert row.format("Video", 7) in page
    assert row.format("Phone", "suppressed") in page  # one phone contact
    assert row.format("Text", "suppressed") in page  # hidden too, or Phone = total - Video - Text
    standards.policy_update(actor=world.state_admin, network=network, suppression_threshold=10)
    # Issue 12: a published figure never changes, so a new threshold applies from the next period on.
    assert row.format("Video", 7) in client.get(agency_url(world.agency_a, "agency_dashboard")).content.decode()
    for _ in range(7):
        entered(
            world.agency_a, author=world.a[Role.PEER_SUPPORTER], on=datetime.date(2026, 10, 5), contact_mode="video"
        )
    services.publication_publish_due(network=network, today=datetime.date(2027, 1, 10))
    page = client.get(agency_url(world.agency_a, "agency_dashboard")).content.decode()
    assert row.format("Video", "suppressed") in page


@pytest.mark.django_db
def test_csv_export_carries_the_same_suppression_and_is_audited(client, world):
    published(world)
    client.force_login(world.a[Role.CHIEF])
    response = client.get(agency_url(world.agency_a, "agency_dashboard_csv"))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.getvalue().decode())))
    # Issue 12: one row per period, section, item and value, so published rows never change.
    assert rows[0] == ["period", "section", "item", "value"]
    values = [row[3] for row in rows[1:] if row[1] != "Rates"]  # rates are percentages, not counts
    assert "suppressed" in values
    assert not any(v.isdigit() and 0 < int(v) < 5 for v in values)
    assert AuditEvent.objects.filter(action=AuditAction.REPORT_EXPORTED, actor=world.a[Role.CHIEF]).exists()


@pytest.mark.django_db
def test_regional_coordinator_sees_their_region_and_state_admin_sees_disciplines_and_regions(client, world):
    published(world)
    client.force_login(world.regional_a)
    page = client.get("/network/dashboard/").content.decode()
    assert "North: peer support program" in page and "Encounters by region" not in page
    client.force_login(world.state_admin)
    page = client.get("/network/dashboard/").content.decode()
    assert "Encounters by discipline" in page and "Encounters by region" in page and "Rebuild now" in page


@pytest.mark.django_db
def test_peer_supporters_and_clinicians_have_no_dashboard(client, world):
    for role in (Role.PEER_SUPPORTER, Role.CLINICIAN):
        client.force_login(world.a[role])
        assert client.get(agency_url(world.agency_a, "agency_dashboard")).status_code == 404


# --- Suppression, property-based ---------------------------------------------------------------------------


tables = st.integers(min_value=1, max_value=6).flatmap(
    lambda width: st.lists(
        st.lists(st.integers(min_value=0, max_value=40), min_size=width, max_size=width), min_size=1, max_size=6
    )
)


@settings(max_examples=300, deadline=None)
@given(rows=tables, threshold=st.integers(min_value=2, max_value=11))
def test_no_suppressed_cell_can_be_derived_from_published_totals(rows, threshold):
    shown = suppress_table(rows, threshold)
    width = len(rows[0])
    # Every small count is hidden.
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if 0 < value < threshold:
                assert shown[r][c] is None
    # A published row or column total never leaves exactly one hidden cell to solve for.
    lines = [(shown[r], rows[r]) for r in range(len(rows))]
    lines += [([shown[r][c] for r in range(len(rows))], [rows[r][c] for r in range(len(rows))]) for c in range(width)]
    for cells, raw in lines:
        total = line_total(cells, raw, threshold)
        if total is not None:
            assert sum(1 for v in cells if v is None) != 1
            assert not 0 < total < threshold
    # Shown values are the true values.
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            assert shown[r][c] in (None, value)


@settings(max_examples=200, deadline=None)
@given(rows=tables, threshold=st.integers(min_value=2, max_value=11))
def test_suppression_hides_nothing_when_no_count_is_small(rows, threshold):
    if any(0 < v < threshold for row in rows for v in row):
        return
    assert suppress_table(rows, threshold) == rows
