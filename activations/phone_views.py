"""The provider's webhooks (inbound texts, keypad answers, delivery status) and, in development only,
/dev/phone/: the texts and calls Muster sent, and a way to answer them as the person they went to.

Webhooks are public URLs: each answers 403 unless the request carries the provider's signature of it
(network.phone.webhook_signed), and acts once per provider id however often it is delivered."""

import uuid

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from activations import services
from network import phone
from network.access import login_view, public_view
from network.models import MobileNumber, PhoneMessage

TWIML = "text/xml"


def _twiml(body: str) -> HttpResponse:
    return HttpResponse(body, content_type=TWIML)


def _field(request: HttpRequest, *names: str, limit: int = 64) -> str:
    """The first of the posted fields `names` that is present, without NUL bytes (PostgreSQL text cannot
    hold them) and cut to `limit` characters: the signature proves who sent it, not that it is tidy."""
    for name in names:
        value = request.POST.get(name)
        if value:
            return value.replace("\x00", "")[:limit]
    return ""


@public_view
@csrf_exempt
@require_POST
def phone_sms(request: HttpRequest) -> HttpResponse:
    if not phone.webhook_signed(request):
        return HttpResponseForbidden("Not signed.")
    reply = services.phone_inbound_text(
        sender=_field(request, "From"), body=_field(request, "Body", limit=1600), sid=_field(request, "MessageSid")
    )
    return _twiml(phone.twiml_message(reply))


@public_view
@csrf_exempt
@require_POST
def phone_voice_gather(request: HttpRequest) -> HttpResponse:
    if not phone.webhook_signed(request):
        return HttpResponseForbidden("Not signed.")
    say, done = services.phone_keypad(call_sid=_field(request, "CallSid"), digits=_field(request, "Digits"))
    return _twiml(phone.twiml_say(say) if done else phone.twiml_gather(say))


@public_view
@csrf_exempt
@require_POST
def phone_status(request: HttpRequest) -> HttpResponse:
    if not phone.webhook_signed(request):
        return HttpResponseForbidden("Not signed.")
    sid = _field(request, "MessageSid", "CallSid")
    word = _field(request, "MessageStatus", "SmsStatus", "CallStatus", limit=16)
    services.phone_status_received(sid=sid, word=word)
    return HttpResponse(status=204)


# --- Development only -------------------------------------------------------------------------------------


@login_view
def dev_phone(request: HttpRequest) -> HttpResponse:
    """Development only (MUSTER_ENV=development; 404 anywhere else): what was texted and called, with a
    reply box per person and the keypad for each call. Replies go through the same services as the
    provider's webhooks."""
    if settings.MUSTER_ENV != "development":
        raise Http404("Not found.")
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "reply":
            mobile = MobileNumber.objects.filter(user_id=_int(request.POST.get("user"))).first()
            if mobile is not None:
                reply = services.phone_inbound_text(
                    sender=mobile.number, body=_field(request, "body", limit=1600), sid=f"SMdevin{_token()}"
                )
                messages.info(request, f"Muster answered: {reply or '(nothing)'}")
        elif action == "keypad":
            say, _done = services.phone_keypad(call_sid=_field(request, "sid"), digits=_field(request, "digits"))
            messages.info(request, f"The call said: {say}")
        elif action == "status":
            services.phone_status_received(sid=_field(request, "sid"), word=_field(request, "word", limit=16))
        return redirect("dev_phone")
    sent = list(PhoneMessage.objects.select_related("user").order_by("-created_at", "-id")[:60])
    people = MobileNumber.objects.filter(confirmed_at__isnull=False).select_related("user").order_by("user__full_name")
    return render(request, "activations/dev_phone.html", {"sent": sent, "people": people})


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _token() -> str:
    return uuid.uuid4().hex[:26]
