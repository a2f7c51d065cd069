"""Celery entry points for the network."""

import time

from celery import shared_task
from django.core.cache import cache

BEAT_HEARTBEAT_KEY = "muster:beat:last"


@shared_task(ignore_result=True)
def beat_heartbeat() -> None:
    """Scheduled by beat every 30 s and run by a worker: /healthz reads its age."""
    cache.set(BEAT_HEARTBEAT_KEY, time.time(), timeout=None)
