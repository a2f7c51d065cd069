"""Computes the snapshots. Per agency it runs a few GROUP BY queries inside that agency's schema and
writes the counts to public tables; nothing row-level leaves the schema."""

from __future__ import annotations

import datetime
import statistics
from collections import defaultdict

from django.db import connection, transaction
from django.utils import timezone

from activations.models import Activation, OutreachTarget, Participation
from agencies.models import Agency, Membership, Role
from network.models import Region, Vocabulary, VocabularyTerm
from reporting.models import MetricSnapshot, PeriodKind

KINDS = [PeriodKind.WEEK, PeriodKind.MONTH, PeriodKind.QUARTER]
CODED_SINGLE = {
    "contact_mode": Vocabulary.CONTACT_MODE,
    "initiator": Vocabulary.INITIATOR,
    "referral": Vocabulary.REFERRAL,
}
CODED_MULTI = {"topics": Vocabulary.TOPIC, "interventions": Vocabulary.INTERVENTION}
BEFORE_AFTER_DAYS = 30


def period_start(kind: str, day: datetime.date) -> datetime.date:
    if kind == PeriodKind.WEEK:
        return day - datetime.timedelta(days=day.weekday())
    if kind == PeriodKind.MONTH:
        return day.replace(day=1)
    return day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)


def build_since(*, full: bool, today: datetime.date) -> datetime.date:
    """Full: two years back. Incremental (nightly): from the start of the previous quarter, which
    covers every week, month and quarter that can still change."""
    if full:
        return period_start(PeriodKind.QUARTER, today.replace(year=today.year - 2))
    previous = period_start(PeriodKind.QUARTER, today) - datetime.timedelta(days=1)
    return period_start(PeriodKind.QUARTER, previous)


def _concepts() -> dict[tuple[int, str, str], str]:
    return {(t.standard_id, t.vocabulary, t.code): t.concept for t in VocabularyTerm.objects.all()}


def _rows(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def agency_metrics(agency: Agency, *, since: datetime.date, today: datetime.date) -> list[tuple]:
    """(kind, period_start, metric, dimension, key, value) for one agency. Call inside its schema."""
    concepts = _concepts()
    out: list[tuple] = []
    roster = Membership.objects.filter(
        agency=agency, is_active=True, role__in=[Role.PEER_SUPPORTER, Role.COORDINATOR]
    ).count()
    for kind in KINDS:
        start = period_start(kind, since)
        trunc = f"date_trunc('{kind}', occurred_on)::date"
        for period, count in _rows(
            f"SELECT {trunc}, count(*) FROM encounters_encounter WHERE occurred_on >= %s GROUP BY 1", [start]
        ):
            out.append((kind, period, "encounters", "", "", count))
        for field, vocabulary in CODED_SINGLE.items():
            sums: dict[tuple, int] = defaultdict(int)
            for period, standard_id, code, count in _rows(
                f"SELECT {trunc}, standard_id, {field}, count(*) FROM encounters_encounter "
                "WHERE occurred_on >= %s GROUP BY 1, 2, 3",
                [start],
            ):
                sums[(period, concepts.get((standard_id, vocabulary, code), code))] += count
            out += [(kind, p, "encounters", vocabulary, key, n) for (p, key), n in sums.items()]
        for field, vocabulary in CODED_MULTI.items():
            sums = defaultdict(int)
            for period, standard_id, code, count in _rows(
                f"SELECT {trunc}, standard_id, unnest({field}), count(*) FROM encounters_encounter "
                "WHERE occurred_on >= %s GROUP BY 1, 2, 3",
                [start],
            ):
                sums[(period, concepts.get((standard_id, vocabulary, code), code))] += count
            out += [(kind, p, "encounters", vocabulary, key, n) for (p, key), n in sums.items()]
        for period, active in _rows(
            f"SELECT p, count(DISTINCT u) FROM (SELECT {trunc} AS p, author_id AS u FROM encounters_encounter "
            "WHERE occurred_on >= %s UNION ALL SELECT date_trunc(%s, e.occurred_on)::date, s.user_id "
            "FROM encounters_encounter_co_supporters s JOIN encounters_encounter e ON e.id = s.encounter_id "
            "WHERE e.occurred_on >= %s) AS people GROUP BY p",
            [start, kind, start],
        ):
            out.append((kind, period, "supporters_active", "", "", active))
        for period, due, done, on_time, overdue in _rows(
            f"SELECT date_trunc('{kind}', due_on)::date, count(*), count(*) FILTER (WHERE status = 'done'), "
            "count(*) FILTER (WHERE status = 'done' AND completed_at::date <= due_on), "
            "count(*) FILTER (WHERE status = 'open' AND due_on < %s) "
            "FROM encounters_followup WHERE due_on >= %s GROUP BY 1",
            [today, start],
        ):
            out += [
                (kind, period, "followups_due", "", "", due),
                (kind, period, "followups_completed", "", "", done),
                (kind, period, "followups_on_time", "", "", on_time),
                (kind, period, "followups_overdue", "", "", overdue),
            ]
        periods = {p for _k, p, *_ in out if _k == kind} | {period_start(kind, today)}
        out += [(kind, p, "roster", "", "", roster) for p in periods]
        for participation in Participation.objects.filter(
            agency=agency, activation__occurred_at__date__gte=start
        ).select_related("activation"):
            activation = participation.activation
            p = period_start(kind, timezone.localtime(activation.occurred_at).date())
            out.append((kind, p, "activations", "incident_type", activation.incident_type, 1))
            if kind == PeriodKind.MONTH:
                out += _before_after(activation, p)
        minutes = _first_contact_minutes(OutreachTarget.objects.filter(home_agency=agency), kind, start)
        for p, values in minutes.items():
            out += [
                (kind, p, "first_contact_minutes_median", "", "", statistics.median(values)),
                (kind, p, "first_contacts", "", "", len(values)),
            ]
    return _merge(out)


def _before_after(activation: Activation, month: datetime.date) -> list[tuple]:
    day = timezone.localtime(activation.occurred_at).date()
    window = datetime.timedelta(days=BEFORE_AFTER_DAYS)
    ((before, after),) = _rows(
        "SELECT count(*) FILTER (WHERE occurred_on >= %s AND occurred_on < %s), "
        "count(*) FILTER (WHERE occurred_on >= %s AND occurred_on < %s) FROM encounters_encounter",
        [day - window, day, day, day + window],
    )
    key = str(activation.uuid)
    return [
        (PeriodKind.MONTH, month, "encounters_before_30d", "activation", key, before),
        (PeriodKind.MONTH, month, "encounters_after_30d", "activation", key, after),
    ]


def _first_contact_minutes(targets, kind: str, start: datetime.date) -> dict[datetime.date, list[float]]:
    values: dict[datetime.date, list[float]] = defaultdict(list)
    for first, occurred in targets.filter(
        first_contact_at__isnull=False, merged_into__isnull=True, activation__occurred_at__date__gte=start
    ).values_list("first_contact_at", "activation__occurred_at"):
        p = period_start(kind, timezone.localtime(occurred).date())
        values[p].append(max(0.0, (first - occurred).total_seconds() / 60))
    return values


def _merge(rows: list[tuple]) -> list[tuple]:
    """Sum rows that share a cell (e.g. two activations of one type in a period)."""
    cells: dict[tuple, float] = defaultdict(float)
    for kind, period, metric, dimension, key, value in rows:
        cells[(kind, period, metric, dimension, key)] += value
    return [(*cell, value) for cell, value in cells.items()]


def write_agency(agency: Agency, rows: list[tuple], *, since: datetime.date) -> int:
    """Replace the agency's snapshots from `since` on: running twice gives the same snapshots."""
    now = timezone.now()
    with transaction.atomic():
        for kind in KINDS:
            MetricSnapshot.objects.filter(
                agency=agency, period_kind=kind, period_start__gte=period_start(kind, since)
            ).delete()
        MetricSnapshot.objects.bulk_create(
            MetricSnapshot(
                agency=agency,
                period_kind=kind,
                period_start=p,
                metric=metric,
                dimension=dimension,
                key=key,
                value=value,
                computed_at=now,
            )
            for kind, p, metric, dimension, key, value in rows
        )
    return len(rows)


def write_network_medians(*, since: datetime.date) -> None:
    """Time to first contact for each region and the whole network, from the public activation data."""
    now = timezone.now()
    scopes = [(None, OutreachTarget.objects.all())] + [
        (region, OutreachTarget.objects.filter(home_agency__region=region)) for region in Region.objects.all()
    ]
    with transaction.atomic():
        for kind in KINDS:
            MetricSnapshot.objects.filter(
                agency=None, period_kind=kind, period_start__gte=period_start(kind, since)
            ).delete()
            for region, targets in scopes:
                for p, values in _first_contact_minutes(targets, kind, period_start(kind, since)).items():
                    MetricSnapshot.objects.bulk_create(
                        [
                            MetricSnapshot(
                                region=region,
                                period_kind=kind,
                                period_start=p,
                                computed_at=now,
                                metric="first_contact_minutes_median",
                                value=statistics.median(values),
                            ),
                            MetricSnapshot(
                                region=region,
                                period_kind=kind,
                                period_start=p,
                                computed_at=now,
                                metric="first_contacts",
                                value=len(values),
                            ),
                        ]
                    )
