"""Faults that hang, not only faults that refuse: Redis and the worker paused under a running Muster.

A stopped Redis refuses connections and every client fails at once (tests/test_outages.py). A *paused*
one (SIGSTOP: what a network partition or a failover looks like from the client) accepts the TCP
connection and then never answers; only a read timeout ends the wait. This module starts its own private
PostgreSQL, Redis, gunicorn, worker and beat (the fixture of tests/test_outages.py, a stack of this
module's own) and pauses the real processes:

- Redis paused: an encounter save (a POST through the real web server) answers within a few seconds,
  /healthz answers 503 naming Redis within a few seconds, and after SIGCONT the outbox sends the queued
  snapshot refresh and the agency's snapshot is built once.
- Redis paused while the worker finishes a task: its acknowledgement times out, and the worker goes on
  taking work once Redis resumes (network/broker.py; kombu's own transport leaves it idle for good).
- The worker paused (the whole process group, parent and pool) with a task waiting for it: nothing is
  lost, nothing runs while it is paused, and after SIGCONT the task runs once.

Each request has a client-side guard (GUARD seconds): without the read timeouts the save hangs until
Redis resumes, and the test fails on the guard instead of hanging (docs/reliability.md, "Hangs").
"""

from __future__ import annotations

import json
import os
import re
import signal
import time

import pytest
import redis

from tests.support import agency_url
from tests.test_outages import REFRESH_TASK, SNAPSHOT_RUN_PAUSE_MS, Browser, Outage, Response, _wait
from tests.test_outages import outage as outage  # the private stack: one of this module's own
from tests.test_production_shape import PRODUCTION_ENV, run_manage

pytestmark = pytest.mark.outage

GUARD = 30  # seconds a request may take before the test calls it a hang and fails
BOUND = 8  # seconds: the Redis timeout (2 s) with room for a loaded machine; a hang is unbounded
SETTLE = 4  # seconds to let a late or second delivery show up before counting deliveries


SHOW_REDIS_TIMEOUTS = """
import json
from django.conf import settings
from config.celery import app
print(json.dumps({
    "cache": settings.CACHES["default"]["OPTIONS"],
    "broker_connection_timeout": app.conf.broker_connection_timeout,
    "broker": {k: v for k, v in app.conf.broker_transport_options.items() if k.startswith("socket")},
    "transport": type(app.connection_for_write().transport).__module__,
}))
"""


def test_one_setting_bounds_every_redis_connection_connect_and_read():
    """MUSTER_REDIS_TIMEOUT_SECONDS reaches the cache (so rate limits, heartbeats and /healthz) and the
    broker (publishing from web, worker and beat), as a connect and as a read timeout; nonsense is refused."""
    env = {**PRODUCTION_ENV, "MUSTER_REDIS_TIMEOUT_SECONDS": "0.5"}
    result = run_manage("shell", "-c", SHOW_REDIS_TIMEOUTS, env_overrides=env)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout.strip().splitlines()[-1])
    assert shown == {
        "cache": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        "broker_connection_timeout": 0.5,
        "broker": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        "transport": "network.broker",  # a timed-out acknowledgement cannot stall a worker (tests/test_broker.py)
    }
    # Redis over TLS stays over TLS with the transport named in the settings, with the certificate checked.
    tls = run_manage(
        "shell",
        "-c",
        "from config.celery import app; c = app.connection_for_write(); print(type(c.transport).__module__, c.ssl)",
        env_overrides={**env, "REDIS_URL": "rediss://redis.example:6380/0"},
    )
    assert tls.returncode == 0, tls.stderr
    assert tls.stdout.strip().splitlines()[-1] == "network.broker {'ssl_cert_reqs': <VerifyMode.CERT_REQUIRED: 2>}"
    for wrong in ("soon", "0", "120"):
        refused = run_manage("check", env_overrides={**env, "MUSTER_REDIS_TIMEOUT_SECONDS": wrong})
        assert refused.returncode != 0 and "MUSTER_REDIS_TIMEOUT_SECONDS" in refused.stderr, wrong


def _timed(browser: Browser, method: str, path: str, form: dict | None = None) -> tuple[Response, float]:
    started = time.monotonic()
    try:
        response = browser.request(method, path, form, timeout=GUARD)
    except TimeoutError:
        pytest.fail(f"{method} {path} hung: no answer within {GUARD}s")
    return response, time.monotonic() - started


def _worker_log_size(outage: Outage) -> int:
    return (outage.logs / "worker.log").stat().st_size


def _worker_log_since(outage: Outage, offset: int) -> str:
    with open(outage.logs / "worker.log", "rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace")


def _refresh_builds(log: str) -> list[str]:
    """The snapshot refreshes the worker ran in `log`, as `<task id>: <built>` (True: it built)."""
    return re.findall(rf"{re.escape(REFRESH_TASK)}\[([^\]]+)\] succeeded in [\d.]+s: (True|False)", log)


def _caught_up(outage: Outage, expected_week: float) -> bool:
    pending = outage.scalar("SELECT count(*) FROM network_outboxmessage WHERE sent_at IS NULL")
    current = outage.scalar(
        "SELECT changes = built FROM reporting_agencysnapshotstate WHERE agency_id = %s", [outage.agency_id]
    )
    return pending == 0 and current and outage.week_encounters() == expected_week


def _stack_logs(outage: Outage) -> str:
    """What a timed-out wait shows: the worker's and beat's last lines (a worker that stopped consuming after
    a failed acknowledgement, or a beat that stopped publishing, look alike from the outbox)."""
    return "\n".join(f"--- {name} ---\n{outage.log_tail(name)}" for name in ("worker", "beat"))


def _settled(outage: Outage) -> float:
    """Wait until the agency's snapshot is current and nothing is pending; return its week count."""
    _wait(
        lambda: _caught_up(outage, outage.week_encounters()),
        60,
        "the stack to settle",
        lambda: _stack_logs(outage),
    )
    return outage.week_encounters()


def test_an_encounter_saves_within_the_timeout_while_redis_is_paused_and_the_work_is_sent_once(outage):
    path = agency_url(outage, "encounter_new")
    # A save while Redis answers first: the web process then holds a pooled broker connection, as a
    # server that has been running does, and the paused Redis is met on an open connection.
    warm = outage.browser.post(path, outage.encounter_form())
    assert warm.status == 302, warm.body[:500]
    before = _settled(outage)
    form = outage.encounter_form()
    offset = _worker_log_size(outage)

    os.kill(outage.redis.process.pid, signal.SIGSTOP)
    try:
        response, elapsed = _timed(outage.browser, "POST", path, form)
        assert response.status == 302, response.body[:500]
        assert elapsed < BOUND, f"saving took {elapsed:.1f}s with Redis paused"

        health, health_elapsed = _timed(Browser(port=outage.browser.port), "GET", "/healthz")
        assert health.status == 503, health.body
        assert "redis" in health.body and health_elapsed < BOUND, (health.body, health_elapsed)

        pending = outage.scalar(
            "SELECT json_agg(json_build_object('id', id, 'args', args, 'attempts', attempts, 'error', last_error)) "
            "FROM network_outboxmessage WHERE task = %s AND sent_at IS NULL",
            [REFRESH_TASK],
        )
        assert len(pending) == 1 and pending[0]["args"] == [outage.agency_id], pending
        assert pending[0]["attempts"] == 1 and pending[0]["error"], pending  # the timeout, recorded
        assert outage.week_encounters() == before  # not refreshed while Redis is paused
    finally:
        os.kill(outage.redis.process.pid, signal.SIGCONT)

    _wait(
        lambda: _caught_up(outage, before + 1),
        60,
        "the relay and the worker to catch up after Redis resumed",
        lambda: _stack_logs(outage),
    )
    time.sleep(SETTLE)  # a second delivery of the refresh, if there were one, would show up now
    # Sent once: the publish that timed out left nothing in Redis to run when it resumed (the outbox
    # pings before it publishes), so the relay's send is the only delivery, and it built the snapshot.
    builds = _refresh_builds(_worker_log_since(outage, offset))
    assert builds == [(f"outbox-{pending[0]['id']}", "True")], builds
    assert outage.week_encounters() == before + 1  # counted once
    assert all(outage.processes[name].poll() is None for name in ("web", "worker", "beat"))


def test_a_paused_worker_loses_nothing_and_runs_the_task_once_when_it_resumes(outage):
    path = agency_url(outage, "encounter_new")
    before = _settled(outage)
    form = outage.encounter_form()
    offset = _worker_log_size(outage)
    worker = outage.processes["worker"]

    os.killpg(worker.pid, signal.SIGSTOP)  # the whole worker: its parent and its pool process
    try:
        response, elapsed = _timed(outage.browser, "POST", path, form)
        assert response.status == 302, response.body[:500]
        assert elapsed < BOUND, f"saving took {elapsed:.1f}s with the worker paused"
        # Handed to Redis at once (Redis is fine), and nobody runs it while the worker is paused.
        _wait(
            lambda: outage.scalar("SELECT count(*) FROM network_outboxmessage WHERE sent_at IS NULL") == 0,
            30,
            "the refresh to be handed to Redis",
        )
        time.sleep(SETTLE)
        assert outage.week_encounters() == before
        assert outage.scalar(
            "SELECT changes > built FROM reporting_agencysnapshotstate WHERE agency_id = %s", [outage.agency_id]
        )
    finally:
        os.killpg(worker.pid, signal.SIGCONT)

    _wait(
        lambda: _caught_up(outage, before + 1),
        60,
        "the resumed worker to run the refresh",
        lambda: _stack_logs(outage),
    )
    time.sleep(SETTLE)
    builds = _refresh_builds(_worker_log_since(outage, offset))
    assert len(builds) == 1 and builds[0][1] == "True", builds  # delivered once, and it built
    assert outage.week_encounters() == before + 1
    assert worker.poll() is None


def _pause_redis_as_the_worker_acknowledges(outage: Outage, offset: int) -> bool:
    """Start a snapshot run and pause Redis just before the worker finishes it (the run sleeps
    SNAPSHOT_RUN_PAUSE_MS after its one agency). True when the worker's acknowledgement then timed out.

    False when the worker's main loop met the paused Redis first, in its event heartbeat (every 2 s), whose
    publish waits for Redis to come back (Celery's retry, the worker's only other use of the broker): the
    acknowledgement is then sent after the resume and succeeds. Redis is running again on return."""
    run_id = int(outage.shell("from reporting.services import run_request; print(run_request().pk)"))
    done_at = time.monotonic() + 30
    with outage.postgres.connect() as conn:  # one connection: the moment is seen within milliseconds
        while (
            conn.execute("SELECT agencies_done FROM reporting_snapshotrun WHERE id = %s", [run_id]).fetchone()[0] != 1
        ):
            assert time.monotonic() < done_at, f"the snapshot run did not reach its agency\n{_stack_logs(outage)}"
            time.sleep(0.005)
    time.sleep(SNAPSHOT_RUN_PAUSE_MS / 1000 - 0.3)
    os.kill(outage.redis.process.pid, signal.SIGSTOP)
    try:
        until = time.monotonic() + 12  # the 2 s read timeout, with room for a loaded machine
        while time.monotonic() < until:
            if "Couldn't ack" in _worker_log_since(outage, offset):
                return True
            time.sleep(0.1)
        return False
    finally:
        os.kill(outage.redis.process.pid, signal.SIGCONT)
        _wait(
            lambda: outage.scalar("SELECT status FROM reporting_snapshotrun WHERE id = %s", [run_id]) == "done",
            30,
            "the snapshot run to finish",
            lambda: _stack_logs(outage),
        )


def test_a_worker_whose_acknowledgement_times_out_goes_on_taking_work(outage):
    """Redis paused while the worker finishes a task: its acknowledgement times out (the read timeout), and
    once Redis resumes the worker takes the next message. Before network/broker.py the worker logged
    "Couldn't ack" and never took another one (CI at 2b42054, celery/celery#2415). A try whose pause does not
    land on the acknowledgement (the heartbeat met it first, or the machine was slow) is made again."""
    path = agency_url(outage, "encounter_new")
    assert outage.browser.post(path, outage.encounter_form()).status == 302  # the agency has a snapshot
    before = _settled(outage)
    offset = _worker_log_size(outage)
    # The pause must land before the acknowledgement and not before a heartbeat: a few tries at most.
    attempts = 1
    while not _pause_redis_as_the_worker_acknowledges(outage, offset):
        assert attempts < 4, f"no pause landed on the worker's acknowledgement in {attempts} tries"
        attempts += 1

    response, _ = _timed(outage.browser, "POST", path, outage.encounter_form())
    assert response.status == 302, response.body[:500]
    _wait(
        lambda: _caught_up(outage, before + 1),
        60,
        "the worker to take the next message after its acknowledgement timed out",
        lambda: _stack_logs(outage),
    )
    # Nothing is left in Redis's unacknowledged table for the visibility timeout to hand out again an hour
    # from now: the timed-out removal ran when Redis resumed, or went with the worker's next acknowledgement.
    direct = redis.Redis(port=outage.redis.port)
    _wait(lambda: direct.hlen("unacked") == 0, 15, "the unacknowledged table to empty", lambda: _stack_logs(outage))
    assert all(outage.processes[name].poll() is None for name in ("web", "worker", "beat"))
