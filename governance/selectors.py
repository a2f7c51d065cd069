"""Reads of the network's agreements and protocols: the rules activations apply, and what the pages show."""

from __future__ import annotations

import datetime

from django.db.models import Exists, Q, QuerySet

from agencies.models import Agency
from governance.models import ActivationProtocol, Agreement, ResourceEntry
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


# --- The referral resource directory -------------------------------------------------------------------------

# The member's discipline as the documentation standard codes it -> the directory's (agencies.Discipline).
DISCIPLINE_OF_RECIPIENT = {"dispatch": "911", "law-enforcement": "law"}


def resources_of(network: Network) -> QuerySet[ResourceEntry]:
    return ResourceEntry.objects.filter(network=network).select_related("region").with_standing()


def resources_filtered(entries: QuerySet[ResourceEntry], data: dict) -> QuerySet[ResourceEntry]:
    """The directory list's filters (governance.forms.ResourceFilterForm)."""
    if data.get("q"):
        entries = entries.filter(name__icontains=data["q"])
    if data.get("kind"):
        entries = entries.filter(kind=data["kind"])
    if data.get("region"):
        entries = entries.filter(Q(region=data["region"]) | Q(region__isnull=True))
    if data.get("discipline"):
        entries = entries.filter(Q(disciplines__contains=[data["discipline"]]) | Q(disciplines=[]))
    if data.get("specialty"):
        entries = entries.filter(specialties__contains=[data["specialty"]])
    if data.get("language"):
        entries = entries.filter(languages__icontains=data["language"])
    if data.get("standing") == "flagged":
        entries = entries.flagged()
    elif data.get("standing") == "good":
        entries = entries.exclude(pk__in=ResourceEntry.objects.flagged().values("pk"))
    if data.get("show") != "all":
        entries = entries.filter(active=True)
    return entries


def resources_flagged_count(network: Network) -> int:
    """Active entries unconfirmed for 90 days or with expired vetting: what the state admin's home shows."""
    return ResourceEntry.objects.filter(network=network, active=True).flagged().count()


def resources_suggested(
    network: Network,
    *,
    discipline: str = "",
    region_id: int | None = None,
    specialty: str = "",
    language: str = "",
    kind: str = "",
    exclude_ids: tuple[int, ...] = (),
) -> QuerySet[ResourceEntry]:
    """The entries a referral step offers, best first: those serving the member's discipline (or every one), in
    the agency's region or statewide, with the need and the language when given; entries in good standing
    (confirmed in the last 90 days, vetting current) before flagged ones, accepting before not, short waits
    first (resources_of's order)."""
    entries = resources_of(network).filter(active=True).exclude(pk__in=exclude_ids)
    discipline = DISCIPLINE_OF_RECIPIENT.get(discipline, discipline)
    if discipline:
        entries = entries.filter(Q(disciplines__contains=[discipline]) | Q(disciplines=[]))
    if region_id:
        entries = entries.filter(Q(region_id=region_id) | Q(region__isnull=True))
    if specialty:
        entries = entries.filter(specialties__contains=[specialty])
    if language:
        entries = entries.filter(languages__icontains=language)
    if kind:
        entries = entries.filter(kind=kind)
    return entries
