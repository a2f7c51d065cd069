"""Scheduled work for activations."""

from celery import shared_task

from activations import deploy_requests, deploy_site, selectors, services


@shared_task(acks_late=True, reject_on_worker_lost=True)
def activation_names_retention_task() -> int:
    """Destroy the names of activations closed longer than the network's retention window."""
    return sum(services.activation_destroy_names(activation=a) for a in selectors.activations_past_retention())


# The callout ladder (docs/callout.md). Each step re-checks the callout under a lock before acting, so a
# reply that arrived meanwhile, a re-send or a closed activation makes it do nothing. A provider that
# cannot be reached (OSError) is tried again; what a step sent is committed with the step.
_LADDER = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (OSError,),
    "retry_backoff": 5,
    "max_retries": 5,
}


@shared_task(**_LADDER)
def callout_text_task(response_id: int, ladder_round: int) -> str:
    return services.callout_text_step(response_id=response_id, ladder_round=ladder_round)


@shared_task(**_LADDER)
def callout_call_task(response_id: int, ladder_round: int) -> str:
    return services.callout_call_step(response_id=response_id, ladder_round=ladder_round)


@shared_task(**_LADDER)
def callout_escalate_task(response_id: int, ladder_round: int) -> str:
    return services.callout_escalate_step(response_id=response_id, ladder_round=ladder_round)


@shared_task(**_LADDER)
def callout_coordinator_text_task(activation_id: int, user_id: int) -> str:
    return services.callout_coordinator_text_send(activation_id=activation_id, user_id=user_id)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def deployment_check_ins_overdue_task() -> int:
    """Beat, every five minutes: tell the coordinators once of each deployed supporter overdue to check in."""
    return deploy_site.check_ins_overdue_escalate()


@shared_task(**_LADDER)
def deployment_confirm_text_task(person_id: int) -> str:
    """The neutral text asking an accepted deployed supporter to confirm (activations/deploy_requests.py)."""
    return deploy_requests.deployment_confirm_text_send(person_id=person_id)
