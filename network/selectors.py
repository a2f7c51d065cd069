"""Reads shared by network pages and the home page router: the network, its policy and documentation standard."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from agencies.models import Agency, Membership
from network.models import DocumentationStandard, Network, NetworkPolicy, Vocabulary, VocabularyTerm


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


# --- The network, its policy and documentation standard ------------------------------------------------


def network_current() -> Network | None:
    """The deployment's network (Muster runs one statewide network per deployment)."""
    return Network.objects.order_by("pk").first()


def policy_for(network: Network) -> NetworkPolicy:
    """The network's policy. A pure read: the policy is created with the network (`network_get_or_create`,
    and migration 0014 for networks made before it), so a page that reads it never writes."""
    return NetworkPolicy.objects.get(network=network)


def standard_current(network: Network) -> DocumentationStandard | None:
    """The newest version of the documentation standard. Version 1 is published with the network
    (`network_get_or_create`, and migration 0014 for networks made before it)."""
    return network.standards.order_by("-version").first()


def terms_by_vocabulary(standard: DocumentationStandard) -> dict[str, list[VocabularyTerm]]:
    grouped: dict[str, list[VocabularyTerm]] = {v.value: [] for v in Vocabulary}
    for term in standard.terms.all():
        grouped[term.vocabulary].append(term)
    return grouped
