"""Reads off the primary: published leadership figures from a PostgreSQL streaming replica, when one is set.

`DATABASE_REPLICA_URL` adds the database alias `replica` (config/settings.py). Nothing is routed to it
implicitly (there is no database router for it): a read goes there only through `read_off_primary`, which
the reporting selectors call for the published-figure tables and nothing else (docs/reporting.md,
"Reads off the primary"). Writes, and every read of an agency's schema, stay on the primary.

A replica that is stopped, paused or unreachable never costs a page more than about
`MUSTER_REPLICA_TIMEOUT_SECONDS`: the read falls back to the primary, and this process leaves the replica
alone for `MUSTER_REPLICA_RETRY_SECONDS` before trying it again.

- Refused or not answering a new connection: libpq's `connect_timeout` ends the wait.
- Answering, but slowly: the replica connection's `statement_timeout` ends the query.
- Paused or cut off on an open connection (SIGSTOP, a partition, a frozen VM): the server cannot enforce
  its timeout and TCP keepalives do not help (the kernel keeps answering for a paused process), so a
  watchdog thread shuts the connection's socket down when the time is up, and the blocked read returns
  with an error at once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, Error, connections

logger = logging.getLogger(__name__)

REPLICA = "replica"
T = TypeVar("T")

# monotonic time until which this process reads from the primary (the replica failed just before).
_down_until = 0.0
_state_lock = threading.Lock()


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


def replica_alias() -> str:
    """The alias a read off the primary should use now: `replica`, unless none is configured or it failed
    within the last MUSTER_REPLICA_RETRY_SECONDS (then `default`)."""
    if not replica_configured() or time.monotonic() < _down_until:
        return DEFAULT_DB_ALIAS
    return REPLICA


def replica_mark_down(reason: str) -> None:
    """Read from the primary in this process for the next MUSTER_REPLICA_RETRY_SECONDS."""
    global _down_until
    with _state_lock:
        _down_until = time.monotonic() + settings.MUSTER_REPLICA_RETRY_SECONDS
    logger.warning(
        "replica unavailable (%s): reading from the primary for %ss", reason, settings.MUSTER_REPLICA_RETRY_SECONDS
    )


def replica_mark_up() -> None:
    """Forget a failure (tests, and an operator's shell after fixing the replica)."""
    global _down_until
    with _state_lock:
        _down_until = 0.0


def _cut(wrapper, finished: threading.Event) -> None:
    """The watchdog: shut the replica connection's socket down, so a read blocked on it returns an error."""
    if finished.is_set():
        return
    raw = wrapper.connection
    if raw is None:  # still connecting: libpq's connect_timeout ends that
        return
    try:
        duplicate = os.dup(raw.pgconn.socket)
    except Exception:  # already closed, or closing
        return
    with socket.socket(fileno=duplicate) as sock:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def read_off_primary(read: Callable[[str], T]) -> T:
    """Run `read(alias)` on the replica if there is a usable one, else (or if it fails) on the primary.

    `read` must only read, and only public tables a replica may serve a little late (the published
    figures): it may run twice, once on the replica and again on the primary. Its queries name the
    alias explicitly (`Model.objects.using(alias)`)."""
    alias = replica_alias()
    if alias == DEFAULT_DB_ALIAS:
        return read(DEFAULT_DB_ALIAS)
    wrapper = connections[alias]
    finished = threading.Event()
    watchdog = threading.Timer(settings.MUSTER_REPLICA_TIMEOUT_SECONDS, _cut, args=(wrapper, finished))
    watchdog.daemon = True
    watchdog.start()
    try:
        return read(alias)
    except Error as error:
        finished.set()
        watchdog.cancel()
        try:
            wrapper.close()
        except Error:
            pass
        replica_mark_down(type(error).__name__)  # the class only: a message could quote a query's values
        return read(DEFAULT_DB_ALIAS)
    finally:
        finished.set()
        watchdog.cancel()
