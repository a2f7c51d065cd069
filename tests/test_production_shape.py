"""Production settings refuse to start without their secrets and pass `check --deploy`;
docker-compose.yml describes the whole stack with health checks and volumes."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent

PRODUCTION_ENV = {
    "MUSTER_ENV": "production",
    "DJANGO_SECRET_KEY": "x7#kq!2vNw9LpR4tY8mZ0bC3dF6gH1jK5sA-eU_iO+pQrStUvWxYz0123456789",
    "DJANGO_ALLOWED_HOSTS": "muster.example.gov",
    "MUSTER_BASE_URL": "https://muster.example.gov",
    "DATABASE_URL": "postgres://muster:secret@db.internal:5432/muster",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "EMAIL_HOST": "smtp.example.gov",
    "MUSTER_AUDIT_KEY": "YXVkaXQtY2hhaW4ta2V5LWZvci10ZXN0cy1vbmx5ISE=",
    "MUSTER_MASTER_KEYS": "2026a:c2VjcmV0LW1hc3Rlci1rZXktZm9yLXRlc3RzLW9ubHk=",
}


def run_manage(*args: str, env_overrides: dict[str, str | None]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "MUSTER_"))}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    for key, value in env_overrides.items():
        if value is not None:
            env[key] = value
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_under_production_settings():
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", env_overrides=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    "missing",
    [
        "DJANGO_SECRET_KEY",
        "DJANGO_ALLOWED_HOSTS",
        "DATABASE_URL",
        "REDIS_URL",
        "MUSTER_BASE_URL",
        "EMAIL_HOST",
        "MUSTER_MASTER_KEYS",
        "MUSTER_AUDIT_KEY",
    ],
)
def test_production_refuses_to_start_without_each_secret(missing):
    result = run_manage("check", env_overrides={**PRODUCTION_ENV, missing: None})
    assert result.returncode != 0
    assert missing in result.stderr


def test_production_refuses_a_short_secret_key_and_demo_mode():
    short = run_manage("check", env_overrides={**PRODUCTION_ENV, "DJANGO_SECRET_KEY": "too-short"})
    assert short.returncode != 0 and "at least 50" in short.stderr
    demo = run_manage("check", env_overrides={**PRODUCTION_ENV, "MUSTER_DEMO": "1"})
    assert demo.returncode != 0 and "MUSTER_DEMO" in demo.stderr


def test_a_master_key_that_is_not_32_bytes_of_base64_is_refused():
    result = run_manage("check", env_overrides={**PRODUCTION_ENV, "MUSTER_MASTER_KEYS": "k1:dG9vLXNob3J0"})
    assert result.returncode != 0 and "must be 32 bytes" in result.stderr


def test_a_malformed_boolean_is_refused_with_its_name():
    result = run_manage("check", env_overrides={**PRODUCTION_ENV, "MUSTER_DEMO": "maybe"})
    assert result.returncode != 0 and "MUSTER_DEMO='maybe' is not a boolean" in result.stderr


def test_compose_file_runs_every_service_with_health_checks_and_volumes():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    for name in ("postgres", "redis", "web", "worker", "beat"):
        assert "healthcheck" in services[name], f"{name} has no healthcheck"
    assert {"postgres-data", "redis-data"} <= set(compose["volumes"])
    assert services["worker"]["command"][:3] == ["celery", "-A", "config"]
    assert "beat" in services["beat"]["command"]
    assert services["migrate"]["command"] == ["python", "manage.py", "migrate_network"]
    web_env = services["web"]["environment"]
    assert web_env["MUSTER_ENV"] == "production"
    assert web_env["DJANGO_SECRET_KEY"].startswith("${DJANGO_SECRET_KEY:?")  # compose refuses to start without it
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "gunicorn" in dockerfile and "collectstatic" in dockerfile


def test_compose_runs_web_worker_and_beat_as_the_runtime_role_and_migrates_as_the_owner():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    superuser = services["postgres"]["environment"]["POSTGRES_USER"]
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://muster_app:"), name
        assert env["MUSTER_DB_RUNTIME_ROLE"] == "muster_app"
        assert env["MUSTER_AUDIT_KEY"].startswith("${MUSTER_AUDIT_KEY:?")
    assert services["migrate"]["environment"]["DATABASE_URL"].startswith("postgres://muster_owner:")
    for name in ("migrate", "web", "worker", "beat"):
        assert f"//{superuser}:" not in services[name]["environment"]["DATABASE_URL"], f"{name} runs as the superuser"
    assert services["migrate"]["depends_on"]["db-roles"]["condition"] == "service_completed_successfully"
    assert "/db-roles.sql" in " ".join(services["db-roles"]["command"])
    roles_sql = (ROOT / "deploy" / "db-roles.sql").read_text()
    assert "NOSUPERUSER" in roles_sql and "REVOKE muster_owner FROM muster_app" in roles_sql


@pytest.mark.django_db
def test_pages_carry_a_content_security_policy_without_inline_script(client):
    policy = client.get("/login/")["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy


def test_settings_refuse_to_load_without_muster_env_instead_of_using_development_keys():
    without = run_manage("check", env_overrides={**PRODUCTION_ENV, "MUSTER_ENV": None})
    assert without.returncode != 0
    assert "MUSTER_ENV is not set" in without.stderr
    bare = run_manage("check", env_overrides={})  # nothing at all: not a development server either
    assert bare.returncode != 0 and "MUSTER_ENV" in bare.stderr


def test_dev_the_image_and_compose_say_which_environment_they_are(monkeypatch):
    from types import SimpleNamespace

    from devtools.__main__ import _env

    monkeypatch.delenv("MUSTER_ENV", raising=False)
    services = SimpleNamespace(database_url="postgres://x/y", redis_url="redis://x/0")
    assert _env(services)["MUSTER_ENV"] == "development"  # ./dev manage, ./dev up
    assert _env(services, MUSTER_ENV="test")["MUSTER_ENV"] == "test"  # ./dev test
    assert "MUSTER_ENV=production" in (ROOT / "Dockerfile").read_text().split("RUN", 1)[0]
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for name in ("migrate", "web", "worker", "beat"):
        assert compose["services"][name]["environment"]["MUSTER_ENV"] == "production", name
