"""Reads of members' requests: the queues, who may see a request's contact, who may take it, and its target."""

from __future__ import annotations

import datetime
import re

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from agencies.models import Agency, Certification, Membership, Role
from agencies.roster.selectors import readiness_problem
from agencies.selectors import supporting_memberships
from governance.models import Scope
from governance.selectors import agencies_covered
from members.models import MemberRequest, RequestAddress
from network.models import NetworkPolicy

TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,32}")
OPEN_STATUSES = (MemberRequest.Status.NEW, MemberRequest.Status.ASSIGNED)


def address_of(agency: Agency) -> RequestAddress | None:
    return RequestAddress.objects.filter(agency=agency).first()


def address_for_token(token: str) -> RequestAddress | None:
    """The live address with this token, of an active agency; None for anything else (rotated, unknown)."""
    if not TOKEN_SHAPE.fullmatch(token or ""):
        return None  # not a token we make (NUL bytes, other characters): never sent to the database
    return (
        RequestAddress.objects.filter(token=token, agency__status=Agency.Status.ACTIVE)
        .select_related("agency__network__policy")
        .first()
    )


def first_contact_due_at(row: MemberRequest, policy: NetworkPolicy) -> datetime.datetime:
    """When the member should have been first contacted: the policy's target from when they (first) asked."""
    if row.urgent:
        return row.asked_at + datetime.timedelta(minutes=policy.request_urgent_first_contact_minutes)
    return row.asked_at + datetime.timedelta(hours=policy.request_first_contact_hours)


def _queue_rows(rows: QuerySet[MemberRequest]) -> QuerySet[MemberRequest]:
    return rows.select_related("agency", "assigned_to", "assigned_agency").order_by("priority", "asked_at")


def queue_of_agency(agency: Agency, *, status: str = "open") -> QuerySet[MemberRequest]:
    """The agency coordinators' queue: their members' requests to be served by their own agency."""
    rows = MemberRequest.objects.filter(agency=agency, served_by=MemberRequest.ServedBy.OWN)
    return _queue_rows(_by_status(rows, status))


def queue_of_regions(region_ids: set[int], *, status: str = "open") -> QuerySet[MemberRequest]:
    """The regional coordinators' queue: requests from their region's agencies for another agency's supporter."""
    rows = MemberRequest.objects.filter(served_by=MemberRequest.ServedBy.OTHER, agency__region_id__in=region_ids)
    return _queue_rows(_by_status(rows, status))


def assigned_to(user, agency: Agency) -> QuerySet[MemberRequest]:
    """The requests a supporter took in `agency` (their own or another agency's members)."""
    rows = MemberRequest.objects.filter(assigned_to=user, assigned_agency=agency).exclude(
        status=MemberRequest.Status.CLOSED
    )
    return _queue_rows(rows)


def _by_status(rows: QuerySet[MemberRequest], status: str) -> QuerySet[MemberRequest]:
    if status == "open":
        return rows.filter(status__in=(*OPEN_STATUSES, MemberRequest.Status.CONTACTED))
    if status in MemberRequest.Status.values:
        return rows.filter(status=status)
    return rows


def cross_agency_offered(agency: Agency) -> bool:
    """Whether the request page offers "someone from another agency": a cross-agency outreach agreement in force
    covers the agency with at least one other active agency."""
    return (
        agencies_covered(agency, Scope.CROSS_AGENCY_OUTREACH)
        .filter(status=Agency.Status.ACTIVE)
        .exclude(pk=agency.pk)
        .exists()
    )


def contact_visible_to(row: MemberRequest, user, *, as_coordinator: bool) -> bool:
    """Whoever the member allowed: the supporter who took the request, and the coordinator only if the member
    said so. Never anyone once the contact is destroyed."""
    if row.contact_destroyed_at is not None or not row.contact:
        return False
    if row.assigned_to_id is not None and row.assigned_to_id == user.pk:
        return True
    return as_coordinator and row.coordinator_may_see_contact


def serving_agencies(row: MemberRequest) -> QuerySet[Agency]:
    """The agencies whose supporters may take the request: the member's own agency, or, for "another agency",
    every other active agency a cross-agency outreach agreement in force covers with it."""
    if not row.cross_agency:
        return Agency.objects.filter(pk=row.agency_id, status=Agency.Status.ACTIVE)
    return (
        agencies_covered(row.agency, Scope.CROSS_AGENCY_OUTREACH)
        .filter(status=Agency.Status.ACTIVE)
        .exclude(pk=row.agency_id)
    )


def ready_supporters(row: MemberRequest, *, on: datetime.date | None = None) -> list[Membership]:
    """Who may take the request: supporters of a serving agency that the roster says are ready (designated,
    trained, available: `readiness_problem`, as callouts use), by agency and name."""
    on = on or timezone.localdate()
    memberships = (
        supporting_memberships()
        .filter(agency__in=serving_agencies(row))
        .select_related("user", "agency", "profile")
        .prefetch_related(Prefetch("certifications", queryset=Certification.objects.all()))
        .order_by("agency__name", "user__full_name", "user__email")
    )
    return [m for m in memberships if not readiness_problem(m, on=on)]


def coordinators_of(agency: Agency) -> QuerySet[Membership]:
    return Membership.objects.filter(agency=agency, is_active=True, role=Role.COORDINATOR).select_related("user")


def request_for_contact(*, user, agency: Agency, request_uuid) -> MemberRequest:
    """The request a supporter logs a contact for: given to them, in this agency, and not closed."""
    row = (
        MemberRequest.objects.filter(uuid=request_uuid, assigned_to=user, assigned_agency=agency)
        .exclude(status=MemberRequest.Status.CLOSED)
        .select_related("agency")
        .first()
    )
    if row is None:
        raise ValidationError(
            "That request is not given to you in this agency, or it is closed.", code="request_not_yours"
        )
    return row


def relation_of(row: MemberRequest, agency: Agency) -> str:
    """The encounter's recipient relation for a request's member, as the documentation standard codes it."""
    if row.who == MemberRequest.Who.FAMILY:
        return "family"
    if row.who == MemberRequest.Who.RETIREE:
        return "retiree"
    return "own-agency" if row.agency_id == agency.pk else "other-agency"
