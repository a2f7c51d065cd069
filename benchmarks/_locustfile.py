"""Simulated users for benchmarks/web_load.py (run by locust, headless). Not a benchmark of its own.

Sessions come ready-made from web_load.py (MUSTER_BENCH_SESSIONS, a JSON file): the load does not
depend on the sign-in form or its MFA step. Supporters open the encounter form and post it, filled
from the form's own fields (CSRF token, one-time submission key, the first choice of each group);
coordinators read the open activation's board and poll its live fragment as the board's script does;
chiefs read their dashboard; TrivialUser, the reference every figure is compared with, requests
`/home/` signed in as a person with no role yet: the whole middleware stack and a page rendered through base.html.
"""

from __future__ import annotations

import itertools
import json
import os
from urllib.parse import urlencode

from _formfill import EncounterFormFiller
from locust import FastHttpUser, between, constant, task
from requests.cookies import create_cookie

SESSIONS = json.loads(open(os.environ["MUSTER_BENCH_SESSIONS"]).read())  # noqa: SIM115
WAIT = constant(0) if os.environ.get("MUSTER_BENCH_WAIT") == "0" else between(0.5, 1.5)
_next = {role: itertools.cycle(entries) for role, entries in SESSIONS.items()}


class _SignedIn(FastHttpUser):
    abstract = True
    wait_time = WAIT
    role = ""

    def on_start(self) -> None:
        self.session = next(_next[self.role])
        host = self.host.split("://", 1)[1].split(":", 1)[0]
        self.client.cookiejar.set_cookie(create_cookie(self.session["cookie_name"], self.session["key"], domain=host))


class SupporterUser(_SignedIn):
    role = "supporter"

    @task
    def log_encounter(self) -> None:
        url = f"/a/{self.session['agency']}/encounters/new/"
        with self.client.get(url, name="encounter form (GET)", catch_response=True) as form:
            signed_in(form)
        body = urlencode(EncounterFormFiller.fill(form.text), doseq=True)  # topics etc. are repeated fields
        with self.client.post(
            url,
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            name="log encounter (POST)",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"not saved: status {response.status_code}")


def signed_in(response) -> None:
    """A page that sent us to the sign-in page did not serve the simulated user."""
    if "/login/" in str(response.url):
        response.failure("sent to sign-in")


class CoordinatorUser(_SignedIn):
    role = "coordinator"

    # As the board's script does (static/muster/board_live.js): each poll sends back the version of the board last
    # drawn (by the page or by a poll), and a 204 means nothing changed.
    version = ""

    @task(4)
    def board_live(self) -> None:
        headers = {"X-Muster-Board-Version": self.version} if self.version else {}
        with self.client.get(
            f"/activations/{self.session['activation']}/board/live/",
            name="activation board (live)",
            headers=headers,
            catch_response=True,
        ) as response:
            signed_in(response)
            if response.status_code == 200:
                self.version = response.headers.get("X-Muster-Board-Version", "")

    @task(1)
    def board(self) -> None:
        with self.client.get(
            f"/activations/{self.session['activation']}/board/", name="activation board", catch_response=True
        ) as response:
            signed_in(response)
            if response.status_code == 200:
                self.version = response.headers.get("X-Muster-Board-Version", "")


class ChiefUser(_SignedIn):
    role = "chief"

    @task
    def dashboard(self) -> None:
        with self.client.get(
            f"/a/{self.session['agency']}/dashboard/", name="chief dashboard", catch_response=True
        ) as response:
            signed_in(response)


class TrivialUser(_SignedIn):
    """The reference: a signed-in request through the whole stack (session, user, MFA and session
    limits, agency routing) to the cheapest page that renders the shared layout: `/home/` for a
    person with no role yet ("You are not part of an agency yet", the navigation included)."""

    role = "trivial"

    @task
    def home(self) -> None:
        with self.client.get("/home/", name="trivial page", allow_redirects=False, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")


for _name, _count in json.loads(os.environ.get("MUSTER_BENCH_FIXED", "{}")).items():
    globals()[_name].fixed_count = _count
