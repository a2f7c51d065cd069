"""Every write to an activation. Each one appends to the activation's timeline and the audit log."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from guardian.shortcuts import assign_perm

from activations.access import COORDINATE, SUPPORT, activation_perms_for
from activations.models import (
    Activation,
    ActivationEvent,
    CalloutResponse,
    ChecklistItem,
    IncidentType,
    OutreachTarget,
    Participation,
    TargetFollowUp,
)
from activations.selectors import (
    FINAL_STATUSES,
    NOT_A_PARTICIPATING_SUPPORTER,
    activation_supporters,
    after_action_summary,
    assignment_candidate,
    leadership_summary,
    participating_agencies,
)
from agencies import crypto
from agencies.models import Agency, Membership, Role
from agencies.roster.selectors import readiness_problem
from agencies.selectors import SUPPORTING_ROLES
from agencies.services import role_group
from governance.models import Scope
from governance.selectors import agreement_covering, protocol_for
from network import channels, phone
from network import services as network_services
from network.audit import AuditAction, audit_record
from network.channels import Channel
from network.models import MobileNumber, PhoneMessage
from network.notify import notify
from network.outbox import outbox_enqueue
from network.selectors import policy_for

Kind = ActivationEvent.Kind


def _event(
    activation,
    kind,
    *,
    actor=None,
    agency=None,
    target=None,
    detail: str = "",
    deployment=None,
    subject=None,
    at=None,
) -> None:
    """Append to the activation's timeline. `at`: when it happened, when the service was told the time (a check-in
    records the moment it took); else now."""
    ActivationEvent.objects.create(
        at=at or timezone.now(),
        activation=activation,
        kind=kind,
        actor=actor,
        agency=agency,
        target=target,
        detail=detail[:64],
        deployment=deployment,
        subject=subject,
    )


NO_RIGHTS = "You hold no rights in this activation (an active membership in an active, participating agency)."


def _require(actor, activation: Activation, *perms: str) -> None:
    """The service's own check, the same rule the pages apply (activations.access.activation_perms_for):
    rights come only from an active membership in an active, participating agency, or a network role.
    A suspended agency's coordinators and supporters are refused here even if a page let them through."""
    if not activation_perms_for(actor, activation) & set(perms):
        raise ValidationError(NO_RIGHTS, code="no_rights")


# --- Opening and joining ------------------------------------------------------------------------------


def _grant(activation: Activation, agency: Agency) -> None:
    """Object permissions go to the agency's role groups, so later role changes follow automatically."""
    assign_perm("activations.coordinate_activation", role_group(agency, Role.COORDINATOR), activation)
    for role in SUPPORTING_ROLES:
        assign_perm("activations.support_activation", role_group(agency, role), activation)
    assign_perm("activations.view_activation_summary", role_group(agency, Role.CHIEF), activation)


def activation_open(
    *,
    actor,
    lead_agency: Agency,
    incident_type: str,
    name: str,
    occurred_at: datetime.datetime,
    location: str,
    participating: list[Agency] = (),
    request=None,
) -> Activation:
    if incident_type not in IncidentType.values:
        raise ValidationError({"incident_type": "Choose the type of incident."})
    if occurred_at > timezone.now() + datetime.timedelta(minutes=5):
        raise ValidationError({"occurred_at": "The incident cannot be in the future."})
    if not lead_agency.is_active:
        raise ValidationError({"lead_agency": "The lead agency is not active."})
    with transaction.atomic():
        activation = Activation(
            network=lead_agency.network,
            incident_type=incident_type,
            name=name.strip(),
            occurred_at=occurred_at,
            location=location.strip(),
            lead_agency=lead_agency,
            opened_by=actor,
        )
        activation.full_clean()
        activation.save()
        _protocol_apply(activation)
        _event(activation, Kind.OPENED, actor=actor, agency=lead_agency, detail=incident_type)
        audit_record(
            action=AuditAction.ACTIVATION_OPENED, actor=actor, agency=lead_agency, obj=activation, request=request
        )
        for agency in [lead_agency, *[a for a in participating if a.pk != lead_agency.pk]]:
            _add_agency(actor=actor, activation=activation, agency=agency, request=request)
    return activation


def _protocol_apply(activation: Activation) -> None:
    """Lay out the incident type's protocol: the checklist with due times counted from the incident,
    and the follow-up schedule every affected member added later receives."""
    protocol = protocol_for(activation.network, activation.incident_type)
    if protocol is None:
        return
    activation.protocol = protocol
    activation.follow_up_days = list(protocol.follow_up_days)
    activation.save(update_fields=["protocol", "follow_up_days"])
    hour = datetime.timedelta(hours=1)
    ChecklistItem.objects.bulk_create(
        ChecklistItem(
            activation=activation,
            position=step.position,
            title=step.title,
            not_before=activation.occurred_at + step.not_before_hours * hour,
            due_at=activation.occurred_at + step.due_hours * hour,
        )
        for step in protocol.steps.all()
    )


def activation_add_agency(*, actor, activation: Activation, agency: Agency, request=None) -> Participation:
    _require(actor, activation, COORDINATE)
    return _add_agency(actor=actor, activation=activation, agency=agency, request=request)


def _add_agency(*, actor, activation: Activation, agency: Agency, request=None) -> Participation:
    """Join without the rights check: `activation_open` adds the lead first, which is what grants."""
    if not activation.is_open:
        raise ValidationError("Agencies join only while the activation is open.")
    if not agency.is_active or agency.network_id != activation.network_id:
        raise ValidationError({"agency": "Choose an active agency of the network."})
    lead = activation.lead_agency
    if agency.pk != lead.pk and agreement_covering(lead, agency, Scope.JOINT_ACTIVATION) is None:
        message = (
            f"No collaboration agreement in force covers joint activations between {lead.name} "
            f"and {agency.name}. A state admin records agreements under Network > Agreements."
        )
        raise ValidationError({"agency": ValidationError(message, code="no_joint_activation_agreement")})
    with transaction.atomic():
        participation, created = Participation.objects.get_or_create(
            activation=activation, agency=agency, defaults={"added_by": actor}
        )
        if created:
            _grant(activation, agency)
            _event(activation, Kind.AGENCY_JOINED, actor=actor, agency=agency)
            audit_record(
                action=AuditAction.ACTIVATION_AGENCY_JOINED, actor=actor, agency=agency, obj=activation, request=request
            )
    return participation


# --- Callout ----------------------------------------------------------------------------------------------


def callout_send(*, actor, activation: Activation, request=None) -> int:
    """Call out the designated, trained and available supporters of the participating agencies (once
    each), by e-mail and in the app. Returns how many were newly called out."""
    if not activation.is_open:
        raise ValidationError("The activation is not open.")
    _require(actor, activation, COORDINATE)
    link = settings.MUSTER_BASE_URL + reverse("activation_mine", kwargs={"activation_uuid": activation.uuid})
    sent = 0
    with transaction.atomic():
        incident_date = timezone.localtime(activation.occurred_at).date()
        members = [
            m for m in activation_supporters(activation) if not readiness_problem(m, incident_date=incident_date)
        ]
        emails = []
        reachable = channels.users_with_phone([m.user_id for m in members])
        for membership in members:
            response, created = CalloutResponse.objects.get_or_create(
                activation=activation, supporter=membership.user, defaults={"agency": membership.agency}
            )
            if created:
                sent += 1
                emails.append(membership.user.email)
                if membership.user_id in reachable:
                    _ladder_start(response)
        _event(activation, Kind.CALLOUT_SENT, actor=actor, detail=str(sent))
        audit_record(action=AuditAction.ACTIVATION_CALLOUT_SENT, actor=actor, obj=activation, request=request)
        context = {
            "incident_type": activation.get_incident_type_display(),
            "occurred_at": activation.occurred_at,
            "link": link,
        }
        for email in emails:
            notify(email, "callout", context)  # one mail each: no supporter sees who else was called out
    return sent


def callout_answer(
    *,
    supporter,
    activation: Activation,
    answer: str,
    involved: bool,
    supervises: bool | None = False,
    via: str = "web",
    request=None,
):
    """Record a supporter's answer: on the web page, or by text or keypad (`via`), the same way. `supervises`:
    None keeps what they declared before (a text or keypad answer cannot say it)."""
    if answer not in (CalloutResponse.Answer.AVAILABLE, CalloutResponse.Answer.UNAVAILABLE):
        raise ValidationError({"answer": "Answer available or unavailable."})
    _require(supporter, activation, SUPPORT)
    with transaction.atomic():
        response = (
            CalloutResponse.objects.select_for_update().filter(activation=activation, supporter=supporter).first()
        )
        if response is None:
            raise ValidationError("You were not called out for this activation.")
        response.answer = answer
        response.involved = involved
        if supervises is not None:
            response.supervises_affected = supervises
        response.answered_at = timezone.now()
        response.answered_via = via
        if response.channel_state != CalloutResponse.ChannelState.NONE:
            response.channel_state = CalloutResponse.ChannelState.REPLIED  # the ladder stops here
        response.save(
            update_fields=["answer", "involved", "supervises_affected", "answered_at", "answered_via", "channel_state"]
        )
        detail = f"{answer}-involved" if involved else answer
        _event(activation, Kind.CALLOUT_ANSWERED, actor=supporter, agency=response.agency, detail=detail)
        audit_record(
            action=AuditAction.ACTIVATION_CALLOUT_ANSWERED,
            actor=supporter,
            agency=response.agency,
            obj=activation,
            request=request,
        )
        if involved:
            # Privilege would not hold: their open assignments go back to the board, unassigned.
            held = (
                OutreachTarget.objects.select_for_update()
                .filter(activation=activation, assigned_supporter=supporter)
                .exclude(status__in=FINAL_STATUSES)
            )
            for target in held:
                OutreachTarget.objects.filter(pk=target.pk).update(
                    assigned_supporter=None, assigned_agency=None, assigned_at=None
                )
                _event(activation, Kind.UNASSIGNED, actor=supporter, target=target)
    return response


# --- Affected members --------------------------------------------------------------------------------------


def parse_member_lines(text: str) -> list[tuple[str, str]]:
    """A pasted list: one person per line, 'Name' or 'Name, role'. Blank lines are skipped."""
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, _, role = line.partition(",")
        name, role = " ".join(name.split()), " ".join(role.split())
        if not name:
            raise ValidationError(f"Line {number}: a name is needed before the comma.")
        if len(name) > 150 or len(role) > 60:
            raise ValidationError(f"Line {number}: names take 150 characters at most, roles 60.")
        entries.append((name, role))
    if not entries:
        raise ValidationError("Paste at least one name.")
    if len(entries) > 500:
        raise ValidationError("Paste at most 500 names at a time.")
    return entries


def targets_add(
    *, actor, activation: Activation, home_agency: Agency, entries: list[tuple[str, str]], exposure: str, request=None
) -> list[OutreachTarget]:
    """Add affected members. One that matches someone already listed (blind index) is flagged as a
    possible duplicate and kept out of assignment until a coordinator merges or keeps it."""
    if not activation.is_open:
        raise ValidationError("Members are added only while the activation is open (not after demobilizing).")
    if exposure not in OutreachTarget.Exposure.values:
        raise ValidationError({"exposure": "Choose the exposure."})
    _require(actor, activation, COORDINATE)
    if not home_agency.is_active or home_agency.pk not in {a.pk for a in participating_agencies(activation)}:
        message = "The member's agency must be active and take part in the activation."
        raise ValidationError({"home_agency": ValidationError(message, code="home_agency_not_participating")})
    added = []
    with transaction.atomic():
        Activation.objects.select_for_update().get(pk=activation.pk)  # serialise adds: duplicates are seen
        for name, role in entries:
            index = crypto.blind_index(activation, name)
            original = (
                OutreachTarget.objects.filter(
                    activation=activation,
                    name_index=index,
                    merged_into__isnull=True,
                    possible_duplicate_of__isnull=True,
                )
                .order_by("added_at")
                .first()
            )
            target = OutreachTarget(
                activation=activation,
                name=name,
                name_index=index,
                home_agency=home_agency,
                role=role,
                exposure=exposure,
                added_by=actor,
                possible_duplicate_of=original,
            )
            target.save()
            _follow_ups_schedule(activation, target)
            _event(activation, Kind.MEMBER_ADDED, actor=actor, agency=home_agency, target=target, detail=exposure)
            if original is not None:
                _event(activation, Kind.DUPLICATE_FLAGGED, actor=actor, target=target)
            added.append(target)
        audit_record(
            action=AuditAction.ACTIVATION_MEMBERS_ADDED,
            actor=actor,
            agency=home_agency,
            obj=activation,
            request=request,
        )
    return added


def _follow_ups_schedule(activation: Activation, target: OutreachTarget) -> None:
    incident_day = timezone.localtime(activation.occurred_at).date()
    TargetFollowUp.objects.bulk_create(
        TargetFollowUp(target=target, days_after=days, due_on=incident_day + datetime.timedelta(days=days))
        for days in activation.follow_up_days
    )


def target_merge(*, actor, target: OutreachTarget, request=None) -> OutreachTarget:
    """The flagged record is the same person: fold it into the original, which keeps its assignment."""
    _require(actor, target.activation, COORDINATE)
    with transaction.atomic():
        target = OutreachTarget.objects.select_for_update().get(pk=target.pk)
        if target.possible_duplicate_of_id is None:
            raise ValidationError("This member is not flagged as a duplicate.")
        target.merged_into_id = target.possible_duplicate_of_id
        target.save(update_fields=["merged_into"])
        _event(target.activation, Kind.MERGED, actor=actor, target=target)
        audit_record(action=AuditAction.ACTIVATION_DUPLICATE_RESOLVED, actor=actor, obj=target, request=request)
    return target


def target_keep_separate(*, actor, target: OutreachTarget, request=None) -> OutreachTarget:
    _require(actor, target.activation, COORDINATE)
    with transaction.atomic():
        target = OutreachTarget.objects.select_for_update().get(pk=target.pk)
        if target.possible_duplicate_of_id is None or target.merged_into_id is not None:
            raise ValidationError("This member is not waiting for a duplicate decision.")
        target.possible_duplicate_of = None
        target.save(update_fields=["possible_duplicate_of"])
        _event(target.activation, Kind.DUPLICATE_DISMISSED, actor=actor, target=target)
        audit_record(action=AuditAction.ACTIVATION_DUPLICATE_RESOLVED, actor=actor, obj=target, request=request)
    return target


# --- Assignment ----------------------------------------------------------------------------------------------


def target_assign(
    *,
    actor,
    target: OutreachTarget,
    supporter,
    expected_supporter_id: int | None,
    agency: Agency | None = None,
    request=None,
):
    """Assign (or reassign) a member to exactly one supporter, under `agency` (the one the coordinator
    chose: a supporter may belong to several participating agencies; see `assignment_candidate`).

    `expected_supporter_id` is who the coordinator saw assigned when they chose: if someone else
    changed it meanwhile, nothing is written and the coordinator is told, so two coordinators
    assigning at the same moment cannot both win.
    """
    activation = target.activation
    if not activation.is_open:
        raise ValidationError("Assignments change only while the activation is open.")
    _require(actor, activation, COORDINATE)
    if target.merged_into_id is not None or target.possible_duplicate_of_id is not None:
        raise ValidationError("Resolve the possible duplicate before assigning.")
    candidate = assignment_candidate(activation, target, supporter=supporter, agency=agency)
    if candidate["blocked"]:
        reason = candidate["blocked"]
        raise ValidationError(
            f"{supporter.get_full_name()} cannot be assigned: {reason}.", code=candidate["blocked_code"]
        )
    now = timezone.now()
    with transaction.atomic():
        unchanged = (
            Q(assigned_supporter__isnull=True)
            if expected_supporter_id is None
            else Q(assigned_supporter_id=expected_supporter_id)
        )
        # The activation row lock orders this against a concurrent demobilize or close. The UPDATE's own
        # WHERE (no joins: PostgreSQL re-checks it on the row after waiting for a concurrent writer)
        # re-checks that nobody assigned, merged or flagged the member meanwhile.
        if (
            not Activation.objects.select_for_update(no_key=True)
            .filter(pk=activation.pk, status=Activation.Status.OPEN)
            .exists()
        ):
            raise ValidationError("Assignments change only while the activation is open.")
        # The supporter's agency row lock orders this against a concurrent suspension of that agency
        # (agency_suspend updates the row, then returns its supporters' assignments): either the
        # suspension waits and then returns this assignment too, or this waits and sees the agency
        # suspended.
        if (
            not Agency.objects.select_for_update(no_key=True)
            .filter(pk=candidate["agency"].pk, status=Agency.Status.ACTIVE)
            .exists()
        ):
            raise ValidationError(NOT_A_PARTICIPATING_SUPPORTER, code="not_a_participating_supporter")
        still_assignable = Q(merged_into__isnull=True, possible_duplicate_of__isnull=True)
        updated = OutreachTarget.objects.filter(Q(pk=target.pk) & unchanged & still_assignable).update(
            assigned_supporter=supporter,
            assigned_agency=candidate["agency"],
            assigned_at=now,
            # A supporter deployed here from another agency (issue 19): their home agency's lists leave it out.
            via_deployment_id=candidate.get("deployment_id"),
        )
        if not updated:
            raise ValidationError(
                "Someone else changed this member's assignment a moment ago. The board now shows who holds it.",
                code="assignment_changed",
            )
        kind = Kind.ASSIGNED if expected_supporter_id is None else Kind.REASSIGNED
        _event(activation, kind, actor=actor, agency=candidate["agency"], target=target)
        audit_record(
            action=AuditAction.ACTIVATION_ASSIGNED, actor=actor, agency=candidate["agency"], obj=target, request=request
        )
    target.refresh_from_db()
    return target


def assignments_return_for_suspended_agency(*, actor, agency: Agency, request=None) -> int:
    """Part of suspending `agency` (called by agencies.offboarding.agency_suspend, in its transaction):
    every open assignment its supporters hold, in every activation not yet closed, goes back to the board
    unassigned, each with a timeline event that names no person. Finished outreach (contacted, declined,
    referred) keeps its record. Reinstating the agency does not give them back. Returns how many."""
    held = list(
        OutreachTarget.objects.select_for_update(of=("self",))
        .filter(assigned_agency=agency, merged_into__isnull=True)
        .exclude(activation__status=Activation.Status.CLOSED)
        .exclude(status__in=FINAL_STATUSES)
        .select_related("activation")
        .order_by("pk")
    )
    for target in held:
        OutreachTarget.objects.filter(pk=target.pk).update(
            assigned_supporter=None, assigned_agency=None, assigned_at=None
        )
        _event(target.activation, Kind.ASSIGNMENT_RETURNED, agency=agency, target=target, detail="agency-suspended")
        audit_record(
            action=AuditAction.ACTIVATION_ASSIGNMENT_RETURNED, actor=actor, agency=agency, obj=target, request=request
        )
    return len(held)


# --- Outreach -------------------------------------------------------------------------------------------------


def outreach_update(*, actor, target: OutreachTarget, status: str, request=None) -> OutreachTarget:
    """Attempted (no answer), declined or referred, from the assigned supporter or a coordinator."""
    allowed = (OutreachTarget.Status.ATTEMPTED, OutreachTarget.Status.DECLINED, OutreachTarget.Status.REFERRED)
    if status not in allowed:
        raise ValidationError("Choose attempted, declined or referred; log a contact as an encounter.")
    _require(actor, target.activation, COORDINATE, SUPPORT)
    now = timezone.now()
    with transaction.atomic():
        target = OutreachTarget.objects.select_for_update().get(pk=target.pk)
        if status == OutreachTarget.Status.ATTEMPTED:
            target.attempts += 1
            target.last_attempt_at = now
            if target.status == OutreachTarget.Status.PENDING:
                target.status = status
        else:
            target.status = status
        target.save(update_fields=["attempts", "last_attempt_at", "status"])
        _event(target.activation, Kind.STATUS_CHANGED, actor=actor, target=target, detail=status)
        audit_record(action=AuditAction.ACTIVATION_OUTREACH_UPDATED, actor=actor, obj=target, request=request)
    return target


def outreach_contact_logged(
    *, actor, agency: Agency, target: OutreachTarget, referred: bool, follow_up_due_on: datetime.date | None
) -> None:
    """Called when the assigned supporter logs the contact as an encounter in their own agency:
    only the status, the time and the follow-up owner reach the activation; no notes, no codes."""
    with transaction.atomic():
        target = OutreachTarget.objects.select_for_update().get(pk=target.pk)
        if target.assigned_supporter_id != actor.pk:
            raise ValidationError("This member was reassigned a moment ago; the contact was not saved.")
        now = timezone.now()
        target.status = OutreachTarget.Status.REFERRED if referred else OutreachTarget.Status.CONTACTED
        target.first_contact_at = target.first_contact_at or now
        target.last_attempt_at = now
        target.attempts += 1
        if follow_up_due_on is not None:
            target.next_follow_up_on = follow_up_due_on
            target.follow_up_agency = agency
        target.save(
            update_fields=[
                "status",
                "first_contact_at",
                "last_attempt_at",
                "attempts",
                "next_follow_up_on",
                "follow_up_agency",
            ]
        )
        _event(target.activation, Kind.STATUS_CHANGED, actor=actor, agency=agency, target=target, detail=target.status)


# --- Protocol checklist and scheduled follow-ups --------------------------------------------------------------


def checklist_item_done(*, actor, item: ChecklistItem, request=None) -> ChecklistItem:
    """Tick a protocol step. Idempotent: a second tick keeps the first time and person."""
    activation = item.activation
    if activation.status == Activation.Status.CLOSED:
        raise ValidationError("The activation is closed.")
    _require(actor, activation, COORDINATE)
    with transaction.atomic():
        updated = ChecklistItem.objects.filter(pk=item.pk, done_at__isnull=True).update(
            done_at=timezone.now(), done_by=actor
        )
        if updated:
            _event(activation, Kind.CHECKLIST_DONE, actor=actor, detail=f"step-{item.position}")
            audit_record(action=AuditAction.CHECKLIST_DONE, actor=actor, obj=activation, request=request)
    item.refresh_from_db()
    return item


def target_follow_up_done(*, actor, follow_up: TargetFollowUp, coordinator: bool, request=None) -> TargetFollowUp:
    """Mark a scheduled follow-up done: by the supporter holding the assignment, or a coordinator."""
    target = follow_up.target
    if target.activation.names_destroyed_at is not None:
        raise ValidationError("The activation's retention has ended.")
    if not coordinator and target.assigned_supporter_id != actor.pk:
        raise ValidationError("Only the supporter assigned to this member, or a coordinator, marks it done.")
    _require(actor, target.activation, COORDINATE if coordinator else SUPPORT)
    if target.merged_into_id is not None:
        raise ValidationError("This record was merged into another; follow up there.")
    if target.first_contact_at is None:
        # A follow-up checks on a member already reached: the first contact is logged first (as an encounter).
        raise ValidationError(
            "Log the first contact with this member before marking a follow-up done.", code="no_first_contact"
        )
    with transaction.atomic():
        updated = TargetFollowUp.objects.filter(pk=follow_up.pk, done_at__isnull=True).update(
            done_at=timezone.now(), done_by=actor
        )
        if updated:
            _event(
                target.activation, Kind.FOLLOW_UP_DONE, actor=actor, target=target, detail=f"day-{follow_up.days_after}"
            )
            audit_record(
                action=AuditAction.ACTIVATION_FOLLOW_UP_DONE,
                actor=actor,
                agency=target.assigned_agency,
                obj=target,
                request=request,
            )
    follow_up.refresh_from_db()
    return follow_up


# --- Demobilize, close, destroy names -------------------------------------------------------------------------


def _deployments_demobilize(*, actor, activation: Activation, request=None) -> int:
    """The activation's deployments under way end with it (refused while a supporter is on site). Imported here:
    activations.deploy_hours builds on this module (`_event`)."""
    from activations.deploy_hours import deployments_demobilize_for_activation

    return deployments_demobilize_for_activation(actor=actor, activation=activation, request=request)


def activation_demobilize(*, actor, activation: Activation, request=None) -> Activation:
    if activation.status != Activation.Status.OPEN:
        raise ValidationError("Only an open activation can be demobilized.")
    _require(actor, activation, COORDINATE)
    with transaction.atomic():
        _deployments_demobilize(actor=actor, activation=activation, request=request)
        Activation.objects.filter(pk=activation.pk).update(
            status=Activation.Status.DEMOBILIZED, demobilized_at=timezone.now()
        )
        _event(activation, Kind.DEMOBILIZED, actor=actor)
        audit_record(action=AuditAction.ACTIVATION_DEMOBILIZED, actor=actor, obj=activation, request=request)
    activation.refresh_from_db()
    return activation


def activation_close(*, actor, activation: Activation, request=None) -> Activation:
    if activation.status == Activation.Status.CLOSED:
        raise ValidationError("The activation is already closed.")
    _require(actor, activation, COORDINATE)
    with transaction.atomic():
        _deployments_demobilize(actor=actor, activation=activation, request=request)
        summary = after_action_summary(activation)
        summary["published"] = leadership_summary(
            summary,
            threshold=policy_for(activation.network).suppression_threshold,
            participating=[agency.name for agency in participating_agencies(activation)],
        )
        now = timezone.now()
        Activation.objects.filter(pk=activation.pk).update(
            status=Activation.Status.CLOSED,
            closed_at=now,
            summary=summary,
            demobilized_at=activation.demobilized_at or now,
        )
        _event(activation, Kind.CLOSED, actor=actor)
        audit_record(action=AuditAction.ACTIVATION_CLOSED, actor=actor, obj=activation, request=request)
    activation.refresh_from_db()
    return activation


def activation_destroy_names(*, activation: Activation, actor=None) -> bool:
    """Shred the activation's key: every name becomes unreadable; counts and the timeline remain."""
    if activation.status != Activation.Status.CLOSED or activation.names_destroyed_at is not None:
        return False
    with transaction.atomic():
        crypto.data_keys_destroy(activation=activation)
        OutreachTarget.objects.filter(activation=activation).update(name_index="")
        Activation.objects.filter(pk=activation.pk).update(names_destroyed_at=timezone.now())
        _event(activation, Kind.NAMES_DESTROYED, actor=actor)
        audit_record(action=AuditAction.ACTIVATION_NAMES_DESTROYED, actor=actor, obj=activation)
    return True


# --- Reminders and escalations of scheduled follow-ups (run by encounters.maintenance with the agency's own) --


def target_follow_up_mark_reminded(*, agency: Agency, follow_up: TargetFollowUp) -> bool:
    """Claim the once-only reminder of a scheduled follow-up; True if this call claimed it. Audited; the caller
    sends the e-mail on commit."""
    with transaction.atomic():
        if not TargetFollowUp.objects.filter(pk=follow_up.pk, reminded_at__isnull=True).update(
            reminded_at=timezone.now()
        ):
            return False
        audit_record(action=AuditAction.FOLLOWUP_REMINDED, agency=agency, obj=follow_up)
    return True


def target_follow_ups_mark_escalated(*, agency: Agency, follow_up_ids: list[int]) -> list[int]:
    """Claim the once-only escalation of overdue scheduled follow-ups; returns the ids this call claimed."""
    with transaction.atomic():
        claimed = list(
            TargetFollowUp.objects.select_for_update(skip_locked=True)
            .filter(pk__in=follow_up_ids, escalated_at__isnull=True)
            .values_list("pk", flat=True)
        )
        TargetFollowUp.objects.filter(pk__in=claimed).update(escalated_at=timezone.now())
        for pk in claimed:
            audit_record(
                action=AuditAction.FOLLOWUP_ESCALATED,
                agency=agency,
                object_type="activations.targetfollowup",
                object_id=str(pk),
            )
    return claimed


# --- Callout by text and voice: the ladder (docs/callout.md) ---------------------------------------------
#
#   callout_send / callout_resend -> text (callout_text_task) -> N minutes -> voice call (callout_call_task)
#   -> M minutes -> coordinators told on the board and by text (callout_escalate_task)
#
# Every step is a task queued through the outbox with ids only, re-reads the response under a row lock and
# does nothing when the person has answered, the activation is no longer open, or a later round (a re-send)
# has superseded it. A failed delivery queues the next step at once.

# Callouts for these incidents ring through a supporter's quiet hours.
MAJOR_INCIDENTS = frozenset(
    {
        IncidentType.OFFICER_INVOLVED_SHOOTING,
        IncidentType.LINE_OF_DUTY_DEATH,
        IncidentType.MASS_CASUALTY,
        IncidentType.IN_CUSTODY_DEATH,
        IncidentType.MEMBER_SUICIDE,
    }
)
DEFAULT_WAIT_MINUTES = 10
State = CalloutResponse.ChannelState


def callout_text(activation: Activation) -> str:
    """Everything a callout text says: Muster, the calling agency, the reply codes and a link that needs
    sign-in. No member names, no incident type or place (tests/test_callout_phone.py holds it to that)."""
    link = settings.MUSTER_BASE_URL + reverse("activation_mine", kwargs={"activation_uuid": activation.uuid})
    return (
        f"Muster callout, {activation.lead_agency.name} peer team. "
        f"Reply 1 available, 2 not available, 3 involved/witness. {link}"
    )


def callout_voice_text(activation: Activation) -> str:
    return (
        f"Muster callout, {activation.lead_agency.name} peer team. "
        "Press 1 if you are available, 2 if you are not available, 3 if you were involved or a witness."
    )


def _minutes(count: int) -> datetime.timedelta:
    return datetime.timedelta(seconds=count * settings.MUSTER_CALLOUT_MINUTE_SECONDS)


def _waits(activation: Activation) -> tuple[int, int]:
    protocol = activation.protocol
    if protocol is None:
        return DEFAULT_WAIT_MINUTES, DEFAULT_WAIT_MINUTES
    return protocol.text_wait_minutes, protocol.call_wait_minutes


def _ladder_start(response: CalloutResponse) -> None:
    """A new round for `response`: its text is queued (in the caller's transaction)."""
    response.ladder_round += 1
    response.channel_state = State.QUEUED
    response.escalated_at = None
    response.save(update_fields=["ladder_round", "channel_state", "escalated_at"])
    outbox_enqueue(task="activations.tasks.callout_text_task", args=[response.pk, response.ladder_round])


def _step_queue(step: str, response: CalloutResponse, *, after: datetime.timedelta | None = None) -> None:
    outbox_enqueue(
        task=f"activations.tasks.callout_{step}_task",
        args=[response.pk, response.ladder_round],
        eta=timezone.now() + after if after else None,
    )


def _ladder_response(response_id: int, ladder_round: int) -> CalloutResponse | None:
    """The response, locked, when the step of `ladder_round` should still act on it."""
    response = (
        CalloutResponse.objects.select_for_update(of=("self",))
        .select_related("activation", "activation__lead_agency", "activation__protocol", "supporter")
        .filter(pk=response_id)
        .first()
    )
    if (
        response is None
        or response.ladder_round != ladder_round
        or response.answer != CalloutResponse.Answer.PENDING
        or not response.activation.is_open
    ):
        return None
    return response


def _mobile_for(response: CalloutResponse, channel: Channel) -> MobileNumber | None:
    """The supporter's number if `channel` reaches them now; callouts for major incidents ring through quiet hours."""
    mobile = channels.mobile_of(response.supporter_id)
    major = response.activation.incident_type in MAJOR_INCIDENTS
    return mobile if channels.mobile_reaches(mobile, channel, through_quiet_hours=major) else None


def _spend(activation: Activation, counter: str, cap: int) -> bool:
    """Count one text or call against the network's cap for this activation; False when spent."""
    updated = Activation.objects.filter(pk=activation.pk, **{f"{counter}__lt": cap}).update(
        **{counter: models.F(counter) + 1}
    )
    return bool(updated)


def callout_text_step(*, response_id: int, ladder_round: int) -> str:
    """Text the callout to one supporter (the worker runs it). Returns what happened, as a code."""
    with transaction.atomic():
        response = _ladder_response(response_id, ladder_round)
        if response is None or response.texted_round >= ladder_round or response.escalated_at is not None:
            return "skipped"
        activation = response.activation
        mobile = _mobile_for(response, Channel.TEXT)
        if mobile is None or not _spend(activation, "texts_sent", policy_for(activation.network).callout_max_texts):
            _step_queue("call", response)  # no text possible: straight to the next rung
            return "no-text"
        message = channels.deliver(
            Channel.TEXT, mobile=mobile, text=callout_text(activation), purpose="callout", ref_id=response.pk
        )
        response.texted_round = ladder_round
        failed = message.status == PhoneMessage.Status.FAILED
        response.channel_state = State.FAILED if failed else _TEXT_STATE.get(message.status, State.SENT)
        response.save(update_fields=["texted_round", "channel_state"])
        text_wait, _call_wait = _waits(activation)
        _step_queue("call", response, after=None if failed else _minutes(text_wait))
    return "failed" if failed else "texted"


_TEXT_STATE = {PhoneMessage.Status.QUEUED: State.SENT, PhoneMessage.Status.SENT: State.SENT}


def callout_call_step(*, response_id: int, ladder_round: int) -> str:
    """No answer to the text: call, read the neutral message and take the keypad answer."""
    with transaction.atomic():
        response = _ladder_response(response_id, ladder_round)
        if response is None or response.called_round >= ladder_round or response.escalated_at is not None:
            return "skipped"
        activation = response.activation
        _text_wait, call_wait = _waits(activation)
        mobile = _mobile_for(response, Channel.VOICE)
        if mobile is None or not _spend(activation, "calls_placed", policy_for(activation.network).callout_max_calls):
            response.called_round = ladder_round
            response.save(update_fields=["called_round"])
            _step_queue("escalate", response, after=_minutes(call_wait))
            return "no-call"
        message = channels.deliver(
            Channel.VOICE, mobile=mobile, text=callout_voice_text(activation), purpose="callout", ref_id=response.pk
        )
        failed = message.status == PhoneMessage.Status.FAILED
        response.called_round = ladder_round
        response.channel_state = State.NO_ANSWER if failed else State.CALLING
        response.save(update_fields=["called_round", "channel_state"])
        _step_queue("escalate", response, after=None if failed else _minutes(call_wait))
    return "failed" if failed else "called"


def callout_escalate_step(*, response_id: int, ladder_round: int) -> str:
    """Still no answer after the call: the board shows the person as escalated, and the coordinators of
    the lead agency and of the person's agency are told by text (no name: the board says who)."""
    with transaction.atomic():
        response = _ladder_response(response_id, ladder_round)
        if response is None or response.channel_state == State.ESCALATED:
            return "skipped"
        activation = response.activation
        response.channel_state, response.escalated_at = State.ESCALATED, timezone.now()
        response.save(update_fields=["channel_state", "escalated_at"])
        _event(activation, Kind.CALLOUT_ESCALATED, agency=response.agency, detail="no-answer")
        audit_record(action=AuditAction.ACTIVATION_CALLOUT_ESCALATED, agency=response.agency, obj=activation)
        coordinators = (
            Membership.objects.filter(
                agency_id__in={activation.lead_agency_id, response.agency_id},
                agency__status=Agency.Status.ACTIVE,
                role=Role.COORDINATOR,
                is_active=True,
            )
            .values_list("user_id", flat=True)
            .distinct()
        )
        for user_id in coordinators:
            outbox_enqueue(task="activations.tasks.callout_coordinator_text_task", args=[activation.pk, user_id])
    return "escalated"


def callout_coordinator_text_send(*, activation_id: int, user_id: int) -> str:
    """Text one coordinator how many people have not answered, at most once per call wait: a ladder that
    escalates thirty people at once sends one text, not thirty."""
    with transaction.atomic():
        activation = (
            Activation.objects.select_for_update(of=("self",))
            .select_related("lead_agency", "protocol", "network")
            .filter(pk=activation_id, status=Activation.Status.OPEN)
            .first()
        )
        mobile = channels.mobile_of(user_id)
        # Coordinators are told whatever the hour: this is the escalation.
        if activation is None or not channels.mobile_reaches(mobile, Channel.TEXT, through_quiet_hours=True):
            return "skipped"
        _text_wait, call_wait = _waits(activation)
        recent = PhoneMessage.objects.filter(
            purpose="escalation",
            ref_id=activation.pk,
            user_id=user_id,
            created_at__gte=timezone.now() - _minutes(call_wait),
        )
        if recent.exists():
            return "skipped"
        waiting = activation.callouts.filter(
            channel_state=State.ESCALATED, answer=CalloutResponse.Answer.PENDING
        ).count()
        if not waiting or not _spend(activation, "texts_sent", policy_for(activation.network).callout_max_texts):
            return "skipped"
        board = settings.MUSTER_BASE_URL + reverse("activation_board", kwargs={"activation_uuid": activation.uuid})
        people = "1 person has" if waiting == 1 else f"{waiting} people have"
        channels.deliver(
            Channel.TEXT,
            mobile=mobile,
            text=f"Muster callout, {activation.lead_agency.name} peer team: {people} not answered. {board}",
            purpose="escalation",
            ref_id=activation.pk,
        )
    return "texted"


def callout_delivery_update(*, message: PhoneMessage) -> str:
    """A delivery status from the provider for a callout text or call: show it on the board, and on a
    failure move to the next rung at once."""
    with transaction.atomic():
        response = (
            CalloutResponse.objects.select_for_update(of=("self",))
            .select_related("activation")
            .filter(pk=message.ref_id)
            .first()
        )
        if response is None or response.answer != CalloutResponse.Answer.PENDING or not response.activation.is_open:
            return "ignored"
        state = response.channel_state
        if message.channel == PhoneMessage.Channel.TEXT and state in (State.QUEUED, State.SENT, State.DELIVERED):
            if message.status == PhoneMessage.Status.DELIVERED:
                response.channel_state = State.DELIVERED
            elif message.status == PhoneMessage.Status.FAILED:
                response.channel_state = State.FAILED
                if response.called_round < response.ladder_round:
                    _step_queue("call", response)
            response.save(update_fields=["channel_state"])
            return response.channel_state
        if message.channel == PhoneMessage.Channel.VOICE and state == State.CALLING:
            if message.status in (PhoneMessage.Status.FAILED, PhoneMessage.Status.NO_ANSWER):
                response.channel_state = State.NO_ANSWER
                response.save(update_fields=["channel_state"])
                _step_queue("escalate", response)
            return response.channel_state
    return "ignored"


def callout_resend(*, actor, activation: Activation, request=None) -> int:
    """Text the callout again to everyone called out who has not answered and can be texted (a new round:
    the earlier round's pending steps stop). Returns how many."""
    if not activation.is_open:
        raise ValidationError("The activation is not open.")
    _require(actor, activation, COORDINATE)
    with transaction.atomic():
        pending = list(
            CalloutResponse.objects.select_for_update().filter(
                activation=activation, answer=CalloutResponse.Answer.PENDING
            )
        )
        reachable = channels.users_with_phone([r.supporter_id for r in pending])
        count = 0
        for response in pending:
            if response.supporter_id in reachable:
                _ladder_start(response)
                count += 1
        _event(activation, Kind.CALLOUT_RESENT, actor=actor, detail=str(count))
        audit_record(action=AuditAction.ACTIVATION_CALLOUT_RESENT, actor=actor, obj=activation, request=request)
    return count


# --- Answers by text and keypad ------------------------------------------------------------------------------

REPLY_ANSWERS = {
    "1": ("available", False),
    "yes": ("available", False),
    "y": ("available", False),
    "2": ("unavailable", False),
    "no": ("unavailable", False),
    "n": ("unavailable", False),
    # Involved or witness: not assignable for this incident, exactly as the web answer's box.
    "3": ("unavailable", True),
    "w": ("unavailable", True),
}
REPLY_HELP = "Muster: reply 1 available, 2 not available, 3 involved/witness. Reply STOP to stop texts."
_ANSWER_WORDS = {
    ("available", False): "available",
    ("unavailable", False): "not available",
    ("unavailable", True): "involved or witness (you will not be assigned)",
}


def _parse_reply(text: str) -> tuple[tuple[str, bool] | None, str]:
    """(answer, letter) from "1", "yes", "3b", "2 A"...; (None, "") when it is not an answer."""
    words = text.strip().lower().replace(".", " ").replace(",", " ").split()
    if not words or len(words) > 2:
        return None, ""
    head, letter = words[0], words[1] if len(words) == 2 else ""
    if (
        not letter
        and len(head) >= 2
        and head[:-1] in REPLY_ANSWERS
        and head[-1].isalpha()
        and head not in ("no", "yes")
    ):
        head, letter = head[:-1], head[-1]
    if head not in REPLY_ANSWERS or (letter and (len(letter) != 1 or not letter.isalpha())):
        return None, ""
    return REPLY_ANSWERS[head], letter


def open_callouts_of(user) -> list[CalloutResponse]:
    return list(
        CalloutResponse.objects.filter(supporter=user, activation__status=Activation.Status.OPEN)
        .select_related("activation", "activation__lead_agency")
        .order_by("notified_at", "pk")
    )


def callout_reply(*, user, text: str, via: str = "text", response_id: int | None = None) -> str:
    """Apply a text (or keypad) answer from `user` and return the reply to send back. `response_id`: the
    callout a call was about (a keypad answer needs no choosing)."""
    answer, letter = _parse_reply(text)
    callouts = open_callouts_of(user)
    if response_id is not None:
        callouts = [r for r in callouts if r.pk == response_id]
    if not callouts:
        return "Muster: there is no open callout to answer. Nothing was recorded."
    if answer is None:
        return REPLY_HELP
    if len(callouts) > 1 and not letter:
        choices = ", ".join(f"{chr(65 + i)} {r.activation.lead_agency.name}" for i, r in enumerate(callouts[:26]))
        return (
            f"Muster: you have {len(callouts)} open callouts: {choices}. Reply with the number and the letter, e.g. 1A."
        )
    index = ord(letter) - ord("a") if letter else 0
    if not 0 <= index < len(callouts):
        return "Muster: no callout has that letter. " + REPLY_HELP
    response = callouts[index]
    try:
        callout_answer(
            supporter=user,
            activation=response.activation,
            answer=answer[0],
            involved=answer[1],
            supervises=None,
            via=via,
        )
    except ValidationError:
        return "Muster: your answer could not be recorded. Answer on the web page from the callout text."
    return f"Muster: recorded, {_ANSWER_WORDS[answer]}. Thank you."


def callout_keypad(*, call_sid: str, digits: str) -> tuple[str, bool]:
    """A keypad answer during a callout call: (what to say, whether it was an answer)."""
    call = (
        PhoneMessage.objects.select_related("user")
        .filter(provider_sid=call_sid[:64], direction=PhoneMessage.Direction.OUT, purpose="callout")
        .first()
    )
    if call is None or call.user is None:
        return "Goodbye.", True
    digit = (digits or "").strip()[:1]
    if digit not in ("1", "2", "3"):
        return "Press 1 if you are available, 2 if you are not available, 3 if you were involved or a witness.", False
    if (
        phone.inbound_record(
            sid=f"{call_sid}:gather",
            channel=PhoneMessage.Channel.VOICE,
            user=call.user,
            body=digit,
            purpose="callout",
            ref_id=call.ref_id,
        )
        is None
    ):
        return "Your answer is recorded. Goodbye.", True  # the same keypad webhook again
    reply = callout_reply(user=call.user, text=digit, via="voice", response_id=call.ref_id)
    return reply.removeprefix("Muster: ") + " Goodbye.", True


# --- What arrives from the provider (activations/phone_views.py, and /dev/phone/ in development) -----------


def _reply_record(mobile: MobileNumber | None, reply: str) -> None:
    """The reply goes back in the webhook's answer (TwiML); it is recorded like any text sent (with no user
    when the number is no one's MobileNumber)."""
    if reply:
        PhoneMessage.objects.create(
            channel=PhoneMessage.Channel.TEXT,
            direction=PhoneMessage.Direction.OUT,
            user=mobile.user if mobile else None,
            purpose="reply",
            body=reply,
            status=PhoneMessage.Status.SENT,
        )


def _kept(body: str) -> str:
    """What of an inbound text is kept: a reply code or a carrier keyword. Anything else a person texts at
    3 a.m. ("I was there, it's my brother") is answered with the help text and not stored."""
    word = body.strip().lower()
    keywords = network_services.STOP_WORDS | network_services.START_WORDS | network_services.HELP_WORDS
    keywords |= {"go", "nogo", "no-go"}  # a deployment's confirmation (activations.deploy_requests.REPLY_GOING)
    return word[:16] if word in keywords or _parse_reply(body)[0] is not None else ""


def _stranger_keyword(sender: str, body: str) -> str:
    try:
        e164 = phone.normalize_number(sender)
    except ValidationError:
        return ""
    reply = network_services.number_keyword(e164=e164, word=body) or ""
    _reply_record(None, reply)
    return reply


def _deployment_text_reply(*, user, text: str) -> str | None:
    """GO or NOGO to a request to confirm a deployment (issue 19). Imported here: activations.deploy_requests builds
    on this module."""
    from activations.deploy_requests import deployment_text_reply

    return deployment_text_reply(user=user, text=text)


def phone_inbound_text(*, sender: str, body: str, sid: str) -> str:
    """An inbound text: carrier keywords first, then GO / NOGO to a deployment, then a callout answer. Returns the
    reply ("" for none).
    A text from a number Muster does not know (a member on check-ins by text, or anyone) is recorded without
    its body: STOP, START and HELP act on the number's keyed hash alone and get a neutral answer, anything else
    gets nothing. A text delivered again (the same MessageSid) is acted on once. Only codes are kept (`_kept`)."""
    with transaction.atomic():
        mobile = phone.mobile_for_number(sender)
        received = phone.inbound_record(
            sid=sid,
            channel=PhoneMessage.Channel.TEXT,
            user=mobile.user if mobile else None,
            body=_kept(body) if mobile else "",
        )
        if received is None:
            return ""
        if mobile is None:
            return _stranger_keyword(sender, body)
        reply = network_services.mobile_keyword(mobile=mobile, word=body)
        if reply is None:
            if not mobile.confirmed or mobile.stopped_at is not None:
                return ""
            reply = _deployment_text_reply(user=mobile.user, text=body) or callout_reply(user=mobile.user, text=body)
        _reply_record(mobile, reply)
    return reply


def phone_keypad(*, call_sid: str, digits: str) -> tuple[str, bool]:
    with transaction.atomic():
        return callout_keypad(call_sid=call_sid, digits=digits)


def phone_status_received(*, sid: str, word: str) -> str:
    """A delivery status callback: recorded once (a repeat changes nothing), and a callout's moves the
    ladder on."""
    with transaction.atomic():
        message = phone.status_record(sid=sid, word=word)
        if message is None:
            return "unchanged"
        if message.purpose == "callout" and message.ref_id:
            return callout_delivery_update(message=message)
    return message.status


# --- Privilege: supervisors, and the member's own choice of supporter (issue 18) ---------------------------------


def target_supervisor_declare(*, actor, target: OutreachTarget, supporter, request=None) -> OutreachTarget:
    """Record that `supporter` supervises the member (they said so): they are never assigned to the member, and an
    assignment they hold goes back to the board. Kept in the timeline by id only."""
    activation = target.activation
    _require(actor, activation, COORDINATE)
    with transaction.atomic():
        target = OutreachTarget.objects.select_for_update().get(pk=target.pk)
        if supporter.pk not in target.supervisor_ids:
            target.supervisor_ids = [*target.supervisor_ids, supporter.pk]
            fields = ["supervisor_ids"]
            if target.assigned_supporter_id == supporter.pk:
                target.assigned_supporter, target.assigned_agency, target.assigned_at = None, None, None
                fields += ["assigned_supporter", "assigned_agency", "assigned_at"]
            target.save(update_fields=fields)
            _event(activation, Kind.SUPERVISOR_DECLARED, actor=actor, target=target, detail=str(supporter.pk))
    return target


def target_supporter_request(*, actor, target: OutreachTarget, change: bool, request=None) -> OutreachTarget:
    """The member asked to change supporter (`change`: the assignment goes back to the board, and the supporter
    they leave is not offered again for them) or to add one (the coordinator assigns a co-supporter in the
    encounter log). Kept in the timeline; never forced on the member."""
    activation = target.activation
    if not activation.is_open:
        raise ValidationError("Assignments change only while the activation is open.", code="closed")
    _require(actor, activation, COORDINATE)
    with transaction.atomic():
        target = OutreachTarget.objects.select_for_update().get(pk=target.pk)
        kind = Kind.CHANGE_REQUESTED if change else Kind.ADD_REQUESTED
        if change and target.assigned_supporter_id is not None:
            OutreachTarget.objects.filter(pk=target.pk).update(
                assigned_supporter=None, assigned_agency=None, assigned_at=None
            )
        _event(activation, kind, actor=actor, target=target)
        audit_record(action=AuditAction.SUPPORTER_CHANGE_REQUESTED, actor=actor, obj=target, request=request)
    target.refresh_from_db()
    return target
