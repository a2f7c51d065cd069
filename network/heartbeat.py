"""Worker heartbeats for /healthz: each Celery worker writes the time of its heartbeat (every 2 s,
celery's own `heartbeat_sent` signal) into one Redis hash, and removes itself when it stops.

/healthz then reads one key instead of broadcasting a ping to every worker and waiting for replies,
so it answers at once whether or not a worker is up.
"""

from __future__ import annotations

import time

from django.core.cache import cache

WORKER_HEARTBEATS_KEY = "workers:heartbeat"  # hash: worker hostname -> time of its last heartbeat
WORKER_STALE_AFTER = 15.0  # seconds without a heartbeat (sent every 2) before a worker counts as gone


def _redis():
    return cache._cache.get_client(write=True)  # the Redis client behind Django's cache


def worker_heartbeat_record(hostname: str, *, now: float | None = None) -> None:
    _redis().hset(cache.make_key(WORKER_HEARTBEATS_KEY), hostname, now if now is not None else time.time())


def worker_heartbeat_remove(hostname: str) -> None:
    _redis().hdel(cache.make_key(WORKER_HEARTBEATS_KEY), hostname)


def workers_alive(*, now: float | None = None) -> int:
    """How many workers sent a heartbeat within WORKER_STALE_AFTER seconds."""
    now = now if now is not None else time.time()
    beats = _redis().hgetall(cache.make_key(WORKER_HEARTBEATS_KEY))
    return sum(1 for last in beats.values() if now - float(last) < WORKER_STALE_AFTER)
