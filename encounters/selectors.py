"""Who sees which encounters, and how much of them. Every encounter page reads through here."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from django.core import signing
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone

from activations import selectors as activation_selectors
from agencies.models import Agency, Membership, Role
from agencies.tenancy import agency_schema
from encounters.models import CheckIn, CheckInPlan, DisclosureRecord, Encounter, FollowUp, Referral

FULL = "full"  # author and co-supporters: everything, notes included
CODED = "coded"  # coordinator, and the clinician a referral is addressed to: coded fields only, never notes


def encounters_visible_to(membership: Membership) -> QuerySet[Encounter]:
    user_id = membership.user_id
    qs = Encounter.objects.all()
    if membership.role == Role.COORDINATOR:
        return qs
    if membership.role == Role.CLINICIAN:
        return qs.filter(referred_to_id=user_id)
    if membership.role == Role.PEER_SUPPORTER:
        return qs.filter(Q(author_id=user_id) | Q(co_supporters__id=user_id)).distinct()
    return qs.none()  # chiefs and agency admins see no rows: aggregates only


def encounter_access_level(encounter: Encounter, membership: Membership) -> str | None:
    user_id = membership.user_id
    if encounter.author_id == user_id or encounter.co_supporters.filter(id=user_id).exists():
        return FULL
    if membership.role == Role.COORDINATOR:
        return CODED
    if membership.role == Role.CLINICIAN and encounter.referred_to_id == user_id:
        return CODED
    if encounter.follow_ups.filter(owner_id=user_id).exists():
        return CODED  # a reassigned follow-up owner needs the context, not the notes
    return None


def encounter_for_viewer(membership: Membership, encounter_uuid) -> tuple[Encounter, str]:
    encounter = (
        Encounter.objects.select_related("standard", "author", "referred_to", "activation", "checkin_plan")
        .filter(uuid=encounter_uuid)
        .first()
    )
    level = encounter_access_level(encounter, membership) if encounter else None
    if level is None:
        raise Http404("Not found.")
    return encounter, level


def follow_ups_owned_by(user) -> QuerySet[FollowUp]:
    """Open follow-ups first, overdue before due before upcoming (ordering by due date does that)."""
    return (
        FollowUp.objects.filter(owner=user, status=FollowUp.Status.OPEN)
        .select_related("encounter")
        .order_by("due_on", "created_at")
    )


def follow_up_for_owner_or_coordinator(membership: Membership, follow_up_uuid) -> FollowUp:
    follow_up = FollowUp.objects.select_related("owner", "encounter").filter(uuid=follow_up_uuid).first()
    if follow_up is None:
        raise Http404("Not found.")
    if follow_up.owner_id != membership.user_id and membership.role != Role.COORDINATOR:
        raise Http404("Not found.")
    return follow_up


def disclosures_all() -> QuerySet[DisclosureRecord]:
    return DisclosureRecord.objects.select_related("encounter", "recorded_by")


# --- A supporter's follow-ups: one list, whatever created them --------------------------------------------


@dataclass(frozen=True)
class SupporterFollowUp:
    """One row of "My follow-ups": an agency follow-up (after an encounter, `follow_up`) or an activation's
    scheduled one (the protocol's 7/30/90 days, `scheduled`); each row keeps its own action."""

    due_on: datetime.date
    follow_up: FollowUp | None = None
    scheduled: object | None = None  # activations.models.TargetFollowUp

    @property
    def is_scheduled(self) -> bool:
        return self.scheduled is not None

    @property
    def key(self) -> str:
        return f"s{self.scheduled.pk}" if self.scheduled is not None else f"f{self.follow_up.pk}"


@dataclass(frozen=True)
class SupporterFollowUps:
    """What "My follow-ups" shows: the open ones of both kinds, merged by due date, and the last ones done."""

    open: list[SupporterFollowUp]
    done: list[FollowUp]
    scheduled_done: list  # activations.models.TargetFollowUp


def follow_ups_of_supporter(membership: Membership, *, done_limit: int = 10) -> SupporterFollowUps:
    """The follow-ups a supporter owns in this agency, agency and activation ones: two statements, one per
    kind, each reading the open ones and the last `done_limit` done together."""
    user = membership.user
    latest_first = (F("completed_at").desc(nulls_last=True), "-pk")
    recent = FollowUp.objects.filter(owner=user, status=FollowUp.Status.DONE).order_by(*latest_first)
    # What the member answered in the check-in that made a follow-up, if one did: shown to its owner, the
    # member's supporter, only (the team's list does not read it).
    answers = CheckIn.objects.filter(follow_up=OuterRef("pk")).values("answer")[:1]
    own = list(
        FollowUp.objects.filter(Q(owner=user, status=FollowUp.Status.OPEN) | Q(pk__in=recent.values("pk")[:done_limit]))
        .select_related("encounter", "referral__resource")
        .annotate(checkin_answer=Subquery(answers))
        .order_by(*latest_first)
    )
    scheduled, scheduled_done = activation_selectors.scheduled_follow_ups_of_supporter(
        agency=membership.agency, supporter=user, done_limit=done_limit
    )
    rows = [SupporterFollowUp(due_on=f.due_on, follow_up=f) for f in own if f.status == FollowUp.Status.OPEN]
    rows += [SupporterFollowUp(due_on=s.due_on, scheduled=s) for s in scheduled]
    done = [f for f in own if f.status == FollowUp.Status.DONE]  # latest first, as read
    return SupporterFollowUps(
        open=sorted(rows, key=lambda row: (row.due_on, not row.is_scheduled, row.key)),
        done=done,
        scheduled_done=scheduled_done,
    )


def follow_up_counts_of_supporter(membership: Membership, *, team: bool = False) -> dict[str, int]:
    """What the home page shows: the supporter's open and overdue follow-ups of both kinds and, with `team`,
    the team's overdue ones (the activation follow-ups held through the agency count too). Two statements,
    one per kind."""
    today = timezone.localdate()
    late = Q(due_on__lt=today)

    def counts(mine: Q, team_only: Q | None = None) -> dict:
        wanted = {"open": Count("pk", filter=mine), "overdue": Count("pk", filter=mine & late)}
        team_late = late & team_only if team_only is not None else late
        return wanted | ({"team_overdue": Count("pk", filter=team_late)} if team else {})

    own = FollowUp.objects.filter(status=FollowUp.Status.OPEN).aggregate(**counts(Q(owner_id=membership.user_id)))
    # The supporter's own counts keep the members they hold on a deployment (issue 19); the team's do not.
    scheduled = activation_selectors.scheduled_follow_ups_open(
        agency=membership.agency, include_deployed=True
    ).aggregate(
        **counts(Q(target__assigned_supporter_id=membership.user_id), team_only=Q(target__via_deployment__isnull=True))
    )
    return {name: own[name] + scheduled[name] for name in own}


def scheduled_follow_up_of(membership: Membership, follow_up_id: int):
    """An open scheduled follow-up of a member this supporter holds through this agency, or 404."""
    found = activation_selectors.scheduled_follow_up_of_supporter(
        agency=membership.agency, supporter=membership.user, follow_up_id=follow_up_id
    )
    if found is None:
        raise Http404("Not found.")
    return found


# --- The paged lists' filters (encounters/forms.py holds the forms) -----------------------------------------


def encounters_filtered(encounters: QuerySet[Encounter], data: dict) -> QuerySet[Encounter]:
    """The encounter list's filters: supporter (author or co-supporter), date range, status."""
    if data.get("supporter"):
        user_id = data["supporter"].pk
        co_supported = Encounter.co_supporters.through.objects.filter(user_id=user_id).values("encounter_id")
        encounters = encounters.filter(Q(author_id=user_id) | Q(pk__in=co_supported))
    if data.get("since"):
        encounters = encounters.filter(occurred_on__gte=data["since"])
    if data.get("until"):
        encounters = encounters.filter(occurred_on__lte=data["until"])
    if data.get("status") == "open-follow-up":
        encounters = encounters.filter(
            pk__in=FollowUp.objects.filter(status=FollowUp.Status.OPEN).values("encounter_id")
        )
    elif data.get("status") == "legal-hold":
        encounters = encounters.filter(legal_hold=True)
    return encounters


def follow_ups_of_team_filtered(data: dict) -> QuerySet[FollowUp]:
    """The coordinator's team list: open by default (as before), or overdue, done or all; by owner. Open ones by
    due date; done ones most recently completed first."""
    status = data.get("status") or "open"
    qs = FollowUp.objects.select_related("owner", "encounter", "referral__resource")
    if data.get("owner"):
        qs = qs.filter(owner=data["owner"])
    if status == "open":
        return qs.filter(status=FollowUp.Status.OPEN).order_by("due_on", "created_at", "pk")
    if status == "overdue":
        return qs.filter(status=FollowUp.Status.OPEN, due_on__lt=timezone.localdate()).order_by(
            "due_on", "created_at", "pk"
        )
    if status == "done":
        return qs.filter(status=FollowUp.Status.DONE).order_by("-completed_at", "-pk")
    return qs.order_by("due_on", "created_at", "pk")


def disclosures_filtered(records: QuerySet[DisclosureRecord], data: dict) -> QuerySet[DisclosureRecord]:
    if data.get("notice") == "pending":
        records = records.filter(written_notice_sent_on__isnull=True)
    elif data.get("notice") == "sent":
        records = records.filter(written_notice_sent_on__isnull=False)
    if data.get("since"):
        records = records.filter(disclosed_at__date__gte=data["since"])
    if data.get("until"):
        records = records.filter(disclosed_at__date__lte=data["until"])
    return records


# --- Check-ins (docs/members.md) ------------------------------------------------------------------------------

_CHECKIN_SALT = "muster.checkin"
CHECKIN_LINK_DAYS = 30  # a check-in link works this long after it was sent


def checkin_token(agency, checkin: CheckIn) -> str:
    """The check-in link's token: the agency and the check-in, signed (DJANGO_SECRET_KEY), so it cannot be
    guessed or altered; it names nobody."""
    return signing.TimestampSigner(salt=_CHECKIN_SALT).sign_object({"a": agency.pk, "c": str(checkin.uuid)})


def checkin_for_token(token: str):
    """(agency, check-in with its plan) for a valid, unexpired token of an active agency; None for anything else."""
    try:
        data = signing.TimestampSigner(salt=_CHECKIN_SALT).unsign_object(
            token, max_age=datetime.timedelta(days=CHECKIN_LINK_DAYS)
        )
        agency_id, checkin_uuid = int(data["a"]), uuid.UUID(str(data["c"]))
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    agency = Agency.objects.filter(pk=agency_id, status=Agency.Status.ACTIVE).select_related("network").first()
    if agency is None:
        return None
    with agency_schema(agency):
        checkin = CheckIn.objects.select_related("plan").filter(uuid=checkin_uuid, sent_at__isnull=False).first()
    return (agency, checkin) if checkin is not None else None


def checkins_of_encounter(encounter: Encounter, user) -> list[CheckIn]:
    """The check-ins of an encounter's plan (read with it by `encounter_for_viewer`), for the member's supporter
    only: anyone else gets none, and no query is made for them."""
    try:
        plan = encounter.checkin_plan
    except CheckInPlan.DoesNotExist:
        return []
    return list(plan.checkins.all()) if plan.supporter_id == user.pk else []


# --- Referrals: seen by whoever sees their encounter -----------------------------------------------------------


def referral_for_viewer(membership: Membership, referral_uuid) -> tuple[Referral, str]:
    """A referral and the viewer's level on its encounter (FULL or CODED), or 404: exactly as the encounter."""
    referral = (
        Referral.objects.select_related("encounter", "resource", "follow_up", "next_referral__resource")
        .filter(uuid=referral_uuid)
        .first()
    )
    level = encounter_access_level(referral.encounter, membership) if referral else None
    if level is None:
        raise Http404("Not found.")
    return referral, level


def referral_may_update(referral: Referral, membership: Membership, level: str) -> bool:
    """The supporter who holds the referral's follow-up, the encounter's supporters, and the coordinator."""
    return (
        membership.role == Role.COORDINATOR
        or (membership.role == Role.PEER_SUPPORTER and level == FULL)
        or referral.follow_up.owner_id == membership.user_id
    )
