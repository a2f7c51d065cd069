"""Interagency activations (public schema): one shared log per incident across every participating agency.

Names of affected members are encrypted under the activation's own data key; duplicates are
found through a blind index scoped to the activation. Nothing here holds conversation details.
"""

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from governance.models import IncidentType
from network.fields import EncryptedTextField
from network.validators import validate_single_line


class Activation(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DEMOBILIZED = "demobilized", "Demobilized"
        CLOSED = "closed", "Closed"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    network = models.ForeignKey("network.Network", on_delete=models.PROTECT, related_name="activations")
    incident_type = models.CharField(max_length=32, choices=IncidentType.choices)
    name = models.CharField(
        max_length=200,
        help_text="A short operational name, e.g. 'Route 9 bus crash'.",
        validators=[validate_single_line],
    )
    occurred_at = models.DateTimeField()
    location = models.CharField(
        max_length=200, help_text="General location only (city, district, facility).", validators=[validate_single_line]
    )
    lead_agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, related_name="led_activations")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(default=timezone.now)
    demobilized_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # After-action summary: aggregate numbers only, written at close and kept after names are destroyed.
    summary = models.JSONField(default=dict, blank=True)
    names_destroyed_at = models.DateTimeField(null=True, blank=True)
    # The protocol applied at opening, and its follow-up schedule copied so later edits to the
    # protocol do not move the dates of an activation already under way.
    protocol = models.ForeignKey(
        "governance.ActivationProtocol", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    follow_up_days = ArrayField(models.PositiveSmallIntegerField(), default=list, blank=True)
    # What the callout cost, against the network policy's caps (callout_max_texts, callout_max_calls).
    texts_sent = models.PositiveIntegerField(default=0)
    calls_placed = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-opened_at"]
        permissions = [
            ("coordinate_activation", "Coordinate the activation: see every name, assign, track"),
            ("support_activation", "Answer the callout and work one's own assignments"),
            ("view_activation_summary", "See the activation's aggregate numbers only"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.OPEN


class ActivationUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Activation, on_delete=models.CASCADE)


class ActivationGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Activation, on_delete=models.CASCADE)


class Participation(models.Model):
    """An agency taking part in an activation."""

    activation = models.ForeignKey(Activation, on_delete=models.PROTECT, related_name="participations")
    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, related_name="participations")
    joined_at = models.DateTimeField(default=timezone.now)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["joined_at"]
        constraints = [models.UniqueConstraint(fields=["activation", "agency"], name="participation_once")]

    def __str__(self) -> str:
        return f"{self.agency} in {self.activation}"


class CalloutResponse(models.Model):
    """A supporter called out for the activation, and their answer."""

    class Answer(models.TextChoices):
        PENDING = "pending", "No answer yet"
        AVAILABLE = "available", "Available"
        UNAVAILABLE = "unavailable", "Unavailable"

    class ChannelState(models.TextChoices):
        NONE = "none", "E-mail and app only"
        QUEUED = "queued", "Text queued"
        SENT = "sent", "Text sent"
        DELIVERED = "delivered", "Text delivered"
        FAILED = "failed", "Text failed"
        CALLING = "calling", "Called"
        NO_ANSWER = "no_answer", "No answer"
        ESCALATED = "escalated", "Escalated to coordinators"
        REPLIED = "replied", "Replied"

    class Via(models.TextChoices):
        WEB = "web", "on the web"
        TEXT = "text", "by text"
        VOICE = "voice", "by keypad"

    activation = models.ForeignKey(Activation, on_delete=models.PROTECT, related_name="callouts")
    supporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, related_name="+")
    answer = models.CharField(max_length=16, choices=Answer.choices, default=Answer.PENDING)
    # A witness to or party in the incident cannot hold privilege for it, so cannot be assigned.
    involved = models.BooleanField(default=False)
    # "I supervise members affected by this incident": not assigned to members of their own agency (issue 18).
    supervises_affected = models.BooleanField(default=False)
    notified_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)
    # The text and voice ladder (docs/callout.md): where this person's callout stands on the phone.
    channel_state = models.CharField(max_length=12, choices=ChannelState.choices, default=ChannelState.NONE)
    answered_via = models.CharField(max_length=8, choices=Via.choices, blank=True)
    # Each send (and each re-send) is a round; a ladder step of an earlier round does nothing.
    ladder_round = models.PositiveSmallIntegerField(default=0)
    texted_round = models.PositiveSmallIntegerField(default=0)
    called_round = models.PositiveSmallIntegerField(default=0)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["agency__name", "supporter__full_name"]
        constraints = [models.UniqueConstraint(fields=["activation", "supporter"], name="callout_once_per_supporter")]

    def __str__(self) -> str:
        return f"Callout {self.pk}: {self.answer}"


class OutreachTarget(models.Model):
    """An affected member to reach: assigned to exactly one supporter, tracked until contact."""

    class Exposure(models.TextChoices):
        DIRECT = "direct", "Directly involved"
        WITNESS = "witness", "Witness"
        SUPPORT = "support", "Support role"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ATTEMPTED = "attempted", "Attempted"
        CONTACTED = "contacted", "Contacted"
        DECLINED = "declined", "Declined"
        REFERRED = "referred", "Referred"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    activation = models.ForeignKey(Activation, on_delete=models.PROTECT, related_name="targets")
    name = EncryptedTextField(null=True)
    # HMAC of the normalized name under the blind-index key, scoped to this activation.
    name_index = models.CharField(max_length=64, db_index=True)
    home_agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, related_name="+")
    # Encrypted like the name: a pasted "Smith, John" would otherwise put a first name here in clear.
    role = EncryptedTextField(null=True, blank=True, help_text="Role or assignment, e.g. engineer, dispatcher.")
    exposure = models.CharField(max_length=16, choices=Exposure.choices)
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    added_at = models.DateTimeField(default=timezone.now)
    # Duplicate handling: a possible duplicate waits for a coordinator to merge or keep it.
    possible_duplicate_of = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="possible_duplicates"
    )
    merged_into = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    assigned_supporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    assigned_agency = models.ForeignKey(
        "agencies.Agency", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    first_contact_at = models.DateTimeField(null=True, blank=True)
    next_follow_up_on = models.DateField(null=True, blank=True)
    follow_up_agency = models.ForeignKey(
        "agencies.Agency", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Supporters who declared they supervise this member (ids only): never assigned to them (issue 18).
    supervisor_ids = ArrayField(models.IntegerField(), default=list, blank=True)
    # Set when the holder is a supporter deployed here from another agency (issue 19): their home agency's
    # coordinators then do not see the member among the follow-ups held through their agency.
    via_deployment = models.ForeignKey("Deployment", on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["added_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(assigned_supporter__isnull=True, assigned_agency__isnull=True)
                | Q(assigned_supporter__isnull=False, assigned_agency__isnull=False),
                name="target_assignment_names_supporter_and_agency",
            ),
        ]

    def __str__(self) -> str:
        return f"Outreach target {self.pk}"

    def encryption_owner(self):
        """Names are encrypted under the activation's own key, shredded when the activation's retention ends."""
        return self.activation

    @property
    def is_active(self) -> bool:
        return self.merged_into_id is None


class ActivationEvent(models.Model):
    """The activation's append-only timeline: what happened, who did it, when. No names, no details."""

    class Kind(models.TextChoices):
        OPENED = "opened", "Activation opened"
        AGENCY_JOINED = "agency_joined", "Agency joined"
        CALLOUT_SENT = "callout_sent", "Team called out"
        CALLOUT_ANSWERED = "callout_answered", "Callout answered"
        CALLOUT_RESENT = "callout_resent", "Callout sent again to those who had not answered"
        CALLOUT_ESCALATED = "callout_escalated", "Coordinators told: callout not answered"
        MEMBER_ADDED = "member_added", "Affected member added"
        DUPLICATE_FLAGGED = "duplicate_flagged", "Possible duplicate flagged"
        MERGED = "merged", "Duplicate merged"
        DUPLICATE_DISMISSED = "duplicate_dismissed", "Not a duplicate"
        ASSIGNED = "assigned", "Assigned"
        REASSIGNED = "reassigned", "Reassigned"
        UNASSIGNED = "unassigned", "Unassigned (supporter was a witness or party)"
        ASSIGNMENT_RETURNED = "assignment_returned", "Assignment returned: supporter's agency suspended"
        STATUS_CHANGED = "status_changed", "Outreach status changed"
        DEMOBILIZED = "demobilized", "Demobilized"
        CLOSED = "closed", "Closed"
        NAMES_DESTROYED = "names_destroyed", "Names destroyed"
        CHECKLIST_DONE = "checklist_done", "Checklist item done"
        FOLLOW_UP_DONE = "follow_up_done", "Follow-up done"
        SUPERVISOR_DECLARED = "supervisor_declared", "Supporter declared they supervise the member"
        CHANGE_REQUESTED = "change_requested", "Member asked to change supporter"
        ADD_REQUESTED = "add_requested", "Member asked for an additional supporter"
        # Regional deployment (the ICS-214 activity log reads these): never a member's name.
        DEPLOYMENT_REQUESTED = "deployment_requested", "Deployment requested"
        DEPLOYMENT_OFFERED = "deployment_offered", "Supporters offered"
        OFFER_ACCEPTED = "offer_accepted", "Offer accepted"
        OFFER_DECLINED = "offer_declined", "Offer declined"
        OFFER_WITHDRAWN = "offer_withdrawn", "Offer withdrawn"
        DEPLOYMENT_CONFIRMED = "deployment_confirmed", "Supporter confirmed deployment"
        DEPLOYMENT_DECLINED = "deployment_declined", "Supporter declined deployment"
        SHIFT_PLANNED = "shift_planned", "Shift planned"
        SHIFT_SWAPPED = "shift_swapped", "Shift swapped"
        CHECKED_IN = "checked_in", "Checked in on site"
        CHECKED_OUT = "checked_out", "Checked out"
        CHECK_IN_OVERDUE = "check_in_overdue", "Check-in overdue: coordinators told"
        DEPLOYMENT_RELEASED = "deployment_released", "Supporter released"
        DEPLOYMENT_DEMOBILIZED = "deployment_demobilized", "Deployment demobilised"

    activation = models.ForeignKey(Activation, on_delete=models.PROTECT, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    target = models.ForeignKey(OutreachTarget, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # A deployment's own events (the ICS-214 activity log); `subject` is the supporter concerned, when not the actor.
    deployment = models.ForeignKey("Deployment", on_delete=models.PROTECT, null=True, blank=True, related_name="events")
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    detail = models.CharField(max_length=64, blank=True, help_text="A code, e.g. the new status. Never text.")

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.kind}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise RuntimeError("The activation log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("The activation log is append-only.")


class ChecklistItem(models.Model):
    """One step of the activation's protocol checklist, with its window after the incident."""

    activation = models.ForeignKey(Activation, on_delete=models.PROTECT, related_name="checklist")
    position = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=120)
    not_before = models.DateTimeField()
    due_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["due_at", "position"]

    def __str__(self) -> str:
        return self.title

    def state(self, now=None) -> str:
        """done, overdue, due (the window is open) or upcoming."""
        now = now or timezone.now()
        if self.done_at:
            return "done"
        if now > self.due_at:
            return "overdue"
        return "due" if now >= self.not_before else "upcoming"


class TargetFollowUp(models.Model):
    """A scheduled follow-up of one affected member, owned by whoever holds the assignment."""

    target = models.ForeignKey(OutreachTarget, on_delete=models.PROTECT, related_name="follow_ups")
    days_after = models.PositiveSmallIntegerField()
    due_on = models.DateField()
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The morning reminder to the supporter and the escalation to their coordinators, each sent once
    # (encounters.maintenance.follow_up_reminders_send, with the agency follow-ups).
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["target", "days_after"], name="target_follow_up_once_per_interval")
        ]

    def __str__(self) -> str:
        return f"Follow-up at {self.days_after} days"


# --- Regional peer deployment (issue 19, docs/deployment.md) ---------------------------------------------------
# Supporters of other agencies sent to work an activation on site for days, in rotations. A deployment belongs to
# its activation; everything here is operational (who, when, where, how long) and names no affected member.


class Deployment(models.Model):
    """A request for N supporters for a period, sent to the agencies under agreement with the lead, and the
    deployment it becomes once offers are accepted: rotations, check-in and check-out, hours, demobilisation."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Asking for supporters"
        ACTIVE = "active", "Deployed"
        DEMOBILIZED = "demobilized", "Demobilised"
        CANCELLED = "cancelled", "Cancelled"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    activation = models.ForeignKey(Activation, on_delete=models.PROTECT, related_name="deployments")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    supporters_wanted = models.PositiveSmallIntegerField(help_text="How many peer supporters are needed on site.")
    starts_on = models.DateField()
    ends_on = models.DateField()
    reporting_location = models.CharField(
        max_length=200,
        help_text="Where deployed supporters report (a station, a family assistance centre); no member names.",
        validators=[validate_single_line],
    )
    # Skills wanted: the disciplines served (agencies.models.Discipline), languages, CISM training.
    disciplines = ArrayField(models.CharField(max_length=16), default=list, blank=True)
    languages = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    cism_trained = models.BooleanField(default=False, help_text="Only supporters with current CISM training.")
    # Rotations: copied from the protocol at request time (governance.ActivationProtocol) and editable per
    # deployment; the planner flags anyone past them.
    shift_hours = models.PositiveSmallIntegerField(default=12)
    rest_hours = models.PositiveSmallIntegerField(default=12)
    max_days_in_row = models.PositiveSmallIntegerField(default=7)
    # The agencies the request went to (the governance agreements with the lead decided, at request time).
    asked_agency_ids = ArrayField(models.IntegerField(), default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED)
    demobilized_at = models.DateTimeField(null=True, blank=True)
    demobilized_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_on__gte=models.F("starts_on")), name="deployment_ends_after_start"),
            models.CheckConstraint(condition=Q(supporters_wanted__gte=1), name="deployment_wants_someone"),
        ]

    def __str__(self) -> str:
        return f"Deployment {self.pk} to {self.reporting_location}"

    @property
    def is_under_way(self) -> bool:
        return self.status in (self.Status.REQUESTED, self.Status.ACTIVE)


class DeploymentOffer(models.Model):
    """One agency's offer of named supporters to a deployment; the requester accepts or declines it whole."""

    class Status(models.TextChoices):
        OFFERED = "offered", "Offered"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        WITHDRAWN = "withdrawn", "Withdrawn"

    deployment = models.ForeignKey(Deployment, on_delete=models.PROTECT, related_name="offers")
    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, related_name="+")
    offered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    offered_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OFFERED)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["offered_at", "id"]
        constraints = [
            # An agency has at most one offer waiting for an answer (a second, after a decline, is a new offer).
            models.UniqueConstraint(
                fields=["deployment", "agency"], condition=Q(status="offered"), name="deployment_one_open_offer"
            ),
        ]

    def __str__(self) -> str:
        return f"Offer {self.pk}: {self.status}"


class DeployedSupporter(models.Model):
    """One supporter offered to a deployment, from their home agency, through to demobilisation."""

    class Status(models.TextChoices):
        OFFERED = "offered", "Offered, waiting for the requester"
        ACCEPTED = "accepted", "Accepted, waiting for the supporter to confirm"
        CONFIRMED = "confirmed", "Confirmed"
        DECLINED = "declined", "Declined by the supporter"
        NOT_TAKEN = "not_taken", "Offer not taken"
        RELEASED = "released", "Released before the end"
        DEMOBILIZED = "demobilized", "Demobilised"

    # Statuses that hold a place on the deployment (one per supporter: the constraint below).
    HOLDING = ("offered", "accepted", "confirmed")

    deployment = models.ForeignKey(Deployment, on_delete=models.PROTECT, related_name="people")
    offer = models.ForeignKey(DeploymentOffer, on_delete=models.PROTECT, related_name="people")
    supporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    home_agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OFFERED)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    # How the supporter confirmed: CalloutResponse.Via (web, text).
    confirmed_via = models.CharField(max_length=8, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["home_agency__name", "supporter__full_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "supporter"],
                condition=Q(status__in=["offered", "accepted", "confirmed"]),
                name="deployed_once_per_deployment",
            ),
        ]

    def __str__(self) -> str:
        return f"Deployed supporter {self.pk}: {self.status}"


class DeploymentShift(models.Model):
    """One rotation shift of one deployed supporter on site: planned times, then the check-in and check-out."""

    deployment = models.ForeignKey(Deployment, on_delete=models.PROTECT, related_name="shifts")
    person = models.ForeignKey(DeployedSupporter, on_delete=models.PROTECT, related_name="shifts")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    checked_in_at = models.DateTimeField(null=True, blank=True)
    checked_out_at = models.DateTimeField(null=True, blank=True)
    # The coordinator told once when the check-in is overdue.
    escalated_at = models.DateTimeField(null=True, blank=True)
    # A swap hands the shift to another deployed supporter: the old shift ends as swapped, a new one is made.
    swapped_to = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="shift_ends_after_start"),
            models.CheckConstraint(
                condition=Q(checked_out_at__isnull=True) | Q(checked_in_at__isnull=False),
                name="shift_checked_out_after_in",
            ),
        ]

    def __str__(self) -> str:
        return f"Shift {self.pk}"


class SupporterWellbeing(models.Model):
    """At check-out from a deployment, the supporter is offered a defusing or a check-in for themselves: a
    follow-up owned by their home agency's coordinators (support for supporters)."""

    class Choice(models.TextChoices):
        DEFUSING = "defusing", "A defusing (talk it through soon)"
        CHECK_IN = "check_in", "A check-in in a few days"
        NOT_NOW = "not_now", "Not now"

    person = models.ForeignKey(DeployedSupporter, on_delete=models.PROTECT, related_name="wellbeing")
    home_agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, related_name="+")
    choice = models.CharField(max_length=16, choices=Choice.choices)
    offered_at = models.DateTimeField(default=timezone.now)
    due_on = models.DateField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["due_on", "id"]

    def __str__(self) -> str:
        return f"Wellbeing follow-up {self.pk}"
