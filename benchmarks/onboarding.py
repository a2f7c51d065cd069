"""Agency onboarding: seconds per agency when cloning the template schema, against replaying every
tenant migration into an empty schema (django-tenants' default). Prints its figures and one summary line.

Run with `./dev bench` (or `./dev bench --agencies 50`). Uses a scratch database, dropped afterwards.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["MUSTER_DATABASE_NAME"] = "muster_bench"
os.environ.setdefault("MUSTER_ENV", "development")


def scratch_database(create: bool) -> None:
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    params = {
        k: v
        for k, v in {"host": db["HOST"], "port": db["PORT"], "user": db["USER"], "password": db["PASSWORD"]}.items()
        if v
    }
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        conn.execute('DROP DATABASE IF EXISTS "muster_bench" WITH (FORCE)')
        if create:
            conn.execute('CREATE DATABASE "muster_bench"')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agencies", type=int, default=20, help="agencies per method")
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from agencies import schemas
    from agencies.services import agency_create
    from network import services as network_services

    scratch_database(create=True)
    try:
        call_command("migrate_network", verbosity=0)
        tenant_migrations = sum(1 for _ in _tenant_migrations())
        network = network_services.network_get_or_create(name="Bench", slug="bench")
        region = network_services.region_get_or_create(network=network, name="Bench", slug="bench")

        clone_times, full_times, replay_times = [], [], []
        for i in range(args.agencies):
            started = time.perf_counter()
            schemas.schema_clone_from_template(f"bench_clone_{i}")
            schemas.schema_migrate(f"bench_clone_{i}")
            clone_times.append(time.perf_counter() - started)
        for i in range(args.agencies):
            started = time.perf_counter()
            agency_create(
                actor=None,
                network=network,
                name=f"Bench {i}",
                slug=f"bench-{i}",
                discipline="fire",
                region=region,
                provision_async=False,
            )
            full_times.append(time.perf_counter() - started)
        for i in range(args.agencies):
            started = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE SCHEMA "bench_replay_{i}"')
            schemas.schema_migrate(f"bench_replay_{i}")
            replay_times.append(time.perf_counter() - started)
    finally:
        connection.close()
        scratch_database(create=False)

    def line(label: str, values: list[float]) -> str:
        return (
            f"{label:<44} median {statistics.median(values) * 1000:7.1f} ms   "
            f"p90 {sorted(values)[int(len(values) * 0.9) - 1] * 1000:7.1f} ms   n={len(values)}"
        )

    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"tenant migrations recorded per schema: {tenant_migrations}")
    print(line("clone template + migrate check", clone_times))
    print(line("agency_create (row, clone, check, audit)", full_times))
    print(line("replay every migration (django-tenants)", replay_times))
    full, clone, replay = (statistics.median(v) * 1000 for v in (full_times, clone_times, replay_times))
    print(
        f"SUMMARY onboarding: {full:.0f} ms per agency "
        f"(clone {clone:.0f} ms vs replay {replay:.0f} ms, replay/clone = {replay / clone:.2f}x)"
    )


def _tenant_migrations():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT app, name FROM agency_template.django_migrations")
        yield from cursor.fetchall()


if __name__ == "__main__":
    main()
