"""Lists are paged (issue 15 §2): one component (network.paging, includes/pagination.html), server-side filters,
a constant number of SQL statements per page whatever the data size, and CSV exports that stream."""

import csv
import datetime
import io

import pytest
from django.db import connection
from django.http import HttpResponse
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from agencies.models import Membership, Role, SupporterProfile
from agencies.roster import services as roster_services
from encounters import services as encounter_services
from network.audit import AuditAction, audit_record
from network.csvexport import csv_response, csv_writer
from network.paging import page_of
from reporting import selectors as reporting_selectors
from reporting import services as reporting_services
from tests.support import agency_url, follow_up_of, grow_roster, log_encounter, make_ready

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


# --- The component ------------------------------------------------------------------------------------------


def _page(query: dict, rows=tuple(range(230)), **options):
    return page_of(RequestFactory().get("/list/", query), list(rows), **options)


def test_a_page_keeps_the_other_filters_and_drops_its_own_number():
    page = _page({"supporter": "7", "status": "legal-hold", "page": "2"})
    assert page.number == 2 and list(page) == list(range(50, 100))
    assert page.query == "supporter=7&status=legal-hold"


@pytest.mark.parametrize(
    ("asked", "number"),
    [("nonsense", 1), ("", 1), ("0", 5), ("-3", 5), ("999999999999999999999", 5), ("²", 1), ("3", 3)],
)
def test_a_bad_page_number_gives_the_first_or_last_page_never_an_error(asked, number):
    assert _page({"page": asked}).number == number


@pytest.mark.parametrize(("asked", "size"), [("10", 10), ("100", 100), ("5000", 100), ("0", 1), ("x", 50)])
def test_the_page_size_is_bounded(asked, size):
    assert len(_page({"per_page": asked})) == size


def test_the_pagination_control_links_keep_the_filters(client, world):
    _encounters(world, 60)
    client.force_login(world.a[Role.COORDINATOR])
    page = client.get(agency_url(world.agency_a, "encounter_list"), {"status": "", "since": "2000-01-01"})
    html = page.content.decode()
    assert 'class="usa-pagination' in html
    assert "?status=&amp;since=2000-01-01&amp;page=2" in html
    assert page.context["page"].paginator.num_pages == 2


# --- Data at two sizes --------------------------------------------------------------------------------------


def _encounters(world, count, **codes):
    author = world.a[Role.PEER_SUPPORTER]
    return [log_encounter(world.agency_a, author=author, **codes) for _ in range(count)]


def _follow_ups(world, count):
    encounters = _encounters(world, count, follow_up_due_on=TODAY + datetime.timedelta(days=3))
    return [follow_up_of(world.agency_a, encounter) for encounter in encounters]


def _disclosures(world, count):
    for encounter in _encounters(world, count, escalation=True):
        encounter_services.disclosure_record(
            actor=world.a[Role.PEER_SUPPORTER],
            agency=world.agency_a,
            encounter=encounter,
            exception="suicide-risk",
            disclosed_at=timezone.now(),
            notified=["clinician"],
        )


def _audit_events(world, count):
    for _ in range(count):
        audit_record(action=AuditAction.ROSTER_CONFIRMED, actor=world.a[Role.COORDINATOR], agency=world.agency_a)


def _supporters(world, count):
    for index, user in enumerate(grow_roster(world.agency_a, count)):
        if index % 2:
            make_ready(Membership.objects.get(user=user, agency=world.agency_a), actor=world.state_admin)


def statements(client, url, query=None) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, query or {})
    assert response.status_code == 200
    return len(queries.captured_queries)


LISTS = {
    # name: (who looks, the URL, how to add rows, what the page's rows are called in the context)
    "encounters": (lambda w: w.a[Role.COORDINATOR], lambda w: agency_url(w.agency_a, "encounter_list"), _encounters),
    "follow-ups": (lambda w: w.a[Role.COORDINATOR], lambda w: agency_url(w.agency_a, "followup_list"), _follow_ups),
    "disclosures": (
        lambda w: w.a[Role.COORDINATOR],
        lambda w: agency_url(w.agency_a, "disclosure_list"),
        _disclosures,
    ),
    "network audit": (lambda w: w.state_admin, lambda w: "/network/audit/", _audit_events),
    "agency audit": (lambda w: w.a[Role.AGENCY_ADMIN], lambda w: agency_url(w.agency_a, "agency_audit"), _audit_events),
    "roster": (lambda w: w.a[Role.COORDINATOR], lambda w: agency_url(w.agency_a, "agency_roster"), _supporters),
}


@pytest.mark.parametrize("name", LISTS)
def test_a_list_runs_the_same_number_of_statements_at_5_and_60_rows_and_shows_one_page(client, world, name):
    who, url, grow = LISTS[name]
    client.force_login(who(world))
    grow(world, 5)
    small = statements(client, url(world))
    grow(world, 55)
    large = statements(client, url(world))
    assert large <= small, f"{name}: {small} statements at 5 rows, {large} at 60"
    page = client.get(url(world)).context["page"]
    assert page.paginator.count >= 60 and len(page.object_list) == 50 and page.paginator.num_pages >= 2


# --- First pages show what the lists showed first before --------------------------------------------------


def test_the_encounter_list_still_starts_with_the_newest(client, world):
    _encounters(world, 55)
    oldest = log_encounter(
        world.agency_a, author=world.a[Role.PEER_SUPPORTER], occurred_on=TODAY - datetime.timedelta(days=300)
    )
    newest = log_encounter(world.agency_a, author=world.a[Role.PEER_SUPPORTER])
    client.force_login(world.a[Role.COORDINATOR])
    first = client.get(agency_url(world.agency_a, "encounter_list"))
    rows = [row["encounter"].pk for row in first.context["rows"]]
    assert rows[0] == newest.pk and oldest.pk not in rows
    last = client.get(agency_url(world.agency_a, "encounter_list"), {"page": "999"})
    assert [row["encounter"].pk for row in last.context["rows"]][-1] == oldest.pk


# --- Filters ------------------------------------------------------------------------------------------------


def _encounter_pks(client, world, **query):
    response = client.get(agency_url(world.agency_a, "encounter_list"), query)
    assert response.status_code == 200
    return {row["encounter"].pk for row in response.context["rows"]}


def test_the_encounter_list_filters_by_supporter_date_and_status(client, world):
    coordinator = world.a[Role.COORDINATOR]
    mine = log_encounter(world.agency_a, author=coordinator, occurred_on=TODAY - datetime.timedelta(days=40))
    theirs = log_encounter(world.agency_a, author=world.a[Role.PEER_SUPPORTER], follow_up_due_on=TODAY)
    held = log_encounter(world.agency_a, author=world.a[Role.PEER_SUPPORTER])
    encounter_services.encounter_set_legal_hold(actor=coordinator, agency=world.agency_a, encounter=held, hold=True)
    client.force_login(coordinator)

    assert _encounter_pks(client, world, supporter=coordinator.pk) == {mine.pk}
    by_supporter = _encounter_pks(client, world, supporter=world.a[Role.PEER_SUPPORTER].pk)
    assert {theirs.pk, held.pk} <= by_supporter and mine.pk not in by_supporter
    before = (TODAY - datetime.timedelta(days=30)).isoformat()
    assert _encounter_pks(client, world, until=before) == {mine.pk}
    assert mine.pk not in _encounter_pks(client, world, since=before)
    assert _encounter_pks(client, world, status="legal-hold") == {held.pk}
    open_follow_up = _encounter_pks(client, world, status="open-follow-up")
    assert theirs.pk in open_follow_up and held.pk not in open_follow_up
    # A filter that does not validate is shown back and not applied; never a 500.
    response = client.get(agency_url(world.agency_a, "encounter_list"), {"since": "2026-13-45", "supporter": "x"})
    assert response.status_code == 200 and response.context["form"].errors


def test_a_peer_supporter_cannot_filter_by_another_supporter(client, world):
    client.force_login(world.a[Role.PEER_SUPPORTER])
    response = client.get(agency_url(world.agency_a, "encounter_list"), {"supporter": world.a[Role.COORDINATOR].pk})
    assert "supporter" not in response.context["form"].fields
    assert {row["encounter"].author_id for row in response.context["rows"]} == {world.a[Role.PEER_SUPPORTER].pk}


def test_team_follow_ups_filter_by_open_overdue_done_and_owner(client, world):
    coordinator = world.a[Role.COORDINATOR]
    two_days_ago = TODAY - datetime.timedelta(days=2)
    late = log_encounter(world.agency_a, author=coordinator, occurred_on=two_days_ago, follow_up_due_on=two_days_ago)
    late_follow_up = follow_up_of(world.agency_a, late)
    done_follow_up = _follow_ups(world, 1)[0]
    encounter_services.followup_complete(
        actor=world.a[Role.PEER_SUPPORTER], agency=world.agency_a, follow_up=done_follow_up, outcome="contacted"
    )
    client.force_login(coordinator)
    url = agency_url(world.agency_a, "followup_list")

    def team(**query):
        response = client.get(url, query)
        assert response.status_code == 200
        return {f.pk for f in response.context["team"]}

    assert late_follow_up.pk in team() and done_follow_up.pk not in team()  # open, as the page always showed
    assert team(status="overdue") == {late_follow_up.pk}
    assert team(status="done") == {done_follow_up.pk}
    owned = client.get(url, {"owner": coordinator.pk}).context["team"]
    assert late_follow_up.pk in {f.pk for f in owned}, "the world's referral is the coordinator's follow-up too"
    assert {f.owner_id for f in owned} == {coordinator.pk}
    assert {late_follow_up.pk, done_follow_up.pk} <= team(status="all")


def test_disclosures_filter_by_written_notice(client, world):
    client.force_login(world.a[Role.COORDINATOR])
    url = agency_url(world.agency_a, "disclosure_list")
    with tenant_context(world.agency_a):
        world.disclosure.refresh_from_db()
    assert world.disclosure.written_notice_sent_on is None
    pending = {r.pk for r in client.get(url, {"notice": "pending"}).context["records"]}
    sent = {r.pk for r in client.get(url, {"notice": "sent"}).context["records"]}
    assert world.disclosure.pk in pending and world.disclosure.pk not in sent


def test_the_roster_filters_by_name_readiness_and_availability(client, world):
    agency = world.agency_a
    (unready,) = grow_roster(agency, 1)
    unready.full_name = "Quinn Unready"
    unready.save(update_fields=["full_name"])
    on_leave = Membership.objects.get(agency=agency, user=world.a[Role.PEER_SUPPORTER])
    roster_services.profile_update(
        actor=world.state_admin, membership=on_leave, availability=SupporterProfile.Availability.UNAVAILABLE
    )
    client.force_login(world.a[Role.COORDINATOR])
    url = agency_url(agency, "agency_roster")

    def names(**query):
        response = client.get(url, query)
        assert response.status_code == 200
        return {row["membership"].user.full_name for row in response.context["rows"]}

    assert names(q="quinn") == {"Quinn Unready"}
    assert "Quinn Unready" in names(readiness="not-ready")
    assert "Quinn Unready" not in names(readiness="ready")
    assert world.a[Role.COORDINATOR].full_name in names(readiness="ready")
    assert names(availability="unavailable") == {world.a[Role.PEER_SUPPORTER].full_name}
    assert "Quinn Unready" in names(availability="available")  # no profile yet: available


# --- CSV exports stream -------------------------------------------------------------------------------------


def _before(rows) -> bytes:
    """How the dashboard CSV was written before it streamed: the one writer into an HttpResponse."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    csv_writer(response).writerows(rows)
    return response.content


def test_a_large_csv_streams_byte_for_byte_what_the_writer_wrote_before():
    rows = [["period", "section", "item", "value"]]
    rows += [[f"2026-{n % 12 + 1:02d}", "Topics", f'=label {n}, with "quotes"\nand a line', n] for n in range(20000)]
    response = csv_response(rows, filename="big.csv")
    assert response.streaming
    assert response["Content-Disposition"] == 'attachment; filename="big.csv"'
    assert response.getvalue() == _before(rows)


def test_the_dashboard_csv_is_streamed_and_unchanged(client, world):
    reporting_services.run_execute(run_id=reporting_services.run_request(enqueue=False).pk)
    client.force_login(world.a[Role.CHIEF])
    response = client.get(agency_url(world.agency_a, "agency_dashboard_csv"))
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = response.getvalue()
    scope = reporting_selectors.Scope(network=world.agency_a.network, agency=world.agency_a)
    assert body == _before([["period", "section", "item", "value"], *reporting_selectors.csv_rows(scope=scope)])
    assert list(csv.reader(io.StringIO(body.decode())))[0] == ["period", "section", "item", "value"]
