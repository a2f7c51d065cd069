"""Celery entry points for reporting."""

from celery import shared_task

from reporting import services


@shared_task(acks_late=True, reject_on_worker_lost=True)
def snapshots_build_task(run_id: int) -> str:
    return services.run_execute(run_id=run_id).status


@shared_task(acks_late=True, reject_on_worker_lost=True)
def snapshots_nightly_task() -> str:
    """Beat, nightly: the recent periods of every agency (incremental)."""
    run = services.run_request(full=False, enqueue=False)
    return services.run_execute(run_id=run.pk).status
