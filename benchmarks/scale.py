"""The largest state on one server: N agencies (3,000 by default) built once, and on them every figure
that grows with the number of agency schemas.

1. onboarding: `agency_create` per agency with 1, ~1,000 and N agencies already there (goal < 100 ms, flat:
   the largest level within 1.25x of the first);
2. cross-schema foreign keys: the triggers tenant tables put on `network_user`, and what deleting one
   user costs as the code stands and with a foreign key from every tenant column that names a user
   (the figures behind docs/scaling.md's decision);
3. one new tenant migration over every agency, and a no-op `migrate_network` (fresh `manage.py`
   processes, as a deploy runs them; goals < 60 s and < 10 s);
4. the network report job against the hand-written UNION ALL floor (benchmarks/reporting.py's), over a
   fifth of the agencies and all of them (goal within 1.3x, linear), and the resident memory of the
   job's database backend (goal: bounded, the connection recycled every MUSTER_AGENCY_CONNECTION_RECYCLE
   agencies);
5. the dashboards' p95 (network, region, agency), in-process with the Django test client.

    ./dev bench scale [--agencies 3000] [--encounters 200] [--quick]
"""

from __future__ import annotations

import importlib.util
import random
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as bench  # noqa: E402

ONBOARDING_GOAL = 0.100
FLAT_TOLERANCE = 1.25
MIGRATION_GOAL = 60.0
NOOP_GOAL = 10.0
REPORT_RATIO_GOAL = 1.3
LINEAR_TOLERANCE = 1.25
DASHBOARD_P95_GOAL = 0.100
ONBOARD_PER_LEVEL = 20
# Schemas given foreign keys for the comparison: with them in 500 or 1,000 schemas, deleting one user ran out of lock
# slots (each foreign key check locks the referencing table and index: over 6,400 locks, the default table).
FK_SCHEMAS = 200
DASHBOARD_REQUESTS = 20
FLOOR_CHUNK = 500


def _load(name: str):
    """A sibling benchmark as a module (benchmarks/reporting.py's name is taken by the Django app)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    args = bench.arguments(
        __doc__.splitlines()[0],
        agencies=3000,
        quick_agencies=200,
        encounters=(200, 100, "encounters per agency"),
    )
    bench.print_machine()
    bench.django_setup()
    from django.db import connection

    results, verdicts = {}, []
    workdir = bench.scratch_directory()
    with bench.scratch_database():
        net = bench.network_base()
        rng = random.Random(8)
        levels = sorted({1, min(1000, args.agencies // 2), args.agencies})
        onboarding = {}
        with bench.Stopwatch() as built:
            for level in levels:
                missing = level - len(net.agencies)
                if missing > 0:
                    bench.agencies_add(net, count=missing, rng=rng)
                # Before every level, the first too: building the scratch database (migrations, the template
                # schema) is a bulk build as well, so every level is measured on a vacuumed catalog.
                catalog_vacuum()
                onboarding[len(net.agencies)] = onboard(net, ONBOARD_PER_LEVEL if not args.quick else 5)
                print(f"  onboarding with {len(net.agencies)} agencies: {bench.ms(onboarding[len(net.agencies)])}")
        print(f"{len(net.agencies)} agencies built in {built.seconds:.0f} s")
        results["catalog"] = catalog_size()
        print(results["catalog"], flush=True)
        first, last = onboarding[min(onboarding)], onboarding[max(onboarding)]
        met = max(onboarding.values()) < ONBOARDING_GOAL and last / first <= FLAT_TOLERANCE  # every level
        verdicts.append(met)
        results["onboarding"] = (
            "agency_create median "
            + ", ".join(f"{bench.ms(v)} at {n}" for n, v in sorted(onboarding.items()))
            + f" ({last / first:.2f}x; goal < 100 ms, flat <= {FLAT_TOLERANCE}x): {'met' if met else 'NOT met'}"
        )
        print(results["onboarding"], flush=True)

        fk = foreign_key_costs(net)
        results["foreign keys"] = fk
        print(fk, flush=True)

        connection.close()
        noop = bench.manage_seconds("migrate_network", "-v", "0")
        one = bench.scratch_settings(workdir, {"bench_new_a": 1})
        new = bench.manage_seconds("migrate_network", "-v", "0", settings=one, path=workdir)
        reached, recorded, schemas = migration_reached("bench_new_a")
        noop_after = bench.manage_seconds("migrate_network", "-v", "0", settings=one, path=workdir)
        met_new = new < MIGRATION_GOAL and reached == recorded == schemas
        met_noop = max(noop, noop_after) < NOOP_GOAL
        verdicts += [met_new, met_noop]
        results["new migration"] = (
            f"one new tenant migration over {schemas} schemas {new:.1f} s ({new / schemas * 1000:.1f} ms per schema); "
            f"{reached} schemas hold the table, {recorded} record the migration (goal < 60 s, all): "
            f"{'met' if met_new else 'NOT met'}"
        )
        results["no-op migrate_network"] = (
            f"no-op migrate_network {noop:.1f} s, {noop_after:.1f} s after the new migration (goal < 10 s): "
            f"{'met' if met_noop else 'NOT met'}"
        )
        print(results["new migration"], results["no-op migrate_network"], sep="\n", flush=True)

        report = report_and_memory(net, args.encounters)
        verdicts += report["verdicts"]
        results["report"] = report["text"]
        results["memory"] = report["memory"]
        print(report["text"], report["memory"], sep="\n", flush=True)

        dash = dashboards(net)
        met = all(p95 < DASHBOARD_P95_GOAL for p95 in dash.values())
        verdicts.append(met)
        results["dashboards"] = (
            "dashboards p95 "
            + ", ".join(f"{name} {bench.ms(p95)}" for name, p95 in dash.items())
            + f" (goal < 100 ms): {'met' if met else 'NOT met'}"
        )
        print(results["dashboards"], flush=True)
        connection.close()
    print()
    for name, text in results.items():
        print(f"{name:>22}: {text}")
    bench.summary("scale", all(verdicts), f"{len(net.agencies)} agencies; " + "; ".join(results.values()))


# --- 1. Onboarding ---------------------------------------------------------------------------------


def onboard(net, count: int) -> float:
    """Median seconds of `agency_create` (synchronous provisioning) for `count` new agencies, which are
    then suspended so that the rest of the benchmark works on the synthetic agencies only."""
    from agencies.models import Agency
    from agencies.services import agency_create
    from network.models import Network, Region

    network = Network.objects.get(pk=net.network_id)
    region = Region.objects.filter(network=network).order_by("slug").first()
    times, made = [], []
    for _ in range(count):
        number = Agency.objects.count() + 1
        with bench.Stopwatch() as sw:
            agency = agency_create(
                actor=None,
                network=network,
                name=f"Onboarded {number}",
                slug=f"onboarded-{number}",
                discipline="fire",
                region=region,
                provision_async=False,
            )
        times.append(sw.seconds)
        made.append(agency.pk)
    Agency.objects.filter(pk__in=made).update(status=Agency.Status.SUSPENDED)
    return bench.median(times)


def catalog_vacuum() -> None:
    """What autovacuum does between two onboardings (agencies arrive one at a time, not 1,000 in a minute):
    without it the first onboardings after a bulk build pay for the catalog's dead rows and stale statistics."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "VACUUM (ANALYZE) pg_catalog.pg_class, pg_catalog.pg_attribute, pg_catalog.pg_depend, pg_catalog.pg_type, "
            "pg_catalog.pg_constraint, pg_catalog.pg_index, pg_catalog.pg_namespace, pg_catalog.pg_attrdef"
        )


def catalog_size() -> str:
    """The catalog's size: relations, and the on-disk size of the catalog tables that grow with schemas."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM pg_class), (SELECT count(*) FROM pg_attribute), "
            "(SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
            "WHERE c.relnamespace = 'pg_catalog'::regnamespace AND c.relkind = 'r'), "
            "pg_database_size(current_database())"
        )
        relations, attributes, catalog, database = cursor.fetchone()
    return (
        f"catalog: {relations} relations, {attributes} attributes, {catalog / 2**20:.0f} MiB of catalog tables; "
        f"database {database / 2**20:.0f} MiB"
    )


# --- 2. Cross-schema foreign keys ------------------------------------------------------------------

# Every tenant column that names a user (agency schema table, column).
USER_COLUMNS = [
    ("encounters_encounter", "author_id"),
    ("encounters_encounter", "referred_to_id"),
    ("encounters_encounter_co_supporters", "user_id"),
    ("encounters_followup", "owner_id"),
    ("encounters_disclosurerecord", "recorded_by_id"),
]


def foreign_key_costs(net) -> str:
    """Triggers on network_user, and deleting (and updating) one unreferenced user (its foreign key checks run at the
    DELETE: SET CONSTRAINTS ALL IMMEDIATE), as the code stands and with a foreign key from every
    tenant column naming a user in the first FK_SCHEMAS agency schemas (added NOT VALID, then dropped: adding
    them to 3,000 schemas would take longer than the rest of the benchmark, each one rebuilding the list of
    every trigger on network_user)."""
    from django.db import DatabaseError, connection

    schemas = [a.schema_name for a in agency_schemas()][:FK_SCHEMAS]
    as_is = user_delete_cost()
    update_as_is = user_update_cost()
    triggers_as_is = user_triggers()
    added = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_constraint WHERE confrelid = 'public.network_user'::regclass "
            "AND connamespace <> 'public'::regnamespace"
        )
        existing = cursor.fetchone()[0]
        if not existing:
            for schema in schemas:
                for table, column in USER_COLUMNS:
                    name = f"bench_fk_{table}_{column}"[:63]
                    cursor.execute(
                        f'ALTER TABLE "{schema}"."{table}" ADD CONSTRAINT "{name}" FOREIGN KEY ("{column}") '
                        "REFERENCES public.network_user (id) DEFERRABLE INITIALLY DEFERRED NOT VALID"
                    )
                    added.append((schema, table, name))
    try:
        with_fks = user_delete_cost()
    except DatabaseError as exc:  # out of shared memory: more locks than max_locks_per_transaction allows
        print(f"  deleting one user with foreign keys in {len(schemas)} schemas failed: {exc}".splitlines()[0])
        with_fks = float("nan")
    update_with = user_update_cost()
    triggers_with = user_triggers()
    with connection.cursor() as cursor:
        for schema, table, name in added:
            cursor.execute(f'ALTER TABLE "{schema}"."{table}" DROP CONSTRAINT "{name}"')
    if existing:
        return (
            f"tenant foreign keys into network_user: {existing} ({triggers_as_is} triggers on network_user); "
            f"deleting one user {bench.ms(as_is)}"
        )
    return (
        f"no tenant foreign keys into network_user ({triggers_as_is} triggers on it): deleting one user "
        f"{bench.ms(as_is)}; with one from each of the {len(USER_COLUMNS)} user columns in {len(schemas)} schemas "
        f"({triggers_with} triggers): {bench.ms(with_fks)}; updating one user {bench.ms(update_as_is)} without, "
        f"{bench.ms(update_with)} with"
    )


def agency_schemas():
    from agencies.models import Agency

    return list(Agency.objects.order_by("pk"))


def user_triggers() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.network_user'::regclass")
        return cursor.fetchone()[0]


def user_delete_cost(rounds: int = 5) -> float:
    """Median seconds to delete a fresh user with its checks run, rolled back (the trigger that refuses
    deleting users is disabled inside the rolled-back transaction when there is one)."""
    from django.db import connection, transaction

    from network.models import User

    user = User.objects.create(email=f"delete-me-{time.time_ns()}@synthetic.invalid", full_name="Delete Me")
    times = []
    for _ in range(rounds):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL session_replication_role = DEFAULT")
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'public.network_user'::regclass AND NOT tgisinternal"
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f'ALTER TABLE public.network_user DISABLE TRIGGER "{name}"')
            with bench.Stopwatch() as sw:
                cursor.execute("DELETE FROM public.network_user WHERE id = %s", [user.pk])
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            times.append(sw.seconds)
            transaction.set_rollback(True)
    User.objects.filter(pk=user.pk).update(is_active=False)
    return bench.median(times)


def user_update_cost(rounds: int = 20) -> float:
    """Median seconds of one UPDATE of a user row (as every sign-in's last_login is): PostgreSQL walks every
    trigger on the table for each updated row, foreign-key triggers included."""
    from django.db import connection, transaction

    from network.models import User

    user_id = User.objects.order_by("pk").values_list("pk", flat=True).first()
    times = []
    for _ in range(rounds):
        with transaction.atomic(), connection.cursor() as cursor:
            with bench.Stopwatch() as sw:
                cursor.execute("UPDATE public.network_user SET last_login = now() WHERE id = %s", [user_id])
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            times.append(sw.seconds)
            transaction.set_rollback(True)
    return bench.median(times)


# --- 3. Migrations -----------------------------------------------------------------------------------


def migration_reached(app: str) -> tuple[int, int, int]:
    """(schemas holding the app's table, schemas recording its migration, agency schemas and template)."""
    from django.db import connection

    names = [a.schema_name for a in agency_schemas()] + ["agency_template"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = %s AND n.nspname = ANY(%s)",
            [f"{app}_record", names],
        )
        tables = cursor.fetchone()[0]
        recorded = 0
        for start in range(0, len(names), 500):
            parts = [
                f"SELECT count(*) FROM {connection.ops.quote_name(n)}.django_migrations WHERE app = %s"
                for n in names[start : start + 500]
            ]
            cursor.execute(
                "SELECT count(*) FROM (" + " UNION ALL ".join(parts) + ") AS c WHERE count > 0",
                [app] * len(parts),
            )
            recorded += cursor.fetchone()[0]
    return tables, recorded, len(names)


# --- 4. The report job, its floor and its backend's memory -------------------------------------------


class BackendMemory(threading.Thread):
    """Samples, every 0.2 s, the private resident memory (RssAnon: catalog and relation caches, not the
    shared buffers it touched) of every other backend connected to the scratch database; keeps the peak
    and the pids seen. Reads /proc/<pid>/status, so PostgreSQL must run on this machine (as here)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak_kib, self.pids, self.stop, self.ready = 0, set(), threading.Event(), threading.Event()

    def run(self) -> None:
        import psycopg

        with psycopg.connect(dbname=bench.BENCH_DB, autocommit=True, **bench._server_params()) as conn:
            # Only backends that start from now on: the one the floor used may still be exiting, with the
            # memory of planning its 2,000-branch statements (an earlier run read 2.6 GiB from it).
            self.started = conn.execute("SELECT now()").fetchone()[0]
            self.ready.set()
            while not self.stop.is_set():
                rows = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND backend_type = 'client backend' AND backend_start > %s",
                    [self.started],
                ).fetchall()
                for (pid,) in rows:
                    kib = rss_anon_kib(pid)
                    if kib:
                        self.pids.add(pid)
                        self.peak_kib = max(self.peak_kib, kib)
                time.sleep(0.2)


def rss_anon_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def floor_chunked(report_bench, net, since, *, store: bool) -> float:
    """benchmarks/reporting.py's floor, one UNION ALL statement per FLOOR_CHUNK agencies: over 3,000 agencies in
    one statement PostgreSQL runs out of stack (max_stack_depth) planning the 12,000 branches."""
    from types import SimpleNamespace

    return sum(
        report_bench.floor(SimpleNamespace(agencies=net.agencies[start : start + FLOOR_CHUNK]), since, store=store)
        for start in range(0, len(net.agencies), FLOOR_CHUNK)
    )


def report_and_memory(net, encounters: int) -> dict:
    from django.conf import settings
    from django.db import connection

    from agencies.models import Agency

    report_bench = _load("reporting")
    with bench.Stopwatch() as filled:
        bench.encounters_generate(net, per_agency=encounters)
        bench.activations_generate(net, count=max(3, len(net.agencies) // 20))
    print(f"  encounters written in {filled.seconds:.0f} s", flush=True)
    since = report_bench.job_since()
    floor_read = floor_chunked(report_bench, net, since, store=False)
    floor_store = floor_chunked(report_bench, net, since, store=True)
    ids = [a.pk for a in net.agencies]
    times, memory = {}, {}
    # The setting as deployed (200); a network smaller than ten times that recycles every tenth of its agencies,
    # so that the run over every agency recycles at all.
    configured = settings.MUSTER_AGENCY_CONNECTION_RECYCLE
    recycle = min(configured, max(1, len(ids) // 10))
    for fraction, every in ((0.2, 0), (1.0, recycle)):
        active = ids[: max(1, round(len(ids) * fraction))]
        Agency.objects.filter(pk__in=ids).exclude(pk__in=active).update(status=Agency.Status.SUSPENDED)
        Agency.objects.filter(pk__in=active).update(status=Agency.Status.ACTIVE)
        report_bench.vacuum()
        connection.close()
        settings.MUSTER_AGENCY_CONNECTION_RECYCLE = every
        sampler = BackendMemory()
        sampler.start()
        sampler.ready.wait()
        times[len(active)] = report_bench.job()
        sampler.stop.set()
        sampler.join()
        memory[len(active)] = (sampler.peak_kib, every, len(sampler.pids))
    settings.MUSTER_AGENCY_CONNECTION_RECYCLE = configured
    n, small = len(ids), min(times)
    ratio = times[n] / floor_store
    growth = (times[n] / n) / (times[small] / small)
    met_ratio = ratio <= REPORT_RATIO_GOAL and growth <= LINEAR_TOLERANCE
    text = (
        f"report job {times[n]:.1f} s over {n} agencies x {encounters} encounters = {ratio:.2f}x the floor "
        f"({floor_store:.1f} s stored, {floor_read:.1f} s read only); {times[small] / small * 1000:.0f} ms per agency "
        f"at {small}, {times[n] / n * 1000:.0f} at {n} ({growth:.2f}x) (goal <= 1.3x, linear): "
        f"{'met' if met_ratio else 'NOT met'}"
    )
    (peak_small, _, _), (peak_all, every, backends) = memory[small], memory[n]
    # Bounded: over every agency, recycling, the backend never holds what one backend held over a fifth of them.
    met_memory = bool(every) and peak_all < peak_small
    text_memory = (
        f"report backend private memory peak {peak_small / 1024:.0f} MiB over {small} agencies without recycling, "
        f"{peak_all / 1024:.0f} MiB over {n} recycling every {every} agencies ({backends} backends seen) "
        f"(goal: bounded, not growing with agencies): {'met' if met_memory else 'NOT met'}"
    )
    return {"text": text, "memory": text_memory, "verdicts": [met_ratio, met_memory]}


# --- 5. Dashboards -----------------------------------------------------------------------------------


def dashboards(net) -> dict[str, float]:
    """p95 seconds of each dashboard, DASHBOARD_REQUESTS requests each after one warm-up, in-process."""
    from django.conf import settings
    from django.test import Client
    from django.urls import reverse

    from agencies.models import Agency, Membership, Role
    from network.models import NetworkRole, Region, User

    region = Region.objects.filter(network_id=net.network_id).order_by("slug").first()
    admin = User.objects.create(email="bench-admin@synthetic.invalid", full_name="Bench Admin")
    NetworkRole.objects.create(user=admin, network_id=net.network_id, role=NetworkRole.Role.STATE_ADMIN)
    coordinator = User.objects.create(email="bench-region@synthetic.invalid", full_name="Bench Region")
    NetworkRole.objects.create(
        user=coordinator, network_id=net.network_id, role=NetworkRole.Role.REGIONAL_COORDINATOR, region=region
    )
    agency = Agency.objects.filter(status=Agency.Status.ACTIVE, pk__in=[a.pk for a in net.agencies]).first()
    chief = Membership.objects.filter(agency=agency, role=Role.CHIEF).first().user
    pages = {
        "network": (admin, reverse("network_dashboard")),
        "region": (coordinator, reverse("network_dashboard")),
        "agency": (chief, reverse("agency_dashboard", kwargs={"agency_slug": agency.slug})),
    }
    out = {}
    for name, (user, path) in pages.items():
        client = Client()
        # Signed in as a person who has passed MFA: the benchmark measures the page, not the sign-in.
        settings.MUSTER_MFA_REQUIRED = False
        client.force_login(user)
        times = []
        for i in range(DASHBOARD_REQUESTS + 1):
            with bench.Stopwatch() as sw:
                response = client.get(path)
            assert response.status_code == 200, (name, response.status_code)
            if i:
                times.append(sw.seconds)
        out[name] = bench.percentile(times, 95)
    return out


if __name__ == "__main__":
    main()
