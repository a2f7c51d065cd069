"""Scheduled work over every agency: follow-up reminders and escalations, and the notes purge.

Each task runs in the public schema and visits each active agency's schema in turn through
agencies.tenancy.for_each_active_agency: one agency failing is logged (by id) and the others still
get their turn; the task then fails with every failed agency named. They are idempotent (a reminder
or escalation is sent once; a purged note stays purged), so a retry or a second run the same day
does no harm.
"""

import logging

from celery import shared_task

from activations import deploy_site
from agencies.tenancy import for_each_active_agency
from encounters import maintenance

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def follow_up_reminders_task() -> dict:
    totals = {"reminded": 0, "escalated": 0}

    def remind(agency) -> None:
        counts = maintenance.follow_up_reminders_send(agency=agency)
        for key in totals:
            totals[key] += counts[key]

    try:
        for_each_active_agency(remind, what="follow-up reminders")
        # Members held through a deployment: their overdue follow-ups go to the lead agency (issue 19).
        totals["escalated"] += deploy_site.held_follow_ups_overdue_escalate()
    finally:
        logger.info("follow-up reminders: %(reminded)d reminded, %(escalated)d escalated", totals)
    return totals


@shared_task(acks_late=True, reject_on_worker_lost=True)
def notes_purge_task() -> int:
    purged = []

    def purge(agency) -> None:
        purged.append(maintenance.notes_purge(agency=agency))

    try:
        for_each_active_agency(purge, what="notes purge")
    finally:
        logger.info("notes purge: %d encounter(s) purged", sum(purged))
    return sum(purged)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def checkins_send_task() -> int:
    sent = []

    def send(agency) -> None:
        sent.append(maintenance.checkins_send_due(agency=agency))

    try:
        for_each_active_agency(send, what="check-ins")
    finally:
        logger.info("check-ins: %d sent", sum(sent))
    return sum(sent)
