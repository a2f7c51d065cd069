"""The structure a network agrees before the crisis (public schema).

- Collaboration agreements between agencies (or network-wide mutual aid): which agencies may be
  brought into one activation, whose supporters may reach whose members, what data is shared.
- Activation protocols: per incident type, the checklist with its timing and the follow-up
  schedule that opening an activation applies.
"""

from __future__ import annotations

import datetime
import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from network.validators import validate_single_line

EXPIRY_WARNING_DAYS = 30


# The kinds of critical incident the network plans for: each has an activation protocol (below) and an
# activation records one (activations.models).
class IncidentType(models.TextChoices):
    OFFICER_INVOLVED_SHOOTING = "ois", "Officer-involved shooting"
    LINE_OF_DUTY_DEATH = "lodd", "Line-of-duty death"
    MASS_CASUALTY = "mci", "Mass casualty incident"
    MAJOR_FIRE = "major-fire", "Major fire"
    CORRECTIONS_DISTURBANCE = "corrections-disturbance", "Corrections disturbance"
    IN_CUSTODY_DEATH = "in-custody-death", "In-custody death"
    MEMBER_SUICIDE = "member-suicide", "Suicide of a member"
    OTHER = "other", "Other"


class Scope(models.TextChoices):
    JOINT_ACTIVATION = "joint-activation", "Joint activation"
    CROSS_AGENCY_OUTREACH = "cross-agency-outreach", "Cross-agency outreach"
    DATA_SHARING = "data-sharing", "Data sharing"


class AgreementQuerySet(models.QuerySet):
    def in_force(self, on: datetime.date | None = None) -> AgreementQuerySet:
        on = on or timezone.localdate()
        return self.filter(status=Agreement.Status.ACTIVE, effective_on__lte=on).filter(
            Q(expires_on__isnull=True) | Q(expires_on__gte=on)
        )

    def expiring(self, on: datetime.date | None = None) -> AgreementQuerySet:
        on = on or timezone.localdate()
        return self.in_force(on).filter(expires_on__lte=on + datetime.timedelta(days=EXPIRY_WARNING_DAYS))

    def involving(self, agency) -> AgreementQuerySet:
        return self.filter(Q(network_wide=True, network_id=agency.network_id) | Q(parties=agency)).distinct()

    def visible_in_regions(self, region_ids: set[int] | None) -> AgreementQuerySet:
        """Agreements a network user scoped to `region_ids` may read (None: every region, the state
        admin): those with a party in one of the regions, and network-wide mutual aid, which binds every
        agency of the network and so the region's too."""
        if region_ids is None:
            return self
        in_region = self.model.objects.filter(parties__region_id__in=region_ids).values("pk")
        return self.filter(Q(network_wide=True) | Q(pk__in=in_region))


class Agreement(models.Model):
    """A signed collaboration agreement: its parties, scope, dates and the signed document."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Waiting for state approval"
        ACTIVE = "active", "Approved"
        DECLINED = "declined", "Declined"
        REVOKED = "revoked", "Revoked"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    network = models.ForeignKey("network.Network", on_delete=models.PROTECT, related_name="agreements")
    title = models.CharField(max_length=200, validators=[validate_single_line])
    network_wide = models.BooleanField(
        default=False, help_text="Mutual aid among every agency of the network, present and future."
    )
    parties = models.ManyToManyField("agencies.Agency", blank=True, related_name="agreements")
    scopes = ArrayField(models.CharField(max_length=32, choices=Scope.choices))
    effective_on = models.DateField()
    expires_on = models.DateField(null=True, blank=True, help_text="Leave empty for an agreement without end date.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROPOSED)
    # The signed document is kept in the database: covered by the same access checks and backups.
    document = models.BinaryField(editable=False)
    document_name = models.CharField(max_length=200)
    document_type = models.CharField(max_length=100)
    document_sha256 = models.CharField(max_length=64)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    expiry_notice_sent_on = models.DateField(null=True, blank=True)

    objects = AgreementQuerySet.as_manager()

    class Meta:
        ordering = ["expires_on", "title"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True) | Q(expires_on__gte=models.F("effective_on")),
                name="agreement_expires_after_effective",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def scope_labels(self) -> list[str]:
        return [Scope(scope).label for scope in self.scopes if scope in Scope.values]

    def days_to_expiry(self, on: datetime.date | None = None) -> int | None:
        if self.expires_on is None:
            return None
        return (self.expires_on - (on or timezone.localdate())).days

    @property
    def is_expiring(self) -> bool:
        days = self.days_to_expiry()
        return self.status == self.Status.ACTIVE and days is not None and 0 <= days <= EXPIRY_WARNING_DAYS


class ActivationProtocol(models.Model):
    """What opening an activation of one incident type sets in motion."""

    network = models.ForeignKey("network.Network", on_delete=models.PROTECT, related_name="protocols")
    incident_type = models.CharField(max_length=32, choices=IncidentType.choices)
    name = models.CharField(max_length=200, validators=[validate_single_line])
    follow_up_days = ArrayField(
        models.PositiveSmallIntegerField(),
        default=list,
        blank=True,
        help_text="Days after the incident when each affected member is followed up, e.g. 7, 30, 90.",
    )
    # The callout ladder (docs/callout.md): no answer to the text after this many minutes -> a voice call;
    # no answer to that after this many more -> the coordinators are told.
    text_wait_minutes = models.PositiveSmallIntegerField(
        default=10, help_text="Minutes to wait for an answer to the callout text before calling."
    )
    call_wait_minutes = models.PositiveSmallIntegerField(
        default=10, help_text="Minutes to wait after the call before telling the coordinators."
    )
    # Regional deployment (docs/deployment.md): a deployment request copies these; the planner flags anyone past them.
    deployment_shift_hours = models.PositiveSmallIntegerField(default=12, help_text="Length of one deployment shift.")
    deployment_rest_hours = models.PositiveSmallIntegerField(
        default=12, help_text="Rest a deployed supporter has between two shifts."
    )
    deployment_max_days_in_row = models.PositiveSmallIntegerField(
        default=7, help_text="Most days in a row a supporter works a deployment (a 7-day rotation)."
    )
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["incident_type"]
        constraints = [
            models.UniqueConstraint(fields=["network", "incident_type"], name="protocol_one_per_incident_type"),
        ]

    def __str__(self) -> str:
        return self.name


class ProtocolStep(models.Model):
    """One checklist item: due a number of hours after the incident, optionally not before another."""

    protocol = models.ForeignKey(ActivationProtocol, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    title = models.CharField(max_length=120)
    not_before_hours = models.PositiveIntegerField(default=0)
    due_hours = models.PositiveIntegerField()

    class Meta:
        ordering = ["protocol", "position"]
        constraints = [
            models.CheckConstraint(
                condition=Q(due_hours__gte=models.F("not_before_hours")), name="step_due_after_start"
            )
        ]

    def __str__(self) -> str:
        return self.title


# --- The referral resource directory ------------------------------------------------------------------------
# Where peer supporters refer members: clinicians, EAPs, chaplains, treatment programs, crisis lines. Network data
# kept by the state admin and regional coordinators; an entry holds no member data (referrals are rows in the
# agency's schema, encounters.models.Referral, that name an entry by id).

STALE_AFTER_DAYS = 90


class ResourceKind(models.TextChoices):
    CLINICIAN = "clinician", "Clinician"
    EAP = "eap", "EAP"
    CHAPLAIN = "chaplain", "Chaplain"
    TREATMENT_PROGRAM = "treatment-program", "Treatment program"
    CRISIS_LINE = "crisis-line", "Crisis line"


class ResourceSpecialty(models.TextChoices):
    TRAUMA = "trauma", "Trauma / PTSD"
    SUBSTANCE_USE = "substance-use", "Substance use"
    COUPLES = "couples", "Couples"
    FAMILY = "family", "Family"
    GRIEF = "grief", "Grief"
    SUICIDE_RISK = "suicide-risk", "Suicide risk"
    DEPRESSION_ANXIETY = "depression-anxiety", "Depression / anxiety"
    SLEEP = "sleep", "Sleep"
    MORAL_INJURY = "moral-injury", "Moral injury"


class ResourceMethod(models.TextChoices):
    EMDR = "emdr", "EMDR"
    CPT = "cpt", "Cognitive processing therapy"
    PE = "pe", "Prolonged exposure"
    CBT = "cbt", "CBT"
    MEDICATION = "medication", "Medication management"
    GROUP = "group", "Group"
    RESIDENTIAL = "residential", "Residential"
    PASTORAL = "pastoral", "Pastoral care"


class ResourceEntryQuerySet(models.QuerySet):
    def flagged(self, on: datetime.date | None = None) -> ResourceEntryQuerySet:
        """Entries not confirmed for STALE_AFTER_DAYS, or whose vetting has run out (or was never recorded)."""
        on = on or timezone.localdate()
        return self.filter(
            Q(confirmed_on__lt=on - datetime.timedelta(days=STALE_AFTER_DAYS))
            | Q(vetted_until__isnull=True)
            | Q(vetted_until__lt=on)
        )

    def with_standing(self, on: datetime.date | None = None) -> ResourceEntryQuerySet:
        """Annotated `is_stale` and `vetting_expired`, and ordered as suggestions are: entries in good standing
        first, then those accepting new clients, then the shortest wait (unknown waits last)."""
        on = on or timezone.localdate()
        stale = Q(confirmed_on__lt=on - datetime.timedelta(days=STALE_AFTER_DAYS))
        expired = Q(vetted_until__isnull=True) | Q(vetted_until__lt=on)
        return self.annotate(
            is_stale=models.ExpressionWrapper(stale, output_field=models.BooleanField()),
            vetting_expired=models.ExpressionWrapper(expired, output_field=models.BooleanField()),
            flagged_rank=models.Case(models.When(stale | expired, then=1), default=0),
        ).order_by("flagged_rank", "-accepting_new_clients", models.F("wait_days").asc(nulls_last=True), "name", "pk")


class ResourceEntry(models.Model):
    """One vetted resource of the network's referral directory. No member data."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    network = models.ForeignKey("network.Network", on_delete=models.PROTECT, related_name="resources")
    # Empty: serves the whole state (kept by the state admin); else kept by that region's coordinators too.
    region = models.ForeignKey("network.Region", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    kind = models.CharField(max_length=24, choices=ResourceKind.choices)
    name = models.CharField(max_length=200, validators=[validate_single_line])
    contact = models.CharField(
        max_length=300, blank=True, validators=[validate_single_line], help_text="The provider's phone, address, site."
    )
    # Who they serve
    disciplines = ArrayField(models.CharField(max_length=16), default=list, blank=True)
    serves_family = models.BooleanField(default=False)
    serves_retirees = models.BooleanField(default=False)
    specialties = ArrayField(
        models.CharField(max_length=24, choices=ResourceSpecialty.choices), default=list, blank=True
    )
    methods = ArrayField(models.CharField(max_length=24, choices=ResourceMethod.choices), default=list, blank=True)
    first_responder_trained = models.BooleanField(default=False)
    languages = ArrayField(models.CharField(max_length=40), default=list, blank=True)
    telehealth = models.BooleanField(default=False)
    insurance = ArrayField(models.CharField(max_length=60), default=list, blank=True)
    eap_accepted = models.BooleanField(default=False)
    # Availability, and when someone last confirmed it
    accepting_new_clients = models.BooleanField(default=True)
    wait_days = models.PositiveSmallIntegerField(null=True, blank=True)
    confirmed_on = models.DateField()
    # Vetting
    vetted_by = models.CharField(max_length=200, blank=True, validators=[validate_single_line])
    vetted_on = models.DateField(null=True, blank=True)
    vetted_until = models.DateField(null=True, blank=True)
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    objects = ResourceEntryQuerySet.as_manager()

    class Meta:
        ordering = ["name", "pk"]
        indexes = [models.Index(fields=["network", "active"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(vetted_until__isnull=True)
                | Q(vetted_on__isnull=True)
                | Q(vetted_until__gte=F("vetted_on")),
                name="resource_vetted_until_after_vetted_on",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def standing(self, on: datetime.date | None = None) -> list[str]:
        """Why the entry is flagged, in words: empty when it is in good standing."""
        on = on or timezone.localdate()
        problems = []
        if self.confirmed_on < on - datetime.timedelta(days=STALE_AFTER_DAYS):
            problems.append(f"not confirmed since {self.confirmed_on:%Y-%m-%d}")
        if self.vetted_until is None:
            problems.append("vetting not recorded")
        elif self.vetted_until < on:
            problems.append(f"vetting expired {self.vetted_until:%Y-%m-%d}")
        return problems
