"""Reads of the network: the network itself, its policy and documentation standard."""

from __future__ import annotations

import functools

from network.models import DocumentationStandard, Network, NetworkPolicy, Vocabulary, VocabularyTerm
from network.request_cache import per_request


def network_current() -> Network | None:
    """The deployment's network (Muster runs one statewide network per deployment)."""
    return per_request("network_current", lambda: Network.objects.order_by("pk").first())


def policy_for(network: Network) -> NetworkPolicy:
    """The network's policy. A pure read: the policy is created with the network (`network_get_or_create`,
    and migration 0014 for networks made before it), so a page that reads it never writes."""
    if Network.policy.is_cached(network):  # read with the agency by the routing middleware, this request
        return network.policy
    return per_request(("policy", network.pk), lambda: NetworkPolicy.objects.get(network=network))


def standard_current(network: Network) -> DocumentationStandard | None:
    """The newest version of the documentation standard. Version 1 is published with the network
    (`network_get_or_create`, and migration 0014 for networks made before it)."""
    return per_request(("standard", network.pk), lambda: network.standards.order_by("-version").first())


def terms_by_vocabulary(standard: DocumentationStandard) -> dict[str, list[VocabularyTerm]]:
    """The standard's terms by vocabulary, in order. A published version's terms never change (a change is
    a new version, `standard_publish`), so each process reads a version's terms once."""
    grouped: dict[str, list[VocabularyTerm]] = {v.value: [] for v in Vocabulary}
    for term in _terms_of(standard.pk):
        grouped[term.vocabulary].append(term)
    return grouped


@functools.lru_cache(maxsize=64)
def _terms_of(standard_id: int) -> tuple[VocabularyTerm, ...]:
    return tuple(VocabularyTerm.objects.filter(standard_id=standard_id))
