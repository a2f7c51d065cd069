"""The Celery app: tenant-aware, so a task runs in the schema it was sent from."""

import os

from celery.signals import heartbeat_sent, worker_ready, worker_shutdown
from tenant_schemas_celery.app import CeleryApp

from network.heartbeat import worker_heartbeat_record, worker_heartbeat_remove

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = CeleryApp("muster")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _relay_outbox_at_start(sender, **kwargs) -> None:
    """A worker that starts (often just after Redis or the worker came back) first sends whatever the
    outbox holds. Queued as a task so a pool process does the database work, not this parent process."""
    app.send_task("network.tasks.outbox_relay_task")


@heartbeat_sent.connect
def _record_worker_heartbeat(sender, **kwargs) -> None:
    """Every 2 s in the worker's main process: /healthz reads these instead of pinging workers."""
    try:
        worker_heartbeat_record(sender.eventer.hostname)
    except Exception:  # noqa: BLE001, S110 - Redis away: the broker is too; the worker reconnects on its own
        pass  # nosec B110


@worker_shutdown.connect
def _remove_worker_heartbeat(sender, **kwargs) -> None:
    """A worker that stops says so at once, instead of /healthz waiting for its heartbeat to go stale."""
    try:
        worker_heartbeat_remove(sender.hostname)
    except Exception:  # noqa: BLE001, S110
        pass  # nosec B110
