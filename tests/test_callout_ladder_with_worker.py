"""The callout ladder on the real Celery worker, against the local stand-in for the provider, with short
timings: text -> N -> call -> M -> coordinators told; a text reply and a keypad answer stop it for their person.

A protocol minute lasts one second here (MUSTER_CALLOUT_MINUTE_SECONDS=1, refused in production) and the
protocol sets N = M = 2. The measured timings are printed (pytest -s shows them; docs/callout.md)."""

import datetime
import os
import time
import uuid

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from activations import services
from activations.models import CalloutResponse
from agencies import services as agency_services
from agencies.models import Role
from governance import services as governance_services
from network import services as network_services
from network.models import PhoneMessage
from tests.phone_provider import FakeProvider, confirm_committed, signed_post
from tests.support import make_agency, make_ready, make_user

pytestmark = pytest.mark.stack

WAIT = 2  # protocol minutes, N and M
MINUTE = 1.0  # seconds per protocol minute on the worker


def wait_for(check, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    return None


@pytest.fixture
def phone_worker(stack, settings):
    """The stack's worker restarted with the provider pointed at a local stand-in and short minutes."""
    provider = FakeProvider().start()
    extra = {**provider.settings(), "MUSTER_CALLOUT_MINUTE_SECONDS": str(MINUTE)}
    for name, value in provider.settings().items():
        setattr(settings, name, value)
    saved = {name: os.environ.get(name) for name in extra}
    stack.stop_process("worker")
    os.environ.update(extra)
    try:
        stack.start_worker()
        yield provider
    finally:
        stack.stop_process("worker")
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        stack.start_worker()
        provider.stop()
        stack.wait_healthy()


def test_the_ladder_runs_on_the_worker_with_its_timings(phone_worker, stack, django_db_blocker):
    provider = phone_worker
    client = Client()
    with django_db_blocker.unblock():
        tag = uuid.uuid4().hex[:6]
        network = network_services.network_get_or_create(name=f"Ladder {tag}", slug=f"ladder-{tag}")
        region = network_services.region_get_or_create(network=network, name="East", slug="east")
        admin = make_user(f"ladder-admin-{tag}@test.example")
        agency = make_agency(actor=admin, network=network, region=region, slug=f"ladder-{tag}", name="Riverton Fire")
        governance_services.protocol_save(
            actor=admin,
            network=network,
            incident_type="other",
            name="Other",
            steps=[],
            follow_up_days=[],
            text_wait_minutes=WAIT,
            call_wait_minutes=WAIT,
        )
        people, numbers = {}, {}
        for index, (key, role) in enumerate(
            [
                ("coordinator", Role.COORDINATOR),
                ("replies", Role.PEER_SUPPORTER),
                ("keypad", Role.PEER_SUPPORTER),
                ("silent", Role.PEER_SUPPORTER),
            ]
        ):
            user = make_user(f"ladder-{key}-{tag}@test.example", f"Ladder {key.title()}")
            membership = agency_services.membership_add(actor=None, user=user, agency=agency, role=role)
            make_ready(membership)
            number = f"+1202555{(int(tag, 16) % 90 + 10):02d}{index:02d}"
            mobile = confirm_committed(provider, user, number)
            people[key], numbers[key] = user, mobile.number
        coordinator = people["coordinator"]
        activation = services.activation_open(
            actor=coordinator,
            lead_agency=agency,
            incident_type="other",
            name=f"Ladder {tag}",
            occurred_at=timezone.now() - datetime.timedelta(hours=1),
            location="Here",
        )
        started = time.monotonic()
        services.callout_send(actor=coordinator, activation=activation)

        def callout_texts(key):
            return [r for r in provider.texts(numbers[key]) if r.form["Body"].startswith("Muster callout,")]

        for key in ("replies", "keypad", "silent"):
            assert wait_for(lambda key=key: callout_texts(key)), stack.log_tail("worker")
        texted = {key: callout_texts(key)[0].at - started for key in ("replies", "keypad", "silent")}
        # A reply by text before N minutes: that person is never called.
        signed_post(
            client,
            reverse("phone_sms"),
            {"From": numbers["replies"], "To": "+12025550100", "Body": "1", "MessageSid": f"SMladder{tag}"},
        )
        assert wait_for(lambda: provider.calls(numbers["keypad"]) and provider.calls(numbers["silent"])), (
            stack.log_tail("worker")
        )
        called = {key: provider.calls(numbers[key])[0].at - started for key in ("keypad", "silent")}
        signed_post(
            client, reverse("phone_voice_gather"), {"CallSid": provider.calls(numbers["keypad"])[0].sid, "Digits": "3"}
        )

        def escalated():
            return CalloutResponse.objects.filter(
                activation=activation, supporter=people["silent"], escalated_at__isnull=False
            ).first()

        assert wait_for(escalated), stack.log_tail("worker")
        escalated_after = time.monotonic() - started
        told = wait_for(lambda: [r for r in provider.texts(numbers["coordinator"]) if "not answered" in r.form["Body"]])
        assert told, stack.log_tail("worker")
        told_after = told[0].at - started

        answers = {
            key: CalloutResponse.objects.get(activation=activation, supporter=people[key])
            for key in ("replies", "keypad", "silent")
        }
        assert (answers["replies"].answer, answers["replies"].answered_via) == ("available", "text")
        assert (answers["keypad"].involved, answers["keypad"].answered_via) == (True, "voice")
        assert answers["silent"].channel_state == "escalated" and answers["silent"].answer == "pending"
        assert not provider.calls(numbers["replies"])  # the reply stopped that person's ladder
        assert "1 person has not answered" in told[0].form["Body"]
        assert not PhoneMessage.objects.filter(purpose="escalation", user=people["keypad"]).exists()

    print(
        "\nladder timings (s after callout_send; N = M = "
        f"{WAIT} protocol minutes of {MINUTE} s): texts "
        + ", ".join(f"{k} {v:.2f}" for k, v in texted.items())
        + "; calls "
        + ", ".join(f"{k} {v:.2f}" for k, v in called.items())
        + f"; escalated {escalated_after:.2f}; coordinator texted {told_after:.2f}"
    )
    wait = WAIT * MINUTE
    for key in ("keypad", "silent"):
        assert wait <= called[key] - texted[key] < wait + 5
    assert wait <= escalated_after - called["silent"] < wait + 5
