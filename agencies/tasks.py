"""Celery entry points for agencies: onboarding, roster reminders, offboarding exports."""

from celery import shared_task

from agencies import services
from agencies.offboarding import export_build
from agencies.roster import services as roster_services


@shared_task(acks_late=True, reject_on_worker_lost=True)
def agency_provision_task(agency_id: int) -> str:
    """Build an agency's schema. Idempotent, so a redelivered message does no harm."""
    agency = services.agency_provision(agency_id=agency_id)
    return agency.status


@shared_task(acks_late=True, reject_on_worker_lost=True)
def roster_reminders_task() -> int:
    """Beat, daily: once a quarter, remind coordinators of agencies whose roster is unconfirmed."""
    return roster_services.roster_reminders_send()


@shared_task(acks_late=True, reject_on_worker_lost=True)
def agency_export_task(export_id: int) -> str:
    """Build an offboarding export. Idempotent: a redelivered message finds it finished."""

    return export_build(export_id=export_id).status
