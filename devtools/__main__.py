"""`./dev up`, `./dev test`, `./dev manage ...`: the developer entry points (run through ./dev)."""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

from devtools.services import DATA, ROOT, Services, ensure_services, log

DEMO_LOGINS = [
    ("State admin", "state.admin@example.org"),
    ("Regional coordinator", "regional@example.org"),
    ("Agency admin", "agency.admin@example.org"),
    ("Coordinator", "coordinator@example.org"),
    ("Peer supporter", "supporter@example.org"),
    ("Clinician", "clinician@example.org"),
    ("Chief", "chief@example.org"),
    ("Deployed supporter", "deployed@example.org"),
]
DEMO_PASSWORD = "muster-demo-2026"  # nosec B105  # the published password of the fictional demo logins
CHROMIUM = "/usr/bin/chromium"
# Web, worker and beat connect as this role, which owns nothing; migrations run as DATABASE_URL's role.
RUNTIME_ROLE = "muster_app"
RUNTIME_PASSWORD = "muster-app-development-only"  # nosec B105  # local development and test servers only
DEFAULT_PORT = "8000"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def _env(services: Services, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        # Settings refuse to load without MUSTER_ENV; ./dev is development unless told otherwise.
        MUSTER_ENV=os.environ.get("MUSTER_ENV") or "development",
        DATABASE_URL=services.database_url,
        REDIS_URL=services.redis_url,
        DJANGO_SETTINGS_MODULE="config.settings",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def web_address(environ: Mapping[str, str]) -> dict[str, str]:
    """The port `./dev up` serves on and the origin of the links its web server and worker e-mail, each
    derived from the other when only one is given, so a callout e-mail never points at another server:
    - neither set: port 8000, links to http://127.0.0.1:8000;
    - MUSTER_PORT only: links to http://127.0.0.1:<port>;
    - MUSTER_BASE_URL only: the port it names when it is this machine (http://127.0.0.1:8123 serves on
      8123); any other address (a tunnel, a proxy) says nothing about the local port, which stays 8000;
    - both: used as given (a proxy in front may well listen elsewhere)."""
    port = (environ.get("MUSTER_PORT") or "").strip()
    base_url = (environ.get("MUSTER_BASE_URL") or "").strip().rstrip("/")
    if port and not (port.isascii() and port.isdigit()):
        raise SystemExit(f"[dev] MUSTER_PORT={port!r} is not a port number")
    if not port:
        parts = urlsplit(base_url) if base_url else None
        local = parts is not None and parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
        port = str(parts.port) if local and parts.port else DEFAULT_PORT
    return {"MUSTER_PORT": port, "MUSTER_BASE_URL": base_url or f"http://127.0.0.1:{port}"}


def _ensure_database(url: str) -> None:
    """Create the named database on an external server if it is missing (a fresh machine's PostgreSQL)."""
    import dj_database_url
    import psycopg

    cfg = dj_database_url.parse(url)
    params = {
        "host": cfg["HOST"] or None,
        "port": cfg["PORT"] or None,
        "user": cfg["USER"] or None,
        "password": cfg["PASSWORD"] or None,
    }
    params = {k: v for k, v in params.items() if v}
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [cfg["NAME"]]).fetchone():
            conn.execute(f'CREATE DATABASE "{cfg["NAME"]}"')
            log(f"created database {cfg['NAME']}")


def _runtime_url(url: str) -> str:
    """DATABASE_URL with the runtime role's credentials instead of the owner's."""
    from urllib.parse import urlunsplit

    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{RUNTIME_ROLE}:{RUNTIME_PASSWORD}@{host}"))


def _ensure_runtime_role(url: str) -> str:
    """Create the runtime login role if it is missing (idempotent, safe when two runs race) and return
    the URL web, worker and beat connect with. DATABASE_URL's role stays the owner: it migrates and
    grants (`migrate_network`, agencies/db_roles.py)."""
    import dj_database_url
    import psycopg
    from psycopg import sql

    cfg = dj_database_url.parse(url)
    params = {"host": cfg["HOST"], "port": cfg["PORT"], "user": cfg["USER"], "password": cfg["PASSWORD"]}
    params = {k: v for k, v in params.items() if v}
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:  # roles are cluster-wide
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [RUNTIME_ROLE]).fetchone():
            try:
                conn.execute(
                    sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                        sql.Identifier(RUNTIME_ROLE), sql.Literal(RUNTIME_PASSWORD)
                    )
                )
                log(f"created the runtime database role {RUNTIME_ROLE}")
            except (psycopg.errors.DuplicateObject, psycopg.errors.UniqueViolation):
                pass  # another run created it meanwhile
    return _runtime_url(url)


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def cmd_up(args: argparse.Namespace) -> int:
    services = ensure_services()
    children: list[tuple[str, subprocess.Popen]] = []
    stopping = False

    def shutdown(*_):
        nonlocal stopping
        if stopping:
            return
        stopping = True
        log("stopping ...")
        for _name, proc in reversed(children):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for _name, proc in children:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        services.stop()
        log("everything this run started has stopped")

    signal.signal(signal.SIGTERM, lambda *_: (shutdown(), sys.exit(0)))
    # Ctrl-C must reach us even when a parent shell started us with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        _ensure_database(services.database_url)
        runtime_url = _ensure_runtime_role(services.database_url)
        address = web_address(os.environ)
        port = address["MUSTER_PORT"]
        env = _env(
            services,
            **address,  # the server's port and the links it and the worker e-mail agree
            MUSTER_ENV="development",
            MUSTER_DEMO="1",
            MUSTER_DB_RUNTIME_ROLE=RUNTIME_ROLE,
            EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend",
        )
        # As the owner: migrations, the runtime role's grants, the demo network.
        _manage(env, "migrate_network", "-v", "0")
        _manage(env, "seed_demo")
        env = {**env, "DATABASE_URL": runtime_url}  # web, worker and beat: the role that owns nothing
        DATA.mkdir(exist_ok=True)
        commands = {
            "worker": [sys.executable, "-m", "celery", "-A", "config", "worker", "-l", "INFO", "--concurrency", "2"],
            "beat": [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "-l",
                "INFO",
                "-s",
                str(DATA / "celerybeat-schedule"),
            ],
            "web": [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}"],
        }
        for name, command in commands.items():
            children.append((name, subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)))
        time.sleep(2)
        print("\n" + "=" * 72)
        print(f"  Muster is running: http://127.0.0.1:{port}/")
        if address["MUSTER_BASE_URL"] != f"http://127.0.0.1:{port}":
            print(f"  E-mailed links point at {address['MUSTER_BASE_URL']}/ (MUSTER_BASE_URL)")
        print(f"  Demo logins (password for all: {DEMO_PASSWORD}):")
        for role, email in DEMO_LOGINS:
            print(f"    {role:<22} {email}")
        print("  E-mails (invitations, password resets) print in this terminal.")
        print("  Press Ctrl-C to stop everything.")
        print("=" * 72 + "\n", flush=True)
        while True:
            for name, proc in children:
                if proc.poll() is not None:
                    log(f"{name} exited with code {proc.returncode}; stopping the rest")
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        return 0
    finally:
        shutdown()


def _redis_db(url: str, db: int) -> str:
    base, _, last = url.rstrip("/").rpartition("/")
    return f"{base}/{db}" if last.isdigit() else f"{url.rstrip('/')}/{db}"


def _ensure_chromium() -> str | None:
    """Debian's Chromium drives the browser tests; install it when we can. Returns why not, or None."""
    if os.path.exists(CHROMIUM):
        return None
    if os.geteuid() == 0 and shutil.which("apt-get"):
        log("installing Debian's chromium for the browser tests (once per machine) ...")
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.STDOUT}
        subprocess.run(["apt-get", "update", "-qq"], check=False, **quiet)
        result = subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=False, **quiet)
        if result.returncode == 0 and os.path.exists(CHROMIUM):
            return None
        return "apt-get install chromium failed"
    return f"{CHROMIUM} is missing and this user cannot install it (run: sudo apt-get install chromium)"


def _bandit(env: dict[str, str]) -> int:
    """Bandit over the code (configuration in pyproject.toml). Its report is printed only when it finds
    something: on a clean run it still warns about every `# nosec` that covered a string part."""
    log("bandit (security lint)")
    command = [sys.executable, "-m", "bandit", "-c", "pyproject.toml", "-r", ".", "-q"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        print(result.stdout, result.stderr, sep="\n", flush=True)
    return result.returncode


def _lint_imports(env: dict[str, str]) -> int:
    """The layering contracts in .importlinter (docs/architecture.md): fails on any import that runs up."""
    log("lint-imports (apps import downwards only)")
    command = [os.path.join(os.path.dirname(sys.executable), "lint-imports"), "--config", ".importlinter"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        print(result.stdout, result.stderr, sep="\n", flush=True)
    return result.returncode


def cmd_test(args: argparse.Namespace) -> int:
    services = ensure_services()
    try:
        extra = {
            "MUSTER_ENV": "test",
            "MUSTER_DEMO": "0",
            # Tests keep to their own Redis database and queue, away from a running ./dev up.
            "REDIS_URL": _redis_db(services.redis_url, 9),
            "MUSTER_CELERY_QUEUE": f"muster-test-{os.getpid()}",
            "MUSTER_CACHE_PREFIX": f"muster-test-{os.getpid()}",
            # Own test database per run, so two runs (or a run beside a helper's) never collide.
            "MUSTER_TEST_DB_NAME": f"test_muster_{os.getpid()}",
        }
        # The suite's own web server and worker (tests/stack.py) connect as the runtime role.
        extra["MUSTER_DB_RUNTIME_ROLE"] = RUNTIME_ROLE
        extra["MUSTER_RUNTIME_DATABASE_URL"] = _ensure_runtime_role(services.database_url)
        why_no_browser = _ensure_chromium()
        if why_no_browser:
            log(f"browser tests will be skipped: {why_no_browser}")
            extra["MUSTER_BROWSER_SKIP"] = why_no_browser
        env = _env(services, **extra)
        if not args.pytest_args or args.lint:
            log("ruff check and format --check")
            for lint_args in (["check", "."], ["format", "--check", "."]):
                lint = subprocess.run([sys.executable, "-m", "ruff", *lint_args], cwd=ROOT, env=env)
                if lint.returncode != 0:
                    return lint.returncode
            failed = _bandit(env) or _lint_imports(env)
            if failed:
                return failed
        return subprocess.run([sys.executable, "-m", "pytest", *args.pytest_args], cwd=ROOT, env=env).returncode
    finally:
        services.stop()


def cmd_manage(args: argparse.Namespace) -> int:
    services = ensure_services()
    try:
        env = _env(services, **web_address(os.environ), MUSTER_DEMO=os.environ.get("MUSTER_DEMO", "1"))
        return subprocess.run([sys.executable, "manage.py", *args.manage_args], cwd=ROOT, env=env).returncode
    finally:
        services.stop()


def cmd_bench(args: argparse.Namespace) -> int:
    """`./dev bench [NAME ...] [--quick] [--agencies N ...]`: the named benchmarks (all by default), each
    in its own process with the remaining options; their SUMMARY lines are repeated at the end."""
    scripts = {path.stem: path for path in sorted((ROOT / "benchmarks").glob("*.py")) if not path.stem.startswith("_")}
    chosen = [arg for arg in args.bench_args if arg in scripts]
    options = [arg for arg in args.bench_args if arg not in scripts]
    services = ensure_services()
    try:
        env = _env(services, MUSTER_ENV="development", MUSTER_LOG_LEVEL="WARNING")
        failures, summaries = [], []
        for name in chosen or list(scripts):
            log(f"benchmark {name}")
            proc = subprocess.Popen(
                [sys.executable, str(scripts[name]), *options], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
            )
            for line in proc.stdout:
                print(line, end="", flush=True)
                if line.startswith("SUMMARY "):
                    summaries.append(line.rstrip())
            if proc.wait() != 0:
                failures.append(name)
        print("\n" + "\n".join(summaries + [f"FAILED {name}" for name in failures]), flush=True)
        return 1 if failures else 0
    finally:
        services.stop()


def main() -> int:
    parser = argparse.ArgumentParser(prog="./dev", description="Run Muster for development and testing.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start PostgreSQL, Redis, Celery worker and beat, and the web server with demo data")
    test = sub.add_parser("test", help="run the whole suite (extra arguments go to pytest)")
    test.add_argument(
        "--lint", action="store_true", help="also run ruff, bandit and lint-imports when pytest arguments are given"
    )
    test.add_argument("pytest_args", nargs=argparse.REMAINDER)
    bench = sub.add_parser(
        "bench", help="run the benchmarks in benchmarks/ (or the named ones; --quick, --agencies N go to each script)"
    )
    bench.add_argument("bench_args", nargs=argparse.REMAINDER)
    manage = sub.add_parser("manage", help="run a manage.py command against the development services")
    manage.add_argument("manage_args", nargs=argparse.REMAINDER)
    # Everything after `test` / `manage` belongs to pytest / manage.py, options included.
    args, rest = parser.parse_known_args()
    if rest and args.command == "test":
        args.pytest_args = rest + args.pytest_args
    elif rest and args.command == "bench":
        args.bench_args = rest + args.bench_args
    elif rest and args.command == "manage":
        args.manage_args = rest + args.manage_args
    elif rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    handler = {"up": cmd_up, "test": cmd_test, "bench": cmd_bench, "manage": cmd_manage}[args.command]
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
