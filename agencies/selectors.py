"""Reads of agencies, memberships and invitations that pages, services and reports share (the home
router's and the network pages' agency lists among them)."""

from __future__ import annotations

import hashlib

from django.db.models import Count, Q, QuerySet

from agencies.models import Agency, Invitation, Membership, Role
from network.request_cache import per_request

# The roles that support members: they log encounters, own follow-ups, are called out and assigned,
# and make up the peer team roster. A coordinator who also supports is a coordinator (decisions.md).
SUPPORTING_ROLES = (Role.PEER_SUPPORTER, Role.COORDINATOR)


# --- Where a user works, and the network's agencies -------------------------------------------------


def memberships_for_user(user) -> QuerySet[Membership]:
    """The agencies a user works in: active memberships of active agencies."""
    return (
        Membership.objects.filter(user=user, is_active=True, agency__status=Agency.Status.ACTIVE)
        .select_related("agency")
        .order_by("agency__name")
    )


def memberships_of(user) -> list[Membership]:
    """`memberships_for_user` as a list, read once per request (network/request_cache.py): the access
    check, the navigation and the page share it. Do not mutate it."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return []

    def read() -> list[Membership]:
        memberships = list(memberships_for_user(user))
        for membership in memberships:
            membership.user = user  # the asker: saves reading the same user row again per membership
        return memberships

    return per_request(("memberships", user.pk), read)


def agencies_for_network_user(region_ids: set[int] | None) -> QuerySet[Agency]:
    qs = Agency.objects.select_related("region").annotate(
        member_count=Count("memberships", filter=Q(memberships__is_active=True))
    )
    if region_ids is not None:
        qs = qs.filter(region_id__in=region_ids)
    return qs.order_by("region__name", "name")


# --- Peer supporters ------------------------------------------------------------------------------------


def supporting_memberships() -> QuerySet[Membership]:
    """Active memberships in a supporting role, in any agency. The one definition of "a peer supporter";
    `supporters_of` narrows it to one agency, and callers that span agencies add their own filter."""
    return Membership.objects.filter(is_active=True, role__in=SUPPORTING_ROLES)


def supporters_of(agency: Agency) -> QuerySet[Membership]:
    """The agency's peer supporters: its active memberships in a supporting role (peer supporter or
    coordinator). Whether the agency itself is active is the caller's concern."""
    return supporting_memberships().filter(agency=agency)


def clinicians_of(agency: Agency) -> QuerySet[Membership]:
    """The agency's team clinicians (active memberships): who a clinician referral may be addressed to."""
    return Membership.objects.filter(agency=agency, is_active=True, role=Role.CLINICIAN)


# --- Invitations ----------------------------------------------------------------------------------------


def token_digest(token: str) -> str:
    """What the database keeps of an invitation token (its SHA-256), never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_for_token(token: str) -> Invitation | None:
    """The usable invitation for a token, or None (unknown, expired, used or revoked)."""
    invitation = Invitation.objects.select_related("agency").filter(token_digest=token_digest(token)).first()
    if invitation is None or not invitation.is_usable or not invitation.agency.is_active:
        return None
    return invitation
