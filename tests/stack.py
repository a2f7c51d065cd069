"""The real processes behind integration and browser tests: a Celery worker and a gunicorn web
server, both pointed at the test database and the test Redis database."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Stack:
    def __init__(self) -> None:
        self.port = _free_port()
        # A node name of this stack's own: two stacks in one test run (tests/test_dev_web_address.py starts a
        # second worker) must not share one, or the second worker's shutdown removes the first one's
        # /healthz heartbeat (network/heartbeat.py keys heartbeats by node name).
        self.node = f"test-{os.getpid()}-{self.port}@%h"
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.mail_dir = Path(tempfile.mkdtemp(prefix="muster-test-mail-"))
        self.log_dir = Path(tempfile.mkdtemp(prefix="muster-test-logs-"))
        self.processes: dict[str, subprocess.Popen] = {}

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        # `./dev test` names the runtime role's URL: the stack connects as the role that owns nothing,
        # as web and worker do in production (agencies/db_roles.py).
        if os.environ.get("MUSTER_RUNTIME_DATABASE_URL"):
            env["DATABASE_URL"] = os.environ["MUSTER_RUNTIME_DATABASE_URL"]
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            MUSTER_ENV="test",
            MUSTER_DATABASE_NAME=connection.settings_dict["NAME"],
            MUSTER_CELERY_QUEUE=settings.CELERY_TASK_DEFAULT_QUEUE,
            EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend",
            EMAIL_FILE_PATH=str(self.mail_dir),
            DB_CONN_MAX_AGE="0",
            PYTHONUNBUFFERED="1",
        )
        return env

    def _spawn(self, name: str, command: list[str]) -> None:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the process
        self.processes[name] = subprocess.Popen(
            command, cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def start_worker(self) -> None:
        self._spawn(
            "worker",
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-l",
                "INFO",
                "--concurrency",
                "1",
                "-n",
                self.node,
                "--without-mingle",
                "--without-gossip",
            ],
        )

    def start_web(self) -> None:
        self._spawn(
            "web",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--timeout",
                "60",
            ],
        )

    def start(self) -> None:
        self.start_worker()
        self.start_web()
        self.wait_healthy()

    def stop_process(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)

    def stop(self) -> None:
        for name in list(self.processes):
            self.stop_process(name)

    def health(self) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(self.base_url + "/healthz", timeout=10) as response:  # noqa: S310
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def wait_healthy(self, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited early:\n{self.log_tail(name)}")
            try:
                status, body = self.health()
                if status == 200:
                    return body
                last = body
            except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
                last = error
            time.sleep(0.5)
        raise RuntimeError(
            f"stack not healthy after {timeout}s: {last}\n{self.log_tail('worker')}\n{self.log_tail('web')}"
        )

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def sent_mail(self) -> str:
        """Everything the web server and worker e-mailed, as one text."""
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.mail_dir.glob("*")))
