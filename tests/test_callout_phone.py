"""Callouts by text and voice (issue 16): mobile numbers, the neutral text, replies by text and keypad,
signed webhooks, delivery status, the ladder's steps, caps, STOP/START/HELP and the development phone.

The provider is replaced only at the network boundary: the real Twilio SDK talks to a local HTTP server
(tests/phone_provider.py), and webhooks are posted signed exactly as the provider signs them."""

import datetime
import re

import pytest
from django.db import connection
from django.http import Http404
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from activations import services
from activations.models import Activation, ActivationEvent, CalloutResponse, OutreachTarget
from activations.phone_views import dev_phone
from agencies.models import Role
from encounters.maintenance import follow_up_reminders_send
from network import services as network_services
from network.audit import AuditAction
from network.models import AuditEvent, MobileNumber, OutboxMessage, PhoneMessage, phone_index
from network.phone import normalize_number, phone_messages_purge
from network.standards import policy_update
from network.tasks import phone_messages_purge_task
from tests.phone_provider import FakeProvider, signed_post
from tests.support import WORLD_MEMBER, log_encounter, open_activation, refused
from tests.test_production_shape import PRODUCTION_ENV, run_manage

NUMBERS = {"peer": "+12025550142", "coordinator": "+12025550143", "other": "+12025550144"}


@pytest.fixture
def provider(settings):
    fake = FakeProvider().start()
    for name, value in fake.settings().items():
        setattr(settings, name, value)
    yield fake
    fake.stop()


def confirmed_number(user, number: str, provider: FakeProvider) -> MobileNumber:
    """Register and confirm through the real path: the code is read from the text the provider received."""
    network_services.mobile_number_set(actor=user, number=number)
    mobile = MobileNumber.objects.get(user=user)
    network_services.mobile_confirmation_send(mobile_id=mobile.pk)
    code = re.search(r"\b(\d{6})\b", provider.texts(mobile.number)[-1].form["Body"]).group(1)
    return network_services.mobile_number_confirm(actor=user, code=code)


def b_activation(world, **overrides):
    """An activation led by agency B (B's supporters have no other open callout in the world)."""
    arguments = dict(actor=world.b[Role.COORDINATOR], lead_agency=world.agency_b, name="Tanker rollover I-80")
    arguments.update(overrides)
    return open_activation(world, **arguments)


def call_out_b(world, provider, **overrides):
    peer, coordinator = world.b[Role.PEER_SUPPORTER], world.b[Role.COORDINATOR]
    confirmed_number(peer, NUMBERS["peer"], provider)
    confirmed_number(coordinator, NUMBERS["coordinator"], provider)
    activation = b_activation(world, **overrides)
    services.callout_send(actor=coordinator, activation=activation)
    return activation, CalloutResponse.objects.get(activation=activation, supporter=peer)


def queued(task: str, response) -> list[OutboxMessage]:
    return list(OutboxMessage.objects.filter(task=f"activations.tasks.{task}", args__0=response.pk).order_by("pk"))


def sms(client, frm: str, body: str, sid: str):
    return signed_post(
        client, reverse("phone_sms"), {"From": frm, "To": "+12025550100", "Body": body, "MessageSid": sid}
    )


# --- Numbers -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, e164",
    [("(202) 555-0142", "+12025550142"), ("+1 202 555 0142", "+12025550142"), ("202.555.0142", "+12025550142")],
)
def test_a_mobile_number_is_normalised_to_e164(raw, e164):
    assert normalize_number(raw) == e164


@pytest.mark.parametrize(
    "raw", ["", "12", "555-0142", "not a number", "+44 7700 900123", "9" * 40, "+1 202 555 0142\n1"]
)
def test_a_malformed_number_is_refused_with_its_code(raw):
    with refused("invalid_number"):
        normalize_number(raw)


@pytest.mark.django_db
def test_the_number_is_encrypted_at_rest_and_found_by_its_keyed_hash_alone(world, provider):
    user = world.b[Role.PEER_SUPPORTER]
    mobile = confirmed_number(user, "(202) 555-0142", provider)
    with connection.cursor() as cursor:
        cursor.execute("SELECT number, number_index FROM network_mobilenumber WHERE id = %s", [mobile.pk])
        stored, index = cursor.fetchone()
    assert "5550142" not in stored and "2025550142" not in stored and stored.startswith("m1.")
    assert index == phone_index("+12025550142") and "5550142" not in index
    assert MobileNumber.objects.get(pk=mobile.pk).number == "+12025550142"


@pytest.mark.django_db
def test_the_confirmation_code_is_texted_and_only_the_right_code_confirms(world, provider):
    user = world.b[Role.PEER_SUPPORTER]
    network_services.mobile_number_set(actor=user, number="202 555 0142")
    mobile = MobileNumber.objects.get(user=user)
    assert OutboxMessage.objects.filter(task="network.tasks.mobile_confirmation_text_task", args=[mobile.pk]).exists()
    network_services.mobile_confirmation_send(mobile_id=mobile.pk)
    (text,) = provider.texts("+12025550142")
    code = re.search(r"\b(\d{6})\b", text.form["Body"]).group(1)
    assert text.authorized and text.form["From"] == "+12025550100"
    assert code not in MobileNumber.objects.get(pk=mobile.pk).code_digest
    # The outbox delivers at least once: a second delivery of the task sends no second, different code.
    assert network_services.mobile_confirmation_send(mobile_id=mobile.pk) is False
    assert len(provider.texts("+12025550142")) == 1
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    with refused("bad_code"):
        network_services.mobile_number_confirm(actor=user, code=wrong)
    assert network_services.mobile_number_confirm(actor=user, code=code).confirmed
    assert AuditEvent.objects.filter(action=AuditAction.PHONE_NUMBER_CONFIRMED, actor=user).exists()


@pytest.mark.django_db
def test_someone_elses_number_cannot_be_registered(world, provider):
    confirmed_number(world.b[Role.PEER_SUPPORTER], NUMBERS["peer"], provider)
    with refused("number_taken"):
        network_services.mobile_number_set(actor=world.b[Role.CHIEF], number=NUMBERS["peer"])


@pytest.mark.django_db
def test_the_mobile_page_registers_confirms_and_saves_preferences_for_the_signed_in_person_only(
    client, world, provider
):
    user = world.b[Role.PEER_SUPPORTER]
    client.force_login(user)
    page = reverse("account_mobile")
    assert client.post(page, {"action": "number", "number": "garbage"}).status_code == 200
    assert not MobileNumber.objects.filter(user=user).exists()
    client.post(page, {"action": "number", "number": "(202) 555-0142"})
    mobile = MobileNumber.objects.get(user=user)
    network_services.mobile_confirmation_send(mobile_id=mobile.pk)
    code = re.search(r"\b(\d{6})\b", provider.texts()[-1].form["Body"]).group(1)
    client.post(page, {"action": "confirm", "code": code})
    client.post(
        page,
        {"action": "preferences", "accepts_text": "on", "quiet_from": "22:00", "quiet_until": "06:00"},
    )
    mobile.refresh_from_db()
    assert mobile.confirmed and mobile.accepts_text and not mobile.accepts_voice
    assert (mobile.quiet_from, mobile.quiet_until) == (datetime.time(22), datetime.time(6))
    assert "0142" in client.get(page).content.decode()


# --- The callout text ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_callout_texts_confirmed_supporters_with_the_neutral_message_only(world, provider, settings):
    activation, response = call_out_b(world, provider, name="Tanker rollover I-80", location="Exit 12 Riverton")
    (message,) = queued("callout_text_task", response)
    assert message.args == [response.pk, 1]  # ids only
    assert services.callout_text_step(response_id=response.pk, ladder_round=1) == "texted"
    code, text = provider.texts(NUMBERS["peer"])  # the confirmation code, then the callout
    link = f"/activations/{activation.uuid}/mine/"
    assert text.form["Body"] == (
        f"Muster callout, {world.agency_b.name} peer team. "
        f"Reply 1 available, 2 not available, 3 involved/witness. {settings.MUSTER_BASE_URL}{link}"
    )
    body = text.form["Body"]
    assert body.startswith(f"Muster callout, {world.agency_b.name} peer team. Reply 1 available, 2 not available")
    assert body.endswith(link)
    for detail in (
        "Tanker",
        "Riverton",
        "Exit 12",
        "Mass casualty",
        activation.name,
        world.b[Role.PEER_SUPPORTER].get_full_name(),
        WORLD_MEMBER,
    ):
        assert detail not in body
    response.refresh_from_db()
    assert response.channel_state == "sent" and response.texted_round == 1
    assert Activation.objects.get(pk=activation.pk).texts_sent == 1
    # A second delivery of the same task sends nothing more.
    assert services.callout_text_step(response_id=response.pk, ladder_round=1) == "skipped"
    assert len(provider.texts(NUMBERS["peer"])) == 2


@pytest.mark.django_db
def test_a_supporter_without_a_confirmed_number_gets_no_text(world, provider):
    peer = world.b[Role.PEER_SUPPORTER]
    network_services.mobile_number_set(actor=peer, number=NUMBERS["peer"])  # never confirmed
    activation = b_activation(world)
    services.callout_send(actor=world.b[Role.COORDINATOR], activation=activation)
    response = CalloutResponse.objects.get(activation=activation, supporter=peer)
    assert response.channel_state == "none" and not queued("callout_text_task", response)


@pytest.mark.django_db
def test_quiet_hours_hold_a_text_back_unless_the_incident_is_major(world, provider):
    peer = world.b[Role.PEER_SUPPORTER]
    mobile = confirmed_number(peer, NUMBERS["peer"], provider)
    now = timezone.localtime().time()
    start = (datetime.datetime.combine(datetime.date.today(), now) - datetime.timedelta(hours=1)).time()
    end = (datetime.datetime.combine(datetime.date.today(), now) + datetime.timedelta(hours=1)).time()
    network_services.mobile_preferences_set(
        actor=peer, accepts_text=True, accepts_voice=False, reminders_by_text=False, quiet_from=start, quiet_until=end
    )
    assert MobileNumber.objects.get(pk=mobile.pk).quiet_at(timezone.now())
    for incident_type, texted in (("other", False), ("lodd", True)):
        activation = b_activation(world, incident_type=incident_type)
        services.callout_send(actor=world.b[Role.COORDINATOR], activation=activation)
        response = CalloutResponse.objects.get(activation=activation, supporter=peer)
        services.callout_text_step(response_id=response.pk, ladder_round=1)
        assert bool(response.__class__.objects.get(pk=response.pk).texted_round) is texted, incident_type


@pytest.mark.django_db
def test_the_network_caps_texts_per_activation(world, provider):
    policy_update(actor=world.state_admin, network=world.agency_b.network, callout_max_texts=1)
    activation, response = call_out_b(world, provider)
    coordinator = CalloutResponse.objects.get(activation=activation, supporter=world.b[Role.COORDINATOR])
    assert services.callout_text_step(response_id=response.pk, ladder_round=1) == "texted"
    assert services.callout_text_step(response_id=coordinator.pk, ladder_round=1) == "no-text"
    assert len(provider.texts()) == 1 + 2  # two confirmation codes, one callout
    assert Activation.objects.get(pk=activation.pk).texts_sent == 1


# --- Webhooks ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["phone_sms", "phone_voice_gather", "phone_status"])
def test_an_unsigned_or_wrongly_signed_webhook_is_refused_with_403(client, world, provider, path):
    params = {"From": NUMBERS["peer"], "Body": "1", "MessageSid": "SM1", "CallSid": "CA1", "Digits": "1"}
    assert client.post(reverse(path), params).status_code == 403
    assert signed_post(client, reverse(path), params, token="not-the-token").status_code == 403
    assert client.post(reverse(path), params, HTTP_X_TWILIO_SIGNATURE="garbage").status_code == 403


@pytest.mark.django_db
def test_a_text_reply_lands_on_the_callout_roster_once_however_often_it_is_delivered(client, world, provider):
    activation, response = call_out_b(world, provider)
    services.callout_text_step(response_id=response.pk, ladder_round=1)
    answer = sms(client, NUMBERS["peer"], " Yes ", "SMreply1")
    assert answer.status_code == 200 and "recorded, available" in answer.content.decode()
    assert sms(client, NUMBERS["peer"], " Yes ", "SMreply1").content.decode().count("<Message>") == 0  # replayed
    response.refresh_from_db()
    assert (response.answer, response.involved, response.answered_via, response.channel_state) == (
        "available",
        False,
        "text",
        "replied",
    )
    answered = ActivationEvent.objects.filter(activation=activation, kind=ActivationEvent.Kind.CALLOUT_ANSWERED)
    assert answered.count() == 1
    # The ladder's next step, already queued, now does nothing.
    assert services.callout_call_step(response_id=response.pk, ladder_round=1) == "skipped"
    assert not provider.calls()
    client.force_login(world.b[Role.COORDINATOR])
    live = client.get(f"/activations/{activation.uuid}/board/live/").content.decode()
    assert 'data-channel-state="replied" data-answer="available"' in live and "by text" in live


@pytest.mark.django_db
def test_reply_3_means_involved_and_blocks_assignment_as_the_web_answer_does(client, world, provider):
    activation, response = call_out_b(world, provider)
    (target,) = services.targets_add(
        actor=world.b[Role.COORDINATOR],
        activation=activation,
        home_agency=world.agency_b,
        entries=[("Pat Doe", "")],
        exposure="direct",
    )
    services.target_assign(
        actor=world.b[Role.COORDINATOR],
        target=target,
        supporter=world.b[Role.PEER_SUPPORTER],
        expected_supporter_id=None,
    )
    assert "involved or witness" in sms(client, NUMBERS["peer"], "3", "SMthree").content.decode()
    response.refresh_from_db()
    assert response.involved
    assert OutreachTarget.objects.get(pk=target.pk).assigned_supporter is None  # returned to the board
    with pytest.raises(Exception, match="witness|party|involved"):
        services.target_assign(
            actor=world.b[Role.COORDINATOR],
            target=OutreachTarget.objects.get(pk=target.pk),
            supporter=world.b[Role.PEER_SUPPORTER],
            expected_supporter_id=None,
        )


@pytest.mark.django_db
@pytest.mark.parametrize("body", ["maybe", "", "1 2 3", "☃", "x" * 500, "<Response>"])
def test_a_reply_that_is_not_an_answer_gets_the_short_help_and_changes_nothing(client, world, provider, body):
    _activation, response = call_out_b(world, provider)
    answer = sms(client, NUMBERS["peer"], body, f"SMgarbage{len(body)}")
    assert (
        answer.status_code == 200
        and "reply 1 available, 2 not available, 3 involved/witness" in answer.content.decode()
    )
    response.refresh_from_db()
    assert response.answer == "pending"
    received = PhoneMessage.objects.get(provider_sid=f"SMgarbage{len(body)}")
    assert received.body in ("", None)  # what is not a code is answered, not kept


@pytest.mark.django_db
def test_a_text_from_an_unknown_number_gets_an_empty_answer_and_is_kept_without_its_body(client, world, provider):
    call_out_b(world, provider)
    answer = sms(client, "+12025550199", "1", "SMstranger")
    assert answer.status_code == 200
    assert answer.content.decode().strip() == '<?xml version="1.0" encoding="UTF-8"?><Response />'
    received = PhoneMessage.objects.get(provider_sid="SMstranger")
    assert received.user is None and received.body in ("", None)


@pytest.mark.django_db
def test_a_person_with_two_open_callouts_is_asked_which_and_the_letter_chooses(client, world, provider):
    first, response = call_out_b(world, provider)
    second = b_activation(world, name="Second incident")
    services.callout_send(actor=world.b[Role.COORDINATOR], activation=second)
    question = sms(client, NUMBERS["peer"], "1", "SMtwo1").content.decode()
    assert "2 open callouts" in question and "1A" in question
    assert CalloutResponse.objects.get(pk=response.pk).answer == "pending"
    sms(client, NUMBERS["peer"], "2b", "SMtwo2")
    assert (
        CalloutResponse.objects.get(activation=second, supporter=world.b[Role.PEER_SUPPORTER]).answer == "unavailable"
    )
    assert CalloutResponse.objects.get(pk=response.pk).answer == "pending"


@pytest.mark.django_db
def test_a_reply_after_the_callout_closed_records_nothing_and_says_so(client, world, provider):
    activation, response = call_out_b(world, provider)
    services.activation_close(actor=world.b[Role.COORDINATOR], activation=activation)
    assert "no open callout" in sms(client, NUMBERS["peer"], "1", "SMlate").content.decode()
    assert CalloutResponse.objects.get(pk=response.pk).answer == "pending"


@pytest.mark.django_db
def test_stop_stops_every_text_until_start_and_help_answers(client, world, provider):
    _activation, response = call_out_b(world, provider)
    assert "no more texts" in sms(client, NUMBERS["peer"], "STOP", "SMstop").content.decode()
    mobile = MobileNumber.objects.get(number_index=phone_index(NUMBERS["peer"]))
    assert mobile.stopped_at is not None
    assert AuditEvent.objects.filter(action=AuditAction.PHONE_STOPPED, object_id=str(mobile.pk)).exists()
    assert services.callout_text_step(response_id=response.pk, ladder_round=1) == "no-text"
    assert not provider.texts(NUMBERS["peer"])[1:]  # only the confirmation code ever went
    assert "1 available" in sms(client, NUMBERS["peer"], "help", "SMhelp").content.decode()
    assert "on again" in sms(client, NUMBERS["peer"], "start", "SMstart").content.decode()
    assert MobileNumber.objects.get(pk=mobile.pk).stopped_at is None
    assert AuditEvent.objects.filter(action=AuditAction.PHONE_STARTED, object_id=str(mobile.pk)).exists()


# --- Delivery status and the ladder --------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_undelivered_text_moves_to_the_call_at_once_and_a_repeat_callback_changes_nothing(client, world, provider):
    _activation, response = call_out_b(world, provider)
    services.callout_text_step(response_id=response.pk, ladder_round=1)
    sid = provider.texts(NUMBERS["peer"])[-1].sid
    status = reverse("phone_status")
    assert signed_post(client, status, {"MessageSid": sid, "MessageStatus": "undelivered"}).status_code == 204
    signed_post(client, status, {"MessageSid": sid, "MessageStatus": "undelivered"})
    response.refresh_from_db()
    assert response.channel_state == "failed"
    calls = queued("callout_call_task", response)
    # The call the text step scheduled for later, and the one the failure queued at once (once, not twice).
    assert len(calls) == 2 and calls[0].eta > timezone.now() and calls[1].eta is None
    signed_post(client, status, {"MessageSid": sid, "MessageStatus": "sent"})  # late and out of order
    assert PhoneMessage.objects.get(provider_sid=sid).status == "failed"


@pytest.mark.django_db
def test_a_refused_number_is_recorded_as_failed_and_goes_straight_to_the_call(world, provider):
    provider.refuse.add(NUMBERS["peer"])
    peer = world.b[Role.PEER_SUPPORTER]
    network_services.mobile_number_set(actor=peer, number=NUMBERS["peer"])
    mobile = MobileNumber.objects.get(user=peer)
    MobileNumber.objects.filter(pk=mobile.pk).update(confirmed_at=timezone.now())  # the code could not be texted
    activation = b_activation(world)
    services.callout_send(actor=world.b[Role.COORDINATOR], activation=activation)
    response = CalloutResponse.objects.get(activation=activation, supporter=peer)
    assert services.callout_text_step(response_id=response.pk, ladder_round=1) == "failed"
    assert PhoneMessage.objects.filter(purpose="callout", ref_id=response.pk, status="failed").exists()
    assert [m.eta for m in queued("callout_call_task", response)] == [None]


@pytest.mark.django_db
def test_the_call_reads_the_same_neutral_message_and_the_keypad_answer_lands_once(client, world, provider):
    activation, response = call_out_b(world, provider)
    services.callout_text_step(response_id=response.pk, ladder_round=1)
    assert services.callout_call_step(response_id=response.pk, ladder_round=1) == "called"
    (call,) = provider.calls(NUMBERS["peer"])
    twiml = call.form["Twiml"]
    assert f"Muster callout, {world.agency_b.name} peer team." in twiml and "<Gather" in twiml
    assert reverse("phone_voice_gather") in twiml and activation.name not in twiml
    assert call.form["StatusCallback"].endswith(reverse("phone_status"))
    escalate = queued("callout_escalate_task", response)
    assert len(escalate) == 1 and escalate[0].eta > timezone.now()
    gather = reverse("phone_voice_gather")
    wrong = signed_post(client, gather, {"CallSid": call.sid, "Digits": "9"}).content.decode()
    assert "<Gather" in wrong
    said = signed_post(client, gather, {"CallSid": call.sid, "Digits": "3"}).content.decode()
    assert "involved or witness" in said and "<Hangup" in said
    signed_post(client, gather, {"CallSid": call.sid, "Digits": "1"})  # a repeat cannot change it
    response.refresh_from_db()
    assert (response.answer, response.involved, response.answered_via) == ("unavailable", True, "voice")
    assert services.callout_escalate_step(response_id=response.pk, ladder_round=1) == "skipped"


@pytest.mark.django_db
def test_nobody_answers_so_the_coordinators_are_told_on_the_board_and_by_one_text(client, world, provider):
    activation, response = call_out_b(world, provider)
    coordinator = world.b[Role.COORDINATOR]
    services.callout_text_step(response_id=response.pk, ladder_round=1)
    services.callout_call_step(response_id=response.pk, ladder_round=1)
    call_sid = provider.calls(NUMBERS["peer"])[-1].sid
    signed_post(client, reverse("phone_status"), {"CallSid": call_sid, "CallStatus": "no-answer"})
    assert CalloutResponse.objects.get(pk=response.pk).channel_state == "no_answer"
    assert [m.eta for m in queued("callout_escalate_task", response)][-1] is None  # at once
    assert services.callout_escalate_step(response_id=response.pk, ladder_round=1) == "escalated"
    tell = OutboxMessage.objects.filter(task="activations.tasks.callout_coordinator_text_task", args__0=activation.pk)
    assert coordinator.pk in [m.args[1] for m in tell]
    assert services.callout_coordinator_text_send(activation_id=activation.pk, user_id=coordinator.pk) == "texted"
    assert services.callout_coordinator_text_send(activation_id=activation.pk, user_id=coordinator.pk) == "skipped"
    (told,) = provider.texts(NUMBERS["coordinator"])[1:]
    assert (
        "1 person has not answered" in told.form["Body"]
        and f"/activations/{activation.uuid}/board/" in told.form["Body"]
    )
    assert world.b[Role.PEER_SUPPORTER].get_full_name() not in told.form["Body"]
    client.force_login(coordinator)
    live = client.get(f"/activations/{activation.uuid}/board/live/").content.decode()
    assert 'data-channel-state="escalated"' in live and "1 escalated to coordinators" in live
    assert "Texts sent: 2" in live and "Voice calls placed: 1" in live  # the callout and the coordinator's


@pytest.mark.django_db
def test_the_coordinator_re_sends_to_those_who_have_not_answered_and_the_old_round_stops(client, world, provider):
    activation, response = call_out_b(world, provider)
    services.callout_text_step(response_id=response.pk, ladder_round=1)
    client.force_login(world.b[Role.COORDINATOR])
    client.post(reverse("activation_action", kwargs={"activation_uuid": activation.uuid, "action": "resend"}))
    response.refresh_from_db()
    assert response.ladder_round == 2 and response.channel_state == "queued"
    assert services.callout_call_step(response_id=response.pk, ladder_round=1) == "skipped"
    assert services.callout_text_step(response_id=response.pk, ladder_round=2) == "texted"
    assert len(provider.texts(NUMBERS["peer"])) == 3  # the code, the callout, the re-send
    assert ActivationEvent.objects.filter(activation=activation, kind=ActivationEvent.Kind.CALLOUT_RESENT).exists()


# --- Links and pages -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_opening_the_link_in_a_text_never_records_an_answer(client, world, provider):
    activation, response = call_out_b(world, provider)
    link = f"/activations/{activation.uuid}/mine/"
    assert client.get(link).status_code == 302  # a scanner, not signed in: the sign-in page
    client.force_login(world.b[Role.PEER_SUPPORTER])
    assert client.get(link).status_code == 200 and client.head(link).status_code == 200
    assert CalloutResponse.objects.get(pk=response.pk).answer == "pending"
    client.post(link, {"answer": "available"})
    assert CalloutResponse.objects.get(pk=response.pk).answer == "available"


@pytest.mark.django_db
def test_the_development_phone_does_not_exist_outside_development(client, world, settings):
    client.force_login(world.b[Role.PEER_SUPPORTER])
    assert client.get("/dev/phone/").status_code == 404  # not even routed under test settings
    request = RequestFactory().get("/dev/phone/")
    request.user = world.b[Role.PEER_SUPPORTER]
    for env in ("test", "production"):
        settings.MUSTER_ENV = env
        with pytest.raises(Http404):
            dev_phone(request)
    settings.MUSTER_ENV = "development"
    assert dev_phone(request).status_code == 200


@pytest.mark.django_db
def test_follow_up_reminders_go_by_text_too_for_those_who_chose_it(world, provider, settings):
    peer = world.a[Role.PEER_SUPPORTER]
    confirmed_number(peer, NUMBERS["other"], provider)
    network_services.mobile_preferences_set(
        actor=peer, accepts_text=True, accepts_voice=True, reminders_by_text=True, quiet_from=None, quiet_until=None
    )
    log_encounter(world.agency_a, author=peer, follow_up_due_on=timezone.localdate() + datetime.timedelta(days=1))
    follow_up_reminders_send(agency=world.agency_a)
    reminders = OutboxMessage.objects.filter(task="network.tasks.reminder_text_task")
    assert [peer.pk] in [m.args for m in reminders]
    assert all(m.args == [peer.pk] for m in reminders)  # nobody who did not choose it
    assert network_services.reminder_text_send(user_id=peer.pk)
    text = provider.texts(NUMBERS["other"])[-1].form["Body"]
    assert text == f"Muster: a follow-up you own is due soon. Details after sign-in: {settings.MUSTER_BASE_URL}/"


@pytest.mark.django_db
def test_texts_and_calls_past_their_retention_are_purged_and_what_they_did_stays(world, provider, settings):
    peer = world.a[Role.PEER_SUPPORTER]
    confirmed_number(peer, NUMBERS["peer"], provider)  # the confirmation code went by text: one message
    now = timezone.now()
    settings.MUSTER_PHONE_MESSAGES_KEEP_DAYS = 30
    old = list(PhoneMessage.objects.filter(user=peer).values_list("pk", flat=True))
    assert old
    PhoneMessage.objects.filter(pk__in=old).update(created_at=now - datetime.timedelta(days=31))
    kept = PhoneMessage.objects.create(
        channel=PhoneMessage.Channel.TEXT,
        direction=PhoneMessage.Direction.IN,
        user=peer,
        purpose="reply",
        body="3",
        created_at=now - datetime.timedelta(days=29),
    )
    purged_before = AuditEvent.objects.filter(action=AuditAction.PHONE_MESSAGES_PURGED).count()
    assert phone_messages_purge(now=now) == len(old)
    assert list(PhoneMessage.objects.filter(user=peer)) == [kept]
    assert MobileNumber.objects.get(user=peer).confirmed  # what the texts did stays
    event = AuditEvent.objects.filter(action=AuditAction.PHONE_MESSAGES_PURGED).latest("id")
    assert event.actor is None and event.object_id == f"{len(old)} up to {max(old)}"
    assert phone_messages_purge(now=now) == 0  # nothing left: no second event
    assert AuditEvent.objects.filter(action=AuditAction.PHONE_MESSAGES_PURGED).count() == purged_before + 1
    assert settings.CELERY_BEAT_SCHEDULE["phone-messages-purge"]["task"] == phone_messages_purge_task.name


def quiet_around_now(person):
    """Quiet hours from an hour ago to an hour from now (across midnight when now is near it); their end."""
    now = timezone.localtime()
    start, end = ((now + datetime.timedelta(hours=h)).time().replace(second=0, microsecond=0) for h in (-1, 1))
    network_services.mobile_preferences_set(
        actor=person, accepts_text=True, accepts_voice=True, reminders_by_text=True, quiet_from=start, quiet_until=end
    )
    return end


@pytest.mark.django_db
def test_a_reminder_due_in_quiet_hours_is_texted_when_they_end_not_dropped(world, provider, settings, monkeypatch):
    peer = world.a[Role.PEER_SUPPORTER]
    confirmed_number(peer, NUMBERS["other"], provider)
    end = quiet_around_now(peer)
    log_encounter(world.agency_a, author=peer, follow_up_due_on=timezone.localdate() + datetime.timedelta(days=1))
    follow_up_reminders_send(agency=world.agency_a)
    reminders = list(OutboxMessage.objects.filter(task="network.tasks.reminder_text_task", args=[peer.pk]))
    assert reminders and len({m.eta for m in reminders}) == 1  # one per follow-up due; all wait alike
    queued, mobile = reminders[0], MobileNumber.objects.get(user=peer)
    assert queued.eta > timezone.now() and timezone.localtime(queued.eta).time() == end
    assert mobile.quiet_at(queued.eta - datetime.timedelta(minutes=1)) and not mobile.quiet_at(queued.eta)
    assert not network_services.reminder_text_send(user_id=peer.pk), "nothing while it is quiet"
    monkeypatch.setattr(timezone, "now", lambda: queued.eta)  # the worker runs it at its eta
    assert network_services.reminder_text_send(user_id=peer.pk)
    assert provider.texts(NUMBERS["other"])[-1].form["Body"].startswith("Muster: a follow-up you own is due soon.")


@pytest.mark.parametrize(
    ("quiet", "at", "ends"),
    [
        (("22:00", "07:00"), "23:30", "tomorrow 07:00"),
        (("22:00", "07:00"), "06:15", "today 07:00"),
        (("22:00", "07:00"), "07:00", None),
        (("13:00", "15:30"), "14:00", "today 15:30"),
        (("13:00", "15:30"), "12:59", None),
    ],
)
def test_quiet_hours_end_at_their_next_until_time(quiet, at, ends):
    def clock(text: str) -> datetime.time:
        return datetime.time.fromisoformat(text)

    mobile = MobileNumber(quiet_from=clock(quiet[0]), quiet_until=clock(quiet[1]))
    today = timezone.localdate()
    moment = timezone.make_aware(datetime.datetime.combine(today, clock(at)))
    expected = None
    if ends is not None:
        day, time = ends.split()
        on = today + datetime.timedelta(days=1 if day == "tomorrow" else 0)
        expected = timezone.make_aware(datetime.datetime.combine(on, clock(time)))
    assert mobile.quiet_ends(moment) == expected


@pytest.mark.parametrize("missing", ["MUSTER_SMS_ACCOUNT_SID", "MUSTER_SMS_AUTH_TOKEN", "MUSTER_SMS_FROM"])
def test_production_refuses_half_a_provider_and_a_test_only_minute(missing):
    provider = {
        "MUSTER_SMS_ACCOUNT_SID": "AC" + "1" * 32,
        "MUSTER_SMS_AUTH_TOKEN": "x" * 32,
        "MUSTER_SMS_FROM": "+12025550100",
    }
    whole = run_manage("check", env_overrides={**PRODUCTION_ENV, **provider})
    assert whole.returncode == 0, whole.stderr
    half = run_manage("check", env_overrides={**PRODUCTION_ENV, **provider, missing: None})
    assert half.returncode != 0 and "go together" in half.stderr
    minute = run_manage("check", env_overrides={**PRODUCTION_ENV, "MUSTER_CALLOUT_MINUTE_SECONDS": "1"})
    assert minute.returncode != 0 and "tests only" in minute.stderr


HOSTILE = ["", "\x00", "☃" * 3, "9" * 5000, "-1", "25:99", "<script>", "1' OR '1'='1"]


@pytest.mark.django_db
@pytest.mark.parametrize("value", HOSTILE)
def test_the_mobile_page_answers_hostile_input_without_a_server_error(client, world, provider, value):
    user = world.b[Role.PEER_SUPPORTER]
    confirmed_number(user, NUMBERS["peer"], provider)
    client.force_login(user)
    page = reverse("account_mobile")
    for data in (
        {"action": "number", "number": value},
        {"action": "confirm", "code": value},
        {"action": "preferences", "accepts_text": value, "quiet_from": value, "quiet_until": ""},
        {"action": "preferences", "quiet_from": "22:00", "quiet_until": value},
        {"action": value},
        {"action": "resend"},
    ):
        assert client.post(page, data).status_code in (200, 302), data
    assert MobileNumber.objects.get(user=user).number == NUMBERS["peer"]


@pytest.mark.django_db
@pytest.mark.parametrize("value", HOSTILE)
def test_signed_webhooks_answer_hostile_fields_without_a_server_error(client, world, provider, value):
    call_out_b(world, provider)
    for path, params in (
        ("phone_sms", {"From": value, "Body": value, "MessageSid": value}),
        ("phone_sms", {"From": NUMBERS["peer"], "Body": value, "MessageSid": f"SM{len(value)}x"}),
        ("phone_voice_gather", {"CallSid": value, "Digits": value}),
        ("phone_status", {"MessageSid": value, "MessageStatus": value}),
        ("phone_status", {"CallSid": value, "CallStatus": "failed"}),
    ):
        assert signed_post(client, reverse(path), params).status_code in (200, 204), (path, params)
