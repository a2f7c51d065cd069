"""A deployment's hours (for reimbursement), its ICS-214-style activity log, its demobilisation, and what a home
agency sees of its people on deployments (issue 19, points 6 and 7).

Hours are counted from checked-in shifts only: checked in to checked out, or to now for a shift still open ("on
site"). Nothing here reads or writes an affected member's name: the activity log is written from the deployment's
timeline events, which name supporters and agencies only."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import DurationField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from activations.deploy_requests import may_request_deployment
from activations.models import (
    Activation,
    ActivationEvent,
    DeployedSupporter,
    Deployment,
    DeploymentOffer,
    DeploymentShift,
    OutreachTarget,
)
from activations.selectors import FINAL_STATUSES
from activations.services import NO_RIGHTS, _event
from agencies.models import Agency
from network.audit import AuditAction, audit_record

Kind = ActivationEvent.Kind
HOUR = datetime.timedelta(hours=1)
UNDER_WAY = (Deployment.Status.REQUESTED, Deployment.Status.ACTIVE)
ICS_POSITION = "Peer supporter"
# People who took a place on the deployment (the ICS-214's "resources assigned"): accepted at least.
TOOK_PART = (
    DeployedSupporter.Status.ACCEPTED,
    DeployedSupporter.Status.CONFIRMED,
    DeployedSupporter.Status.RELEASED,
    DeployedSupporter.Status.DEMOBILIZED,
)


def _hours(span: datetime.timedelta) -> float:
    return round(max(span, datetime.timedelta(0)) / HOUR, 2)


def hours_in(span: datetime.timedelta | None) -> float:
    """A duration as hours (0 for none), two decimals."""
    return _hours(span) if span is not None else 0.0


# --- Hours -----------------------------------------------------------------------------------------------------


@dataclass
class ShiftHours:
    """One checked-in shift: who, from which agency, when, how long."""

    person_id: int
    name: str
    agency: str
    checked_in_at: datetime.datetime
    checked_out_at: datetime.datetime | None
    hours: float

    @property
    def on_site(self) -> bool:
        return self.checked_out_at is None


@dataclass
class PersonHours:
    person_id: int
    name: str
    agency: str
    shifts: int = 0
    hours: float = 0.0
    first_check_in: datetime.datetime | None = None
    last_check_out: datetime.datetime | None = None
    on_site: bool = False


@dataclass
class AgencyHours:
    agency: str
    people: int = 0
    shifts: int = 0
    hours: float = 0.0
    percent: int = 0  # of the largest agency's hours: the bar's length


@dataclass
class HoursReport:
    shifts: list[ShiftHours] = field(default_factory=list)
    people: list[PersonHours] = field(default_factory=list)
    agencies: list[AgencyHours] = field(default_factory=list)
    hours: float = 0.0
    on_site: int = 0
    counted_at: datetime.datetime | None = None


def hours_of(deployment: Deployment, *, now: datetime.datetime | None = None) -> HoursReport:
    """Hours per shift, per person and per agency, from the deployment's checked-in shifts: one statement whatever
    the deployment's size. A shift still open counts up to `now` and marks its person "on site"."""
    now = now or timezone.now()
    rows = (
        DeploymentShift.objects.filter(deployment=deployment, checked_in_at__isnull=False)
        .order_by("person__home_agency__name", "person__supporter__full_name", "person_id", "checked_in_at")
        .values_list(
            "person_id", "person__supporter__full_name", "person__home_agency__name", "checked_in_at", "checked_out_at"
        )
    )
    report = HoursReport(counted_at=now)
    people: dict[int, PersonHours] = {}
    agencies: dict[str, AgencyHours] = {}
    for person_id, name, agency, checked_in, checked_out in rows:
        shift = ShiftHours(person_id, name, agency, checked_in, checked_out, _hours((checked_out or now) - checked_in))
        report.shifts.append(shift)
        person = people.setdefault(person_id, PersonHours(person_id, name, agency))
        person.shifts += 1
        person.hours += shift.hours
        person.first_check_in = min(filter(None, [person.first_check_in, checked_in]))
        if checked_out is not None:
            person.last_check_out = max(filter(None, [person.last_check_out, checked_out]))
        person.on_site = person.on_site or shift.on_site
        totals = agencies.setdefault(agency, AgencyHours(agency))
        totals.shifts += 1
        totals.hours += shift.hours
    for person in people.values():
        person.hours = round(person.hours, 2)
        agencies[person.agency].people += 1
    report.people = list(people.values())
    report.agencies = sorted(agencies.values(), key=lambda a: (-a.hours, a.agency))
    report.hours = round(sum(a.hours for a in report.agencies), 2)
    report.on_site = sum(1 for p in report.people if p.on_site)
    most = max((a.hours for a in report.agencies), default=0)
    for totals in report.agencies:
        totals.hours = round(totals.hours, 2)
        totals.percent = round(100 * totals.hours / most) if most else 0
    return report


def hours_csv_rows(deployment: Deployment, *, now: datetime.datetime | None = None) -> Iterator[list]:
    """The hours export: one row per checked-in shift, then the per-agency totals (for network/csvexport.py)."""
    report = hours_of(deployment, now=now)
    stamp = "%Y-%m-%d %H:%M"
    yield ["person", "home agency", "checked in", "checked out", "hours"]
    for shift in report.shifts:
        out = timezone.localtime(shift.checked_out_at).strftime(stamp) if shift.checked_out_at else "on site"
        yield [shift.name, shift.agency, timezone.localtime(shift.checked_in_at).strftime(stamp), out, shift.hours]
    yield []
    yield ["agency totals", "home agency", "people", "shifts", "hours"]
    for totals in report.agencies:
        yield ["", totals.agency, totals.people, totals.shifts, totals.hours]
    yield ["", "all agencies", len(report.people), len(report.shifts), report.hours]


def hours_exported(*, actor, deployment: Deployment, what: str, request=None) -> None:
    """The audit row of an hours CSV or an ICS-214 print (`what`: "csv" or "ics214")."""
    audit_record(
        action=AuditAction.DEPLOYMENT_HOURS_EXPORTED,
        actor=actor,
        agency=deployment.activation.lead_agency,
        obj=deployment,
        object_type=f"activations.deployment.{what}",
        request=request,
    )


# --- The ICS-214-style activity log ------------------------------------------------------------------------------


@dataclass
class Ics214:
    incident_name: str
    period_from: str
    period_to: str
    unit_name: str
    unit_location: str
    unit_leader: str
    unit_leader_agency: str
    location: str
    resources: list[dict]
    activity: list[tuple[datetime.datetime, str]]


def _who(user, agency_name: str | None) -> str:
    name = user.get_full_name() if user is not None else "The system"
    return f"{name} ({agency_name})" if agency_name else name


def _sentence(event: ActivationEvent, deployment: Deployment, homes: dict[int, str]) -> str:
    """One activity entry: supporters and agencies only, never an affected member, never what was said. A supporter
    is named with their home agency on this deployment (`homes`), else the event's agency."""
    actor = event.actor.get_full_name() if event.actor is not None else "The system"
    concerned = event.subject or event.actor
    home = homes.get(concerned.pk) if concerned is not None else None
    person = _who(concerned, home or (event.agency.name if event.agency is not None else None))
    agency = event.agency.name if event.agency is not None else "an agency"
    # "by" whom, when someone acted for the supporter (a coordinator checking them in), not when they acted themselves.
    by = (
        f" by {actor}" if event.subject is not None and event.actor is not None and event.actor != event.subject else ""
    )
    sentences = {
        Kind.DEPLOYMENT_REQUESTED: f"{actor} requested {deployment.supporters_wanted} peer supporters "
        f"for {deployment.starts_on:%Y-%m-%d} to {deployment.ends_on:%Y-%m-%d}, reporting to "
        f"{deployment.reporting_location}.",
        Kind.DEPLOYMENT_OFFERED: f"{actor} offered "
        + (f"{event.detail} supporter{'' if event.detail == '1' else 's'}" if event.detail.isdigit() else "supporters")
        + f" of {agency}.",
        Kind.OFFER_ACCEPTED: f"{actor} accepted the offer of {agency}.",
        Kind.OFFER_DECLINED: f"{actor} declined the offer of {agency}.",
        Kind.OFFER_WITHDRAWN: f"{actor} withdrew the offer of {agency}.",
        Kind.DEPLOYMENT_CONFIRMED: f"{person} confirmed the deployment.",
        Kind.DEPLOYMENT_DECLINED: f"{person} declined the deployment.",
        Kind.SHIFT_PLANNED: f"{actor} planned shifts for {person}.",
        Kind.SHIFT_SWAPPED: f"{actor} swapped a shift to {person}.",
        Kind.CHECKED_IN: f"{person} checked in on site{by}.",
        Kind.CHECKED_OUT: f"{person} checked out{by}.",
        Kind.CHECK_IN_OVERDUE: f"{person} had not checked in for a shift: coordinators told.",
        Kind.DEPLOYMENT_RELEASED: f"{person} was released from the deployment{by}.",
        Kind.DEPLOYMENT_DEMOBILIZED: f"{actor} demobilised the deployment.",
        Kind.ASSIGNMENT_RETURNED: f"An assignment held by {person} went back to the board.",
    }
    return sentences.get(event.kind, f"{event.get_kind_display()}.")


def ics214_of(deployment: Deployment) -> Ics214:
    """The activity log a reimbursement claim needs (after the ICS-214 form): the unit, its leader, its people and
    the deployment's events as dated sentences. Three statements: the requester, the people, the events."""
    activation = deployment.activation
    leader = get_user_model().objects.filter(pk=deployment.requested_by_id).only("full_name", "email").first()
    people = list(
        DeployedSupporter.objects.filter(deployment=deployment)
        .select_related("supporter", "home_agency")
        .order_by("home_agency__name", "supporter__full_name", "pk")
    )
    homes = {p.supporter_id: p.home_agency.name for p in people}
    events = (
        ActivationEvent.objects.filter(deployment=deployment)
        .select_related("actor", "subject", "agency")
        .order_by("at", "pk")
    )
    return Ics214(
        incident_name=activation.name,
        period_from=f"{deployment.starts_on:%Y-%m-%d}",
        period_to=(
            f"{timezone.localtime(deployment.demobilized_at):%Y-%m-%d %H:%M} (demobilised)"
            if deployment.demobilized_at
            else f"{deployment.ends_on:%Y-%m-%d}"
        ),
        unit_name="Peer support deployment",
        unit_location=deployment.reporting_location,
        unit_leader=leader.get_full_name() if leader is not None else "",
        unit_leader_agency=activation.lead_agency.name,
        location=activation.location,
        resources=[
            {
                "name": p.supporter.get_full_name(),
                "position": ICS_POSITION,
                "agency": p.home_agency.name,
                "status": p.get_status_display(),
            }
            for p in people
            if p.status in TOOK_PART
        ],
        activity=[(event.at, _sentence(event, deployment, homes)) for event in events],
    )


# --- Demobilisation ----------------------------------------------------------------------------------------------


def on_site_message(count: int) -> str:
    if count == 1:
        return "1 supporter is still on site: check them out first."
    return f"{count} supporters are still on site: check them out first."


def _demobilize_locked(*, actor, deployment: Deployment, now: datetime.datetime, request=None) -> int:
    """Demobilise `deployment`, whose row the caller locked and found under way. Refuses while anyone is checked in
    (the shift rows are locked first, so a check-in racing this either lands before, and is counted, or finds its
    shift gone). Returns how many assignments went back to the board."""
    open_shifts = list(
        DeploymentShift.objects.select_for_update()
        .filter(deployment=deployment, checked_out_at__isnull=True)
        .order_by("pk")
    )
    on_site = {s.person_id for s in open_shifts if s.checked_in_at is not None}
    if on_site:
        raise ValidationError(on_site_message(len(on_site)), code="on_site")
    # Shifts nobody checked in to and that have not ended: the rest of the rotation. Any swap pointing at them goes.
    unworked = [s.pk for s in open_shifts if s.checked_in_at is None and s.ends_at > now]
    if unworked:
        DeploymentShift.objects.filter(swapped_to__in=unworked).update(swapped_to=None)
        DeploymentShift.objects.filter(pk__in=unworked).delete()
    people = DeployedSupporter.objects.filter(deployment=deployment)
    people.filter(status=DeployedSupporter.Status.CONFIRMED).update(
        status=DeployedSupporter.Status.DEMOBILIZED, ended_at=now
    )
    people.filter(status__in=[DeployedSupporter.Status.OFFERED, DeployedSupporter.Status.ACCEPTED]).update(
        status=DeployedSupporter.Status.NOT_TAKEN, ended_at=now
    )
    DeploymentOffer.objects.filter(deployment=deployment, status=DeploymentOffer.Status.OFFERED).update(
        status=DeploymentOffer.Status.DECLINED, decided_by=actor, decided_at=now
    )
    Deployment.objects.filter(pk=deployment.pk).update(
        status=Deployment.Status.DEMOBILIZED, demobilized_at=now, demobilized_by=actor
    )
    returned = _assignments_return(actor=actor, deployment=deployment, request=request)
    _event(deployment.activation, Kind.DEPLOYMENT_DEMOBILIZED, actor=actor, deployment=deployment)
    audit_record(
        action=AuditAction.DEPLOYMENT_DEMOBILIZED,
        actor=actor,
        agency=deployment.activation.lead_agency,
        obj=deployment,
        request=request,
    )
    return returned


def _assignments_return(*, actor, deployment: Deployment, request=None) -> int:
    """The way `assignments_return_for_suspended_agency` does it: every open assignment held through this
    deployment goes back to the board unassigned, each with an event naming the supporter (never the member)."""
    held = list(
        OutreachTarget.objects.select_for_update(of=("self",))
        .filter(via_deployment=deployment, merged_into__isnull=True)
        .exclude(status__in=FINAL_STATUSES)
        .select_related("activation")
        .order_by("pk")
    )
    for target in held:
        OutreachTarget.objects.filter(pk=target.pk).update(
            assigned_supporter=None, assigned_agency=None, assigned_at=None, via_deployment=None
        )
        _event(
            target.activation,
            Kind.ASSIGNMENT_RETURNED,
            actor=actor,
            agency=target.assigned_agency,
            target=target,
            detail="deployment-demobilized",
            deployment=deployment,
            subject=target.assigned_supporter,
        )
        audit_record(
            action=AuditAction.ACTIVATION_ASSIGNMENT_RETURNED,
            actor=actor,
            agency=target.assigned_agency,
            obj=target,
            request=request,
        )
    return len(held)


def deployment_demobilize(*, actor, deployment: Deployment, request=None) -> Deployment:
    """End a deployment: refused while anyone is on site; the rest of the rotation is deleted; confirmed people are
    demobilised and those never confirmed not taken; assignments held through it go back to the board."""
    activation = deployment.activation
    if not may_request_deployment(actor, activation):
        raise ValidationError(NO_RIGHTS, code="no_rights")
    with transaction.atomic():
        locked = Deployment.objects.select_for_update().select_related("activation").get(pk=deployment.pk)
        if locked.status not in UNDER_WAY:
            raise ValidationError("This deployment has already ended.", code="not_under_way")
        _demobilize_locked(actor=actor, deployment=locked, now=timezone.now(), request=request)
    deployment.refresh_from_db()
    return deployment


def deployments_demobilize_for_activation(*, actor, activation: Activation, request=None) -> int:
    """Part of demobilising or closing `activation` (in its transaction, its rights already checked): every
    deployment under way is demobilised the same way; refused, whole, while anyone is on site. Returns how many."""
    locked = list(
        Deployment.objects.select_for_update()
        .filter(activation=activation, status__in=UNDER_WAY)
        .select_related("activation")
        .order_by("pk")
    )
    on_site = (
        DeploymentShift.objects.filter(deployment__in=locked, checked_in_at__isnull=False, checked_out_at__isnull=True)
        .values("person")
        .distinct()
        .count()
    )
    if on_site:
        raise ValidationError(on_site_message(on_site), code="on_site")
    now = timezone.now()
    for deployment in locked:
        _demobilize_locked(actor=actor, deployment=deployment, now=now, request=request)
    return len(locked)


# --- The home agency's view -----------------------------------------------------------------------------------


def _worked() -> ExpressionWrapper:
    return ExpressionWrapper(
        Coalesce(F("checked_out_at"), Value(timezone.now())) - F("checked_in_at"), output_field=DurationField()
    )


def agency_deployed_people(agency: Agency) -> QuerySet[DeployedSupporter]:
    """The agency's own people on deployments (any status but an offer not taken or declined), newest first, each
    with the activation's operational name and location, the deployment's dates and `worked` (a duration, from
    checked-in shifts) in the same statement. Nothing about whom they supported."""
    worked = (
        DeploymentShift.objects.filter(person=OuterRef("pk"), checked_in_at__isnull=False)
        .order_by()
        .values("person")
        .annotate(total=Sum(_worked()))
        .values("total")
    )
    on_site = DeploymentShift.objects.filter(
        person=OuterRef("pk"), checked_in_at__isnull=False, checked_out_at__isnull=True
    )
    return (
        DeployedSupporter.objects.filter(home_agency=agency)
        .exclude(Q(status=DeployedSupporter.Status.DECLINED) | Q(status=DeployedSupporter.Status.NOT_TAKEN))
        .select_related("supporter", "deployment__activation")
        .only(
            "status",
            "confirmed_at",
            "ended_at",
            "supporter__full_name",
            "supporter__email",
            "deployment__uuid",
            "deployment__starts_on",
            "deployment__ends_on",
            "deployment__reporting_location",
            "deployment__status",
            "deployment__activation__name",
            "deployment__activation__location",
        )
        .annotate(worked=Subquery(worked, output_field=DurationField()), on_site=Exists(on_site))
        .order_by("-deployment__starts_on", "supporter__full_name", "pk")
    )
