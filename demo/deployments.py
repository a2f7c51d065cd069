"""Demo regional deployment (issue 19): peer supporters of Capital City Fire Rescue and South County EMS deployed to
the Route 9 bus crash, led by Riverton Fire, in rotations: one on site, one due (the demo login
deployed@example.org, who can check in on a phone), one overdue to check in (the beat escalation tells the
coordinators under ./dev up), one still to confirm, and yesterday's shift worked with its supporter's own check-in
waiting for their home coordinators."""

from __future__ import annotations

import datetime

from django.contrib.auth import get_user_model
from django.utils import timezone

from activations import deploy_requests, deploy_site, services
from activations.models import Activation, ActivationEvent, Deployment
from agencies.models import Agency, Membership, Role

User = get_user_model()

LOCATION = "Riverton Family Assistance Center"
DEPLOYED_LOGIN = "deployed@example.org"
OFFERING = ["capital-city-fire", "south-county-ems"]
Kind = ActivationEvent.Kind


def _coordinator(agency: Agency):
    return Membership.objects.filter(agency=agency, role=Role.COORDINATOR, is_active=True).order_by("pk").first().user


def _offer(deployment: Deployment, agency: Agency, *, first=None) -> list:
    """The agency's coordinator offers two ready supporters (`first` among them when given)."""
    ready = [c for c in deploy_requests.offer_candidates(deployment, agency) if not c["blocked"]]
    ready.sort(key=lambda c: (c["membership"].user != first, c["membership"].pk))
    chosen = [c["membership"] for c in ready[:2]]
    offer = deploy_requests.offer_make(
        actor=_coordinator(agency), deployment=deployment, agency=agency, memberships=chosen
    )
    return offer


def _hour(moment: datetime.datetime) -> datetime.datetime:
    return timezone.localtime(moment).replace(minute=0, second=0, microsecond=0)


def seed_deployments(*, agencies: dict[str, Agency]) -> bool:
    """Create the demo deployment once. Returns whether it was created."""
    activation = Activation.objects.filter(name="Route 9 bus crash").first()
    if activation is None or Deployment.objects.filter(activation=activation, reporting_location=LOCATION).exists():
        return False
    lead_coordinator = User.objects.get(email="coordinator@example.org")
    today = timezone.localdate()
    deployment = deploy_requests.deployment_request(
        actor=lead_coordinator,
        activation=activation,
        supporters_wanted=4,
        starts_on=today,
        ends_on=today + datetime.timedelta(days=2),
        reporting_location=LOCATION,
    )
    # The story: asked for two days ago (a request cannot start in the past, so the demo moves it back).
    Deployment.objects.filter(pk=deployment.pk).update(
        starts_on=today - datetime.timedelta(days=2), requested_at=_hour(timezone.now() - datetime.timedelta(days=2))
    )
    deployment.refresh_from_db()
    deployed_login = User.objects.get(email=DEPLOYED_LOGIN)
    offers = [
        _offer(deployment, agencies[OFFERING[0]], first=deployed_login),
        _offer(deployment, agencies[OFFERING[1]]),
    ]
    for offer in offers:
        deploy_requests.offer_decide(actor=lead_coordinator, offer=offer, accept=True)
    people = {p.supporter_id: p for p in deployment.people.select_related("supporter").order_by("pk")}
    sam = people.pop(deployed_login.pk)
    worked, overdue, waiting = people.values()  # one of Capital City's, then South County's two
    for person in (sam, worked, overdue):
        deploy_requests.deployment_answer(actor=person.supporter, person=person, going=True)
    # `waiting` has not confirmed yet: the deployment page shows the place accepted, to confirm.

    now = timezone.now()
    yesterday = _hour(now - datetime.timedelta(hours=27))  # yesterday's shift, and today's began 3 hours ago
    due = _hour(now + datetime.timedelta(hours=2))  # within check-in's two-hour window
    late = _hour(now - datetime.timedelta(minutes=90))  # began more than 30 minutes ago, nobody checked in
    plans = [(worked, yesterday, 2), (sam, due, 2), (overdue, late, 2)]
    for person, start, days in plans:
        person.refresh_from_db()
        deploy_site.shifts_plan(
            actor=lead_coordinator,
            deployment=deployment,
            person=person,
            first_day=start.date(),
            days=min(days, (deployment.ends_on - start.date()).days + 1),
            start_time=start.time(),
        )
    # The story began two days ago: the request, the offers, the answers and the rotation happened then. The timeline is
    # append-only for the application; the seeder writes its fictional past once, as it does for the members it lists.
    for hours, kind in enumerate([Kind.DEPLOYMENT_REQUESTED, Kind.DEPLOYMENT_OFFERED, Kind.OFFER_ACCEPTED]):
        ActivationEvent.objects.filter(deployment=deployment, kind=kind).update(
            at=deployment.requested_at + datetime.timedelta(hours=hours)
        )
    for kind in (Kind.DEPLOYMENT_CONFIRMED, Kind.SHIFT_PLANNED):
        ActivationEvent.objects.filter(deployment=deployment, kind=kind).update(
            at=deployment.requested_at + datetime.timedelta(hours=3)
        )
    first, second = worked.shifts.order_by("starts_at")[:2]
    deploy_site.shift_check_in(actor=worked.supporter, shift=first, now=first.starts_at)
    deploy_site.shift_check_out(actor=worked.supporter, shift=first, now=first.ends_at)
    deploy_site.wellbeing_choose(actor=worked.supporter, person=worked, choice="check_in")
    deploy_site.shift_check_in(actor=worked.supporter, shift=second, now=second.starts_at)
    # An affected member held by the deployed login: their home coordinators do not see whom.
    (target,) = services.targets_add(
        actor=lead_coordinator,
        activation=activation,
        home_agency=agencies["riverton-fire"],
        entries=[("Jonah Pierce", "engineer")],
        exposure="support",
    )
    services.target_assign(
        actor=lead_coordinator,
        target=target,
        supporter=deployed_login,
        agency=agencies[OFFERING[0]],
        expected_supporter_id=None,
    )
    return True
