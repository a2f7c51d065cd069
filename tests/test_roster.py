"""The peer team roster decides who is called out and who can be assigned, with the reason shown."""

import datetime

import pytest
from django.utils import timezone

from activations import services as activation_services
from agencies.models import Certification, Role, SupporterProfile
from agencies.roster import services
from agencies.roster.selectors import DESIGNATED_AFTER, NO_TRAINING, NOT_DESIGNATED, readiness_problem
from tests.support import agency_url, open_activation

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate


def test_readiness_needs_designation_current_training_and_availability(world):
    membership = world.membership(world.agency_a, Role.PEER_SUPPORTER)

    def problem(**kwargs):
        return readiness_problem(world.membership(world.agency_a, Role.PEER_SUPPORTER), **kwargs)  # re-read

    assert problem() == ""
    Certification.objects.filter(membership=membership).update(expires_on=TODAY() - datetime.timedelta(days=1))
    assert problem() == NO_TRAINING
    Certification.objects.filter(membership=membership).update(expires_on=None)
    SupporterProfile.objects.filter(membership=membership).update(designated_on=TODAY())
    assert problem(incident_date=TODAY() - datetime.timedelta(days=2)) == DESIGNATED_AFTER
    SupporterProfile.objects.filter(membership=membership).update(designated_on=None)
    assert problem() == NOT_DESIGNATED
    SupporterProfile.objects.filter(membership=membership).update(
        designated_on=TODAY() - datetime.timedelta(days=99),
        availability="on_leave",
        on_leave_until=TODAY() + datetime.timedelta(days=3),
    )
    assert problem().startswith("on leave until")


def test_callout_reaches_only_designated_trained_available_supporters(world):
    expired = world.membership(world.agency_a, Role.PEER_SUPPORTER)
    Certification.objects.filter(membership=expired).update(expires_on=TODAY() - datetime.timedelta(days=1))
    activation = open_activation(world)
    activation_services.callout_send(actor=world.a[Role.COORDINATOR], activation=activation)
    called = set(activation.callouts.values_list("supporter", flat=True))
    assert world.a[Role.PEER_SUPPORTER].pk not in called
    assert world.a[Role.COORDINATOR].pk in called


def test_assignment_is_blocked_with_the_reason_for_expired_training_or_late_designation(client, world):
    activation = open_activation(world, occurred_at=timezone.now() - datetime.timedelta(days=10))
    (target,) = activation_services.targets_add(
        actor=world.a[Role.COORDINATOR],
        activation=activation,
        home_agency=world.agency_a,
        entries=[("Pat Roe", "")],
        exposure="direct",
    )
    late = world.membership(world.agency_a, Role.PEER_SUPPORTER)
    SupporterProfile.objects.filter(membership=late).update(designated_on=TODAY() - datetime.timedelta(days=3))
    client.force_login(world.a[Role.COORDINATOR])
    page = client.get(f"/activations/{activation.uuid}/members/{target.uuid}/assign/").content.decode()
    assert "cannot be assigned: designated after the incident" in page
    response = client.post(
        f"/activations/{activation.uuid}/members/{target.uuid}/assign/",
        {"supporter": world.a[Role.PEER_SUPPORTER].pk},
        follow=True,
    )
    assert "designated after the incident" in response.content.decode()
    target.refresh_from_db()
    assert target.assigned_supporter is None


def test_coordinator_keeps_the_roster_and_sees_who_is_ready(client, world):
    member = world.membership(world.agency_a, Role.PEER_SUPPORTER)
    client.force_login(world.a[Role.COORDINATOR])
    page = client.get(agency_url(world.agency_a, "agency_roster")).content.decode()
    assert world.a[Role.PEER_SUPPORTER].full_name in page and "ready to deploy" in page
    path = agency_url(world.agency_a, "agency_roster_member", membership_id=member.pk)
    bad = client.post(
        path, {"save_profile": "1", "availability": "on_leave", "designated_on": "", "languages": ""}
    ).content.decode()
    assert "Give the date the leave ends." in bad
    client.post(
        path,
        {
            "save_profile": "1",
            "availability": "unavailable",
            "designated_on": (TODAY() - datetime.timedelta(days=50)).isoformat(),
            "languages": "Spanish, ASL",
        },
    )
    member.profile.refresh_from_db()
    assert (member.profile.availability, member.profile.languages) == ("unavailable", ["Spanish", "ASL"])
    client.post(
        path,
        {
            "add_certification": "1",
            "kind": "cism-group",
            "certified_on": (TODAY() - datetime.timedelta(days=5)).isoformat(),
            "expires_on": (TODAY() + datetime.timedelta(days=700)).isoformat(),
        },
    )
    assert member.certifications.filter(kind="cism-group").exists()
    wrong = client.post(
        path,
        {
            "add_certification": "1",
            "kind": "cism-group",
            "certified_on": TODAY().isoformat(),
            "expires_on": (TODAY() - datetime.timedelta(days=1)).isoformat(),
        },
    ).content.decode()
    assert "expires after it is granted" in wrong


def test_another_agencys_member_is_not_on_your_roster(client, world):
    client.force_login(world.b[Role.COORDINATOR])
    other = world.membership(world.agency_a, Role.PEER_SUPPORTER)
    assert client.get(agency_url(world.agency_b, "agency_roster_member", membership_id=other.pk)).status_code == 404


def test_roster_changes_are_audited(world):
    from network.audit import AuditAction
    from network.models import AuditEvent

    membership = world.membership(world.agency_a, Role.COORDINATOR)
    services.profile_update(actor=world.a[Role.AGENCY_ADMIN], membership=membership, availability="unavailable")
    assert AuditEvent.objects.filter(action=AuditAction.ROSTER_CHANGED, actor=world.a[Role.AGENCY_ADMIN]).exists()
