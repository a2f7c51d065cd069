"""Scheduled work for activations."""

from celery import shared_task

from activations import selectors, services


@shared_task(acks_late=True, reject_on_worker_lost=True)
def activation_names_retention_task() -> int:
    """Destroy the names of activations closed longer than the network's retention window."""
    return sum(services.activation_destroy_names(activation=a) for a in selectors.activations_past_retention())
