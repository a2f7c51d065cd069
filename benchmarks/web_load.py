"""Web under load: gunicorn on loopback, started with the production image's own command (the
Dockerfile's CMD: 3 sync workers, access log), 20 simulated users (locust, benchmarks/_locustfile.py)
logging encounters, reading the activation board and the chief dashboard, each figure beside a
trivial page served by the same server in the same run; then the same two loads from an outside
client, `wrk` (Debian's package), against the same server.

The trivial page is `/home/` for a signed-in person who has no role yet: the whole middleware stack
(session, user, MFA and session limits), the navigation's two queries and the view's two, and a page
rendered through base.html ("You are not part of an agency yet"); the cheapest page that still
renders the layout every page shares. The scratch database holds the demo network (`seed_demo`,
demo mode, so MFA is optional) plus synthetic encounters in every agency, and snapshots built from
them. Sessions are created directly in the session store, so the load does not depend on the
sign-in form. A 10-second warm-up (not counted) lets each worker connect and load its templates.

Six phases against one server: with locust, the trivial page alone, then the mix (10 supporters,
4 coordinators, 4 chiefs, 2 on the trivial page), each paced (0.5-1.5 s between a user's requests:
latency) and saturated (no pause: capacity); with wrk, 20 connections and no pause, the trivial page
alone and the mix (the same requests in the same proportions per user, benchmarks/_wrk.lua, the
POST with the session's CSRF secret and a new submission key each time). Goals: zero errors; paced
p95 under 100 ms for every page in the mix; saturated mix throughput at least half the trivial
page's, by both clients.

    ./dev bench web_load [--seconds 60] [--encounters 3000] [--port N] [--quick]
    ./dev bench web_load --profile [--encounters 3000]   # no load: each page in-process, where its time goes
"""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as bench  # noqa: E402

USERS = 20
MIX = {"SupporterUser": 10, "CoordinatorUser": 4, "ChiefUser": 4, "TrivialUser": 2}
GOAL_P95_MS = 100  # paced, every page in the mix
MIX_PAGES = [
    "log encounter (POST)",
    "encounter form (GET)",
    "activation board",
    "activation board (live)",
    "chief dashboard",
    "trivial page",
]
GOAL_CAPACITY = 0.5  # saturated mix throughput / the trivial page's
LOCUSTFILE = Path(__file__).resolve().parent / "_locustfile.py"
WRK_SCRIPT = Path(__file__).resolve().parent / "_wrk.lua"
DOCKERFILE = Path(__file__).resolve().parent.parent / "Dockerfile"
TRIVIAL_PATH = "/home/"


def main() -> None:
    args = bench.arguments(
        __doc__.splitlines()[0],
        agencies=10,
        quick_agencies=10,
        seconds=(60, 20, "seconds per phase"),
        encounters=(3000, 1000, "synthetic encounters added to each demo agency"),
        port=(0, 0, "port for gunicorn on 127.0.0.1 (default: any free port)"),
    )
    if "--child" in sys.argv:
        return prepare(args)
    bench.print_machine()
    if "--profile" in sys.argv:
        return profile(args)
    wrk = shutil.which("wrk")
    if wrk is None:
        print("  wrk is not installed (Debian: apt-get install wrk): the outside client's phases are skipped")
    workdir = bench.scratch_directory()
    sessions_file = workdir / "sessions.json"
    env = server_env()
    bench.scratch_database_create()
    server = None
    try:
        bench.run_child([__file__, "--child", "--encounters", str(args.encounters), "--sessions", str(sessions_file)])
        port = args.port or free_port()
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
        outside = {}
        if wrk is not None:
            plans = wrk_plans(host, json.loads(sessions_file.read_text()))
            for label in ("trivial", "mix"):
                outside[label] = run_wrk(wrk, host, plans[label], args.seconds, workdir, label)
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        bench.scratch_database_drop()
    report(results, outside, args.seconds)


def profile(args) -> None:
    """`--profile`: build the same data, then profile each page of the mix in-process; no load, no server."""
    workdir = bench.scratch_directory()
    bench.scratch_database_create()
    try:
        bench.run_child(
            [__file__, "--child", "--profile", "--encounters", str(args.encounters), "--sessions",
             str(workdir / "sessions.json")]
        )  # fmt: skip
    finally:
        bench.scratch_database_drop()


def report(results: dict, outside: dict, seconds: int) -> None:
    print(f"\nlocust: {USERS} users, {seconds} s per phase; times in ms")
    print(f"{'phase':<20} {'request':<28} {'count':>6} {'errors':>6} {'p50':>6} {'p95':>6} {'req/s':>7}")
    for phase, rows in results.items():
        for name, row in rows.items():
            print(
                f"{phase:<20} {name:<28} {row['count']:>6} {row['errors']:>6} {row['p50']:>6.0f} "
                f"{row['p95']:>6.0f} {row['rps']:>7.1f}"
            )
    if outside:
        print(f"\nwrk: {USERS} connections, 2 threads, {seconds} s per phase, no pause; times in ms")
        print(f"{'phase':<20} {'requests':>8} {'errors':>6} {'p50':>6} {'p90':>6} {'p99':>6} {'req/s':>7}")
        for phase, row in outside.items():
            print(
                f"{phase:<20} {row['count']:>8} {row['errors']:>6} {row['p50']:>6.0f} {row['p90']:>6.0f} "
                f"{row['p99']:>6.0f} {row['rps']:>7.1f}"
            )
    errors = sum(row["errors"] for rows in results.values() for row in rows.values())
    errors += sum(row["errors"] for row in outside.values())
    paced = results["mix, paced"]
    slow = {name: paced[name]["p95"] for name in MIX_PAGES if name in paced and paced[name]["p95"] >= GOAL_P95_MS}
    missing = [name for name in MIX_PAGES if name not in paced]
    trivial, mix = results["trivial, saturated"]["Aggregated"]["rps"], results["mix, saturated"]["Aggregated"]["rps"]
    ratios = {"locust": mix / trivial}
    lines = [f"  locust: mix {mix:.1f} req/s / trivial page {trivial:.1f} req/s = {ratios['locust']:.2f}x"]
    if outside:
        ratios["wrk"] = outside["mix"]["rps"] / outside["trivial"]["rps"]
        lines.append(
            f"  wrk:    mix {outside['mix']['rps']:.1f} req/s / trivial page {outside['trivial']['rps']:.1f} req/s "
            f"= {ratios['wrk']:.2f}x"
        )
    print(f"\nSaturated throughput, the mix against the trivial page (goal >= {GOAL_CAPACITY}x):")
    for line, (client, ratio) in zip(lines, ratios.items(), strict=True):
        print(f"{line}  {'met' if ratio >= GOAL_CAPACITY else 'NOT met'} ({client})")
    print(f"Paced p95 against {GOAL_P95_MS} ms (locust, mix):")
    for name in MIX_PAGES:
        if name in paced:
            p95 = paced[name]["p95"]
            print(f"  {name:<28} {p95:>5.0f} ms  {'met' if p95 < GOAL_P95_MS else 'NOT met'}")
        else:
            print(f"  {name:<28} never measured")
    met = errors == 0 and not slow and not missing and all(r >= GOAL_CAPACITY for r in ratios.values())
    met = met and bool(outside)  # without wrk the outside measure is missing: not met
    p95 = ", ".join(f"{name} {paced[name]['p95']:.0f}" for name in MIX_PAGES if name in paced)
    bench.summary(
        "web_load",
        met,
        f"{errors} errors; paced p95 ms: {p95}; saturated mix/trivial page: "
        + ", ".join(f"{client} {ratio:.2f}x" for client, ratio in ratios.items())
        + f" (locust {mix:.0f}/{trivial:.0f} req/s"
        + (f", wrk {outside['mix']['rps']:.0f}/{outside['trivial']['rps']:.0f} req/s" if outside else "")
        + ")"
        + (f"; over {GOAL_P95_MS} ms: {slow}" if slow else "")
        + (f"; never measured: {missing}" if missing else "")
        + ("" if outside else "; wrk missing (apt-get install wrk): outside client not measured"),
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


def production_command(port: int) -> list[str]:
    """The production image's CMD (Dockerfile), bound to 127.0.0.1:`port` instead of 0.0.0.0:8000."""
    match = re.search(r"^CMD\s+(\[.*\])\s*$", DOCKERFILE.read_text(), re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no CMD [...] line in {DOCKERFILE}")
    command = json.loads(match.group(1))
    if command[0] != "gunicorn" or "--bind" not in command:
        raise RuntimeError(f"the Dockerfile's CMD is not gunicorn --bind ...: {command}")
    command[command.index("--bind") + 1] = f"127.0.0.1:{port}"
    return [sys.executable, "-m", *command]


def start_server(port: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    """gunicorn as the production image runs it; its own log (and access log) goes to `log`."""
    command = production_command(port)
    print(f"  server: {shlex.join(command[2:])}", flush=True)
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


def wrk_plans(host: str, sessions: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """The request sequences wrk's connections cycle through (benchmarks/_wrk.lua): the trivial page
    alone, and the mix as locust's users make it, one task per user in the same proportions (10
    supporters: the form, then posting it; 4 coordinators: the live fragment 4 times to the board
    once; 4 chiefs: the dashboard; 2 on the trivial page). The POST's body comes from the form as
    served (EncounterFormFiller, as locust fills it) with the session's CSRF secret and `@KEY@`
    where each request puts a new submission key."""
    from _formfill import EncounterFormFiller

    def cookie(entry: dict) -> str:
        return f"{entry['cookie_name']}={entry['key']}; {entry['csrf_cookie_name']}={entry['csrf']}"

    trivial = [{"path": TRIVIAL_PATH, "cookie": cookie(entry)} for entry in sessions["trivial"]]
    supporters = []
    for entry in sessions["supporter"][: MIX["SupporterUser"]]:
        path = f"/a/{entry['agency']}/encounters/new/"
        request = urllib.request.Request(host + path, headers={"Cookie": cookie(entry)})
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
            form = EncounterFormFiller.fill(response.read().decode())
        form["csrfmiddlewaretoken"] = [entry["csrf"]]
        form["submission_key"] = ["@KEY@"]
        body = urllib.parse.urlencode(form, doseq=True).replace("%40KEY%40", "@KEY@")
        supporters += [{"path": path, "cookie": cookie(entry)}, {"path": path, "cookie": cookie(entry), "body": body}]
    # Locust's coordinators pick the live fragment 4 times to the board's once: over 5 rounds of the
    # sequence below, the 4 coordinators' 20 tasks are 16 fragments and 4 boards.
    coordinators = [
        {"path": f"/activations/{entry['activation']}/board/" + ("live/" if n % 5 else ""), "cookie": cookie(entry)}
        for n, entry in enumerate(sessions["coordinator"][: MIX["CoordinatorUser"]] * 5)
    ]
    chiefs = [
        {"path": f"/a/{entry['agency']}/dashboard/", "cookie": cookie(entry)}
        for entry in sessions["chief"][: MIX["ChiefUser"]]
    ]
    mix = []
    for round_ in range(5):
        mix += supporters + coordinators[4 * round_ : 4 * round_ + 4] + chiefs + trivial[: MIX["TrivialUser"]]
    return {"trivial": trivial, "mix": mix}


def run_wrk(wrk: str, host: str, plan: list[dict], seconds: int, workdir: Path, label: str) -> dict:
    """One wrk run (20 connections, 2 threads) cycling through `plan`; requests, errors (socket
    errors, statuses 400 and up, redirects to the sign-in page), latency percentiles, requests/s."""
    plan_file = workdir / f"wrk-{label}.json"
    for entry in plan:  # _wrk.lua reads flat JSON without escapes
        assert not any(ch in value for value in entry.values() for ch in '"\\{}'), entry
    plan_file.write_text(json.dumps(plan))
    command = [
        wrk, "--threads", "2", "--connections", str(USERS), "--duration", f"{seconds}s", "--latency",
        "--timeout", "10s", "--script", str(WRK_SCRIPT), host, "--", str(plan_file),
    ]  # fmt: skip
    print(f"  wrk: {label} ({USERS} connections, {seconds} s)", flush=True)
    out = subprocess.run(command, capture_output=True, text=True, check=False, timeout=seconds + 60).stdout
    (workdir / f"wrk-{label}.txt").write_text(out)

    def number(pattern: str, default: float = 0.0) -> float:
        found = re.search(pattern, out)
        return float(found.group(1)) if found else default

    def latency_ms(percent: int) -> float:
        found = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
        if not found:
            return 0.0
        return float(found.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[found.group(2)]

    if "Requests/sec" not in out:
        raise RuntimeError(f"wrk failed: {out[-2000:]}")
    socket_errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return {
        "count": int(number(r"(\d+) requests in")),
        "errors": int(number(r"MUSTER_BAD (\d+)")) + socket_errors,
        "p50": latency_ms(50),
        "p90": latency_ms(90),
        "p99": latency_ms(99),
        "rps": number(r"Requests/sec:\s+([\d.]+)"),
    }


def prepare(args) -> None:
    """Child: the demo network, synthetic encounters, snapshots, and a session per simulated user."""
    os.environ["MUSTER_DEMO"] = "1"
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"  # the demo's callouts
    if "--profile" in sys.argv:
        os.environ["DJANGO_DEBUG"] = "0"  # as gunicorn runs (server_env): no query log, no debug templates
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
    if "--profile" in sys.argv:
        profile_pages(json.loads(sessions_file.read_text()), sessions_file.parent)
    bench.child_result({"seconds": sw.seconds})


# Where a request's server time goes: each function's own time (cProfile's tottime, so the groups add up
# to the whole), grouped by the file it is in; the first group whose marker is in the path counts.
PROFILE_GROUPS = [
    ("templates (django.template, tags, filters)", ("django/template", "templatetags/")),
    ("forms and widgets (django.forms)", ("django/forms",)),
    ("ORM: building and compiling SQL, model instances", ("django/db/models",)),
    ("database: driver and waiting for PostgreSQL", ("psycopg", "django/db/backends", "django_tenants/postgresql")),
    ("crypto (network/crypto.py, fields.py, AES-GCM)", ("network/crypto.py", "network/fields.py", "cryptography")),
    ("sessions", ("django/contrib/sessions",)),
    ("django.utils (escaping, lazy text, dates, translation)", ("django/utils",)),
    ("URL resolving and reversing", ("django/urls",)),
    (
        "middleware and request handling (Django, libraries)",
        (
            "django/core/handlers",
            "django/middleware",
            "django/contrib",
            "django_otp",
            "axes",
            "csp",
            "whitenoise",
            "django_htmx",
            "django/http",
        ),
    ),
    ("project code (views, selectors, access, middleware)", ("/work/",)),
]


def _profile_group(path: str) -> str:
    if path == "~" or path.startswith("<"):
        return "C built-ins (str, dict, regex; select() while waiting)"
    for label, markers in PROFILE_GROUPS:
        if any(marker in path for marker in markers):
            return label
    return "other (Python standard library, other packages)"


def profile_pages(sessions: dict[str, list[dict]], workdir: Path, repeat: int = 20) -> None:
    """The mix's pages in-process, one request at a time (Django's test client, the same sessions,
    DEBUG off as gunicorn runs): server time (median of `repeat`, no profiler), SQL statements, where
    the time goes (PROFILE_GROUPS, cProfile) and the functions with most time of their own. With
    pyinstrument importable, a call tree per page is written beside."""
    import cProfile
    import pstats
    import statistics

    from _formfill import EncounterFormFiller
    from django.db import connection
    from django.test import Client

    def client_for(entry: dict) -> Client:
        client = Client()
        client.cookies[entry["cookie_name"]] = entry["key"]
        return client

    supporter, coordinator, chief = sessions["supporter"][0], sessions["coordinator"][0], sessions["chief"][0]
    form_path = f"/a/{supporter['agency']}/encounters/new/"
    board = f"/activations/{coordinator['activation']}/board/"

    def post_encounter(client: Client):
        """As a supporter does: the form, then posting it filled (a new submission key each time)."""
        data = EncounterFormFiller.fill(client.get(form_path).content.decode())
        return client.post(form_path, data)

    seen = {"version": ""}

    def live_unchanged(client: Client):
        """As the board's script polls (static/muster/board_live.js): with the version last drawn; 204 if unchanged.
        A new minute draws the board again (the first request), and the next poll is unchanged."""
        response = client.get(board + "live/", headers={"X-Muster-Board-Version": seen["version"]})
        if response.status_code == 200:
            seen["version"] = response["X-Muster-Board-Version"]
            response = client.get(board + "live/", headers={"X-Muster-Board-Version": seen["version"]})
        return response

    pages = {
        "trivial page": (client_for(sessions["trivial"][0]), lambda c: c.get(TRIVIAL_PATH), 200),
        "encounter form (GET)": (client_for(supporter), lambda c: c.get(form_path), 200),
        "encounter form, then posting it": (client_for(supporter), post_encounter, 302),
        "activation board": (client_for(coordinator), lambda c: c.get(board), 200),
        "activation board (live)": (client_for(coordinator), lambda c: c.get(board + "live/"), 200),
        "activation board (live, unchanged)": (client_for(coordinator), live_unchanged, 204),
        "chief dashboard": (client_for(chief), lambda c: c.get(f"/a/{chief['agency']}/dashboard/"), 200),
    }
    try:
        from pyinstrument import Profiler
    except ImportError:
        Profiler = None  # noqa: N806
    statements = []

    def count(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    def where(key) -> str:
        path, line, function = key
        return f"{function} ({path.split('site-packages/')[-1].replace(str(bench.ROOT) + '/', '')}:{line})"

    print(f"\nin-process, one request at a time, DEBUG off (server time: median of {repeat} requests)")
    for name, (client, call, status) in pages.items():
        assert call(client).status_code == status, name  # warm: templates loaded, caches filled
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            response = call(client)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == status, (name, response.status_code)
        statements.clear()
        with connection.execute_wrapper(count):
            call(client)
        sql_count = len(statements)
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        (workdir / f"statements-{slug}.sql").write_text(";\n".join(statements) + ";\n")
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(repeat):
            call(client)
        profile.disable()
        stats = pstats.Stats(profile).stats
        groups: dict[str, float] = {}
        for (path, _line, _function), entry in stats.items():
            group = _profile_group(path)
            groups[group] = groups.get(group, 0.0) + entry[2] * 1000 / repeat
        total = sum(groups.values())
        print(
            f"\n{name}: {statistics.median(times):.1f} ms server time, {sql_count} SQL statements; "
            f"under cProfile {total:.1f} ms, of which:"
        )
        for label, ms in sorted(groups.items(), key=lambda item: -item[1]):
            if ms >= 0.05:
                print(f"    {label:<58} {ms:6.1f} ms  ({ms / total:4.0%})")
        print("  most time of their own (ms per request):")
        top = sorted(stats.items(), key=lambda item: -item[1][2])[:12]
        for key, entry in top:
            callers = entry[4]
            caller = max(callers, key=lambda c: callers[c][3]) if callers else None
            print(
                f"    {entry[2] * 1000 / repeat:6.2f}  {where(key)}, {entry[1] / repeat:.0f} calls"
                + (f"; mostly from {where(caller)}" if caller else "")
            )
        if Profiler is not None:
            profiler = Profiler(interval=0.0005)
            with profiler:
                for _ in range(repeat):
                    call(client)
            tree = workdir / f"profile-{name.replace(' ', '-').replace('(', '').replace(')', '').replace(',', '')}.txt"
            tree.write_text(profiler.output_text(unicode=False, color=False, show_all=False))
            print(f"  pyinstrument call tree: {tree}")


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
    from django.utils.crypto import get_random_string

    from activations.models import Activation
    from agencies.models import Membership, Role
    from network.models import User
    from network.services import user_create

    board = Activation.objects.filter(status=Activation.Status.OPEN).order_by("pk").first()
    coordinator = User.objects.get(email="coordinator@example.org")
    supporters = Membership.objects.filter(role=Role.PEER_SUPPORTER, is_active=True).select_related("agency", "user")
    chiefs = Membership.objects.filter(role=Role.CHIEF, is_active=True).select_related("agency", "user")
    # The trivial page's person: signed in, no role anywhere yet (what /home/ shows a new account).
    newcomer = user_create(email="bench-newcomer@example.org", full_name="Bench Newcomer")

    def entry(user, **extra) -> dict:
        return {
            "cookie_name": settings.SESSION_COOKIE_NAME,
            "key": session_for(user),
            # A CSRF secret of our own: the cookie and the form field carry it (wrk's POST; Django
            # accepts the unmasked 32-character secret in the field).
            "csrf_cookie_name": settings.CSRF_COOKIE_NAME,
            "csrf": get_random_string(32),
            **extra,
        }

    return {
        "supporter": [entry(m.user, agency=m.agency.slug) for m in supporters.order_by("pk")[:20]],
        "coordinator": [entry(coordinator, activation=str(board.uuid)) for _ in range(MIX["CoordinatorUser"])],
        "chief": [entry(m.user, agency=m.agency.slug) for m in chiefs.order_by("pk")[: MIX["ChiefUser"]]],
        "trivial": [entry(newcomer) for _ in range(USERS)],
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
