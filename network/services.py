"""Writes to the network's structure: the network, users, regions, network roles."""

from __future__ import annotations

import datetime
import hmac
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from network import channels
from network.audit import AuditAction, audit_record
from network.channels import Channel
from network.models import MobileNumber, Network, NetworkRole, PhoneOptOut, Region, phone_index
from network.outbox import outbox_enqueue
from network.phone import normalize_number, phone_enabled, text_send
from network.ratelimit import rate_limit_allows
from network.sessions import lockout_username
from network.standards import policy_ensure, standard_ensure_default

User = get_user_model()


def network_get_or_create(*, name: str, slug: str) -> Network:
    """The network, created with its policy and version 1 of the documentation standard, so that reading
    either (`network.selectors.policy_for`, `standard_current`) never has to create it."""
    with transaction.atomic():
        network, _ = Network.objects.get_or_create(slug=slug, defaults={"name": name})
        policy_ensure(network=network)
        standard_ensure_default(network=network)
    return network


def region_get_or_create(*, network: Network, name: str, slug: str) -> Region:
    region, _ = Region.objects.get_or_create(network=network, slug=slug, defaults={"name": name})
    return region


def user_create(*, email: str, full_name: str = "", password: str | None = None):
    """A user account. People normally arrive through an invitation; this is for seeds and tests."""
    return User.objects.create_user(email=email, password=password, full_name=full_name)


def network_role_grant(*, actor, user, network: Network, role: str, region: Region | None = None) -> NetworkRole:
    with transaction.atomic():
        network_role, created = NetworkRole.objects.get_or_create(user=user, network=network, role=role, region=region)
        if created:
            audit_record(action=AuditAction.NETWORK_ROLE_GRANTED, actor=actor, obj=network_role)
    return network_role


def user_sessions_end(*, user) -> int:
    """Delete every session of `user`, on every device. Returns how many ended."""
    from django.contrib.sessions.models import Session

    ended = 0
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get("_auth_user_id")) == str(user.pk):
            session.delete()
            ended += 1
    return ended


def user_disable(*, actor, user, request=None) -> None:
    """Disable an account and end all its sessions at once."""
    with transaction.atomic():
        type(user).objects.filter(pk=user.pk).update(is_active=False)
        audit_record(action=AuditAction.ACCOUNT_DISABLED, actor=actor, obj=user, request=request)
    user_sessions_end(user=user)


def user_enable(*, actor, user, request=None) -> None:
    """Let a disabled account sign in again (after 90 days unused, or disabled by mistake)."""
    with transaction.atomic():
        type(user).objects.filter(pk=user.pk).update(is_active=True, last_login=timezone.now())
        audit_record(action=AuditAction.ACCOUNT_ENABLED, actor=actor, obj=user, request=request)


def users_inactive_disable(*, days: int, now=None) -> int:
    """Disable accounts nobody has signed in to for `days` days (never signed in: counted from joining)."""
    from django.db.models import Q

    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=days)
    stale = User.objects.filter(is_active=True).filter(
        Q(last_login__lt=cutoff) | Q(last_login__isnull=True, date_joined__lt=cutoff)
    )
    count = 0
    for user in stale:
        user_disable(actor=None, user=user)
        count += 1
    return count


def user_lockout_lift(*, user) -> int:
    """Lift every sign-in lockout on the account, from every source address (django-axes counts per
    account and address). Called when the person proves who they are: a completed password reset or
    a sign-in that passed MFA. Returns how many failure records were cleared."""
    from axes.utils import reset

    return reset(username=lockout_username(None, {"username": user.email}))


# --- Mobile numbers for callouts (network/phone.py, docs/callout.md) ----------------------------------

CONFIRMATION_CODE_MINUTES = 15
CONFIRMATION_ATTEMPTS = 5  # per person per 15 minutes: a six-digit code cannot be guessed in time


def _code_digest(mobile, code: str) -> str:
    return salted_hmac("muster.mobile-confirmation", f"{mobile.uuid}|{code}", algorithm="sha256").hexdigest()


def mobile_number_set(*, actor, number: str, request=None):
    """Register (or change) the actor's mobile number, unconfirmed, and queue the text with its code."""
    if not phone_enabled():
        raise ValidationError("Texts are not set up on this network.", code="phone_disabled")
    e164 = normalize_number(number)
    index = phone_index(e164)
    with transaction.atomic():
        if MobileNumber.objects.filter(number_index=index).exclude(user=actor).exists():
            raise ValidationError("This number cannot be used. Enter your own mobile number.", code="number_taken")
        mobile = MobileNumber.objects.select_for_update().filter(user=actor).first()
        if mobile is not None and mobile.number_index == index and mobile.confirmed:
            return mobile  # the same confirmed number again: nothing to do
        if mobile is None:
            mobile = MobileNumber(user=actor)
        mobile.number, mobile.number_index = e164, index
        mobile.confirmed_at, mobile.code_digest, mobile.code_sent_at = None, "", None
        mobile.save()
        audit_record(action=AuditAction.PHONE_NUMBER_SET, actor=actor, obj=mobile, request=request)
        outbox_enqueue(task="network.tasks.mobile_confirmation_text_task", args=[mobile.pk])
    return mobile


def mobile_confirmation_send(*, mobile_id: int) -> bool:
    """Make a fresh code, keep only its keyed hash, and text it. Run by the worker: the code never passes
    through a task argument or a log. False when there is nothing to confirm, or when a code was made for
    this request already (the outbox delivers at least once: a second delivery must not replace the code
    the person has just received)."""
    with transaction.atomic():
        mobile = MobileNumber.objects.select_for_update().select_related("user").filter(pk=mobile_id).first()
        if mobile is None or mobile.confirmed or mobile.code_digest:
            return False
        code = f"{secrets.randbelow(10**6):06d}"
        mobile.code_digest, mobile.code_sent_at = _code_digest(mobile, code), timezone.now()
        mobile.save(update_fields=["code_digest", "code_sent_at"])
    text_send(
        mobile=mobile,
        body=f"Muster: your confirmation code is {code}. It expires in {CONFIRMATION_CODE_MINUTES} minutes.",
        purpose="confirm",
        ref_id=mobile.pk,
    )
    return True


def mobile_number_confirm(*, actor, code: str, request=None):
    refused = ValidationError("That code is not right or has expired. Send a new one.", code="bad_code")
    if not rate_limit_allows(
        scope="mobile-confirm", key=str(actor.pk), limit=CONFIRMATION_ATTEMPTS, window_seconds=900
    ):
        raise ValidationError("Too many tries: wait 15 minutes, then send a new code.", code="rate_limited")
    with transaction.atomic():
        mobile = MobileNumber.objects.select_for_update().filter(user=actor).first()
        if mobile is None or mobile.confirmed:
            return mobile
        fresh = mobile.code_sent_at and timezone.now() - mobile.code_sent_at < datetime.timedelta(
            minutes=CONFIRMATION_CODE_MINUTES
        )
        if not fresh or not hmac.compare_digest(mobile.code_digest, _code_digest(mobile, (code or "").strip())):
            raise refused
        mobile.confirmed_at, mobile.code_digest = timezone.now(), ""
        mobile.save(update_fields=["confirmed_at", "code_digest"])
        audit_record(action=AuditAction.PHONE_NUMBER_CONFIRMED, actor=actor, obj=mobile, request=request)
    return mobile


def mobile_code_resend(*, actor, request=None) -> bool:
    mobile = MobileNumber.objects.filter(user=actor, confirmed_at__isnull=True).first()
    if mobile is None:
        return False
    if not rate_limit_allows(scope="mobile-code-send", key=str(actor.pk), limit=3, window_seconds=900):
        raise ValidationError("Three codes were sent in 15 minutes: wait, then try again.", code="rate_limited")
    with transaction.atomic():
        MobileNumber.objects.filter(pk=mobile.pk).update(code_digest="")  # the old code is void; a new one goes
        outbox_enqueue(task="network.tasks.mobile_confirmation_text_task", args=[mobile.pk])
    return True


def mobile_preferences_set(
    *,
    actor,
    accepts_text: bool,
    accepts_voice: bool,
    reminders_by_text: bool,
    quiet_from: datetime.time | None,
    quiet_until: datetime.time | None,
    request=None,
):

    if (quiet_from is None) != (quiet_until is None):
        raise ValidationError({"quiet_until": "Give both ends of the quiet hours, or neither."}, code="quiet_hours")
    with transaction.atomic():
        mobile = MobileNumber.objects.select_for_update().filter(user=actor).first()
        if mobile is None:
            raise ValidationError("Register a mobile number first.", code="no_number")
        mobile.accepts_text, mobile.accepts_voice, mobile.reminders_by_text = (
            accepts_text,
            accepts_voice,
            reminders_by_text,
        )
        mobile.quiet_from, mobile.quiet_until = quiet_from, quiet_until
        mobile.save(update_fields=["accepts_text", "accepts_voice", "reminders_by_text", "quiet_from", "quiet_until"])
        audit_record(action=AuditAction.PHONE_PREFERENCES_CHANGED, actor=actor, obj=mobile, request=request)
    return mobile


def mobile_number_remove(*, actor, request=None) -> bool:
    with transaction.atomic():
        mobile = MobileNumber.objects.filter(user=actor).first()
        if mobile is None:
            return False
        audit_record(action=AuditAction.PHONE_NUMBER_REMOVED, actor=actor, obj=mobile, request=request)
        mobile.delete()
    return True


# Carrier keywords (CTIA): these stop or start every text to the number, whatever else is open.
STOP_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"})
START_WORDS = frozenset({"start", "unstop", "yes"})
HELP_WORDS = frozenset({"help", "info"})
HELP_TEXT = (
    "Muster peer support callouts. Reply 1 available, 2 not available, 3 involved or witness. "
    "Reply STOP to stop texts, START to start again. Msg&data rates may apply."
)


def mobile_keyword(*, mobile, word: str) -> str | None:
    """Apply a carrier keyword from the number's holder; returns the reply to send, or None when `word`
    is not a keyword in this state (START/YES only mean START while stopped: "yes" answers callouts)."""
    word = word.strip().lower()
    if word in STOP_WORDS:
        with transaction.atomic():
            if mobile.stopped_at is None:
                mobile.stopped_at = timezone.now()
                mobile.save(update_fields=["stopped_at"])
                audit_record(action=AuditAction.PHONE_STOPPED, actor=mobile.user, obj=mobile)
        return "Muster: you will get no more texts or calls. Reply START to receive them again."
    if word in START_WORDS and mobile.stopped_at is not None:
        with transaction.atomic():
            mobile.stopped_at = None
            mobile.save(update_fields=["stopped_at"])
            audit_record(action=AuditAction.PHONE_STARTED, actor=mobile.user, obj=mobile)
        return "Muster: texts and calls are on again. Reply HELP for help, STOP to stop."
    if word in HELP_WORDS:
        return HELP_TEXT
    return None


# A number that is no Muster user's can only be a member on check-ins by text (docs/members.md): its keywords
# say nothing of who texts it or why.
NUMBER_STOPPED_TEXT = "Muster: you will get no more texts from this number. Reply START to allow them again."
NUMBER_STARTED_TEXT = "Muster: texts to this number are allowed again. Reply STOP to stop them."
NUMBER_HELP_TEXT = "Muster check-ins from a peer team. Reply STOP to end them, START to allow them again."


def number_keyword(*, e164: str, word: str) -> str | None:
    """Apply a carrier keyword from a number Muster holds as no one's MobileNumber: STOP records an opt-out by
    the number's keyed hash only (no text goes to it again: encounters.maintenance.checkins_send_due ends its
    check-ins), START removes it, HELP answers neutrally. Returns the reply, or None when `word` is no keyword."""
    word = word.strip().lower()
    index = phone_index(e164)
    if word in STOP_WORDS:
        with transaction.atomic():
            opt_out, created = PhoneOptOut.objects.get_or_create(number_index=index)
            if created:
                audit_record(action=AuditAction.PHONE_STOPPED, obj=opt_out)
        return NUMBER_STOPPED_TEXT
    if word in START_WORDS:
        with transaction.atomic():
            opt_out = PhoneOptOut.objects.filter(number_index=index).first()
            if opt_out is not None:
                audit_record(action=AuditAction.PHONE_STARTED, obj=opt_out)
                opt_out.delete()
        return NUMBER_STARTED_TEXT
    if word in HELP_WORDS:
        return NUMBER_HELP_TEXT
    return None


REMINDER_TEXT = "Muster: a follow-up you own is due soon. Details after sign-in: {link}"


def reminder_text_queue(*, user) -> bool:
    """Queue a follow-up reminder by text for `user` if they chose it (beside the e-mail, which always
    goes). Called in the reminder's transaction; the task argument is the user's id only. In the person's
    quiet hours it is queued for when they end, not dropped."""
    mobile = MobileNumber.objects.filter(user=user, reminders_by_text=True).first()
    wanted = mobile is not None and user.pk in channels.users_with_phone([user.pk], [Channel.TEXT])
    if wanted:
        outbox_enqueue(task="network.tasks.reminder_text_task", args=[user.pk], eta=mobile.quiet_ends(timezone.now()))
    return wanted


def reminder_text_send(*, user_id: int) -> bool:
    """Text the reminder (the worker runs it): no member, no date, no agency, only a link that needs sign-in.
    Nothing once they replied STOP, or if they moved their quiet hours over the time it was queued for (the
    e-mail has gone)."""
    mobile = channels.mobile_of(user_id)
    if not channels.mobile_reaches(mobile, Channel.TEXT) or not mobile.reminders_by_text:
        return False
    channels.deliver(
        Channel.TEXT, mobile=mobile, text=REMINDER_TEXT.format(link=settings.MUSTER_BASE_URL + "/"), purpose="reminder"
    )
    return True
