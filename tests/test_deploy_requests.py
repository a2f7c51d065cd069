"""Regional deployment, first half (issue 19): the request, the agencies' offers, the requester's decision, the
supporter's confirmation, and what a deployed supporter (and their home agency) may see."""

from __future__ import annotations

import datetime
import threading
import uuid
from unittest import mock

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connections
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import tenant_context

from activations import deploy_requests, deploy_site, selectors
from activations import services as activation_services
from activations.models import ActivationEvent, DeployedSupporter, Deployment, DeploymentOffer, OutreachTarget
from agencies import services as agency_services
from agencies.models import Membership, Role
from agencies.roster import services as roster_services
from governance import services as governance_services
from network import services as network_services
from network.audit import AuditAction
from network.models import AuditEvent, Network, NetworkRole
from tests.support import (
    WORLD_MEMBER,
    agency_url,
    encounter_form_data,
    error_codes,
    make_agency,
    make_ready,
    make_user,
    open_activation,
    refused,
    signed_pdf,
)

Kind = ActivationEvent.Kind
Person = DeployedSupporter.Status
TODAY = timezone.localdate


def _request(world, activation=None, **overrides) -> Deployment:
    arguments = dict(
        actor=world.a[Role.COORDINATOR],
        activation=activation or world.activation,
        supporters_wanted=4,
        starts_on=TODAY(),
        ends_on=TODAY() + datetime.timedelta(days=2),
        reporting_location="Riverside station 3",
    )
    arguments.update(overrides)
    return deploy_requests.deployment_request(**arguments)


def _membership(world, agency, user) -> Membership:
    return Membership.objects.get(agency=agency, user=user)


def _offer(world, deployment, *users, agency=None, actor=None):
    agency = agency or world.agency_b
    memberships = [_membership(world, agency, user) for user in users]
    return deploy_requests.offer_make(
        actor=actor or world.b[Role.COORDINATOR], deployment=deployment, agency=agency, memberships=memberships
    )


def _deployed(world, *, confirm=True):
    """A deployment of the world's activation with B's peer supporter accepted (and confirmed)."""
    deployment = _request(world)
    offer = _offer(world, deployment, world.b[Role.PEER_SUPPORTER])
    deploy_requests.offer_decide(actor=world.a[Role.COORDINATOR], offer=offer, accept=True)
    person = DeployedSupporter.objects.get(offer=offer)
    if confirm:
        person = deploy_requests.deployment_answer(actor=world.b[Role.PEER_SUPPORTER], person=person, going=True)
    return deployment, person


def _url(name, deployment, **kwargs):
    return reverse(
        name, kwargs={"activation_uuid": deployment.activation.uuid, "deployment_uuid": deployment.uuid, **kwargs}
    )


# --- 1. The request ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_lead_coordinator_the_regional_coordinator_and_the_state_admin_may_request(world):
    for actor in (world.a[Role.COORDINATOR], world.regional_a, world.state_admin):
        assert deploy_requests.may_request_deployment(actor, world.activation)
        deployment = _request(world, actor=actor)
        assert deployment.asked_agency_ids == [world.agency_b.pk]  # the lead itself is never asked
        assert deployment.requested_by == actor


@pytest.mark.django_db
def test_a_coordinator_of_another_participating_agency_may_not_request(world):
    activation_services.activation_add_agency(
        actor=world.a[Role.COORDINATOR], activation=world.activation, agency=world.agency_b
    )
    assert not deploy_requests.may_request_deployment(world.b[Role.COORDINATOR], world.activation)
    with refused("not_a_requester"):
        _request(world, actor=world.b[Role.COORDINATOR])
    with refused("not_a_requester"):
        _request(world, actor=world.a[Role.PEER_SUPPORTER])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "overrides, code",
    [
        ({"starts_on": TODAY() - datetime.timedelta(days=1)}, "starts_in_past"),
        ({"ends_on": TODAY() - datetime.timedelta(days=1)}, "ends_before_start"),
        ({"ends_on": TODAY() + datetime.timedelta(days=30)}, "too_long"),
        ({"supporters_wanted": 0}, "wanted_out_of_range"),
        ({"disciplines": ["astronaut"]}, "bad_discipline"),
    ],
)
def test_a_request_out_of_bounds_is_refused(world, overrides, code):
    with refused(code):
        _request(world, **overrides)


@pytest.mark.django_db
def test_thirty_days_is_the_longest_request(world):
    assert _request(world, ends_on=TODAY() + datetime.timedelta(days=29)).ends_on == TODAY() + datetime.timedelta(29)


@pytest.mark.django_db
def test_a_request_of_a_closed_activation_or_with_no_agency_to_ask_is_refused(world):
    with mock.patch("activations.deploy_requests.agencies_covered_with", return_value=[world.agency_a.pk]):
        with refused("no_agency_to_ask") as caught:
            _request(world)
    assert "no one to ask" in " ".join(caught.value.messages)
    activation_services.activation_demobilize(actor=world.a[Role.COORDINATOR], activation=world.activation)
    world.activation.refresh_from_db()
    with refused("closed"):
        _request(world)


@pytest.mark.django_db
def test_the_request_copies_the_protocols_rotation_limits(world):
    protocol = governance_services.protocol_save(
        actor=world.state_admin,
        network=world.activation.network,
        incident_type="mci",
        name="Mass casualty",
        steps=[],
        follow_up_days=[],
    )
    type(protocol).objects.filter(pk=protocol.pk).update(
        deployment_shift_hours=8, deployment_rest_hours=16, deployment_max_days_in_row=5
    )
    activation = open_activation(world)
    deployment = _request(world, activation=activation)
    assert (deployment.shift_hours, deployment.rest_hours, deployment.max_days_in_row) == (8, 16, 5)
    plain = _request(world)  # no protocol: the defaults
    assert (plain.shift_hours, plain.rest_hours, plain.max_days_in_row) == (12, 12, 7)


@pytest.mark.django_db
def test_the_asked_agencys_coordinators_are_told_without_a_member_name(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        deployment = _request(world, disciplines=["law"], languages=["Spanish"], cism_trained=True)
    (message,) = mail.outbox
    assert set(message.to) == {world.b[Role.COORDINATOR].email, world.two_agency_user.email}
    link = agency_url(world.agency_b, "agency_deployment_requests")
    assert link in message.body and "Warehouse fire" in message.body and "Riverside station 3" in message.body
    assert "Supporters wanted: 4" in message.body and WORLD_MEMBER not in message.body
    event = world.activation.events.get(kind=Kind.DEPLOYMENT_REQUESTED)
    assert event.deployment == deployment and event.detail == "4"
    assert deployment.disciplines == ["law"] and deployment.languages == ["Spanish"] and deployment.cism_trained


@pytest.mark.django_db
def test_the_request_page_for_the_lead_and_the_board_link(client, world):
    client.force_login(world.a[Role.COORDINATOR])
    board = client.get(reverse("activation_board", kwargs={"activation_uuid": world.activation.uuid}))
    new = reverse("deployment_new", kwargs={"activation_uuid": world.activation.uuid})
    assert new in board.content.decode()
    response = client.post(
        new,
        {
            "supporters_wanted": "4",
            "starts_on": TODAY().isoformat(),
            "ends_on": (TODAY() + datetime.timedelta(days=2)).isoformat(),
            "reporting_location": "Family assistance centre",
            "disciplines": ["fire", "ems"],
            "languages": "Spanish, Tagalog",
        },
    )
    deployment = Deployment.objects.get(activation=world.activation, reporting_location="Family assistance centre")
    assert response.status_code == 302 and response["Location"] == _url("deployment_detail", deployment)
    assert deployment.languages == ["Spanish", "Tagalog"] and deployment.disciplines == ["ems", "fire"]
    board = client.get(reverse("activation_board", kwargs={"activation_uuid": world.activation.uuid})).content
    assert _url("deployment_detail", deployment) in board.decode() and "Family assistance centre" in board.decode()
    refused_page = client.post(
        new, {"supporters_wanted": "4", "starts_on": "2020-01-01", "ends_on": "2020-01-02", "reporting_location": "X"}
    )
    assert refused_page.status_code == 200 and "cannot start in the past" in refused_page.content.decode()


@pytest.mark.django_db
def test_the_request_page_is_404_for_a_participating_agencys_coordinator(client, world):
    activation_services.activation_add_agency(
        actor=world.a[Role.COORDINATOR], activation=world.activation, agency=world.agency_b
    )
    client.force_login(world.b[Role.COORDINATOR])
    board = client.get(reverse("activation_board", kwargs={"activation_uuid": world.activation.uuid}))
    assert board.status_code == 200 and "Request a deployment" not in board.content.decode()
    assert client.get(reverse("deployment_new", kwargs={"activation_uuid": world.activation.uuid})).status_code == 404


# --- 2. The deployment page ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_requester_sees_the_request_the_asked_agencies_and_each_offer_with_its_people(client, world):
    deployment = _request(world)
    _offer(world, deployment, world.b[Role.PEER_SUPPORTER], world.two_agency_user)
    client.force_login(world.a[Role.COORDINATOR])
    page = client.get(_url("deployment_detail", deployment)).content.decode()
    assert 'class="deployment-tabs"' in page
    assert "Bravo Police (offered)" in page and "Riverside station 3" in page
    assert world.b[Role.PEER_SUPPORTER].get_full_name() in page and world.two_agency_user.get_full_name() in page
    assert "Law enforcement" in page and "ready" in page and 'value="accept"' in page
    assert ">4</span> wanted" in page and ">4</span> places left" in page


@pytest.mark.django_db
def test_a_deployed_supporter_sees_their_own_place_and_nothing_of_the_others(client, world):
    deployment, person = _deployed(world, confirm=False)
    other = _request(world, reporting_location="Another site")
    client.force_login(world.b[Role.PEER_SUPPORTER])
    page = client.get(_url("deployment_detail", deployment)).content.decode()
    assert "Riverside station 3" in page and "Accepted, waiting for the supporter to confirm" in page
    assert _url("deployment_confirm", deployment) in page
    assert (
        "Offers" not in page and "deployment-tabs" not in page and world.b[Role.COORDINATOR].get_full_name() not in page
    )
    assert client.get(_url("deployment_detail", other)).status_code == 404


# --- 3. The offer ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_agency_page_lists_the_requests_asked_of_it_with_unready_supporters_disabled(client, world):
    deployment = _request(world, disciplines=["law"])
    b_supporter = _membership(world, world.agency_b, world.b[Role.PEER_SUPPORTER])
    roster_services.profile_update(actor=world.state_admin, membership=b_supporter, availability="unavailable")
    client.force_login(world.b[Role.COORDINATOR])
    page = client.get(agency_url(world.agency_b, "agency_deployment_requests")).content.decode()
    assert "Warehouse fire" in page and "serves Law enforcement" in page
    coordinator = _membership(world, world.agency_b, world.b[Role.COORDINATOR])
    assert f'value="{coordinator.pk}">' in page  # ready: a box to tick
    assert f'value="{b_supporter.pk}" disabled' in page and "cannot be offered: unavailable" in page
    # Agency A is the lead: it is not asked, and posting its deployment there answers 404.
    client.force_login(world.a[Role.COORDINATOR])
    a_page = client.get(agency_url(world.agency_a, "agency_deployment_requests")).content.decode()
    assert "No open deployment request" in a_page
    response = client.post(
        agency_url(world.agency_a, "agency_deployment_requests"),
        {"deployment": str(deployment.uuid), "supporters": [str(coordinator.pk)]},
    )
    assert response.status_code == 404


@pytest.mark.django_db
def test_skills_involvement_and_a_held_place_block_an_offer(world):
    deployment = _request(world, cism_trained=True, languages=["Spanish"])
    rows = {r["user"]: r["blocked"] for r in deploy_requests.offer_candidates(deployment, world.agency_b)}
    assert rows[world.b[Role.PEER_SUPPORTER]] == "does not speak Spanish"
    b_supporter = _membership(world, world.agency_b, world.b[Role.PEER_SUPPORTER])
    roster_services.profile_update(actor=world.state_admin, membership=b_supporter, languages=["spanish"])
    rows = {r["user"]: r["blocked"] for r in deploy_requests.offer_candidates(deployment, world.agency_b)}
    assert rows[world.b[Role.PEER_SUPPORTER]] == "no current CISM certification"
    roster_services.certification_add(
        actor=world.state_admin,
        membership=b_supporter,
        kind="cism-individual",
        certified_on=TODAY() - datetime.timedelta(days=10),
        expires_on=TODAY() + datetime.timedelta(days=300),
    )
    rows = {r["user"]: r for r in deploy_requests.offer_candidates(deployment, world.agency_b)}
    assert rows[world.b[Role.PEER_SUPPORTER]]["blocked"] == "" and rows[world.b[Role.PEER_SUPPORTER]]["cism"]
    # Called out as involved in the incident: not offered.
    activation_services.activation_add_agency(
        actor=world.a[Role.COORDINATOR], activation=world.activation, agency=world.agency_b
    )
    activation_services.callout_send(actor=world.a[Role.COORDINATOR], activation=world.activation)
    activation_services.callout_answer(
        supporter=world.b[Role.PEER_SUPPORTER], activation=world.activation, answer="unavailable", involved=True
    )
    rows = {r["user"]: r["blocked"] for r in deploy_requests.offer_candidates(deployment, world.agency_b)}
    assert rows[world.b[Role.PEER_SUPPORTER]] == "witness or party to the incident"
    with refused("supporter_not_ready"):
        _offer(world, deployment, world.b[Role.PEER_SUPPORTER])


@pytest.mark.django_db
def test_an_offer_creates_the_places_tells_the_requester_and_one_open_offer_per_agency(
    client, world, django_capture_on_commit_callbacks
):
    deployment = _request(world)
    client.force_login(world.b[Role.COORDINATOR])
    supporter = _membership(world, world.agency_b, world.b[Role.PEER_SUPPORTER])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            agency_url(world.agency_b, "agency_deployment_requests"),
            {"deployment": str(deployment.uuid), "supporters": [str(supporter.pk)], "action": "offer"},
        )
    assert response.status_code == 302
    (person,) = DeployedSupporter.objects.filter(deployment=deployment)
    assert person.status == Person.OFFERED and person.home_agency == world.agency_b
    (message,) = mail.outbox
    assert message.to == [world.a[Role.COORDINATOR].email] and "Bravo Police offered 1 supporter" in message.subject
    assert _url("deployment_detail", deployment) in message.body
    assert world.activation.events.get(kind=Kind.DEPLOYMENT_OFFERED).agency == world.agency_b
    with refused("offer_open"):
        _offer(world, deployment, world.b[Role.COORDINATOR])
    page = client.get(agency_url(world.agency_b, "agency_deployment_requests")).content.decode()
    assert "is waiting for the requester" in page and 'value="withdraw"' in page
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            agency_url(world.agency_b, "agency_deployment_requests"),
            {"deployment": str(deployment.uuid), "action": "withdraw"},
        )
    person.refresh_from_db()
    assert person.status == Person.NOT_TAKEN
    withdrawn = DeploymentOffer.objects.get(deployment=deployment)
    assert withdrawn.status == DeploymentOffer.Status.WITHDRAWN
    # The withdrawal is in the activity log and the audit trail as what it is, and the requester is told.
    event = world.activation.events.get(kind=Kind.OFFER_WITHDRAWN)
    assert (event.agency, event.actor, event.detail) == (world.agency_b, world.b[Role.COORDINATOR], "1")
    assert AuditEvent.objects.filter(
        action=AuditAction.DEPLOYMENT_OFFER_WITHDRAWN, object_id=str(withdrawn.pk)
    ).exists()
    (message,) = mail.outbox
    assert message.to == [world.a[Role.COORDINATOR].email] and "Bravo Police withdrew its offer" in message.subject
    assert _offer(world, deployment, world.b[Role.PEER_SUPPORTER]).status == DeploymentOffer.Status.OFFERED


@pytest.mark.django_db
def test_only_the_agencys_own_coordinator_offers_its_own_supporters(world):
    deployment = _request(world)
    with refused("not_a_coordinator"):
        _offer(world, deployment, world.b[Role.PEER_SUPPORTER], actor=world.b[Role.PEER_SUPPORTER])
    with refused("not_a_supporter"):
        deploy_requests.offer_make(
            actor=world.b[Role.COORDINATOR],
            deployment=deployment,
            agency=world.agency_b,
            memberships=[_membership(world, world.agency_a, world.a[Role.PEER_SUPPORTER])],
        )
    with refused("nobody_offered"):
        _offer(world, deployment)


@pytest.mark.django_db
def test_hostile_offer_posts_answer_without_a_server_error(world):
    from django.test import Client

    deployment = _request(world)
    client = Client(raise_request_exception=False)
    client.force_login(world.b[Role.COORDINATOR])
    url = agency_url(world.agency_b, "agency_deployment_requests")
    for data in (
        {},
        {"deployment": "not-a-uuid"},
        {"deployment": str(deployment.uuid)},
        {"deployment": str(deployment.uuid), "supporters": ["²", "\x00", "-1", "99999999999999999999"]},
        {"deployment": str(deployment.uuid), "supporters": "1e309", "action": "offer"},
        {"deployment": str(deployment.uuid), "action": "withdraw"},
        {"deployment": ["\x00", str(deployment.uuid)]},
    ):
        assert client.post(url, data).status_code in (302, 404), data


@pytest.mark.django_db
def test_the_confirm_and_deployment_pages_answer_hostile_path_values_without_a_server_error(world):
    from django.test import Client

    deployment, _person = _deployed(world, confirm=False)
    client = Client(raise_request_exception=False)
    client.force_login(world.b[Role.PEER_SUPPORTER])
    good = {"activation_uuid": str(world.activation.uuid), "deployment_uuid": str(deployment.uuid)}
    for name in ("deployment_confirm", "deployment_detail"):
        assert client.get(reverse(name, kwargs=good)).status_code == 200
        for key in good:
            for value in ("00000000-0000-0000-0000-000000000000", str(world.target.uuid), str(uuid.uuid4())):
                response = client.get(reverse(name, kwargs={**good, key: value}))
                assert response.status_code == 404, (name, key, value)
        for data in ({"going": "\x00"}, {"going": ["maybe", "\x00"]}, {"going": "²"}, {}):
            assert client.post(reverse(name, kwargs=good), data).status_code in (200, 302, 404), (name, data)


# --- 4. Accept or decline ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_accepting_asks_each_supporter_to_confirm_and_makes_the_deployment_active(
    client, world, django_capture_on_commit_callbacks
):
    deployment = _request(world)
    offer = _offer(world, deployment, world.b[Role.PEER_SUPPORTER], world.two_agency_user)
    client.force_login(world.a[Role.COORDINATOR])
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_url("deployment_detail", deployment), {"offer": offer.pk, "decision": "accept"})
    assert response.status_code == 302
    deployment.refresh_from_db()
    assert deployment.status == Deployment.Status.ACTIVE
    assert set(DeployedSupporter.objects.filter(offer=offer).values_list("status", flat=True)) == {Person.ACCEPTED}
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [world.b[Role.PEER_SUPPORTER].email, world.two_agency_user.email]
    )
    assert all(_url("deployment_confirm", deployment) in m.body and WORLD_MEMBER not in m.body for m in mail.outbox)
    assert world.activation.events.get(kind=Kind.OFFER_ACCEPTED).detail == "2"
    # The board's deployment list says who still has to confirm, not only who was accepted.
    board = client.get(reverse("activation_board", kwargs={"activation_uuid": world.activation.uuid})).content.decode()
    assert f"{deployment.supporters_wanted} wanted · 0 confirmed · 2 accepted, to confirm" in board
    with refused("decided"):
        deploy_requests.offer_decide(actor=world.a[Role.COORDINATOR], offer=offer, accept=False)


@pytest.mark.django_db
def test_accepting_more_than_the_places_left_is_refused_with_how_many_are_left(world):
    deployment = _request(world, supporters_wanted=1)
    offer = _offer(world, deployment, world.b[Role.PEER_SUPPORTER], world.two_agency_user)
    with refused("too_many") as caught:
        deploy_requests.offer_decide(actor=world.a[Role.COORDINATOR], offer=offer, accept=True)
    assert "1 place is left" in " ".join(caught.value.messages)
    declined = deploy_requests.offer_decide(actor=world.a[Role.COORDINATOR], offer=offer, accept=False)
    assert declined.status == DeploymentOffer.Status.DECLINED
    assert set(DeployedSupporter.objects.filter(offer=offer).values_list("status", flat=True)) == {Person.NOT_TAKEN}
    assert world.activation.events.filter(kind=Kind.OFFER_DECLINED).count() == 1


@pytest.mark.django_db
def test_only_a_requester_decides(world):
    deployment = _request(world)
    offer = _offer(world, deployment, world.b[Role.PEER_SUPPORTER])
    activation_services.activation_add_agency(
        actor=world.a[Role.COORDINATOR], activation=world.activation, agency=world.agency_b
    )
    with refused("not_a_requester"):
        deploy_requests.offer_decide(actor=world.b[Role.COORDINATOR], offer=offer, accept=True)


@pytest.fixture
def provider(settings):
    from tests.phone_provider import FakeProvider

    fake = FakeProvider().start()
    for name, value in fake.settings().items():
        setattr(settings, name, value)
    yield fake
    fake.stop()


@pytest.mark.django_db
def test_an_accepted_supporter_with_a_confirmed_mobile_gets_a_neutral_text(world, provider):
    from network.models import OutboxMessage, PhoneMessage
    from tests.test_callout_phone import confirmed_number

    confirmed_number(world.b[Role.PEER_SUPPORTER], "+12025550188", provider)
    deployment = _request(world)
    offer = _offer(world, deployment, world.b[Role.PEER_SUPPORTER], world.two_agency_user)
    deploy_requests.offer_decide(actor=world.a[Role.COORDINATOR], offer=offer, accept=True)
    person = DeployedSupporter.objects.get(offer=offer, supporter=world.b[Role.PEER_SUPPORTER])
    (task,) = OutboxMessage.objects.filter(task="activations.tasks.deployment_confirm_text_task")
    assert task.args == [person.pk]  # only the one with a number; ids only
    assert deploy_requests.deployment_confirm_text_send(person_id=person.pk) == "texted"
    text = PhoneMessage.objects.get(purpose="deployment", ref_id=person.pk)
    (sent,) = provider.texts("+12025550188")[-1:]
    body = sent.form["Body"]
    assert body == deploy_requests.confirm_text(deployment) and _url("deployment_confirm", deployment) in body
    assert "Warehouse" not in body and "Riverside" not in body and WORLD_MEMBER not in body and text.pk
    # Answered meanwhile: the text step does nothing.
    deploy_requests.deployment_answer(actor=world.b[Role.PEER_SUPPORTER], person=person, going=True)
    assert deploy_requests.deployment_confirm_text_send(person_id=person.pk) == "skipped"


@pytest.mark.django_db
def test_in_the_supporters_quiet_hours_the_confirmation_text_waits_until_they_end(world, provider):
    from network.models import OutboxMessage
    from tests.test_callout_phone import confirmed_number, quiet_around_now

    supporter = world.b[Role.PEER_SUPPORTER]
    confirmed_number(supporter, "+12025550188", provider)
    end = quiet_around_now(supporter)
    deployment = _request(world)
    offer = _offer(world, deployment, supporter, world.two_agency_user)
    deploy_requests.offer_decide(actor=world.a[Role.COORDINATOR], offer=offer, accept=True)
    (task,) = OutboxMessage.objects.filter(task="activations.tasks.deployment_confirm_text_task")
    assert task.eta > timezone.now() and timezone.localtime(task.eta).time() == end


# --- 5. The supporter's answer --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_supporter_confirms_on_the_phone_page_and_a_double_tap_changes_nothing(client, world):
    deployment, person = _deployed(world, confirm=False)
    client.force_login(world.b[Role.PEER_SUPPORTER])
    # They find it on the activation list, and the activation's own link leads to the answer.
    assert _url("deployment_confirm", deployment) in client.get(reverse("activation_list")).content.decode()
    home = client.get(reverse("activation_home", kwargs={"activation_uuid": world.activation.uuid}))
    assert home["Location"] == _url("deployment_confirm", deployment)
    page = client.get(_url("deployment_confirm", deployment)).content.decode()
    assert "I'll go" in page and "I can't go" in page
    for _ in range(2):
        assert client.post(_url("deployment_confirm", deployment), {"going": "yes"}).status_code == 302
    person.refresh_from_db()
    assert person.status == Person.CONFIRMED and person.confirmed_via == "web" and person.confirmed_at
    assert world.activation.events.filter(kind=Kind.DEPLOYMENT_CONFIRMED).count() == 1
    # Someone else's place: 404.
    client.force_login(world.two_agency_user)
    assert client.get(_url("deployment_confirm", deployment)).status_code == 404


@pytest.mark.django_db
def test_a_decline_frees_the_place_and_tells_the_requester(client, world, django_capture_on_commit_callbacks):
    deployment, person = _deployed(world, confirm=False)
    client.force_login(world.b[Role.PEER_SUPPORTER])
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(_url("deployment_confirm", deployment), {"going": "no"}).status_code == 302
    person.refresh_from_db()
    assert person.status == Person.DECLINED
    (message,) = mail.outbox
    assert message.to == [world.a[Role.COORDINATOR].email] and "cannot go" in message.subject
    assert world.b[Role.PEER_SUPPORTER].get_full_name() not in message.body
    assert world.activation.events.get(kind=Kind.DEPLOYMENT_DECLINED).deployment == deployment
    assert deploy_requests.deployment_answer(actor=world.b[Role.PEER_SUPPORTER], person=person, going=False) == person
    assert client.get(_url("deployment_confirm", deployment)).status_code == 404


# --- 6. What a deployed supporter may see, and their home agency --------------------------------------------------


def _assign_deployed(world):
    deployment, person = _deployed(world)
    (target,) = activation_services.targets_add(
        actor=world.a[Role.COORDINATOR],
        activation=world.activation,
        home_agency=world.agency_a,
        entries=[("Casey Deployed-Case", "medic")],
        exposure="direct",
    )
    return deployment, person, target


@pytest.mark.django_db
def test_a_confirmed_deployed_supporter_is_assignable_flagged_and_the_assignment_marked(world):
    deployment, person, target = _assign_deployed(world)
    rows = [r for r in selectors.assignable_supporters(world.activation, target) if r["user"] == person.supporter]
    (row,) = rows
    assert row["answer"] == "deployed (Bravo Police)" and row["blocked"] == "" and row["deployment_id"] == deployment.pk
    assigned = activation_services.target_assign(
        actor=world.a[Role.COORDINATOR], target=target, supporter=person.supporter, expected_supporter_id=None
    )
    assert assigned.assigned_agency == world.agency_b and assigned.via_deployment == deployment
    # Reassigned to a supporter of the lead: the mark is cleared.
    again = activation_services.target_assign(
        actor=world.a[Role.COORDINATOR],
        target=assigned,
        supporter=world.a[Role.PEER_SUPPORTER],
        expected_supporter_id=person.supporter.pk,
    )
    assert again.via_deployment is None


@pytest.mark.django_db
def test_a_supporter_who_drops_out_after_confirming_gives_their_members_back_to_the_board(world):
    deployment, person, target = _assign_deployed(world)
    activation_services.target_assign(
        actor=world.a[Role.COORDINATOR], target=target, supporter=person.supporter, expected_supporter_id=None
    )
    deploy_requests.deployment_answer(actor=person.supporter, person=person, going=False)
    target.refresh_from_db()
    assert target.assigned_supporter is None and target.via_deployment is None
    event = world.activation.events.get(kind=Kind.ASSIGNMENT_RETURNED, target=target)
    assert event.deployment == deployment and event.detail == "deployment-declined"
    assert person.supporter not in {r["user"] for r in selectors.assignable_supporters(world.activation, target)}


@pytest.mark.django_db
def test_an_accepted_but_unconfirmed_supporter_is_not_assignable(world):
    _deployment, person = _deployed(world, confirm=False)
    assert person.supporter not in {r["user"] for r in selectors.assignable_supporters(world.activation)}


@pytest.mark.django_db
def test_a_deployed_supporter_reaches_their_assignments_and_logs_the_contact_at_home_and_nothing_more(client, world):
    deployment, person, target = _assign_deployed(world)
    activation_services.target_assign(
        actor=world.a[Role.COORDINATOR], target=target, supporter=person.supporter, expected_supporter_id=None
    )
    other = _request(world, reporting_location="Second site")
    client.force_login(person.supporter)
    uuid_kw = {"activation_uuid": world.activation.uuid}
    mine = client.get(reverse("activation_mine", kwargs=uuid_kw)).content.decode()
    assert "Casey Deployed-Case" in mine and WORLD_MEMBER not in mine
    for name, extra in (
        ("activation_board", {}),
        ("activation_board_live", {}),
        ("activation_summary", {}),
        ("activation_members_add", {}),
        ("activation_target_assign", {"target_uuid": target.uuid}),
        ("deployment_new", {}),
    ):
        assert client.get(reverse(name, kwargs={**uuid_kw, **extra})).status_code == 404, name
    assert client.get(_url("deployment_detail", other)).status_code == 404
    assert client.get(reverse("activation_home", kwargs=uuid_kw))["Location"] == reverse(
        "activation_mine", kwargs=uuid_kw
    )
    # The contact, logged in their home agency (B does not take part in the activation).
    form = client.get(agency_url(world.agency_b, "encounter_new") + f"?outreach={target.uuid}")
    assert form.status_code == 200
    response = client.post(
        agency_url(world.agency_b, "encounter_new"),
        encounter_form_data(outreach_target=str(target.uuid), activation=str(world.activation.pk)),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    target.refresh_from_db()
    assert target.status == OutreachTarget.Status.CONTACTED


@pytest.mark.django_db
def test_the_home_agency_sees_the_deployment_not_whom_their_supporter_supports(client, world):
    deployment, person, target = _assign_deployed(world)
    activation_services.target_assign(
        actor=world.a[Role.COORDINATOR], target=target, supporter=person.supporter, expected_supporter_id=None
    )
    held = OutreachTarget.objects.get(pk=target.pk)
    agency_wide = selectors.scheduled_follow_ups_open(agency=world.agency_b)
    own = selectors.scheduled_follow_ups_open(agency=world.agency_b, supporter=person.supporter)
    assert not agency_wide.filter(target=held).exists()
    assert list(own.filter(target=held)) == list(held.follow_ups.filter(done_at__isnull=True))
    client.force_login(world.b[Role.COORDINATOR])
    page = client.get(agency_url(world.agency_b, "followup_list")).content.decode()
    assert "Casey Deployed-Case" not in page


@pytest.mark.django_db
def test_the_home_coordinators_follow_ups_page_names_no_deployment_member_with_a_schedule(client, world):
    """With a protocol's follow-up schedule, the deployed supporter's own list shows the member; their home
    coordinator's agency-wide list does not."""
    type(world.activation).objects.filter(pk=world.activation.pk).update(follow_up_days=[1, 7])
    world.activation.refresh_from_db()
    deployment, person, target = _assign_deployed(world)
    assert target.follow_ups.count() == 2
    activation_services.target_assign(
        actor=world.a[Role.COORDINATOR], target=target, supporter=person.supporter, expected_supporter_id=None
    )
    client.force_login(world.b[Role.COORDINATOR])
    response = client.get(agency_url(world.agency_b, "followup_list"))
    page = response.content.decode()
    assert "Casey Deployed-Case" not in page and WORLD_MEMBER not in page
    assert not [s for s in response.context["team_scheduled"] if s.target_id == target.pk]
    assert "Warehouse fire" not in page  # not even the activation the deployed supporter's member belongs to
    client.force_login(person.supporter)
    own = client.get(agency_url(world.agency_b, "followup_list")).content.decode()
    assert own.count("-day follow-up · activation") == 2 and "Warehouse fire" in own


@pytest.mark.django_db
def test_the_deployed_supporter_is_reminded_and_their_home_coordinators_are_not_told(
    world, django_capture_on_commit_callbacks
):
    from encounters import maintenance

    type(world.activation).objects.filter(pk=world.activation.pk).update(follow_up_days=[1, 30])
    world.activation.refresh_from_db()
    _deployment, person, target = _assign_deployed(world)
    activation_services.target_assign(
        actor=world.a[Role.COORDINATOR], target=target, supporter=person.supporter, expected_supporter_id=None
    )
    with django_capture_on_commit_callbacks(execute=True):
        # The day-1 follow-up falls due (reminded); two days later it is overdue (home coordinators not told).
        maintenance.follow_up_reminders_send(agency=world.agency_b, today=TODAY())
        maintenance.follow_up_reminders_send(agency=world.agency_b, today=TODAY() + datetime.timedelta(days=3))
    reminded = [m for m in mail.outbox if m.to == [person.supporter.email]]
    assert len(reminded) == 1 and "follow-up due" in reminded[0].subject
    assert not [m for m in mail.outbox if world.b[Role.COORDINATOR].email in m.to]
    # The lead agency's coordinators are told instead, once, with the date and the owner and not the member.
    with django_capture_on_commit_callbacks(execute=True):
        assert deploy_site.held_follow_ups_overdue_escalate(today=TODAY() + datetime.timedelta(days=3)) == 1
        assert deploy_site.held_follow_ups_overdue_escalate(today=TODAY() + datetime.timedelta(days=4)) == 0
    (told,) = [m for m in mail.outbox if world.a[Role.COORDINATOR].email in m.to and "overdue" in m.subject]
    assert f"owner {person.supporter.get_full_name()}" in told.body and world.agency_a.name in told.subject
    assert target.name not in told.subject + told.body


# --- 7. Concurrency: two real transactions --------------------------------------------------------------------


def _race_network():
    """A network of its own, committed: a lead and two agencies under network-wide mutual aid, and one supporter in
    both of them (ready in each)."""
    tag = uuid.uuid4().hex[:6]
    network = network_services.network_get_or_create(name=f"Race {tag}", slug=f"race-{tag}")
    region = network_services.region_get_or_create(network=network, name="East", slug=f"east-{tag}")
    admin = make_user(f"race-admin-{tag}@test.example", "Race Admin")
    network_services.network_role_grant(actor=None, user=admin, network=network, role=NetworkRole.Role.STATE_ADMIN)
    lead, x, y = (make_agency(actor=admin, network=network, region=region, slug=f"r{n}-{tag}") for n in "lxy")
    governance_services.agreement_record(
        actor=admin,
        network=network,
        title="Statewide mutual aid",
        network_wide=True,
        parties=[],
        scopes=["joint-activation", "cross-agency-outreach"],
        effective_on=TODAY() - datetime.timedelta(days=1),
        expires_on=None,
        document=signed_pdf(),
    )
    people = {}
    for agency in (lead, x, y):
        coordinator = make_user(f"race-coord-{agency.slug}@test.example", f"Coordinator {agency.slug}")
        make_ready(agency_services.membership_add(actor=admin, user=coordinator, agency=agency, role=Role.COORDINATOR))
        people[agency.pk] = coordinator
    both = make_user(f"race-both-{tag}@test.example", "Both Agencies")
    for agency in (x, y):
        make_ready(agency_services.membership_add(actor=admin, user=both, agency=agency, role=Role.PEER_SUPPORTER))
    activation = activation_services.activation_open(
        actor=people[lead.pk],
        lead_agency=lead,
        incident_type="mci",
        name="Race check",
        occurred_at=timezone.now() - datetime.timedelta(hours=1),
        location="East",
    )
    return network, lead, x, y, people, both, activation


def _race(calls: dict) -> dict[str, str]:
    barrier = threading.Barrier(len(calls))
    outcomes: dict[str, str] = {}

    def run(label, call):
        try:
            barrier.wait(timeout=10)
            call()
            outcomes[label] = "done"
        except ValidationError as error:  # the loser's refusal is the point
            outcomes[label] = " ".join(error_codes(error))
        except Exception as error:  # noqa: BLE001 - any other failure is recorded, and fails the test
            outcomes[label] = repr(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(label, call)) for label, call in calls.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


def test_two_agencies_offering_the_same_supporter_at_once_one_place(django_db_blocker):
    with django_db_blocker.unblock():
        _network, lead, x, y, people, both, activation = _race_network()
        deployment = deploy_requests.deployment_request(
            actor=people[lead.pk],
            activation=activation,
            supporters_wanted=4,
            starts_on=TODAY(),
            ends_on=TODAY() + datetime.timedelta(days=2),
            reporting_location="Race site",
        )
        assert sorted(deployment.asked_agency_ids) == sorted([x.pk, y.pk])

        def offer(agency):
            membership = Membership.objects.get(agency=agency, user=both)
            return lambda: deploy_requests.offer_make(
                actor=people[agency.pk], deployment=deployment, agency=agency, memberships=[membership]
            )

        outcomes = _race({"x": offer(x), "y": offer(y)})
        assert sorted(outcomes.values()) == ["already_offered", "done"], outcomes
        assert DeployedSupporter.objects.filter(deployment=deployment, supporter=both).count() == 1
        assert DeploymentOffer.objects.filter(deployment=deployment).count() == 1


def test_two_accepts_at_once_that_exceed_the_places_one_is_refused(django_db_blocker):
    with django_db_blocker.unblock():
        _network, lead, x, y, people, _both, activation = _race_network()
        deployment = deploy_requests.deployment_request(
            actor=people[lead.pk],
            activation=activation,
            supporters_wanted=1,
            starts_on=TODAY(),
            ends_on=TODAY(),
            reporting_location="Race site",
        )
        offers = {
            agency.pk: deploy_requests.offer_make(
                actor=people[agency.pk],
                deployment=deployment,
                agency=agency,
                memberships=[Membership.objects.get(agency=agency, user=people[agency.pk])],
            )
            for agency in (x, y)
        }
        regional_admin = Network.objects.get(pk=activation.network_id)
        assert regional_admin

        def accept(offer):
            return lambda: deploy_requests.offer_decide(actor=people[lead.pk], offer=offer, accept=True)

        outcomes = _race({"x": accept(offers[x.pk]), "y": accept(offers[y.pk])})
        assert sorted(outcomes.values()) == ["done", "too_many"], outcomes
        taken = DeployedSupporter.objects.filter(deployment=deployment, status__in=[Person.ACCEPTED, Person.CONFIRMED])
        assert taken.count() == 1
        assert ActivationEvent.objects.filter(deployment=deployment, kind=Kind.OFFER_ACCEPTED).count() == 1


# --- The home agency's own view of its deployed people's records stays in their schema ----------------------------


@pytest.mark.django_db
def test_the_encounter_of_a_deployment_contact_lives_in_the_home_agencys_schema(client, world):
    deployment, person, target = _assign_deployed(world)
    activation_services.target_assign(
        actor=world.a[Role.COORDINATOR], target=target, supporter=person.supporter, expected_supporter_id=None
    )
    client.force_login(person.supporter)
    client.post(
        agency_url(world.agency_b, "encounter_new"),
        encounter_form_data(outreach_target=str(target.uuid), activation=str(world.activation.pk)),
    )
    from encounters.models import Encounter

    with tenant_context(world.agency_b):
        assert Encounter.objects.filter(activation_id=world.activation.pk).count() == 1


@pytest.mark.django_db
def test_a_confirmed_supporter_finds_the_check_in_page_from_their_assignments_and_the_activation_list(client, world):
    """The world's sample deployment: one of B's supporters confirmed, a shift within the hour."""
    deployment = world.deployment
    person = deployment.people.get(status=DeployedSupporter.Status.CONFIRMED)
    site = _url("deployment_site", deployment)
    client.force_login(person.supporter)
    mine = reverse("activation_mine", kwargs={"activation_uuid": world.activation.uuid})
    for page in (mine, reverse("activation_list")):
        text = client.get(page).content.decode()
        assert f'href="{site}"' in text and "You are deployed" in text, page


@pytest.mark.django_db
def test_the_coordinators_home_leads_to_the_deployment_requests_and_their_people_on_deployments(client, world):
    client.force_login(world.b[Role.COORDINATOR])
    page = client.get(agency_url(world.agency_b, "agency_home")).content.decode()
    assert agency_url(world.agency_b, "agency_deployment_requests") in page
    assert agency_url(world.agency_b, "agency_deployed_people") in page


@pytest.mark.django_db
def test_an_accepted_supporter_confirms_by_replying_go_to_the_text(client, world, provider):
    """Through the provider's signed webhook, as a phone would: GO confirms (via text), once however often the
    provider delivers it; with no deployment waiting, GO records nothing; NOGO from another supporter declines."""
    from network.models import PhoneMessage
    from tests.test_callout_phone import confirmed_number, sms

    confirmed_number(world.b[Role.PEER_SUPPORTER], "+12025550188", provider)
    confirmed_number(world.two_agency_user, "+12025550189", provider)
    deployment = _request(world)
    offer = _offer(world, deployment, world.b[Role.PEER_SUPPORTER], world.two_agency_user)
    deploy_requests.offer_decide(actor=world.a[Role.COORDINATOR], offer=offer, accept=True)
    person = DeployedSupporter.objects.get(offer=offer, supporter=world.b[Role.PEER_SUPPORTER])
    assert "Reply GO if you will go, NOGO if you cannot" in deploy_requests.confirm_text(deployment)

    answer = sms(client, "+12025550188", " Go ", "SMdeploy1")
    assert answer.status_code == 200 and "recorded, you will go" in answer.content.decode()
    assert sms(client, "+12025550188", " Go ", "SMdeploy1").content.decode().count("<Message>") == 0  # replayed
    person.refresh_from_db()
    assert (person.status, person.confirmed_via) == (DeployedSupporter.Status.CONFIRMED, "text")
    assert deployment.events.filter(kind=ActivationEvent.Kind.DEPLOYMENT_CONFIRMED).count() == 1
    assert PhoneMessage.objects.get(provider_sid="SMdeploy1").body == "go"  # the code, nothing else
    again = sms(client, "+12025550188", "GO", "SMdeploy2").content.decode()
    assert "no deployment is waiting for your answer" in again

    sms(client, "+12025550189", "nogo", "SMdeploy3")
    other = DeployedSupporter.objects.get(offer=offer, supporter=world.two_agency_user)
    assert other.status == DeployedSupporter.Status.DECLINED
