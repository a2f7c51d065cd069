"""A stand-in for the text and voice provider's REST API (the one outside service that cannot run here),
and webhooks signed exactly as the provider signs them.

`FakeProvider` is a small HTTP server in a thread that answers the two calls Twilio's SDK makes for Muster,
POST /2010-04-01/Accounts/<sid>/Messages.json and /Calls.json, with JSON shaped like Twilio's, and records
every request so tests can read what was sent. Numbers in `refuse` are answered as Twilio answers an
invalid number (HTTP 400, code 21211)."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from django.conf import settings
from django.db import transaction
from django.test import Client
from django.utils import timezone
from twilio.request_validator import RequestValidator

from network import services as network_services
from network.models import MobileNumber, OutboxMessage

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "test-auth-token-0123456789abcdef"
FROM = "+12025550100"

_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>AC\w+)/(?P<kind>Messages|Calls)\.json$")


@dataclass
class Request:
    kind: str  # "Messages" or "Calls"
    form: dict[str, str]
    sid: str
    authorized: bool
    at: float = field(default_factory=time.monotonic)  # when it arrived (time.monotonic)


@dataclass
class FakeProvider:
    refuse: set[str] = field(default_factory=set)
    requests: list[Request] = field(default_factory=list)
    unavailable: bool = False  # answer 503 Service Unavailable, as the provider does when it cannot take a message

    def start(self) -> FakeProvider:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                match = _PATH.match(self.path)
                if match is None:
                    return self._answer(404, {"code": 20404, "message": "not found", "status": 404})
                expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
                authorized = self.headers.get("Authorization") == expected
                if not authorized:
                    return self._answer(401, {"code": 20003, "message": "Authenticate", "status": 401})
                kind = match["kind"]
                if provider.unavailable:
                    provider.requests.append(Request(kind, form, "", authorized))
                    return self._answer(503, {"code": 20503, "message": "Service Unavailable", "status": 503})
                if form.get("To") in provider.refuse:
                    provider.requests.append(Request(kind, form, "", authorized))
                    return self._answer(
                        400, {"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400}
                    )
                sid = ("SM" if kind == "Messages" else "CA") + uuid.uuid4().hex
                provider.requests.append(Request(kind, form, sid, authorized))
                self._answer(
                    201,
                    {
                        "sid": sid,
                        "account_sid": match["account"],
                        "to": form.get("To"),
                        "from": form.get("From"),
                        "body": form.get("Body"),
                        "status": "queued",
                        "direction": "outbound-api",
                        "uri": self.path,
                    },
                )

            def _answer(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def texts(self, to: str | None = None) -> list[Request]:
        return [r for r in self.requests if r.kind == "Messages" and (to is None or r.form.get("To") == to)]

    def calls(self, to: str | None = None) -> list[Request]:
        return [r for r in self.requests if r.kind == "Calls" and (to is None or r.form.get("To") == to)]

    def settings(self) -> dict[str, str]:
        """The environment (or settings) that point Muster at this provider."""
        return {
            "MUSTER_SMS_ACCOUNT_SID": ACCOUNT_SID,
            "MUSTER_SMS_AUTH_TOKEN": AUTH_TOKEN,
            "MUSTER_SMS_FROM": FROM,
            "MUSTER_SMS_API_URL": self.url,
        }


def signed_post(client: Client, path: str, params: dict[str, str], *, token: str = AUTH_TOKEN):
    """POST `params` to `path` as the provider does: form-encoded, with X-Twilio-Signature computed over
    the public URL (MUSTER_BASE_URL + path) and the sorted parameters by the SDK's own validator."""
    url = settings.MUSTER_BASE_URL + path
    signature = RequestValidator(token).compute_signature(url, params)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)


def confirm_committed(provider: FakeProvider, user, number: str):
    """Register and confirm `user`'s number for a test that commits (worker and browser tests). The confirmation
    task the service queues is marked sent in the same transaction, so no worker running elsewhere in the suite
    makes a code of its own; the code is made here and texted to the stand-in provider, as the task would."""
    with transaction.atomic():
        network_services.mobile_number_set(actor=user, number=number)
        mobile = MobileNumber.objects.get(user=user)
        OutboxMessage.objects.filter(
            task="network.tasks.mobile_confirmation_text_task", args=[mobile.pk], sent_at__isnull=True
        ).update(sent_at=timezone.now())
    network_services.mobile_confirmation_send(mobile_id=mobile.pk)
    code = re.search(r"\b(\d{6})\b", provider.texts(mobile.number)[-1].form["Body"]).group(1)
    return network_services.mobile_number_confirm(actor=user, code=code)
