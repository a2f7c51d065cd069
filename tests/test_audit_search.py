"""The audit trail in the browser: state admins search every event, agency admins only their agency's,
times in UTC to the hundredth of a second, and the search itself is recorded."""

import datetime

import pytest

from agencies import services as agency_services
from agencies.models import Role
from network.audit import ADMINISTRATIVE_ACTIONS, CARE_ACTIONS, AuditAction, audit_record
from network.models import AuditEvent
from network.views_audit import utc_stamp
from tests.support import agency_url, login_as

pytestmark = pytest.mark.django_db


def test_state_admin_finds_a_refused_request_by_action_person_and_outcome(client, world):
    outsider = world.outsider
    client.force_login(outsider)
    assert client.get(agency_url(world.agency_a, "encounter_list")).status_code == 404  # recorded as access.denied
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
    page = client.get(agency_url(world.agency_a, "agency_audit"), {"action": "roster.confirmed"})
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


# --- What an agency admin's trail leaves out: care events ----------------------------------------------


def _agency_admin_search(client, world, **query):
    client.force_login(world.a[Role.AGENCY_ADMIN])
    page = client.get(agency_url(world.agency_a, "agency_audit"), query)
    assert page.status_code == 200
    return page, list(page.context["page"].paginator.object_list)


def _state_admin_search(client, world, **query):
    client.force_login(world.state_admin)
    return list(client.get("/network/audit/", query).context["page"].paginator.object_list)


def test_every_audit_action_is_either_administrative_or_care_never_both():
    every = set(AuditAction.values)
    assert not ADMINISTRATIVE_ACTIONS & CARE_ACTIONS
    unclassified = every - ADMINISTRATIVE_ACTIONS - CARE_ACTIONS
    assert not unclassified, f"classify in network/audit.py: {sorted(unclassified)}"
    assert (ADMINISTRATIVE_ACTIONS | CARE_ACTIONS) <= every


def test_an_agency_admin_does_not_see_disclosures_recorded(client, world):
    """The world's disclosure (recorded by A's supporter) is on the trail with agency A."""
    recorded = {"action": AuditAction.DISCLOSURE_RECORDED.value}
    assert _state_admin_search(client, world, **recorded)  # still there for the security review
    _page, events = _agency_admin_search(client, world, action="disclosure.")
    assert events == []


def test_an_agency_admin_does_not_see_which_encounters_the_clinician_viewed(client, world):
    client.force_login(world.a[Role.CLINICIAN])
    assert (
        client.get(agency_url(world.agency_a, "encounter_detail", encounter_uuid=world.encounter.uuid)).status_code
        == 200
    )
    viewed = {"action": AuditAction.ENCOUNTER_VIEWED.value, "actor": world.a[Role.CLINICIAN].email}
    assert _state_admin_search(client, world, **viewed)
    _page, events = _agency_admin_search(client, world, actor=world.a[Role.CLINICIAN].email)
    assert not [e for e in events if e.action == AuditAction.ENCOUNTER_VIEWED]
    assert {e.action for e in events} <= ADMINISTRATIVE_ACTIONS


def test_an_agency_admin_cannot_follow_one_encounters_history_by_its_object_id(client, world):
    by_id = {"object_id": str(world.encounter.pk)}
    history = [e for e in _state_admin_search(client, world, **by_id) if e.object_type == "encounters.encounter"]
    assert history  # logged (and viewed): the state admin follows it
    _page, events = _agency_admin_search(client, world, **by_id)
    assert not [e for e in events if e.action in CARE_ACTIONS or e.object_type.startswith("encounters.")]


def test_an_agency_admin_still_sees_administrative_events_and_is_told_what_is_left_out(client, world):
    membership = world.membership(world.agency_a, Role.CHIEF)
    agency_services.membership_set_role(actor=world.a[Role.AGENCY_ADMIN], membership=membership, role=Role.CLINICIAN)
    page, events = _agency_admin_search(client, world, action="membership.")
    assert {AuditAction.MEMBERSHIP_ROLE_CHANGED, AuditAction.MEMBERSHIP_MADE_CLINICIAN} <= {e.action for e in events}
    text = page.content.decode()
    assert "Not shown here" in text and "care events" in text and "state admin" in text
    client.force_login(world.state_admin)
    assert "Not shown here" not in client.get("/network/audit/").content.decode()


def test_an_agency_admin_sees_their_members_sign_ins_and_no_one_elses(client, world):
    member, outsider = world.a[Role.CHIEF], world.b[Role.CHIEF]
    for person in (member, outsider):
        client.force_login(person)  # recorded as auth.sign_in, without an agency (one login, every agency)
        client.logout()
        login_as(client, person, password="wrong")  # auth.sign_in_failed
    _page, events = _agency_admin_search(client, world, action="auth.sign_in")
    signed_in = {e.actor_id for e in events if e.action == AuditAction.SIGN_IN}
    failed = {e.object_id for e in events if e.action == AuditAction.SIGN_IN_FAILED}
    assert member.pk in signed_in and outsider.pk not in signed_in
    assert str(member.pk) in failed and str(outsider.pk) not in failed
