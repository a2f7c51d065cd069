"""Beat's work on members' requests: escalation of missed first-contact targets, destruction of closed requests'
contacts. Both idempotent (an escalation is sent once per stage; a destroyed contact stays destroyed)."""

import logging

from celery import shared_task

from members import services

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def member_requests_escalate_task() -> int:
    sent = services.requests_escalate()
    logger.info("member requests: %d escalation(s) sent", sent)
    return sent


@shared_task(acks_late=True, reject_on_worker_lost=True)
def member_request_contacts_destroy_task() -> int:
    destroyed = services.contacts_destroy_due()
    logger.info("member requests: %d contact(s) destroyed", destroyed)
    return destroyed
