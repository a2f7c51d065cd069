"""Every write to encounters, follow-ups and disclosures. Each runs in the schema of the agency it is given
(agencies.tenancy.agency_service): callers do not switch schemas for it."""

from __future__ import annotations

import datetime
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from activations.selectors import activations_open_for
from activations.services import outreach_contact_logged
from agencies.crypto import data_keys_destroy
from agencies.models import Agency, Role
from agencies.selectors import clinicians_of, supporters_of
from agencies.tenancy import agency_service
from encounters.models import (
    CheckIn,
    CheckInPlan,
    DisclosureRecord,
    Encounter,
    EncounterCoSupporter,
    FollowUp,
    Referral,
)
from encounters.signals import encounters_changed
from governance.models import ResourceEntry
from members.services import request_contacted
from network.audit import AuditAction, audit_record
from network.models import DocumentationStandard, Vocabulary
from network.notify import notify
from network.phone import normalize_number
from network.privilege import profile_of
from network.selectors import policy_for, terms_by_vocabulary
from network.standards import MULTI_VALUED

_SINGLE_CODED = {
    "duration_band": Vocabulary.DURATION_BAND,
    "contact_mode": Vocabulary.CONTACT_MODE,
    "initiator": Vocabulary.INITIATOR,
    "recipient_relation": Vocabulary.RECIPIENT_RELATION,
    "recipient_discipline": Vocabulary.RECIPIENT_DISCIPLINE,
    "role_class": Vocabulary.ROLE_CLASS,
    "referral": Vocabulary.REFERRAL,
}
_MULTI_CODED = {"topics": Vocabulary.TOPIC, "interventions": Vocabulary.INTERVENTION}
if set(_MULTI_CODED.values()) != set(MULTI_VALUED):  # checked at import: an assert would vanish under -O
    raise ImportError("encounters._MULTI_CODED must name exactly the multi-valued vocabularies.")


def _check_codes(standard: DocumentationStandard, values: dict, *, no_session_content: bool = False) -> None:
    # The terms the form offered: a published version's terms are read once per process.
    allowed = {vocabulary: {t.code for t in terms} for vocabulary, terms in terms_by_vocabulary(standard).items()}
    errors = {}
    for field, vocabulary in _SINGLE_CODED.items():
        if values[field] not in allowed.get(vocabulary, set()):
            errors[field] = "Choose one of the listed options."
    for field, vocabulary in _MULTI_CODED.items():
        codes = values[field]
        if field == "topics" and no_session_content:
            if codes:
                errors[field] = ValidationError(
                    "Topics are not recorded: the network's privilege profile forbids recording session content.",
                    code="no_session_content",
                )
            continue
        if not codes:
            errors[field] = "Choose at least one (topics may be 'Undisclosed')."
        elif not set(codes) <= allowed.get(vocabulary, set()):
            errors[field] = "Choose from the listed options."
    if errors:
        raise ValidationError(errors)


def _user_ids(memberships) -> set[int]:
    return set(memberships.values_list("user_id", flat=True))


@agency_service
def encounter_log(
    *,
    author,
    agency: Agency,
    standard: DocumentationStandard,
    submission_key: uuid.UUID,
    occurred_on: datetime.date,
    duration_band: str,
    contact_mode: str,
    initiator: str,
    recipient_relation: str,
    recipient_discipline: str,
    role_class: str,
    topics: list[str],
    interventions: list[str],
    referral: str,
    confidentiality_notice_given: bool,
    visit_number: int = 1,
    referred_to=None,
    escalation: bool = False,
    co_supporters=(),
    notes: str = "",
    follow_up_due_on: datetime.date | None = None,
    outreach_target=None,
    activation=None,
    member_request=None,
    checkin_contact: str = "",
    checkin_channel: str = CheckInPlan.Channel.EMAIL,
    request=None,
) -> tuple[Encounter, bool]:
    """Record a support contact. Returns (encounter, created); the same submission_key twice
    returns the first encounter, so a double tap or a resubmitted form saves once."""
    existing = Encounter.objects.filter(submission_key=submission_key).first()
    if existing is not None:
        if existing.author_id != author.pk:
            raise ValidationError("This form was already used by someone else; reload the page.")
        return existing, False

    values = {
        "duration_band": duration_band,
        "contact_mode": contact_mode,
        "initiator": initiator,
        "recipient_relation": recipient_relation,
        "recipient_discipline": recipient_discipline,
        "role_class": role_class,
        "referral": referral,
        "topics": list(topics),
        "interventions": list(interventions),
    }
    policy = policy_for(agency.network)
    no_content = profile_of(policy).no_session_content
    _check_codes(standard, values, no_session_content=no_content)
    today = timezone.localdate()
    errors = {}
    if occurred_on > today:
        errors["occurred_on"] = "The date cannot be in the future."
    elif occurred_on < today - datetime.timedelta(days=366):
        errors["occurred_on"] = "Encounters more than a year old cannot be logged here; ask your coordinator."
    if not 1 <= visit_number <= 99:
        errors["visit_number"] = "Visit number is between 1 and 99."
    if follow_up_due_on is not None and follow_up_due_on < occurred_on:
        errors["follow_up_due_on"] = "The follow-up cannot be due before the encounter."
    co_ids = {u.pk for u in co_supporters}
    if co_ids and (author.pk in co_ids or not co_ids <= _user_ids(supporters_of(agency))):
        errors["co_supporters"] = "Co-supporters are other peer supporters of this agency."
    if referral == "clinician":
        if referred_to is None or referred_to.pk not in _user_ids(clinicians_of(agency)):
            errors["referred_to"] = "Choose the team clinician the referral goes to."
    elif referred_to is not None:
        errors["referred_to"] = "Only a clinician referral is addressed to a clinician."
    if outreach_target is not None:
        activation = outreach_target.activation
    if activation is not None:
        if not activations_open_for(agency).filter(pk=activation.pk).exists():
            errors["activation"] = "Choose an open activation your agency takes part in."
    if member_request is not None and (
        member_request.assigned_to_id != author.pk or member_request.assigned_agency_id != agency.pk
    ):
        errors["member_request"] = "That request is not given to you in this agency."
    if checkin_contact and checkin_channel == CheckInPlan.Channel.TEXT:
        try:
            checkin_contact = normalize_number(checkin_contact)
        except ValidationError as error:
            errors["checkin_mobile"] = error.messages[0]
    elif checkin_contact and checkin_channel != CheckInPlan.Channel.EMAIL:
        errors["checkin_by"] = "Check-ins go by e-mail or by text."
    notes = (notes or "").strip()
    if notes and no_content:
        errors["notes"] = ValidationError(
            "Notes are not recorded: the network's privilege profile forbids recording session content.",
            code="no_session_content",
        )
    elif notes and not policy.notes_enabled:
        errors["notes"] = "The network does not allow free-text notes."
    if errors:
        raise ValidationError(errors)

    try:
        with transaction.atomic():
            encounter = Encounter(
                submission_key=submission_key,
                standard=standard,
                author=author,
                occurred_on=occurred_on,
                visit_number=visit_number,
                confidentiality_notice_given=confidentiality_notice_given,
                escalation=escalation,
                referred_to=referred_to,
                notes=notes or None,
                activation=activation,
                outreach_target=outreach_target,
                member_request=member_request,
                **values,
            )
            encounter.save()
            if member_request is not None:
                # Only the state and its time reach the public request row.
                request_contacted(actor=author, agency=agency, row=member_request, request=request)
            if checkin_contact:
                _checkins_start(
                    author=author, agency=agency, encounter=encounter, contact=checkin_contact, channel=checkin_channel
                )
            if outreach_target is not None:
                # Only the outreach status, time and follow-up owner reach the shared activation.

                outreach_contact_logged(
                    actor=author,
                    agency=agency,
                    target=outreach_target,
                    referred=referral != "none",
                    follow_up_due_on=follow_up_due_on,
                )
            if co_ids:  # a new encounter has none yet: one INSERT, not the related manager's read-then-write
                EncounterCoSupporter.objects.bulk_create(
                    EncounterCoSupporter(encounter=encounter, user_id=user_id) for user_id in co_ids
                )
            if follow_up_due_on is not None:
                FollowUp.objects.create(encounter=encounter, owner=author, due_on=follow_up_due_on)
            # The audit chain's lock before the agency's snapshot-state row, as every service that takes both does
            # (referrals too): the other order could deadlock with them.
            audit_record(
                action=AuditAction.ENCOUNTER_LOGGED, actor=author, agency=agency, obj=encounter, request=request
            )
            # Reporting marks the agency's snapshots stale in this transaction (reporting/receivers.py).
            encounters_changed.send(sender=Encounter, agency=agency)
    except IntegrityError:
        # Two submissions of one form raced: the other one saved it.
        existing = Encounter.objects.filter(submission_key=submission_key).first()
        if existing is None:
            raise
        return existing, False
    return encounter, True


@agency_service
def followup_complete(*, actor, agency: Agency, follow_up: FollowUp, outcome: str, request=None) -> FollowUp:
    if outcome not in FollowUp.Outcome.values:
        raise ValidationError({"outcome": "Choose an outcome from the list."})
    with transaction.atomic():
        follow_up = FollowUp.objects.select_for_update().get(pk=follow_up.pk)
        if follow_up.status == FollowUp.Status.DONE:
            return follow_up
        follow_up.status = FollowUp.Status.DONE
        follow_up.outcome = outcome
        follow_up.completed_at = timezone.now()
        follow_up.save(update_fields=["status", "outcome", "completed_at"])
        audit_record(action=AuditAction.FOLLOWUP_COMPLETED, actor=actor, agency=agency, obj=follow_up, request=request)
    return follow_up


@agency_service
def followup_reassign(*, actor, agency: Agency, follow_up: FollowUp, owner, request=None) -> FollowUp:
    if owner.pk not in _user_ids(supporters_of(agency)):
        raise ValidationError({"owner": "Follow-ups go to a peer supporter or coordinator of this agency."})
    with transaction.atomic():
        follow_up = FollowUp.objects.select_for_update().get(pk=follow_up.pk)
        if follow_up.status == FollowUp.Status.DONE:
            raise ValidationError("This follow-up is already completed.")
        follow_up.owner = owner
        follow_up.reminded_at = None
        follow_up.escalated_at = None
        follow_up.save(update_fields=["owner", "reminded_at", "escalated_at"])
        audit_record(action=AuditAction.FOLLOWUP_REASSIGNED, actor=actor, agency=agency, obj=follow_up, request=request)
    return follow_up


@agency_service
def disclosure_record(
    *,
    actor,
    agency: Agency,
    encounter: Encounter,
    exception: str,
    disclosed_at: datetime.datetime,
    notified: list[str],
    written_notice_sent_on: datetime.date | None = None,
    request=None,
) -> DisclosureRecord:
    errors = {}
    if exception not in DisclosureRecord.Exception_.values:
        errors["exception"] = "Choose the legal exception that applied."
    if not notified or not set(notified) <= set(DisclosureRecord.Notified.values):
        errors["notified"] = "Choose who was notified."
    if disclosed_at > timezone.now():
        errors["disclosed_at"] = "The disclosure cannot be in the future."
    if written_notice_sent_on is not None and written_notice_sent_on < timezone.localtime(disclosed_at).date():
        errors["written_notice_sent_on"] = "Written notice follows the disclosure."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        record = DisclosureRecord.objects.create(
            encounter=encounter,
            exception=exception,
            disclosed_at=disclosed_at,
            notified=list(notified),
            written_notice_sent_on=written_notice_sent_on,
            recorded_by=actor,
        )
        if not encounter.escalation:
            Encounter.objects.filter(pk=encounter.pk).update(escalation=True)
        audit_record(action=AuditAction.DISCLOSURE_RECORDED, actor=actor, agency=agency, obj=record, request=request)
    return record


@agency_service
def disclosure_notice_sent(*, actor, agency: Agency, record: DisclosureRecord, sent_on: datetime.date, request=None):
    if sent_on < timezone.localtime(record.disclosed_at).date() or sent_on > timezone.localdate():
        raise ValidationError({"written_notice_sent_on": "Pick a date between the disclosure and today."})
    with transaction.atomic():
        updated = DisclosureRecord.objects.filter(pk=record.pk, written_notice_sent_on__isnull=True).update(
            written_notice_sent_on=sent_on
        )
        if not updated:
            raise ValidationError("The written notice date is already recorded.")
        audit_record(
            action=AuditAction.DISCLOSURE_NOTICE_RECORDED, actor=actor, agency=agency, obj=record, request=request
        )


@agency_service
def encounter_set_legal_hold(*, actor, agency: Agency, encounter: Encounter, hold: bool, request=None) -> None:
    with transaction.atomic():
        Encounter.objects.filter(pk=encounter.pk).update(legal_hold=hold)
        audit_record(action=AuditAction.LEGAL_HOLD_CHANGED, actor=actor, agency=agency, obj=encounter, request=request)


# --- Check-ins after support (docs/members.md) -------------------------------------------------------------------


def _checkins_start(*, author, agency: Agency, encounter: Encounter, contact: str, channel: str) -> CheckInPlan:
    """The member agreed to check-ins: one plan with its own key for the contact, one check-in per day of the
    network's schedule counted from the contact. Called inside encounter_log's transaction (agency schema)."""
    days = sorted(set(policy_for(agency.network).checkin_days))
    plan = CheckInPlan(
        encounter=encounter,
        supporter=author,
        channel=channel,
        contact=contact.strip(),  # an e-mail address, or an E.164 number (normalised by encounter_log)
        days=days,
        started_on=encounter.occurred_on,
    )
    plan.save()
    CheckIn.objects.bulk_create(
        [CheckIn(plan=plan, due_on=encounter.occurred_on + datetime.timedelta(days=day)) for day in days]
    )
    audit_record(action=AuditAction.CHECKINS_STARTED, actor=author, agency=agency, obj=plan)
    return plan


@agency_service
def checkin_contact_destroy(*, agency: Agency, plan: CheckInPlan) -> None:
    """Shred the plan's own key and empty the contact: nothing can send to the member, or read who they were."""
    if plan.contact_destroyed_at is not None:
        return
    with transaction.atomic():
        data_keys_destroy(subject=plan.uuid)
        CheckInPlan.objects.filter(pk=plan.pk).update(**CheckInPlan.shredded_columns())
        audit_record(action=AuditAction.CHECKIN_CONTACT_DESTROYED, agency=agency, obj=plan)


@agency_service
def checkin_contacts_destroy_all(*, agency: Agency) -> int:
    """Shred every plan's own key (the agency leaves the network: agencies.signals.agency_destroying). The rows
    are only read: the schema is dropped right after, in the same transaction."""
    plans = list(CheckInPlan.objects.filter(contact_destroyed_at__isnull=True).values_list("pk", "uuid"))
    for pk, subject in plans:
        data_keys_destroy(subject=subject)
        audit_record(
            action=AuditAction.CHECKIN_CONTACT_DESTROYED,
            agency=agency,
            object_type=CheckInPlan._meta.label_lower,
            object_id=pk,
        )
    return len(plans)


@agency_service
def checkins_stop(*, agency: Agency, plan: CheckInPlan) -> CheckInPlan:
    """One tap from the member stops every check-in still to come, and the contact is destroyed at once."""
    with transaction.atomic():
        plan = CheckInPlan.objects.select_for_update().get(pk=plan.pk)
        if plan.ended_at is None:
            plan.ended_at = timezone.now()
            plan.stopped_by_member = True
            plan.save(update_fields=["ended_at", "stopped_by_member"])
            audit_record(action=AuditAction.CHECKINS_STOPPED, agency=agency, obj=plan)  # no request: no address
        checkin_contact_destroy(agency=agency, plan=plan)
    return plan


@agency_service
def checkin_answer(*, agency: Agency, checkin: CheckIn, answer: str) -> CheckIn:
    """The member's answer (the first one counts). "I'd like a call" becomes a follow-up for their supporter, due
    today; "I need help now" too, and their supporter and the team's coordinators are alerted (no member detail)."""
    if answer not in CheckIn.Answer.values:
        raise ValidationError({"answer": "Choose one of the answers."}, code="checkin_answer_unknown")
    with transaction.atomic():
        checkin = CheckIn.objects.select_for_update().select_related("plan").get(pk=checkin.pk)
        if checkin.answer:
            return checkin
        checkin.answer = answer
        checkin.answered_at = timezone.now()
        plan = checkin.plan
        if answer in (CheckIn.Answer.CALL, CheckIn.Answer.HELP):
            checkin.follow_up = FollowUp.objects.create(
                encounter_id=plan.encounter_id, owner=plan.supporter, due_on=timezone.localdate()
            )
        checkin.save(update_fields=["answer", "answered_at", "follow_up"])
        audit_record(action=AuditAction.CHECKIN_ANSWERED, agency=agency, obj=checkin)  # no request: no address
        if answer in (CheckIn.Answer.CALL, CheckIn.Answer.HELP):
            link = settings.MUSTER_BASE_URL + reverse("followup_list", kwargs={"agency_slug": agency.slug})
            recipients = [plan.supporter.email]
            if answer == CheckIn.Answer.HELP:
                recipients += list(
                    supporters_of(agency).filter(role=Role.COORDINATOR).values_list("user__email", flat=True)
                )
            notify(
                sorted(set(recipients)),
                "checkin_alert",
                {"agency": agency, "urgent": answer == CheckIn.Answer.HELP, "link": link},
            )
    return checkin


# --- Referrals to the network's directory ------------------------------------------------------------------------

REFERRAL_FOLLOW_UP_DAYS = 7  # when the supporter first checks the member reached the provider


def _referable(agency: Agency, resource: ResourceEntry) -> None:
    if resource.network_id != agency.network_id or not resource.active:
        raise ValidationError(
            {"resource": ValidationError("Choose a listed entry of the network's directory.", code="not_listed")}
        )


def _referral_create(*, actor, encounter: Encounter, resource: ResourceEntry, need: str, due_on) -> Referral:
    follow_up = FollowUp.objects.create(encounter=encounter, owner=actor, due_on=due_on)
    return Referral.objects.create(
        encounter=encounter, resource=resource, need=need, referred_by=actor, follow_up=follow_up
    )


@agency_service
def referral_make(
    *,
    actor,
    agency: Agency,
    encounter: Encounter,
    resource: ResourceEntry,
    need: str = "",
    follow_up_due_on: datetime.date | None = None,
    request=None,
) -> Referral:
    """Refer the member of `encounter` to a directory entry. The referral is a follow-up of the supporter who
    made it, due in REFERRAL_FOLLOW_UP_DAYS unless given."""
    _referable(agency, resource)
    today = timezone.localdate()
    due_on = follow_up_due_on or today + datetime.timedelta(days=REFERRAL_FOLLOW_UP_DAYS)
    if due_on < today:
        raise ValidationError({"follow_up_due_on": ValidationError("Pick today or a later day.", code="past_due")})
    if Referral.objects.filter(encounter=encounter, resource=resource).exists():
        raise ValidationError(
            {"resource": ValidationError("This member was already referred there from this encounter.", code="twice")}
        )
    with transaction.atomic():
        referral = _referral_create(actor=actor, encounter=encounter, resource=resource, need=need, due_on=due_on)
        audit_record(action=AuditAction.REFERRAL_MADE, actor=actor, agency=agency, obj=referral, request=request)
        encounters_changed.send(sender=Referral, agency=agency)
    return referral


@agency_service
def referral_update(
    *,
    actor,
    agency: Agency,
    referral: Referral,
    status: str,
    next_resource: ResourceEntry | None = None,
    request=None,
) -> Referral:
    """Record how a referral went. Attended, declined and unanswered end its follow-up; waitlisted keeps it open
    (the supporter checks back) unless `next_resource` is given: then the member is referred on to that entry in
    the same step and the new referral carries the follow-up."""
    if status not in Referral.Status.values or status == Referral.Status.REFERRED:
        raise ValidationError({"status": ValidationError("Choose how the referral went.", code="status")})
    if next_resource is not None:
        if status != Referral.Status.WAITLISTED:
            raise ValidationError({"status": ValidationError("Refer on after a waitlist.", code="next_needs_waitlist")})
        _referable(agency, next_resource)
    with transaction.atomic():
        referral = Referral.objects.select_for_update().select_related("follow_up").get(pk=referral.pk)
        if not referral.is_open:
            raise ValidationError(ValidationError("This referral is already closed.", code="closed"))
        referral.status = status
        referral.status_changed_at = timezone.now()
        closing = Referral.CLOSING.get(status)
        if next_resource is not None:
            if Referral.objects.filter(encounter_id=referral.encounter_id, resource=next_resource).exists():
                raise ValidationError(
                    {"resource": ValidationError("This member was already referred there.", code="twice")}
                )
            due_on = timezone.localdate() + datetime.timedelta(days=REFERRAL_FOLLOW_UP_DAYS)
            referral.next_referral = _referral_create(
                actor=actor, encounter=referral.encounter, resource=next_resource, need=referral.need, due_on=due_on
            )
            closing = FollowUp.Outcome.REFERRED
        referral.save(update_fields=["status", "status_changed_at", "next_referral"])
        if closing and referral.follow_up.status == FollowUp.Status.OPEN:
            followup_complete(
                actor=actor, agency=agency, follow_up=referral.follow_up, outcome=closing, request=request
            )
        audit_record(action=AuditAction.REFERRAL_UPDATED, actor=actor, agency=agency, obj=referral, request=request)
        if referral.next_referral is not None:
            audit_record(
                action=AuditAction.REFERRAL_MADE,
                actor=actor,
                agency=agency,
                obj=referral.next_referral,
                request=request,
            )
        encounters_changed.send(sender=Referral, agency=agency)
    return referral
