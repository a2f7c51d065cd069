"""Public-schema models: users, the statewide network, regions, network roles, audit events, MFA devices."""

import datetime
import time
import uuid
from binascii import unhexlify

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django_otp.models import Device, ThrottlingMixin, TimestampMixin
from django_otp.oath import TOTP

from network.fields import EncryptedTextField
from network.privilege import PrivilegeProfileCode
from network.validators import validate_single_line


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra) -> "User":
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)  # None gives an unusable password until an invitation is accepted
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra) -> "User":
        extra.update(is_staff=True, is_superuser=True)
        return self.create_user(email, password, **extra)

    def get_by_natural_key(self, username: str) -> "User":
        return self.get(email__iexact=username)


class User(AbstractBaseUser, PermissionsMixin):
    """One login for the whole network; what a user may do comes from memberships and network roles."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150, blank=True, validators=[validate_single_line])
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        ordering = ["email"]

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email


class Network(models.Model):
    """The statewide peer support network. One per deployment."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=50, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class Region(models.Model):
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="regions")
    name = models.CharField(max_length=100, validators=[validate_single_line])
    slug = models.SlugField(max_length=50)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["network", "slug"], name="region_slug_unique_in_network"),
        ]

    def __str__(self) -> str:
        return self.name


class NetworkRole(models.Model):
    """A network-level role: state admin (whole network) or regional coordinator (one region)."""

    class Role(models.TextChoices):
        STATE_ADMIN = "state_admin", "State admin"
        REGIONAL_COORDINATOR = "regional_coordinator", "Regional coordinator"

    user = models.ForeignKey(User, on_delete=models.PROTECT, related_name="network_roles")
    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="roles")
    role = models.CharField(max_length=32, choices=Role.choices)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, null=True, blank=True, related_name="coordinators")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(role="state_admin", region__isnull=True) | Q(role="regional_coordinator", region__isnull=False)
                ),
                name="network_role_region_matches_role",
            ),
            models.UniqueConstraint(
                fields=["user", "network", "role", "region"], name="network_role_unique", nulls_distinct=False
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()}{f' ({self.region})' if self.region_id else ''}"


class AuditEvent(models.Model):
    """Append-only record of who did what, when, from where, and whether it worked.

    Codes and ids only: never names, notes or other narrative text.
    """

    class Outcome(models.TextChoices):
        SUCCESS = "success", "Success"
        FAILURE = "failure", "Failure"
        DENIED = "denied", "Denied"

    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.SUCCESS)
    source_ip = models.GenericIPAddressField(null=True, blank=True)
    # Filled by a database trigger: each event's SHA-256 covers its fields and the previous event's
    # hash, so an edited, removed or inserted row breaks the chain (`manage.py audit_verify`).
    previous_hash = models.CharField(max_length=64, blank=True, editable=False)
    hash = models.CharField(max_length=64, blank=True, editable=False)
    # The event's place in the chain, given under the chain's lock (ids can commit out of order).
    chain_position = models.BigIntegerField(null=True, blank=True, editable=False, unique=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%dT%H:%M:%SZ} {self.action} {self.outcome}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise RuntimeError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("Audit events are append-only.")


class Vocabulary(models.TextChoices):
    """The coded lists of the network's documentation standard."""

    CONTACT_MODE = "contact_mode", "Contact mode"
    INITIATOR = "initiator", "Who initiated"
    RECIPIENT_RELATION = "recipient_relation", "Recipient relation"
    RECIPIENT_DISCIPLINE = "recipient_discipline", "Recipient discipline"
    ROLE_CLASS = "role_class", "Recipient role class"
    TOPIC = "topic", "Topic"
    INTERVENTION = "intervention", "CISM intervention"
    REFERRAL = "referral", "Referral"
    DURATION_BAND = "duration_band", "Duration"


class DocumentationStandard(models.Model):
    """One published version of the network's documentation standard. Versions are never edited:
    a change is a new version, and each encounter keeps the version it was logged under."""

    network = models.ForeignKey(Network, on_delete=models.PROTECT, related_name="standards")
    version = models.PositiveIntegerField()
    published_at = models.DateTimeField(default=timezone.now)
    published_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["network", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["network", "version"], name="standard_version_unique_in_network"),
        ]

    def __str__(self) -> str:
        return f"Documentation standard v{self.version}"


class VocabularyTerm(models.Model):
    """A term of one vocabulary in one version. `concept` stays the same across versions when a
    term is renamed or merged, so reports can count one concept over every version."""

    standard = models.ForeignKey(DocumentationStandard, on_delete=models.PROTECT, related_name="terms")
    vocabulary = models.CharField(max_length=32, choices=Vocabulary.choices)
    code = models.SlugField(max_length=40)
    label = models.CharField(max_length=100, validators=[validate_single_line])
    concept = models.SlugField(max_length=40)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["vocabulary", "position", "code"]
        constraints = [
            models.UniqueConstraint(fields=["standard", "vocabulary", "code"], name="term_code_unique_in_version"),
        ]

    def __str__(self) -> str:
        return self.label


def default_checkin_days() -> list[int]:
    """Check-ins after a critical incident commonly follow 7/30/90 days (DOMAIN.md, "Members as users")."""
    return [7, 30, 90]


DEFAULT_CONFIDENTIALITY_NOTICE = (
    "What you tell me stays between us, with these exceptions: if you tell me you intend to harm yourself "
    "and have a plan or the means; if you threaten serious harm to someone else; if you tell me about abuse "
    "of a child, an elder or a vulnerable adult; if you tell me about a crime; if you agree in writing; or if "
    "a court orders it. If I must share something, I will tell you in writing. I do not keep notes of what "
    "we talk about."
)


class NetworkPolicy(models.Model):
    """The network's confidentiality settings that encounters obey. One row per network."""

    network = models.OneToOneField(Network, on_delete=models.PROTECT, related_name="policy")
    notes_enabled = models.BooleanField(
        default=False, help_text="Free-text notes are privileged records in several states: off unless decided."
    )
    notes_retention_days = models.PositiveIntegerField(
        default=30, help_text="Days after an encounter's follow-ups close before its notes are purged."
    )
    followup_reminder_days = models.PositiveSmallIntegerField(default=1)
    suppression_threshold = models.PositiveSmallIntegerField(
        default=5, help_text="Counts from 1 to this number minus one are hidden on leadership pages and exports."
    )
    activation_retention_days = models.PositiveIntegerField(
        default=90, help_text="Days after an activation closes before the names in it are destroyed."
    )
    confidentiality_notice_text = models.TextField(
        default=DEFAULT_CONFIDENTIALITY_NOTICE,
        help_text="What supporters tell a member, in writing, before a first session (34 U.S.C. 50901(e)).",
    )
    account_inactive_days = models.PositiveSmallIntegerField(
        default=90, help_text="Accounts unused for this many days are disabled (at most 90)."
    )
    publication_delay_days = models.PositiveSmallIntegerField(
        default=7, help_text="Leadership figures of a period are published once, this many days after it ends."
    )
    callout_max_texts = models.PositiveIntegerField(
        default=300, help_text="Texts one activation's callout may send in all (callout, re-sends, escalation)."
    )
    callout_max_calls = models.PositiveIntegerField(
        default=100, help_text="Voice calls one activation's callout may place."
    )
    # Members' own requests and check-ins (docs/members.md).
    request_first_contact_hours = models.PositiveSmallIntegerField(
        default=4, help_text="Hours within which a member who asked for a peer is first contacted."
    )
    request_urgent_first_contact_minutes = models.PositiveSmallIntegerField(
        default=30, help_text="Minutes within which a member who asked urgently is first contacted."
    )
    request_contact_retention_days = models.PositiveSmallIntegerField(
        default=7, help_text="Days after a request closes (or check-ins end) before the member's contact is destroyed."
    )
    checkin_days = ArrayField(
        models.PositiveSmallIntegerField(),
        default=default_checkin_days,
        help_text="Days after a contact on which a member who agreed is sent a check-in.",
    )
    # Issue 18: the state privilege profile in force (network/privilege.py), and the custom profile's rules.
    privilege_profile = models.CharField(max_length=8, choices=PrivilegeProfileCode.choices, default="none")
    privilege_designation_before_incident = models.BooleanField(default=True)
    privilege_min_training_hours = models.PositiveSmallIntegerField(default=0)
    privilege_no_session_content = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    def __str__(self) -> str:
        return f"Policy of {self.network}"


class PolicyChange(models.Model):
    """One change to the network policy: which setting, from what, to what, by whom, when."""

    policy = models.ForeignKey(NetworkPolicy, on_delete=models.PROTECT, related_name="changes")
    setting = models.CharField(max_length=64)
    old_value = models.TextField()
    new_value = models.TextField()
    changed_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.setting}: {self.old_value} -> {self.new_value}"


class OutboxMessage(models.Model):
    """A Celery task to send, written in the same transaction as the change that calls for it.

    A change and the work it queues commit together or not at all, and the work survives a Redis
    outage: it is sent right after the commit when Redis is up, and by the relay (`network.outbox`)
    once Redis is back. Only ids and codes go in `args`/`kwargs`, never names or narrative text."""

    task = models.CharField(max_length=200)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    # The schema the task was queued from: it runs there, as a task sent with .delay() would.
    schema_name = models.CharField(max_length=63, default="public")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Failed attempts to hand it to Redis.")
    # Run the task no earlier than this (Celery's eta): the callout ladder's later steps.
    eta = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=100, blank=True, help_text="Exception class only: never a message.")

    class Meta:
        indexes = [
            models.Index(fields=["created_at"], condition=Q(sent_at__isnull=True), name="outbox_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.task} ({'sent' if self.sent_at else 'pending'})"


# --- Two-step sign-in (network/mfa.py) ---------------------------------------------------------------
# django-otp's own TOTPDevice and StaticToken keep the authenticator secret and the recovery codes in
# plain text; these two keep the secret encrypted under the network's data key and the codes as keyed
# hashes. Both are django-otp devices, so its middleware and `otp_login` work with them unchanged.


class AuthenticatorApp(TimestampMixin, ThrottlingMixin, Device):
    """A confirmed authenticator app (TOTP, RFC 6238: 6 digits, 30-second steps, SHA-1 as every app
    supports). Created only when a code confirms the secret; there is never a pending row to share."""

    step = 30
    t0 = 0
    digits = 6
    tolerance = 1  # one step of clock drift either way

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    secret = EncryptedTextField(help_text="The shared secret, hex, encrypted under the network's data key.")
    drift = models.SmallIntegerField(default=0)
    last_t = models.BigIntegerField(default=-1, help_text="Time step of the last accepted code: only later ones pass.")

    class Meta(Device.Meta):
        verbose_name = "authenticator app"

    def encryption_owner(self):
        return None  # the network's data key, whatever agency a request happens to be in

    @property
    def bin_key(self) -> bytes:
        return unhexlify(self.secret.encode())

    def get_throttle_factor(self) -> int:
        return getattr(settings, "OTP_TOTP_THROTTLE_FACTOR", 1)

    def verify_token(self, token) -> bool:
        """As django-otp's TOTPDevice: a code of a later step than the last accepted one, within one
        step of drift; each wrong code doubles the wait before the next is checked."""
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        try:
            code = int(token)
        except (TypeError, ValueError):
            verified = False
        else:
            totp = TOTP(self.bin_key, self.step, self.t0, self.digits, self.drift)
            totp.time = time.time()
            verified = totp.verify(code, self.tolerance, self.last_t + 1)
            if verified:
                self.last_t = totp.t()
                self.drift = totp.drift
                self.throttle_reset(commit=False)
                self.set_last_used_timestamp(commit=False)
                self.save()
        if not verified:
            self.throttle_increment(commit=True)
        return verified


def recovery_code_digest(*, device_uuid, code: str) -> str:
    """A recovery code as stored: HMAC-SHA256 under a key derived from DJANGO_SECRET_KEY (outside the
    database), bound to its set, so a copy of the table alone gives nothing to try codes against."""
    return salted_hmac("muster.mfa-recovery-code", f"{device_uuid}|{code}", algorithm="sha256").hexdigest()


class RecoveryCodeSet(TimestampMixin, ThrottlingMixin, Device):
    """An account's one-time recovery codes, as a django-otp device (throttled like the app)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)

    class Meta(Device.Meta):
        verbose_name = "recovery code set"

    def get_throttle_factor(self) -> int:
        return getattr(settings, "OTP_STATIC_THROTTLE_FACTOR", 1)

    def verify_token(self, token) -> bool:
        """A code is spent (deleted) when it is accepted."""
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        match = self.codes.filter(digest=recovery_code_digest(device_uuid=self.uuid, code=str(token))).first()
        if match is None:
            self.throttle_increment()
            return False
        match.delete()
        self.throttle_reset(commit=False)
        self.set_last_used_timestamp(commit=False)
        self.save()
        return True


class RecoveryCode(models.Model):
    device = models.ForeignKey(RecoveryCodeSet, related_name="codes", on_delete=models.CASCADE)
    digest = models.CharField(max_length=64, help_text="recovery_code_digest() of the code; never the code.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["device", "digest"], name="recovery_code_unique")]

    def __str__(self) -> str:
        return f"Recovery code {self.pk}"


# --- Text and voice (network/phone.py, docs/callout.md) ----------------------------------------------


def phone_index(e164: str) -> str:
    """The keyed hash an inbound text's sender is looked up by, so no row is decrypted to find it.
    Keyed with DJANGO_SECRET_KEY (changing it means people confirm their numbers again)."""
    return salted_hmac("muster.mobile-number", e164, algorithm="sha256").hexdigest()


class MobileNumber(models.Model):
    """A person's mobile number for callouts: one per person, whatever their agencies. The number is
    encrypted under the network's data key; `number_index` finds it from an inbound text."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="mobile")
    number = EncryptedTextField(help_text="E.164, encrypted under the network's data key.")
    number_index = models.CharField(max_length=64, unique=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    code_digest = models.CharField(max_length=64, blank=True, help_text="Keyed hash of the confirmation code.")
    code_sent_at = models.DateTimeField(null=True, blank=True)
    accepts_text = models.BooleanField(default=True)
    accepts_voice = models.BooleanField(default=True)
    reminders_by_text = models.BooleanField(default=False, help_text="Follow-up reminders by text too.")
    # Local times; no text or call between them, except callouts for major incidents.
    quiet_from = models.TimeField(null=True, blank=True)
    quiet_until = models.TimeField(null=True, blank=True)
    # The carrier keywords: STOP stops every text and call to the number until START.
    stopped_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Mobile number {self.pk}"

    def encryption_owner(self):
        return None  # the network's data key

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None

    def reachable(self, channel: str) -> bool:
        """Confirmed, not stopped, and the person accepts `channel` ("text" or "voice")."""
        wanted = self.accepts_text if channel == "text" else self.accepts_voice
        return self.confirmed and self.stopped_at is None and wanted

    def quiet_at(self, moment) -> bool:
        if self.quiet_from is None or self.quiet_until is None or self.quiet_from == self.quiet_until:
            return False
        now = timezone.localtime(moment).time()
        if self.quiet_from < self.quiet_until:
            return self.quiet_from <= now < self.quiet_until
        return now >= self.quiet_from or now < self.quiet_until  # across midnight

    def quiet_ends(self, moment) -> datetime.datetime | None:
        """When the quiet hours `moment` falls in end (local time, aware); None when `moment` is not in them. A text
        they hold back is queued for then (`eta`) rather than dropped."""
        if not self.quiet_at(moment):
            return None
        local = timezone.localtime(moment)
        end = local.replace(hour=self.quiet_until.hour, minute=self.quiet_until.minute, second=0, microsecond=0)
        if end <= local:
            end += datetime.timedelta(days=1)  # wall-clock arithmetic in the local zone: the same hour tomorrow
        return end


class PhoneOptOut(models.Model):
    """A number that is no Muster user's texted STOP (a member on check-ins by text): kept by its keyed hash
    only (`phone_index`), never the number. START removes the row. No text goes to an opted-out number."""

    number_index = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Phone opt-out {self.pk}"


class PhoneMessage(models.Model):
    """One text or call, out or in: what was sent or received, and the provider's id and status.

    `purpose` and `ref_id` say what it belongs to (e.g. callout + the callout response's id) without a
    foreign key into a higher layer. The body is encrypted: an inbound text may say anything."""

    class Channel(models.TextChoices):
        TEXT = "text", "Text"
        VOICE = "voice", "Voice call"

    class Direction(models.TextChoices):
        OUT = "out", "Sent"
        IN = "in", "Received"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"
        RECEIVED = "received", "Received"
        ANSWERED = "answered", "Answered"
        NO_ANSWER = "no_answer", "No answer"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    direction = models.CharField(max_length=4, choices=Direction.choices)
    user = models.ForeignKey(User, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    purpose = models.CharField(max_length=24, help_text="A code: callout, escalation, confirm, reply, reminder...")
    ref_id = models.BigIntegerField(null=True, blank=True)
    body = EncryptedTextField(blank=True, null=True)
    # The provider's id (MessageSid / CallSid; inbound keypad input: CallSid + ":digits"). Unique, so a
    # webhook delivered twice is recognised and acted on once.
    provider_sid = models.CharField(max_length=64, unique=True, null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    provider_status = models.CharField(max_length=16, blank=True, help_text="The provider's own word.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["purpose", "ref_id"], name="phone_message_ref")]

    def __str__(self) -> str:
        return f"{self.direction} {self.channel} {self.pk}"

    def encryption_owner(self):
        return None  # the network's data key
