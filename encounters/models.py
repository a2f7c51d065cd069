"""Agency-schema models: the encounter log, follow-ups, the disclosure log and members' check-ins.

Coded fields (what reports count) are plaintext codes from the documentation standard version
the encounter was logged under; notes are encrypted. There is no field for the member's name.
"""

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from network.fields import EncryptedTextField

# Columns naming a row in a public table (a user, the standard, an activation) carry no database foreign key:
# each would add two triggers to that public table per agency schema (30,000 on network_user at 3,000
# agencies), which every onboarding, every update and every delete of a user row then pays for. Those public
# rows are never deleted (accounts are deactivated; PROTECT everywhere), and a trigger on each refuses
# a DELETE (network and activations migrations); docs/scaling.md.
PUBLIC_ROW = {"db_constraint": False}


class Encounter(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # The form's one-time key: a double tap or a resubmission finds the encounter already saved.
    submission_key = models.UUIDField(unique=True)
    standard = models.ForeignKey(
        "network.DocumentationStandard", on_delete=models.PROTECT, related_name="+", **PUBLIC_ROW
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", **PUBLIC_ROW)
    co_supporters = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+", through="EncounterCoSupporter"
    )
    occurred_on = models.DateField()
    duration_band = models.CharField(max_length=40)
    contact_mode = models.CharField(max_length=40)
    initiator = models.CharField(max_length=40)
    recipient_relation = models.CharField(max_length=40)
    recipient_discipline = models.CharField(max_length=40)
    role_class = models.CharField(max_length=40)
    topics = ArrayField(models.CharField(max_length=40), default=list)
    interventions = ArrayField(models.CharField(max_length=40), default=list)
    referral = models.CharField(max_length=40)
    referred_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The team clinician a clinician referral is addressed to.",
        **PUBLIC_ROW,
    )
    visit_number = models.PositiveSmallIntegerField(default=1)
    confidentiality_notice_given = models.BooleanField()
    escalation = models.BooleanField(default=False)
    # Set when the contact was outreach in an interagency activation; nothing flows back but the status.
    activation = models.ForeignKey(
        "activations.Activation", on_delete=models.PROTECT, null=True, blank=True, related_name="+", **PUBLIC_ROW
    )
    outreach_target = models.ForeignKey(
        "activations.OutreachTarget", on_delete=models.PROTECT, null=True, blank=True, related_name="+", **PUBLIC_ROW
    )
    # Set when the contact answers a member's own request for a peer (members app); the request is then contacted.
    member_request = models.ForeignKey(
        "members.MemberRequest", on_delete=models.PROTECT, null=True, blank=True, related_name="+", **PUBLIC_ROW
    )
    notes = EncryptedTextField(null=True, blank=True)
    notes_purged_at = models.DateTimeField(null=True, blank=True)
    legal_hold = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_on", "-created_at"]
        indexes = [models.Index(fields=["occurred_on"])]

    def __str__(self) -> str:
        return f"Encounter {self.occurred_on:%Y-%m-%d}"


class EncounterCoSupporter(models.Model):
    """The table Django made for `Encounter.co_supporters`, named as a model so that its user column can go
    without a database foreign key (PUBLIC_ROW) while its encounter column keeps one (same schema)."""

    encounter = models.ForeignKey(Encounter, on_delete=models.CASCADE)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", **PUBLIC_ROW)

    class Meta:
        db_table = "encounters_encounter_co_supporters"
        unique_together = [("encounter", "user")]

    def __str__(self) -> str:
        return f"Co-supporter of encounter {self.encounter_id}"


class FollowUp(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Completed"

    class Outcome(models.TextChoices):
        CONTACTED = "contacted", "Contacted; no further need"
        ANOTHER = "another", "Contacted; another follow-up planned"
        REFERRED = "referred", "Referred on"
        DECLINED = "declined", "Member declined"
        UNREACHABLE = "unreachable", "Could not reach after attempts"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    encounter = models.ForeignKey(Encounter, on_delete=models.PROTECT, related_name="follow_ups")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", **PUBLIC_ROW)
    due_on = models.DateField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["due_on", "created_at"]
        indexes = [models.Index(fields=["status", "due_on"])]

    def __str__(self) -> str:
        return f"Follow-up due {self.due_on:%Y-%m-%d}"

    @property
    def is_overdue(self) -> bool:
        return self.status == self.Status.OPEN and self.due_on < timezone.localdate()


class DisclosureRecord(models.Model):
    """A confidentiality exception acted on: which one, when, who was told, when the member got written notice."""

    class Exception_(models.TextChoices):
        SUICIDE_RISK = "suicide-risk", "Suicide threat with intent and a plan or means"
        HARM_TO_OTHERS = "harm-to-others", "Threat of imminent serious harm to others"
        ABUSE = "abuse", "Abuse of a child, elder or vulnerable adult"
        CRIME = "crime", "Admission of a crime"
        CONSENT = "consent", "Member consented"
        COURT_ORDER = "court-order", "Court order"

    class Notified(models.TextChoices):
        CLINICIAN = "clinician", "Team clinician"
        CRISIS_TEAM = "crisis-team", "Crisis team / 988"
        LAW_ENFORCEMENT = "law-enforcement", "Law enforcement"
        PROTECTIVE_SERVICES = "protective-services", "Protective services"
        SUPERVISOR = "supervisor", "Supervisor / command"
        FAMILY = "family", "Family"
        COURT = "court", "Court"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    encounter = models.ForeignKey(Encounter, on_delete=models.PROTECT, related_name="disclosures")
    exception = models.CharField(max_length=32, choices=Exception_.choices)
    disclosed_at = models.DateTimeField()
    notified = ArrayField(models.CharField(max_length=32, choices=Notified.choices))
    written_notice_sent_on = models.DateField(null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", **PUBLIC_ROW)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-disclosed_at"]

    def __str__(self) -> str:
        return f"Disclosure {self.disclosed_at:%Y-%m-%d}"


class CheckInPlan(models.Model):
    """A member's consent to short check-ins after a contact, on the policy's schedule (7/30/90 days by default).

    The contact (an e-mail address, or an E.164 mobile number for check-ins by text) is encrypted under
    a data key of the plan's own, shredded when the check-ins end plus the policy's retention window. What the
    member answers is seen by the supporter only."""

    class Channel(models.TextChoices):
        EMAIL = "email", "E-mail"
        TEXT = "text", "Text message"  # through the phone provider (network.phone.text_send_to_number)

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    encounter = models.OneToOneField(Encounter, on_delete=models.PROTECT, related_name="checkin_plan")
    supporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", **PUBLIC_ROW)
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.EMAIL)
    contact = EncryptedTextField(null=True, blank=True)
    days = ArrayField(models.PositiveSmallIntegerField())
    started_on = models.DateField()
    ended_at = models.DateTimeField(null=True, blank=True, help_text="Stopped by the member or the last one sent.")
    stopped_by_member = models.BooleanField(default=False)
    contact_destroyed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Check-in plan {self.pk}"

    def encryption_subject(self):
        return self.uuid

    @staticmethod
    def shredded_columns() -> dict:
        """What a plan's row becomes once its own key is gone (the member stopped, the last check-in went, or
        a restore cannot bring the key back: agencies/backup.py): no contact, and nothing more is sent."""
        now = timezone.now()
        return {"contact": None, "contact_destroyed_at": now, "ended_at": Coalesce("ended_at", Value(now))}


class CheckIn(models.Model):
    """One check-in of a plan: due on a day, sent, and perhaps answered."""

    class Answer(models.TextChoices):
        OK = "ok", "I'm OK"
        CALL = "call", "I'd like a call"
        HELP = "help", "I need help now"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    plan = models.ForeignKey(CheckInPlan, on_delete=models.PROTECT, related_name="checkins")
    due_on = models.DateField()
    sent_at = models.DateTimeField(null=True, blank=True)
    answer = models.CharField(max_length=8, choices=Answer.choices, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    follow_up = models.ForeignKey(FollowUp, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["due_on"]
        indexes = [models.Index(fields=["due_on", "sent_at"])]

    def __str__(self) -> str:
        return f"Check-in due {self.due_on:%Y-%m-%d}"


class Referral(models.Model):
    """A referral made from an encounter to an entry of the network's referral directory, and how it went. The
    supporter follows it through as a follow-up of theirs (`follow_up`): reminded and escalated as any other.
    Visible to whoever sees the encounter, at the same level."""

    class Status(models.TextChoices):
        REFERRED = "referred", "Referred; no contact yet"
        CONTACT_MADE = "contact-made", "Contact made with the provider"
        WAITLISTED = "waitlisted", "Waitlisted"
        ATTENDED = "attended", "First appointment attended"
        DECLINED = "declined", "Member declined"
        UNANSWERED = "unanswered", "Provider did not answer"

    # The statuses that end the referral's follow-up, and the follow-up outcome each records.
    CLOSING = {
        Status.ATTENDED: FollowUp.Outcome.REFERRED,
        Status.DECLINED: FollowUp.Outcome.DECLINED,
        Status.UNANSWERED: FollowUp.Outcome.UNREACHABLE,
    }
    # Dead ends: what the directory's feedback counts per entry.
    DEAD_ENDS = (Status.WAITLISTED, Status.UNANSWERED)

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    encounter = models.ForeignKey(Encounter, on_delete=models.PROTECT, related_name="referrals")
    resource = models.ForeignKey("governance.ResourceEntry", on_delete=models.PROTECT, related_name="+", **PUBLIC_ROW)
    need = models.CharField(max_length=24, blank=True, help_text="The specialty searched for (a directory code).")
    referred_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", **PUBLIC_ROW)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REFERRED)
    follow_up = models.OneToOneField(FollowUp, on_delete=models.PROTECT, related_name="referral")
    # Set when the supporter marked it waitlisted and referred on to the next entry in the same step.
    next_referral = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="previous_referral"
    )
    created_at = models.DateTimeField(default=timezone.now)
    status_changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["status_changed_at"])]

    def __str__(self) -> str:
        return f"Referral {self.created_at:%Y-%m-%d}"

    @property
    def is_open(self) -> bool:
        return self.status not in self.CLOSING and self.next_referral_id is None
