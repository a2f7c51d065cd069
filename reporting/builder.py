"""Computes the snapshots. Per agency it runs a few GROUP BY queries inside that agency's schema and
writes the counts to public tables; nothing row-level leaves the schema."""

from __future__ import annotations

import datetime
import statistics
from collections import defaultdict

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from activations.models import Activation, OutreachTarget, Participation
from agencies.models import Agency
from agencies.selectors import supporters_of
from agencies.tenancy import agency_schema
from encounters.models import CheckIn
from members.models import MemberRequest
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


def vocabulary_concepts() -> dict[tuple[int, str, str], str]:
    """Each term's concept, by (standard, vocabulary, code): what `agency_metrics` counts coded fields by."""
    return {(t.standard_id, t.vocabulary, t.code): t.concept for t in VocabularyTerm.objects.all()}


def _rows(sql: str, params: list | dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


# The counts of _schema_counts, for every period kind (see there). Each SELECT reads one table once.
# Every record counts in the period in which it was ENTERED (an encounter by its local `created_at` date,
# not its `occurred_on`), so a record entered late never changes a period that is already published.
_SCHEMA_COUNTS_SQL = """
SELECT {kind}, CASE {single_part} ELSE 'encounters' END, {period}, standard_id, coalesce({single_fields}), count(*)
FROM (SELECT {encounter_periods}, standard_id, {single_fields}
      FROM encounters_encounter WHERE {entered} >= %(first)s) AS e
GROUP BY GROUPING SETS ({single_sets}) HAVING {period} IS NOT NULL
UNION ALL
SELECT {kind}, part, {period}, standard_id, code, count(*) FROM ({multi}) AS m
GROUP BY GROUPING SETS ({multi_sets}) HAVING {period} IS NOT NULL
UNION ALL
SELECT {kind}, 'supporters_active', {period}, NULL, NULL, count(DISTINCT person)
FROM (SELECT {encounter_periods}, author_id AS person FROM encounters_encounter WHERE {entered} >= %(first)s
      UNION ALL
      SELECT {joined_periods}, s.user_id FROM encounters_encounter_co_supporters s
      JOIN encounters_encounter e ON e.id = s.encounter_id WHERE {joined_entered} >= %(first)s) AS people
GROUP BY GROUPING SETS ({kind_sets}) HAVING {period} IS NOT NULL
UNION ALL
SELECT {kind}, part, {period}, NULL, NULL, count(*)
FROM ({followups}) AS f
GROUP BY GROUPING SETS ({part_sets}) HAVING {period} IS NOT NULL
"""

# Follow-up events, each dated when it happened: due by its due date, or by the day it was created when
# that is later (a follow-up created after its period closed counts in the period of creation);
# completed and on time by the completion date.
_FOLLOWUP_EVENTS = {
    "followups_due": ("greatest(due_on, {created})", "TRUE"),
    "followups_completed": ("{completed}", "status = 'done' AND completed_at IS NOT NULL"),
    "followups_on_time": ("{completed}", "status = 'done' AND completed_at IS NOT NULL AND {completed} <= due_on"),
}


# Referral events (issue 18): made, by the day the referral was made; first appointment attended, by the day the
# supporter recorded it. Each dated when it happened, so a published period never moves.
_REFERRAL_EVENTS = {
    "referrals_made": ("{created}", "TRUE"),
    "referrals_attended": ("{changed}", "status = 'attended'"),
}
# A referral that ended waitlisted or unanswered: counted per directory entry and quarter for the directory's
# feedback to the state admin (never by agency or member on any page).
DEAD_ENDS = ("waitlisted", "unanswered")


def _local_date(column: str) -> str:
    """SQL for the local calendar date of a timestamp column (the network's time zone)."""
    return f"({column} AT TIME ZONE %(tz)s)::date"


def _schema_counts(*, since: datetime.date, today: datetime.date) -> dict[str, list[tuple]]:
    """Every count the agency's own schema gives (call inside it: agency_metrics enters it), for every
    period kind: {kind: [(part, period, standard_id, code, count)]}, where part is "encounters", a coded
    field, "supporters_active" or a follow-up metric.

    One statement, and each table is read once for all three kinds: every row carries its week, month
    and quarter (NULL before that kind's first period), and GROUPING SETS count them all in one pass.
    Separate GROUP BY queries per kind and field read the encounters 24 times (docs/performance.md).
    """
    params = {kind: period_start(kind, since) for kind in KINDS}
    params.update(first=min(params.values()), today=today, tz=settings.TIME_ZONE)

    def periods(column: str) -> str:
        return ", ".join(
            f"CASE WHEN {column} >= %({kind})s THEN date_trunc('{kind}', {column})::date END AS {kind}"
            for kind in KINDS
        )

    def sets(*columns: str) -> str:
        return ", ".join(f"({', '.join([kind, *columns])})" for kind in KINDS)

    entered, joined_entered = _local_date("created_at"), _local_date("e.created_at")
    dates = {
        "created": _local_date("created_at"),
        "completed": _local_date("completed_at"),
        "changed": _local_date("status_changed_at"),
    }
    events = [("encounters_followup", _FOLLOWUP_EVENTS), ("encounters_referral", _REFERRAL_EVENTS)]
    followups = " UNION ALL ".join(
        f"SELECT {periods(day.format(**dates))}, '{part}' AS part FROM {table} "  # nosec B608
        f"WHERE {where.format(**dates)} AND {day.format(**dates)} >= %(first)s"
        for table, table_events in events
        for part, (day, where) in table_events.items()
    )
    # Formats in only constants (KINDS, the CODED_* field names, _FOLLOWUP_EVENTS); values are parameters.
    sql = _SCHEMA_COUNTS_SQL.format(
        kind="CASE WHEN GROUPING(week) = 0 THEN 'week' WHEN GROUPING(month) = 0 THEN 'month' ELSE 'quarter' END",
        period="coalesce(week, month, quarter)",
        single_part=" ".join(f"WHEN GROUPING({field}) = 0 THEN '{field}'" for field in CODED_SINGLE),
        single_fields=", ".join(CODED_SINGLE),
        single_sets=", ".join([sets(), *(sets("standard_id", field) for field in CODED_SINGLE)]),
        multi=" UNION ALL ".join(
            f"SELECT {periods(entered)}, '{field}' AS part, standard_id, unnest({field}) AS code "  # nosec B608
            f"FROM encounters_encounter WHERE {entered} >= %(first)s"
            for field in CODED_MULTI
        ),
        multi_sets=sets("part", "standard_id", "code"),
        kind_sets=sets(),
        part_sets=sets("part"),
        encounter_periods=periods(entered),
        joined_periods=periods(joined_entered),
        entered=entered,
        joined_entered=joined_entered,
        followups=followups,
    )
    counts: dict[str, list[tuple]] = {kind: [] for kind in KINDS}
    for row_kind, *row in _rows(sql, params):
        counts[row_kind].append(tuple(row))
    return counts


def referral_dead_ends(since: datetime.date) -> list[tuple]:
    """(quarter start, directory entry id, referrals that ended waitlisted or unanswered, by the day that was
    recorded) from the quarter of `since` on. Call inside the schema."""
    changed = _local_date("status_changed_at")
    return _rows(
        f"SELECT date_trunc('quarter', {changed})::date, resource_id, count(*) FROM encounters_referral "  # nosec B608
        f"WHERE status = ANY(%(dead)s) AND {changed} >= %(first)s GROUP BY 1, 2",
        {"dead": list(DEAD_ENDS), "first": period_start(PeriodKind.QUARTER, since), "tz": settings.TIME_ZONE},
    )


def followups_overdue_at(day: datetime.date) -> int:
    """Follow-ups overdue as the local day `day` begins: created and due before it, not completed by then.
    Depends only on what happened before `day`, so it is final once `day` has come. Call inside the schema
    (`with agencies.tenancy.agency_schema(agency)`)."""
    ((count,),) = _rows(
        "SELECT count(*) FROM encounters_followup WHERE due_on < %(day)s "  # nosec B608  # formats in constants only
        f"AND {_local_date('created_at')} < %(day)s "
        f"AND (completed_at IS NULL OR {_local_date('completed_at')} >= %(day)s)",
        {"day": day, "tz": settings.TIME_ZONE},
    )
    return count


def agency_metrics(
    agency: Agency, *, since: datetime.date, today: datetime.date, concepts: dict | None = None
) -> list[tuple]:
    """(kind, period_start, metric, dimension, key, value) for one agency, read inside its schema (entered here).
    `concepts`: `vocabulary_concepts()`, read once by a job that builds many agencies."""
    with agency_schema(agency):
        return _agency_metrics(agency, since=since, today=today, concepts=concepts)


def _agency_metrics(agency: Agency, *, since: datetime.date, today: datetime.date, concepts=None) -> list[tuple]:
    concepts = vocabulary_concepts() if concepts is None else concepts
    # The agency's activations and its members' first contacts since the earliest period any kind starts,
    # read once for the three kinds (each kind counts those in its own periods).
    earliest = min(period_start(kind, since) for kind in KINDS)
    joined = Participation.objects.filter(agency=agency, activation__occurred_at__date__gte=earliest)
    participations = [
        (p.activation, timezone.localtime(p.activation.occurred_at).date()) for p in joined.select_related("activation")
    ]
    contacts = _first_contacts(OutreachTarget.objects.filter(home_agency=agency), earliest)
    requests, checkins = _member_requests(agency, earliest), _checkins_sent(earliest)
    out: list[tuple] = []
    roster = supporters_of(agency).count()
    counts = _schema_counts(since=since, today=today)
    overdue = followups_overdue_at(today)
    for kind in KINDS:
        start = period_start(kind, since)
        sums: dict[tuple, int] = defaultdict(int)
        for part, period, standard_id, code, count in counts[kind]:
            vocabulary = CODED_SINGLE.get(part) or CODED_MULTI.get(part)
            if vocabulary:
                sums[(vocabulary, period, concepts.get((standard_id, vocabulary, code), code))] += count
            else:  # encounters, supporters_active, followups_*
                out.append((kind, period, part, "", "", count))
        out += [(kind, p, "encounters", vocabulary, key, n) for (vocabulary, p, key), n in sums.items()]
        periods = {p for _k, p, *_ in out if _k == kind} | {period_start(kind, today)}
        out += [(kind, p, "roster", "", "", roster) for p in periods]
        out.append((kind, period_start(kind, today), "followups_overdue", "", "", overdue))
        for activation, day in participations:
            if day < start:
                continue
            p = period_start(kind, day)
            out.append((kind, p, "activations", "incident_type", activation.incident_type, 1))
            if kind == PeriodKind.MONTH:
                out += _before_after(activation, p)
        if kind == PeriodKind.QUARTER:
            out += [
                (kind, p, "referral_dead_ends", "resource", str(resource_id), n)
                for p, resource_id, n in referral_dead_ends(since)
            ]
        minutes = _minutes_by_period(contacts, kind, start)
        for p, values in minutes.items():
            out += [
                (kind, p, "first_contact_minutes_median", "", "", statistics.median(values)),
                (kind, p, "first_contacts", "", "", len(values)),
            ]
        out += _member_rows(kind, start, requests, checkins)
    return _merge(out)


def _member_requests(agency: Agency, start: datetime.date) -> list[tuple[datetime.date, float | None]]:
    """The agency's members' requests asked since `start`: (local date asked, minutes to first contact or None)."""
    rows = MemberRequest.objects.filter(agency=agency, asked_at__date__gte=start).values_list(
        "asked_at", "contacted_at"
    )
    return [
        (timezone.localtime(asked).date(), (contacted - asked).total_seconds() / 60 if contacted else None)
        for asked, contacted in rows
    ]


def _checkins_sent(start: datetime.date) -> list[tuple[datetime.date, bool]]:
    """Check-ins sent since `start` in the agency's schema (entered by the caller): (local date sent, answered)."""
    rows = CheckIn.objects.filter(sent_at__date__gte=start).values_list("sent_at", "answered_at")
    return [(timezone.localtime(sent).date(), answered is not None) for sent, answered in rows]


def _member_rows(kind: str, start: datetime.date, requests: list, checkins: list) -> list[tuple]:
    """Members' requests asked in each period (of them, contacted; median minutes to first contact) and check-ins
    sent in each period (of them, answered). Counts only: nothing about who asked or what they answered."""
    out: list[tuple] = []
    minutes: dict[datetime.date, list[float]] = defaultdict(list)
    for day, waited in requests:
        if day < start:
            continue
        p = period_start(kind, day)
        out.append((kind, p, "member_requests", "", "", 1))
        if waited is not None:
            out.append((kind, p, "member_requests_contacted", "", "", 1))
            minutes[p].append(waited)
    out += [(kind, p, "member_request_minutes_median", "", "", statistics.median(v)) for p, v in minutes.items()]
    for day, answered in checkins:
        if day < start:
            continue
        p = period_start(kind, day)
        out.append((kind, p, "checkins_sent", "", "", 1))
        if answered:
            out.append((kind, p, "checkins_answered", "", "", 1))
    return out


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


def _first_contacts(targets, start: datetime.date) -> list[tuple[datetime.date, float]]:
    """(the incident's local date, minutes from the incident to the member's first contact) for each of
    `targets` first contacted, not merged, whose activation occurred on or after `start`."""
    return [
        (timezone.localtime(occurred).date(), max(0.0, (first - occurred).total_seconds() / 60))
        for first, occurred in targets.filter(
            first_contact_at__isnull=False, merged_into__isnull=True, activation__occurred_at__date__gte=start
        ).values_list("first_contact_at", "activation__occurred_at")
    ]


def _minutes_by_period(contacts, kind: str, start: datetime.date) -> dict[datetime.date, list[float]]:
    values: dict[datetime.date, list[float]] = defaultdict(list)
    for day, minutes in contacts:
        if day >= start:
            values[period_start(kind, day)].append(minutes)
    return values


def _first_contact_minutes(targets, kind: str, start: datetime.date) -> dict[datetime.date, list[float]]:
    return _minutes_by_period(_first_contacts(targets, start), kind, start)


def _merge(rows: list[tuple]) -> list[tuple]:
    """Sum rows that share a cell (e.g. two activations of one type in a period)."""
    cells: dict[tuple, float] = defaultdict(float)
    for kind, period, metric, dimension, key, value in rows:
        cells[(kind, period, metric, dimension, key)] += value
    return [(*cell, value) for cell, value in cells.items()]


SNAPSHOT_LOCK = 74230002  # advisory lock class; the audit chain uses 74230001


def _lock_snapshots(agency_id: int) -> None:
    """One writer at a time per agency (0: the network-wide medians), until the transaction ends.
    Two refreshes of one agency at once would otherwise both delete, then both insert the same cells."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s::int, %s::int)", [SNAPSHOT_LOCK, agency_id])


def write_agency(agency: Agency, rows: list[tuple], *, since: datetime.date) -> int:
    """Replace the agency's snapshots from `since` on: running twice gives the same snapshots."""
    now = timezone.now()
    with transaction.atomic():
        _lock_snapshots(agency.pk)
        # One DELETE statement. QuerySet.delete() loads every row to send post_delete signals (django-tenants
        # and axes listen to every model), which took most of a rebuild; no receiver cares about snapshots.
        periods = " OR ".join("(period_kind = %s AND period_start >= %s)" for _kind in KINDS)
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {MetricSnapshot._meta.db_table} WHERE agency_id = %s AND ({periods})",  # nosec B608
                [agency.pk, *(value for kind in KINDS for value in (kind, period_start(kind, since)))],
            )
        _insert_agency_rows(agency.pk, rows, computed_at=now)
    return len(rows)


def _insert_agency_rows(agency_id: int, rows: list[tuple], *, computed_at: datetime.datetime) -> None:
    """All of an agency's snapshot rows in one COPY.

    A full build writes thousands of rows per agency; bulk_create spent most of the whole reporting
    job building and binding model instances in Python (docs/performance.md).
    """
    columns = "agency_id, period_kind, period_start, metric, dimension, key, value, computed_at"
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {MetricSnapshot._meta.db_table} ({columns}) FROM STDIN") as copy:
            for kind, period, metric, dimension, key, value in rows:
                copy.write_row((agency_id, kind, period, metric, dimension, key, value, computed_at))


def write_network_medians(*, since: datetime.date) -> None:
    """Time to first contact for each region and the whole network, from the public activation data."""
    now = timezone.now()
    scopes = [(None, OutreachTarget.objects.all())] + [
        (region, OutreachTarget.objects.filter(home_agency__region=region)) for region in Region.objects.all()
    ]
    with transaction.atomic():
        _lock_snapshots(0)
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
