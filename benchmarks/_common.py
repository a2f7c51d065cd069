"""Shared by the benchmarks: Django against a scratch database, the machine record, a synthetic network.

Every benchmark works in its own scratch database (`<DATABASE_URL's database>_bench`, so `muster_bench`
by default and never shared by two checkouts with their own databases), created at the start and
dropped at the end, never the development or test databases. The synthetic network is fictional:
numbered agencies and people, distributions shaped like a statewide network (many small peer
teams, a few large ones; most contacts one-on-one, in person or by phone, about work stress or
a critical incident). Bulk rows are written with SQL (`generate_series` inside each schema), not
with ORM loops, so a 500-agency network is built in minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _bench_db_name() -> str:
    """The scratch database: named after DATABASE_URL's database, so two checkouts that each have their
    own database (two engineers on one server) never drop each other's benchmark mid-run."""
    from urllib.parse import urlsplit

    name = urlsplit(os.environ.get("DATABASE_URL", "")).path.lstrip("/") or "muster"
    return f"{name}_bench"


BENCH_DB = _bench_db_name()


# --- Django against the scratch database ------------------------------------------------------


def django_setup(settings_module: str = "config.settings", extra_path: str | None = None) -> None:
    """Point Django at the scratch database and set it up. Call before importing any model.
    A parent benchmark hands its child processes their settings in MUSTER_BENCH_SETTINGS."""
    settings_module = os.environ.get("MUSTER_BENCH_SETTINGS", settings_module)
    for entry in (str(ROOT), extra_path):
        if entry and entry not in sys.path:
            sys.path.insert(0, entry)
    os.environ["MUSTER_DATABASE_NAME"] = BENCH_DB
    os.environ.setdefault("MUSTER_ENV", "development")
    os.environ.setdefault("MUSTER_LOG_LEVEL", "WARNING")
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    import django

    django.setup()


def _server_params() -> dict:
    import dj_database_url

    cfg = dj_database_url.parse(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/muster"))
    params = {"host": cfg["HOST"], "port": cfg["PORT"], "user": cfg["USER"], "password": cfg["PASSWORD"]}
    return {k: v for k, v in params.items() if v}


def manage_seconds(*command: str, settings: str | None = None, path: Path | None = None) -> float:
    """Seconds for one `manage.py` run against the scratch database, as a deploy runs it (output shown on
    failure only). `settings` and `path`: a scratch settings module and the folder that holds it."""
    import subprocess

    env = dict(os.environ, MUSTER_DATABASE_NAME=BENCH_DB, MUSTER_LOG_LEVEL="WARNING")
    env.setdefault("MUSTER_ENV", "development")
    if settings:
        env["DJANGO_SETTINGS_MODULE"] = settings
        env["PYTHONPATH"] = os.pathsep.join([str(path), str(ROOT)])
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, capture_output=True)  # noqa: S603
    if proc.returncode:
        sys.stderr.write(proc.stderr.decode()[-4000:])
        raise RuntimeError(f"manage.py {' '.join(command)} failed")
    return time.perf_counter() - started


def scratch_database_create() -> None:
    import psycopg

    with psycopg.connect(dbname="postgres", autocommit=True, **_server_params()) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')


def scratch_database_drop() -> None:
    """Drop the scratch database; `MUSTER_BENCH_KEEP=1` keeps it, to profile against it afterwards (the next
    run starts afresh all the same)."""
    import psycopg

    if os.environ.get("MUSTER_BENCH_KEEP") == "1":
        print(f"  kept the scratch database {BENCH_DB} (MUSTER_BENCH_KEEP=1)", flush=True)
        return
    with contextlib.suppress(Exception):
        from django.db import connections

        connections.close_all()
    with psycopg.connect(dbname="postgres", autocommit=True, **_server_params()) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')


@contextlib.contextmanager
def scratch_database():
    """A fresh scratch database for the block, dropped afterwards whatever happens."""
    scratch_database_create()
    try:
        yield
    finally:
        scratch_database_drop()


# --- The machine ---------------------------------------------------------------------------------


def machine_record() -> dict:
    """What the figures were measured on: they mean little without it."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram_gib = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    postgres = "unknown"
    with contextlib.suppress(Exception):
        import psycopg

        with psycopg.connect(dbname="postgres", autocommit=True, **_server_params()) as conn:
            postgres = conn.execute("SHOW server_version").fetchone()[0]
    import django

    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": ram_gib,
        "postgresql": postgres,
        "python": platform.python_version(),
        "django": django.get_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def print_machine() -> dict:
    record = machine_record()
    print(
        f"machine: {record['cpu']}, {record['cores']} cores, {record['ram_gib']} GiB RAM; "
        f"PostgreSQL {record['postgresql']}, Python {record['python']}, Django {record['django']}"
    )
    load = record["load_average_at_start"]
    print(f"date: {record['date']}; load average at start: {load[0]} {load[1]} {load[2]}")
    return record


# --- Arguments, timing, output ---------------------------------------------------------------


def arguments(description: str, *, agencies: int, quick_agencies: int, **extra: tuple[int, int, str]):
    """The common command line: --agencies N, --quick, and extra integer options given as
    name=(default, quick default, help). --quick picks the quick default of every option not given."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small sizes that finish in a minute or two")
    parser.add_argument(
        "--agencies", type=int, default=None, help=f"agencies (default {agencies}, quick {quick_agencies})"
    )
    for name, (_default, quick, text) in extra.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=None, help=f"{text} (quick {quick})")
    args, _unknown = parser.parse_known_args()  # ./dev bench passes the same options to every script
    args.agencies = args.agencies or (quick_agencies if args.quick else agencies)
    for name, (default, quick, _text) in extra.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else default)
    return args


class Stopwatch:
    """`with Stopwatch() as sw: ...` then sw.seconds."""

    def __enter__(self) -> Stopwatch:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.started


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def median(values: list[float]) -> float:
    return statistics.median(values)


def summary(name: str, met: bool, text: str) -> None:
    """The one line each benchmark ends with."""
    print(f"SUMMARY {name}: {text} -- goal {'met' if met else 'NOT met'}", flush=True)


# --- Scratch apps: synthetic migrations -------------------------------------------------------


def scratch_settings(directory: Path, apps: dict[str, int]) -> str:
    """Write a settings module that adds tenant apps with the given number of synthetic migrations
    (see _scratch_operation). Returns the module name; put `directory` on sys.path to use it."""
    for label, count in apps.items():
        _scratch_app(directory / label, label, count)
    module = "bench_settings_" + "_".join(f"{label}{count}" for label, count in apps.items())
    labels = list(apps)
    (directory / f"{module}.py").write_text(
        "from config.settings import *  # noqa: F403\n\n"
        f"TENANT_APPS = TENANT_APPS + {labels!r}  # noqa: F405\n"
        f"INSTALLED_APPS = INSTALLED_APPS + {labels!r}  # noqa: F405\n"
    )
    return module


def _scratch_app(path: Path, label: str, count: int) -> None:
    (path / "migrations").mkdir(parents=True, exist_ok=True)
    (path / "__init__.py").write_text("")
    (path / "migrations" / "__init__.py").write_text("")
    for number in range(1, count + 1):
        previous = f"[({label!r}, '{number - 1:04d}_step')]" if number > 1 else "[]"
        (path / "migrations" / f"{number:04d}_step.py").write_text(
            textwrap.dedent(
                f"""\
                from django.db import migrations, models


                class Migration(migrations.Migration):
                    dependencies = {previous}
                    operations = [{_scratch_operation(number)}]
                """
            )
        )


def _scratch_operation(number: int) -> str:
    """Migration `number` of a scratch app: a table first, then its `code` column altered back and forth
    (varchar 41, 40, 41, ...), each a real ALTER TABLE when replayed.

    The history grows while the schema stays one small table, so a cost that grows with the count
    measures the migration history, not the size of the schema (which the clone does follow: it
    copies every table and index).
    """
    if number == 1:
        return (
            "migrations.CreateModel(name='Record', fields=["
            "('id', models.BigAutoField(primary_key=True, serialize=False)),"
            "('code', models.CharField(max_length=40))])"
        )
    return (
        f"migrations.AlterField(model_name='record', name='code', field=models.CharField(max_length={40 + number % 2}))"
    )


def scratch_directory() -> Path:
    return Path(tempfile.mkdtemp(prefix="muster-bench-"))


# --- A synthetic network -------------------------------------------------------------------------

DISCIPLINES = ["fire", "ems", "911", "law", "corrections"]
# The documentation standard's recipient discipline for an agency's own members.
RECIPIENT_DISCIPLINE = {
    "fire": "fire",
    "ems": "ems",
    "911": "dispatch",
    "law": "law-enforcement",
    "corrections": "corrections",
}
DISCIPLINE_WEIGHTS = [30, 20, 12, 28, 10]
# (code, weight) per coded field, roughly what peer teams report.
DURATION = [("under-15", 25), ("15-29", 35), ("30-44", 20), ("45-59", 10), ("60-plus", 10)]
CONTACT_MODE = [("in-person", 50), ("phone", 30), ("text", 15), ("video", 5)]
INITIATOR = [("self", 30), ("peer-outreach", 45), ("supervisor-referral", 12), ("activation", 8), ("family", 5)]
RELATION = [("own-agency", 80), ("other-agency", 10), ("family", 6), ("retiree", 4)]
ROLE_CLASS = [("sworn", 30), ("firefighter-ems", 35), ("dispatcher", 12), ("civilian", 13), ("command", 10)]
REFERRAL = [("none", 72), ("clinician", 10), ("eap", 10), ("chaplain", 5), ("crisis-line", 3)]
TOPICS = [
    ("work-stress", 30),
    ("critical-incident", 25),
    ("family-relationship", 15),
    ("grief", 8),
    ("health", 7),
    ("finances", 5),
    ("substance-use", 3),
    ("suicide-risk", 2),
    ("undisclosed", 3),
    ("other", 2),
]
INTERVENTIONS = [("one-on-one", 70), ("follow-up", 18), ("defusing", 6), ("debriefing", 3), ("family", 3)]


@dataclass
class SyntheticNetwork:
    network_id: int
    standard_id: int
    agencies: list = field(default_factory=list)  # Agency objects, active, schemas cloned
    supporters: dict = field(default_factory=dict)  # agency id -> [user ids]


def _pick(column_random: str, choices: list[tuple[str, int]]) -> str:
    """A SQL expression picking a code with the given weights from one random value in [0, 1)."""
    total = sum(weight for _code, weight in choices)
    parts, running = [], 0
    for code, weight in choices[:-1]:
        running += weight
        parts.append(f"WHEN {column_random} < {running / total:.6f} THEN '{code}'")
    return f"(CASE {' '.join(parts)} ELSE '{choices[-1][0]}' END)"


def team_sizes(count: int, rng: random.Random) -> list[int]:
    """Peer supporters per agency: many teams of 4-12, a long tail of large departments."""
    return [max(3, min(120, round(rng.lognormvariate(2.1, 0.65)))) for _ in range(count)]


def network_build(*, agencies: int, seed: int = 8, progress: bool = True) -> SyntheticNetwork:
    """Migrate the scratch database and create `agencies` active agencies with their peer teams.

    Agencies are created the way onboarding does it (their schema cloned from the template), but
    without the per-agency audit event and task: the rows come in bulk.
    """
    rng = random.Random(seed)
    net = network_base()
    agencies_add(net, count=agencies, rng=rng, progress=progress)
    return net


def network_base() -> SyntheticNetwork:
    """Migrate the scratch database and create the network, its six regions and its standard, no agencies."""
    from django.core.management import call_command

    from network import services as network_services
    from network import standards

    call_command("migrate_network", verbosity=0)
    network = network_services.network_get_or_create(name="Synthetic State Network", slug="synthetic")
    for i in range(1, 7):
        network_services.region_get_or_create(network=network, name=f"Region {i}", slug=f"region-{i}")
    standard = standards.standard_ensure_default(network=network)
    return SyntheticNetwork(network_id=network.pk, standard_id=standard.pk)


def agencies_add(
    net: SyntheticNetwork, *, count: int, rng: random.Random, progress: bool = True, first: int | None = None
) -> list:
    """Add `count` active agencies numbered from `first` (default: after those already in `net`), each
    with its schema cloned from the template and its peer team; returns them (also added to `net`)."""
    from django.contrib.auth.hashers import make_password

    from agencies import schemas
    from agencies.models import Agency, Membership, Role
    from network.models import Region, User

    regions = list(Region.objects.filter(network_id=net.network_id).order_by("slug"))
    first = first if first is not None else len(net.agencies) + 1
    now = datetime.datetime.now(datetime.UTC)
    rows = [
        Agency(
            network_id=net.network_id,
            name=f"Agency {i:04d}",
            slug=f"agency-{i:04d}",
            schema_name=f"agency_{i:04d}",
            discipline=rng.choices(DISCIPLINES, DISCIPLINE_WEIGHTS)[0],
            region=regions[i % len(regions)],
            status=Agency.Status.ACTIVE,
            provision_progress=100,
            provision_step="Ready",
            activated_at=now,
        )
        for i in range(first, first + count)
    ]
    created = Agency.objects.bulk_create(rows)
    started = time.perf_counter()
    for done, agency in enumerate(created, 1):
        schemas.schema_clone_from_template(agency.schema_name)
        if progress and (done % 100 == 0 or done == len(created)):
            print(f"  {done}/{len(created)} agency schemas cloned ({time.perf_counter() - started:.0f} s)", flush=True)

    unusable = make_password(None)
    sizes = team_sizes(len(created), rng)
    users = User.objects.bulk_create(
        User(email=f"person{a:04d}.{p}@synthetic.invalid", full_name=f"Person {a:04d}-{p}", password=unusable)
        for a, size in zip((agency.pk for agency in created), sizes, strict=True)
        for p in range(size + 3)  # the team, plus a coordinator, a chief and a clinician
    )
    memberships, cursor = [], 0
    for agency, size in zip(created, sizes, strict=True):
        team = users[cursor : cursor + size + 3]
        cursor += size + 3
        roles = [Role.COORDINATOR, Role.CHIEF, Role.CLINICIAN] + [Role.PEER_SUPPORTER] * size
        memberships += [Membership(user=u, agency=agency, role=r) for u, r in zip(team, roles, strict=True)]
        net.supporters[agency.pk] = [team[0].pk] + [u.pk for u in team[3:]]
    Membership.objects.bulk_create(memberships)
    net.agencies.extend(created)
    return created


def encounters_generate(net: SyntheticNetwork, *, per_agency: int, days: int = 730, notes_share: float = 0.3) -> None:
    """`per_agency` encounters in every agency over the last `days` days, with follow-ups and
    co-supporters, written by one INSERT ... SELECT generate_series per table per schema.

    Notes hold synthetic ciphertext-shaped text ("m1.synthetic.<base64>"): the reporting job never
    decrypts, so real encryption would only slow the set-up. Do not read them through the model.
    """
    from django.db import connection

    started = time.perf_counter()
    for done, agency in enumerate(net.agencies, 1):
        schema = connection.ops.quote_name(agency.schema_name)
        params = {
            "n": per_agency,
            "authors": net.supporters[agency.pk],
            "standard": net.standard_id,
            "days": days,
            "discipline": RECIPIENT_DISCIPLINE[agency.discipline],
        }
        with connection.cursor() as cursor:
            cursor.execute(_ENCOUNTERS_SQL.format(schema=schema, notes_share=notes_share, **_PICKS), params)
            cursor.execute(_CO_SUPPORTERS_SQL.format(schema=schema), params)
            cursor.execute(_FOLLOW_UPS_SQL.format(schema=schema), params)
            cursor.execute(f"ANALYZE {schema}.encounters_encounter")
        if done % 50 == 0 or done == len(net.agencies):
            print(
                f"  {done}/{len(net.agencies)} agencies filled with {per_agency} encounters each "
                f"({time.perf_counter() - started:.0f} s)",
                flush=True,
            )


_PICKS = {
    "duration": _pick("r.r1", DURATION),
    "mode": _pick("r.r2", CONTACT_MODE),
    "initiator": _pick("r.r3", INITIATOR),
    "relation": _pick("r.r4", RELATION),
    "role_class": _pick("r.r5", ROLE_CLASS),
    "referral": _pick("r.r6", REFERRAL),
    "topic1": _pick("r.r7", TOPICS),
    "topic2": _pick("r.r8", TOPICS),
    "intervention": _pick("r.r9", INTERVENTIONS),
}

# Recent months are busier than two years ago (power < 1 skews towards today); the random values
# live in a LATERAL subquery that references the row, so each row draws its own.
_ENCOUNTERS_SQL = """
INSERT INTO {schema}.encounters_encounter (
    uuid, submission_key, standard_id, author_id, occurred_on, duration_band, contact_mode, initiator,
    recipient_relation, recipient_discipline, role_class, topics, interventions, referral, visit_number,
    confidentiality_notice_given, escalation, notes, legal_hold, created_at)
SELECT gen_random_uuid(), gen_random_uuid(), %(standard)s,
    (%(authors)s::bigint[])[1 + floor(r.r0 * cardinality(%(authors)s::bigint[]))::int],
    current_date - floor(power(r.r10, 1.4) * %(days)s)::int,
    {duration}, {mode}, {initiator}, {relation}, %(discipline)s, {role_class},
    CASE WHEN r.r11 < 0.3 AND {topic1} <> {topic2} THEN ARRAY[{topic1}, {topic2}] ELSE ARRAY[{topic1}] END,
    ARRAY[{intervention}], {referral}, CASE WHEN r.r12 < 0.6 THEN 1 WHEN r.r12 < 0.85 THEN 2 ELSE 3 END,
    true, r.r13 < 0.01,
    CASE WHEN r.r14 < {notes_share}
        THEN 'm1.synthetic.' || translate(encode(decode(repeat(md5(r.r14::text), 4), 'hex'), 'base64'), chr(10), '')
    END,
    false, now()
FROM generate_series(1, %(n)s) AS g,
LATERAL (SELECT random() + 0 * g AS r0, random() AS r1, random() AS r2, random() AS r3, random() AS r4,
    random() AS r5, random() AS r6, random() AS r7, random() AS r8, random() AS r9, random() AS r10,
    random() AS r11, random() AS r12, random() AS r13, random() AS r14) AS r
"""

# One encounter in ten had a second supporter.
_CO_SUPPORTERS_SQL = """
INSERT INTO {schema}.encounters_encounter_co_supporters (encounter_id, user_id)
SELECT e.id, (%(authors)s::bigint[])[1 + floor(random() * cardinality(%(authors)s::bigint[]))::int]
FROM {schema}.encounters_encounter e WHERE random() < 0.1
ON CONFLICT DO NOTHING
"""

# A third of encounters planned a follow-up a few days later; most past ones were completed.
_FOLLOW_UPS_SQL = """
INSERT INTO {schema}.encounters_followup (uuid, encounter_id, owner_id, due_on, status, outcome, completed_at,
    created_at)
SELECT gen_random_uuid(), e.id, e.author_id, e.occurred_on + d.days,
    CASE WHEN e.occurred_on + d.days < current_date AND d.done THEN 'done' ELSE 'open' END,
    CASE WHEN e.occurred_on + d.days < current_date AND d.done THEN 'contacted' ELSE '' END,
    CASE WHEN e.occurred_on + d.days < current_date AND d.done
        THEN (e.occurred_on + d.days + d.late)::timestamptz END,
    now()
FROM {schema}.encounters_encounter e,
LATERAL (SELECT ((ARRAY[2, 3, 7, 14])[1 + floor(random() * 4)::int] + 0 * e.id)::int AS days,
    random() < 0.85 AS done, floor(random() * 4)::int - 2 AS late, random() AS pick) AS d
WHERE d.pick < 0.33
"""


def activations_generate(net: SyntheticNetwork, *, count: int, seed: int = 9) -> None:
    """A few interagency activations over the two years, each with 2-6 agencies and affected members
    (names as synthetic ciphertext, never read), most contacted within hours."""
    from activations.models import Activation, OutreachTarget, Participation
    from governance.models import IncidentType
    from network.fields import Ciphertext
    from network.models import User

    rng = random.Random(seed)
    opener = User.objects.order_by("pk").first()
    now = datetime.datetime.now(datetime.UTC)
    targets = []
    for number in range(count):
        involved = rng.sample(net.agencies, k=min(len(net.agencies), rng.randint(2, 6)))
        occurred = now - datetime.timedelta(days=rng.randint(1, 700), hours=rng.randint(0, 23))
        activation = Activation.objects.create(
            network_id=net.network_id,
            incident_type=rng.choice(IncidentType.values),
            name=f"Incident {number + 1}",
            occurred_at=occurred,
            location="Synthetic County",
            lead_agency=involved[0],
            opened_by=opener,
            status=Activation.Status.CLOSED,
        )
        Participation.objects.bulk_create(
            Participation(activation=activation, agency=agency, added_by=opener) for agency in involved
        )
        for index in range(rng.randint(5, 40)):
            contacted = occurred + datetime.timedelta(minutes=rng.lognormvariate(5.5, 1.0))
            targets.append(
                OutreachTarget(
                    activation=activation,
                    name=Ciphertext(f"m1.synthetic.{number}.{index}"),
                    name_index=f"synthetic-{number}-{index}",
                    home_agency=rng.choice(involved),
                    exposure=OutreachTarget.Exposure.values[0],
                    added_by=opener,
                    first_contact_at=contacted if rng.random() < 0.85 else None,
                )
            )
    OutreachTarget.objects.bulk_create(targets)


# --- Running the scripts as children (own settings per process) ---------------------------------


def child_result(payload: dict) -> None:
    """A child process's result: the last line of its output, as JSON."""
    print("RESULT " + json.dumps(payload), flush=True)


def run_child(args: list[str], *, settings_module: str | None = None, extra_path: str | None = None) -> dict:
    """Run a benchmark script in a child process (a new settings module needs a new process);
    its output passes through, and its RESULT line is returned."""
    import subprocess

    env = dict(os.environ)
    if settings_module:
        env["MUSTER_BENCH_SETTINGS"] = settings_module
    if extra_path:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [extra_path, str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True)
    result = None
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT ") :])
        else:
            print(line, flush=True)
    if proc.returncode != 0 or result is None:
        sys.stderr.write(proc.stderr[-4000:])
        raise RuntimeError(f"child {' '.join(args)} failed with code {proc.returncode}")
    return result
