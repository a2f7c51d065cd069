"""Celery entry points for the network."""

import time

from celery import shared_task
from django.core.cache import cache

BEAT_HEARTBEAT_KEY = "muster:beat:last"


@shared_task(acks_late=True, reject_on_worker_lost=True)
def inactive_accounts_disable_task() -> int:
    """Beat, daily: disable accounts unused for MUSTER_INACTIVE_DAYS (90) days and end their sessions."""
    from django.conf import settings

    from network.services import users_inactive_disable

    return users_inactive_disable(days=settings.MUSTER_INACTIVE_DAYS)


@shared_task(ignore_result=True)
def beat_heartbeat() -> None:
    """Scheduled by beat every 30 s and run by a worker: /healthz reads its age."""
    cache.set(BEAT_HEARTBEAT_KEY, time.time(), timeout=None)
