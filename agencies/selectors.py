"""Reads shared by network pages and the home page router."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from agencies.models import Agency, Membership


def memberships_for_user(user) -> QuerySet[Membership]:
    """The agencies a user works in: active memberships of active agencies."""
    return (
        Membership.objects.filter(user=user, is_active=True, agency__status=Agency.Status.ACTIVE)
        .select_related("agency")
        .order_by("agency__name")
    )


def agencies_for_network_user(region_ids: set[int] | None) -> QuerySet[Agency]:
    qs = Agency.objects.select_related("region").annotate(
        member_count=Count("memberships", filter=Q(memberships__is_active=True))
    )
    if region_ids is not None:
        qs = qs.filter(region_id__in=region_ids)
    return qs.order_by("region__name", "name")
