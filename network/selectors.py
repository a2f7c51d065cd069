"""Reads of the network: the network itself, its policy and documentation standard."""

from __future__ import annotations

from network.models import DocumentationStandard, Network, NetworkPolicy, Vocabulary, VocabularyTerm


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
