"""Migrations across the network: `manage.py migrate_network` over N agencies when there is nothing to
do, and when one new tenant migration must reach every agency schema.

Each timing is a fresh `manage.py` process, as a deploy runs it (Django start-up included). The
no-op is compared with django-tenants' own `migrate_schemas --tenant` over the same schemas (what
migrate_network ran before). The new migration is a scratch tenant app (one CreateModel with an
index) added through a settings module, applied once one schema at a time and once (a second
app) with django-tenants' multiprocessing executor. Goal: the no-op under 60 s at 500 agencies.

    ./dev bench migrations [--agencies 500] [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as bench  # noqa: E402

GOAL_NOOP_SECONDS = 60.0


def main() -> None:
    args = bench.arguments(__doc__.splitlines()[0], agencies=500, quick_agencies=60)
    if "--child" in sys.argv:
        return build(args)
    bench.print_machine()
    workdir = bench.scratch_directory()
    bench.scratch_database_create()
    try:
        bench.run_child([__file__, "--child", "--agencies", str(args.agencies)])
        noop = bench.manage_seconds("migrate_network", "-v", "0")
        previous = bench.manage_seconds("migrate_schemas", "--tenant", "-v", "0")
        one = bench.scratch_settings(workdir, {"bench_new_a": 1})
        standard = bench.manage_seconds(
            "migrate_network", "-v", "0", "--executor", "standard", settings=one, path=workdir
        )
        both = bench.scratch_settings(workdir, {"bench_new_a": 1, "bench_new_b": 1})
        parallel = bench.manage_seconds(
            "migrate_network", "-v", "0", "--executor", "multiprocessing", settings=both, path=workdir
        )
        reached = tables_in_every_schema(["bench_new_a_record", "bench_new_b_record"])
    finally:
        bench.scratch_database_drop()
    schemas = args.agencies + 1  # and the template
    print(f"agency schemas: {args.agencies} (+ template)")
    for label, seconds in [
        ("no-op migrate_network", noop),
        ("no-op migrate_schemas --tenant (django-tenants)", previous),
        ("one new migration, standard executor", standard),
        ("one new migration, multiprocessing executor", parallel),
    ]:
        print(f"{label:<48} {seconds:7.1f} s  ({seconds / schemas * 1000:.1f} ms per schema)")
    print(f"schemas holding both new tables afterwards: {reached} of {schemas}")
    met = noop < GOAL_NOOP_SECONDS and reached == schemas
    bench.summary(
        "migrations",
        met,
        f"no-op over {args.agencies} agencies {noop:.1f} s (django-tenants alone {previous:.1f} s; goal < 60 s); "
        f"one new migration {standard:.1f} s one by one, {parallel:.1f} s in parallel",
    )


def tables_in_every_schema(tables: list[str]) -> int:
    """How many schemas (agencies and template) hold all the given tables."""
    import psycopg

    with psycopg.connect(dbname=bench.BENCH_DB, autocommit=True, **bench._server_params()) as conn:
        row = conn.execute(
            "SELECT count(*) FROM (SELECT table_schema FROM information_schema.tables WHERE table_name = ANY(%s) "
            "GROUP BY table_schema HAVING count(*) = %s) AS complete",
            [tables, len(tables)],
        ).fetchone()
    return row[0]


def build(args) -> None:
    """Child: the synthetic network in the scratch database the parent created."""
    bench.django_setup()
    with bench.Stopwatch() as sw:
        bench.network_build(agencies=args.agencies)
    print(f"  built {args.agencies} agencies in {sw.seconds:.0f} s", flush=True)
    bench.child_result({"seconds": sw.seconds})


if __name__ == "__main__":
    main()
