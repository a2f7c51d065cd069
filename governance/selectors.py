"""Reads of the network's agreements and protocols: the rules activations apply, and what the pages show."""

from __future__ import annotations

import datetime

from django.db.models import Exists, Q, QuerySet

from agencies.models import Agency
from governance.models import ActivationProtocol, Agreement
from network.models import Network

# --- Agreements ---------------------------------------------------------------------------------------


def agreement_covering(first: Agency, second: Agency, scope: str, on: datetime.date | None = None) -> Agreement | None:
    """The agreement in force that lets `first` and `second` work together in `scope`, if any.
    An agency is always covered with itself."""
    if first.pk == second.pk:
        return None
    both = Agreement.objects.filter(parties=first).filter(parties=second).values("pk")
    return (
        Agreement.objects.in_force(on)
        .filter(network_id=first.network_id, scopes__contains=[scope])
        .filter(Q(network_wide=True) | Q(pk__in=both))
        .order_by("expires_on")
        .first()
    )


def agencies_covered(lead: Agency, scope: str, on: datetime.date | None = None) -> QuerySet[Agency]:
    """The agencies an agreement in force lets work with `lead` in `scope` (the lead included): every agency
    of the network under a network-wide agreement, else the parties to the lead's agreements. A queryset, so a
    caller can use it as a subquery."""
    agreements = Agreement.objects.in_force(on).filter(network_id=lead.network_id, scopes__contains=[scope])
    return Agency.objects.filter(network_id=lead.network_id).filter(
        Q(Exists(agreements.filter(network_wide=True)))
        | Q(pk__in=Agency.objects.filter(agreements__in=agreements.filter(parties=lead)).values("pk"))
        | Q(pk=lead.pk)
    )


def agencies_covered_with(lead: Agency, scope: str, on: datetime.date | None = None) -> list[int]:
    """Ids of `agencies_covered`, in one statement."""
    return list(agencies_covered(lead, scope, on).order_by("pk").values_list("pk", flat=True))


# --- Activation protocols ----------------------------------------------------------------------------


def protocol_for(network: Network, incident_type: str) -> ActivationProtocol | None:
    return (
        ActivationProtocol.objects.filter(network=network, incident_type=incident_type)
        .prefetch_related("steps")
        .first()
    )


def steps_as_text(protocol: ActivationProtocol) -> str:
    """The protocol's steps in the same line format `parse_steps` reads, for editing."""

    def timing(hours: int) -> str:
        return f"{hours // 24}d" if hours and hours % 24 == 0 else f"{hours}h"

    lines = []
    for step in protocol.steps.all():
        window = f"{timing(step.not_before_hours)}-" if step.not_before_hours else ""
        lines.append(f"{window}{timing(step.due_hours)} {step.title}")
    return "\n".join(lines)
