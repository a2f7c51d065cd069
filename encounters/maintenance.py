"""Per-agency maintenance that beat runs daily (see encounters/tasks.py); callable by hand too. Each function
runs in the schema of the agency it is given (agencies.tenancy.agency_service)."""

from __future__ import annotations

import datetime
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, Max, OuterRef
from django.urls import reverse
from django.utils import timezone

from activations import selectors as activation_selectors
from activations import services as activation_services
from agencies.models import Agency, Membership, Role
from agencies.tenancy import agency_service
from encounters import selectors, services
from encounters.models import CheckIn, CheckInPlan, Encounter, FollowUp
from network import phone
from network.audit import AuditAction, audit_record
from network.notify import notify
from network.selectors import policy_for
from network.services import reminder_text_queue

logger = logging.getLogger(__name__)


def _remind(owner, due: datetime.date, agency: Agency, link: str) -> None:
    notify(owner.email, "follow_up_reminder", {"due": due, "agency_name": agency.name, "link": link})
    reminder_text_queue(user=owner)  # and by text, for those who chose it (docs/callout.md)


@agency_service
def follow_up_reminders_send(*, agency: Agency, today: datetime.date | None = None) -> dict[str, int]:
    """E-mail owners of follow-ups due soon (once), and the agency's coordinators about overdue ones (once).

    A supporter's follow-ups are one list whatever created them: the agency's own (after an encounter) and the
    activation protocol's scheduled ones of the members they hold through this agency (activations app).
    E-mails carry dates and a link only: never who the member is or what the contact was about.
    """
    today = today or timezone.localdate()
    policy = policy_for(agency.network)
    horizon = today + datetime.timedelta(days=policy.followup_reminder_days)
    link = settings.MUSTER_BASE_URL + reverse("followup_list", kwargs={"agency_slug": agency.slug})
    reminded = 0
    due_soon = FollowUp.objects.filter(
        status=FollowUp.Status.OPEN, reminded_at__isnull=True, due_on__gte=today, due_on__lte=horizon
    ).select_related("owner")
    for follow_up in due_soon:
        with transaction.atomic():
            if not FollowUp.objects.filter(pk=follow_up.pk, reminded_at__isnull=True).update(
                reminded_at=timezone.now()
            ):
                continue
            audit_record(action=AuditAction.FOLLOWUP_REMINDED, agency=agency, obj=follow_up)
            _remind(follow_up.owner, follow_up.due_on, agency, link)
        reminded += 1
    # The reminder goes to the supporter themself: members they hold on a deployment included (issue 19).
    scheduled_soon = activation_selectors.scheduled_follow_ups_open(agency=agency, include_deployed=True).filter(
        reminded_at__isnull=True, due_on__gte=today, due_on__lte=horizon
    )
    for scheduled in scheduled_soon:
        with transaction.atomic():
            if not activation_services.target_follow_up_mark_reminded(agency=agency, follow_up=scheduled):
                continue
            _remind(scheduled.target.assigned_supporter, scheduled.due_on, agency, link)
        reminded += 1

    overdue = list(
        FollowUp.objects.filter(status=FollowUp.Status.OPEN, escalated_at__isnull=True, due_on__lt=today)
        .select_related("owner")
        .order_by("due_on")
    )
    overdue_scheduled = list(
        activation_selectors.scheduled_follow_ups_open(agency=agency).filter(
            escalated_at__isnull=True, due_on__lt=today
        )
    )
    escalated = 0
    coordinators = list(
        Membership.objects.filter(agency=agency, role=Role.COORDINATOR, is_active=True).values_list(
            "user__email", flat=True
        )
    )
    # With no coordinator to tell, overdue follow-ups stay unescalated until one is appointed.
    if (overdue or overdue_scheduled) and coordinators:
        with transaction.atomic():
            claimed = list(
                FollowUp.objects.select_for_update(skip_locked=True)
                .filter(pk__in=[f.pk for f in overdue], escalated_at__isnull=True)
                .values_list("pk", flat=True)
            )
            FollowUp.objects.filter(pk__in=claimed).update(escalated_at=timezone.now())
            overdue = [f for f in overdue if f.pk in set(claimed)]
            for follow_up in overdue:
                audit_record(action=AuditAction.FOLLOWUP_ESCALATED, agency=agency, obj=follow_up)
            claimed_scheduled = set(
                activation_services.target_follow_ups_mark_escalated(
                    agency=agency, follow_up_ids=[f.pk for f in overdue_scheduled]
                )
            )
            overdue_scheduled = [f for f in overdue_scheduled if f.pk in claimed_scheduled]
            due_and_owner = sorted(
                [(f.due_on, f.owner.get_full_name(), False) for f in overdue]
                + [(f.due_on, f.target.assigned_supporter.get_full_name(), True) for f in overdue_scheduled]
            )
            if due_and_owner:
                rows = [
                    {"due": due, "owner": owner, "activation": by_protocol} for due, owner, by_protocol in due_and_owner
                ]
                notify(coordinators, "follow_up_overdue", {"overdue": rows, "agency_name": agency.name, "link": link})
        escalated = len(overdue) + len(overdue_scheduled)
    return {"reminded": reminded, "escalated": escalated}


@agency_service
def notes_purge(*, agency: Agency, now: datetime.datetime | None = None) -> int:
    """Clear notes the retention rule no longer allows: every follow-up closed (or none) for
    `notes_retention_days`, counted from the last completion or from the encounter, and no legal hold."""
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(days=policy_for(agency.network).notes_retention_days)
    open_follow_up = FollowUp.objects.filter(encounter=OuterRef("pk"), status=FollowUp.Status.OPEN)
    candidates = (
        Encounter.objects.filter(notes__isnull=False, legal_hold=False)
        .annotate(has_open=Exists(open_follow_up), last_closed=Max("follow_ups__completed_at"))
        .filter(has_open=False)
    )
    purged = 0
    for encounter in candidates.iterator():
        closed_since = encounter.last_closed or encounter.created_at
        if closed_since > cutoff:
            continue
        with transaction.atomic():
            done = Encounter.objects.filter(pk=encounter.pk, legal_hold=False).update(notes=None, notes_purged_at=now)
            if done:  # a legal hold set meanwhile wins
                audit_record(action=AuditAction.NOTES_PURGED, agency=agency, obj=encounter)
        purged += done
    return purged


# The whole text: no name, no agency beyond "peer team", no incident; the link asks before it records anything.
CHECKIN_TEXT = (
    "Muster check-in from your peer team: how are you doing? Answer here: {link}. Reply STOP to end check-ins."
)


@agency_service
def checkins_send_due(*, agency: Agency, today: datetime.date | None = None) -> int:
    """Send each check-in that is due, once, to the member who agreed: by e-mail, or by text through the phone
    provider (runs in the beat task, so sending here is sending from a worker). Either carries a link to a page
    that asks before it records anything (a scanner opening the link records nothing). After a plan's last
    check-in its contact is destroyed. A number that texted STOP gets nothing: its plan ends as if the member had
    stopped it. Texts wait while no provider is configured (production without MUSTER_SMS_*)."""
    today = today or timezone.localdate()
    # A member who texted STOP: every open plan to that number ends today, its contact destroyed, whenever its
    # next check-in is due (each plan's contact is under its own key: nothing finds plans by number otherwise).
    open_by_text = CheckInPlan.objects.filter(
        ended_at__isnull=True, channel=CheckInPlan.Channel.TEXT, contact_destroyed_at__isnull=True
    )
    for plan in open_by_text:
        if phone.number_opted_out(plan.contact):
            services.checkins_stop(agency=agency, plan=plan)
    sent = 0
    channels = [CheckInPlan.Channel.EMAIL] + ([CheckInPlan.Channel.TEXT] if phone.phone_enabled() else [])
    due = CheckIn.objects.filter(
        sent_at__isnull=True, due_on__lte=today, plan__ended_at__isnull=True, plan__channel__in=channels
    ).select_related("plan")
    provider_busy = False
    for checkin in due:
        plan = checkin.plan
        if plan.channel == CheckInPlan.Channel.TEXT:
            if provider_busy:
                continue  # the provider did not take the last one: the rest wait for the next run, not pressed on it
            if phone.number_opted_out(plan.contact):
                services.checkins_stop(agency=agency, plan=plan)
                continue
        try:
            with transaction.atomic():
                if not CheckIn.objects.filter(pk=checkin.pk, sent_at__isnull=True).update(sent_at=timezone.now()):
                    continue
                token = selectors.checkin_token(agency, checkin)
                link = settings.MUSTER_BASE_URL + reverse("checkin_answer", kwargs={"checkin_token": token})
                if plan.channel == CheckInPlan.Channel.TEXT:
                    message = phone.text_send_to_number(
                        number=plan.contact, body=CHECKIN_TEXT.format(link=link), purpose="checkin", ref_id=checkin.pk
                    )
                    if phone.failed_for_now(message):
                        raise _StillDue
                else:
                    notify(plan.contact, "checkin", {"link": link})
                audit_record(action=AuditAction.CHECKIN_SENT, agency=agency, obj=checkin)
                if not CheckIn.objects.filter(plan=plan, sent_at__isnull=True).exists():
                    CheckInPlan.objects.filter(pk=plan.pk).update(ended_at=timezone.now())
                    services.checkin_contact_destroy(agency=agency, plan=plan)
        except _StillDue:
            # Rolled back: the check-in stays due, its contact kept, and the next run sends it (a day late, not lost).
            logger.warning("check-ins by text stay due: the provider did not take one now (rate limit or unavailable)")
            provider_busy = True
            continue
        sent += 1
    return sent


class _StillDue(Exception):
    """The provider could not take a check-in's text now: undo marking it sent."""
