"""Network report: the full reporting job (`reporting.services.run_execute`, a two-year rebuild of every
agency's snapshots) against the floor on this machine: the same per-agency aggregates computed and
stored by one hand-written SQL statement, a UNION ALL over every agency schema.

The synthetic network has N agencies of E encounters each over two years, with co-supporters,
follow-ups and interagency activations (benchmarks/_common.py; notes hold synthetic ciphertext
bytes, which the job never reads). The job is also timed over a fifth and a half of the agencies
(the others suspended) to show how it grows. Goal: within 2x of the floor, growing linearly.

    ./dev bench reporting [--agencies 500] [--encounters 10000] [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as bench  # noqa: E402

GOAL_RATIO = 2.0
LINEAR_TOLERANCE = 1.25  # per-agency time at N within 25% of that at N/5
FRACTIONS = [0.2, 0.5, 1.0]


def main() -> None:
    args = bench.arguments(
        __doc__.splitlines()[0],
        agencies=500,
        quick_agencies=40,
        encounters=(10_000, 2_000, "encounters per agency"),
    )
    bench.print_machine()
    bench.django_setup()
    from django.db import connection

    from agencies.models import Agency

    with bench.scratch_database():
        with bench.Stopwatch() as built:
            net = bench.network_build(agencies=args.agencies)
            bench.encounters_generate(net, per_agency=args.encounters)
            bench.activations_generate(net, count=max(3, args.agencies // 20))
        print(f"network of {args.agencies} agencies x {args.encounters} encounters built in {built.seconds:.0f} s")
        since = job_since()
        floor_read = floor(net, since, store=False)  # also warms the cache for what follows
        floor_read = min(floor_read, floor(net, since, store=False))
        floor_store = floor(net, since, store=True)
        job_times = {}
        for fraction in FRACTIONS:
            active = net.agencies[: max(1, round(len(net.agencies) * fraction))]
            Agency.objects.exclude(pk__in=[a.pk for a in active]).update(status=Agency.Status.SUSPENDED)
            Agency.objects.filter(pk__in=[a.pk for a in active]).update(status=Agency.Status.ACTIVE)
            vacuum()  # as autovacuum would between two nightly runs: each run replaces every snapshot row
            job_times[len(active)] = job()
        rows = snapshot_rows()
        connection.close()
    n = len(net.agencies)
    print(f"snapshot rows written by the job: {rows}")
    print(f"floor, one UNION ALL statement, read only      {floor_read:8.1f} s")
    print(f"floor, one UNION ALL statement, stored          {floor_store:8.1f} s")
    for agencies, seconds in job_times.items():
        per_agency = seconds / agencies * 1000
        print(
            f"reporting job over {agencies:>4} agencies                {seconds:8.1f} s  ({per_agency:.0f} ms/agency)"
        )
    job_all = job_times[n]
    ratio = job_all / floor_store
    smallest = min(job_times)
    growth = (job_all / n) / (job_times[smallest] / smallest)
    met = ratio <= GOAL_RATIO and growth <= LINEAR_TOLERANCE
    bench.summary(
        "reporting",
        met,
        f"job {job_all:.1f} s over {n} agencies x {args.encounters} encounters = {ratio:.2f}x the floor "
        f"({floor_store:.1f} s stored, {floor_read:.1f} s read only; goal <= 2x); per agency {growth:.2f}x "
        f"at {n} vs {smallest} agencies (linear: <= {LINEAR_TOLERANCE}x)",
    )


def job_since():
    from django.utils import timezone

    from reporting import builder

    return builder.build_since(full=True, today=timezone.localdate())


def job() -> float:
    """The full job, as `manage.py build_snapshots --full` runs it."""
    from reporting import services

    run = services.run_request(full=True, enqueue=False)
    with bench.Stopwatch() as sw:
        run = services.run_execute(run_id=run.pk)
    assert not run.failures, run.failures
    return sw.seconds


def vacuum() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE reporting_metricsnapshot")


def snapshot_rows() -> int:
    from reporting.models import MetricSnapshot

    return MetricSnapshot.objects.count()


def floor(net, since, *, store: bool) -> float:
    """One statement over every schema: the per-agency metrics the job computes from agency schemas
    (encounters by period and by each coded field's concept, supporters active, follow-ups). With
    `store`, inserted into a table shaped and indexed like the snapshot table, as the job writes."""
    from django.db import connection

    branches = " UNION ALL ".join(
        _FLOOR_BRANCH.format(schema=connection.ops.quote_name(a.schema_name), agency=int(a.pk)) for a in net.agencies
    )
    select = _FLOOR_SQL.format(branches=branches)
    with connection.cursor() as cursor:
        # The statement's estimated cost crosses jit_above_cost, and compiling hundreds of plan nodes
        # takes longer than running them: the floor is the statement at its best, so without JIT.
        cursor.execute("SET jit = off")
        if store:
            cursor.execute("DROP TABLE IF EXISTS bench_floor")
            cursor.execute("CREATE TABLE bench_floor (LIKE reporting_metricsnapshot INCLUDING ALL)")
            sql = (
                "INSERT INTO bench_floor (agency_id, period_kind, period_start, metric, dimension, key, value, "
                f"computed_at) SELECT *, now() FROM ({select}) AS aggregate"
            )
        else:
            sql = f"SELECT count(*) FROM ({select}) AS aggregate"
        with bench.Stopwatch() as sw:
            cursor.execute(sql, {"since": since})
    return sw.seconds


# One agency schema's metrics: codes are mapped to the standard's concepts as the builder does.
_FLOOR_BRANCH = """
SELECT {agency} AS agency_id, x.kind, x.p, 'encounters' AS metric, x.dim, coalesce(t.concept, x.code, '') AS key,
    sum(x.n) AS value
FROM (
    SELECT y.kind, y.p, y.standard_id,
        CASE WHEN GROUPING(y.contact_mode) = 0 THEN 'contact_mode' WHEN GROUPING(y.initiator) = 0 THEN 'initiator'
             WHEN GROUPING(y.referral) = 0 THEN 'referral' ELSE '' END AS dim,
        coalesce(y.contact_mode, y.initiator, y.referral) AS code, count(*) AS n
    FROM (SELECT k.kind, date_trunc(k.kind, e.occurred_on)::date AS p, e.standard_id, e.contact_mode, e.initiator,
              e.referral
          FROM {schema}.encounters_encounter e CROSS JOIN kinds k WHERE e.occurred_on >= %(since)s) AS y
    GROUP BY GROUPING SETS ((y.kind, y.p), (y.kind, y.p, y.standard_id, y.contact_mode),
        (y.kind, y.p, y.standard_id, y.initiator), (y.kind, y.p, y.standard_id, y.referral))
) AS x LEFT JOIN network_vocabularyterm t ON t.standard_id = x.standard_id AND t.vocabulary = x.dim AND t.code = x.code
GROUP BY 2, 3, 5, 6
UNION ALL
SELECT {agency}, y.kind, y.p, 'encounters', y.vocabulary, coalesce(t.concept, y.code), sum(y.n)
FROM (SELECT k.kind, date_trunc(k.kind, e.occurred_on)::date AS p, e.standard_id, 'topic' AS vocabulary,
          v.code, count(*) AS n
      FROM {schema}.encounters_encounter e CROSS JOIN kinds k CROSS JOIN LATERAL unnest(e.topics) AS v(code)
      WHERE e.occurred_on >= %(since)s GROUP BY 1, 2, 3, 5
      UNION ALL
      SELECT k.kind, date_trunc(k.kind, e.occurred_on)::date, e.standard_id, 'intervention', v.code, count(*)
      FROM {schema}.encounters_encounter e CROSS JOIN kinds k CROSS JOIN LATERAL unnest(e.interventions) AS v(code)
      WHERE e.occurred_on >= %(since)s GROUP BY 1, 2, 3, 5) AS y
LEFT JOIN network_vocabularyterm t ON t.standard_id = y.standard_id AND t.vocabulary = y.vocabulary AND t.code = y.code
GROUP BY 2, 3, 5, 6
UNION ALL
SELECT {agency}, people.kind, people.p, 'supporters_active', '', '', count(DISTINCT people.u)
FROM (SELECT k.kind, date_trunc(k.kind, e.occurred_on)::date AS p, e.author_id AS u
      FROM {schema}.encounters_encounter e CROSS JOIN kinds k WHERE e.occurred_on >= %(since)s
      UNION ALL
      SELECT k.kind, date_trunc(k.kind, e.occurred_on)::date, s.user_id
      FROM {schema}.encounters_encounter_co_supporters s JOIN {schema}.encounters_encounter e ON e.id = s.encounter_id
      CROSS JOIN kinds k WHERE e.occurred_on >= %(since)s) AS people
GROUP BY 2, 3
UNION ALL
SELECT {agency}, f.kind, f.p, m.metric, '', '', m.value
FROM (SELECT k.kind, date_trunc(k.kind, due_on)::date AS p, count(*) AS due,
          count(*) FILTER (WHERE status = 'done') AS done,
          count(*) FILTER (WHERE status = 'done' AND completed_at::date <= due_on) AS on_time,
          count(*) FILTER (WHERE status = 'open' AND due_on < current_date) AS overdue
      FROM {schema}.encounters_followup CROSS JOIN kinds k WHERE due_on >= %(since)s GROUP BY 1, 2) AS f
CROSS JOIN LATERAL (VALUES ('followups_due', f.due), ('followups_completed', f.done),
    ('followups_on_time', f.on_time), ('followups_overdue', f.overdue)) AS m(metric, value)
"""

_FLOOR_SQL = """
WITH kinds(kind) AS (VALUES ('week'), ('month'), ('quarter'))
{branches}
"""


if __name__ == "__main__":
    main()
