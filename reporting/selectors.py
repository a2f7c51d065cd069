"""What the leadership dashboards show: published figures only (never a snapshot, never an agency schema).
A published figure never changes, so reloading a page or downloading the CSV again tells nothing new until
the next period is published (docs/reporting.md, "Publication"). One exception, not a leadership figure: the
referral directory's dead-end counts per entry for the state admin (`directory_dead_ends`), from this quarter's
snapshots, suppressed the same way (docs/referrals.md)."""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS
from django.db.models import Sum
from django.utils import timezone

from agencies.models import Agency
from agencies.selectors import supporters_of
from governance.models import ResourceEntry
from network.models import Network
from network.replica import read_off_primary
from network.selectors import policy_for
from network.suppression import suppress_mapping
from reporting.builder import period_start
from reporting.models import AgencyReportingGranularity, MetricSnapshot, PeriodKind, Publication, PublishedFigure
from reporting.publication import (
    BREAKDOWN_TABLES,
    SMALL_AGENCY_ROSTER,
    due_date,
    period_end,
    period_label,
)

# How many published periods the trend shows.
TREND_PERIODS = {PeriodKind.MONTH: 12, PeriodKind.QUARTER: 8}
SECTIONS = [
    ("encounters", "Encounters"),
    *BREAKDOWN_TABLES,
    ("activations", "Activations by incident type"),
    ("followups", "Follow-ups"),
    ("referrals", "Referrals to the directory"),
    ("participation", "Participation"),
    ("first_contact", "Time from activation to first contact"),
    ("members", "Members' requests and check-ins"),
    ("by_discipline", "Encounters by discipline"),
    ("by_region", "Encounters by region"),
]


@dataclass(frozen=True)
class Scope:
    """Whose figures: one agency, some regions (their published figures combined), or the whole network."""

    network: Network
    agency: Agency | None = None
    region_ids: tuple[int, ...] | None = None

    def figures(self, *, using: str = DEFAULT_DB_ALIAS):
        figures = PublishedFigure.objects.using(using).filter(publication__network=self.network)
        if self.agency is not None:
            return figures.filter(agency=self.agency)
        if self.region_ids is not None:
            return figures.filter(agency=None, region_id__in=self.region_ids)
        return figures.filter(agency=None, region=None)


def _short(kind: str, day: datetime.date) -> str:
    """Axis label, always with its year (a trend can span two): "Oct 2026", "Q1 2026"."""
    return f"Q{(day.month - 1) // 3 + 1} {day.year}" if kind == PeriodKind.QUARTER else f"{day:%b} {day.year}"


def _combine(values: list[int | None]) -> int | None:
    """Several regions' published values of one figure: their sum only when every one is shown (a sum of
    shown figures tells nothing new; with one hidden it would)."""
    return None if any(v is None for v in values) else sum(values)


def published_figures(scope: Scope) -> dict[Publication, dict[str, list[dict]]]:
    """{publication: {table: [{"key", "label", "value"}, ...] in the order published}}, oldest first, for every
    publication with figures in scope. One query, on the replica when there is a usable one (published
    figures never change, so a replica a little behind shows the same figures, or the period before)."""
    return read_off_primary(lambda alias: _published_figures(scope, using=alias))


def _published_figures(scope: Scope, *, using: str) -> dict[Publication, dict[str, list[dict]]]:
    grouped: dict[int, dict[tuple[str, str], dict]] = defaultdict(dict)
    publications: dict[int, Publication] = {}
    figures = scope.figures(using=using).select_related("publication")
    for figure in figures.order_by("publication__period_start", "position"):
        publications.setdefault(figure.publication_id, figure.publication)
        cell = grouped[figure.publication_id].setdefault(
            (figure.table, figure.key),
            {"key": figure.key, "label": figure.label, "values": [], "position": figure.position},
        )
        cell["values"].append(figure.value)
    result = {}
    for publication_id, cells in grouped.items():
        tables: dict[str, list[dict]] = defaultdict(list)
        for (table, _key), cell in sorted(cells.items(), key=lambda item: (item[0][0], item[1]["position"])):
            tables[table].append({"key": cell["key"], "label": cell["label"], "value": _combine(cell["values"])})
        result[publications[publication_id]] = dict(tables)
    return dict(sorted(result.items(), key=lambda item: (item[0].period_start, item[0].period_kind)))


def _value(tables: dict, table: str, key: str) -> int | None:
    return next((row["value"] for row in tables.get(table, []) if row["key"] == key), None)


def _rate(numerator: int | None, denominator: int | None, threshold: int) -> int | None:
    """A rate only where both figures are shown and the denominator reaches the threshold."""
    if numerator is None or denominator is None or denominator < threshold:
        return None
    return round(100 * numerator / denominator)


def rates(tables: dict, threshold: int) -> dict[str, int | None]:
    return {
        "participation": _rate(
            _value(tables, "participation", "supporters_active"), _value(tables, "participation", "roster"), threshold
        ),
        "completion": _rate(
            _value(tables, "followups", "followups_completed"), _value(tables, "followups", "followups_due"), threshold
        ),
        "on_time": _rate(
            _value(tables, "followups", "followups_on_time"),
            _value(tables, "followups", "followups_completed"),
            threshold,
        ),
        "attended": _rate(
            _value(tables, "referrals", "referrals_attended"), _value(tables, "referrals", "referrals_made"), threshold
        ),
    }


def _chart(rows: list[dict], *, total: int | None, short: list[str] | None = None) -> dict:
    """A table for the chart helper: rows in the order published, never sorted by value."""
    shown = [row["value"] for row in rows if row["value"] is not None]
    return {
        "rows": [
            {"label": row["label"], "short": (short[i] if short else row["label"]), "value": row["value"]}
            for i, row in enumerate(rows)
        ],
        "total": total,
        "max": max(shown or [0]),
    }


def _table(tables: dict, table: str) -> dict:
    rows = tables.get(table, [])
    body = [row for row in rows if row["key"] != "total"]
    total = next((row["value"] for row in rows if row["key"] == "total"), None)
    return _chart(body, total=total)


def _kind_for(scope: Scope, today: datetime.date) -> str:
    """The kind of period this scope publishes: regions and the network by quarter; an agency as decided for
    the year (or, before its first publication of the year, as its roster would decide it)."""
    if scope.agency is None:
        return PeriodKind.QUARTER
    decided = AgencyReportingGranularity.objects.filter(agency=scope.agency, year=today.year).first()
    if decided is not None:
        return decided.kind
    roster = supporters_of(scope.agency).count()
    return PeriodKind.QUARTER if roster < SMALL_AGENCY_ROSTER else PeriodKind.MONTH


def schedule(scope: Scope, latest: Publication | None, today: datetime.date) -> dict:
    """Which period is the latest published, and which is next and when (the page says both plainly)."""
    delay = policy_for(scope.network).publication_delay_days
    kind = latest.period_kind if latest is not None else _kind_for(scope, today)
    if latest is not None:
        upcoming = period_start(kind, latest.period_end + datetime.timedelta(days=1))
    else:
        upcoming = period_start(kind, today)
        previous = period_start(kind, upcoming - datetime.timedelta(days=1))
        if due_date(scope.network, kind, previous, delay=delay) > today:
            upcoming = previous
    if latest is not None and upcoming.year != latest.period_start.year and scope.agency is not None:
        kind = _kind_for(scope, upcoming)  # a new year may publish by the other kind
        upcoming = period_start(kind, upcoming)
    return {
        "latest": latest,
        "latest_label": period_label(latest.period_kind, latest.period_start) if latest else "",
        "next_label": period_label(kind, upcoming),
        "next_on": due_date(scope.network, kind, upcoming, delay=delay),
        "next_end": period_end(kind, upcoming),
    }


def dashboard(*, scope: Scope, today: datetime.date | None = None) -> dict:
    """Everything a leadership dashboard shows: the latest published period's tables, the trend over the
    published periods before it, rates where the figures behind them allow, and the publication schedule."""
    today = today or timezone.localdate()
    published = published_figures(scope)
    publications = list(published)
    latest = publications[-1] if publications else None
    tables = published[latest] if latest else {}
    threshold = latest.threshold if latest else policy_for(scope.network).suppression_threshold
    kind = latest.period_kind if latest else _kind_for(scope, today)
    window = [p for p in publications if p.period_kind == kind][-TREND_PERIODS[kind] :]
    trend_rows = [
        {
            "key": p.period_start.isoformat(),
            "label": period_label(p.period_kind, p.period_start),
            "value": _value(published[p], "encounters", "total"),
        }
        for p in window
    ]
    trend_values = [row["value"] for row in trend_rows]
    trend = _chart(
        trend_rows,
        total=_combine(trend_values) if trend_values else None,  # only when every period in it is shown
        short=[_short(p.period_kind, p.period_start) for p in window],
    )
    first_contact = [
        {
            "label": period_label(p.period_kind, p.period_start),
            "contacts": _value(published[p], "first_contact", "contacts"),
            "median": _value(published[p], "first_contact", "median_minutes"),
        }
        for p in window
        if "first_contact" in published[p]
    ]
    members = [
        {
            "label": period_label(p.period_kind, p.period_start),
            "requests": _value(published[p], "members", "requests"),
            "contacted": _value(published[p], "members", "contacted"),
            "median": _value(published[p], "members", "median_minutes"),
            "checkins_sent": _value(published[p], "members", "checkins_sent"),
            "checkins_answered": _value(published[p], "members", "checkins_answered"),
        }
        for p in window
        if "members" in published[p]
    ]
    data = {
        "kind": kind,
        "members": members,
        "threshold": threshold,
        "schedule": schedule(scope, latest, today),
        "period_label": period_label(latest.period_kind, latest.period_start) if latest else "",
        "trend": trend,
        "breakdowns": [{"title": title, **_table(tables, vocabulary)} for vocabulary, title in BREAKDOWN_TABLES],
        "activations": _table(tables, "activations"),
        "participation": {
            "active": _value(tables, "participation", "supporters_active"),
            "roster": _value(tables, "participation", "roster"),
        },
        "followups": {
            "due": _value(tables, "followups", "followups_due"),
            "completed": _value(tables, "followups", "followups_completed"),
            "overdue": _value(tables, "followups", "followups_overdue"),
        },
        "referrals": {"made": _value(tables, "referrals", "referrals_made")},
        "rates": rates(tables, threshold),
        "first_contact": first_contact,
        "small": kind == PeriodKind.QUARTER and scope.agency is not None,
    }
    if scope.agency is None and scope.region_ids is None:
        data["by_discipline"] = _table(tables, "by_discipline")
        data["by_region"] = _table(tables, "by_region")
    return data


def csv_rows(*, scope: Scope) -> list[list[str]]:
    """The CSV: one row per (period, section, item, value), every published period oldest first. Rows once
    published never change, so two downloads differ only by the periods published between them."""
    out = []
    for publication, tables in published_figures(scope).items():
        period = period_label(publication.period_kind, publication.period_start)
        for table, title in SECTIONS:
            for row in tables.get(table, []):
                hidden = "not shown" if row["key"] == "median_minutes" else "suppressed"
                out.append([period, title, row["label"], hidden if row["value"] is None else str(row["value"])])
        for name, value in rates(tables, publication.threshold).items():
            label = {
                "participation": "Participation rate %",
                "completion": "Follow-up completion rate %",
                "attended": "Referrals: first appointment attended %",
            }.get(name, "Follow-ups completed on time %")
            out.append([period, "Rates", label, "not shown" if value is None else str(value)])
        out.append([period, "Note", f"Counts from 1 to {publication.threshold - 1} are suppressed", ""])
    return out


# --- Feedback to the referral directory (issue 18, 4) -------------------------------------------------------------


def directory_dead_ends(network: Network, *, today: datetime.date | None = None) -> list[dict]:
    """Per listed entry of the network's directory, the referrals of this quarter that ended waitlisted or
    unanswered, summed over every agency from the snapshots (the report job reads the agency schemas, never this
    page), and suppressed as leadership figures are (network.suppression; counts from 1 to threshold-1 hidden,
    with complementary cells). Counts only: no agency, no member. Entries with the most dead ends first would
    rank them by their true values, so the directory's own order (name) is kept."""
    today = today or timezone.localdate()
    quarter = period_start(PeriodKind.QUARTER, today)
    entries = list(ResourceEntry.objects.filter(network=network, active=True).order_by("name", "pk"))
    sums = dict(
        MetricSnapshot.objects.filter(
            agency__network=network,
            period_kind=PeriodKind.QUARTER,
            period_start=quarter,
            metric="referral_dead_ends",
            dimension="resource",
        )
        .values_list("key")
        .annotate(total=Sum("value"))
        .values_list("key", "total")
    )
    raw = {str(e.pk): int(sums.get(str(e.pk), 0)) for e in entries}
    shown = suppress_mapping(raw, policy_for(network).suppression_threshold)
    return [{"entry": e, "dead_ends": shown[str(e.pk)]} for e in entries]
