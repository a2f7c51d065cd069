"""Celery's Redis transport, with an acknowledgement that a Redis timeout cannot turn into a stalled worker.

kombu's Redis QoS acknowledges a message in two steps: remove it from Redis's unacknowledged table, then free
its place in the worker's own count of messages in hand (the prefetch window). When the first step times out
(Redis paused, a partition, a failover: the read timeout of docs/reliability.md "Hangs"), the exception skips
the second. Celery logs "Couldn't ack ..." and carries on, but the worker still counts the message as in
hand; with a prefetch window of one (`CELERY_WORKER_PREFETCH_MULTIPLIER = 1`, one pool process) it never
takes another message, and sits idle until it is restarted (celery/celery#2415). `tests/test_hangs.py`
caught it by pausing Redis while a task finished.

Here the place is always freed, and a removal that failed is sent again with the channel's next
acknowledgement, so a message Redis never heard acknowledged is not handed out again an hour later (the
visibility timeout) once Redis answers. If the channel closes first (the worker stops or reconnects), or no
acknowledgement comes within half the visibility timeout of the message's delivery (after that the message
may already be out again under the same tag), the visibility timeout hands it out again: delivery stays at
least once, as every Muster task expects (network/outbox.py). Selected by `CELERY_BROKER_TRANSPORT`
in config/settings.py, so web, worker and beat all use it; it changes nothing else.
"""

from __future__ import annotations

import time

from kombu.transport import redis as kombu_redis
from kombu.transport.virtual import base as virtual


class QoS(kombu_redis.QoS):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Acknowledged here, still in Redis's unacknowledged table: tag -> until when removing it is safe. After
        # that, the visibility timeout (counted from delivery) may have handed the message out again under the
        # same tag, and removing it would take the new delivery's entry: the retry is dropped instead.
        self._unremoved: dict[str, float] = {}
        self._delivered_at: dict[str, float] = {}

    def append(self, message, delivery_tag: str) -> None:
        self._delivered_at[delivery_tag] = time.monotonic()
        super().append(message, delivery_tag)

    def _settle(self, delivery_tag: str, remove: bool, requeue: bool = False) -> None:
        now = time.monotonic()
        for tag in [tag for tag, safe_until in self._unremoved.items() if safe_until <= now]:
            del self._unremoved[tag]  # left to the visibility timeout: delivered again, at least once
        tags = sorted({*self._unremoved, delivery_tag} if remove else set(self._unremoved))
        delivered_at = self._delivered_at.pop(delivery_tag, now)
        try:
            if requeue:
                self.restore_by_tag(delivery_tag, leftmost=True)
            if tags:
                with self.pipe_or_acquire() as pipe:
                    for tag in tags:
                        self._remove_from_indices(tag, pipe)
                    pipe.execute()
            for tag in tags:
                self._unremoved.pop(tag, None)  # only these: another thread may have added one meanwhile
        except BaseException:
            if remove:
                self._unremoved[delivery_tag] = delivered_at + self.channel.visibility_timeout / 2
            raise  # Celery logs it ("Couldn't ack") and goes on
        finally:
            # Free the place in the prefetch window whatever Redis did: the step kombu skips on an error.
            virtual.QoS.ack(self, delivery_tag)

    def ack(self, delivery_tag: str) -> None:
        self._settle(delivery_tag, remove=True)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        # Requeued: restore_by_tag puts it back and removes it from the table in one transaction.
        self._settle(delivery_tag, remove=not requeue, requeue=requeue)


class Channel(kombu_redis.Channel):
    QoS = QoS


class Transport(kombu_redis.Transport):
    Channel = Channel
