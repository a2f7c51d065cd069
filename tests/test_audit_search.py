"""The audit trail in the browser: state admins search every event, agency admins only their agency's,
times in UTC to the hundredth of a second, and the search itself is recorded."""

import datetime

import pytest

from agencies.models import Role
from network.audit import AuditAction, audit_record
from network.models import AuditEvent
from network.views_audit import utc_stamp

pytestmark = pytest.mark.django_db


def test_state_admin_finds_a_refused_request_by_action_person_and_outcome(client, world):
    outsider = world.outsider
    client.force_login(outsider)
    assert client.get(f"/a/{world.agency_a.slug}/encounters/").status_code == 404  # recorded as access.denied
    client.force_login(world.state_admin)
    page = client.get("/network/audit/", {"action": "access.", "actor": outsider.email, "outcome": "denied"})
    rows = page.context["rows"]
    assert rows and all(row["event"].actor == outsider and row["event"].outcome == "denied" for row in rows)
    assert "access.denied" in page.content.decode()
    assert AuditEvent.objects.filter(action="audit.searched", actor=world.state_admin).exists()


def test_an_agency_admin_sees_only_their_agencys_events(client, world):
    audit_record(action=AuditAction.ROSTER_CONFIRMED, actor=world.b[Role.COORDINATOR], agency=world.agency_b)
    audit_record(action=AuditAction.ROSTER_CONFIRMED, actor=world.a[Role.COORDINATOR], agency=world.agency_a)
    client.force_login(world.a[Role.AGENCY_ADMIN])
    page = client.get(f"/a/{world.agency_a.slug}/audit/", {"action": "roster.confirmed"})
    events = [row["event"] for row in page.context["rows"]]
    assert events and {e.agency_id for e in events} == {world.agency_a.pk}
    assert world.b[Role.COORDINATOR].email not in page.content.decode()
    assert "agency" not in page.context["form"].fields  # no way to ask for another agency


def test_times_are_shown_in_utc_to_the_hundredth_of_a_second():
    moment = datetime.datetime(2026, 11, 22, 1, 2, 3, 456789, tzinfo=datetime.timezone(datetime.timedelta(hours=-6)))
    assert utc_stamp(moment) == "2026-11-22 07:02:03.45Z"


def test_bad_search_input_is_shown_back_not_a_500(client, world):
    client.force_login(world.state_admin)
    response = client.get("/network/audit/", {"since": "2026-13-45", "until": "yesterday", "page": "-3"})
    assert response.status_code == 200
    assert response.context["form"].errors["since"]
