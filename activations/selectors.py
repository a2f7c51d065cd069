"""Every read of activations: the live board, a supporter's assignments, who may be called out and assigned
(and under which agency), the after-action summary and what leadership sees of it, retention."""

from __future__ import annotations

import datetime
import hashlib
from collections import Counter

from django.core.exceptions import ValidationError
from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce
from django.utils import timezone

from activations.access import deployed_places, granted_codenames
from activations.models import (
    Activation,
    ActivationEvent,
    CalloutResponse,
    ChecklistItem,
    DeployedSupporter,
    Deployment,
    DeploymentShift,
    OutreachTarget,
    Participation,
    TargetFollowUp,
)
from agencies.models import Agency, Membership
from agencies.roster.selectors import readiness_problem
from agencies.selectors import supporting_memberships
from governance.models import Scope
from governance.selectors import agencies_covered, agencies_covered_with
from network.access import network_roles_for
from network.inline import inline_instances, inline_rows
from network.models import NetworkRole
from network.privilege import profile_of
from network.selectors import policy_for
from network.suppression import Cell, protect

DEFAULT_NO_CONTACT_HOURS = 4
# Outreach that has ended: the member was reached, declined or referred. It no longer counts as a load.
FINAL_STATUSES = (OutreachTarget.Status.CONTACTED, OutreachTarget.Status.DECLINED, OutreachTarget.Status.REFERRED)


def activations_for_user(user) -> QuerySet[Activation]:
    """Activations the user may open: through the grants of their active memberships in active agencies
    (never through a suspended agency), or as a network role. One statement (the grants are a subquery)."""
    visible = Q(pk__in=granted_codenames(user).values("content_object_id"))
    # A supporter deployed to another agency's activation (issue 19) finds it here too.
    visible |= Q(pk__in=deployed_places(user).values("deployment__activation_id"))
    for role in network_roles_for(user):
        scope = Q(network_id=role.network_id)
        if role.role == NetworkRole.Role.REGIONAL_COORDINATOR:
            scope &= Q(lead_agency__region_id=role.region_id)
        visible |= scope
    return Activation.objects.filter(visible).select_related("lead_agency").order_by("-opened_at")


def activations_open_for(agency) -> QuerySet[Activation]:
    """Activations an agency takes part in that still accept encounters (open or demobilized), and those its
    supporters are deployed to (confirmed, the deployment under way: issue 19), whose contacts they log at home."""
    deployed_to = DeployedSupporter.objects.filter(
        home_agency=agency,
        status=DeployedSupporter.Status.CONFIRMED,
        deployment__status__in=[Deployment.Status.REQUESTED, Deployment.Status.ACTIVE],
    ).values("deployment__activation_id")
    taking_part = Participation.objects.filter(agency=agency).values("activation_id")
    return (
        Activation.objects.filter(Q(pk__in=taking_part) | Q(pk__in=deployed_to))
        .exclude(status=Activation.Status.CLOSED)
        .order_by("-opened_at")
    )


# The columns the board draws (templates/activations/_board_now.html, _board_more.html), so it does not build every
# column of four joined rows per member: a person is shown by `get_full_name` (full name, else e-mail), an agency by
# its name. Anything else read from these rows would cost a statement per row (the query budget test fails first).
_PERSON, _AGENCY = ("full_name", "email"), ("name",)
BOARD_TARGET_FIELDS = (
    "id", "uuid", "activation_id", "name", "role", "home_agency_id", "exposure", "added_at", "possible_duplicate_of_id",
    "assigned_supporter_id", "assigned_agency_id", "status", "attempts", "last_attempt_at", "first_contact_at",
    "next_follow_up_on", "follow_up_agency_id",
    *(f"{related}__{field}" for related in ("home_agency", "assigned_agency", "follow_up_agency") for field in _AGENCY),
    *(f"assigned_supporter__{field}" for field in _PERSON),
)  # fmt: skip
BOARD_CALLOUT_FIELDS = (
    "id", "activation_id", "supporter_id", "agency_id", "answer", "answered_via", "involved", "channel_state",
    *(f"supporter__{field}" for field in _PERSON), *(f"agency__{field}" for field in _AGENCY),
)  # fmt: skip
BOARD_EVENT_FIELDS = (
    "id", "activation_id", "at", "kind", "detail", "actor_id", "agency_id",
    *(f"actor__{field}" for field in _PERSON), *(f"agency__{field}" for field in _AGENCY),
)  # fmt: skip


def board(
    activation: Activation,
    *,
    agency_id: int | None = None,
    status: str = "",
    no_contact_hours: int = DEFAULT_NO_CONTACT_HOURS,
) -> dict:
    """Everything the coordinators' board shows. Members without a first contact after
    `no_contact_hours` come first, then unassigned ones, then the rest by when they were added."""
    now = timezone.now()
    # Each member with their scheduled follow-ups, read in the same statement (network/inline.py).
    scheduled_of = TargetFollowUp.objects.filter(target=OuterRef("pk")).order_by("due_on", "id")
    all_targets = list(
        OutreachTarget.objects.filter(activation=activation, merged_into__isnull=True)
        .select_related("home_agency", "assigned_supporter", "assigned_agency", "follow_up_agency")
        .only(*BOARD_TARGET_FIELDS)
        .annotate(scheduled=inline_rows(scheduled_of, "id", "target_id", "days_after", "due_on", "done_at"))
    )
    threshold = now - datetime.timedelta(hours=no_contact_hours)
    counts = Counter(t.status for t in all_targets)
    per_agency: dict[str, Counter] = {}
    for target in all_targets:
        per_agency.setdefault(target.home_agency.name, Counter())[target.status] += 1
    shown = [
        t
        for t in all_targets
        if (not agency_id or t.home_agency_id == agency_id) and (not status or t.status == status)
    ]

    def urgency(target):
        waiting = target.first_contact_at is None and target.added_at <= threshold
        return (not waiting, target.assigned_supporter_id is not None, target.added_at)

    shown.sort(key=urgency)
    # Every scheduled follow-up of the activation's members: the next open one per member shown, and the
    # counts above the table.
    scheduled = [f for t in all_targets for f in inline_instances(TargetFollowUp, t.scheduled)]
    next_scheduled: dict[int, TargetFollowUp] = {}
    for follow_up in scheduled:
        if follow_up.done_at is None:
            next_scheduled.setdefault(follow_up.target_id, follow_up)
    rows = [
        {
            "target": t,
            "next_follow_up": next_scheduled.get(t.pk),
            "overdue": t.first_contact_at is None and t.added_at <= threshold,
            "hours_waiting": int((now - t.added_at).total_seconds() // 3600) if t.first_contact_at is None else None,
            "duplicate": t.possible_duplicate_of_id is not None,
        }
        for t in shown
    ]
    callouts = list(activation.callouts.select_related("supporter", "agency").only(*BOARD_CALLOUT_FIELDS))
    statuses = OutreachTarget.Status
    bar, x = [], 0.0
    for s in statuses:
        share = 100 * counts.get(s.value, 0) / len(all_targets) if all_targets else 0
        if share:
            bar.append(
                {
                    "status": s.value,
                    "label": s.label,
                    "count": counts[s.value],
                    "x": round(x, 2),
                    "width": round(share, 2),
                    "middle": round(x + share / 2, 2),
                }
            )
        x += share
    return {
        "bar": bar,
        "rows": rows,
        "total": len(all_targets),
        "counts": [(s.label, counts.get(s.value, 0), s.value) for s in statuses],
        "unassigned": sum(1 for t in all_targets if t.assigned_supporter_id is None),
        "waiting": sum(1 for r in all_targets if r.first_contact_at is None and r.added_at <= threshold),
        "duplicates": sum(1 for t in all_targets if t.possible_duplicate_of_id is not None),
        "per_agency": [
            (name, [c.get(s.value, 0) for s in statuses], sum(c.values())) for name, c in sorted(per_agency.items())
        ],
        "status_labels": [s.label for s in statuses],
        "callouts": callouts,
        "callout_counts": Counter(r.answer for r in callouts),
        "escalated": sum(
            1 for r in callouts if r.channel_state == CalloutResponse.ChannelState.ESCALATED and r.answer == "pending"
        ),
        "events": list(
            activation.events.select_related("actor", "agency").only(*BOARD_EVENT_FIELDS).order_by("-at", "-id")[:30]
        ),
        "follow_ups": follow_up_counts_of(scheduled),
        "no_contact_hours": no_contact_hours,
        "updated_at": now,
    }


# What the live board shows moves with these rows; the board's poll is answered "unchanged" (204) while their version
# and the viewer's are the same, and re-drawn at least this often, for what moves with the clock alone (hours without a
# contact, a check-in falling overdue) and for the names read from other tables (people, agencies).
BOARD_REDRAWN_AT_LEAST_EVERY = 60  # seconds


def board_stamp_inline() -> dict:
    """A fingerprint of every row the live board is drawn from, read in the activation's own statement
    (`activation_view(annotate=...)`): the activation, its members and their scheduled follow-ups, the callout,
    the participating agencies and the deployments with their people and shifts, each as a sum of row hashes
    (so an insert, an update or a delete anywhere moves it), and the timeline (append-only) by count and last id."""
    # The outer row by its table name: this is for the activation's own statement, where the table is not
    # aliased (`activation_view(annotate=...)`, `Activation.objects.annotate(...)`), never for a subquery.
    a = f'"{Activation._meta.db_table}"'

    def rows(model, alias: str, where: str, join: str = "") -> str:
        table = model._meta.db_table
        hashed = f"coalesce(sum(hashtextextended({alias}::text, 0)), 0)"
        return f"(SELECT {hashed} FROM {table} {alias} {join} WHERE {where})"  # nosec B608

    targets, deployments, events = (m._meta.db_table for m in (OutreachTarget, Deployment, ActivationEvent))
    parts = [
        f"hashtextextended({a}::text, 0)",
        rows(OutreachTarget, "t", f"t.activation_id = {a}.id"),
        rows(TargetFollowUp, "f", f"o.activation_id = {a}.id", f"JOIN {targets} o ON o.id = f.target_id"),
        rows(CalloutResponse, "c", f"c.activation_id = {a}.id"),
        rows(Participation, "p", f"p.activation_id = {a}.id"),
        rows(Deployment, "d", f"d.activation_id = {a}.id"),
        rows(DeployedSupporter, "s", f"e.activation_id = {a}.id", f"JOIN {deployments} e ON e.id = s.deployment_id"),
        rows(DeploymentShift, "h", f"e.activation_id = {a}.id", f"JOIN {deployments} e ON e.id = h.deployment_id"),
        f"(SELECT count(*) || ':' || coalesce(max(v.id), 0) FROM {events} v WHERE v.activation_id = {a}.id)",  # nosec B608
    ]
    # Table names from the models, no outside input: the statement is the same for every request.
    stamp = RawSQL("md5(concat_ws('|', " + ", ".join(parts) + "))", ())  # noqa: S611  # nosec B611
    return {"board_stamp": stamp}


def board_version(activation: Activation, *, perms, query: str, now: datetime.datetime | None = None) -> str:
    """The version of the live board as shown now: the rows' fingerprint (`board_stamp_inline`), the viewer's rights,
    the filters, and the current BOARD_REDRAWN_AT_LEAST_EVERY window. Nothing on the live board depends on who
    looks beyond that, so coordinators watching the same board share a version."""
    now = now or timezone.now()
    window = int(now.timestamp() // BOARD_REDRAWN_AT_LEAST_EVERY)
    seen = "|".join((activation.board_stamp, ",".join(sorted(perms)), query, str(window)))
    return hashlib.sha256(seen.encode()).hexdigest()[:24]


def assignments_of(activation: Activation, user) -> list[OutreachTarget]:
    return list(
        OutreachTarget.objects.filter(activation=activation, assigned_supporter=user, merged_into__isnull=True)
        .select_related("home_agency", "assigned_agency")
        .order_by("added_at")
    )


def callout_of(activation: Activation, user) -> CalloutResponse | None:
    return activation.callouts.filter(supporter=user).first()


def timeline(activation: Activation) -> list[ActivationEvent]:
    return list(activation.events.select_related("actor", "agency"))


CHECKLIST_FIELDS = ("id", "position", "title", "not_before", "due_at", "done_at", "done_by_id", "done_by__full_name")


def checklist_inline() -> dict:
    """The protocol checklist, to read in the activation's own statement (`activation_view(annotate=...)`)."""
    items = ChecklistItem.objects.filter(activation=OuterRef("pk")).order_by("due_at", "position")
    return {"checklist_rows": inline_rows(items, *CHECKLIST_FIELDS)}


def checklist(activation: Activation) -> list[dict]:
    """The protocol checklist with each step's state now: done, overdue, due or upcoming. Read with the
    activation when it was loaded with `checklist_inline()`."""
    now = timezone.now()
    if hasattr(activation, "checklist_rows"):
        items = inline_instances(ChecklistItem, activation.checklist_rows)
    else:
        items = activation.checklist.select_related("done_by").order_by("due_at", "position")
    return [{"item": item, "state": item.state(now)} for item in items]


def follow_up_counts_of(follow_ups: list[TargetFollowUp]) -> dict:
    """Scheduled follow-ups of active members (the board reads them once): done, overdue, due within 7 days,
    later."""
    today, week = timezone.localdate(), timezone.localdate() + datetime.timedelta(days=7)
    counts = Counter(
        "done" if f.done_at else "overdue" if f.due_on < today else "soon" if f.due_on <= week else "later"
        for f in follow_ups
    )
    return {"total": len(follow_ups), **{kind: counts.get(kind, 0) for kind in ("done", "overdue", "soon", "later")}}


def follow_ups_of(targets: list[OutreachTarget]) -> dict[int, list[TargetFollowUp]]:
    """Each target's scheduled follow-ups, keyed by target id."""
    grouped: dict[int, list[TargetFollowUp]] = {t.pk: [] for t in targets}
    for follow_up in TargetFollowUp.objects.filter(target__in=targets).order_by("due_on"):
        grouped[follow_up.target_id].append(follow_up)
    return grouped


# --- Scheduled follow-ups as a supporter's (and an agency's) follow-ups -------------------------------------
# encounters.selectors merges these with the agency's own follow-ups into "My follow-ups", the home page
# counts and the morning reminders; the activation data stays here, read only through these selectors.


def _scheduled_open(agency) -> Q:
    """Open scheduled follow-ups of the members held through `agency`. Merged records and activations whose
    names were destroyed have none left."""
    return Q(
        done_at__isnull=True,
        target__assigned_agency=agency,
        target__merged_into__isnull=True,
        target__activation__names_destroyed_at__isnull=True,
    )


_SCHEDULED_RELATED = ("target", "target__activation", "target__assigned_supporter")


def scheduled_follow_ups_open(*, agency, supporter=None, include_deployed: bool = False) -> QuerySet[TargetFollowUp]:
    """Open scheduled follow-ups of the members held through `agency` (by `supporter`, when given), by due
    date.

    Agency-wide (no `supporter`), the members held by the agency's supporters deployed to another agency's
    activation (`OutreachTarget.via_deployment`) are left out: their home agency sees that they are deployed, not
    whom they support (issue 19). `include_deployed`: keep them, for what goes to the supporter themself (their
    morning reminder, their own counts)."""
    qs = TargetFollowUp.objects.filter(_scheduled_open(agency))
    if supporter is not None:
        qs = qs.filter(target__assigned_supporter=supporter)
    elif not include_deployed:
        qs = qs.filter(target__via_deployment__isnull=True)
    return qs.select_related(*_SCHEDULED_RELATED).order_by("due_on", "id")


def scheduled_follow_ups_of_supporter(
    *, agency, supporter, done_limit: int = 10
) -> tuple[list[TargetFollowUp], list[TargetFollowUp]]:
    """A supporter's scheduled follow-ups through `agency` for "My follow-ups", in one statement: the open
    ones by due date, and the last `done_limit` they did, latest first."""
    recent = (
        TargetFollowUp.objects.filter(done_by=supporter, target__assigned_agency=agency, done_at__isnull=False)
        .order_by("-done_at")
        .values("pk")[:done_limit]
    )
    rows = list(
        TargetFollowUp.objects.filter(
            (_scheduled_open(agency) & Q(target__assigned_supporter=supporter)) | Q(pk__in=recent)
        ).select_related(*_SCHEDULED_RELATED)
    )
    still_open = sorted((r for r in rows if r.done_at is None), key=lambda r: (r.due_on, r.pk))
    done = sorted((r for r in rows if r.done_at is not None), key=lambda r: r.done_at, reverse=True)
    return still_open, done


def scheduled_follow_up_of_supporter(*, agency, supporter, follow_up_id: int) -> TargetFollowUp | None:
    return scheduled_follow_ups_open(agency=agency, supporter=supporter).filter(pk=follow_up_id).first()


# --- Agencies, supporters and assignment ----------------------------------------------------------------


def joinable_agencies(activation: Activation) -> QuerySet[Agency]:
    """Agencies a collaboration agreement in force lets join this activation with its lead (a subquery)."""
    return agencies_covered(activation.lead_agency, Scope.JOINT_ACTIVATION)


def participating_agencies(activation: Activation) -> list[Agency]:
    return [p.agency for p in activation.participations.select_related("agency")]


def agencies_may_join(activation: Activation) -> QuerySet[Agency]:
    """The active agencies not yet taking part that a collaboration agreement in force lets join, by name."""
    taking_part = Participation.objects.filter(activation=activation).values("agency_id")
    return (
        Agency.objects.filter(network_id=activation.network_id, status=Agency.Status.ACTIVE)
        .filter(pk__in=joinable_agencies(activation).values("pk"))
        .exclude(pk__in=taking_part)
        .order_by("name")
    )


def activation_supporters(activation: Activation) -> QuerySet[Membership]:
    """Supporters who may be called out and assigned: the peer supporters of the participating agencies
    that are active (a suspended agency's supporters are skipped)."""
    return (
        supporting_memberships()
        .filter(
            agency__in=Participation.objects.filter(activation=activation).values("agency_id"),
            agency__status=Agency.Status.ACTIVE,
        )
        .select_related("user", "agency", "profile")
        .prefetch_related("certifications")
    )


def supporter_loads(activation: Activation) -> dict[int, int]:
    """Open assignments per supporter in this activation."""
    rows = (
        OutreachTarget.objects.filter(activation=activation, merged_into__isnull=True, assigned_supporter__isnull=False)
        .exclude(status__in=FINAL_STATUSES)
        .values("assigned_supporter")
        .annotate(n=Count("id"))
    )
    return {row["assigned_supporter"]: row["n"] for row in rows}


NOT_A_PARTICIPATING_SUPPORTER = "Choose a peer supporter of a participating agency."


def assignable_supporters(activation: Activation, target: OutreachTarget | None = None) -> list[dict]:
    """Supporters of participating agencies with their agency, load and whether they may be assigned
    (to `target` when given: a supporter of another agency needs a cross-agency outreach agreement).

    With them, the confirmed supporters of the activation's deployments under way (issue 19), under their home
    agency, which need not take part: flagged "deployed (<home agency>)" (they are not called out) and assignable to
    the members of any participating agency: the deployment's agreement with the lead (joint activation or mutual
    aid, checked when it was requested) covers that work, so no cross-agency outreach agreement is asked of them.
    Their row's `deployment_id` is what `target_assign` records as `OutreachTarget.via_deployment`."""
    outreach_ok = (
        set(agencies_covered_with(target.home_agency, Scope.CROSS_AGENCY_OUTREACH)) if target is not None else None
    )
    loads = supporter_loads(activation)
    people = []
    incident_date = timezone.localtime(activation.occurred_at).date()
    # Each supporter's callout answer, read with the supporter (a supporter is called out once per activation).
    callout = CalloutResponse.objects.filter(activation=activation, supporter=OuterRef("user_id"))
    # The confirmed supporters of the activation's deployments under way (issue 19), under their home agency, which
    # need not take part: read in the same statement as the participating agencies' supporters.
    deployed = DeployedSupporter.objects.filter(
        deployment__activation=activation,
        deployment__status__in=[Deployment.Status.REQUESTED, Deployment.Status.ACTIVE],
        status=DeployedSupporter.Status.CONFIRMED,
        supporter=OuterRef("user_id"),
        home_agency=OuterRef("agency_id"),
    )
    taking_part = Participation.objects.filter(activation=activation).values("agency_id")
    memberships = (
        supporting_memberships()
        .filter(agency__status=Agency.Status.ACTIVE)
        .annotate(deployed_via=Subquery(deployed.values("deployment_id")[:1]))
        .filter(Q(agency__in=taking_part) | Q(deployed_via__isnull=False))
        .select_related("user", "agency", "profile")
        .prefetch_related("certifications")
        .annotate(
            callout_answer=Subquery(callout.values("answer")[:1]),
            callout_involved=Subquery(callout.values("involved")[:1]),
            callout_supervises=Subquery(callout.values("supervises_affected")[:1]),
        )
    )
    answers = dict(CalloutResponse.Answer.choices)
    # The state privilege profile in force (network/privilege.py): designation before the incident, training hours.
    privilege = profile_of(policy_for(activation.network))
    supervisors = set(target.supervisor_ids) if target is not None else set()
    for membership in memberships.order_by("agency__name", "user__full_name"):
        answer = membership.callout_answer  # None: not called out
        blocked = readiness_problem(
            membership,
            incident_date=incident_date,
            designation_before_incident=privilege.designation_before_incident,
            min_training_hours=privilege.min_training_hours,
        )
        blocked_code = "supporter_not_ready" if blocked else ""
        if membership.callout_involved:
            blocked, blocked_code = "witness or party to the incident", "supporter_involved"
        elif membership.user_id in supervisors or (
            membership.callout_supervises and target is not None and target.home_agency_id == membership.agency_id
        ):
            blocked, blocked_code = "supervises the member (privilege would not hold)", "supporter_supervises"
        elif answer == CalloutResponse.Answer.UNAVAILABLE:
            blocked, blocked_code = "unavailable", "supporter_unavailable"
        elif (
            not blocked
            and membership.deployed_via is None
            and outreach_ok is not None
            and membership.agency_id not in outreach_ok
        ):
            blocked = f"no cross-agency outreach agreement with {target.home_agency.name}"
            blocked_code = "no_outreach_agreement"
        people.append(
            {
                "user": membership.user,
                "agency": membership.agency,
                "load": loads.get(membership.user_id, 0),
                "blocked": blocked,
                "blocked_code": blocked_code,  # the ValidationError code target_assign refuses with
                "answer": answers[answer]
                if answer
                else f"deployed ({membership.agency.name})"
                if membership.deployed_via
                else "Not called out",
                # The deployment the supporter works this activation on (issue 19): its agreement with the lead
                # covers their work for the members of any participating agency, so no cross-agency outreach
                # agreement is asked of them; target_assign marks the assignment (OutreachTarget.via_deployment).
                "deployment_id": membership.deployed_via,
            }
        )
    return people


def assignment_candidate(
    activation: Activation, target: OutreachTarget, *, supporter, agency: Agency | None = None
) -> dict:
    """The (supporter, agency) pair an assignment is made under, from `assignable_supporters`: so the
    agency is one where the supporter holds an active supporting membership, the agency is active and
    takes part, and the cross-agency outreach rule is checked for that agency. Without `agency`, the
    supporter must be assignable under exactly one agency: a member of two participating agencies is
    never assigned under one the coordinator did not choose."""
    pairs = [p for p in assignable_supporters(activation, target) if p["user"].pk == supporter.pk]
    if agency is not None:
        pairs = [p for p in pairs if p["agency"].pk == agency.pk]
    if not pairs:
        raise ValidationError(NOT_A_PARTICIPATING_SUPPORTER, code="not_a_participating_supporter")
    if len(pairs) > 1:
        raise ValidationError(
            f"{supporter.get_full_name()} supports for more than one agency here: choose the agency to assign under.",
            code="choose_agency",
        )
    return pairs[0]


# --- Outreach ---------------------------------------------------------------------------------------------


def target_for_contact(*, user, agency: Agency, target_uuid) -> OutreachTarget:
    """The outreach target a supporter is about to log a contact for, checked: assigned to them, through
    this agency, in an open activation. Anything else is refused with one message."""
    target = OutreachTarget.objects.select_related("activation").filter(uuid=target_uuid).first()
    if (
        target is None
        or target.assigned_supporter_id != user.pk
        or target.assigned_agency_id != agency.pk
        or target.activation.status == Activation.Status.CLOSED
        or target.merged_into_id is not None
        or target.activation.callouts.filter(supporter=user, involved=True).exists()
    ):
        raise ValidationError("That activation assignment is not yours in this agency, or the activation is closed.")
    return target


# --- After-action summary and retention ---------------------------------------------------------------------


def _count_of(queryset: QuerySet, **filters) -> Coalesce:
    """A subquery counting `queryset`'s rows of the outer activation (0 when there are none)."""
    rows = queryset.filter(**filters).order_by().values("activation").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(rows), 0)


def _deployment_counts(mine: OuterRef) -> dict:
    """The activation's deployments as subqueries of one row each (for `after_action_summary`): deployments (not
    cancelled), people who confirmed, the agencies they came from, the shifts checked in to and their hours (an
    open shift up to now)."""
    people = DeployedSupporter.objects.filter(deployment__activation=mine, confirmed_at__isnull=False).order_by()
    shifts = DeploymentShift.objects.filter(deployment__activation=mine, checked_in_at__isnull=False).order_by()
    worked = ExpressionWrapper(
        Coalesce(F("checked_out_at"), Value(timezone.now())) - F("checked_in_at"), output_field=DurationField()
    )

    def one(queryset, **aggregate):
        return Subquery(queryset.values("deployment__activation").annotate(**aggregate).values(*aggregate))

    return {
        "deploy_count": _count_of(Deployment.objects.exclude(status=Deployment.Status.CANCELLED), activation=mine),
        "deploy_people": Coalesce(one(people, n=Count("supporter", distinct=True)), 0),
        "deploy_agencies": Coalesce(one(people, n=Count("home_agency", distinct=True)), 0),
        "deploy_shifts": Coalesce(one(shifts, n=Count("pk")), 0),
        "deploy_worked": one(shifts, t=Sum(worked)),
    }


def after_action_summary(activation: Activation) -> dict:
    """Aggregate numbers only: safe to keep after names are destroyed and to show to chiefs.

    Two statements whatever the activation's size: its members (one row each, counted here), and every
    other count as a subquery of one row."""
    all_targets = list(
        OutreachTarget.objects.filter(activation=activation).values_list(
            "status",
            "exposure",
            "first_contact_at",
            "added_at",
            "assigned_supporter_id",
            "next_follow_up_on",
            "merged_into_id",
        )
    )
    targets = [t for t in all_targets if t[6] is None]
    statuses = Counter(t[0] for t in targets)
    contact_minutes = sorted(
        # Never negative: a contact logged before the member was listed counts as immediate.
        max(0.0, (first - added).total_seconds() / 60)
        for _, _, first, added, *_ in targets
        if first is not None
    )
    median = contact_minutes[len(contact_minutes) // 2] if contact_minutes else None
    mine = OuterRef("pk")
    scheduled = TargetFollowUp.objects.filter(target__merged_into__isnull=True).annotate(
        activation=F("target__activation")
    )
    counts = (
        Activation.objects.filter(pk=activation.pk)
        .annotate(
            agencies=_count_of(Participation.objects.all(), activation=mine),
            called_out=_count_of(CalloutResponse.objects.all(), activation=mine),
            available=_count_of(
                CalloutResponse.objects.filter(answer=CalloutResponse.Answer.AVAILABLE), activation=mine
            ),
            scheduled=_count_of(scheduled, target__activation=mine),
            scheduled_done=_count_of(scheduled, target__activation=mine, done_at__isnull=False),
            steps=_count_of(ChecklistItem.objects.all(), activation=mine),
            steps_done=_count_of(ChecklistItem.objects.all(), activation=mine, done_at__isnull=False),
            **_deployment_counts(mine),
        )
        .values(
            "agencies",
            "called_out",
            "available",
            "scheduled",
            "scheduled_done",
            "steps",
            "steps_done",
            "deploy_count",
            "deploy_people",
            "deploy_agencies",
            "deploy_shifts",
            "deploy_worked",
        )
        .get()
    )
    worked = counts["deploy_worked"] or datetime.timedelta(0)
    return {
        "agencies": counts["agencies"],
        "affected_members": len(targets),
        "duplicates_merged": len(all_targets) - len(targets),
        "by_status": {status: statuses.get(status, 0) for status in OutreachTarget.Status.values},
        "by_exposure": dict(Counter(t[1] for t in targets)),
        "supporters_called_out": counts["called_out"],
        "supporters_available": counts["available"],
        "supporters_assigned": len({t[4] for t in targets if t[4] is not None}),
        "median_minutes_to_first_contact": round(median) if median is not None else None,
        "first_contacts": len(contact_minutes),
        "follow_ups_planned": sum(1 for t in targets if t[5] is not None),
        "scheduled_follow_ups": counts["scheduled"],
        "scheduled_follow_ups_done": counts["scheduled_done"],
        "checklist_steps": counts["steps"],
        "checklist_steps_done": counts["steps_done"],
        # Regional deployment (issue 19): people who confirmed, the agencies that sent them, hours to the hour.
        "deployments": {
            "deployments": counts["deploy_count"],
            "people": counts["deploy_people"],
            "agencies": counts["deploy_agencies"],
            "hours": round(worked / datetime.timedelta(hours=1)),
            "shifts": counts["deploy_shifts"],
        },
    }


# The counts chiefs see, each the sum of some unpublished atoms, for the suppression engine.
LEADERSHIP_COUNTS = {
    "affected_members": [("status", status) for status in OutreachTarget.Status.values],
    "follow_ups_planned": [("planned",)],
    "supporters_called_out": [("called out",)],
    "supporters_assigned": [("assigned",)],
    "scheduled_follow_ups": [("scheduled", "done"), ("scheduled", "open")],
    "scheduled_follow_ups_done": [("scheduled", "done")],
}


def leadership_summary(summary: dict, *, threshold: int, participating: list[str] | None = None) -> dict:
    """What chiefs see of a closed activation, computed once at close and kept in the summary: the
    status table (in the fixed order of OutreachTarget.Status) with its total and the other counts,
    protected by the suppression engine so that no hidden count can be narrowed below the threshold
    (an attacker knows that planned follow-ups are some of the affected members and done ones some of
    the scheduled); the median time to first contact only from `threshold` contacts or more."""
    statuses = OutreachTarget.Status.values
    cells = [Cell(("status", s), frozenset({("status", s)}), int(summary["by_status"].get(s, 0))) for s in statuses]
    cells += [
        Cell(name, frozenset(atoms), int(summary.get(name) or 0))
        for name, atoms in LEADERSHIP_COUNTS.items()
        if summary.get(name) is not None
    ]
    deployed = summary.get("deployments") or None  # summaries closed before issue 19 have none
    if deployed is not None:
        cells += [
            Cell(("deployments", name), frozenset({("deployments", name)}), int(deployed.get(name) or 0))
            for name in DEPLOYMENT_COUNTS
        ]
    members = frozenset(LEADERSHIP_COUNTS["affected_members"])
    shown = protect(
        cells,
        threshold=threshold,
        equalities=[(frozenset({("planned",), ("unplanned",)}), members)],  # planned ones are some of the members
    )
    contacts = summary.get("first_contacts") or 0  # summaries saved before this count existed: no median
    median = summary.get("median_minutes_to_first_contact")
    return {
        "threshold": threshold,
        "agencies": summary.get("agencies"),
        "participating": participating,
        "by_status": [[s, shown[("status", s)]] for s in statuses],
        **{name: shown.get(name) for name in LEADERSHIP_COUNTS},
        "median_minutes_to_first_contact": median if contacts >= threshold else None,
        "median_suppressed": median is not None and contacts < threshold,
        "checklist_steps": summary.get("checklist_steps") or 0,  # protocol steps, not people
        "checklist_steps_done": summary.get("checklist_steps_done") or 0,
        "deployments": _deployments_published(deployed, shown),
    }


# The deployment counts chiefs see, each suppressed on its own below the threshold (none adds up to another).
DEPLOYMENT_COUNTS = ("deployments", "people", "agencies", "shifts")


def _deployments_published(deployed: dict | None, shown: dict) -> dict | None:
    """The after-action deployment section as chiefs see it: a count under the threshold is None (suppressed);
    the hours only beside a people count that is shown (the hours of one or two people would be theirs)."""
    if not deployed:
        return None
    published = {name: shown.get(("deployments", name)) for name in DEPLOYMENT_COUNTS}
    published["hours"] = deployed.get("hours") if published["people"] is not None else None
    return published


def activations_past_retention(*, now: datetime.datetime | None = None):
    now = now or timezone.now()
    for activation in Activation.objects.filter(status=Activation.Status.CLOSED, names_destroyed_at__isnull=True):
        days = policy_for(activation.network).activation_retention_days
        if activation.closed_at + datetime.timedelta(days=days) <= now:
            yield activation
