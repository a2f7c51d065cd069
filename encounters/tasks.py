"""Scheduled work over every agency: follow-up reminders and escalations, and the notes purge.

Each task runs in the public schema and visits each active agency's schema in turn. They are
idempotent (a reminder or escalation is sent once; a purged note stays purged), so a retry or
a second run the same day does no harm.
"""

import logging

from celery import shared_task
from django_tenants.utils import tenant_context

from agencies.models import Agency
from encounters import maintenance

logger = logging.getLogger(__name__)


def _each_active_agency():
    yield from Agency.objects.filter(status=Agency.Status.ACTIVE).select_related("network").order_by("pk")


@shared_task(acks_late=True, reject_on_worker_lost=True)
def follow_up_reminders_task() -> dict:
    totals = {"reminded": 0, "escalated": 0}
    for agency in _each_active_agency():
        try:
            with tenant_context(agency):
                counts = maintenance.follow_up_reminders_send(agency=agency)
        except Exception:  # one agency's failure must not cost the others their reminders
            logger.exception("follow-up reminders failed for agency %s", agency.pk)
            continue
        for key in totals:
            totals[key] += counts[key]
    logger.info("follow-up reminders: %(reminded)d reminded, %(escalated)d escalated", totals)
    return totals


@shared_task(acks_late=True, reject_on_worker_lost=True)
def notes_purge_task() -> int:
    purged = 0
    for agency in _each_active_agency():
        try:
            with tenant_context(agency):
                purged += maintenance.notes_purge(agency=agency)
        except Exception:
            logger.exception("notes purge failed for agency %s", agency.pk)
    logger.info("notes purge: %d encounter(s) purged", purged)
    return purged
