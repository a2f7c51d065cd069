"""The transactional outbox: background work that a change queues survives a Redis outage.

`outbox_enqueue` records the task in the caller's transaction; after the commit it is handed to
Redis at once, and when Redis is down the relay (`outbox_relay`, from beat and at worker start)
sends it once Redis is back. Delivery is at least once: a message is marked sent under a row lock
(`SELECT ... FOR UPDATE SKIP LOCKED`), so the after-commit send and the relay never both send it,
but a crash between handing it to Redis and recording that would send it again. Every task sent
through here must therefore be idempotent, as all Muster tasks are. See docs/reliability.md.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections import defaultdict

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from network.models import OutboxMessage

logger = logging.getLogger(__name__)

RELAY_BATCH = 200
KEEP_SENT_FOR = datetime.timedelta(days=7)
# Celery's Redis transport gives a message that no worker has acknowledged to another worker once it is
# MUSTER_CELERY_VISIBILITY_TIMEOUT old, and a message waiting for its eta stays unacknowledged all that time: a text
# held back until the end of someone's quiet hours, eight hours away, would be delivered eight times. So a message
# stays here until its eta is this near (at most a quarter of the visibility timeout), and the relay, which runs
# every MUSTER_OUTBOX_RELAY_SECONDS, hands it over then, eta included.
ETA_HORIZON = datetime.timedelta(minutes=5)


def _due_soon(now: datetime.datetime) -> Q:
    horizon = min(ETA_HORIZON, datetime.timedelta(seconds=settings.MUSTER_VISIBILITY_TIMEOUT / 4))
    return Q(eta__isnull=True) | Q(eta__lte=now + horizon)


def outbox_enqueue(
    *, task: str, args: list | tuple = (), kwargs: dict | None = None, eta: datetime.datetime | None = None
) -> OutboxMessage:
    """Record `task` in the current transaction and send it after the commit (or roll it back with it).

    Call inside the transaction that makes the change the task follows from. Arguments must be JSON:
    ids and codes only. `eta`: the worker runs the task no earlier than then (Celery's eta); a message
    the relay sends late, after its eta, runs at once."""
    message = OutboxMessage.objects.create(
        task=task, args=list(args), kwargs=kwargs or {}, schema_name=connection.schema_name, eta=eta
    )
    message_id = message.pk
    # robust: the change is committed whatever happens to the send; the relay retries it later.
    transaction.on_commit(lambda: outbox_dispatch(message_id=message_id), robust=True)
    return message


def outbox_dispatch(*, message_id: int) -> bool:
    """Send one message now, unless the relay holds it, it was sent already, or its eta is further than
    ETA_HORIZON away (the relay sends it when it is near). True when sent."""
    with transaction.atomic():
        message = (
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(_due_soon(timezone.now()), pk=message_id, sent_at__isnull=True)
            .first()
        )
        if message is None:
            return False
        return _send([message])


def outbox_relay(*, batch: int = RELAY_BATCH) -> int:
    """Send every pending message that is due (no eta, or one within ETA_HORIZON), oldest first, and forget sent
    ones after a week. Returns how many were sent. Stops at the first failure: Redis is still down, and the next
    sweep tries again."""
    sent = 0
    while True:
        with transaction.atomic():
            pending = list(
                OutboxMessage.objects.select_for_update(skip_locked=True)
                .filter(_due_soon(timezone.now()), sent_at__isnull=True)
                .order_by("pk")[:batch]
            )
            # Identical pending messages (the same task for the same object, queued while Redis was down)
            # are sent once: tasks are idempotent, and every one of those changes is already committed.
            groups: dict[str, list[OutboxMessage]] = defaultdict(list)
            for message in pending:
                groups[_payload(message)].append(message)
            for messages in groups.values():
                if not _send(messages):
                    return sent
                sent += len(messages)
        if len(pending) < batch:
            break
    OutboxMessage.objects.filter(sent_at__lt=timezone.now() - KEEP_SENT_FOR).delete()
    return sent


def _payload(message: OutboxMessage) -> str:
    eta = message.eta.isoformat() if message.eta else None
    return json.dumps([message.task, message.args, message.kwargs, message.schema_name, eta], sort_keys=True)


def _send(messages: list[OutboxMessage]) -> bool:
    """Hand the task of `messages` (identical payloads, rows locked by the caller) to Redis once and mark
    them all sent; on failure record the attempt. Never raises: Redis being down is expected here."""
    first = messages[0]
    ids = [m.pk for m in messages]
    try:
        # retry=False and the bounded broker connection settings keep a request quick with Redis down.
        # The project's Celery app (config/celery.py), current in every process that loaded the settings.
        with current_app.producer_or_acquire() as producer:
            _broker_answers(producer)
            current_app.send_task(
                first.task,
                args=first.args,
                kwargs=first.kwargs,
                headers={"_schema_name": first.schema_name},
                task_id=f"outbox-{first.pk}",
                eta=first.eta,
                retry=False,
                producer=producer,
            )
    except Exception as exc:  # noqa: BLE001 - any failure to reach Redis leaves the message pending
        logger.warning("outbox: %s not sent (%s); the relay will retry", first.task, type(exc).__name__)
        OutboxMessage.objects.filter(pk__in=ids).update(attempts=F("attempts") + 1, last_error=type(exc).__name__[:100])
        return False
    OutboxMessage.objects.filter(pk__in=ids).update(sent_at=timezone.now())
    return True


def _broker_answers(producer) -> None:
    """PING Redis on the producer's channel before publishing; raises when it does not answer in time.

    A publish that times out is ambiguous: on a Redis that stopped answering (paused, partitioned) the
    command already sits in its socket buffer, and runs when Redis resumes, so the message arrives
    *and* stays pending here, and the relay sends it a second time. Asking first means the publish is
    written only to a Redis that just answered: a PING that times out has written nothing that
    queues work. (A Redis that stops in the microseconds between the answer and the publish can still
    cause a second delivery, which idempotent tasks absorb: delivery stays at least once.) A fresh
    channel is pinged by kombu itself; this covers the pooled, already open one."""
    client = getattr(producer.channel, "client", None)  # the Redis transport's client; others have none
    if client is not None:
        client.ping()
