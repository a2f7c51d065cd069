"""`./dev up` serves on MUSTER_PORT and the links its web server and worker e-mail point at that same
server (issue 13, defect 6): one is derived from the other when only one is given."""

import datetime
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from agencies import services as agency_services
from agencies.models import Role
from encounters.tasks import follow_up_reminders_task
from network import services as network_services
from tests.stack import Stack
from tests.support import agency_url, log_encounter, make_agency, make_user

ROOT = Path(__file__).resolve().parent.parent


def web_address(environ):
    from devtools.__main__ import web_address

    return web_address(environ)


def test_dev_up_links_to_the_port_it_serves_on_when_only_muster_port_is_set():
    assert web_address({"MUSTER_PORT": "8123"}) == {
        "MUSTER_PORT": "8123",
        "MUSTER_BASE_URL": "http://127.0.0.1:8123",
    }


def test_dev_up_keeps_port_8000_and_its_links_when_neither_is_set():
    assert web_address({}) == {"MUSTER_PORT": "8000", "MUSTER_BASE_URL": "http://127.0.0.1:8000"}


def test_dev_up_serves_on_the_port_a_local_base_url_names_when_muster_port_is_not_set():
    assert web_address({"MUSTER_BASE_URL": "http://localhost:8124/"}) == {
        "MUSTER_PORT": "8124",
        "MUSTER_BASE_URL": "http://localhost:8124",
    }


def test_dev_up_leaves_the_port_alone_for_a_base_url_on_another_host():
    # A tunnel or proxy in front says nothing about the port the local server listens on.
    assert web_address({"MUSTER_BASE_URL": "https://muster-dev.example.org"}) == {
        "MUSTER_PORT": "8000",
        "MUSTER_BASE_URL": "https://muster-dev.example.org",
    }


def test_dev_up_uses_both_as_given_when_both_are_set():
    given = {"MUSTER_PORT": "9001", "MUSTER_BASE_URL": "https://muster-dev.example.org"}
    assert web_address(given) == given


def test_dev_up_refuses_a_muster_port_that_is_not_a_number():
    with pytest.raises(SystemExit, match="MUSTER_PORT"):
        web_address({"MUSTER_PORT": "80a"})


def _settings_base_url(**overrides: str) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("MUSTER_PORT", "MUSTER_BASE_URL")}
    env.update(MUSTER_ENV="development", **overrides)
    code = "import django; django.setup(); from django.conf import settings; print(settings.MUSTER_BASE_URL)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout.strip().splitlines()[-1]


def test_development_settings_link_to_muster_port_when_muster_base_url_is_unset():
    assert _settings_base_url(MUSTER_PORT="8123") == "http://127.0.0.1:8123"
    assert _settings_base_url() == "http://127.0.0.1:8000"
    assert _settings_base_url(MUSTER_PORT="8123", MUSTER_BASE_URL="https://x.example.org/") == "https://x.example.org"


class _WorkerOnPort(Stack):
    """A worker started as `./dev up` starts one on another port: MUSTER_PORT set, MUSTER_BASE_URL not;
    on a queue of its own so the suite's worker cannot take its task."""

    def __init__(self, port: str) -> None:
        super().__init__()
        self.queue = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-port-{uuid.uuid4().hex[:6]}"
        self.muster_port = port

    def env(self) -> dict[str, str]:
        env = super().env()
        env.pop("MUSTER_BASE_URL", None)
        env.update(MUSTER_PORT=self.muster_port, MUSTER_CELERY_QUEUE=self.queue)
        return env


@pytest.mark.stack
def test_a_worker_sent_email_links_to_the_port_dev_up_serves_on(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        tag = uuid.uuid4().hex[:6]
        network = network_services.network_get_or_create(name=f"Port {tag}", slug=f"port-{tag}")
        region = network_services.region_get_or_create(network=network, name="East", slug="east")
        admin = make_user(f"port-admin-{tag}@test.example")
        agency = make_agency(actor=admin, network=network, region=region, slug=f"port-fire-{tag}")
        supporter = make_user(f"port-peer-{tag}@test.example")
        agency_services.membership_add(actor=None, user=supporter, agency=agency, role=Role.PEER_SUPPORTER)
        log_encounter(agency, author=supporter, follow_up_due_on=timezone.localdate() + datetime.timedelta(days=1))

    worker = _WorkerOnPort("8123")
    worker.start_worker()
    try:
        follow_up_reminders_task.apply_async(queue=worker.queue)
        link = agency_url(agency, "followup_list")
        expected = "http://127.0.0.1:8123" + link
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and link not in worker.sent_mail():
            time.sleep(0.25)
        mail = worker.sent_mail()
        assert link in mail, worker.log_tail("worker")
        assert expected in mail, mail
    finally:
        worker.stop()
