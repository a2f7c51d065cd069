"""The demo network: every discipline and role, people in two agencies, and safe to load twice."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count
from django.utils import timezone
from django_tenants.utils import tenant_context

from activations import deploy_site
from activations.models import (
    Activation,
    DeployedSupporter,
    Deployment,
    DeploymentShift,
    OutreachTarget,
    SupporterWellbeing,
)
from agencies.models import Agency, Discipline, Membership, Role, SupporterProfile
from encounters.models import DisclosureRecord, Encounter, FollowUp, Referral
from governance.models import ActivationProtocol, Agreement, IncidentType, ResourceEntry
from network.models import MobileNumber, NetworkPolicy, NetworkRole, Region, User
from reporting.models import PeriodKind, Publication, PublishedFigure

pytestmark = pytest.mark.django_db


def test_seed_demo_builds_a_living_network_and_is_idempotent(settings, world):
    settings.MUSTER_DEMO = True
    call_command("seed_demo", stdout=io.StringIO())
    demo_agencies = Agency.objects.filter(network__slug="example-state")
    counts = (demo_agencies.count(), Membership.objects.count(), User.objects.count())

    assert demo_agencies.count() >= 8
    assert set(demo_agencies.values_list("discipline", flat=True)) == set(Discipline.values)
    assert all(a.status == Agency.Status.ACTIVE for a in demo_agencies)
    assert Region.objects.filter(network__slug="example-state").count() == 3
    demo_users = User.objects.filter(memberships__agency__in=demo_agencies).distinct()
    assert 55 <= demo_users.count() <= 80
    assert set(Membership.objects.filter(agency__in=demo_agencies).values_list("role", flat=True)) == set(Role.values)
    two_agency_people = (
        Membership.objects.filter(agency__in=demo_agencies).values("user").annotate(n=Count("agency")).filter(n__gt=1)
    )
    assert two_agency_people.count() >= 3
    roles = set(NetworkRole.objects.filter(network__slug="example-state").values_list("role", flat=True))
    assert roles == {NetworkRole.Role.STATE_ADMIN, NetworkRole.Role.REGIONAL_COORDINATOR}
    assert User.objects.get(email="chief@example.org").check_password("muster-demo-2026")

    for agency in demo_agencies:
        with tenant_context(agency):
            assert Encounter.objects.count() >= 30, agency.slug
            assert Encounter.objects.exclude(notes=None).exists(), agency.slug
            assert Encounter.objects.filter(occurred_on__lt=timezone.localdate() - timedelta(days=60)).exists()
    overdue = disclosures = 0
    for agency in demo_agencies:
        with tenant_context(agency):
            overdue += FollowUp.objects.filter(status="open", due_on__lt=timezone.localdate()).count()
            disclosures += DisclosureRecord.objects.count()
    assert overdue > 0 and disclosures > 0
    assert NetworkPolicy.objects.get(network__slug="example-state").notes_enabled
    with tenant_context(demo_agencies.first()):
        encounters_before = Encounter.objects.count()
    open_activation = Activation.objects.get(name="Route 9 bus crash")
    assert open_activation.participations.count() == 3 and open_activation.is_open
    statuses = set(open_activation.targets.values_list("status", flat=True))
    assert statuses == set(OutreachTarget.Status.values)
    assert open_activation.targets.filter(possible_duplicate_of__isnull=False).count() == 1
    assert open_activation.targets.filter(assigned_supporter__isnull=True).exists()
    # Callout by text and voice: demo phones, and the board's channel states (docs/callout.md).
    assert MobileNumber.objects.filter(user__email="supporter@example.org", confirmed_at__isnull=False).exists()
    via = set(open_activation.callouts.values_list("answered_via", "channel_state"))
    assert {("text", "replied"), ("voice", "replied"), ("", "escalated")} <= via
    assert open_activation.callouts.filter(answered_via="voice", involved=True).exists()
    closed = Activation.objects.get(name="Harbor Detention disturbance")
    assert closed.status == Activation.Status.CLOSED and closed.summary["affected_members"] == 6
    # Contacts within hours of the incident, measured from when each member was listed.
    assert 0 < closed.summary["median_minutes_to_first_contact"] < 24 * 60

    # Governance: agreements (one flagged as expiring, one awaiting approval), a protocol for every
    # incident type, applied to the demo activations.
    network = open_activation.network
    assert Agreement.objects.filter(network=network).in_force().count() >= 3
    assert Agreement.objects.filter(network=network).expiring().count() == 1
    assert Agreement.objects.filter(network=network, status=Agreement.Status.PROPOSED).count() == 1
    assert set(ActivationProtocol.objects.filter(network=network).values_list("incident_type", flat=True)) == set(
        IncidentType.values
    )
    assert open_activation.checklist.exists() and open_activation.checklist.exclude(done_at=None).count() == 1
    assert closed.summary["checklist_steps_done"] == closed.summary["checklist_steps"] > 0
    assert 0 < closed.summary["scheduled_follow_ups_done"] < closed.summary["scheduled_follow_ups"]
    profiles = SupporterProfile.objects.filter(membership__agency__in=demo_agencies)
    assert profiles.exclude(disciplines=[]).exists()

    # Issue 18: a directory with stale, waitlisted and expired entries, referrals in every status, a profile in force.
    directory = ResourceEntry.objects.filter(network=network)
    assert directory.count() >= 10 and directory.flagged().count() >= 2
    assert directory.filter(accepting_new_clients=False).exists()
    statuses = set()
    for agency in demo_agencies:
        with tenant_context(agency):
            statuses |= set(Referral.objects.values_list("status", flat=True))
            assert Referral.objects.exists(), agency.slug
    assert statuses == set(Referral.Status.values)
    assert NetworkPolicy.objects.get(network=network).privilege_profile == "co"
    with tenant_context(demo_agencies.first()):
        referrals_before = Referral.objects.count()

    # Issue 19: one deployment under way across three agencies, in rotations: someone on site, someone due (the
    # deployed demo login), someone overdue to check in, someone still to confirm, a supporter's own check-in waiting.
    deployment = Deployment.objects.get(activation=open_activation)
    assert deployment.status == Deployment.Status.ACTIVE
    people = deployment.people.all()
    agencies_in = {deployment.activation.lead_agency_id} | set(people.values_list("home_agency_id", flat=True))
    assert len(agencies_in) == 3
    assert {p.status for p in people} == {DeployedSupporter.Status.CONFIRMED, DeployedSupporter.Status.ACCEPTED}
    assert DeploymentShift.objects.filter(deployment=deployment).values("person").distinct().count() == 3
    (section,) = deploy_site.board_deployments(open_activation)
    assert len(section["on_site"]) == 1 and len(section["overdue"]) == 1
    assert [row["who"] for row in section["due"]] == ["Sam Castillo"]
    assert SupporterWellbeing.objects.filter(person__deployment=deployment, done_at=None).count() == 1
    assert OutreachTarget.objects.filter(via_deployment=deployment).count() == 1

    # Leadership dashboards show published periods only (issue 12): the demo's encounters were entered
    # on their days, and every period due is published, so the dashboards show data on first run.
    publications = Publication.objects.filter(network=network)
    assert publications.filter(period_kind=PeriodKind.QUARTER).exists()  # 130 days back hold a due quarter
    assert PublishedFigure.objects.filter(
        publication__network=network, region=None, agency=None, table="encounters", value__gt=0
    ).exists()
    published = publications.count()

    call_command("seed_demo", stdout=io.StringIO())
    assert publications.count() == published
    assert (demo_agencies.count(), Membership.objects.count(), User.objects.count()) == counts
    with tenant_context(demo_agencies.first()):
        assert Encounter.objects.count() == encounters_before
        assert Referral.objects.count() == referrals_before


def test_seed_demo_refuses_to_run_outside_demo_mode(settings):
    settings.MUSTER_DEMO = False
    with pytest.raises(CommandError, match="demo mode"):
        call_command("seed_demo")
