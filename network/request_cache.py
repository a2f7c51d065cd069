"""What one request learns about its user once: memberships, network roles, activation grants.

The access decorators, the navigation and the pages all ask "which agencies and roles does this person
hold?". Each used to ask the database again (the same memberships read twice per page, the network roles
three times); `per_request` answers the second asker from memory. The memory lives exactly as long as the
request (`RequestCacheMiddleware`); outside a request (services, tasks, tests calling helpers directly)
nothing is cached, so a change is seen at once. Within a request, saving or deleting a row that feeds
the cache (membership, network role, agency) empties it (`request_cache_clear`, connected by the apps
that own those models).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from contextvars import ContextVar
from typing import TypeVar

T = TypeVar("T")

_cache: ContextVar[dict | None] = ContextVar("muster_request_cache", default=None)


def per_request(key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()` once per request for `key`; outside a request, every time. Callers must not mutate
    what they get back (a list is shared by every asker in the request)."""
    cache = _cache.get()
    if cache is None:
        return compute()
    if key not in cache:
        cache[key] = compute()
    return cache[key]


def request_cache_clear(*args, **kwargs) -> None:
    """Forget what this request has learnt (a signal receiver: membership, role or agency changed)."""
    cache = _cache.get()
    if cache is not None:
        cache.clear()


class RequestCacheMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _cache.set({})
        try:
            return self.get_response(request)
        finally:
            _cache.reset(token)
