"""Texts and voice calls: the provider (Twilio, through its official SDK), numbers, webhook signatures.

One provider is configured from the environment (MUSTER_SMS_*; config/settings.py refuses half of it).
Outside production with none configured, texts and calls print in the terminal like e-mails and are
only recorded (the development page /dev/phone/ lists them). Every text or call, out or in, is a
`PhoneMessage` row. Bodies say no names and no incident detail: the callers build them (docs/callout.md).
Sending is called from Celery tasks only, never from a request (network.outbox queues the tasks).
"""

from __future__ import annotations

import datetime
import logging
import sys
import uuid
from dataclasses import dataclass

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import VoiceResponse

from network.audit import AuditAction, audit_record
from network.models import MobileNumber, PhoneMessage, PhoneOptOut, phone_index

logger = logging.getLogger(__name__)
# The SDK logs every request at INFO (URLs, headers); a request that failed is what the logs need.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)

TWILIO_API = "https://api.twilio.com"
DEFAULT_REGION = "US"


# --- Numbers -------------------------------------------------------------------------------------------


def normalize_number(raw: str, *, region: str = DEFAULT_REGION) -> str:
    """`raw` as E.164 (+12025550123), or ValidationError(code="invalid_number")."""
    message = "Enter a valid mobile number, e.g. (202) 555-0123 or +1 202 555 0123."
    text = (raw or "").strip()
    if not text or len(text) > 32:
        raise ValidationError(message, code="invalid_number")
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise ValidationError(message, code="invalid_number") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(message, code="invalid_number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def mobile_for_number(raw: str) -> MobileNumber | None:
    """The registered number an inbound text or call came from, found by its keyed hash (nothing is
    decrypted), or None for a number Muster does not know."""
    try:
        e164 = normalize_number(raw)
    except ValidationError:
        return None
    return MobileNumber.objects.select_related("user").filter(number_index=phone_index(e164)).first()


# --- The provider --------------------------------------------------------------------------------------


def provider_configured() -> bool:
    return bool(settings.MUSTER_SMS_ACCOUNT_SID and settings.MUSTER_SMS_AUTH_TOKEN and settings.MUSTER_SMS_FROM)


def phone_enabled() -> bool:
    """Texts and calls can go: a provider is configured, or this is not production (the console)."""
    return provider_configured() or not settings.PRODUCTION


@dataclass(frozen=True)
class Sent:
    sid: str
    status: str  # the provider's word: queued, sent, failed, ...


class _OriginHttpClient(TwilioHttpClient):
    """The SDK's HTTP client, sending to MUSTER_SMS_API_URL instead of https://api.twilio.com."""

    def request(self, method, url, *args, **kwargs):
        if url.startswith(TWILIO_API):
            url = settings.MUSTER_SMS_API_URL + url[len(TWILIO_API) :]
        return super().request(method, url, *args, **kwargs)


class TwilioBackend:
    def __init__(self) -> None:
        http = _OriginHttpClient(timeout=settings.MUSTER_SMS_TIMEOUT_SECONDS, pool_connections=False)
        self.client = Client(settings.MUSTER_SMS_ACCOUNT_SID, settings.MUSTER_SMS_AUTH_TOKEN, http_client=http)

    def send_text(self, *, to: str, body: str, status_callback: str) -> Sent:
        message = self.client.messages.create(
            to=to, from_=settings.MUSTER_SMS_FROM, body=body, status_callback=status_callback
        )
        return Sent(message.sid, message.status or "queued")

    def place_call(self, *, to: str, twiml: str, status_callback: str) -> Sent:
        call = self.client.calls.create(
            to=to,
            from_=settings.MUSTER_SMS_FROM,
            twiml=twiml,
            status_callback=status_callback,
            status_callback_event=["completed"],
        )
        return Sent(call.sid, call.status or "queued")


class ConsoleBackend:
    """Development without a provider: print, as the console e-mail backend does."""

    def _print(self, kind: str, to: str, text: str) -> None:
        sys.stdout.write(f"---------- {kind} to {to} ----------\n{text}\n{'-' * 40}\n")
        sys.stdout.flush()

    def send_text(self, *, to: str, body: str, status_callback: str) -> Sent:
        self._print("text", to, body)
        return Sent(f"SMdev{uuid.uuid4().hex[:28]}", "sent")

    def place_call(self, *, to: str, twiml: str, status_callback: str) -> Sent:
        self._print("voice call", to, twiml)
        return Sent(f"CAdev{uuid.uuid4().hex[:28]}", "queued")


def backend() -> TwilioBackend | ConsoleBackend:
    if provider_configured():
        return TwilioBackend()
    if settings.PRODUCTION:
        raise RuntimeError("No text and voice provider is configured (MUSTER_SMS_*).")
    return ConsoleBackend()


def _callback_url() -> str:
    return settings.MUSTER_BASE_URL + reverse("phone_status")


def text_send(*, mobile: MobileNumber, body: str, purpose: str, ref_id: int | None = None) -> PhoneMessage:
    """Text `body` to `mobile` now and record it. A refusal by the provider (an invalid or blocked number)
    is recorded as failed and returned; a provider that cannot be reached raises (the task retries)."""
    return _text(to=mobile.number, user=mobile.user, body=body, purpose=purpose, ref_id=ref_id)


def text_send_to_number(*, number: str, body: str, purpose: str, ref_id: int | None = None) -> PhoneMessage:
    """Text `body` to a number that belongs to no Muster user (a member's check-ins: docs/members.md), recorded
    with no user. The number itself is kept nowhere here: the caller holds it encrypted. The caller also asks
    `number_opted_out` first."""
    return _text(to=number, user=None, body=body, purpose=purpose, ref_id=ref_id)


def number_opted_out(e164: str) -> bool:
    """The number's holder texted STOP: as a stranger (PhoneOptOut), or as a person whose MobileNumber it is."""
    index = phone_index(e164)
    return (
        PhoneOptOut.objects.filter(number_index=index).exists()
        or MobileNumber.objects.filter(number_index=index, stopped_at__isnull=False).exists()
    )


# The provider answered that it did not take the message: too many requests, or unavailable. It is recorded as
# failed like a refusal; a caller that can wait (a member's check-in) keeps the message due instead
# (`failed_for_now`), while the callout ladder moves to its next rung at once, as for any failure. A 500, 502 or
# 504 is not among them: the provider may have sent the text all the same, and trying again could send it twice.
_FOR_NOW = frozenset({429, 503})


def _failure(error: TwilioRestException) -> str:
    word = "busy" if error.status in _FOR_NOW else "error"
    return f"{word}-{error.code or error.status}"[:16]


def failed_for_now(message: PhoneMessage) -> bool:
    """The provider could not take `message` now (it may later); a refusal of the number itself is not this."""
    return message.status == PhoneMessage.Status.FAILED and message.provider_status.startswith("busy-")


def _text(*, to: str, user, body: str, purpose: str, ref_id: int | None) -> PhoneMessage:
    message = PhoneMessage(
        channel=PhoneMessage.Channel.TEXT,
        direction=PhoneMessage.Direction.OUT,
        user=user,
        purpose=purpose,
        ref_id=ref_id,
        body=body,
    )
    try:
        sent = backend().send_text(to=to, body=body, status_callback=_callback_url())
    except TwilioRestException as error:
        logger.warning("text %s refused by the provider (HTTP %s, code %s)", purpose, error.status, error.code)
        message.status, message.provider_status = PhoneMessage.Status.FAILED, _failure(error)
    else:
        message.provider_sid, message.provider_status = sent.sid, sent.status
        message.status = status_from_provider(sent.status) or PhoneMessage.Status.QUEUED
    message.save()
    return message


def call_place(*, mobile: MobileNumber, say: str, purpose: str, ref_id: int | None = None) -> PhoneMessage:
    """Call `mobile` now: read `say` and take one keypad digit (posted to the gather webhook)."""
    message = PhoneMessage(
        channel=PhoneMessage.Channel.VOICE,
        direction=PhoneMessage.Direction.OUT,
        user=mobile.user,
        purpose=purpose,
        ref_id=ref_id,
        body=say,
    )
    try:
        sent = backend().place_call(to=mobile.number, twiml=twiml_gather(say), status_callback=_callback_url())
    except TwilioRestException as error:
        logger.warning("call %s refused by the provider (HTTP %s, code %s)", purpose, error.status, error.code)
        message.status, message.provider_status = PhoneMessage.Status.FAILED, _failure(error)
    else:
        message.provider_sid, message.provider_status = sent.sid, sent.status
        message.status = status_from_provider(sent.status) or PhoneMessage.Status.QUEUED
    message.save()
    return message


# The provider's words, for texts (MessageStatus) and calls (CallStatus), mapped onto ours. A word not
# listed (ringing, in-progress, accepted, sending...) changes nothing.
_STATUS = {
    "queued": PhoneMessage.Status.QUEUED,
    "sent": PhoneMessage.Status.SENT,
    "delivered": PhoneMessage.Status.DELIVERED,
    "read": PhoneMessage.Status.DELIVERED,
    "failed": PhoneMessage.Status.FAILED,
    "undelivered": PhoneMessage.Status.FAILED,
    "canceled": PhoneMessage.Status.FAILED,
    "completed": PhoneMessage.Status.ANSWERED,
    "busy": PhoneMessage.Status.NO_ANSWER,
    "no-answer": PhoneMessage.Status.NO_ANSWER,
}
# A status never goes back: a late "sent" after "delivered" is ignored.
_RANK = {"queued": 0, "sent": 1, "delivered": 2, "answered": 2, "no_answer": 3, "failed": 3}


def status_from_provider(word: str) -> str | None:
    return _STATUS.get((word or "").strip().lower())


def status_record(*, sid: str, word: str) -> PhoneMessage | None:
    """Apply a delivery status callback. Returns the message when its status changed (so a callback
    delivered twice acts once), else None; an unknown sid is ignored."""
    status = status_from_provider(word)
    if not sid or status is None:
        return None
    message = PhoneMessage.objects.select_for_update().filter(provider_sid=sid[:64]).first()
    if message is None or message.direction != PhoneMessage.Direction.OUT:
        return None
    if message.status == status or _RANK.get(status, 0) < _RANK.get(message.status, 0):
        return None
    message.status, message.provider_status, message.updated_at = status, word[:16], timezone.now()
    message.save(update_fields=["status", "provider_status", "updated_at"])
    return message


def inbound_record(
    *, sid: str, channel: str, user=None, body: str = "", purpose: str = "reply", ref_id=None
) -> PhoneMessage | None:
    """Record an inbound text or keypad answer once: None when this sid was recorded before (a webhook
    delivered again, or replayed), so the caller does nothing twice."""
    if not sid:
        return None
    message, created = PhoneMessage.objects.get_or_create(
        provider_sid=sid[:64],
        defaults={
            "channel": channel,
            "direction": PhoneMessage.Direction.IN,
            "user": user,
            "purpose": purpose,
            "ref_id": ref_id,
            "body": body[:1600],
            "status": PhoneMessage.Status.RECEIVED,
        },
    )
    return message if created else None


# --- Webhooks ------------------------------------------------------------------------------------------


def webhook_signed(request) -> bool:
    """The request carries the provider's valid signature of this URL and these form fields (the SDK's
    validator, keyed with the auth token). No provider configured: no webhook is ever valid."""
    token = settings.MUSTER_SMS_AUTH_TOKEN
    signature = request.headers.get("X-Twilio-Signature", "")
    if not token or not signature:
        return False
    url = settings.MUSTER_BASE_URL + request.get_full_path()
    return RequestValidator(token).validate(url, request.POST, signature)


def twiml_message(text: str = "") -> str:
    """The TwiML answer to an inbound text: `text` as the reply, or nothing at all."""
    response = MessagingResponse()
    if text:
        response.message(text)
    return str(response)


def twiml_say(text: str) -> str:
    response = VoiceResponse()
    response.say(text)
    response.hangup()
    return str(response)


def twiml_gather(say: str) -> str:
    """Read `say`, take one keypad digit (posted to the gather webhook), and read it twice at most."""
    response = VoiceResponse()
    action = settings.MUSTER_BASE_URL + reverse("phone_voice_gather")
    for _ in range(2):
        gather = response.gather(num_digits=1, action=action, method="POST", timeout=8)
        gather.say(say)
    response.say("No answer was recorded. Goodbye.")
    return str(response)


def phone_messages_purge(*, now=None) -> int:
    """Delete the record of every text and call, out or in, older than MUSTER_PHONE_MESSAGES_KEEP_DAYS: its
    encrypted body, whom it went to or came from, and what it was for. What a text changed stays where it was
    recorded (a callout answer, a check-in, STOP in `PhoneOptOut` or on the number); a webhook about a purged
    message, long after any provider retries, finds nothing and changes nothing. One audit event per purge,
    naming no one. Returns how many were deleted."""
    cutoff = (now or timezone.now()) - datetime.timedelta(days=settings.MUSTER_PHONE_MESSAGES_KEEP_DAYS)
    with transaction.atomic():
        old = PhoneMessage.objects.filter(created_at__lt=cutoff)
        newest = old.order_by("-id").values_list("id", flat=True).first()
        if newest is None:
            return 0
        deleted, _ = PhoneMessage.objects.filter(created_at__lt=cutoff, id__lte=newest).delete()
        audit_record(
            action=AuditAction.PHONE_MESSAGES_PURGED,
            object_type="network.phonemessage",
            object_id=f"{deleted} up to {newest}",
        )
    logger.info("phone messages purge: %d deleted", deleted)
    return deleted
