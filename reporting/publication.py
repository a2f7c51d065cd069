"""What a published period contains, and how its figures are decided: counted once from the agency
schemas (through the builder, by entry date), made into cells of atomic counts, and protected together
by the suppression engine with everything already published that overlaps them (docs/reporting.md)."""

from __future__ import annotations

import calendar
import datetime
import statistics
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils import timezone

from activations.models import OutreachTarget
from agencies.models import Agency, Discipline
from agencies.selectors import supporters_of
from agencies.tenancy import agency_schema
from governance.models import IncidentType
from network.models import Network, Region, Vocabulary, VocabularyTerm
from reporting import builder
from reporting.builder import period_start
from reporting.models import AgencyReportingGranularity, PeriodKind, Publication, PublishedFigure

# Agencies with fewer supporters and coordinators than this on their roster, when a year's granularity is
# decided, publish by quarter that whole year.
SMALL_AGENCY_ROSTER = 10
# How far back the first publication of a network reaches.
HISTORY_MONTHS = 24

SINGLE_VALUED = [Vocabulary.INITIATOR, Vocabulary.CONTACT_MODE, Vocabulary.REFERRAL]
MULTI_VALUED = [Vocabulary.INTERVENTION, Vocabulary.TOPIC]
BREAKDOWN_TABLES = [
    (Vocabulary.INTERVENTION, "Encounters by intervention"),
    (Vocabulary.TOPIC, "Encounters by topic"),
    (Vocabulary.INITIATOR, "Encounters by who reached out"),
    (Vocabulary.CONTACT_MODE, "Encounters by contact mode"),
    (Vocabulary.REFERRAL, "Referrals by type"),
]
# Additive counts: a region's quarter is the sum of its agencies' counts over the quarter's periods.
FLOWS = (
    "followups_due",
    "followups_completed",
    "followups_on_time",
    "first_contacts",
    "referrals_made",
    "referrals_attended",
)
# Members' requests and check-ins (docs/members.md): counts only, additive like the flows above.
MEMBER_FLOWS = ("member_requests", "member_requests_contacted", "checkins_sent", "checkins_answered")
MEMBER_ROWS = [
    ("member_requests", "requests", "Members' requests for a peer"),
    ("member_requests_contacted", "contacted", "Requests contacted"),
    ("checkins_sent", "checkins_sent", "Check-ins sent"),
    ("checkins_answered", "checkins_answered", "Check-ins answered"),
]
# A count row that has a median shown beside it (when the count allows): (table, key) -> the median's label.
MEDIANS = {
    ("first_contact", "contacts"): "Median minutes from the incident to the first contact",
    ("members", "contacted"): "Median minutes from a member's request to the first contact",
}
# Issue 18: referrals to the directory, and first referred appointments attended.
REFERRAL_ROWS = [
    ("referrals_made", "Referrals made"),
    ("referrals_attended", "First appointments attended"),
]
FOLLOWUP_ROWS = [
    ("followups_due", "Follow-ups due"),
    ("followups_completed", "Follow-ups completed"),
    ("followups_on_time", "Follow-ups completed on time"),
    ("followups_overdue", "Follow-ups overdue at the end of the period"),
]


def period_end(kind: str, start: datetime.date) -> datetime.date:
    months = 3 if kind == PeriodKind.QUARTER else 1
    month = start.month + months - 1
    return datetime.date(start.year, month, calendar.monthrange(start.year, month)[1])


def months_of(quarter: datetime.date) -> list[datetime.date]:
    return [quarter.replace(month=quarter.month + i) for i in range(3)]


def period_label(kind: str, start: datetime.date) -> str:
    if kind == PeriodKind.QUARTER:
        return f"Q{(start.month - 1) // 3 + 1} {start.year}"
    return start.strftime("%B %Y")


def due_date(network: Network, kind: str, start: datetime.date, *, delay: int) -> datetime.date:
    """The day a period is published: `delay` days after its last day."""
    return period_end(kind, start) + datetime.timedelta(days=delay)


def network_start(network: Network) -> datetime.date | None:
    """The month the network's earliest agency joined."""
    created = Agency.objects.filter(network=network).order_by("created_at").values_list("created_at", flat=True).first()
    return None if created is None else period_start(PeriodKind.MONTH, timezone.localtime(created).date())


def first_period(network: Network, today: datetime.date) -> datetime.date | None:
    """The first month a network publishes: when its earliest agency joined, at most HISTORY_MONTHS back."""
    start = network_start(network)
    if start is None:
        return None
    earliest = today.replace(day=1)
    for _ in range(HISTORY_MONTHS):
        earliest = (earliest - datetime.timedelta(days=1)).replace(day=1)
    # Whole quarters only: a quarter's figures sum its months, so none of its months may be left out.
    earliest = period_start(PeriodKind.QUARTER, earliest)
    return max(start, earliest)


def due_periods(network: Network, *, today: datetime.date, delay: int) -> list[tuple[str, datetime.date]]:
    """Every month and quarter whose publication day has come, oldest first; a quarter after its last month."""
    first = first_period(network, today)
    if first is None:
        return []
    periods = []
    month = first
    while due_date(network, PeriodKind.MONTH, month, delay=delay) <= today:
        periods.append((PeriodKind.MONTH, month))
        quarter = period_start(PeriodKind.QUARTER, month)
        if month == months_of(quarter)[2]:
            periods.append((PeriodKind.QUARTER, quarter))
        month = (month + datetime.timedelta(days=32)).replace(day=1)
    return periods


# --- Cells -------------------------------------------------------------------------------------------------


@dataclass
class Row:
    """One figure to publish, before suppression: where it belongs, and the atoms it adds up."""

    agency_id: int | None
    region_id: int | None
    table: str
    key: str
    label: str
    position: int
    atoms: frozenset
    value: int
    # Set on rows published earlier (fixed), whose period differs from the one being published.
    period: str = ""

    @property
    def cell_key(self) -> tuple:
        return (self.period, self.agency_id, self.region_id, self.table, self.key)


@dataclass
class PeriodData:
    """The true counts of one period: atom -> value, and what an attacker knows (sums that are equal)."""

    atoms: dict = field(default_factory=dict)
    equalities: list = field(default_factory=list)


def _vocabulary_rows(network: Network) -> dict[str, list[tuple[str, str]]]:
    """(concept, label) of every vocabulary in the standard's order: the current version's terms by position,
    then concepts only earlier versions had, by label. Never by any count, so row order tells nothing."""
    terms = list(
        VocabularyTerm.objects.filter(standard__network=network)
        .order_by("-standard__version", "position", "id")
        .values_list("standard__version", "vocabulary", "concept", "label")
    )
    newest = max((version for version, *_rest in terms), default=0)
    labels: dict[tuple[str, str], str] = {}
    current: dict[str, list[str]] = defaultdict(list)
    older: dict[str, list[str]] = defaultdict(list)
    for version, vocabulary, concept, label in terms:
        if (vocabulary, concept) in labels:
            continue
        labels[(vocabulary, concept)] = label  # the newest label of each concept
        (current if version == newest else older)[vocabulary].append(concept)
    return {
        vocabulary: [
            (c, labels[(vocabulary, c)])
            for c in current[vocabulary] + sorted(older[vocabulary], key=lambda c: labels[(vocabulary, c)])
        ]
        for vocabulary in set(current) | set(older)
    }


def atom(agency_id: int, kind: str, start: datetime.date, name: str) -> tuple:
    return ("agency", agency_id, kind, start.isoformat(), name)


def agency_counts(agency: Agency, *, kind: str, start: datetime.date) -> dict[str, float]:
    """The true counts of one agency for one period, by entry date, read from its schema through the
    builder: {"encounters": n, "topic:grief": n, "activations:ois": n, "followups_due": n, ...}."""
    end = period_end(kind, start)
    after = end + datetime.timedelta(days=1)
    with agency_schema(agency):
        rows = builder.agency_metrics(agency, since=start, today=after)
        overdue = builder.followups_overdue_at(after)
    counts: dict[str, float] = defaultdict(float)
    for row_kind, period, metric, dimension, key, value in rows:
        if row_kind != kind or period != start:
            continue
        if metric == "encounters":
            counts[f"{dimension}:{key}" if dimension else "encounters"] += value
        elif metric == "activations":
            counts[f"activations:{key}"] += value
        elif metric in (
            "supporters_active",
            "first_contacts",
            "first_contact_minutes_median",
            "member_request_minutes_median",
            *FLOWS,
            *MEMBER_FLOWS,
        ):
            counts[metric] = value
    counts["followups_overdue"] = overdue
    counts["roster"] = supporters_of(agency).count()
    return counts


def agency_atoms(agency_id: int, kind: str, start: datetime.date, counts: dict, vocabularies: dict) -> PeriodData:
    """One agency's atoms for one of its periods, and the equalities between them."""
    data = PeriodData()

    def put(name: str) -> tuple:
        key = atom(agency_id, kind, start, name)
        data.atoms[key] = int(counts.get(name, 0))
        return key

    total = put("encounters")
    for name in ("supporters_active", "roster", "followups_overdue", "first_contacts", *FLOWS, *MEMBER_FLOWS):
        put(name)
    for vocabulary in SINGLE_VALUED + MULTI_VALUED:
        concepts = [put(f"{vocabulary}:{concept}") for concept, _label in vocabularies.get(vocabulary, [])]
        # Encounters entered with a concept that no standard lists any more (cannot happen today) still
        # count in the total; a catch-all atom keeps the equality true.
        known = {f"{vocabulary}:{concept}" for concept, _label in vocabularies.get(vocabulary, [])}
        rest = sum(v for k, v in counts.items() if k.startswith(f"{vocabulary}:") and k not in known)
        data.atoms[atom(agency_id, kind, start, f"{vocabulary}:*")] = int(rest)
        concepts.append(atom(agency_id, kind, start, f"{vocabulary}:*"))
        if vocabulary in SINGLE_VALUED:
            # Every encounter has exactly one code of each single-valued field: its rows add up to the total.
            data.equalities.append((frozenset(concepts), frozenset([total])))
        else:
            _multi_valued_facts(data, agency_id, kind, start, vocabulary, concepts, total)
    # Completed on time is a part of completed.
    late = atom(agency_id, kind, start, "followups_late")
    data.atoms[late] = int(counts.get("followups_completed", 0)) - int(counts.get("followups_on_time", 0))
    data.equalities.append(
        (
            frozenset([atom(agency_id, kind, start, "followups_on_time"), late]),
            frozenset([atom(agency_id, kind, start, "followups_completed")]),
        )
    )
    for incident in IncidentType.values:
        put(f"activations:{incident}")
    # Contacted requests are a part of the requests, answered check-ins a part of those sent.
    for part, whole in (("member_requests_contacted", "member_requests"), ("checkins_answered", "checkins_sent")):
        rest = atom(agency_id, kind, start, f"{part}:rest")
        data.atoms[rest] = int(counts.get(whole, 0)) - int(counts.get(part, 0))
        data.equalities.append(
            (frozenset([atom(agency_id, kind, start, part), rest]), frozenset([atom(agency_id, kind, start, whole)]))
        )
    return data


def _multi_valued_facts(data: PeriodData, agency_id, kind, start, vocabulary, concepts: list, total: tuple) -> None:
    """What anyone knows of a multi-valued field, as equalities with atoms that are never published: each
    encounter has at least one code (the rows add up to the total or more), and no code is counted more than
    once per encounter (each row is at most the total). Added only when the data bear them out."""
    values = {a: data.atoms[a] for a in concepts}
    extra = sum(values.values()) - data.atoms[total]
    if extra >= 0:
        surplus = atom(agency_id, kind, start, f"{vocabulary}:surplus")
        data.atoms[surplus] = extra
        data.equalities.append((frozenset(concepts), frozenset([total, surplus])))
    for concept_atom, value in values.items():
        if value and data.atoms[total] - value >= 0:
            without = (*concept_atom, "without")
            data.atoms[without] = data.atoms[total] - value
            data.equalities.append((frozenset([concept_atom, without]), frozenset([total])))


def agency_rows(
    agency_id: int | None,
    region_id: int | None,
    atoms_of,
    value_of,
    vocabularies: dict,
) -> list[Row]:
    """The figures of one scope (an agency, a region, or the network): `atoms_of(name)` gives the atoms that
    make up count `name` in this scope, `value_of(atoms)` their true sum."""
    rows: list[Row] = []

    def add(table: str, key: str, label: str, position: int, atoms: frozenset) -> None:
        rows.append(Row(agency_id, region_id, table, key, label, position, atoms, value_of(atoms)))

    total = atoms_of("encounters")
    add("encounters", "total", "Encounters", 0, total)
    for vocabulary, _title in BREAKDOWN_TABLES:
        concepts = [
            (c, label)
            for c, label in vocabularies.get(vocabulary, [])
            if vocabulary != Vocabulary.REFERRAL or c != "none"  # referrals made: "none" is not one
        ]
        union: frozenset = frozenset()
        for position, (concept, label) in enumerate(concepts):
            atoms = atoms_of(f"{vocabulary}:{concept}")
            union |= atoms
            add(vocabulary, concept, label, position, atoms)
        table_total = total if vocabulary in (Vocabulary.INITIATOR, Vocabulary.CONTACT_MODE) else union
        add(vocabulary, "total", "Total", len(concepts), table_total)
    union = frozenset()
    for position, (incident, label) in enumerate(IncidentType.choices):
        atoms = atoms_of(f"activations:{incident}")
        union |= atoms
        add("activations", incident, label, position, atoms)
    add("activations", "total", "Total", len(IncidentType.choices), union)
    for position, (name, label) in enumerate(FOLLOWUP_ROWS):
        add("followups", name, label, position, atoms_of(name))
    for position, (name, label) in enumerate(REFERRAL_ROWS):
        add("referrals", name, label, position, atoms_of(name))
    add("participation", "supporters_active", "Supporters active", 0, atoms_of("supporters_active"))
    add("participation", "roster", "Supporters on the roster", 1, atoms_of("roster"))
    add("first_contact", "contacts", "Affected members contacted", 0, atoms_of("first_contacts"))
    for position, (name, key, label) in enumerate(MEMBER_ROWS):
        add("members", key, label, 2 * position, atoms_of(name))
    return rows


@dataclass
class Plan:
    """Everything one publication decides: new rows, the fixed (already published) rows they overlap, the
    equalities an attacker knows, and the medians to show when their counts allow."""

    rows: list[Row] = field(default_factory=list)
    fixed: list[tuple[Row, bool]] = field(default_factory=list)
    equalities: list = field(default_factory=list)
    atoms: dict = field(default_factory=dict)
    medians: dict = field(default_factory=dict)  # cell_key of a count row -> median minutes

    def value_of(self, atoms: frozenset) -> int:
        return sum(self.atoms.get(a, 0) for a in atoms)


def granularity(agency: Agency, year: int) -> str:
    """The agency's granularity for `year`, decided now (from its roster) if this is its first publication
    of the year. Never changed afterwards: the table refuses updates."""
    decided = AgencyReportingGranularity.objects.filter(agency=agency, year=year).first()
    if decided is None:
        roster = supporters_of(agency).count()
        kind = PeriodKind.QUARTER if roster < SMALL_AGENCY_ROSTER else PeriodKind.MONTH
        decided = AgencyReportingGranularity.objects.create(agency=agency, year=year, kind=kind)
    return decided.kind


def agencies_in(network: Network, end: datetime.date) -> list[Agency]:
    """Active agencies that had joined by the period's last day."""
    return [
        agency
        for agency in Agency.objects.filter(network=network, status=Agency.Status.ACTIVE)
        .select_related("region")
        .order_by("pk")
        if timezone.localtime(agency.created_at).date() <= end
    ]


def plan_month(network: Network, month: datetime.date) -> Plan:
    """A month publishes the agencies that publish by month this year: each alone (their atoms are disjoint)."""
    plan = Plan()
    vocabularies = _vocabulary_rows(network)
    for agency in agencies_in(network, period_end(PeriodKind.MONTH, month)):
        if granularity(agency, month.year) != PeriodKind.MONTH:
            continue
        _add_agency(plan, agency, PeriodKind.MONTH, month, vocabularies, new=True)
    return plan


def _add_agency(plan: Plan, agency: Agency, kind: str, start: datetime.date, vocabularies: dict, *, new: bool) -> dict:
    counts = agency_counts(agency, kind=kind, start=start)
    data = agency_atoms(agency.pk, kind, start, counts, vocabularies)
    plan.atoms.update(data.atoms)
    plan.equalities += data.equalities
    if new:
        rows = agency_rows(
            agency.pk, None, lambda name: frozenset([atom(agency.pk, kind, start, name)]), plan.value_of, vocabularies
        )
        plan.rows += rows
        if "first_contact_minutes_median" in counts:
            plan.medians[("", agency.pk, None, "first_contact", "contacts")] = counts["first_contact_minutes_median"]
        if "member_request_minutes_median" in counts:
            plan.medians[("", agency.pk, None, "members", "contacted")] = counts["member_request_minutes_median"]
    return counts


def plan_quarter(network: Network, quarter: datetime.date) -> Plan:
    """A quarter publishes the agencies that publish by quarter, and every region's and the network's figures.
    The months that monthly agencies published are passed as fixed: the quarter's figures are sums of them."""
    plan = Plan()
    vocabularies = _vocabulary_rows(network)
    end = period_end(PeriodKind.QUARTER, quarter)
    published_months = {
        p.period_start: p
        for p in Publication.objects.filter(
            network=network, period_kind=PeriodKind.MONTH, period_start__in=months_of(quarter)
        )
    }
    contributions: dict[int, Callable[[str], frozenset]] = {}
    agencies = agencies_in(network, end)
    for agency in agencies:
        if granularity(agency, quarter.year) == PeriodKind.QUARTER:
            _add_agency(plan, agency, PeriodKind.QUARTER, quarter, vocabularies, new=True)
            contributions[agency.pk] = _quarterly_atoms(agency.pk, quarter)
            continue
        months = [
            m for m, publication in published_months.items() if publication.figures.filter(agency=agency).exists()
        ]
        for m in sorted(months):
            _add_agency(plan, agency, PeriodKind.MONTH, m, vocabularies, new=False)
            plan.fixed += _fixed_rows(plan, agency, published_months[m], m, vocabularies)
        # Counts that do not add up over months (distinct supporters, the roster) get quarter atoms of
        # their own, which the agency never publishes.
        counts = agency_counts(agency, kind=PeriodKind.QUARTER, start=quarter)
        for name in ("supporters_active", "roster"):
            plan.atoms[atom(agency.pk, PeriodKind.QUARTER, quarter, name)] = int(counts.get(name, 0))
        contributions[agency.pk] = _monthly_atoms(agency.pk, quarter, sorted(months))

    scopes: list[tuple[int | None, list[Agency]]] = [(None, agencies)]
    for region in Region.objects.filter(network=network).order_by("name"):
        scopes.append((region.pk, [a for a in agencies if a.region_id == region.pk]))
    for region_id, members in scopes:

        def atoms_of(name: str, members=members) -> frozenset:
            return frozenset().union(*(contributions[a.pk](name) for a in members)) if members else frozenset()

        plan.rows += agency_rows(None, region_id, atoms_of, plan.value_of, vocabularies)
        targets = OutreachTarget.objects.filter(home_agency__in=members)
        minutes = builder._first_contact_minutes(targets, PeriodKind.QUARTER, quarter).get(quarter)
        if minutes:
            plan.medians[("", None, region_id, "first_contact", "contacts")] = statistics.median(minutes)

    def network_total(members: list[Agency]) -> frozenset:
        return frozenset().union(*(contributions[a.pk]("encounters") for a in members))

    for position, (discipline, label) in enumerate(Discipline.choices):
        members = [a for a in agencies if a.discipline == discipline]
        atoms = network_total(members)
        plan.rows.append(Row(None, None, "by_discipline", discipline, label, position, atoms, plan.value_of(atoms)))
    for position, region in enumerate(Region.objects.filter(network=network).order_by("name")):
        atoms = network_total([a for a in agencies if a.region_id == region.pk])
        plan.rows.append(Row(None, None, "by_region", region.slug, region.name, position, atoms, plan.value_of(atoms)))
    return plan


def _quarterly_atoms(agency_id: int, quarter: datetime.date):
    def atoms_of(name: str) -> frozenset:
        return frozenset([atom(agency_id, PeriodKind.QUARTER, quarter, name)])

    return atoms_of


def _monthly_atoms(agency_id: int, quarter: datetime.date, months: list[datetime.date]):
    def atoms_of(name: str) -> frozenset:
        if not months:
            return frozenset()
        if name in ("supporters_active", "roster"):
            return frozenset([atom(agency_id, PeriodKind.QUARTER, quarter, name)])
        if name == "followups_overdue":  # as of the quarter's end: the last month's figure
            return frozenset([atom(agency_id, PeriodKind.MONTH, months[-1], name)])
        return frozenset(atom(agency_id, PeriodKind.MONTH, m, name) for m in months)

    return atoms_of


def _fixed_rows(plan: Plan, agency: Agency, publication: Publication, month: datetime.date, vocabularies) -> list:
    """The agency's published figures of one month, as (row, shown): the true value recomputed (counts by
    entry date do not move), the shown value exactly as published."""
    published = {(f.table, f.key): f.value for f in publication.figures.filter(agency=agency)}
    rows = agency_rows(
        agency.pk,
        None,
        lambda name: frozenset([atom(agency.pk, PeriodKind.MONTH, month, name)]),
        plan.value_of,
        vocabularies,
    )
    fixed = []
    for row in rows:
        if (row.table, row.key) not in published:
            continue
        shown = published[(row.table, row.key)]
        row.period = month.isoformat()
        if shown is not None:
            row.value = shown  # what the month published is a fact, whatever is recomputed now
        fixed.append((row, shown is not None))
    return fixed


def median_shown(count: int | None, threshold: int) -> bool:
    """A median or a rate is shown only when the count behind it is shown and reaches the threshold."""
    return count is not None and count >= threshold


def write(publication: Publication, plan: Plan, decided: dict) -> int:
    """Store the decided figures, and the medians their counts allow. Returns how many."""
    figures = []
    for row in plan.rows:
        value = decided[row.cell_key]
        figures.append(
            PublishedFigure(
                publication=publication,
                agency_id=row.agency_id,
                region_id=row.region_id,
                table=row.table,
                key=row.key,
                label=row.label[:120],
                value=value,
                position=row.position,
            )
        )
        median = plan.medians.get(row.cell_key)
        median_label = MEDIANS.get((row.table, row.key))
        if median_label:
            figures.append(
                PublishedFigure(
                    publication=publication,
                    agency_id=row.agency_id,
                    region_id=row.region_id,
                    table=row.table,
                    key="median_minutes",
                    label=median_label,
                    value=round(median) if median is not None and median_shown(value, publication.threshold) else None,
                    position=row.position + 1,
                )
            )
    PublishedFigure.objects.bulk_create(figures)
    return len(figures)
