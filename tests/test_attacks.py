"""Attacks the URL access matrix does not try: replayed sessions with valid payloads, tampered hidden
ids, mass assignment, CSRF and open redirects.

The matrix (tests/test_url_access_matrix.py) proves that every identity outside a page's rule gets
a 404, with empty POSTs and agency A's objects. Here the requests are the ones an attacker would
actually send: complete, valid forms carrying ids the session really can use somewhere else, and
each test checks that nothing was written and that the refusal was audited where the code audits.
"""

from __future__ import annotations

import datetime
import re
import uuid

import pytest
from django.test import Client
from django.urls import resolve
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django_tenants.utils import tenant_context

from activations import services as activation_services
from activations.forms import assignment_choice_value
from activations.models import Activation, OutreachTarget
from agencies.models import Invitation, Membership, Role, SupporterProfile
from encounters import services as encounter_services
from encounters.models import DisclosureRecord, Encounter, FollowUp
from network.audit import AuditAction
from network.models import AuditEvent
from tests.support import PASSWORD, agency_url, encounter_form_data, follow_up_of, log_encounter, open_activation

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


def records_in(agency, *, author):
    """An encounter with a follow-up and a disclosure in `agency`'s schema, through the services."""
    encounter = log_encounter(
        agency, author=author, follow_up_due_on=TODAY() + datetime.timedelta(days=2), escalation=True
    )
    disclosure = encounter_services.disclosure_record(
        actor=author,
        agency=agency,
        encounter=encounter,
        exception="consent",
        disclosed_at=timezone.now(),
        notified=["clinician"],
    )
    follow_up = follow_up_of(agency, encounter)
    return encounter, follow_up, disclosure


def snapshot(agency, encounter, follow_up, disclosure) -> tuple:
    """Everything the replayed requests below could change about the records."""
    with tenant_context(agency):
        follow_up = FollowUp.objects.get(pk=follow_up.pk)
        return (
            Encounter.objects.get(pk=encounter.pk).legal_hold,
            follow_up.status,
            follow_up.owner_id,
            DisclosureRecord.objects.filter(encounter_id=encounter.pk).count(),
            DisclosureRecord.objects.get(pk=disclosure.pk).written_notice_sent_on,
        )


def replayed_requests(encounter, follow_up, disclosure, *, new_owner) -> list[tuple[str, dict, str, dict | None]]:
    """(agency page name, its ids, method, data): a valid request for each object type of the encounter log."""
    return [
        ("encounter_detail", {"encounter_uuid": encounter.uuid}, "GET", None),
        ("encounter_legal_hold", {"encounter_uuid": encounter.uuid}, "POST", {"hold": "on"}),
        (
            "encounter_disclosure_new",
            {"encounter_uuid": encounter.uuid},
            "POST",
            {
                "exception": "crime",
                "disclosed_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
                "notified": "court",
            },
        ),
        ("followup_complete", {"follow_up_uuid": follow_up.uuid}, "POST", {"outcome": "contacted"}),
        ("followup_reassign", {"follow_up_uuid": follow_up.uuid}, "POST", {"owner": new_owner.pk}),
        ("disclosure_detail", {"disclosure_uuid": disclosure.uuid}, "GET", None),
        (
            "disclosure_detail",
            {"disclosure_uuid": disclosure.uuid},
            "POST",
            {"written_notice_sent_on": TODAY().isoformat()},
        ),
    ]


def send(client: Client, method: str, path: str, data: dict | None):
    return client.get(path) if method == "GET" else client.post(path, data or {})


# --- Replay: one agency's session and ids under another agency's path ------------------------------


@pytest.mark.parametrize("direction", ["A ids under B", "B ids under A"])
def test_a_coordinators_session_replaying_their_agencys_ids_under_another_agency_gets_404_and_is_audited(
    client, world, direction
):
    home, other, staff = (
        (world.agency_a, world.agency_b, world.a)
        if direction == "A ids under B"
        else (world.agency_b, world.agency_a, world.b)
    )
    records = records_in(home, author=staff[Role.PEER_SUPPORTER])
    coordinator = staff[Role.COORDINATOR]
    client.force_login(coordinator)
    encounter, follow_up, disclosure = records
    assert client.get(agency_url(home, "encounter_detail", encounter_uuid=encounter.uuid)).status_code == 200, (
        "the ids are live here"
    )
    before = snapshot(home, *records)
    for name, ids, method, data in replayed_requests(*records, new_owner=coordinator):
        denied_before = AuditEvent.objects.filter(action=AuditAction.ACCESS_DENIED, actor=coordinator).count()
        path = agency_url(other, name, **ids)
        response = send(client, method, path, data)
        assert response.status_code == 404, (method, path, response.status_code)
        denial = AuditEvent.objects.filter(action=AuditAction.ACCESS_DENIED, actor=coordinator).first()
        assert (
            AuditEvent.objects.filter(action=AuditAction.ACCESS_DENIED, actor=coordinator).count() == denied_before + 1
        )
        assert (denial.agency_id, denial.outcome) == (other.pk, AuditEvent.Outcome.DENIED)
        page = resolve(path).url_name
        assert (denial.object_type, denial.object_id) == ("url", page), "the page's name, never the record's id"
    assert snapshot(home, *records) == before


def test_a_member_of_both_agencies_cannot_reach_one_agencys_records_through_the_other_agencys_path(client, world):
    """The two-agency user is admitted to both paths, so no decorator stops them: the agency's own
    schema does. Their own records, with valid forms, answer 404 under the other agency's path."""
    person = world.two_agency_user  # peer supporter in A, coordinator in B
    in_a = records_in(world.agency_a, author=person)
    in_b = records_in(world.agency_b, author=person)
    client.force_login(person)
    assert client.get(agency_url(world.agency_a, "encounter_detail", encounter_uuid=in_a[0].uuid)).status_code == 200
    assert client.get(agency_url(world.agency_b, "encounter_detail", encounter_uuid=in_b[0].uuid)).status_code == 200
    before = (snapshot(world.agency_a, *in_a), snapshot(world.agency_b, *in_b))
    for records, wrong_path in ((in_a, world.agency_b), (in_b, world.agency_a)):
        for name, ids, method, data in replayed_requests(*records, new_owner=person):
            response = send(client, method, agency_url(wrong_path, name, **ids), data)
            assert response.status_code == 404, (wrong_path.slug, method, name, response.status_code)
    a_membership = Membership.objects.get(user=person, agency=world.agency_a)
    response = client.post(
        agency_url(world.agency_b, "agency_roster_member", membership_id=a_membership.pk),
        {"save_profile": "1", "availability": "unavailable"},
    )
    assert response.status_code == 404
    assert not SupporterProfile.objects.filter(membership=a_membership, availability="unavailable").exists()
    assert (snapshot(world.agency_a, *in_a), snapshot(world.agency_b, *in_b)) == before


def test_a_non_participating_agencys_staff_replaying_activation_ids_with_valid_forms_get_404_audited(client, world):
    activation, target = world.activation, world.target
    base = f"/activations/{activation.uuid}/"
    member = f"{base}members/{target.uuid}/"
    attempts = [
        (world.b[Role.COORDINATOR], f"{base}board/", "GET", None),
        (world.b[Role.COORDINATOR], f"{member}assign/", "POST", {"supporter": world.b[Role.PEER_SUPPORTER].pk}),
        (world.b[Role.COORDINATOR], f"{base}members/add/", "POST", {"home_agency": world.agency_b.pk, "name": "X"}),
        (world.b[Role.COORDINATOR], f"{member}duplicate/", "POST", {"decision": "merge"}),
        (world.b[Role.COORDINATOR], f"{base}actions/close/", "POST", {}),
        (world.b[Role.PEER_SUPPORTER], f"{member}outreach/", "POST", {"status": "declined"}),
        (world.b[Role.PEER_SUPPORTER], f"{base}mine/", "POST", {"answer": "available"}),
    ]
    targets_before = OutreachTarget.objects.filter(activation=activation).count()
    for user, path, method, data in attempts:
        client.force_login(user)
        denied_before = AuditEvent.objects.filter(action=AuditAction.ACCESS_DENIED, actor=user).count()
        assert send(client, method, path, data).status_code == 404, (method, path)
        assert AuditEvent.objects.filter(action=AuditAction.ACCESS_DENIED, actor=user).count() == denied_before + 1
    target.refresh_from_db()
    assert (target.assigned_supporter, target.status) == (world.a[Role.PEER_SUPPORTER], OutreachTarget.Status.PENDING)
    assert OutreachTarget.objects.filter(activation=activation).count() == targets_before
    assert Activation.objects.get(pk=activation.pk).status == Activation.Status.OPEN
    assert not activation.callouts.filter(supporter=world.b[Role.PEER_SUPPORTER]).exists()


# --- Tampered hidden ids ---------------------------------------------------------------------------


def test_a_target_of_another_activation_answers_404_under_this_activations_path(client, world):
    """The coordinator coordinates both activations; the member belongs to the other one."""
    other = open_activation(world, name="Second incident")
    activation_services.callout_send(actor=world.a[Role.COORDINATOR], activation=other)
    (stranger,) = activation_services.targets_add(
        actor=world.a[Role.COORDINATOR],
        activation=other,
        home_agency=world.agency_a,
        entries=[("Sam Other", "")],
        exposure="direct",
    )
    client.force_login(world.a[Role.COORDINATOR])
    wrong = f"/activations/{world.activation.uuid}/members/{stranger.uuid}/"
    supporter = world.a[Role.PEER_SUPPORTER].pk
    assert client.post(wrong + "assign/", {"supporter": supporter, "expected_supporter": ""}).status_code == 404
    assert client.post(wrong + "outreach/", {"status": "declined"}).status_code == 404
    assert client.post(wrong + "duplicate/", {"decision": "keep"}).status_code == 404
    stranger.refresh_from_db()
    assert (stranger.assigned_supporter, stranger.status) == (None, OutreachTarget.Status.PENDING)
    right = f"/activations/{other.uuid}/members/{stranger.uuid}/assign/"
    choice = assignment_choice_value(supporter, world.agency_a.pk)  # the page offers (supporter, agency) pairs
    assert client.post(right, {"supporter": choice, "expected_supporter": ""}).status_code == 302, "control"
    stranger.refresh_from_db()
    assert stranger.assigned_supporter_id == supporter, "control"


@pytest.mark.parametrize(
    "who",
    ["a non-participating agency's supporter", "a participating agency's chief", "a clinician", "no such user"],
)
def test_assigning_a_supporter_the_page_did_not_offer_is_refused_and_changes_nothing(client, world, who):
    supporter_id = {
        "a non-participating agency's supporter": world.b[Role.PEER_SUPPORTER].pk,
        "a participating agency's chief": world.a[Role.CHIEF].pk,
        "a clinician": world.a[Role.CLINICIAN].pk,
        "no such user": 2_000_000_000,
    }[who]
    assigned = world.a[Role.PEER_SUPPORTER]
    client.force_login(world.a[Role.COORDINATOR])
    path = f"/activations/{world.activation.uuid}/members/{world.target.uuid}/assign/"
    # Issue 13: the assign page posts (supporter, agency) pairs, and the form refuses any pair it did not
    # offer before the service is asked (the service's own refusal is tested in tests/test_activations.py).
    offered = assignment_choice_value(supporter_id, world.agency_a.pk)
    response = client.post(path, {"supporter": offered, "expected_supporter": assigned.pk}, follow=True)
    assert "Choose a supporter." in response.content.decode()
    assert OutreachTarget.objects.get(pk=world.target.pk).assigned_supporter == assigned


def test_adding_members_of_an_agency_outside_the_activation_is_refused(client, world):
    client.force_login(world.a[Role.COORDINATOR])
    before = OutreachTarget.objects.filter(activation=world.activation).count()
    response = client.post(
        f"/activations/{world.activation.uuid}/members/add/",
        {"home_agency": world.agency_b.pk, "exposure": "direct", "name": "Someone From B"},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert OutreachTarget.objects.filter(activation=world.activation).count() == before


@pytest.mark.parametrize("owner", ["another agency's supporter", "this agency's chief"])
def test_reassigning_a_follow_up_to_someone_the_list_did_not_offer_is_refused(client, world, owner):
    new_owner = world.b[Role.PEER_SUPPORTER] if owner == "another agency's supporter" else world.a[Role.CHIEF]
    client.force_login(world.a[Role.COORDINATOR])
    response = client.post(
        agency_url(world.agency_a, "followup_reassign", follow_up_uuid=world.follow_up.uuid),
        {"owner": new_owner.pk},
        follow=True,
    )
    assert "Choose a peer supporter or coordinator of this agency." in response.content.decode()
    with tenant_context(world.agency_a):
        assert FollowUp.objects.get(pk=world.follow_up.pk).owner == world.a[Role.PEER_SUPPORTER]


def test_an_encounter_posted_for_someone_elses_outreach_assignment_is_refused(client, world):
    """The hidden outreach_target field, replayed by a supporter of the same agency who was not assigned."""
    client.force_login(world.two_agency_user)
    path = agency_url(world.agency_a, "encounter_new")
    before = _count(world.agency_a)
    page = client.post(
        path, encounter_form_data(outreach_target=str(world.target.uuid), initiator="activation")
    ).content.decode()
    assert "not yours in this agency" in page
    assert _count(world.agency_a) == before
    assert OutreachTarget.objects.get(pk=world.target.pk).status == OutreachTarget.Status.PENDING


def test_an_encounter_referred_to_another_agencys_clinician_is_refused(client, world):
    client.force_login(world.a[Role.PEER_SUPPORTER])
    before = _count(world.agency_a)
    data = encounter_form_data(referral="clinician", referred_to=str(world.b[Role.CLINICIAN].pk))
    page = client.post(agency_url(world.agency_a, "encounter_new"), data).content.decode()
    assert "Select a valid choice" in page
    assert _count(world.agency_a) == before


def test_reusing_another_supporters_submission_key_neither_saves_nor_reveals_their_encounter(client, world):
    client.force_login(world.two_agency_user)
    key = str(world.encounter.submission_key)
    response = client.post(agency_url(world.agency_a, "encounter_new"), encounter_form_data(submission_key=key))
    assert response.status_code == 200
    assert "already used by someone else" in response.content.decode()
    assert str(world.encounter.uuid) not in response.content.decode()
    with tenant_context(world.agency_a):
        assert Encounter.objects.get(submission_key=key).author == world.a[Role.PEER_SUPPORTER]


def _count(agency) -> int:
    with tenant_context(agency):
        return Encounter.objects.count()


# --- Mass assignment: fields a form does not have are ignored ---------------------------------------


def test_extra_fields_on_the_encounter_form_cannot_set_author_agency_time_or_hold(client, world):
    supporter = world.a[Role.PEER_SUPPORTER]
    forged_uuid = str(uuid.uuid4())
    extra = {
        "author": world.a[Role.COORDINATOR].pk,
        "author_id": world.a[Role.COORDINATOR].pk,
        "agency": world.agency_b.pk,
        "created_at": "2001-01-01T00:00",
        "uuid": forged_uuid,
        "legal_hold": "on",
        "notes_purged_at": "2001-01-01T00:00",
        "standard": "999",
    }
    data = encounter_form_data(**extra)
    client.force_login(supporter)
    response = client.post(agency_url(world.agency_a, "encounter_new"), data)
    assert response.status_code == 302
    with tenant_context(world.agency_a):
        encounter = Encounter.objects.get(submission_key=data["submission_key"])
        assert encounter.author == supporter
        assert str(encounter.uuid) != forged_uuid
        assert timezone.now() - encounter.created_at < datetime.timedelta(minutes=5)
        assert (encounter.legal_hold, encounter.notes_purged_at) == (False, None)
    assert not _b_has_encounter_by(world, supporter), "the extra agency field moved nothing"


def _b_has_encounter_by(world, user) -> bool:
    with tenant_context(world.agency_b):
        return Encounter.objects.filter(author=user).exists()


def test_extra_fields_on_an_invitation_cannot_move_it_to_another_agency_or_inviter(client, world):
    client.force_login(world.a[Role.AGENCY_ADMIN])
    client.post(
        agency_url(world.agency_a, "agency_members"),
        {
            "email": "new.person@test.example",
            "role": Role.PEER_SUPPORTER,
            "agency": world.agency_b.pk,
            "agency_id": world.agency_b.pk,
            "invited_by": world.state_admin.pk,
            "accepted_at": "2001-01-01T00:00",
            "token_digest": "0" * 64,
        },
    )
    invitation = Invitation.objects.get(email="new.person@test.example")
    assert (invitation.agency, invitation.invited_by, invitation.accepted_at) == (
        world.agency_a,
        world.a[Role.AGENCY_ADMIN],
        None,
    )
    assert invitation.token_digest != "0" * 64


def test_extra_fields_on_a_roster_profile_cannot_change_the_members_role_or_agency(client, world):
    membership = world.membership(world.agency_a, Role.PEER_SUPPORTER)
    client.force_login(world.a[Role.COORDINATOR])
    response = client.post(
        agency_url(world.agency_a, "agency_roster_member", membership_id=membership.pk),
        {
            "save_profile": "1",
            "designated_on": (TODAY() - datetime.timedelta(days=400)).isoformat(),
            "availability": "available",
            "languages": "Spanish",
            "role": Role.AGENCY_ADMIN,
            "agency": world.agency_b.pk,
            "user": world.state_admin.pk,
            "is_active": "",
            "membership": world.membership(world.agency_b, Role.PEER_SUPPORTER).pk,
        },
    )
    assert response.status_code == 302
    membership.refresh_from_db()
    assert (membership.role, membership.agency, membership.user, membership.is_active) == (
        Role.PEER_SUPPORTER,
        world.agency_a,
        world.a[Role.PEER_SUPPORTER],
        True,
    )
    assert SupporterProfile.objects.get(membership=membership).languages == ["Spanish"], "the form's fields saved"


def test_extra_fields_on_opening_an_activation_cannot_set_its_status_or_who_opened_it(client, world):
    client.force_login(world.a[Role.COORDINATOR])
    client.post(
        agency_url(world.agency_a, "agency_activation_open"),
        {
            "incident_type": "major-fire",
            "name": "Mass assignment probe",
            "location": "Somewhere",
            "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "lead_agency": world.agency_a.pk,
            "status": Activation.Status.CLOSED,
            "opened_by": world.state_admin.pk,
            "names_destroyed_at": "2001-01-01T00:00",
            "network": "999",
        },
    )
    activation = Activation.objects.get(name="Mass assignment probe")
    assert (activation.status, activation.opened_by, activation.names_destroyed_at) == (
        Activation.Status.OPEN,
        world.a[Role.COORDINATOR],
        None,
    )
    assert activation.network_id == world.network_id


# --- CSRF and open redirects -----------------------------------------------------------------------


def csrf_token_from(client: Client, path: str) -> str:
    """The token the page's form carries, as a browser would send it back."""
    page = client.get(path).content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)


def test_a_post_without_the_csrf_token_is_refused_and_saves_nothing(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.a[Role.PEER_SUPPORTER])
    path = agency_url(world.agency_a, "encounter_new")
    before = _count(world.agency_a)
    assert client.post(path, encounter_form_data()).status_code == 403
    assert client.post(path, {**encounter_form_data(), "csrfmiddlewaretoken": "forged" * 6}).status_code == 403
    assert _count(world.agency_a) == before
    token = csrf_token_from(client, path)
    assert client.post(path, {**encounter_form_data(), "csrfmiddlewaretoken": token}).status_code == 302, "control"
    assert _count(world.agency_a) == before + 1


def test_sign_in_without_the_csrf_token_is_refused(world):
    client = Client(enforce_csrf_checks=True)
    credentials = {"username": world.a[Role.CHIEF].email, "password": PASSWORD}
    assert client.post("/login/", credentials).status_code == 403
    assert "_auth_user_id" not in client.session
    token = csrf_token_from(client, "/login/")
    assert client.post("/login/", {**credentials, "csrfmiddlewaretoken": token}).status_code == 302, "control"


OFFSITE = [
    "https://evil.example/",
    "//evil.example/",
    "///evil.example/",
    "https:evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "http://testserver@evil.example/",
    "https://testserver.evil.example/",
    "javascript:alert(1)",
    " //evil.example",
    "\t//evil.example",
]


@pytest.mark.parametrize("target", OFFSITE)
def test_sign_in_never_redirects_off_site(client, world, target):
    response = client.post("/login/", {"username": world.a[Role.CHIEF].email, "password": PASSWORD, "next": target})
    assert response.status_code == 302
    location = response["Location"]
    assert url_has_allowed_host_and_scheme(location, allowed_hosts={"testserver"}, require_https=False), location
    assert location == "/home/"
    signed_in = client.get("/login/", {"next": target})  # already signed in: LoginView redirects at once
    assert signed_in["Location"] == "/home/"


def test_sign_in_follows_a_next_on_this_site(client, world):
    """The control for the test above: a local `next` is honoured, so refusing the others means something."""
    page = agency_url(world.agency_a, "agency_home")
    response = client.post("/login/", {"username": world.a[Role.CHIEF].email, "password": PASSWORD, "next": page})
    assert response["Location"] == page
