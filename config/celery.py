"""The Celery app: tenant-aware, so a task runs in the schema it was sent from."""

import os

from celery.signals import worker_ready
from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = CeleryApp("muster")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _relay_outbox_at_start(sender, **kwargs) -> None:
    """A worker that starts (often just after Redis or the worker came back) first sends whatever the
    outbox holds. Queued as a task so a pool process does the database work, not this parent process."""
    app.send_task("network.tasks.outbox_relay_task")
