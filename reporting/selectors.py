"""What the dashboards show, read from the snapshot tables only (never an agency schema)."""

from __future__ import annotations

import datetime
from collections import defaultdict

from django.db.models import Sum
from django.utils import timezone

from activations.models import Activation, IncidentType
from agencies.models import Agency, Discipline
from network.models import Network, Region, Vocabulary, VocabularyTerm
from reporting.builder import period_start
from reporting.models import MetricSnapshot, PeriodKind, SnapshotRun
from reporting.suppression import suppress_series

BREAKDOWNS = [
    (Vocabulary.INTERVENTION, "Encounters by intervention"),
    (Vocabulary.TOPIC, "Encounters by topic"),
    (Vocabulary.INITIATOR, "Encounters by who reached out"),
    (Vocabulary.CONTACT_MODE, "Encounters by contact mode"),
    (Vocabulary.REFERRAL, "Referrals by type"),
]
SMALL_AGENCY_ROSTER = 10


def _periods(kind: str, count: int, today: datetime.date) -> list[datetime.date]:
    periods = [period_start(kind, today)]
    while len(periods) < count:
        periods.append(period_start(kind, periods[-1] - datetime.timedelta(days=1)))
    return list(reversed(periods))


def _label(kind: str, day: datetime.date) -> str:
    if kind == PeriodKind.QUARTER:
        return f"{day.year} Q{(day.month - 1) // 3 + 1}"
    return day.strftime("%b %y") if kind == PeriodKind.MONTH else day.isoformat()


def _sum(qs, **filters) -> dict:
    return {
        row["period_start"]: row["total"]
        for row in qs.filter(**filters).values("period_start").annotate(total=Sum("value"))
    }


DASHBOARD_METRICS = [
    "encounters",
    "supporters_active",
    "roster",
    "followups_due",
    "followups_completed",
    "followups_on_time",
    "activations",
]


class _Cells:
    """The dashboard's snapshot totals, read in one query grouped by metric, dimension, key and period,
    then summed in Python along whichever of those a figure needs (the page made 16 queries before)."""

    def __init__(self, snapshots) -> None:
        self.rows = list(
            snapshots.values("metric", "dimension", "key", "period_start").annotate(total=Sum("value")).order_by()
        )

    def _matching(self, metric: str, dimension: str | None):
        return (
            row for row in self.rows if row["metric"] == metric and (dimension is None or row["dimension"] == dimension)
        )

    def by_period(self, metric: str, dimension: str | None = None) -> dict:
        totals = defaultdict(float)
        for row in self._matching(metric, dimension):
            totals[row["period_start"]] += row["total"]
        return totals

    def by_key(self, metric: str, dimension: str | None = None) -> dict:
        totals = defaultdict(float)
        for row in self._matching(metric, dimension):
            totals[row["key"]] += row["total"]
        return totals


def _concept_labels(network: Network) -> dict[tuple[str, str], str]:
    """The newest label of each concept, so breakdowns read in today's words across versions."""
    terms = VocabularyTerm.objects.filter(standard__network=network).order_by("standard__version", "id")
    return {
        (vocabulary, concept): label
        for vocabulary, concept, label in terms.values_list("vocabulary", "concept", "label")
    }


def _short(kind: str, day: datetime.date) -> str:
    """Axis label: the month's abbreviation, or the quarter."""
    return f"Q{(day.month - 1) // 3 + 1}" if kind == PeriodKind.QUARTER else day.strftime("%b")


def _duration(minutes: float) -> str:
    hours, rest = divmod(round(minutes), 60)
    return f"{hours} h {rest:02d} min" if hours else f"{rest} min"


def _table(rows: list[tuple[str, float]], threshold: int, short: list[str] | None = None) -> dict:
    values = [int(v) for _label_, v in rows]
    shown = suppress_series(values, threshold)
    total = sum(values)
    hidden = sum(1 for v in shown if v is None)
    short = short or [label for label, _v in rows]
    return {
        "rows": [
            {"label": label, "short": s, "value": value}
            for (label, _v), value, s in zip(rows, shown, short, strict=True)
        ],
        "total": None if hidden == 1 or 0 < total < threshold else total,
        "max": max([v for v in shown if v is not None] or [0]),
    }


def _rate(numerator: float, denominator: float, threshold: int) -> int | None:
    if denominator < threshold or (0 < numerator < threshold):
        return None
    return round(100 * numerator / denominator)


def dashboard(
    *,
    network: Network,
    agency_ids: list[int],
    region: Region | None = None,
    whole_network: bool = False,
    threshold: int,
    small: bool = False,
    today: datetime.date | None = None,
) -> dict:
    today = today or timezone.localdate()
    kind = PeriodKind.QUARTER if small else PeriodKind.MONTH
    periods = _periods(kind, 8 if small else 12, today)
    base = MetricSnapshot.objects.filter(agency_id__in=agency_ids, period_kind=kind, period_start__gte=periods[0])
    cells = _Cells(base.filter(metric__in=DASHBOARD_METRICS))  # one query for every figure below
    encounters = cells.by_period("encounters", dimension="")
    trend = _table(
        [(_label(kind, p), encounters.get(p, 0)) for p in periods], threshold, short=[_short(kind, p) for p in periods]
    )

    labels = _concept_labels(network)
    breakdowns = []
    for vocabulary, title in BREAKDOWNS:
        sums = cells.by_key("encounters", dimension=vocabulary)
        if vocabulary == Vocabulary.REFERRAL:
            sums.pop("none", None)
        rows = sorted(((labels.get((vocabulary, k), k), v) for k, v in sums.items()), key=lambda r: -r[1])
        breakdowns.append({"title": title, **_table(rows, threshold)})

    current = periods[-1]
    active = cells.by_period("supporters_active").get(current, 0)
    roster = cells.by_period("roster").get(current, 0)
    recent = periods[-3:] if not small else periods[-2:]
    due = sum(cells.by_period("followups_due").get(p, 0) for p in recent)
    completed = sum(cells.by_period("followups_completed").get(p, 0) for p in recent)
    on_time = sum(cells.by_period("followups_on_time").get(p, 0) for p in recent)
    overdue = sum(
        _sum(
            MetricSnapshot.objects.filter(agency_id__in=agency_ids, period_kind=kind), metric="followups_overdue"
        ).values()
    )
    incident_labels = dict(IncidentType.choices)
    activation_rows = [(incident_labels.get(key, key), total) for key, total in cells.by_key("activations").items()]
    activations = _table(sorted(activation_rows, key=lambda r: -r[1]), threshold)

    medians = MetricSnapshot.objects.filter(
        period_kind=kind, period_start__gte=periods[0], metric="first_contact_minutes_median"
    )
    if whole_network:
        medians = medians.filter(agency=None, region=None)
    elif region is not None:
        medians = medians.filter(agency=None, region=region)
    else:
        medians = medians.filter(agency_id__in=agency_ids)
    first_contact = [(_label(kind, m.period_start), _duration(m.value)) for m in medians.order_by("period_start")]

    return {
        "kind": kind,
        "small": small,
        "threshold": threshold,
        "trend": trend,
        "breakdowns": breakdowns,
        "activations": activations,
        "participation": {"active": int(active), "roster": int(roster), "rate": _rate(active, roster, threshold)},
        "followups": {
            "due": int(due),
            "completion_rate": _rate(completed, due, threshold),
            "on_time_rate": _rate(on_time, due, threshold),
            "overdue": int(overdue) if not 0 < overdue < threshold else None,
        },
        "first_contact": first_contact,
        "before_after": _before_after(agency_ids, threshold),
        "last_run": SnapshotRun.objects.filter(finished_at__isnull=False).order_by("-finished_at").first(),
    }


def _before_after(agency_ids: list[int], threshold: int) -> list[dict]:
    rows = defaultdict(lambda: {"before": 0.0, "after": 0.0})
    for row in (
        MetricSnapshot.objects.filter(
            agency_id__in=agency_ids,
            period_kind=PeriodKind.MONTH,
            metric__in=["encounters_before_30d", "encounters_after_30d"],
        )
        .values("key", "metric")
        .annotate(total=Sum("value"))
    ):
        rows[row["key"]]["before" if row["metric"].endswith("before_30d") else "after"] += row["total"]
    activations = {str(a.uuid): a for a in Activation.objects.filter(uuid__in=list(rows))}
    result = []
    for key, values in rows.items():
        activation = activations.get(key)
        if activation is None:
            continue
        shown = suppress_series([int(values["before"]), int(values["after"])], threshold)
        result.append({"activation": activation, "before": shown[0], "after": shown[1]})
    return sorted(result, key=lambda r: r["activation"].occurred_at, reverse=True)


def network_breakdowns(*, network: Network, threshold: int, today: datetime.date | None = None) -> dict:
    """Encounters over the last 12 months by discipline and by region (state admin)."""
    today = today or timezone.localdate()
    since = _periods(PeriodKind.MONTH, 12, today)[0]
    per_agency = {
        row["agency"]: row["total"]
        for row in MetricSnapshot.objects.filter(
            agency__network=network,
            period_kind=PeriodKind.MONTH,
            period_start__gte=since,
            metric="encounters",
            dimension="",
        )
        .values("agency")
        .annotate(total=Sum("value"))
    }
    agencies = Agency.objects.filter(network=network, status=Agency.Status.ACTIVE).select_related("region")
    by_discipline, by_region = defaultdict(float), defaultdict(float)
    for agency in agencies:
        by_discipline[agency.get_discipline_display()] += per_agency.get(agency.pk, 0)
        by_region[agency.region.name] += per_agency.get(agency.pk, 0)
    disciplines = [(label, by_discipline.get(label, 0)) for label in dict(Discipline.choices).values()]
    return {
        "by_discipline": _table(disciplines, threshold),
        "by_region": _table(sorted(by_region.items()), threshold),
    }
