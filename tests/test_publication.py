"""Publication: leadership figures are published once per period, a set number of days after it ends, and
never change; what a leader downloads tells nothing new until the next period is published (issue 12)."""

import csv
import datetime
import io
import threading
import time
import uuid

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.test import Client
from django.utils import timezone

from activations import services as activation_services
from activations.models import OutreachTarget
from agencies import services as agency_services
from agencies.models import Membership, Role
from network import selectors, standards
from network import services as network_services
from network.models import Network, OutboxMessage, PolicyChange
from network.suppression import Cell, audit
from reporting import publication, services
from reporting.models import (
    AgencyReportingGranularity,
    AgencySnapshotState,
    PeriodKind,
    Publication,
    PublishedFigure,
)
from reporting.tasks import publish_due_task
from tests.support import (
    agency_url,
    entered,
    grow_roster,
    joined,
    log_encounter,
    make_agency,
    make_user,
    open_activation,
)

JUL, AUG, SEP, OCT, NOV = (datetime.date(2026, m, 1) for m in (7, 8, 9, 10, 11))
# October is due on 7 November (7 days after it ends), November on 7 December.
AFTER_OCTOBER = datetime.date(2026, 11, 20)


def aware(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(12)))


def figure(agency, kind, start, table, key):
    return PublishedFigure.objects.get(
        agency=agency, publication__period_kind=kind, publication__period_start=start, table=table, key=key
    ).value


def csv_rows(client, agency) -> list[list[str]]:
    response = client.get(agency_url(agency, "agency_dashboard_csv"))
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.getvalue().decode())))


@pytest.fixture
def network(world):
    network = Network.objects.get(pk=world.network_id)
    joined(world.agency_a, JUL)
    joined(world.agency_b, JUL)
    return network


@pytest.fixture
def monthly_agency(world, network):
    """Agency A with a roster large enough to publish by month (3 + 8 supporters and coordinators)."""
    grow_roster(world.agency_a, 8)
    return world.agency_a


# --- What is published, and when -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_period_is_published_only_once_its_delay_has_passed(world, network, monthly_agency):
    author = world.a[Role.PEER_SUPPORTER]
    entered(monthly_agency, author=author, on=datetime.date(2026, 10, 30))
    services.publication_publish_due(network=network, today=datetime.date(2026, 11, 6))
    assert not Publication.objects.filter(network=network, period_kind=PeriodKind.MONTH, period_start=OCT).exists()
    services.publication_publish_due(network=network, today=datetime.date(2026, 11, 7))
    assert figure(monthly_agency, PeriodKind.MONTH, OCT, "encounters", "total") is None  # one encounter: hidden

    standards.policy_update(actor=world.state_admin, network=network, publication_delay_days=14)
    change = PolicyChange.objects.filter(policy__network=network, setting="publication_delay_days").get()
    assert (change.old_value, change.new_value, change.changed_by) == ("7", "14", world.state_admin)
    services.publication_publish_due(network=network, today=datetime.date(2026, 12, 13))
    assert not Publication.objects.filter(network=network, period_start=NOV).exists()
    services.publication_publish_due(network=network, today=datetime.date(2026, 12, 14))
    assert Publication.objects.filter(network=network, period_kind=PeriodKind.MONTH, period_start=NOV).exists()


@pytest.mark.django_db
def test_the_delay_is_a_policy_setting_on_the_policy_page_with_its_history(client, world, network):
    client.force_login(world.state_admin)
    page = client.get("/network/policy/").content.decode()
    assert 'name="publication_delay_days"' in page and 'value="7"' in page
    form = {
        "notes_retention_days": 30,
        "followup_reminder_days": 1,
        "suppression_threshold": 5,
        "activation_retention_days": 90,
        "account_inactive_days": 90,
        "publication_delay_days": 10,
        "notes_enabled": "on",
        "confidentiality_notice_text": selectors.policy_for(network).confidentiality_notice_text,
    }
    assert client.post("/network/policy/", form).status_code == 302
    assert selectors.policy_for(network).publication_delay_days == 10
    page = client.get("/network/policy/").content.decode()
    assert "Publish leadership figures (days after a period ends)" in page


@pytest.mark.django_db
def test_publishing_twice_publishes_each_period_once(world, network, monthly_agency):
    entered(monthly_agency, author=world.a[Role.PEER_SUPPORTER], on=datetime.date(2026, 8, 12))
    first = services.publication_publish_due(network=network, today=AFTER_OCTOBER)
    figures = PublishedFigure.objects.filter(publication__network=network).count()
    assert [(p.period_kind, p.period_start) for p in first] == [
        (PeriodKind.MONTH, JUL),
        (PeriodKind.MONTH, AUG),
        (PeriodKind.MONTH, SEP),
        (PeriodKind.QUARTER, JUL),
        (PeriodKind.MONTH, OCT),
    ]
    assert services.publication_publish_due(network=network, today=AFTER_OCTOBER) == []
    call_command("publish_periods", "--today", AFTER_OCTOBER.isoformat(), stdout=io.StringIO())
    assert PublishedFigure.objects.filter(publication__network=network).count() == figures
    assert Publication.objects.filter(network=network).count() == 5


@pytest.mark.django_db
def test_the_daily_beat_task_publishes_what_is_due(settings, world, network):
    entries = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "reporting.tasks.publish_due_task" in entries
    assert entries["reporting.tasks.publish_due_task"].hour == {2}  # daily
    assert publish_due_task() >= 4  # July to October at least, whatever today is
    assert publish_due_task() == 0
    assert Publication.objects.filter(network=network, period_kind=PeriodKind.MONTH, period_start=OCT).exists()


@pytest.mark.django_db
def test_a_period_that_fails_to_publish_holds_back_no_other_and_is_tried_again(world, network, monkeypatch):
    real = publication.plan_quarter

    def broken(*args, **kwargs):
        raise RuntimeError("solver unavailable")

    monkeypatch.setattr(publication, "plan_quarter", broken)
    with pytest.raises(RuntimeError):
        services.publication_publish_due(network=network, today=AFTER_OCTOBER)
    published = set(Publication.objects.filter(network=network).values_list("period_kind", "period_start"))
    assert published == {(PeriodKind.MONTH, m) for m in (JUL, AUG, SEP, OCT)}
    monkeypatch.setattr(publication, "plan_quarter", real)
    assert [
        (p.period_kind, p.period_start) for p in services.publication_publish_due(network=network, today=AFTER_OCTOBER)
    ] == [(PeriodKind.QUARTER, JUL)]


@pytest.mark.django_db
def test_a_published_figure_cannot_be_updated_or_deleted(world, network):
    services.publication_publish_due(network=network, today=AFTER_OCTOBER)
    published = PublishedFigure.objects.filter(publication__network=network).first()
    attempts = [
        lambda: PublishedFigure.objects.filter(pk=published.pk).update(value=999),
        lambda: PublishedFigure.objects.filter(pk=published.pk).delete(),
        lambda: Publication.objects.filter(pk=published.publication_id).update(threshold=2),
        lambda: AgencyReportingGranularity.objects.filter(agency=world.agency_a).update(kind=PeriodKind.MONTH),
    ]
    for attempt in attempts:
        with pytest.raises(DatabaseError, match="published figures never change"), transaction.atomic():
            attempt()
    with pytest.raises(DatabaseError, match="published figures never change"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's own inserts leave deferred checks
            cursor.execute("TRUNCATE reporting_publishedfigure CASCADE")
    assert PublishedFigure.objects.get(pk=published.pk).value == published.value


@pytest.mark.django_db
def test_a_late_entered_encounter_counts_when_entered_and_leaves_the_published_month_alone(
    world, network, monthly_agency
):
    author = world.a[Role.PEER_SUPPORTER]
    for day in range(1, 8):
        entered(monthly_agency, author=author, on=datetime.date(2026, 9, day), contact_mode="video")
    services.publication_publish_due(network=network, today=datetime.date(2026, 10, 8))
    september = list(
        PublishedFigure.objects.filter(publication__period_start=SEP, agency=monthly_agency).values_list(
            "table", "key", "value"
        )
    )
    assert figure(monthly_agency, PeriodKind.MONTH, SEP, "encounters", "total") == 7

    # Entered in October about a contact on 3 September, in the published month.
    late = [
        entered(monthly_agency, author=author, on=datetime.date(2026, 10, 2 + n), occurred_on=datetime.date(2026, 9, 3))
        for n in range(5)
    ]
    assert len(late) == 5
    services.publication_publish_due(network=network, today=AFTER_OCTOBER)
    assert (
        list(
            PublishedFigure.objects.filter(publication__period_start=SEP, agency=monthly_agency).values_list(
                "table", "key", "value"
            )
        )
        == september
    )
    assert figure(monthly_agency, PeriodKind.MONTH, OCT, "encounters", "total") == 5


def test_two_publishers_at_once_publish_each_period_once(django_db_setup, django_db_blocker):
    """The beat task and a hand-run command at the same moment: the advisory lock makes one wait, and it
    then finds the period published. Committed data (two connections), so in a network of its own."""
    with django_db_blocker.unblock():
        tag = uuid.uuid4().hex[:6]
        network = network_services.network_get_or_create(name=f"Concurrent {tag}", slug=f"concurrent-{tag}")
        region = network_services.region_get_or_create(network=network, name="East", slug="east")
        agency = make_agency(actor=None, network=network, region=region, slug=f"concurrent-{tag}")
        joined(agency, SEP)
        results, errors = [], []

        def publish():
            try:
                results.append(services.publication_publish_due(network=network, today=AFTER_OCTOBER))
            except Exception as exc:  # noqa: BLE001  # reported below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=publish) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert sum(len(made) for made in results) == 3  # each period by exactly one of them
        assert Publication.objects.filter(network=network).count() == 3  # September, Q3, October


# --- Granularity -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_one_role_change_mid_year_never_makes_an_agency_publish_both_months_and_quarters(
    world, network, monthly_agency
):
    author = world.a[Role.PEER_SUPPORTER]
    for day in range(1, 12):
        entered(monthly_agency, author=author, on=datetime.date(2026, 8, day))
    services.publication_publish_due(network=network, today=datetime.date(2026, 8, 8))  # July: decides 2026
    assert AgencyReportingGranularity.objects.get(agency=monthly_agency, year=2026).kind == PeriodKind.MONTH

    # Two supporters change role: the roster falls under the small-agency line for the rest of the year.
    for membership in Membership.objects.filter(agency=monthly_agency, role=Role.PEER_SUPPORTER).order_by("-pk")[:2]:
        agency_services.membership_set_role(actor=world.state_admin, membership=membership, role=Role.CLINICIAN)
    services.publication_publish_due(network=network, today=AFTER_OCTOBER)

    own = PublishedFigure.objects.filter(agency=monthly_agency)
    kinds = set(own.values_list("publication__period_kind", flat=True))
    assert kinds == {PeriodKind.MONTH}
    assert set(own.values_list("publication__period_start", flat=True)) == {JUL, AUG, SEP, OCT}
    # The small agency B publishes only quarters, and the region adds up A's months with B's quarter.
    assert set(
        PublishedFigure.objects.filter(agency=world.agency_b).values_list("publication__period_kind", flat=True)
    ) == {PeriodKind.QUARTER}
    north = PublishedFigure.objects.get(
        region=monthly_agency.region,
        publication__period_start=JUL,
        publication__period_kind=PeriodKind.QUARTER,
        table="encounters",
        key="total",
    )
    assert north.value == 11


# --- Suppression across everything published ---------------------------------------------------------------


def _varied_quarter(world, agency, *, start: datetime.date, count: int, seed: int) -> None:
    """`count` encounters over a quarter with codes that vary, some of them rare."""
    import random

    rng = random.Random(seed)  # nosec B311  # test data
    modes, initiators = (
        ["in-person", "phone", "video", "text"],
        ["self", "peer-outreach", "supervisor-referral", "family"],
    )
    topics = ["critical-incident", "work-stress", "grief", "finances", "health", "undisclosed"]
    author = world.a[Role.PEER_SUPPORTER] if agency.pk == world.agency_a.pk else world.b[Role.PEER_SUPPORTER]
    for _ in range(count):
        day = start + datetime.timedelta(days=rng.randint(0, 88))
        entered(
            agency,
            author=author,
            on=day,
            contact_mode=rng.choices(modes, [8, 6, 2, 1])[0],
            initiator=rng.choices(initiators, [6, 6, 2, 1])[0],
            topics=sorted({rng.choices(topics, [5, 5, 2, 1, 1, 1])[0] for _ in range(rng.choice([1, 2]))}),
            referral=rng.choices(["none", "eap", "chaplain"], [8, 2, 1])[0],
            follow_up_due_on=day + datetime.timedelta(days=3) if rng.random() < 0.3 else None,
        )


@pytest.mark.django_db
def test_an_lp_audit_of_a_real_publication_finds_every_hidden_figure_protected(world, network, monthly_agency):
    _varied_quarter(world, monthly_agency, start=JUL, count=45, seed=1)
    _varied_quarter(world, world.agency_b, start=JUL, count=20, seed=2)
    services.publication_publish_due(network=network, today=AFTER_OCTOBER)
    threshold = selectors.policy_for(network).suppression_threshold

    # Rebuild every figure that the July-September months and Q3 published, with its atoms, and mark each
    # shown or hidden as it was actually published; then solve for each hidden one.
    plan = publication.plan_quarter(network, JUL)
    quarter = Publication.objects.get(network=network, period_kind=PeriodKind.QUARTER, period_start=JUL)
    stored = {
        (f.agency_id, f.region_id, f.table, f.key): f.value for f in quarter.figures.exclude(key="median_minutes")
    }
    cells = [(Cell(row.cell_key, row.atoms, row.value), shown) for row, shown in plan.fixed]
    cells += [(Cell(row.cell_key, row.atoms, row.value), stored[row.cell_key[1:]] is not None) for row in plan.rows]
    intervals = audit(cells, equalities=plan.equalities)
    hidden = [cell for cell, shown in cells if not shown]
    assert len(hidden) >= 10 and any(cell.value >= threshold for cell in hidden)  # complements, not only small
    narrow = {key: (low, high) for key, (low, high) in intervals.items() if high - low < threshold - 1e-6}
    assert narrow == {}
    assert len(intervals) == len(hidden)


def _contacted(world, *, occurred_at: datetime.datetime, minutes: list[int], name: str) -> None:
    """An activation of agency A with one affected member of A per entry in `minutes`, each first contacted
    that many minutes after the incident."""
    activation = open_activation(world, occurred_at=occurred_at, name=name)
    targets = activation_services.targets_add(
        actor=world.a[Role.COORDINATOR],
        activation=activation,
        home_agency=world.agency_a,
        entries=[(f"Member {name} {n}", "engineer") for n in range(len(minutes))],
        exposure="direct",
    )
    for target, after in zip(targets, minutes, strict=True):
        OutreachTarget.objects.filter(pk=target.pk).update(
            first_contact_at=occurred_at + datetime.timedelta(minutes=after)
        )


@pytest.mark.django_db
def test_a_median_time_to_first_contact_needs_as_many_contacts_as_the_threshold(client, world, network):
    _contacted(world, occurred_at=aware(datetime.date(2026, 8, 10)), minutes=[40], name="Barn fire")
    _contacted(world, occurred_at=aware(datetime.date(2026, 10, 12)), minutes=[30, 45, 60, 90, 120], name="Pileup")
    services.publication_publish_due(network=network, today=datetime.date(2027, 1, 10))
    # Q3: one contact. Its median would be that one member's time to contact.
    assert figure(world.agency_a, PeriodKind.QUARTER, JUL, "first_contact", "contacts") is None
    assert figure(world.agency_a, PeriodKind.QUARTER, JUL, "first_contact", "median_minutes") is None
    assert figure(world.agency_a, PeriodKind.QUARTER, OCT, "first_contact", "contacts") >= 5
    assert figure(world.agency_a, PeriodKind.QUARTER, OCT, "first_contact", "median_minutes") is not None
    client.force_login(world.a[Role.CHIEF])
    page = client.get(agency_url(world.agency_a, "agency_dashboard")).content.decode()
    assert "not shown (fewer than 5 contacts)" in page


@pytest.mark.django_db
def test_a_rate_is_shown_only_when_both_figures_are_and_its_denominator_reaches_the_threshold(client, world, network):
    author = world.a[Role.PEER_SUPPORTER]
    for day in range(1, 7):
        entered(
            world.agency_a, author=author, on=datetime.date(2026, 8, day), follow_up_due_on=datetime.date(2026, 8, 20)
        )
    services.publication_publish_due(network=network, today=AFTER_OCTOBER)
    client.force_login(world.a[Role.CHIEF])
    rows = csv_rows(client, world.agency_a)
    rates = {row[2]: row[3] for row in rows if row[1] == "Rates"}
    followups = {row[2]: row[3] for row in rows if row[1] == "Follow-ups"}
    assert followups["Follow-ups due"] == "6" and followups["Follow-ups completed"] == "0"
    assert rates["Follow-up completion rate %"] == "0"  # 0 of 6: both shown, six due
    assert rates["Participation rate %"] == "not shown"  # a roster of three is under the threshold
    assert rates["Follow-ups completed on time %"] == "not shown"  # of none completed
    page = client.get(agency_url(world.agency_a, "agency_dashboard")).content.decode()
    assert "Supporters active (not shown: too few)" in page


# --- What the leaders see ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_dashboard_names_the_latest_published_period_and_the_next(client, world, network, monthly_agency):
    services.publication_publish_due(network=network, today=datetime.date(2026, 10, 10))
    client.force_login(world.a[Role.CHIEF])
    page = " ".join(client.get(agency_url(monthly_agency, "agency_dashboard")).content.decode().split())
    published = Publication.objects.get(network=network, period_kind=PeriodKind.MONTH, period_start=SEP).published_at
    assert f"Latest published period: September 2026</strong> (published {published:%-d %B %Y})." in page
    assert "Next: October 2026, on 7 November 2026." in page
    client.force_login(world.state_admin)
    page = " ".join(client.get("/network/dashboard/").content.decode().split())
    assert "Latest published period: Q3 2026</strong>" in page and "Next: Q4 2026, on 7 January 2027." in page


@pytest.mark.django_db
def test_before_any_publication_the_dashboard_shows_no_figures_and_says_when_they_come(client, world):
    client.force_login(world.a[Role.CHIEF])
    page = client.get(agency_url(world.agency_a, "agency_dashboard")).content.decode()
    assert "Nothing is published yet." in page and "<svg" not in page
    assert "Figures appear here once the first period is published." in page


@pytest.mark.django_db
def test_breakdown_rows_come_in_vocabulary_order_whatever_their_values(client, world, network, monthly_agency):
    author = world.a[Role.PEER_SUPPORTER]
    # Text is the most frequent and in person the least: a value order would put text first.
    for mode, count in (("text", 9), ("video", 7), ("phone", 6), ("in-person", 5)):
        for n in range(count):
            entered(monthly_agency, author=author, on=datetime.date(2026, 9, 1 + n), contact_mode=mode)
    services.publication_publish_due(network=network, today=datetime.date(2026, 10, 10))
    client.force_login(world.a[Role.CHIEF])
    rows = [row for row in csv_rows(client, monthly_agency) if row[0] == "September 2026"]
    modes = [(row[2], row[3]) for row in rows if row[1] == "Encounters by contact mode"]
    assert modes == [("In person", "5"), ("Phone", "6"), ("Video", "7"), ("Text", "9"), ("Total", "27")]
    page = client.get(agency_url(monthly_agency, "agency_dashboard")).content.decode()
    order = [page.index(f'<th scope="row">{label}</th>') for label in ("In person", "Phone", "Video", "Text")]
    assert order == sorted(order)


# --- The test, with the real worker --------------------------------------------------------------------


@pytest.mark.stack
def test_a_chiefs_csv_is_byte_identical_after_a_supporter_saves_until_the_next_publication(stack, django_db_blocker):
    """Issue 12: a chief who downloads the CSV, waits for one encounter to be saved (and the worker to process
    everything it queued), and downloads again learns nothing; the next publication adds only new rows, each
    visible one 0 or at least the threshold."""
    with django_db_blocker.unblock():
        tag = uuid.uuid4().hex[:6]
        # A network of its own: its publications are committed and can never be deleted.
        network = network_services.network_get_or_create(name=f"Publication {tag}", slug=f"pub-{tag}")
        region = network_services.region_get_or_create(network=network, name="East", slug="east")
        admin = make_user(f"admin-{tag}@test.example")
        agency = make_agency(actor=admin, network=network, region=region, slug=f"pub-fire-{tag}")
        chief, supporter = make_user(f"chief-{tag}@test.example"), make_user(f"peer-{tag}@test.example")
        agency_services.membership_add(actor=None, user=chief, agency=agency, role=Role.CHIEF)
        agency_services.membership_add(actor=None, user=supporter, agency=agency, role=Role.PEER_SUPPORTER)
        grow_roster(agency, 9)  # eleven on the roster with the supporter above: published by month
        joined(agency, JUL)
        for day in range(1, 29):
            mode = "in-person" if day % 4 else "phone"
            entered(agency, author=supporter, on=datetime.date(2026, 9, day), contact_mode=mode)
        for day in range(1, 9):  # October: six in person, two by video
            entered(
                agency,
                author=supporter,
                on=datetime.date(2026, 10, day),
                contact_mode="video" if day > 6 else "in-person",
            )
        services.publication_publish_due(network=network, today=datetime.date(2026, 10, 10))
        threshold = selectors.policy_for(network).suppression_threshold

        client = Client()
        client.force_login(chief)
        before = client.get(agency_url(agency, "agency_dashboard_csv")).getvalue()
        log_encounter(agency, author=supporter, contact_mode="video", topics=["critical-incident"])

        def worker_done() -> bool:
            state = AgencySnapshotState.objects.filter(agency=agency).first()
            queued = OutboxMessage.objects.filter(schema_name=agency.schema_name, sent_at__isnull=True).exists()
            return not queued and state is not None and not state.is_stale

        deadline = time.monotonic() + 60
        while not worker_done() and time.monotonic() < deadline:
            time.sleep(0.25)
        assert worker_done(), stack.log_tail("worker")  # the save's queued refresh ran on the worker
        after = client.get(agency_url(agency, "agency_dashboard_csv")).getvalue()
        assert after == before

        # The next publication: October.
        services.publication_publish_due(network=network, today=AFTER_OCTOBER)
        published = client.get(agency_url(agency, "agency_dashboard_csv")).getvalue()
    old_rows = list(csv.reader(io.StringIO(before.decode())))
    new_rows = list(csv.reader(io.StringIO(published.decode())))
    assert new_rows[: len(old_rows)] == old_rows  # every row present before, unchanged and in place
    added = new_rows[len(old_rows) :]
    assert added and {row[0] for row in added} == {"October 2026"}
    counts = [row for row in added if row[1] not in ("Rates", "Note")]
    for _period, section, item, value in counts:
        assert value in ("suppressed", "not shown") or int(value) == 0 or int(value) >= threshold, (section, item)
    assert ["October 2026", "Encounters by contact mode", "Video", "suppressed"] in added
