"""GET /healthz against the real services: 200 when all are up, 503 naming what is down."""

import subprocess
import sys
import time
import uuid

import pytest
from django.test import override_settings

from tests.stack import ROOT, _free_port

pytestmark = pytest.mark.stack


def test_healthz_is_200_when_database_redis_and_worker_are_up(stack):
    status, body = stack.health()
    assert status == 200
    assert body["down"] == []
    assert body["checks"]["database"] == body["checks"]["redis"] == body["checks"]["worker"] == "ok"


def test_healthz_is_503_naming_the_worker_when_no_worker_runs(stack):
    stack.stop_process("worker")
    try:
        status, body = stack.health()
        assert status == 503
        assert body["down"] == ["worker"]
    finally:
        stack.start_worker()
        stack.wait_healthy()


@pytest.mark.django_db
@override_settings(
    CACHES={"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}}
)
def test_healthz_is_503_naming_redis_when_redis_is_unreachable(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "redis" in response.json()["down"]
    assert response.json()["checks"]["database"] == "ok"


def test_healthz_is_503_naming_the_database_when_postgres_is_unreachable(stack):
    """A web server whose database is unreachable still answers, and says so."""
    port = _free_port()
    env = stack.env()
    env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:{_free_port()}/nothing"
    env.pop("MUSTER_DATABASE_NAME")
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import json
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10)
                raise AssertionError("healthz said 200 with no database")
            except urllib.error.HTTPError as error:
                body = json.loads(error.read())
                assert error.code == 503
                break
            except urllib.error.URLError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        assert "database" in body["down"]
        assert body["checks"]["redis"] == "ok"
    finally:
        web.terminate()
        web.wait(10)


# --- No broadcast per request: workers' heartbeats instead ---------------------------------------------


@pytest.fixture
def control_calls(monkeypatch):
    """Every Celery broadcast /healthz makes (ping, inspect, any control command), recorded and refused."""
    from config.celery import app

    calls: list[str] = []

    def refuse(name):
        def call(*args, **kwargs):
            calls.append(name)
            raise AssertionError(f"/healthz sent a {name} broadcast")

        return call

    for name in ("ping", "inspect", "broadcast"):
        monkeypatch.setattr(app.control, name, refuse(name))
    return calls


@pytest.mark.django_db
def test_healthz_asks_no_worker_anything_and_reports_the_worker_without_waiting(client, control_calls):
    response = client.get("/healthz")
    assert control_calls == []  # no broadcast that waits up to a second for replies on every request
    assert "worker" in response.json()["checks"]


@pytest.fixture
def heartbeats(monkeypatch):
    """A heartbeat hash of this test's own, away from any worker the suite's stack is running."""
    from network import heartbeat

    monkeypatch.setattr(heartbeat, "WORKER_HEARTBEATS_KEY", f"workers:heartbeat:test-{uuid.uuid4().hex}")
    yield heartbeat
    heartbeat._redis().delete(heartbeat.cache.make_key(heartbeat.WORKER_HEARTBEATS_KEY))


@pytest.mark.django_db
def test_healthz_says_the_worker_is_down_without_a_fresh_heartbeat_and_up_with_one(client, heartbeats, control_calls):
    none = client.get("/healthz")
    assert none.status_code == 503 and none.json()["down"] == ["worker"]

    heartbeats.worker_heartbeat_record("worker-1@host", now=time.time() - heartbeats.WORKER_STALE_AFTER - 1)
    stale = client.get("/healthz")
    assert stale.status_code == 503 and stale.json()["down"] == ["worker"]

    heartbeats.worker_heartbeat_record("worker-2@host")
    fresh = client.get("/healthz")
    assert fresh.status_code == 200 and fresh.json()["checks"]["worker"] == "ok"
    assert control_calls == []


@pytest.mark.django_db
def test_a_worker_writes_its_heartbeat_and_removes_it_when_it_stops(heartbeats):
    from types import SimpleNamespace

    from config.celery import _record_worker_heartbeat, _remove_worker_heartbeat

    _record_worker_heartbeat(sender=SimpleNamespace(eventer=SimpleNamespace(hostname="w@host")))
    assert heartbeats.workers_alive() == 1
    _remove_worker_heartbeat(sender=SimpleNamespace(hostname="w@host"))
    assert heartbeats.workers_alive() == 0
