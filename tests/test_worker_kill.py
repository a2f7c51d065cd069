"""Background work is not lost and not doubled when a worker dies in the middle of a task.

A real prefork Celery worker, on a queue of its own, runs a real snapshot run over every agency
(slowed between agencies by MUSTER_SNAPSHOT_AGENCY_PAUSE_MS, so it can be caught mid-way). The test
SIGKILLs it once the run has recorded progress and proves the run is delivered again and finishes
once, with exactly the snapshots a clean build gives.

Two ways a worker dies, two redelivery paths (docs/reliability.md):
- the pool process running the task is killed (the OOM killer's usual victim): the parent worker
  sees it die and, with acks_late + reject_on_worker_lost, puts the message back at once;
- the whole worker is killed (node lost): nobody acknowledged the message, and Redis hands it to
  a worker again once it is older than the visibility timeout (shortened here by environment).
"""

from __future__ import annotations

import datetime
import os
import signal
import sys
import time
import uuid

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from agencies.models import Agency
from config.celery import app
from reporting import builder
from reporting import services as reporting_services
from reporting.models import MetricSnapshot, SnapshotRun
from reporting.tasks import snapshots_build_task
from tests.stack import Stack

pytestmark = pytest.mark.stack

PAUSE_MS = 1000


class Worker(Stack):
    """One prefork worker (a parent and one pool process) on a queue of its own."""

    def __init__(self, *, queue: str, pause_ms: int = PAUSE_MS, visibility_timeout: int | None = None) -> None:
        super().__init__()
        self.queue = queue
        self.pause_ms = pause_ms
        self.visibility_timeout = visibility_timeout
        self.node = f"kill-{uuid.uuid4().hex[:8]}@muster-test"

    def env(self) -> dict[str, str]:
        env = super().env()
        env.update(MUSTER_CELERY_QUEUE=self.queue, MUSTER_SNAPSHOT_AGENCY_PAUSE_MS=str(self.pause_ms))
        if self.visibility_timeout is not None:
            env["MUSTER_CELERY_VISIBILITY_TIMEOUT"] = str(self.visibility_timeout)
        return env

    def start_worker(self) -> None:
        command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-l", "INFO"]
        command += ["--pool", "prefork", "--concurrency", "1", "-n", self.node, "--without-mingle", "--without-gossip"]
        self._spawn("worker", command)
        deadline = time.monotonic() + 60
        while not app.control.ping(destination=[self.node], timeout=0.5):
            if self.processes["worker"].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start:\n{self.log_tail('worker')}")

    def pool_process_running(self, task_id: str) -> int:
        """The pid of the pool process executing `task_id`, as the worker itself reports it."""
        active = app.control.inspect(destination=[self.node], timeout=2).active() or {}
        for task in active.get(self.node, []):
            if task["id"] == task_id:
                return task["worker_pid"]
        raise AssertionError(f"{self.node} is not running {task_id}: {active}")

    def kill_everything(self) -> None:
        """SIGKILL the parent and its pool process at once: nothing gets to acknowledge or requeue."""
        process = self.processes.pop("worker")
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def _queue() -> str:
    return f"{settings.CELERY_TASK_DEFAULT_QUEUE}-kill-{uuid.uuid4().hex[:6]}"


def _wait_for(check, timeout: float, what: str, worker: Worker):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}\n{worker.log_tail('worker')}")


def _start_run_on(worker: Worker) -> tuple[SnapshotRun, str]:
    run = reporting_services.run_request(enqueue=False)
    result = snapshots_build_task.apply_async(args=[run.pk], queue=worker.queue)
    return run, result.id


def _mid_way(run: SnapshotRun) -> SnapshotRun | None:
    run.refresh_from_db()
    running = run.status == SnapshotRun.Status.RUNNING and 0 < run.agencies_done < run.agencies_total
    return run if running else None


def _finished(run: SnapshotRun) -> SnapshotRun | None:
    run.refresh_from_db()
    return run if run.is_finished else None


def _stored(agency: Agency, since: datetime.date) -> list[tuple]:
    rows = []
    for kind in builder.KINDS:
        rows += MetricSnapshot.objects.filter(
            agency=agency, period_kind=kind, period_start__gte=builder.period_start(kind, since)
        ).values_list("period_kind", "period_start", "metric", "dimension", "key", "value")
    return sorted(rows)


def _clean_build(agency: Agency, since: datetime.date) -> list[tuple]:
    rows = builder.agency_metrics(agency, since=since, today=timezone.localdate())
    return sorted((kind, p, metric, dimension, key, float(value)) for kind, p, metric, dimension, key, value in rows)


def _assert_applied_exactly_once(run: SnapshotRun) -> None:
    """One finished run, every agency counted once in its progress, and snapshots equal to a clean build:
    no cell missing, none duplicated, no count doubled."""
    agencies = list(Agency.objects.filter(status=Agency.Status.ACTIVE).select_related("network"))
    assert run.status == SnapshotRun.Status.DONE, run.failures
    assert run.agencies_total == run.agencies_done == len(agencies)
    since = builder.build_since(full=run.full, today=timezone.localdate())
    for agency in agencies:
        assert _stored(agency, since) == _clean_build(agency, since), agency.slug


def test_killed_pool_process_task_is_redelivered_and_completes_exactly_once(world, django_db_blocker):
    worker = Worker(queue=_queue())
    try:
        worker.start_worker()
        with django_db_blocker.unblock():
            run, task_id = _start_run_on(worker)
            _wait_for(lambda: _mid_way(run), 30, "the run to be part-way", worker)
            victim = worker.pool_process_running(task_id)
            os.kill(victim, signal.SIGKILL)

            run = _wait_for(lambda: _finished(run), 60, "the redelivered run to finish", worker)
            assert run.attempts == 2  # started, killed, delivered again by the same worker, finished
            assert worker.processes["worker"].poll() is None  # the parent survived and replaced its pool process
            assert "WorkerLostError" in worker.log_tail("worker", lines=200)
            _assert_applied_exactly_once(run)
    finally:
        worker.stop()


def test_whole_worker_killed_task_is_restored_after_the_visibility_timeout(world, django_db_blocker):
    queue = _queue()
    first = Worker(queue=queue)
    second = Worker(queue=queue, pause_ms=0, visibility_timeout=5)
    try:
        first.start_worker()
        with django_db_blocker.unblock():
            run, task_id = _start_run_on(first)
            _wait_for(lambda: _mid_way(run), 30, "the run to be part-way", first)
            first.kill_everything()
            killed_at = time.monotonic()
            # Nobody acknowledged it: the message waits in Redis's unacked table, not in the queue.
            broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
            assert broker.llen(queue) == 0
            assert any(task_id.encode() in message for message in broker.hvals("unacked"))

            second.start_worker()
            run = _wait_for(lambda: _finished(run), 60, "the restored run to finish", second)
            assert time.monotonic() - killed_at >= 3  # not before the message's visibility timeout ran out
            assert run.attempts == 2
            _assert_applied_exactly_once(run)
    finally:
        first.stop()
        second.stop()


def test_whole_worker_paused_mid_task_loses_nothing_and_finishes_the_run_once(world, django_db_blocker):
    """SIGSTOP, not SIGKILL: a worker frozen mid-task (a stalled VM, a debugger, a swap storm) holds its
    message unacknowledged and runs nothing; after SIGCONT the same run carries on and finishes, started
    once, with every agency built once. Nothing hands the message to anyone else meanwhile (the pause is
    far shorter than the visibility timeout)."""
    worker = Worker(queue=_queue())
    try:
        worker.start_worker()
        with django_db_blocker.unblock():
            run, task_id = _start_run_on(worker)
            _wait_for(lambda: _mid_way(run), 30, "the run to be part-way", worker)
            process = worker.processes["worker"]
            os.killpg(process.pid, signal.SIGSTOP)  # the parent and its pool process, mid-task
            try:
                run.refresh_from_db()
                done_at_pause = run.agencies_done
                time.sleep(3 * PAUSE_MS / 1000)  # long enough for the run to have moved on, were it running
                run.refresh_from_db()
                assert run.agencies_done == done_at_pause and run.status == SnapshotRun.Status.RUNNING
                # Not lost: the message waits, unacknowledged, in Redis; not on the queue for someone else.
                broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
                assert broker.llen(worker.queue) == 0
                assert any(task_id.encode() in message for message in broker.hvals("unacked"))
            finally:
                os.killpg(process.pid, signal.SIGCONT)

            run = _wait_for(lambda: _finished(run), 60, "the resumed run to finish", worker)
            assert run.attempts == 1  # carried on where it was: never started again
            assert process.poll() is None
            _assert_applied_exactly_once(run)
            assert worker.log_tail("worker", lines=400).count(f"[{task_id}] received") == 1
    finally:
        worker.stop()
