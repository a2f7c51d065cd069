"""Members' own requests for a peer (public schema): each agency's request address, and the requests.

A request holds routing and queue metadata in plain codes (who asked, how urgent, the topic code, which
agency serves it, its state) and the member's contact details encrypted under a data key of the request's
own (`encryption_subject`), shredded when the request closes plus the policy's retention window. There is
no field for the member's name. docs/members.md says who sees what.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from network.fields import EncryptedTextField
from network.validators import validate_single_line


class RequestAddress(models.Model):
    """An agency's public request page, /r/<token>/: short, unguessable, rotatable (the old token then leads
    to the same neutral page as every other unknown token)."""

    agency = models.OneToOneField("agencies.Agency", on_delete=models.PROTECT, related_name="request_address")
    token = models.CharField(max_length=32, unique=True)
    rotated_at = models.DateTimeField(default=timezone.now)
    # What the request page shows a member in crisis after 988, and what "I'll call the team line" means.
    team_line = models.CharField(max_length=40, blank=True, validators=[validate_single_line])
    emergency_resources = models.TextField(
        max_length=600, blank=True, help_text="The agency's own emergency resources: EAP line, chaplain, on-call."
    )

    def __str__(self) -> str:
        return f"Request address of agency {self.agency_id}"


class MemberRequest(models.Model):
    class Who(models.TextChoices):
        MEMBER = "member", "I work for the agency"
        FAMILY = "family", "I am family of someone who does"
        RETIREE = "retiree", "I am retired from the agency"

    class ContactKind(models.TextChoices):
        PHONE = "phone", "Phone (call or text)"
        EMAIL = "email", "E-mail"
        TEAM_LINE = "team-line", "I'll call the team line myself"

    class GoodTime(models.TextChoices):
        ANY = "any", "Any time"
        MORNING = "morning", "Morning"
        AFTERNOON = "afternoon", "Afternoon"
        EVENING = "evening", "Evening"
        NIGHT = "night", "Night (I work nights)"

    class Urgency(models.TextChoices):
        NOW = "now", "I need help now"
        TODAY = "today", "Today, if possible"
        WEEK = "week", "In the next few days"

    class ServedBy(models.TextChoices):
        OWN = "own", "Someone from my agency"
        OTHER = "other", "Someone from another agency in the network"

    class ContactVisibleTo(models.TextChoices):
        COORDINATOR = "coordinator", "The team coordinator and the supporter who takes my request"
        SUPPORTER = "supporter", "Only the supporter who takes my request"

    class Status(models.TextChoices):
        NEW = "new", "New"
        ASSIGNED = "assigned", "Assigned"
        CONTACTED = "contacted", "Contacted"
        CLOSED = "closed", "Closed"

    # Queue order: urgent first (a flood of routine requests cannot hide one), then oldest first.
    PRIORITY = {Urgency.NOW: 0, Urgency.TODAY: 1, Urgency.WEEK: 2}

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    agency = models.ForeignKey(
        "agencies.Agency", on_delete=models.PROTECT, related_name="member_requests", help_text="Whose poster."
    )
    who = models.CharField(max_length=16, choices=Who.choices)
    contact_kind = models.CharField(max_length=16, choices=ContactKind.choices)
    contact = EncryptedTextField(null=True, blank=True, help_text="Phone or e-mail, under the request's own key.")
    # Keyed hash (DJANGO_SECRET_KEY, outside the database) of the normalised contact within the agency: folds
    # repeated requests from one contact into one. Emptied with the contact.
    contact_digest = models.CharField(max_length=64, blank=True, db_index=True)
    good_time = models.CharField(max_length=16, choices=GoodTime.choices, default=GoodTime.ANY)
    urgency = models.CharField(max_length=8, choices=Urgency.choices)
    priority = models.PositiveSmallIntegerField(default=2)
    topic = models.SlugField(max_length=40, blank=True, help_text="A topic code of the documentation standard.")
    served_by = models.CharField(max_length=8, choices=ServedBy.choices, default=ServedBy.OWN)
    contact_visible_to = models.CharField(max_length=16, choices=ContactVisibleTo.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    asked_at = models.DateTimeField(default=timezone.now)
    last_asked_at = models.DateTimeField(default=timezone.now)
    times_asked = models.PositiveSmallIntegerField(default=1)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    assigned_agency = models.ForeignKey(
        "agencies.Agency", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    assigned_at = models.DateTimeField(null=True, blank=True)
    contacted_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    contact_destroyed_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True, help_text="Coordinators told the target was missed.")
    escalated_regional_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["priority", "asked_at"]
        indexes = [models.Index(fields=["status", "priority", "asked_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="new") | Q(status="closed") | Q(assigned_to__isnull=False),
                name="member_request_assigned_has_supporter",
            ),
        ]

    def __str__(self) -> str:
        return f"Member request {self.pk} ({self.status})"

    def encryption_subject(self):
        return self.uuid

    @property
    def urgent(self) -> bool:
        return self.urgency == self.Urgency.NOW

    @property
    def cross_agency(self) -> bool:
        return self.served_by == self.ServedBy.OTHER

    @property
    def coordinator_may_see_contact(self) -> bool:
        return self.contact_visible_to == self.ContactVisibleTo.COORDINATOR
