"""Celery entry points for agency onboarding."""

from celery import shared_task

from agencies import services


@shared_task(acks_late=True, reject_on_worker_lost=True)
def agency_provision_task(agency_id: int) -> str:
    """Build an agency's schema. Idempotent, so a redelivered message does no harm."""
    agency = services.agency_provision(agency_id=agency_id)
    return agency.status
