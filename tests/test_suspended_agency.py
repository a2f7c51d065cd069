"""A suspended agency is cut off from every activation at once: its people hold no rights (pages and
services), its supporters are neither called out nor assignable, the open assignments they held return
to the board with a timeline event naming no one, and reinstating restores rights but not assignments.
The URL-by-URL proof for every role is in tests/test_url_access_matrix.py."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from activations import selectors, services
from activations.models import ActivationEvent, CalloutResponse, OutreachTarget
from agencies import offboarding
from agencies.models import Role
from network.models import AuditEvent
from tests.support import agency_url, error_codes, open_activation, refused

pytestmark = pytest.mark.django_db

Kind = ActivationEvent.Kind


def _two_agency_activation(world, **overrides):
    """Led by A, joined by B (the world's agreement covers joint activation and cross-agency outreach)."""
    return open_activation(world, participating=[world.agency_b], **overrides)


def _add(world, activation, name, home_agency=None):
    (target,) = services.targets_add(
        actor=world.a[Role.COORDINATOR],
        activation=activation,
        home_agency=home_agency or world.agency_a,
        entries=[(name, "")],
        exposure="direct",
    )
    return target


def _assign(world, target, supporter):
    return services.target_assign(
        actor=world.a[Role.COORDINATOR], target=target, supporter=supporter, expected_supporter_id=None
    )


def _suspend(world, agency):
    offboarding.agency_suspend(actor=world.state_admin, agency=agency)
    agency.refresh_from_db()


# --- Rights: the services refuse, not only the pages -----------------------------------------------------


@pytest.mark.parametrize("suspended", ["joined", "lead"])
def test_every_activation_service_refuses_a_suspended_agencys_coordinator(world, suspended):
    activation = _two_agency_activation(world)
    target = _add(world, activation, "Pat Doe")
    agency, staff = (world.agency_b, world.b) if suspended == "joined" else (world.agency_a, world.a)
    coordinator = staff[Role.COORDINATOR]
    _suspend(world, agency)
    other_supporter = (world.a if suspended == "joined" else world.b)[Role.PEER_SUPPORTER]
    attempts = {
        "add members": lambda: services.targets_add(
            actor=coordinator,
            activation=activation,
            home_agency=world.agency_a if suspended == "joined" else world.agency_b,
            entries=[("Sam Roe", "")],
            exposure="direct",
        ),
        "assign": lambda: services.target_assign(
            actor=coordinator, target=target, supporter=other_supporter, expected_supporter_id=None
        ),
        "call out": lambda: services.callout_send(actor=coordinator, activation=activation),
        "update outreach": lambda: services.outreach_update(actor=coordinator, target=target, status="attempted"),
        "demobilize": lambda: services.activation_demobilize(actor=coordinator, activation=activation),
        "close": lambda: services.activation_close(actor=coordinator, activation=activation),
    }
    let_through = []
    for name, attempt in attempts.items():
        try:
            attempt()
        except ValidationError as error:
            assert "no_rights" in error_codes(error), f"{name}: refused for another reason: {error.messages}"
        else:
            let_through.append(name)
    assert not let_through, f"a suspended agency's coordinator could still: {let_through}"
    activation.refresh_from_db()
    assert activation.status == activation.Status.OPEN


def test_a_suspended_agencys_supporter_cannot_answer_the_callout(world):
    activation = _two_agency_activation(world)
    services.callout_send(actor=world.a[Role.COORDINATOR], activation=activation)
    _suspend(world, world.agency_b)
    with refused("no_rights"):
        services.callout_answer(
            supporter=world.b[Role.PEER_SUPPORTER], activation=activation, answer="available", involved=False
        )


def test_rights_follow_each_membership_a_person_in_two_agencies_keeps_only_the_active_ones(client, world):
    """The two-agency user supports in A and coordinates in B: with B suspended the board (B's
    coordination) closes, their own assignments page (A's support) stays open."""
    activation = _two_agency_activation(world)
    person = world.two_agency_user
    client.force_login(person)
    assert client.get(f"/activations/{activation.uuid}/board/").status_code == 200
    _suspend(world, world.agency_b)
    assert client.get(f"/activations/{activation.uuid}/board/").status_code == 404
    assert client.get(f"/activations/{activation.uuid}/mine/").status_code == 200


# --- Callout, assignment candidates and lists skip the suspended agency ---------------------------------


def test_callout_skips_a_suspended_agencys_supporters(world):
    activation = _two_agency_activation(world)
    _suspend(world, world.agency_b)
    services.callout_send(actor=world.a[Role.COORDINATOR], activation=activation)
    called = set(CalloutResponse.objects.filter(activation=activation).values_list("agency_id", flat=True))
    assert called == {world.agency_a.pk}


def test_assignment_candidates_skip_a_suspended_agency_also_across_agencies(world):
    activation = _two_agency_activation(world)
    target = _add(world, activation, "Pat Doe")  # an A member: B's supporters reach them cross-agency
    candidates = {p["user"].pk for p in selectors.assignable_supporters(activation, target)}
    assert world.b[Role.PEER_SUPPORTER].pk in candidates  # the agreement allows it while B is active
    _suspend(world, world.agency_b)
    agencies = {p["agency"].pk for p in selectors.assignable_supporters(activation, target)}
    assert agencies == {world.agency_a.pk}
    with refused("not_a_participating_supporter"):
        _assign(world, target, world.b[Role.PEER_SUPPORTER])


def test_no_affected_members_are_added_for_a_suspended_home_agency(world):
    activation = _two_agency_activation(world)
    _suspend(world, world.agency_b)
    with refused("home_agency_not_participating"):
        _add(world, activation, "Sam Roe", home_agency=world.agency_b)


def test_activation_lists_skip_activations_reached_only_through_a_suspended_agency(client, world):
    activation = _two_agency_activation(world)
    chief = type(world.b[Role.CHIEF]).objects.get(pk=world.b[Role.CHIEF].pk)  # not another test's stale copy
    assert activation in selectors.activations_for_user(chief)
    _suspend(world, world.agency_b)
    assert activation not in selectors.activations_for_user(chief)
    client.force_login(world.b[Role.COORDINATOR])
    assert activation.name not in client.get("/activations/").content.decode()


def test_the_network_directory_skips_a_suspended_agency(client, world):
    """Guard only: the directory already listed active agencies only before this change."""
    client.force_login(world.a[Role.COORDINATOR])
    url = agency_url(world.agency_a, "agency_directory")
    assert world.b[Role.PEER_SUPPORTER].email in client.get(url).content.decode()
    _suspend(world, world.agency_b)
    assert world.b[Role.PEER_SUPPORTER].email not in client.get(url).content.decode()


# --- Open assignments return to the board ---------------------------------------------------------------


def test_suspension_returns_open_assignments_in_every_open_activation_with_an_event_naming_no_one(world):
    first, second = _two_agency_activation(world), _two_agency_activation(world, name="Second incident")
    supporter = world.b[Role.PEER_SUPPORTER]
    open_one = _assign(world, _add(world, first, "Pat Doe"), supporter)
    open_two = _assign(world, _add(world, second, "Lee Moe"), supporter)
    finished = _assign(world, _add(world, first, "Kim Poe"), supporter)
    services.outreach_update(actor=supporter, target=finished, status="declined")
    kept = _assign(world, _add(world, first, "Ash Yoe"), world.a[Role.PEER_SUPPORTER])

    _suspend(world, world.agency_b)

    for target in (open_one, open_two):
        target.refresh_from_db()
        assert (target.assigned_supporter_id, target.assigned_agency_id, target.assigned_at) == (None, None, None)
        event = ActivationEvent.objects.get(target=target, kind=Kind.ASSIGNMENT_RETURNED)
        assert event.actor_id is None and event.agency_id == world.agency_b.pk
        assert event.detail == "agency-suspended"
        assert supporter.full_name not in event.detail and "Doe" not in event.detail
    finished.refresh_from_db()
    kept.refresh_from_db()
    assert finished.assigned_supporter_id == supporter.pk  # finished outreach keeps its record
    assert kept.assigned_supporter_id == world.a[Role.PEER_SUPPORTER].pk  # other agencies untouched
    returned = AuditEvent.objects.filter(action="activation.assignment_returned", agency=world.agency_b)
    assert set(returned.values_list("object_id", flat=True)) == {str(open_one.pk), str(open_two.pk)}


def test_suspension_and_its_returned_assignments_are_one_transaction(world, monkeypatch):
    activation = _two_agency_activation(world)
    target = _assign(world, _add(world, activation, "Pat Doe"), world.b[Role.PEER_SUPPORTER])

    def fail(*args, **kwargs):
        raise RuntimeError("timeline write failed")

    monkeypatch.setattr(services, "_event", fail)
    with pytest.raises(RuntimeError):
        offboarding.agency_suspend(actor=world.state_admin, agency=world.agency_b)
    world.agency_b.refresh_from_db()
    target.refresh_from_db()
    assert world.agency_b.is_active and target.assigned_supporter_id == world.b[Role.PEER_SUPPORTER].pk


def test_reinstating_restores_rights_but_not_the_returned_assignments(client, world):
    activation = _two_agency_activation(world)
    supporter = world.b[Role.PEER_SUPPORTER]
    target = _assign(world, _add(world, activation, "Pat Doe"), supporter)
    _suspend(world, world.agency_b)
    offboarding.agency_reinstate(actor=world.state_admin, agency=world.agency_b)

    target.refresh_from_db()
    assert target.assigned_supporter_id is None
    assert not OutreachTarget.objects.filter(activation=activation, assigned_supporter=supporter).exists()
    client.force_login(world.b[Role.COORDINATOR])
    assert client.get(f"/activations/{activation.uuid}/board/").status_code == 200
    assert supporter.pk in {p["user"].pk for p in selectors.assignable_supporters(activation, target)}


def test_a_suspended_agencys_chief_loses_the_summary_of_a_closed_activation(client, world):
    """Chiefs see an activation's summary only once it is closed; suspension takes even that away."""
    activation = _two_agency_activation(world)
    services.activation_close(actor=world.a[Role.COORDINATOR], activation=activation)
    chief = type(world.b[Role.CHIEF]).objects.get(pk=world.b[Role.CHIEF].pk)  # not another test's stale copy
    client.force_login(chief)
    summary = f"/activations/{activation.uuid}/summary/"
    assert client.get(summary).status_code == 200
    _suspend(world, world.agency_b)
    assert client.get(summary).status_code == 404
