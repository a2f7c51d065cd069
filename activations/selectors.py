"""Reads behind the activation pages: the live board, a supporter's assignments, the summary."""

from __future__ import annotations

import datetime
from collections import Counter

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from activations.models import (
    Activation,
    ActivationEvent,
    ActivationGroupObjectPermission,
    CalloutResponse,
    OutreachTarget,
    TargetFollowUp,
)
from agencies.access import granting_role_groups
from network.access import network_roles_for
from network.models import NetworkRole

DEFAULT_NO_CONTACT_HOURS = 4


def activations_for_user(user) -> QuerySet[Activation]:
    """Activations the user may open: through the grants of their active memberships in active agencies
    (never through a suspended agency), or as a network role."""
    ids = set(
        ActivationGroupObjectPermission.objects.filter(group__name__in=granting_role_groups(user)).values_list(
            "content_object_id", flat=True
        )
    )
    for role in network_roles_for(user):
        scope = Activation.objects.filter(network=role.network)
        if role.role == NetworkRole.Role.REGIONAL_COORDINATOR:
            scope = scope.filter(lead_agency__region=role.region)
        ids |= set(scope.values_list("pk", flat=True))
    return Activation.objects.filter(pk__in=ids).select_related("lead_agency").order_by("-opened_at")


def activations_open_for(agency) -> QuerySet[Activation]:
    """Activations an agency takes part in that still accept encounters (open or demobilized)."""
    return (
        Activation.objects.filter(participations__agency=agency)
        .exclude(status=Activation.Status.CLOSED)
        .order_by("-opened_at")
    )


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
    all_targets = list(
        OutreachTarget.objects.filter(activation=activation, merged_into__isnull=True).select_related(
            "home_agency", "assigned_supporter", "assigned_agency", "follow_up_agency"
        )
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
    next_scheduled = next_scheduled_follow_ups(shown)
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
        "callouts": list(activation.callouts.select_related("supporter", "agency")),
        "callout_counts": Counter(r.answer for r in activation.callouts.all()),
        "events": list(activation.events.select_related("actor", "agency").order_by("-at", "-id")[:30]),
        "no_contact_hours": no_contact_hours,
        "updated_at": now,
    }


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


def checklist(activation: Activation) -> list[dict]:
    """The protocol checklist with each step's state now: done, overdue, due or upcoming."""
    now = timezone.now()
    return [
        {"item": item, "state": item.state(now)}
        for item in activation.checklist.select_related("done_by").order_by("due_at", "position")
    ]


def follow_up_counts(activation: Activation) -> dict:
    """Scheduled follow-ups of active members: done, overdue, due within 7 days, later."""
    today = timezone.localdate()
    pending = Q(done_at__isnull=True)
    counts = TargetFollowUp.objects.filter(target__activation=activation, target__merged_into__isnull=True).aggregate(
        total=Count("id"),
        done=Count("id", filter=Q(done_at__isnull=False)),
        overdue=Count("id", filter=pending & Q(due_on__lt=today)),
        soon=Count("id", filter=pending & Q(due_on__gte=today, due_on__lte=today + datetime.timedelta(days=7))),
    )
    return {**counts, "later": counts["total"] - counts["done"] - counts["overdue"] - counts["soon"]}


def follow_ups_of(targets: list[OutreachTarget]) -> dict[int, list[TargetFollowUp]]:
    """Each target's scheduled follow-ups, keyed by target id."""
    grouped: dict[int, list[TargetFollowUp]] = {t.pk: [] for t in targets}
    for follow_up in TargetFollowUp.objects.filter(target__in=targets).order_by("due_on"):
        grouped[follow_up.target_id].append(follow_up)
    return grouped


# --- Scheduled follow-ups as a supporter's (and an agency's) follow-ups -------------------------------------
# encounters.selectors merges these with the agency's own follow-ups into "My follow-ups", the home page
# counts and the morning reminders; the activation data stays here, read only through these selectors.


def scheduled_follow_ups_open(*, agency, supporter=None) -> QuerySet[TargetFollowUp]:
    """Open scheduled follow-ups of the members held through `agency` (by `supporter`, when given), by due
    date. Merged records and activations whose names were destroyed have none left."""
    qs = TargetFollowUp.objects.filter(
        done_at__isnull=True,
        target__assigned_agency=agency,
        target__merged_into__isnull=True,
        target__activation__names_destroyed_at__isnull=True,
    )
    if supporter is not None:
        qs = qs.filter(target__assigned_supporter=supporter)
    return qs.select_related("target", "target__activation", "target__assigned_supporter").order_by("due_on", "id")


def scheduled_follow_up_of_supporter(*, agency, supporter, follow_up_id: int) -> TargetFollowUp | None:
    return scheduled_follow_ups_open(agency=agency, supporter=supporter).filter(pk=follow_up_id).first()


def scheduled_follow_ups_recently_done_by(*, agency, supporter, limit: int = 10) -> QuerySet[TargetFollowUp]:
    return (
        TargetFollowUp.objects.filter(done_by=supporter, target__assigned_agency=agency, done_at__isnull=False)
        .select_related("target__activation")
        .order_by("-done_at")[:limit]
    )


def next_scheduled_follow_ups(targets) -> dict[int, TargetFollowUp]:
    """Each target's next open scheduled follow-up (the board's follow-up column), keyed by target id."""
    upcoming: dict[int, TargetFollowUp] = {}
    for follow_up in TargetFollowUp.objects.filter(target__in=targets, done_at__isnull=True).order_by("due_on", "id"):
        upcoming.setdefault(follow_up.target_id, follow_up)
    return upcoming
