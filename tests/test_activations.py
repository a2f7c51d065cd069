"""Interagency activations: opening, callout, affected members and duplicates, assignment (including
two coordinators at once), outreach tracking, the board, permissions, closing and destroying names."""

import base64
import datetime
import re
import threading

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.utils import timezone
from django_tenants.utils import tenant_context

from activations import selectors, services
from activations.models import Activation, ActivationEvent, CalloutResponse, OutreachTarget
from activations.tasks import activation_names_retention_task
from agencies import crypto as agency_crypto
from agencies.models import DataKey, Role
from encounters.models import Encounter
from governance import services as governance_services
from governance.models import Scope
from network import crypto
from tests.support import (
    WORLD_MEMBER,
    agency_url,
    agreement_record,
    encounter_form_data,
    error_codes,
    open_activation,
    refused,
)

Kind = ActivationEvent.Kind


def open_two_agency_activation(world, **overrides):
    return open_activation(world, **{"participating": [world.agency_b], **overrides})


def kinds(activation) -> list[str]:
    return list(activation.events.values_list("kind", flat=True))


def pair(user, agency) -> str:
    """What the assign page posts: the (supporter, agency) pair chosen."""
    return f"{user.pk}:{agency.pk}"


# --- Opening and callout ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_coordinator_opens_an_activation_from_their_agency_with_another_agency(client, world):
    client.force_login(world.a[Role.COORDINATOR])
    response = client.post(
        agency_url(world.agency_a, "agency_activation_open"),
        {
            "incident_type": "ois",
            "name": "Elm Street OIS",
            "location": "Elm Street",
            "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "lead_agency": world.agency_a.pk,
            "participating": [world.agency_b.pk],
        },
    )
    activation = Activation.objects.get(name="Elm Street OIS")
    assert response["Location"] == f"/activations/{activation.uuid}/board/"
    assert activation.lead_agency == world.agency_a
    assert set(activation.participations.values_list("agency", flat=True)) == {world.agency_a.pk, world.agency_b.pk}
    assert kinds(activation) == [Kind.OPENED, Kind.AGENCY_JOINED, Kind.AGENCY_JOINED]


@pytest.mark.django_db
def test_opening_rejects_a_future_incident_and_a_tampered_lead_agency(client, world):
    client.force_login(world.a[Role.COORDINATOR])
    future = (timezone.localtime() + datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    page = client.post(
        agency_url(world.agency_a, "agency_activation_open"),
        {
            "incident_type": "ois",
            "name": "X",
            "location": "Y",
            "occurred_at": future,
            "lead_agency": world.agency_b.pk,
        },
    ).content.decode()
    assert "This form was altered" in page  # a coordinator leads only from their own agency
    page = client.post(
        agency_url(world.agency_a, "agency_activation_open"),
        {
            "incident_type": "ois",
            "name": "X",
            "location": "Y",
            "occurred_at": future,
            "lead_agency": world.agency_a.pk,
        },
    ).content.decode()
    assert "cannot be in the future" in page
    assert not Activation.objects.filter(name="X").exists()


@pytest.mark.django_db
def test_callout_reaches_supporters_of_every_participating_agency_and_answers_show_on_the_roster(client, world):
    activation = open_two_agency_activation(world)
    sent = services.callout_send(actor=world.a[Role.COORDINATOR], activation=activation)
    called = set(activation.callouts.values_list("supporter", flat=True))
    assert world.b[Role.PEER_SUPPORTER].pk in called and world.a[Role.PEER_SUPPORTER].pk in called
    assert world.a[Role.CHIEF].pk not in called
    assert sent == len(called)
    client.force_login(world.b[Role.PEER_SUPPORTER])
    client.post(f"/activations/{activation.uuid}/mine/", {"answer": "available", "involved": "on"})
    response = CalloutResponse.objects.get(activation=activation, supporter=world.b[Role.PEER_SUPPORTER])
    assert (response.answer, response.involved) == ("available", True)
    client.force_login(world.a[Role.COORDINATOR])
    live = client.get(f"/activations/{activation.uuid}/board/live/").content.decode()
    assert "Yes: cannot be assigned" in live


@pytest.mark.django_db
def test_callout_email_is_sent_after_commit_and_names_no_one(world, django_capture_on_commit_callbacks):
    activation = open_two_agency_activation(world)
    with django_capture_on_commit_callbacks(execute=True):
        services.callout_send(actor=world.a[Role.COORDINATOR], activation=activation)
    assert mail.outbox and all("/mine/" in m.body for m in mail.outbox)
    assert not any(WORLD_MEMBER in m.body for m in mail.outbox)


# --- Affected members, encryption and duplicates ------------------------------------------------------


@pytest.mark.django_db
def test_names_are_encrypted_under_the_activations_own_key(world):
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM activations_outreachtarget WHERE id = %s", [world.target.pk])
        stored = cursor.fetchone()[0]
    assert WORLD_MEMBER not in stored and "Jordan" not in stored
    key = crypto.key_id_of(stored)
    assert world.activation.data_keys.get(purpose=DataKey.Purpose.ENCRYPTION).key_id == key
    assert OutreachTarget.objects.get(pk=world.target.pk).name == WORLD_MEMBER


@pytest.mark.django_db
def test_the_same_person_added_by_two_agencies_with_other_spacing_and_case_is_flagged(client, world):
    activation = open_two_agency_activation(world)
    client.force_login(world.a[Role.COORDINATOR])
    client.post(
        f"/activations/{activation.uuid}/members/add/",
        {
            "home_agency": world.agency_a.pk,
            "exposure": "direct",
            "pasted": "Maria  Lopez, engineer\nSam Chen",
        },
    )
    client.force_login(world.b[Role.COORDINATOR])
    response = client.post(
        f"/activations/{activation.uuid}/members/add/",
        {
            "home_agency": world.agency_b.pk,
            "exposure": "witness",
            "name": "  maria LOPEZ ",
        },
        follow=True,
    )
    assert "1 flagged as a possible duplicate" in response.content.decode()
    flagged = OutreachTarget.objects.get(activation=activation, possible_duplicate_of__isnull=False)
    assert flagged.possible_duplicate_of.name == "Maria Lopez"
    assert Kind.DUPLICATE_FLAGGED in kinds(activation)
    # It cannot be assigned until a coordinator decides.
    with pytest.raises(Exception, match="Resolve the possible duplicate"):
        services.target_assign(
            actor=world.a[Role.COORDINATOR],
            target=flagged,
            supporter=world.a[Role.PEER_SUPPORTER],
            expected_supporter_id=None,
        )
    client.post(f"/activations/{activation.uuid}/members/{flagged.uuid}/duplicate/", {"decision": "merge"})
    flagged.refresh_from_db()
    assert flagged.merged_into == flagged.possible_duplicate_of
    board = selectors.after_action_summary(activation)
    assert board["affected_members"] == 2 and board["duplicates_merged"] == 1


@pytest.mark.django_db
def test_the_blind_index_matches_only_within_one_activation(world):
    other = open_two_agency_activation(world, name="Another incident")
    assert agency_crypto.blind_index(other, WORLD_MEMBER) != agency_crypto.blind_index(world.activation, WORLD_MEMBER)
    assert agency_crypto.blind_index(world.activation, " jordan q  EXAMPLE") == world.target.name_index
    (added,) = services.targets_add(
        actor=world.a[Role.COORDINATOR],
        activation=other,
        home_agency=world.agency_a,
        entries=[(WORLD_MEMBER, "")],
        exposure="direct",
    )
    assert added.possible_duplicate_of is None


@pytest.mark.django_db
def test_a_pasted_list_with_a_bad_line_is_explained_and_adds_no_one(client, world):
    client.force_login(world.a[Role.COORDINATOR])
    before = OutreachTarget.objects.count()
    page = client.post(
        f"/activations/{world.activation.uuid}/members/add/",
        {
            "home_agency": world.agency_a.pk,
            "exposure": "direct",
            "pasted": "Ann Lee\n, nobody\n",
        },
    ).content.decode()
    assert "Line 2: a name is needed" in page
    assert OutreachTarget.objects.count() == before


# --- Assignment --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_witness_or_party_cannot_be_assigned_and_the_reason_is_shown(client, world):
    activation = open_two_agency_activation(world)
    services.callout_send(actor=world.a[Role.COORDINATOR], activation=activation)
    services.callout_answer(
        supporter=world.b[Role.PEER_SUPPORTER], activation=activation, answer="available", involved=True
    )
    (target,) = services.targets_add(
        actor=world.a[Role.COORDINATOR],
        activation=activation,
        home_agency=world.agency_a,
        entries=[("Pat Doe", "")],
        exposure="direct",
    )
    client.force_login(world.a[Role.COORDINATOR])
    page = client.get(f"/activations/{activation.uuid}/members/{target.uuid}/assign/").content.decode()
    assert "cannot be assigned: witness or party to the incident" in page
    response = client.post(
        f"/activations/{activation.uuid}/members/{target.uuid}/assign/",
        {"supporter": pair(world.b[Role.PEER_SUPPORTER], world.agency_b)},
        follow=True,
    )
    assert "cannot be assigned: witness or party" in response.content.decode()
    target.refresh_from_db()
    assert target.assigned_supporter is None


@pytest.mark.django_db
def test_assignment_across_agencies_shows_load_and_reassignment_is_logged(client, world):
    activation = open_two_agency_activation(world)
    (one, two) = services.targets_add(
        actor=world.a[Role.COORDINATOR],
        activation=activation,
        home_agency=world.agency_a,
        entries=[("Ann One", ""), ("Bo Two", "")],
        exposure="direct",
    )
    b_supporter = world.b[Role.PEER_SUPPORTER]
    services.target_assign(
        actor=world.a[Role.COORDINATOR], target=one, supporter=b_supporter, expected_supporter_id=None
    )
    client.force_login(world.a[Role.COORDINATOR])
    page = client.get(f"/activations/{activation.uuid}/members/{two.uuid}/assign/").content.decode()
    assert f"{world.agency_b.name} · load 1" in page
    client.post(
        f"/activations/{activation.uuid}/members/{one.uuid}/assign/",
        {"supporter": pair(world.a[Role.PEER_SUPPORTER], world.agency_a), "expected_supporter": b_supporter.pk},
    )
    one.refresh_from_db()
    assert (one.assigned_supporter, one.assigned_agency) == (world.a[Role.PEER_SUPPORTER], world.agency_a)
    assert kinds(activation).count(Kind.ASSIGNED) == 1 and Kind.REASSIGNED in kinds(activation)


@pytest.mark.django_db
def test_a_stale_assignment_form_is_refused_with_a_clear_message(client, world):
    client.force_login(world.a[Role.COORDINATOR])
    response = client.post(
        f"/activations/{world.activation.uuid}/members/{world.target.uuid}/assign/",
        # the page showed it unassigned
        {"supporter": pair(world.a[Role.COORDINATOR], world.agency_a), "expected_supporter": ""},
        follow=True,
    )
    assert "Someone else changed this member" in response.content.decode()
    assert OutreachTarget.objects.get(pk=world.target.pk).assigned_supporter == world.a[Role.PEER_SUPPORTER]


def _member(world, activation, name="Alex Member", home=None):
    (target,) = services.targets_add(
        actor=world.a[Role.COORDINATOR],
        activation=activation,
        home_agency=home or world.agency_a,
        entries=[(name, "")],
        exposure="direct",
    )
    return target


@pytest.mark.django_db
def test_a_supporter_of_two_agencies_is_offered_once_with_each_agency_as_its_own_choice(client, world):
    """Issue 13 §1, §7: both choices used to carry the same id and value (the supporter's id alone)."""
    activation = open_two_agency_activation(world)
    target = _member(world, activation)
    two = world.two_agency_user
    client.force_login(world.a[Role.COORDINATOR])
    page = client.get(f"/activations/{activation.uuid}/members/{target.uuid}/assign/").content.decode()
    for agency in (world.agency_a, world.agency_b):
        assert f'id="s-{two.pk}-{agency.pk}" name="supporter" value="{two.pk}:{agency.pk}"' in page
    assert page.count(f"{two.full_name} <span") == 1, "the person is shown once, the agency is the choice"
    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


@pytest.mark.django_db
def test_choosing_the_second_agency_of_a_two_agency_supporter_assigns_under_it_and_the_board_shows_it(client, world):
    activation = open_two_agency_activation(world)
    target = _member(world, activation)
    two = world.two_agency_user
    client.force_login(world.a[Role.COORDINATOR])
    response = client.post(
        f"/activations/{activation.uuid}/members/{target.uuid}/assign/",
        {"supporter": pair(two, world.agency_b), "expected_supporter": ""},
        follow=True,
    )
    target.refresh_from_db()
    assert (target.assigned_supporter, target.assigned_agency) == (two, world.agency_b)
    assert f"Assigned to {two.full_name} ({world.agency_b.name})" in response.content.decode()
    board = client.get(f"/activations/{activation.uuid}/board/live/").content.decode()
    assert f'{two.full_name} <span class="muster-role">({world.agency_b.name})</span>' in board
    assert activation.events.get(kind=Kind.ASSIGNED).agency == world.agency_b
    # Reassigning the same person under their other agency moves the assignment there.
    client.post(
        f"/activations/{activation.uuid}/members/{target.uuid}/assign/",
        {"supporter": pair(two, world.agency_a), "expected_supporter": two.pk},
    )
    target.refresh_from_db()
    assert target.assigned_agency == world.agency_a


@pytest.mark.django_db
def test_the_assignment_service_records_the_chosen_agency_and_refuses_one_the_supporter_cannot_work_under(world):
    activation = open_two_agency_activation(world)
    target = _member(world, activation)
    coordinator, two = world.a[Role.COORDINATOR], world.two_agency_user
    with refused("choose_agency"):
        services.target_assign(actor=coordinator, target=target, supporter=two, expected_supporter_id=None)
    with refused("not_a_participating_supporter"):
        # A's supporter holds no membership in B.
        services.target_assign(
            actor=coordinator,
            target=target,
            supporter=world.a[Role.PEER_SUPPORTER],
            agency=world.agency_b,
            expected_supporter_id=None,
        )
    assert OutreachTarget.objects.get(pk=target.pk).assigned_supporter is None
    assigned = services.target_assign(
        actor=coordinator, target=target, supporter=two, agency=world.agency_b, expected_supporter_id=None
    )
    assert (assigned.assigned_supporter, assigned.assigned_agency) == (two, world.agency_b)


@pytest.mark.django_db
def test_a_two_agency_supporter_is_not_assigned_under_an_agency_that_does_not_take_part(world):
    activation = open_activation(world)  # A alone: B does not take part
    target = _member(world, activation)
    with refused("not_a_participating_supporter"):
        services.target_assign(
            actor=world.a[Role.COORDINATOR],
            target=target,
            supporter=world.two_agency_user,
            agency=world.agency_b,
            expected_supporter_id=None,
        )
    # Under the one agency of theirs that takes part, no choice is needed.
    assigned = services.target_assign(
        actor=world.a[Role.COORDINATOR], target=target, supporter=world.two_agency_user, expected_supporter_id=None
    )
    assert assigned.assigned_agency == world.agency_a


@pytest.mark.django_db
def test_the_cross_agency_outreach_rule_is_checked_for_the_agency_chosen(client, world):
    governance_services.agreement_revoke(actor=world.state_admin, agreement=world.agreement)
    agreement_record(world, [world.agency_a, world.agency_b], scopes=[Scope.JOINT_ACTIVATION])
    activation = open_two_agency_activation(world)
    target = _member(world, activation)  # an A member: B's supporters need cross-agency outreach
    two = world.two_agency_user
    with refused("no_outreach_agreement"):
        services.target_assign(
            actor=world.a[Role.COORDINATOR],
            target=target,
            supporter=two,
            agency=world.agency_b,
            expected_supporter_id=None,
        )
    client.force_login(world.a[Role.COORDINATOR])
    page = client.get(f"/activations/{activation.uuid}/members/{target.uuid}/assign/").content.decode()
    assert re.search(rf'id="s-{two.pk}-{world.agency_b.pk}"[^>]* disabled', page)
    assert not re.search(rf'id="s-{two.pk}-{world.agency_a.pk}"[^>]* disabled', page)
    assigned = services.target_assign(
        actor=world.a[Role.COORDINATOR], target=target, supporter=two, agency=world.agency_a, expected_supporter_id=None
    )
    assert assigned.assigned_agency == world.agency_a


@pytest.mark.django_db
def test_a_stale_form_for_a_two_agency_supporter_is_still_refused(client, world):
    """The concurrency guard holds with the agency in the choice: what was seen is compared, not the agency."""
    activation = open_two_agency_activation(world)
    target = _member(world, activation)
    services.target_assign(
        actor=world.b[Role.COORDINATOR],
        target=target,
        supporter=world.b[Role.PEER_SUPPORTER],
        expected_supporter_id=None,
    )
    client.force_login(world.a[Role.COORDINATOR])
    response = client.post(
        f"/activations/{activation.uuid}/members/{target.uuid}/assign/",
        {"supporter": pair(world.two_agency_user, world.agency_b), "expected_supporter": ""},
        follow=True,
    )
    assert "Someone else changed this member" in response.content.decode()
    assert OutreachTarget.objects.get(pk=target.pk).assigned_supporter == world.b[Role.PEER_SUPPORTER]


@pytest.mark.django_db
def test_a_tampered_assignment_choice_is_refused_without_a_server_error(client, world):
    activation = open_two_agency_activation(world)
    target = _member(world, activation)
    client.force_login(world.a[Role.COORDINATOR])
    url = f"/activations/{activation.uuid}/members/{target.uuid}/assign/"
    outsider_pair = pair(world.a[Role.CHIEF], world.agency_a)  # not a supporter
    for value in ("", "abc", str(world.two_agency_user.pk), outsider_pair, f"{world.two_agency_user.pk}:999999"):
        response = client.post(url, {"supporter": value}, follow=True)
        assert response.status_code == 200 and "Choose a supporter." in response.content.decode(), value
    assert OutreachTarget.objects.get(pk=target.pk).assigned_supporter is None


def test_two_coordinators_assigning_the_same_member_at_once_one_wins(world, django_db_blocker):
    """Two real transactions on two connections, released together: exactly one assignment lands."""
    with django_db_blocker.unblock():
        activation = open_two_agency_activation(world, name="Concurrency check")
        (target,) = services.targets_add(
            actor=world.a[Role.COORDINATOR],
            activation=activation,
            home_agency=world.agency_a,
            entries=[("Race Case", "")],
            exposure="direct",
        )
        barrier = threading.Barrier(2)
        outcomes: dict[str, str] = {}

        def assign(label, coordinator, supporter):
            try:
                barrier.wait(timeout=10)
                services.target_assign(
                    actor=coordinator, target=target, supporter=supporter, expected_supporter_id=None
                )
                outcomes[label] = "assigned"
            except ValidationError as error:  # the loser's refusal is the point
                outcomes[label] = " ".join(error_codes(error))
            except Exception as error:  # noqa: BLE001 - any other failure is recorded, and fails the test
                outcomes[label] = repr(error)
            finally:
                connections.close_all()

        threads = [
            threading.Thread(target=assign, args=("a", world.a[Role.COORDINATOR], world.a[Role.PEER_SUPPORTER])),
            threading.Thread(target=assign, args=("b", world.b[Role.COORDINATOR], world.b[Role.PEER_SUPPORTER])),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        target.refresh_from_db()
        assert list(outcomes.values()).count("assigned") == 1, outcomes
        loser = next(v for v in outcomes.values() if v != "assigned")
        assert loser == "assignment_changed", outcomes
        assert target.assigned_supporter in (world.a[Role.PEER_SUPPORTER], world.b[Role.PEER_SUPPORTER])
        assert activation.events.filter(kind=Kind.ASSIGNED).count() == 1


# --- Outreach and the encounter in the supporter's own agency --------------------------------------------


@pytest.mark.django_db
def test_logging_the_contact_creates_an_encounter_in_the_supporters_agency_and_updates_the_board(client, world):
    supporter = world.a[Role.PEER_SUPPORTER]
    client.force_login(supporter)
    mine = client.get(f"/activations/{world.activation.uuid}/mine/").content.decode()
    assert WORLD_MEMBER in mine
    form_page = client.get(
        agency_url(world.agency_a, "encounter_new") + f"?outreach={world.target.uuid}"
    ).content.decode()
    assert "Warehouse fire" in form_page
    due = (timezone.localdate() + datetime.timedelta(days=7)).isoformat()
    response = client.post(
        agency_url(world.agency_a, "encounter_new"),
        encounter_form_data(
            submission_key="6f1c5c6e-5a47-4d4c-9d15-0c8d1c1f0a11",
            outreach_target=str(world.target.uuid),
            duration_band="30-44",
            initiator="activation",
            follow_up_due_on=due,
            notes="Private words that must stay in the agency.",
        ),
    )
    assert response.status_code == 302
    target = OutreachTarget.objects.get(pk=world.target.pk)
    assert target.status == "contacted" and target.first_contact_at is not None
    assert (target.next_follow_up_on.isoformat(), target.follow_up_agency) == (due, world.agency_a)
    with tenant_context(world.agency_a):
        encounter = Encounter.objects.get(outreach_target=target)
        assert encounter.activation == world.activation
    client.force_login(world.a[Role.COORDINATOR])
    board = client.get(f"/activations/{world.activation.uuid}/board/live/").content.decode()
    assert "Contacted" in board and "Private words" not in board and "Critical incident" not in board


@pytest.mark.django_db
def test_only_the_assigned_supporter_can_log_a_contact_for_a_member(client, world):
    client.force_login(world.two_agency_user)  # a peer supporter of A, not assigned
    page = client.get(agency_url(world.agency_a, "encounter_new") + f"?outreach={world.target.uuid}").content.decode()
    assert "not yours" in page
    client.force_login(world.two_agency_user)
    response = client.post(
        f"/activations/{world.activation.uuid}/members/{world.target.uuid}/outreach/", {"status": "declined"}
    )
    assert response.status_code == 404


@pytest.mark.django_db
def test_attempts_are_counted_with_the_time_of_the_last_one(client, world):
    client.force_login(world.a[Role.PEER_SUPPORTER])
    for _ in range(2):
        client.post(
            f"/activations/{world.activation.uuid}/members/{world.target.uuid}/outreach/", {"status": "attempted"}
        )
    target = OutreachTarget.objects.get(pk=world.target.pk)
    assert (target.status, target.attempts) == ("attempted", 2) and target.last_attempt_at is not None


# --- The board -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_board_lists_members_waiting_longest_without_contact_first_and_filters(client, world):
    activation = open_two_agency_activation(world)
    early, late = services.targets_add(
        actor=world.a[Role.COORDINATOR],
        activation=activation,
        home_agency=world.agency_a,
        entries=[("Early Bird", ""), ("Late Comer", "")],
        exposure="direct",
    )
    OutreachTarget.objects.filter(pk=early.pk).update(added_at=timezone.now() - datetime.timedelta(hours=9))
    services.targets_add(
        actor=world.b[Role.COORDINATOR],
        activation=activation,
        home_agency=world.agency_b,
        entries=[("Bee Member", "")],
        exposure="support",
    )
    client.force_login(world.a[Role.COORDINATOR])
    page = client.get(f"/activations/{activation.uuid}/board/live/?hours=4").content.decode()
    assert page.index("Early Bird") < page.index("Late Comer")
    assert "No contact for 9 h" in page
    only_b = client.get(f"/activations/{activation.uuid}/board/live/?agency={world.agency_b.pk}").content.decode()
    assert "Bee Member" in only_b and "Early Bird" not in only_b
    assert client.get(f"/activations/{activation.uuid}/board/live/?hours=abc").status_code == 200


@pytest.mark.django_db
def test_board_page_polls_for_updates(client, world):
    client.force_login(world.a[Role.COORDINATOR])
    page = client.get(f"/activations/{world.activation.uuid}/board/").content.decode()
    assert 'hx-trigger="every 5s"' in page and "/board/live/" in page


@pytest.mark.django_db
def test_on_the_board_the_members_come_before_the_folded_filters_and_checklist(client, world):
    governance_services.protocol_save(
        actor=world.state_admin,
        network=world.agency_a.network,
        incident_type="mci",
        name="Mass casualty protocol",
        steps=[("Debriefing", 24, 240)],  # not due yet
        follow_up_days=[7, 30, 90],
    )
    activation = open_two_agency_activation(world)
    client.force_login(world.a[Role.COORDINATOR])
    page = client.get(f"/activations/{activation.uuid}/board/").content.decode()
    members = page.index("<h2>Affected members</h2>")
    filters = page.index('aria-label="Filter the board"')
    checklist = page.index("Protocol checklist")
    assert members < filters and members < checklist
    # Both fold: each sits in a closed <details> (filters open only once a filter is applied).
    assert page[:filters].rindex('<details class="muster-more muster-fold">') > members
    assert page[:checklist].rindex('<details class="muster-more muster-fold muster-card">') > members
    filtered = client.get(f"/activations/{activation.uuid}/board/?status=pending").content.decode()
    assert '<details class="muster-more muster-fold" open>' in filtered
    # A step due now opens the checklist (still below the members).
    governance_services.protocol_save(
        actor=world.state_admin,
        network=world.agency_a.network,
        incident_type="lodd",
        name="Line-of-duty death protocol",
        steps=[("Family liaison", 0, 12)],
        follow_up_days=[7],
    )
    due = open_two_agency_activation(world, incident_type="lodd")
    page = client.get(f"/activations/{due.uuid}/board/").content.decode()
    assert page.index("<h2>Affected members</h2>") < page.index(
        '<details class="muster-more muster-fold muster-card" open>'
    )
    # The poll refreshes the three live parts around the filters.
    assert 'hx-select="#board-live-now" hx-select-oob="#board-live-site,#board-live-more"' in page
    live = client.get(f"/activations/{activation.uuid}/board/live/").content.decode()
    assert all(f'id="board-live-{part}"' in live for part in ("now", "site", "more"))


@pytest.mark.django_db
def test_the_board_shows_each_step_and_who_ticked_it_each_members_next_follow_up_and_who_may_join(client, world):
    """The board reads its checklist with the activation and the follow-ups with the members (network/inline.py):
    what it shows must be what the rows say."""
    governance_services.protocol_save(
        actor=world.state_admin,
        network=world.agency_a.network,
        incident_type="mci",
        name="Mass casualty protocol",
        steps=[("Call out the team", 0, 1), ("Debriefing", 24, 240)],
        follow_up_days=[7, 30],
    )
    activation = open_activation(world)  # agency B is not taking part, and an agreement lets it join
    coordinator = world.a[Role.COORDINATOR]
    first = activation.checklist.get(position=1)
    services.checklist_item_done(actor=coordinator, item=first, request=None)
    target = _member(world, activation)
    week = target.follow_ups.order_by("due_on").first()  # the 7-day one: the next open one
    client.force_login(coordinator)
    page = client.get(f"/activations/{activation.uuid}/board/").content.decode()
    assert f"by {coordinator.get_full_name()}" in page  # the ticked step and who ticked it
    assert "Debriefing" in page and "1 of 2 done" in page
    assert f"{week.due_on:%Y-%m-%d} · 7-day" in page
    add_page = f"/activations/{activation.uuid}/agencies/add/"
    assert f'href="{add_page}"' in page  # its own page: the board does not read who may join
    add_agency = client.get(add_page).content.decode()
    add_agency = add_agency[add_agency.index('name="agency"') :]
    assert f'value="{world.agency_b.pk}">{world.agency_b.name}</option>' in add_agency[: add_agency.index("</select>")]
    filter_choices = page[page.index('id="f-agency"') :]
    filter_choices = filter_choices[: filter_choices.index("</select>")]
    assert world.agency_a.name in filter_choices and world.agency_b.name not in filter_choices


@pytest.mark.django_db
def test_another_agency_joins_from_its_own_page_and_is_then_no_longer_offered(client, world):
    activation = open_activation(world)  # agency B is not taking part, and an agreement lets it join
    client.force_login(world.a[Role.COORDINATOR])
    page = f"/activations/{activation.uuid}/agencies/add/"
    tampered = client.post(page, {"agency": world.agency_a.pk})  # taking part already: not offered
    assert tampered.status_code == 200 and "Select a valid choice" in tampered.content.decode()
    joined = client.post(page, {"agency": world.agency_b.pk}, follow=True)
    assert joined.redirect_chain[-1][0] == f"/activations/{activation.uuid}/board/"
    assert f"{world.agency_b.name} joined the activation." in joined.content.decode()
    assert activation.participations.filter(agency=world.agency_b).exists()
    assert "No other agency can join" in client.get(page).content.decode()
    services.activation_demobilize(actor=world.a[Role.COORDINATOR], activation=activation)
    assert "Only an open activation takes new agencies" in client.get(page).content.decode()


@pytest.mark.django_db
def test_zero_counters_on_the_board_are_not_shown_in_alarm_red(client, world):
    activation = open_two_agency_activation(world)
    client.force_login(world.a[Role.COORDINATOR])
    empty = client.get(f"/activations/{activation.uuid}/board/live/").content.decode()
    assert "muster-stat--alert" not in empty  # 0 unassigned, 0 waiting
    _member(world, activation)
    one = client.get(f"/activations/{activation.uuid}/board/live/").content.decode()
    assert re.search(r'class="muster-stat--alert"><span class="muster-stat__value">1</span> <span[^>]*>Unassigned', one)


@pytest.mark.django_db
def test_the_activation_list_says_what_it_lists_and_offers_opening_one_to_those_who_may(client, world):
    client.force_login(world.a[Role.COORDINATOR])
    page = client.get("/activations/").content.decode()
    assert "Listed here: activations your agencies take part in." in page
    assert f'href="{agency_url(world.agency_a, "agency_activation_open")}">Open an activation</a>' in page
    client.force_login(world.state_admin)
    page = client.get("/activations/").content.decode()
    assert "Activations you take part in" not in page
    assert "Listed here: every activation in the network, as state admin." in page
    assert 'href="/network/activations/new/">Open an activation</a>' in page
    client.force_login(world.regional_a)
    page = client.get("/activations/").content.decode()
    assert "every activation led by an agency of the North region, as its coordinator" in page
    for who in (world.a[Role.PEER_SUPPORTER], world.a[Role.CHIEF]):
        client.force_login(who)
        assert "Open an activation" not in client.get("/activations/").content.decode()
    # The one who coordinates in one agency and supports in another opens for the first only.
    client.force_login(world.two_agency_user)
    page = client.get("/activations/").content.decode()
    assert f'href="{agency_url(world.agency_b, "agency_activation_open")}"' in page
    assert f'href="{agency_url(world.agency_a, "agency_activation_open")}"' not in page


@pytest.mark.django_db
def test_activation_pages_link_home_to_the_agency_last_visited(client, world):
    client.force_login(world.two_agency_user)
    board = f"/activations/{world.activation.uuid}/mine/"
    page = client.get(board).content.decode()
    home_a = agency_url(world.agency_a, "agency_home")
    assert f'href="{home_a}"><span>Home <span class="muster-role">({world.agency_a.name})' in page
    client.get(agency_url(world.agency_b, "agency_home"))
    page = client.get(board).content.decode()
    home_b = agency_url(world.agency_b, "agency_home")
    assert f'href="{home_b}"><span>Home <span class="muster-role">({world.agency_b.name})' in page
    client.force_login(world.state_admin)  # no agency: the network page is home
    assert "<span>Home <span" not in client.get("/activations/").content.decode()


# --- Permissions -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_coordinator_of_a_non_participating_agency_sees_nothing(client, world):
    client.force_login(world.b[Role.COORDINATOR])
    for path in ("", "board/", "board/live/", "summary/", "mine/"):
        assert client.get(f"/activations/{world.activation.uuid}/{path}").status_code == 404
    assert "Warehouse fire" not in client.get("/activations/").content.decode()


@pytest.mark.django_db
def test_joining_later_grants_the_new_agencys_coordinators_through_their_role_group(client, world):
    services.activation_add_agency(actor=world.a[Role.COORDINATOR], activation=world.activation, agency=world.agency_b)
    client.force_login(world.b[Role.COORDINATOR])
    assert client.get(f"/activations/{world.activation.uuid}/board/").status_code == 200


@pytest.mark.django_db
def test_a_supporter_sees_the_names_of_their_own_assignments_only(client, world):
    activation = open_two_agency_activation(world)
    mine, theirs = services.targets_add(
        actor=world.a[Role.COORDINATOR],
        activation=activation,
        home_agency=world.agency_a,
        entries=[("Mine Person", ""), ("Other Person", "")],
        exposure="direct",
    )
    services.target_assign(
        actor=world.a[Role.COORDINATOR], target=mine, supporter=world.b[Role.PEER_SUPPORTER], expected_supporter_id=None
    )
    client.force_login(world.b[Role.PEER_SUPPORTER])
    page = client.get(f"/activations/{activation.uuid}/mine/").content.decode()
    assert "Mine Person" in page and "Other Person" not in page
    assert client.get(f"/activations/{activation.uuid}/board/").status_code == 404


@pytest.mark.django_db
def test_a_chief_sees_aggregates_only(client, world):
    # Chiefs see a summary once the activation is closed (tests/test_activation_summary_frozen.py).
    services.activation_close(actor=world.a[Role.COORDINATOR], activation=world.activation)
    client.force_login(world.a[Role.CHIEF])
    response = client.get(f"/activations/{world.activation.uuid}/", follow=True)
    page = response.content.decode()
    assert response.redirect_chain[-1][0].endswith("/summary/")
    assert "Affected members" in page and WORLD_MEMBER not in page
    assert world.a[Role.PEER_SUPPORTER].full_name not in page
    assert client.get(f"/activations/{world.activation.uuid}/board/").status_code == 404


@pytest.mark.django_db
def test_a_role_change_moves_the_grants_with_it(client, world):
    from agencies.services import membership_set_role

    membership = world.membership(world.agency_a, Role.CHIEF)
    membership_set_role(actor=world.a[Role.AGENCY_ADMIN], membership=membership, role=Role.COORDINATOR)
    client.force_login(world.a[Role.CHIEF])
    assert client.get(f"/activations/{world.activation.uuid}/board/").status_code == 200


# --- Closing and destroying names --------------------------------------------------------------------------


@pytest.mark.django_db
def test_close_saves_an_after_action_summary_and_destroying_names_keeps_the_counts(client, world):
    activation = open_two_agency_activation(world)
    services.targets_add(
        actor=world.a[Role.COORDINATOR],
        activation=activation,
        home_agency=world.agency_a,
        entries=[("Close One", ""), ("Close Two", "")],
        exposure="direct",
    )
    client.force_login(world.a[Role.COORDINATOR])
    client.post(f"/activations/{activation.uuid}/actions/demobilize/")
    unconfirmed = client.post(f"/activations/{activation.uuid}/actions/close/", follow=True)
    assert "Tick the box to confirm" in unconfirmed.content.decode()
    activation.refresh_from_db()
    assert activation.status == Activation.Status.DEMOBILIZED
    client.post(f"/activations/{activation.uuid}/actions/close/", {"confirm": "yes"})
    activation.refresh_from_db()
    assert activation.status == Activation.Status.CLOSED
    assert activation.summary["affected_members"] == 2 and activation.summary["by_status"]["pending"] == 2

    assert services.activation_destroy_names(activation=activation)
    target = OutreachTarget.objects.filter(activation=activation).first()
    with pytest.raises(crypto.DecryptionError):
        _ = target.name
    summary = client.get(f"/activations/{activation.uuid}/summary/").content.decode()
    assert "Names were destroyed" in summary
    board = client.get(f"/activations/{activation.uuid}/board/live/").content.decode()
    assert "name destroyed" in board and "Close One" not in board
    assert kinds(activation)[-3:] == [Kind.DEMOBILIZED, Kind.CLOSED, Kind.NAMES_DESTROYED]


def _key_candidates() -> list[bytes]:
    """Every key material an attacker with the database (a backup) and this process's memory could try:
    every bytea value in every public table, unwrapped by every master key where that works, every
    setting named like a key, and everything cached in network.crypto (ciphers, current key ids) and
    agencies.crypto (blind-index keys)."""
    from django.conf import settings

    candidates = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND data_type = 'bytea'"
        )
        for table, column in cursor.fetchall():
            cursor.execute(f'SELECT "{column}" FROM "{table}" WHERE "{column}" IS NOT NULL')  # noqa: S608
            candidates += [bytes(value) for (value,) in cursor.fetchall()]
    for wrapped in list(candidates):
        for master in crypto.master_keys():
            try:
                candidates.append(crypto.unwrap(master.key_id, wrapped))
            except (crypto.DecryptionError, ValueError):  # not a wrapped key, or an emptied one
                pass
    for name in dir(settings):
        value = getattr(settings, name)
        if "KEY" in name and isinstance(value, str | list):
            for item in value if isinstance(value, list) else [value]:
                candidates.append(item.encode())
                try:
                    candidates.append(base64.b64decode(item.rpartition(":")[2]))
                except ValueError:
                    pass
    caches = [value for module in (crypto, agency_crypto) for value in vars(module).values() if isinstance(value, dict)]
    for cache in caches:
        for entry in cache.values():
            for part in entry if isinstance(entry, tuple) else (entry,):
                if isinstance(part, bytes):
                    candidates.append(part)
                elif hasattr(part, "_key"):  # a cached AESGCM cipher
                    candidates.append(bytes(part._key))
    return candidates


@pytest.mark.django_db
def test_after_shredding_no_key_in_the_database_or_in_memory_can_recompute_an_old_index_value(
    world, django_capture_on_commit_callbacks
):
    activation = open_two_agency_activation(world)
    with django_capture_on_commit_callbacks(execute=True):
        (target,) = services.targets_add(
            actor=world.a[Role.COORDINATOR],
            activation=activation,
            home_agency=world.agency_a,
            entries=[("Avery Shredded", "")],
            exposure="direct",
        )
    old_index = target.name_index
    recomputes = [
        key
        for key in _key_candidates()
        if agency_crypto.blind_index_value(key, activation.uuid, "avery shredded") == old_index
    ]
    assert recomputes, "the index key must be findable before shredding, or this test proves nothing"
    services.activation_close(actor=world.a[Role.COORDINATOR], activation=activation)

    assert services.activation_destroy_names(activation=activation)

    for key in _key_candidates():
        assert agency_crypto.blind_index_value(key, activation.uuid, "Avery Shredded") != old_index
    assert not DataKey.objects.filter(activation=activation).exclude(wrapped_key=b"").exists()
    activation.refresh_from_db()
    with pytest.raises(crypto.DecryptionError):
        agency_crypto.blind_index(activation, "Avery Shredded")  # no new key is made for a shredded activation


@pytest.mark.django_db
def test_each_activation_has_its_own_wrapped_index_key_created_with_its_data_key(world):
    other = open_two_agency_activation(world, name="Another incident")
    services.targets_add(
        actor=world.a[Role.COORDINATOR],
        activation=other,
        home_agency=world.agency_a,
        entries=[("Sam Other", "")],
        exposure="direct",
    )
    keys = {
        activation.pk: DataKey.objects.get(activation=activation, purpose=DataKey.Purpose.BLIND_INDEX)
        for activation in (world.activation, other)
    }
    assert keys[world.activation.pk].key_id != keys[other.pk].key_id
    raw = {pk: crypto.unwrap(key.master_key_id, key.wrapped_key) for pk, key in keys.items()}
    assert len(set(raw.values())) == 2 and all(bytes(k.wrapped_key) not in raw.values() for k in keys.values())
    assert agency_crypto.blind_index(world.activation, WORLD_MEMBER) == agency_crypto.blind_index_value(
        raw[world.activation.pk], world.activation.uuid, WORLD_MEMBER
    )


@pytest.mark.django_db
def test_the_migration_reindexes_an_activation_from_before_index_keys_without_the_old_global_key(world):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("activations.migrations.0007_reindex_under_activation_index_keys")
    activation = open_two_agency_activation(world)
    (target,) = services.targets_add(
        actor=world.a[Role.COORDINATOR],
        activation=activation,
        home_agency=world.agency_a,
        entries=[("Riley Legacy", "")],
        exposure="direct",
    )
    # As it was before: no index key of its own, the index made under the one global key.
    DataKey.objects.filter(activation=activation, purpose=DataKey.Purpose.BLIND_INDEX).delete()
    legacy = agency_crypto.blind_index_value(b"g" * 32, activation.uuid, "Riley Legacy")
    OutreachTarget.objects.filter(pk=target.pk).update(name_index=legacy)
    crypto.forget_cached_keys()

    migration.reindex(apps, None)

    target.refresh_from_db()
    assert target.name_index not in ("", legacy)
    assert target.name_index == agency_crypto.blind_index(activation, "riley  LEGACY")
    (again,) = services.targets_add(
        actor=world.b[Role.COORDINATOR],
        activation=activation,
        home_agency=world.agency_b,
        entries=[("Riley Legacy", "")],
        exposure="direct",
    )
    assert again.possible_duplicate_of == target


@pytest.mark.django_db
def test_the_retention_task_destroys_names_only_after_the_window(world):
    activation = open_two_agency_activation(world)
    services.activation_close(actor=world.a[Role.COORDINATOR], activation=activation)
    assert activation_names_retention_task() == 0
    Activation.objects.filter(pk=activation.pk).update(closed_at=timezone.now() - datetime.timedelta(days=400))
    assert activation_names_retention_task() == 1
    assert Activation.objects.get(pk=activation.pk).names_destroyed_at is not None


@pytest.mark.django_db
def test_the_timeline_is_append_only(world):
    event = world.activation.events.first()
    with pytest.raises(RuntimeError):
        event.save()
    with pytest.raises(RuntimeError):
        event.delete()


@pytest.mark.django_db
def test_a_called_out_supporter_sees_the_callout_on_their_home_page_until_they_answer(client, world):
    supporter = world.a[Role.PEER_SUPPORTER]
    client.force_login(supporter)
    home = client.get(agency_url(world.agency_a, "agency_home")).content.decode()
    assert "Answer the callout" in home and "Warehouse fire" in home
    client.post(f"/activations/{world.activation.uuid}/mine/", {"answer": "unavailable"})
    assert "Answer the callout" not in client.get(agency_url(world.agency_a, "agency_home")).content.decode()


@pytest.mark.django_db
def test_state_admin_opens_an_activation_for_any_lead_and_a_regional_coordinator_only_in_their_region(client, world):
    form = {
        "incident_type": "lodd",
        "name": "Network opened",
        "location": "Somewhere",
        "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "lead_agency": world.agency_b.pk,
    }
    client.force_login(world.state_admin)
    response = client.post("/network/activations/new/", form)
    assert response.status_code == 302
    assert Activation.objects.get(name="Network opened").lead_agency == world.agency_b
    client.force_login(world.regional_a)  # North region: agency A, not B
    page = client.post("/network/activations/new/", {**form, "name": "Regional try"}).content.decode()
    assert "This form was altered" in page  # the only lead on offer is in their region
    assert not Activation.objects.filter(name="Regional try").exists()


@pytest.mark.django_db
def test_a_supporter_who_declares_themself_a_witness_loses_their_open_assignments(client, world):
    client.force_login(world.a[Role.PEER_SUPPORTER])
    client.post(f"/activations/{world.activation.uuid}/mine/", {"answer": "available", "involved": "on"})
    target = OutreachTarget.objects.get(pk=world.target.pk)
    assert target.assigned_supporter is None and target.assigned_agency is None
    assert Kind.UNASSIGNED in kinds(world.activation)
    page = client.get(agency_url(world.agency_a, "encounter_new") + f"?outreach={world.target.uuid}").content.decode()
    assert "not yours" in page


@pytest.mark.django_db
def test_no_members_are_added_after_demobilizing(client, world):
    services.activation_demobilize(actor=world.a[Role.COORDINATOR], activation=world.activation)
    client.force_login(world.a[Role.COORDINATOR])
    page = client.post(
        f"/activations/{world.activation.uuid}/members/add/",
        {
            "home_agency": world.agency_a.pk,
            "exposure": "direct",
            "name": "Late Addition",
        },
    ).content.decode()
    assert "only while the activation is open" in page
    assert not OutreachTarget.objects.filter(activation=world.activation).exclude(pk=world.target.pk).exists()


@pytest.mark.django_db
def test_roles_are_encrypted_like_names(world):
    with connection.cursor() as cursor:
        cursor.execute("SELECT role FROM activations_outreachtarget WHERE id = %s", [world.target.pk])
        stored = cursor.fetchone()[0]
    assert stored.startswith("m1.") and "engineer" not in stored


@pytest.mark.django_db
def test_leadership_summary_suppresses_small_counts_and_their_complement(client, world):
    activation = open_two_agency_activation(world)
    targets = services.targets_add(
        actor=world.a[Role.COORDINATOR],
        activation=activation,
        home_agency=world.agency_a,
        entries=[(f"Person {n}", "") for n in range(8)],
        exposure="direct",
    )
    services.target_assign(
        actor=world.a[Role.COORDINATOR],
        target=targets[0],
        supporter=world.a[Role.PEER_SUPPORTER],
        expected_supporter_id=None,
    )
    services.outreach_update(actor=world.a[Role.PEER_SUPPORTER], target=targets[0], status="declined")
    services.activation_close(actor=world.a[Role.COORDINATOR], activation=activation)  # chiefs: after close
    client.force_login(world.a[Role.CHIEF])
    page = client.get(f"/activations/{activation.uuid}/summary/").content.decode()
    # 7 pending and 1 declined: the 1 is hidden, and with it the smallest other non-zero cell (the 7:
    # a zero protects nothing), so with the total of 8 each lies anywhere from 0 to 8.
    assert page.count("suppressed</td>") == 2
    assert "Declined</th><td>suppressed</td>" in page and "Pending</th><td>suppressed</td>" in page
    assert "Attempted</th><td>0</td>" in page
    client.force_login(world.a[Role.COORDINATOR])  # coordinators work with exact numbers
    page = client.get(f"/activations/{activation.uuid}/summary/").content.decode()
    assert "Declined</th><td>1</td>" in page and "suppressed</td>" not in page


def test_small_cell_suppression_never_leaves_a_single_hidden_cell():
    from network.suppression import suppress_mapping

    def suppress_small_cells(cells):
        return suppress_mapping(cells, 5)  # the network policy's default threshold

    assert suppress_small_cells({"a": 7, "b": 1, "c": 0}) == {"a": None, "b": None, "c": 0}  # zeros: no cover
    assert suppress_small_cells({"a": 2, "b": 3, "c": 9}) == {"a": None, "b": None, "c": 9}
    assert suppress_small_cells({"a": 6, "b": 5}) == {"a": 6, "b": 5}


@pytest.mark.django_db
def test_leadership_summary_follows_the_network_policy_threshold(client, world):
    from network import standards
    from network.models import Network

    activation = open_two_agency_activation(world)
    services.targets_add(
        actor=world.a[Role.COORDINATOR],
        activation=activation,
        home_agency=world.agency_a,
        entries=[(f"Person {n}", "") for n in range(7)],
        exposure="direct",
    )
    # Chiefs see the summary frozen at close, under the threshold of that moment.
    services.activation_close(actor=world.a[Role.COORDINATOR], activation=activation)
    later = open_two_agency_activation(world, name="Second incident")
    services.targets_add(
        actor=world.a[Role.COORDINATOR],
        activation=later,
        home_agency=world.agency_a,
        entries=[(f"Person {n}", "") for n in range(7)],
        exposure="direct",
    )
    client.force_login(world.a[Role.CHIEF])
    assert "Pending</th><td>7</td>" in client.get(f"/activations/{activation.uuid}/summary/").content.decode()
    standards.policy_update(
        actor=world.state_admin, network=Network.objects.get(pk=world.network_id), suppression_threshold=10
    )
    services.activation_close(actor=world.a[Role.COORDINATOR], activation=later)
    page = client.get(f"/activations/{later.uuid}/summary/").content.decode()
    assert "Pending</th><td>suppressed</td>" in page and "Counts from 1 to 9 are suppressed" in page
    assert "Pending</th><td>7</td>" in client.get(f"/activations/{activation.uuid}/summary/").content.decode()
