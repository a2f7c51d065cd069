"""Onboarding: seconds per agency for `agency_create` (row, schema cloned from the template, migration
check, audit), and how that changes as the project's migration history grows.

Each migration count is a child process with a settings module that adds a scratch tenant app of
that many synthetic migrations (benchmarks/_common.py). Beside the real path it times, on a few
agencies, the previous path (django-tenants' CloneSchema, which re-creates its PL/pgSQL function on
every call, then `migrate_schemas` as the check) and replaying every migration into an empty schema
(django-tenants' default). Goal: under 0.5 s per agency, flat in the number of migrations.

    ./dev bench onboarding [--agencies 100] [--migrations 300] [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as bench  # noqa: E402

GOAL_SECONDS = 0.5
FLAT_TOLERANCE = 1.25  # "flat": the largest history costs at most 25% more per agency than none
SIDE_PATHS = 3  # agencies timed on the previous path and on replay, per level


def main() -> None:
    args = bench.arguments(
        __doc__.splitlines()[0],
        agencies=100,
        quick_agencies=20,
        migrations=(300, 100, "synthetic migrations added at the largest level"),
    )
    if "--child" in sys.argv:
        return child(args)
    bench.print_machine()
    levels = [0, args.migrations // 3, args.migrations] if not args.quick else [0, args.migrations]
    results = []
    workdir = bench.scratch_directory()
    for extra in levels:
        settings = bench.scratch_settings(workdir, {"bench_history": extra}) if extra else None
        argv = [__file__, "--child", "--agencies", str(args.agencies)]
        results.append(bench.run_child(argv, settings_module=settings, extra_path=str(workdir)))
    print()
    print(
        f"{'tenant migrations':>18} {'agency_create':>14} {'p90':>9} {'clone':>9} {'check':>8} "
        f"{'previous path':>14} {'replay':>9}"
    )
    for r in results:
        print(
            f"{r['migrations']:>18} {r['create_median'] * 1000:>11.1f} ms {r['create_p90'] * 1000:>6.1f} ms "
            f"{r['clone_median'] * 1000:>6.1f} ms {r['check_median'] * 1000:>5.1f} ms "
            f"{r['previous_median'] * 1000:>11.1f} ms {r['replay_median'] * 1000:>6.1f} ms"
        )
    first, last = results[0], results[-1]
    growth = last["create_median"] / first["create_median"]
    worst = max(r["create_median"] for r in results)
    met = worst < GOAL_SECONDS and growth <= FLAT_TOLERANCE
    bench.summary(
        "onboarding",
        met,
        f"{first['create_median'] * 1000:.0f} ms per agency at {first['migrations']} migrations, "
        f"{last['create_median'] * 1000:.0f} ms at {last['migrations']} ({growth:.2f}x; goal < 500 ms, flat); "
        f"previous path {last['previous_median'] * 1000:.0f} ms, replay {last['replay_median'] * 1000:.0f} ms "
        f"at {last['migrations']}",
    )


def child(args) -> None:
    """One level: a scratch database migrated with this process's settings, then agencies."""
    bench.django_setup()
    from django.core.management import call_command
    from django.db import connection
    from django_tenants.clone import CloneSchema

    from agencies import schemas
    from agencies.services import agency_create
    from network import services as network_services

    with bench.scratch_database():
        with bench.Stopwatch() as migrate:
            call_command("migrate_network", verbosity=0)
        migrations = len(schemas.migration_nodes())
        network = network_services.network_get_or_create(name="Bench", slug="bench")
        region = network_services.region_get_or_create(network=network, name="Bench", slug="bench")
        create, clone, check, previous, replay = [], [], [], [], []
        for i in range(args.agencies):
            with bench.Stopwatch() as sw:
                agency_create(
                    actor=None,
                    network=network,
                    name=f"Bench {i}",
                    slug=f"bench-{i}",
                    discipline="fire",
                    region=region,
                    provision_async=False,
                )
            create.append(sw.seconds)
        for i in range(args.agencies):
            with bench.Stopwatch() as sw:
                schemas.schema_clone_from_template(f"bench_clone_{i}")
            clone.append(sw.seconds)
            with bench.Stopwatch() as sw:
                ran = schemas.schema_migrate(f"bench_clone_{i}")
            check.append(sw.seconds)
            assert not ran, "a fresh clone of the current template needed migrating"
        # Last: CloneSchema replaces our installed clone function with its own on every call.
        for i in range(SIDE_PATHS):
            with bench.Stopwatch() as sw:
                CloneSchema().clone_schema(schemas.template_schema_name(), f"bench_previous_{i}", "DATA")
                call_command("migrate_schemas", tenant=True, schema_name=f"bench_previous_{i}", verbosity=0)
            previous.append(sw.seconds)
        for i in range(SIDE_PATHS):
            with bench.Stopwatch() as sw:
                with connection.cursor() as cursor:
                    cursor.execute(f'CREATE SCHEMA "bench_replay_{i}"')
                call_command("migrate_schemas", tenant=True, schema_name=f"bench_replay_{i}", verbosity=0)
            replay.append(sw.seconds)
        connection.set_schema_to_public()
    print(
        f"  {migrations} migrations: migrate_network {migrate.seconds:.1f} s; agency_create median "
        f"{bench.ms(bench.median(create))}, p90 {bench.ms(bench.percentile(create, 90))} (n={len(create)}); "
        f"clone {bench.ms(bench.median(clone))}, check {bench.ms(bench.median(check))}; "
        f"previous path {bench.ms(bench.median(previous))}, replay {bench.ms(bench.median(replay))} (n={SIDE_PATHS})",
        flush=True,
    )
    bench.child_result(
        {
            "migrations": migrations,
            "create_median": bench.median(create),
            "create_p90": bench.percentile(create, 90),
            "clone_median": bench.median(clone),
            "check_median": bench.median(check),
            "previous_median": bench.median(previous),
            "replay_median": bench.median(replay),
        }
    )


if __name__ == "__main__":
    main()
