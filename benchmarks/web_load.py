"""Web under load: gunicorn on loopback (the production image's command: 3 sync workers), 20
simulated users (locust, benchmarks/_locustfile.py) logging encounters, reading the activation board
and the chief dashboard, each figure beside a trivial view served by the same server in the same run.

The trivial view is `/` for a signed-in user: the whole middleware stack (session, user, MFA and
session limits) and a redirect home, no page. The scratch database holds the demo network
(`seed_demo`, demo mode, so MFA is optional) plus synthetic encounters in every agency, and
snapshots built from them. Sessions are created directly in the session store, so the load does not
depend on the sign-in form. A 10-second warm-up (not counted) lets each worker connect and load its
templates first.

Four phases against one server: the trivial view alone, then the mix (10 supporters, 4 coordinators,
4 chiefs, 2 trivial), each paced (0.5-1.5 s between a user's requests: latency) and saturated (no
pause: capacity). Goals: zero errors; paced p95 under 150 ms for logging an encounter and under
100 ms for the board and the dashboard; saturated mix throughput at least half the trivial view's.

    ./dev bench web_load [--seconds 60] [--encounters 3000] [--quick]
"""

from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as bench  # noqa: E402

USERS = 20
MIX = {"SupporterUser": 10, "CoordinatorUser": 4, "ChiefUser": 4, "TrivialUser": 2}
GOAL_P95_MS = {
    "log encounter (POST)": 150,
    "activation board": 100,
    "activation board (live)": 100,
    "chief dashboard": 100,
}
LOCUSTFILE = Path(__file__).resolve().parent / "_locustfile.py"


def main() -> None:
    args = bench.arguments(
        __doc__.splitlines()[0],
        agencies=10,
        quick_agencies=10,
        seconds=(60, 20, "seconds per phase"),
        encounters=(3000, 1000, "synthetic encounters added to each demo agency"),
    )
    if "--child" in sys.argv:
        return prepare(args)
    bench.print_machine()
    workdir = bench.scratch_directory()
    sessions_file = workdir / "sessions.json"
    env = server_env()
    bench.scratch_database_create()
    server = None
    try:
        bench.run_child([__file__, "--child", "--encounters", str(args.encounters), "--sessions", str(sessions_file)])
        port = free_port()
        server = start_server(port, env, workdir / "gunicorn.log")
        host = f"http://127.0.0.1:{port}"
        run_locust(host, MIX, "paced", 10, workdir, sessions_file, "warm-up")  # workers load templates, connect
        results = {}
        for label, classes, wait in [
            ("trivial, paced", {"TrivialUser": USERS}, "paced"),
            ("mix, paced", MIX, "paced"),
            ("trivial, saturated", {"TrivialUser": USERS}, "0"),
            ("mix, saturated", MIX, "0"),
        ]:
            results[label] = run_locust(host, classes, wait, args.seconds, workdir, sessions_file, label)
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        bench.scratch_database_drop()
    report(results, args.seconds)


def report(results: dict, seconds: int) -> None:
    print(f"\n{USERS} users, {seconds} s per phase; times in ms")
    print(f"{'phase':<20} {'request':<28} {'count':>6} {'errors':>6} {'p50':>6} {'p95':>6} {'req/s':>7}")
    for phase, rows in results.items():
        for name, row in rows.items():
            print(
                f"{phase:<20} {name:<28} {row['count']:>6} {row['errors']:>6} {row['p50']:>6.0f} "
                f"{row['p95']:>6.0f} {row['rps']:>7.1f}"
            )
    errors = sum(row["errors"] for rows in results.values() for row in rows.values())
    paced = results["mix, paced"]
    slow = {
        name: paced[name]["p95"] for name, goal in GOAL_P95_MS.items() if name in paced and paced[name]["p95"] >= goal
    }
    missing = [name for name in GOAL_P95_MS if name not in paced]
    capacity = results["mix, saturated"]["Aggregated"]["rps"] / results["trivial, saturated"]["Aggregated"]["rps"]
    met = errors == 0 and not slow and not missing and capacity >= 0.5
    p95 = ", ".join(f"{name} {paced[name]['p95']:.0f}" for name in GOAL_P95_MS if name in paced)
    bench.summary(
        "web_load",
        met,
        f"{errors} errors; paced p95 ms: {p95} (trivial {results['trivial, paced']['Aggregated']['p95']:.0f}); "
        f"saturated throughput {results['mix, saturated']['Aggregated']['rps']:.0f} req/s = {capacity:.2f}x "
        f"the trivial view's {results['trivial, saturated']['Aggregated']['rps']:.0f}"
        + (f"; over goal: {slow}" if slow else "")
        + (f"; never measured: {missing}" if missing else ""),
    )


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        MUSTER_DATABASE_NAME=bench.BENCH_DB,
        MUSTER_ENV="development",
        MUSTER_DEMO="1",
        DJANGO_DEBUG="0",
        MUSTER_LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="config.settings",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    )
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    """gunicorn as the production image runs it; its own log goes to `log` (shown if it fails to start)."""
    command = [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "3"]
    with open(log, "w") as output:
        server = subprocess.Popen(
            command, cwd=bench.ROOT, env=env, start_new_session=True, stdout=output, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.5)
    os.killpg(server.pid, signal.SIGTERM)
    print(log.read_text()[-4000:])
    raise RuntimeError("gunicorn did not answer within 60 s")


def run_locust(host, classes, wait, seconds, workdir: Path, sessions_file: Path, label: str) -> dict:
    """One headless locust run; per request name: count, errors, p50, p95, requests per second."""
    prefix = workdir / label.replace(", ", "-").replace(" ", "-")
    env = dict(os.environ, MUSTER_BENCH_SESSIONS=str(sessions_file), MUSTER_BENCH_WAIT=wait)
    users = sum(classes.values())
    command = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", host,
        "--users", str(users), "--spawn-rate", str(users), "--run-time", f"{seconds}s",
        "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "5",
    ]  # fmt: skip
    env["MUSTER_BENCH_FIXED"] = json.dumps(classes)  # exactly this many users of each class
    command += list(classes)
    print(f"  locust: {label} ({users} users, {seconds} s)", flush=True)
    subprocess.run(command, cwd=bench.ROOT, env=env, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = {}
    with open(f"{prefix}_stats.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            rows[row["Name"]] = {
                "count": int(row["Request Count"]),
                "errors": int(row["Failure Count"]),
                "p50": float(row["50%"] or 0),
                "p95": float(row["95%"] or 0),
                "rps": float(row["Requests/s"] or 0),
            }
    return rows


def prepare(args) -> None:
    """Child: the demo network, synthetic encounters, snapshots, and a session per simulated user."""
    os.environ["MUSTER_DEMO"] = "1"
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"  # the demo's callouts
    bench.django_setup()
    from django.core.management import call_command

    from reporting import services as reporting_services

    sessions_file = Path(sys.argv[sys.argv.index("--sessions") + 1])
    with bench.Stopwatch() as sw:
        call_command("migrate_network", verbosity=0)
        call_command("seed_demo", verbosity=0)
        net = demo_as_synthetic()
        bench.encounters_generate(net, per_agency=args.encounters, days=365)
        run = reporting_services.run_request(full=True, enqueue=False)
        reporting_services.run_execute(run_id=run.pk)
    sessions_file.write_text(json.dumps(sessions()))
    print(f"  demo network + {args.encounters} encounters per agency + snapshots in {sw.seconds:.0f} s", flush=True)
    bench.child_result({"seconds": sw.seconds})


def demo_as_synthetic():
    """The seeded demo network in the shape encounters_generate fills."""
    from agencies.models import Agency, Membership, Role
    from network.models import DocumentationStandard

    agencies = list(Agency.objects.filter(status=Agency.Status.ACTIVE).order_by("pk"))
    supporters = {
        agency.pk: list(
            Membership.objects.filter(agency=agency, role__in=[Role.PEER_SUPPORTER, Role.COORDINATOR]).values_list(
                "user_id", flat=True
            )
        )
        for agency in agencies
    }
    standard = DocumentationStandard.objects.order_by("-version").first()
    return bench.SyntheticNetwork(
        network_id=agencies[0].network_id, standard_id=standard.pk, agencies=agencies, supporters=supporters
    )


def sessions() -> dict[str, list[dict]]:
    """One signed-in session per simulated user, straight into the session store."""
    from django.conf import settings

    from activations.models import Activation
    from agencies.models import Membership, Role
    from network.models import User

    board = Activation.objects.filter(status=Activation.Status.OPEN).order_by("pk").first()
    coordinator = User.objects.get(email="coordinator@example.org")
    supporters = Membership.objects.filter(role=Role.PEER_SUPPORTER, is_active=True).select_related("agency", "user")
    chiefs = Membership.objects.filter(role=Role.CHIEF, is_active=True).select_related("agency", "user")

    def entry(user, **extra) -> dict:
        return {"cookie_name": settings.SESSION_COOKIE_NAME, "key": session_for(user), **extra}

    return {
        "supporter": [entry(m.user, agency=m.agency.slug) for m in supporters.order_by("pk")[:20]],
        "coordinator": [entry(coordinator, activation=str(board.uuid)) for _ in range(MIX["CoordinatorUser"])],
        "chief": [entry(m.user, agency=m.agency.slug) for m in chiefs.order_by("pk")[: MIX["ChiefUser"]]],
    }


def session_for(user) -> str:
    """What django.contrib.auth.login stores, plus the session-limit timestamps; returns the key."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from network.sessions import SEEN_AT, SIGNED_IN_AT

    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store[SIGNED_IN_AT] = store[SEEN_AT] = time.time()
    store.create()
    return store.session_key


if __name__ == "__main__":
    main()
