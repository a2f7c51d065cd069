"""GET /healthz: the state of the database, Redis and the Celery worker, for load balancers and people."""

import time

from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from network.access import public_view
from network.heartbeat import workers_alive
from network.tasks import BEAT_HEARTBEAT_KEY

BEAT_STALE_AFTER = 120  # seconds; beat ticks every 30


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _check_redis() -> str:
    client = cache._cache.get_client(write=True)  # the Redis client behind Django's cache
    client.ping()
    return "ok"


def _check_worker() -> str:
    # One Redis read of the workers' heartbeats, never a broadcast ping that waits for replies: the
    # answer comes at once whether or not a worker is up.
    return "ok" if workers_alive() else "down: no heartbeat"


def _check_beat() -> str:
    last = cache.get(BEAT_HEARTBEAT_KEY)
    if last is None:
        return "unknown"
    return "ok" if time.time() - float(last) < BEAT_STALE_AFTER else "stale"


@never_cache
@public_view
def healthz(request):
    checks: dict[str, str] = {}
    for name, check in (("database", _check_database), ("redis", _check_redis)):
        try:
            checks[name] = check()
        except Exception as exc:  # noqa: BLE001 - any failure means "down"; the type says which
            checks[name] = f"down: {type(exc).__name__}"
    if checks["redis"] == "ok":
        try:
            checks["worker"] = _check_worker()
        except Exception as exc:  # noqa: BLE001
            checks["worker"] = f"down: {type(exc).__name__}"
        try:
            checks["beat"] = _check_beat()  # reported, not required: beat only schedules
        except Exception:  # noqa: BLE001
            checks["beat"] = "unknown"
    else:
        checks["worker"] = "down: broker unreachable"
        checks["beat"] = "unknown"
    down = [name for name in ("database", "redis", "worker") if checks[name] != "ok"]
    body = {"status": "ok" if not down else "down", "down": down, "checks": checks}
    return JsonResponse(body, status=200 if not down else 503)
