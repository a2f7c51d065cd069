"""GET /healthz against the real services: 200 when all are up, 503 naming what is down."""

import subprocess
import sys
import time

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
