"""Agencies (each one a PostgreSQL schema), their members' roles, and invitations."""

import re

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_tenants.models import TenantMixin
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from network.validators import validate_single_line

SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
RESERVED_SLUGS = frozenset({"public", "template", "admin", "static", "network", "api", "www", "new"})


def validate_agency_slug(value: str) -> None:
    if not 3 <= len(value) <= 40:
        raise ValidationError("Use 3 to 40 characters.", code="slug_length")
    if not SLUG_PATTERN.match(value):
        raise ValidationError(
            "Use lowercase letters, digits and single hyphens, starting with a letter (e.g. riverton-fire).",
            code="slug_format",
        )
    if value in RESERVED_SLUGS:
        raise ValidationError("This address is reserved; choose another.", code="slug_reserved")


def schema_name_for_slug(slug: str) -> str:
    return "agency_" + slug.replace("-", "_")


class Discipline(models.TextChoices):
    FIRE = "fire", "Fire"
    EMS = "ems", "EMS"
    DISPATCH = "911", "911 / dispatch"
    LAW_ENFORCEMENT = "law", "Law enforcement"
    CORRECTIONS = "corrections", "Corrections"


class Agency(TenantMixin):
    """A member agency of the network. Its confidential records live in its own schema."""

    class Status(models.TextChoices):
        PROVISIONING = "provisioning", "Being set up"
        ACTIVE = "active", "Active"
        FAILED = "failed", "Set-up failed"
        SUSPENDED = "suspended", "Suspended"
        DESTROYED = "destroyed", "Offboarded, data destroyed"

    network = models.ForeignKey("network.Network", on_delete=models.PROTECT, related_name="agencies")
    name = models.CharField(max_length=200, validators=[validate_single_line])
    slug = models.SlugField(max_length=40, unique=True, validators=[validate_agency_slug])
    discipline = models.CharField(max_length=16, choices=Discipline.choices)
    region = models.ForeignKey("network.Region", on_delete=models.PROTECT, related_name="agencies")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROVISIONING)
    # Onboarding progress shown to the state admin while the schema is built (0-100).
    provision_progress = models.PositiveSmallIntegerField(default=0)
    provision_step = models.CharField(max_length=100, blank=True)
    provision_error = models.CharField(max_length=200, blank=True)
    provision_seconds = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    destroyed_at = models.DateTimeField(null=True, blank=True)
    # Coordinators confirm each quarter that the roster is current; beat reminds them when not.
    roster_confirmed_at = models.DateTimeField(null=True, blank=True)
    roster_confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    roster_reminded_at = models.DateTimeField(null=True, blank=True)

    # Schemas are built by a Celery task and never dropped by a row delete.
    auto_create_schema = False
    auto_drop_schema = False

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "agencies"

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class AgencyUserObjectPermission(UserObjectPermissionBase):
    """Direct foreign-key grants on agencies (guardian's fast path, no generic relation)."""

    content_object = models.ForeignKey(Agency, on_delete=models.CASCADE)


class AgencyGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Agency, on_delete=models.CASCADE)


class Role(models.TextChoices):
    """Roles a user can hold inside one agency."""

    PEER_SUPPORTER = "peer_supporter", "Peer supporter"
    COORDINATOR = "coordinator", "Team coordinator"
    CLINICIAN = "clinician", "Team clinician"
    CHIEF = "chief", "Chief / leadership"
    AGENCY_ADMIN = "agency_admin", "Agency admin"


class Membership(models.Model):
    """A user's place in one agency: exactly one role per agency."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="memberships")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=32, choices=Role.choices)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["agency__name", "user__email"]
        constraints = [
            models.UniqueConstraint(fields=["user", "agency"], name="membership_one_per_user_and_agency"),
        ]

    def __str__(self) -> str:
        return f"{self.user} - {self.get_role_display()} @ {self.agency}"


class Invitation(models.Model):
    """An e-mailed, single-use link that lets someone set a password and join an agency in a role.

    Only a SHA-256 digest of the token is stored, so a database reader cannot use pending links.
    """

    email = models.EmailField()
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="invitations")
    role = models.CharField(max_length=32, choices=Role.choices)
    token_digest = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "email"],
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_pending_per_email_and_agency",
            ),
        ]

    def __str__(self) -> str:
        return f"Invitation {self.pk} ({self.get_role_display()})"

    @property
    def is_usable(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > timezone.now()


class DataKey(models.Model):
    """An AES-256 data key, stored only wrapped by a master key (see agencies/crypto.py).

    One current key per agency, one per activation and one per subject (a row with a key of its own, such as a
    member's request); an activation also has one blind-index key
    (purpose BLIND_INDEX, the HMAC key of its duplicate detection), shredded with its data key.
    Destroying every key of an agency (wrapped_key emptied) shreds its encrypted data.
    """

    class Purpose(models.TextChoices):
        ENCRYPTION = "encryption", "Encrypts fields (AES-256-GCM)"
        BLIND_INDEX = "blind-index", "Keys an activation's blind index (HMAC-SHA256)"

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, null=True, blank=True, related_name="data_keys")
    # An activation's own key: names of affected members, shredded when its retention ends.
    activation = models.ForeignKey(
        "activations.Activation", on_delete=models.PROTECT, null=True, blank=True, related_name="data_keys"
    )
    # The key of one row (a member's request, a member's check-ins): the row's uuid, no foreign key (the row may
    # live in any schema). Shredded when the row's retention ends (docs/members.md).
    subject = models.UUIDField(null=True, blank=True, db_index=True)
    purpose = models.CharField(max_length=16, choices=Purpose.choices, default=Purpose.ENCRYPTION)
    key_id = models.CharField(max_length=32, unique=True)
    wrapped_key = models.BinaryField()
    master_key_id = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)
    destroyed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Two index keys for one activation would split its duplicates between them.
            models.UniqueConstraint(
                fields=["activation"],
                condition=models.Q(purpose="blind-index", destroyed_at__isnull=True),
                name="one_live_blind_index_key_per_activation",
            ),
        ]

    def __str__(self) -> str:
        return f"DataKey {self.key_id}"


def role_group_name(agency_id: int, role: str) -> str:
    """The auth group holding an agency's members of one role; object grants go to these groups."""
    return f"agency-{agency_id}-{role}"


class CertificationKind(models.TextChoices):
    CISM_INDIVIDUAL = "cism-individual", "CISM: individual crisis intervention"
    CISM_GROUP = "cism-group", "CISM: group crisis intervention"
    PEER_BASIC = "peer-basic", "Peer support: basic"
    PEER_ADVANCED = "peer-advanced", "Peer support: advanced"


class SupporterProfile(models.Model):
    """A team member's standing as a peer supporter: designation, availability, languages."""

    class Availability(models.TextChoices):
        AVAILABLE = "available", "Available"
        UNAVAILABLE = "unavailable", "Unavailable"
        ON_LEAVE = "on_leave", "On leave"

    membership = models.OneToOneField(Membership, on_delete=models.PROTECT, related_name="profile")
    # Privilege holds only for supporters designated before the incident (e.g. Louisiana).
    designated_on = models.DateField(null=True, blank=True)
    availability = models.CharField(max_length=16, choices=Availability.choices, default=Availability.AVAILABLE)
    on_leave_until = models.DateField(null=True, blank=True)
    languages = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    # Disciplines the supporter serves (e.g. a firefighter-paramedic: fire and EMS); empty means the
    # agency's own discipline.
    disciplines = ArrayField(models.CharField(max_length=16, choices=Discipline.choices), default=list, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Profile of membership {self.membership_id}"

    def served_disciplines(self) -> list[str]:
        return self.disciplines or [self.membership.agency.discipline]


class Certification(models.Model):
    membership = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="certifications")
    kind = models.CharField(max_length=32, choices=CertificationKind.choices)
    certified_on = models.DateField()
    expires_on = models.DateField(null=True, blank=True)
    # Training hours the certification stands for: a state privilege profile may ask for a minimum (issue 18).
    hours = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["kind", "-certified_on"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.certified_on:%Y-%m-%d})"

    def is_current(self, on) -> bool:
        return self.certified_on <= on and (self.expires_on is None or self.expires_on >= on)


class AgencyExport(models.Model):
    """The offboarding export of one agency: a readable export and a schema dump, built by Celery."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Being built"
        READY = "ready", "Ready to download"
        FAILED = "failed", "Failed"
        DELETED = "deleted", "Deleted (the agency was destroyed or reinstated)"

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="exports")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)
    step = models.CharField(max_length=100, blank=True)
    error = models.CharField(max_length=200, blank=True)
    file_name = models.CharField(max_length=200, blank=True)
    size_bytes = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    downloaded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]

    def __str__(self) -> str:
        return f"Export {self.pk} of {self.agency}"
