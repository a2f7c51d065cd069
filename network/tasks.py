"""Celery entry points for the network."""

import time

from celery import shared_task
from django.core.cache import cache

from network.outbox import outbox_relay
from network.phone import phone_messages_purge
from network.selectors import network_current, policy_for
from network.services import mobile_confirmation_send, reminder_text_send, users_inactive_disable

BEAT_HEARTBEAT_KEY = "muster:beat:last"


@shared_task(acks_late=True, reject_on_worker_lost=True)
def inactive_accounts_disable_task() -> int:
    """Beat, daily: disable accounts unused for the network policy's limit (at most MUSTER_INACTIVE_DAYS,
    90) and end their sessions."""
    from django.conf import settings

    network = network_current()
    days = settings.MUSTER_INACTIVE_DAYS
    if network is not None:
        days = min(days, policy_for(network).account_inactive_days)
    return users_inactive_disable(days=days)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def sessions_clear_task() -> None:
    """Beat, daily: delete expired sessions from the database (Django's `clearsessions`), so a session
    past its 12 hours does not stay on disk until someone happens to present its cookie."""
    from django.core.management import call_command

    call_command("clearsessions")


@shared_task(ignore_result=True)
def beat_heartbeat() -> None:
    """Scheduled by beat every 30 s and run by a worker: /healthz reads its age."""
    cache.set(BEAT_HEARTBEAT_KEY, time.time(), timeout=None)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def outbox_relay_task() -> int:
    """Beat, every MUSTER_OUTBOX_RELAY_SECONDS, and once at worker start: send the outbox messages
    written while Redis was down (network/outbox.py)."""

    return outbox_relay()


@shared_task(acks_late=True, reject_on_worker_lost=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def mobile_confirmation_text_task(mobile_id: int) -> bool:
    """Text a fresh confirmation code to a newly registered mobile number (network.services). A provider
    that cannot be reached (OSError: connection refused, timeout) is tried again with a growing pause."""
    return mobile_confirmation_send(mobile_id=mobile_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def reminder_text_task(user_id: int) -> bool:
    """A follow-up reminder by text, for someone who chose it (network.services.reminder_text_queue)."""
    return reminder_text_send(user_id=user_id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def phone_messages_purge_task() -> int:
    """Beat, nightly: the record of texts and calls past MUSTER_PHONE_MESSAGES_KEEP_DAYS (network.phone)."""
    return phone_messages_purge()
