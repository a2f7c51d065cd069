"""Celery entry points for reporting."""

from celery import shared_task

from network.models import Network
from reporting import services


@shared_task(acks_late=True, reject_on_worker_lost=True)
def snapshots_build_task(run_id: int) -> str:
    return services.run_execute(run_id=run_id).status


@shared_task(acks_late=True, reject_on_worker_lost=True)
def snapshots_nightly_task() -> str:
    """Beat, nightly: the recent periods of every agency (incremental)."""
    run = services.run_request(full=False, enqueue=False)
    return services.run_execute(run_id=run.pk).status


@shared_task(acks_late=True, reject_on_worker_lost=True)
def agency_snapshot_refresh_task(agency_id: int) -> bool:
    """Queued (through the outbox) by every saved encounter: bring the agency's recent snapshots up to
    date so its dashboard catches up. Idempotent, and a no-op when nothing changed since the last one."""
    return services.agency_snapshot_refresh(agency_id=agency_id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def publish_due_task() -> int:
    """Beat, daily: publish every network's periods whose publication day has come. Idempotent."""
    return sum(len(services.publication_publish_due(network=network)) for network in Network.objects.order_by("pk"))
