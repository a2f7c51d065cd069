"""A deployment on site (issue 19, points 3 to 5): the rotation planner, check-in and check-out, what the board
shows of each deployment under way, the overdue check-in escalation, and the supporters' own wellbeing follow-up.

Services take `actor=` and `request=None`, check rights themselves and write the timeline and the audit log.
Nothing here names an affected member; a deployed supporter is named only to the activation's coordinators and,
for their own wellbeing follow-up, to their home agency's coordinators.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, OuterRef, Q
from django.db.models.functions import JSONObject
from django.urls import reverse
from django.utils import timezone

from activations.access import COORDINATE, activation_perms_for, deployed_places
from activations.models import (
    ActivationEvent,
    DeployedSupporter,
    Deployment,
    DeploymentShift,
    SupporterWellbeing,
    TargetFollowUp,
)
from activations.services import _event, _require, target_follow_ups_mark_escalated
from agencies.models import Agency, Membership, Role
from network.audit import AuditAction, audit_record
from network.inline import inline_instances, inline_rows
from network.notify import notify

Kind = ActivationEvent.Kind
UNDER_WAY = (Deployment.Status.REQUESTED, Deployment.Status.ACTIVE)
# A shift can be checked in from two hours before it starts; thirty minutes after its start without a check-in it
# is overdue (the board shows it, and beat tells the coordinators once).
DUE_WITHIN = datetime.timedelta(hours=2)
OVERDUE_AFTER = datetime.timedelta(minutes=30)
SHIFT_FIELDS = ("id", "person_id", "starts_at", "ends_at", "checked_in_at", "checked_out_at", "escalated_at")
# Wellbeing: when the supporter's own follow-up is due, counted from the day they chose it.
WELLBEING_DUE_DAYS = {SupporterWellbeing.Choice.DEFUSING: 1, SupporterWellbeing.Choice.CHECK_IN: 3}


def _local_day(moment: datetime.datetime) -> datetime.date:
    return timezone.localtime(moment).date()


def _under_way(deployment: Deployment) -> None:
    if deployment.status not in UNDER_WAY:
        raise ValidationError("The deployment is no longer under way.", code="not_under_way")


# --- Rotations -------------------------------------------------------------------------------------------------


def longest_run(days: set[datetime.date]) -> int:
    """The most consecutive days in `days`."""
    best = run = 0
    previous = None
    for day in sorted(days):
        run = run + 1 if previous is not None and day - previous == datetime.timedelta(days=1) else 1
        best, previous = max(best, run), day
    return best


def rotation_problems(deployment: Deployment, shifts: list[DeploymentShift]) -> list[str]:
    """What one person's shifts break: too little rest between two of them, or too many days in a row."""
    problems = []
    ordered = sorted(shifts, key=lambda s: s.starts_at)
    rest = datetime.timedelta(hours=deployment.rest_hours)
    for before, after in zip(ordered, ordered[1:], strict=False):
        gap = after.starts_at - before.ends_at
        if gap < datetime.timedelta(0):
            problems.append(f"two shifts overlap on {_local_day(after.starts_at):%b %-d}")
        elif gap < rest:
            hours = gap.total_seconds() / 3600
            problems.append(
                f"only {hours:g} h rest before the shift of {_local_day(after.starts_at):%b %-d} "
                f"(the deployment asks for {deployment.rest_hours} h)"
            )
    run = longest_run({_local_day(s.starts_at) for s in ordered})
    if run > deployment.max_days_in_row:
        problems.append(f"{run} days in a row (at most {deployment.max_days_in_row})")
    return problems


def _confirmed(deployment: Deployment, person: DeployedSupporter) -> None:
    if person.deployment_id != deployment.pk or person.status != DeployedSupporter.Status.CONFIRMED:
        raise ValidationError("Only supporters who confirmed this deployment get shifts.", code="not_confirmed")


def shifts_plan(
    *,
    actor,
    deployment: Deployment,
    person: DeployedSupporter,
    first_day: datetime.date,
    days: int,
    start_time: datetime.time,
    request=None,
) -> list[DeploymentShift]:
    """A rotation: one shift of `deployment.shift_hours` a day for `days` days from `first_day`, starting at
    `start_time` (local time). Refused whole when it would break the rest between shifts or the most days in a
    row, counting the person's shifts already planned."""
    _require(actor, deployment.activation, COORDINATE)
    _under_way(deployment)
    _confirmed(deployment, person)
    if not 1 <= days <= 31:
        raise ValidationError({"days": "Plan between 1 and 31 days at a time."}, code="days")
    last_day = first_day + datetime.timedelta(days=days - 1)
    if first_day < deployment.starts_on or last_day > deployment.ends_on:
        raise ValidationError(
            f"The deployment runs from {deployment.starts_on:%b %-d} to {deployment.ends_on:%b %-d}: "
            "plan the rotation within those days.",
            code="outside_period",
        )
    length = datetime.timedelta(hours=deployment.shift_hours)
    zone = timezone.get_current_timezone()
    new = [
        DeploymentShift(
            deployment=deployment,
            person=person,
            starts_at=datetime.datetime.combine(first_day + datetime.timedelta(days=n), start_time, tzinfo=zone),
            ends_at=datetime.datetime.combine(first_day + datetime.timedelta(days=n), start_time, tzinfo=zone) + length,
            created_by=actor,
        )
        for n in range(days)
    ]
    with transaction.atomic():
        # One planner at a time per person: two coordinators planning the same person both see each other's shifts.
        DeployedSupporter.objects.select_for_update().filter(pk=person.pk).first()
        planned = list(DeploymentShift.objects.filter(person=person, swapped_to__isnull=True))
        problems = rotation_problems(deployment, planned + new)
        if problems:
            raise ValidationError("This rotation is refused: " + "; ".join(problems) + ".", code="rotation_limits")
        DeploymentShift.objects.bulk_create(new)
        _event(
            deployment.activation,
            Kind.SHIFT_PLANNED,
            actor=actor,
            agency=Agency(pk=person.home_agency_id),
            deployment=deployment,
            subject=person.supporter,
            detail=f"{days}x{deployment.shift_hours}h",
        )
        audit_record(
            action=AuditAction.DEPLOYMENT_SHIFTS_CHANGED,
            actor=actor,
            agency=deployment.activation.lead_agency,
            obj=deployment,
            request=request,
        )
    return new


def shift_swap(*, actor, shift: DeploymentShift, to_person: DeployedSupporter, request=None) -> DeploymentShift:
    """Hand a shift not yet started to another confirmed supporter of the deployment: the old shift records the
    swap, a new one is made. The limits are not checked here: the planner flags anyone a swap puts over them."""
    deployment = shift.deployment
    _require(actor, deployment.activation, COORDINATE)
    _under_way(deployment)
    _confirmed(deployment, to_person)
    if to_person.pk == shift.person_id:
        raise ValidationError("Choose someone else to take the shift.", code="same_person")
    with transaction.atomic():
        locked = DeploymentShift.objects.select_for_update().filter(pk=shift.pk, deployment=deployment).first()
        if locked is None or locked.swapped_to_id is not None:
            raise ValidationError("This shift was already swapped.", code="already_swapped")
        if locked.checked_in_at is not None or locked.starts_at <= timezone.now():
            raise ValidationError("Only a shift that has not started can be swapped.", code="started")
        new = DeploymentShift.objects.create(
            deployment=deployment,
            person=to_person,
            starts_at=locked.starts_at,
            ends_at=locked.ends_at,
            created_by=actor,
        )
        DeploymentShift.objects.filter(pk=locked.pk).update(swapped_to=new)
        _event(
            deployment.activation,
            Kind.SHIFT_SWAPPED,
            actor=actor,
            agency=Agency(pk=to_person.home_agency_id),
            deployment=deployment,
            subject=to_person.supporter,
            detail=f"shift-{locked.pk}-to-{new.pk}",
        )
        audit_record(
            action=AuditAction.DEPLOYMENT_SHIFTS_CHANGED,
            actor=actor,
            agency=deployment.activation.lead_agency,
            obj=deployment,
            request=request,
        )
    return new


@dataclass
class PlannerDay:
    day: datetime.date
    on_shift: int
    wanted: int

    @property
    def gap(self) -> int:
        return max(0, self.wanted - self.on_shift)


def planner(deployment: Deployment) -> dict:
    """The planner's grid: each day of the deployment against each confirmed person, coverage per day against
    `supporters_wanted`, and each person's shifts with what they break. One statement."""
    shifts = DeploymentShift.objects.filter(person=OuterRef("pk"), swapped_to__isnull=True).order_by("starts_at")
    people = list(
        DeployedSupporter.objects.filter(deployment=deployment, status=DeployedSupporter.Status.CONFIRMED)
        .select_related("supporter", "home_agency")
        .annotate(shift_rows=inline_rows(shifts, *SHIFT_FIELDS))
        .order_by("home_agency__name", "supporter__full_name", "pk")
    )
    days = [
        deployment.starts_on + datetime.timedelta(days=n)
        for n in range((deployment.ends_on - deployment.starts_on).days + 1)
    ]
    grid = [PlannerDay(day=day, on_shift=0, wanted=deployment.supporters_wanted) for day in days]
    for person in people:
        person.planned = inline_instances(DeploymentShift, person.shift_rows)
        person.problems = rotation_problems(deployment, person.planned)
        by_day: dict[datetime.date, list[DeploymentShift]] = {}
        for shift in person.planned:
            by_day.setdefault(_local_day(shift.starts_at), []).append(shift)
        person.cells = [by_day.get(day.day, []) for day in grid]
        for day in grid:
            if by_day.get(day.day):
                day.on_shift += 1
    now = timezone.now()
    swappable = [
        (shift, person)
        for person in people
        for shift in person.planned
        if shift.checked_in_at is None and shift.starts_at > now
    ]
    return {
        "people": people,
        "grid": grid,
        "gaps": sum(1 for day in grid if day.gap),
        "over_limit": [p for p in people if p.problems],
        "swappable": sorted(swappable, key=lambda pair: pair[0].starts_at),
    }


# --- Check-in and check-out ------------------------------------------------------------------------------------


def _may_act_for(actor, shift: DeploymentShift) -> str:
    """'self' when the actor holds the shift's place, 'coordinator' when they coordinate the activation."""
    if deployed_places(actor).filter(pk=shift.person_id, status=DeployedSupporter.Status.CONFIRMED).exists():
        return "self"
    if COORDINATE in activation_perms_for(actor, shift.deployment.activation):
        return "coordinator"
    raise ValidationError("You hold no rights on this shift.", code="no_rights")


def _on_site_recorded(shift: DeploymentShift, kind: str, action: str, *, actor, who: str, at, request) -> None:
    """A check-in or check-out in the timeline (dated when it took place; `who`: self or coordinator) and the audit
    trail, under the supporter's home agency."""
    person = shift.person
    home = Agency(pk=person.home_agency_id)
    _event(
        shift.deployment.activation,
        kind,
        actor=actor,
        agency=home,
        deployment=shift.deployment,
        subject=person.supporter,
        detail=who,
        at=at,
    )
    audit_record(action=action, actor=actor, agency=home, obj=shift, request=request)


def shift_check_in(*, actor, shift: DeploymentShift, request=None, now=None) -> bool:
    """Check in on site, the time taken here. The supporter themselves or a coordinator for them (the event keeps
    who did it, and for whom). A double tap or a second device checks in once: False when it was already done."""
    now = now or timezone.now()
    deployment = shift.deployment
    who = _may_act_for(actor, shift)
    _under_way(deployment)
    if shift.swapped_to_id is not None:
        raise ValidationError("This shift was handed to someone else.", code="swapped")
    if shift.person.status != DeployedSupporter.Status.CONFIRMED:
        raise ValidationError("This supporter is no longer on the deployment.", code="not_confirmed")
    if now < shift.starts_at - DUE_WITHIN:
        raise ValidationError("Check in from two hours before the shift starts.", code="too_early")
    if now >= shift.ends_at:
        raise ValidationError("This shift has ended.", code="ended")
    with transaction.atomic():
        done = DeploymentShift.objects.filter(pk=shift.pk, checked_in_at__isnull=True, swapped_to__isnull=True).update(
            checked_in_at=now
        )
        if not done:
            return False
        _on_site_recorded(
            shift, Kind.CHECKED_IN, AuditAction.DEPLOYMENT_CHECKED_IN, actor=actor, who=who, at=now, request=request
        )
    shift.checked_in_at = now
    return True


def shift_check_out(*, actor, shift: DeploymentShift, request=None, now=None) -> bool:
    """Check out, the time taken here; once (False when it was already done, or never checked in)."""
    now = now or timezone.now()
    who = _may_act_for(actor, shift)
    if shift.checked_in_at is None:
        raise ValidationError("Check in first.", code="not_checked_in")
    with transaction.atomic():
        done = DeploymentShift.objects.filter(
            pk=shift.pk, checked_in_at__isnull=False, checked_out_at__isnull=True
        ).update(checked_out_at=now)
        if not done:
            return False
        _on_site_recorded(
            shift, Kind.CHECKED_OUT, AuditAction.DEPLOYMENT_CHECKED_OUT, actor=actor, who=who, at=now, request=request
        )
    shift.checked_out_at = now
    return True


def shift_state(shift: DeploymentShift, now: datetime.datetime) -> str:
    """on_site, done, overdue (started more than 30 minutes ago, no check-in), due (starts within 2 h or has
    started), missed (ended without a check-in) or later."""
    if shift.checked_in_at is not None:
        return "done" if shift.checked_out_at is not None else "on_site"
    if now >= shift.ends_at:
        return "missed"
    if now >= shift.starts_at + OVERDUE_AFTER:
        return "overdue"
    if now >= shift.starts_at - DUE_WITHIN:
        return "due"
    return "later"


def site_shifts(deployment: Deployment, *, person: DeployedSupporter | None = None) -> list[DeploymentShift]:
    """The check-in page: shifts not swapped away, of one person (their own page) or of everyone confirmed (the
    coordinator's), from yesterday on, each with its state. One statement."""
    now = timezone.now()
    shifts = DeploymentShift.objects.filter(
        deployment=deployment,
        swapped_to__isnull=True,
        person__status=DeployedSupporter.Status.CONFIRMED,
        ends_at__gte=now - datetime.timedelta(days=1),
    ).select_related("person__supporter", "person__home_agency")
    if person is not None:
        shifts = shifts.filter(person=person)
    rows = list(shifts.order_by("starts_at", "pk")[:200])
    for shift in rows:
        shift.state = shift_state(shift, now)
    return rows


def shift_for_site(deployment: Deployment, shift_id, *, person: DeployedSupporter | None) -> DeploymentShift | None:
    shifts = DeploymentShift.objects.filter(deployment=deployment).select_related(
        "deployment__activation", "person__supporter"
    )
    if person is not None:
        shifts = shifts.filter(person=person)
    try:
        return shifts.filter(pk=int(shift_id)).first()
    except (TypeError, ValueError, OverflowError):
        return None


# --- The board -------------------------------------------------------------------------------------------------

ENDED = (DeployedSupporter.Status.RELEASED, DeployedSupporter.Status.DEMOBILIZED)
DEPLOYMENT_FIELDS = ("id", "uuid", "reporting_location", "starts_on", "ends_on", "supporters_wanted", "status")
PERSON_FIELDS = ("id", "deployment_id", "status", "ended_at")


def _rows_with_names(queryset, fields: tuple[str, ...], person: str) -> ArraySubquery:
    """`inline_rows`, plus the supporter's name and home agency (`person` is the path to the DeployedSupporter)."""
    names = {"who": F(f"{person}supporter__full_name"), "home": F(f"{person}home_agency__name")}
    return ArraySubquery(queryset.values(row=JSONObject(**{f: F(f) for f in fields}, **names)))


def board_deployments_inline() -> dict:
    """What the board shows of the deployments under way, read in the activation's own statement
    (`activation_view(annotate=...)`, network/inline.py): the deployments, the recent shifts of their confirmed
    people, and the people released or demobilised."""
    since = timezone.now() - datetime.timedelta(hours=12)
    under_way = Q(deployment__activation=OuterRef("pk"), deployment__status__in=UNDER_WAY)
    deployments = Deployment.objects.filter(activation=OuterRef("pk"), status__in=UNDER_WAY).order_by("starts_on", "pk")
    shifts = DeploymentShift.objects.filter(
        under_way,
        person__status=DeployedSupporter.Status.CONFIRMED,
        swapped_to__isnull=True,
        ends_at__gte=since,
    ).order_by("starts_at", "pk")
    ended = DeployedSupporter.objects.filter(under_way, status__in=ENDED).order_by("home_agency__name", "pk")
    return {
        "site_deployment_rows": inline_rows(deployments, *DEPLOYMENT_FIELDS),
        "deployment_shift_rows": _rows_with_names(shifts, (*SHIFT_FIELDS, "deployment_id"), "person__"),
        "deployment_ended_rows": _rows_with_names(ended, PERSON_FIELDS, ""),
    }


def _named(model, rows, fields) -> list[tuple]:
    """(instance, name, home agency) from rows read by `_rows_with_names`."""
    own = [{f: row[f] for f in fields} for row in rows or ()]
    return list(zip(inline_instances(model, own), [(r["who"], r["home"]) for r in rows or ()], strict=True))


def board_deployments(activation) -> list[dict]:
    """For each deployment under way: who is on site now (since when), who is due (a shift within 2 h, no
    check-in), who is overdue to check in, and who has been released or demobilised. Read with the activation when
    it was loaded with `board_deployments_inline()`, else in one statement here."""
    if not hasattr(activation, "site_deployment_rows"):
        activation = type(activation).objects.annotate(**board_deployments_inline()).get(pk=activation.pk)
    now = timezone.now()
    sections = {
        d.pk: {"deployment": d, "on_site": [], "due": [], "overdue": [], "ended": []}
        for d in inline_instances(Deployment, activation.site_deployment_rows)
    }
    shift_fields = (*SHIFT_FIELDS, "deployment_id")
    for shift, (who, home) in _named(DeploymentShift, activation.deployment_shift_rows, shift_fields):
        state = shift_state(shift, now)
        if state in ("on_site", "due", "overdue") and shift.deployment_id in sections:
            sections[shift.deployment_id][state].append({"who": who, "home": home, "shift": shift})
    for person, (who, home) in _named(DeployedSupporter, activation.deployment_ended_rows, PERSON_FIELDS):
        if person.deployment_id in sections:
            sections[person.deployment_id]["ended"].append({"who": who, "home": home, "person": person})
    return list(sections.values())


# --- Overdue check-ins ------------------------------------------------------------------------------------------


def check_ins_overdue_escalate(*, now: datetime.datetime | None = None) -> int:
    """Beat, every five minutes: each shift of a deployment under way started more than 30 minutes ago without a
    check-in, not yet escalated, is marked once (a conditional UPDATE), written in the timeline with the supporter
    concerned, and the deployment's requester and the lead agency's coordinators are told by e-mail, one message
    per deployment, with no name in it (the board says who). Returns how many shifts were escalated."""
    now = now or timezone.now()
    candidates = list(
        DeploymentShift.objects.filter(
            deployment__status__in=UNDER_WAY,
            person__status=DeployedSupporter.Status.CONFIRMED,
            swapped_to__isnull=True,
            checked_in_at__isnull=True,
            escalated_at__isnull=True,
            starts_at__lte=now - OVERDUE_AFTER,
            ends_at__gt=now,
        ).select_related("deployment__activation__lead_agency", "deployment__requested_by", "person__supporter")
    )
    per_deployment: dict[int, list[DeploymentShift]] = {}
    for shift in candidates:
        with transaction.atomic():
            marked = DeploymentShift.objects.filter(
                pk=shift.pk, escalated_at__isnull=True, checked_in_at__isnull=True
            ).update(escalated_at=now)
            if not marked:
                continue
            _event(
                shift.deployment.activation,
                Kind.CHECK_IN_OVERDUE,
                agency=Agency(pk=shift.person.home_agency_id),
                deployment=shift.deployment,
                subject=shift.person.supporter,
                detail="no-check-in",
            )
            per_deployment.setdefault(shift.deployment_id, []).append(shift)
    for shifts in per_deployment.values():
        deployment = shifts[0].deployment
        activation = deployment.activation
        coordinators = _lead_coordinator_emails(activation)
        requester = [deployment.requested_by.email] if deployment.requested_by.is_active else []
        recipients = sorted({*requester, *coordinators} - {""})
        link = settings.MUSTER_BASE_URL + reverse("activation_board", kwargs={"activation_uuid": activation.uuid})
        with transaction.atomic():
            notify(
                recipients,
                "deployment_check_in_overdue",
                {"count": len(shifts), "location": deployment.reporting_location, "link": link},
            )
    return sum(len(s) for s in per_deployment.values())


def _lead_coordinator_emails(activation) -> list[str]:
    """The e-mail addresses of the lead agency's active coordinators (none while the agency is suspended)."""
    return list(
        Membership.objects.filter(
            agency_id=activation.lead_agency_id,
            agency__status=Agency.Status.ACTIVE,
            role=Role.COORDINATOR,
            is_active=True,
            user__is_active=True,
        ).values_list("user__email", flat=True)
    )


def held_follow_ups_overdue_escalate(*, today: datetime.date | None = None) -> int:
    """Daily, after the agencies' follow-up reminders: the scheduled follow-ups of members held through a deployment
    (`OutreachTarget.via_deployment`) that are past due and not yet escalated go to the lead agency's coordinators,
    one e-mail per activation with due dates and owners, never a member. The supporter's home coordinators are not
    told (they do not see whom their people support), so without this nobody would be. Marked once
    (`target_follow_ups_mark_escalated`); an activation whose lead has no coordinator waits for one. Returns how many
    were escalated."""
    today = today or timezone.localdate()
    overdue = TargetFollowUp.objects.filter(
        done_at__isnull=True,
        escalated_at__isnull=True,
        due_on__lt=today,
        target__via_deployment__isnull=False,
        target__assigned_supporter__isnull=False,
        target__merged_into__isnull=True,
        target__activation__names_destroyed_at__isnull=True,
    ).select_related("target__activation__lead_agency", "target__assigned_supporter")
    per_activation: dict[int, list[TargetFollowUp]] = {}
    for follow_up in overdue.order_by("due_on", "pk"):
        per_activation.setdefault(follow_up.target.activation_id, []).append(follow_up)
    escalated = 0
    for follow_ups in per_activation.values():
        activation = follow_ups[0].target.activation
        coordinators = _lead_coordinator_emails(activation)
        if not coordinators:
            continue
        with transaction.atomic():
            claimed = set(
                target_follow_ups_mark_escalated(
                    agency=activation.lead_agency, follow_up_ids=[f.pk for f in follow_ups]
                )
            )
            rows = [
                {"due": f.due_on, "owner": f.target.assigned_supporter.get_full_name(), "activation": True}
                for f in follow_ups
                if f.pk in claimed
            ]
            if rows:
                link = settings.MUSTER_BASE_URL + reverse(
                    "activation_board", kwargs={"activation_uuid": activation.uuid}
                )
                notify(
                    coordinators,
                    "follow_up_overdue",
                    {"overdue": rows, "agency_name": activation.lead_agency.name, "link": link},
                )
        escalated += len(rows)
    return escalated


# --- The supporters' own wellbeing ------------------------------------------------------------------------------


def has_checked_out(person: DeployedSupporter) -> bool:
    return DeploymentShift.objects.filter(person=person, checked_out_at__isnull=False).exists()


def wellbeing_of(person: DeployedSupporter) -> SupporterWellbeing | None:
    return SupporterWellbeing.objects.filter(person=person).order_by("-offered_at", "-pk").first()


def wellbeing_choose(
    *, actor, person: DeployedSupporter, choice: str, request=None, today: datetime.date | None = None
) -> SupporterWellbeing:
    """The supporter's own choice at check-out: a defusing (due the next day), a check-in in a few days (due in 3
    days) or not now. Once per person per deployment: choosing again changes it (and reopens it). Owned by their
    home agency's coordinators; written to the audit log as a care action, never to the activation's timeline."""
    if choice not in SupporterWellbeing.Choice.values:
        raise ValidationError({"choice": "Choose one of the three."}, code="choice")
    if person.supporter_id != getattr(actor, "pk", None):
        raise ValidationError("Only the supporter chooses their own follow-up.", code="no_rights")
    if not has_checked_out(person):
        raise ValidationError("This is offered once you have checked out.", code="not_checked_out")
    today = today or timezone.localdate()
    days = WELLBEING_DUE_DAYS.get(choice)
    due_on = today + datetime.timedelta(days=days) if days is not None else None
    with transaction.atomic():
        DeployedSupporter.objects.select_for_update().filter(pk=person.pk).first()
        wellbeing = SupporterWellbeing.objects.filter(person=person).order_by("-offered_at", "-pk").first()
        if wellbeing is None:
            wellbeing = SupporterWellbeing.objects.create(
                person=person, home_agency_id=person.home_agency_id, choice=choice, due_on=due_on
            )
        else:
            wellbeing.choice, wellbeing.due_on = choice, due_on
            wellbeing.offered_at, wellbeing.done_at, wellbeing.done_by = timezone.now(), None, None
            wellbeing.save(update_fields=["choice", "due_on", "offered_at", "done_at", "done_by"])
        audit_record(
            action=AuditAction.DEPLOYMENT_WELLBEING,
            actor=actor,
            agency=Agency(pk=person.home_agency_id),
            obj=wellbeing,
            request=request,
        )
    return wellbeing


def wellbeing_inline(agency: Agency) -> dict:
    """The agency's own deployed supporters to check on (a defusing or a check-in they asked for, not done), read
    in the statement of the agency's team (users) as `deployed_checks`: for its coordinators' follow-ups page. The
    choice, the deployment's location and dates, the due date; nothing said."""
    checks = (
        SupporterWellbeing.objects.filter(person__supporter=OuterRef("pk"), home_agency=agency, done_at__isnull=True)
        .exclude(choice=SupporterWellbeing.Choice.NOT_NOW)
        .order_by("due_on", "pk")
    )
    row = JSONObject(
        id=F("id"),
        choice=F("choice"),
        due_on=F("due_on"),
        location=F("person__deployment__reporting_location"),
        starts_on=F("person__deployment__starts_on"),
        ends_on=F("person__deployment__ends_on"),
    )
    return {"deployed_checks": ArraySubquery(checks.values(row=row))}


def wellbeing_open(users) -> list[dict]:
    """The checks `wellbeing_inline` read with each user, by due date: id, name, choice (its label), due_on,
    location, starts_on, ends_on."""
    labels = dict(SupporterWellbeing.Choice.choices)
    checks = [
        {
            **row,
            "name": user.get_full_name(),
            "choice": labels.get(row["choice"], ""),
            "due_on": datetime.date.fromisoformat(row["due_on"]) if row["due_on"] else None,
            "starts_on": datetime.date.fromisoformat(row["starts_on"]),
            "ends_on": datetime.date.fromisoformat(row["ends_on"]),
        }
        for user in users
        for row in getattr(user, "deployed_checks", None) or ()
    ]
    return sorted(checks, key=lambda c: (c["due_on"] or datetime.date.max, c["id"]))


def wellbeing_done(*, actor, agency: Agency, wellbeing: SupporterWellbeing, request=None) -> bool:
    """A coordinator of the supporter's home agency records the check as done (once)."""
    if wellbeing.home_agency_id != agency.pk:
        raise ValidationError("Not found.", code="not_found")
    coordinator = Membership.objects.filter(
        user=actor, agency=agency, agency__status=Agency.Status.ACTIVE, role=Role.COORDINATOR, is_active=True
    ).exists()
    if not coordinator:
        raise ValidationError("Only the agency's coordinators record this.", code="no_rights")
    with transaction.atomic():
        done = SupporterWellbeing.objects.filter(Q(pk=wellbeing.pk), done_at__isnull=True).update(
            done_at=timezone.now(), done_by=actor
        )
        if done:
            audit_record(
                action=AuditAction.DEPLOYMENT_WELLBEING, actor=actor, agency=agency, obj=wellbeing, request=request
            )
    return bool(done)
