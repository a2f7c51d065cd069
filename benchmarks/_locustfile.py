"""Simulated users for benchmarks/web_load.py (run by locust, headless). Not a benchmark of its own.

Sessions come ready-made from web_load.py (MUSTER_BENCH_SESSIONS, a JSON file): the load does not
depend on the sign-in form or its MFA step. Supporters open the encounter form and post it, filled
from the form's own fields (CSRF token, one-time submission key, the first choice of each group);
coordinators read the open activation's board and its live fragment; chiefs read their dashboard;
TrivialUser, the reference every figure is compared with, requests `/` signed in (a redirect home).
"""

from __future__ import annotations

import itertools
import json
import os
from html.parser import HTMLParser
from urllib.parse import urlencode

from locust import FastHttpUser, between, constant, task
from requests.cookies import create_cookie

SESSIONS = json.loads(open(os.environ["MUSTER_BENCH_SESSIONS"]).read())  # noqa: SIM115
WAIT = constant(0) if os.environ.get("MUSTER_BENCH_WAIT") == "0" else between(0.5, 1.5)
NOTE = "Synthetic load-test note: checked in after a long shift, follow-up agreed."
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

    @task(4)
    def board_live(self) -> None:
        with self.client.get(
            f"/activations/{self.session['activation']}/board/live/",
            name="activation board (live)",
            catch_response=True,
        ) as response:
            signed_in(response)

    @task(1)
    def board(self) -> None:
        with self.client.get(
            f"/activations/{self.session['activation']}/board/", name="activation board", catch_response=True
        ) as response:
            signed_in(response)


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
    limits, agency routing) to a view that only redirects a signed-in user to their home page."""

    role = "supporter"

    @task
    def landing(self) -> None:
        with self.client.get("/", name="trivial view", allow_redirects=False, catch_response=True) as response:
            if response.status_code != 302:
                response.failure(f"status {response.status_code}")


for _name, _count in json.loads(os.environ.get("MUSTER_BENCH_FIXED", "{}")).items():
    globals()[_name].fixed_count = _count


class EncounterFormFiller(HTMLParser):
    """The values a person would submit: what the form holds, and the first choice of every group
    left empty. Single checkboxes (the escalation flag) stay unticked."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, list[str]] = {}
        self.choices: dict[str, list[tuple[str, bool]]] = {}
        self.kinds: dict[str, str] = {}
        self.select: str | None = None
        self.textarea: str | None = None

    @classmethod
    def fill(cls, html: str) -> dict[str, list[str] | str]:
        parser = cls()
        parser.feed(html)
        data: dict[str, list[str] | str] = {name: values for name, values in parser.values.items()}
        for name, options in parser.choices.items():
            checked = [value for value, on in options if on]
            if checked:
                data[name] = checked
            elif parser.kinds[name] == "radio" or (parser.kinds[name] == "select") or len(options) > 1:
                data[name] = [options[0][0]]
        return data

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attr = dict(attrs)
        name = attr.get("name")
        if tag == "input" and name:
            kind = attr.get("type", "text")
            if kind in ("radio", "checkbox"):
                self.kinds[name] = kind
                self.choices.setdefault(name, []).append((attr.get("value", "on"), "checked" in attr))
            elif kind not in ("submit", "button"):
                self.values[name] = [attr.get("value") or ""]
        elif tag == "select" and name:
            self.select = name
            self.kinds[name] = "select"
            self.choices[name] = []
        elif tag == "option" and self.select:
            self.choices[self.select].append((attr.get("value", ""), "selected" in attr))
        elif tag == "textarea" and name:
            self.values[name] = [NOTE]

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self.select = None
