"""Fixed-window counters in the cache (Redis) for requests that must not be repeated without limit,
such as password-reset e-mails. Keys hold a digest of what is counted, never an address."""

from __future__ import annotations

import hashlib
import logging
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)

_PREFIX = "ratelimit"


def rate_limit_allows(*, scope: str, key: str, limit: int, window_seconds: int) -> bool:
    """Count one request of `scope` for `key` and say whether it is within `limit` per window.

    With the cache unreachable it allows (and logs): a Redis outage must not stop people resetting a
    password; the lockout and the reset token still protect the account.
    """
    digest = hashlib.sha256(f"{scope}|{key}".encode()).hexdigest()[:32]
    cache_key = f"{_PREFIX}:{scope}:{digest}:{int(time.time() // window_seconds)}"
    try:
        cache.add(cache_key, 0, timeout=window_seconds + 5)
        try:
            count = cache.incr(cache_key)
        except ValueError:  # the window's key expired between add and incr
            cache.set(cache_key, 1, timeout=window_seconds + 5)
            count = 1
    except Exception as exc:  # noqa: BLE001 - any cache failure: allow, and say which
        logger.warning("rate limit %s not counted: %s", scope, type(exc).__name__)
        return True
    return count <= limit


def rate_limits_clear() -> int:
    """Forget every counter (tests, or an operator after a false alarm). Returns how many were removed."""
    client = cache._cache.get_client(write=True)  # the Redis client behind Django's cache
    keys = list(client.scan_iter(match=cache.make_key(f"{_PREFIX}:*"), count=500))
    return client.delete(*keys) if keys else 0
