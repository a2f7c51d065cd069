"""The channels that reach a person: e-mail, in the app, text and voice, and the one rule for who a text or a
call may reach now. E-mail goes through `network.notify.notify`; "in the app" is a page the person sees when
signed in (the callout banner); text and voice go through the provider (`network.phone`). Callouts and
reminders ask here, so STOP, the person's choices and quiet hours mean the same everywhere (docs/callout.md)."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from enum import StrEnum

from django.utils import timezone

from network import phone
from network.models import MobileNumber, PhoneMessage


class Channel(StrEnum):
    EMAIL = "email"
    IN_APP = "in_app"
    TEXT = "text"
    VOICE = "voice"


PHONE_CHANNELS = (Channel.TEXT, Channel.VOICE)


def mobile_reaches(
    mobile: MobileNumber | None,
    channel: Channel,
    *,
    at: datetime.datetime | None = None,
    through_quiet_hours: bool = False,
) -> bool:
    """Whether `channel` reaches the holder of `mobile` at `at` (now): e-mail and the app always; a text or a
    call only with a provider (or the development console), a confirmed number, no STOP, the person's yes to
    that channel, and outside their quiet hours unless `through_quiet_hours` (callouts for major incidents)."""
    if channel in (Channel.EMAIL, Channel.IN_APP):
        return True
    if mobile is None or not phone.phone_enabled() or not mobile.reachable(channel.value):
        return False
    return through_quiet_hours or not mobile.quiet_at(at or timezone.now())


def mobile_of(user_id: int) -> MobileNumber | None:
    return MobileNumber.objects.select_related("user").filter(user_id=user_id).first()


def users_with_phone(user_ids: Iterable[int], channels: Iterable[Channel] = PHONE_CHANNELS) -> set[int]:
    """Of `user_ids`, those a text or call could reach at some hour (one query; quiet hours are checked when
    each is sent, since the sending may be minutes away)."""
    if not phone.phone_enabled():
        return set()
    wanted = set(channels)
    mobiles = MobileNumber.objects.filter(
        user_id__in=list(user_ids), confirmed_at__isnull=False, stopped_at__isnull=True
    )
    return {m.user_id for m in mobiles if any(m.reachable(c.value) for c in wanted)}


def deliver(
    channel: Channel, *, mobile: MobileNumber, text: str, purpose: str, ref_id: int | None = None
) -> PhoneMessage:
    """Send `text` by text, or read it in a call that takes one keypad digit. Recorded as a PhoneMessage."""
    if channel == Channel.TEXT:
        return phone.text_send(mobile=mobile, body=text, purpose=purpose, ref_id=ref_id)
    if channel == Channel.VOICE:
        return phone.call_place(mobile=mobile, say=text, purpose=purpose, ref_id=ref_id)
    raise ValueError(f"{channel} is not delivered through the phone provider")
