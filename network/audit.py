"""The one audit function: every service writes its event here, in the same transaction as the change.

Events form one keyed chain: each event's `hash` is HMAC-SHA256, under MUSTER_AUDIT_KEY, of its
fields and the previous event's hash. The key lives in the environment and never in the database,
so whoever can write rows (the runtime database role, a stolen password, an injected query) cannot
make an inserted or edited event verify; `manage.py audit_anchor` prints the signed chain head to
keep outside the database, and `audit_verify --anchor` proves that no tail was cut off since.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from network.models import AuditEvent

if TYPE_CHECKING:
    from django.http import HttpRequest


class AuditAction(models.TextChoices):
    SIGN_IN = "auth.sign_in", "Signed in"
    SIGN_IN_FAILED = "auth.sign_in_failed", "Sign-in failed"
    SIGN_OUT = "auth.sign_out", "Signed out"
    PASSWORD_RESET_REQUESTED = "auth.password_reset_requested", "Password reset requested"
    PASSWORD_SET = "auth.password_set", "Password set"
    ACCOUNT_UNLOCKED = "auth.account_unlocked", "Account unlocked"
    ACCOUNT_DISABLED = "auth.account_disabled", "Account disabled"
    ACCOUNT_ENABLED = "auth.account_enabled", "Account enabled again"
    MFA_ENROLLED = "mfa.enrolled", "Authenticator app set up"
    MFA_VERIFIED = "mfa.verified", "Sign-in code accepted"
    MFA_FAILED = "mfa.failed", "Sign-in code refused"
    MFA_RESET = "mfa.reset", "Authenticator and recovery codes removed"
    PHONE_NUMBER_SET = "phone.number_set", "Mobile number registered"
    PHONE_NUMBER_CONFIRMED = "phone.number_confirmed", "Mobile number confirmed"
    PHONE_NUMBER_REMOVED = "phone.number_removed", "Mobile number removed"
    PHONE_PREFERENCES_CHANGED = "phone.preferences_changed", "Text and call preferences changed"
    PHONE_STOPPED = "phone.stopped", "Texts stopped by the number's holder (STOP)"
    PHONE_STARTED = "phone.started", "Texts started again by the number's holder (START)"
    PHONE_MESSAGES_PURGED = "phone.messages_purged", "Texts and calls past their retention purged"
    ACCESS_DENIED = "access.denied", "Access denied"
    AGENCY_CREATED = "agency.created", "Agency created"
    AGENCY_PROVISIONED = "agency.provisioned", "Agency schema ready"
    AGENCY_PROVISION_FAILED = "agency.provision_failed", "Agency schema failed"
    INVITATION_SENT = "invitation.sent", "Invitation sent"
    INVITATION_ACCEPTED = "invitation.accepted", "Invitation accepted"
    MEMBERSHIP_CREATED = "membership.created", "Membership created"
    MEMBERSHIP_ROLE_CHANGED = "membership.role_changed", "Membership role changed"
    # Written beside membership.role_changed when the new role sees confidential records; the network's
    # state admins are e-mailed at the same time.
    MEMBERSHIP_MADE_COORDINATOR = "membership.made_coordinator", "Made team coordinator (state admins told)"
    MEMBERSHIP_MADE_CLINICIAN = "membership.made_clinician", "Made team clinician (state admins told)"
    MEMBERSHIP_DEACTIVATED = "membership.deactivated", "Membership deactivated"
    NETWORK_ROLE_GRANTED = "network_role.granted", "Network role granted"
    STANDARD_PUBLISHED = "standard.published", "Documentation standard published"
    POLICY_CHANGED = "policy.changed", "Network policy changed"
    ENCOUNTER_LOGGED = "encounter.logged", "Encounter logged"
    ENCOUNTER_VIEWED = "encounter.viewed", "Encounter viewed"
    FOLLOWUP_COMPLETED = "followup.completed", "Follow-up completed"
    FOLLOWUP_REASSIGNED = "followup.reassigned", "Follow-up reassigned"
    FOLLOWUP_REMINDED = "followup.reminded", "Follow-up reminder sent"
    FOLLOWUP_ESCALATED = "followup.escalated", "Overdue follow-up escalated"
    DISCLOSURE_RECORDED = "disclosure.recorded", "Disclosure recorded"
    DISCLOSURE_NOTICE_RECORDED = "disclosure.notice_recorded", "Written notice date recorded"
    DISCLOSURE_VIEWED = "disclosure.viewed", "Disclosure viewed"
    NOTES_PURGED = "encounter.notes_purged", "Encounter notes purged"
    LEGAL_HOLD_CHANGED = "encounter.legal_hold", "Legal hold changed"
    ACTIVATION_OPENED = "activation.opened", "Activation opened"
    ACTIVATION_MEMBERS_ADDED = "activation.members_added", "Affected members added"
    ACTIVATION_ASSIGNED = "activation.assigned", "Outreach assigned"
    ACTIVATION_ASSIGNMENT_RETURNED = "activation.assignment_returned", "Assignment returned (agency suspended)"
    ACTIVATION_AGENCY_JOINED = "activation.agency_joined", "Agency joined an activation"
    ACTIVATION_CALLOUT_SENT = "activation.callout_sent", "Callout sent"
    ACTIVATION_CALLOUT_ANSWERED = "activation.callout_answered", "Callout answered"
    ACTIVATION_CALLOUT_RESENT = "activation.callout_resent", "Callout sent again to those who had not answered"
    ACTIVATION_CALLOUT_ESCALATED = "activation.callout_escalated", "Coordinators told of a callout not answered"
    ACTIVATION_DUPLICATE_RESOLVED = "activation.duplicate_resolved", "Possible duplicate resolved"
    ACTIVATION_OUTREACH_UPDATED = "activation.outreach_updated", "Outreach status changed"
    ACTIVATION_DEMOBILIZED = "activation.demobilized", "Activation demobilized"
    ACTIVATION_CLOSED = "activation.closed", "Activation closed"
    ACTIVATION_NAMES_DESTROYED = "activation.names_destroyed", "Activation names destroyed"
    ACTIVATION_VIEWED = "activation.viewed", "Activation names viewed"
    SNAPSHOTS_REQUESTED = "reporting.snapshots_requested", "Report rebuild requested"
    REPORT_EXPORTED = "reporting.exported", "Report exported"
    PERIOD_PUBLISHED = "reporting.published", "Leadership figures of a period published"
    ROSTER_CHANGED = "roster.changed", "Peer team roster changed"
    MASTER_KEY_ROTATED = "keys.master_rotated", "Data keys re-wrapped under a new master key"
    DATA_KEY_ROTATED = "keys.data_key_rotated", "Agency data re-encrypted under a new data key"
    AGREEMENT_RECORDED = "agreement.recorded", "Collaboration agreement recorded"
    AGREEMENT_PROPOSED = "agreement.proposed", "Collaboration agreement proposed"
    AGREEMENT_DECIDED = "agreement.decided", "Collaboration agreement approved or declined"
    AGREEMENT_REVOKED = "agreement.revoked", "Collaboration agreement revoked"
    AGREEMENT_DOCUMENT_VIEWED = "agreement.document_viewed", "Signed agreement downloaded"
    PROTOCOL_SAVED = "protocol.saved", "Activation protocol saved"
    CHECKLIST_DONE = "activation.checklist_done", "Activation checklist item done"
    ACTIVATION_FOLLOW_UP_DONE = "activation.follow_up_done", "Activation follow-up done"
    ROSTER_CONFIRMED = "roster.confirmed", "Roster confirmed current"
    ROSTER_REMINDED = "roster.reminded", "Roster confirmation reminder sent"
    AGENCY_SUSPENDED = "agency.suspended", "Agency suspended"
    AGENCY_REINSTATED = "agency.reinstated", "Agency reinstated"
    AGENCY_EXPORT_REQUESTED = "agency.export_requested", "Agency offboarding export requested"
    AGENCY_EXPORT_DOWNLOADED = "agency.export_downloaded", "Agency offboarding export downloaded"
    AGENCY_DESTROYED = "agency.destroyed", "Agency data destroyed (key shredded)"
    AGENCY_BACKUP = "agency.backup", "Agency backed up"
    AGENCY_RESTORE = "agency.restore", "Agency restored from a backup"
    AGENCY_EXPORT = "agency.export", "Agency's readable export written"
    AUDIT_SEARCHED = "audit.searched", "Audit trail searched"
    REQUEST_ADDRESS_ROTATED = "member_request.address_rotated", "Request page address changed"
    REQUEST_RECEIVED = "member_request.received", "Member asked for a peer"
    REQUEST_ASSIGNED = "member_request.assigned", "Member's request assigned"
    REQUEST_CONTACTED = "member_request.contacted", "Member's request contacted"
    REQUEST_CLOSED = "member_request.closed", "Member's request closed"
    REQUEST_ESCALATED = "member_request.escalated", "Member's request past its first-contact target"
    REQUEST_CONTACT_DESTROYED = "member_request.contact_destroyed", "Member's contact destroyed (key shredded)"
    CHECKINS_STARTED = "checkin.started", "Member agreed to check-ins"
    CHECKIN_SENT = "checkin.sent", "Check-in sent"
    CHECKIN_ANSWERED = "checkin.answered", "Check-in answered"
    CHECKINS_STOPPED = "checkin.stopped", "Check-ins stopped by the member"
    CHECKIN_CONTACT_DESTROYED = "checkin.contact_destroyed", "Check-in contact destroyed (key shredded)"
    # Issue 18: the referral directory, referrals and privilege profiles.
    RESOURCE_SAVED = "resource.saved", "Directory entry saved"
    RESOURCE_CONFIRMED = "resource.confirmed", "Directory entry confirmed still accurate"
    RESOURCE_IMPORTED = "resource.imported", "Directory imported from CSV"
    REFERRAL_MADE = "referral.made", "Referral made"
    REFERRAL_UPDATED = "referral.updated", "Referral status changed"
    SUPPORTER_CHANGE_REQUESTED = "activation.supporter_change_requested", "Member asked to change or add a supporter"
    # Issue 19: regional deployment.
    DEPLOYMENT_REQUESTED = "deployment.requested", "Deployment requested"
    DEPLOYMENT_OFFERED = "deployment.offered", "Supporters offered to a deployment"
    DEPLOYMENT_OFFER_DECIDED = "deployment.offer_decided", "Deployment offer accepted or declined"
    DEPLOYMENT_OFFER_WITHDRAWN = "deployment.offer_withdrawn", "Deployment offer withdrawn by the offering agency"
    DEPLOYMENT_ANSWERED = "deployment.answered", "Supporter confirmed or declined a deployment"
    DEPLOYMENT_SHIFTS_CHANGED = "deployment.shifts_changed", "Deployment rotation planned or swapped"
    DEPLOYMENT_CHECKED_IN = "deployment.checked_in", "Deployed supporter checked in"
    DEPLOYMENT_CHECKED_OUT = "deployment.checked_out", "Deployed supporter checked out"
    DEPLOYMENT_WELLBEING = "deployment.wellbeing", "Deployed supporter's own check-in chosen or done"
    DEPLOYMENT_DEMOBILIZED = "deployment.demobilized", "Deployment demobilised"
    DEPLOYMENT_HOURS_EXPORTED = "deployment.hours_exported", "Deployment hours or activity log exported"


# Who may read each kind of event. One explicit list, and tests/test_audit_search.py fails when an
# action is in neither set, so a new action cannot slip into an agency admin's view unreviewed.
# - Administrative: running the agency and the network (accounts and sign-ins, memberships and roles,
#   invitations, roster, agreements, exports and backups, keys, refused requests). An agency admin sees
#   these for their own agency.
# - Care: anything that shows who received or gave support, when, or about which record (encounters,
#   follow-ups, disclosures, activations). Only the state admin's security review sees these: to an
#   agency admin, "disclosure recorded by X at 14:02" or "clinician viewed encounter 812" is the
#   confidential record itself.
ADMINISTRATIVE_ACTIONS: frozenset[str] = frozenset(
    {
        AuditAction.DEPLOYMENT_REQUESTED,
        AuditAction.DEPLOYMENT_OFFERED,
        AuditAction.DEPLOYMENT_OFFER_DECIDED,
        AuditAction.DEPLOYMENT_OFFER_WITHDRAWN,
        AuditAction.DEPLOYMENT_ANSWERED,
        AuditAction.DEPLOYMENT_SHIFTS_CHANGED,
        AuditAction.DEPLOYMENT_CHECKED_IN,
        AuditAction.DEPLOYMENT_CHECKED_OUT,
        AuditAction.DEPLOYMENT_DEMOBILIZED,
        AuditAction.DEPLOYMENT_HOURS_EXPORTED,
        AuditAction.SIGN_IN,
        AuditAction.SIGN_IN_FAILED,
        AuditAction.SIGN_OUT,
        AuditAction.PASSWORD_RESET_REQUESTED,
        AuditAction.PASSWORD_SET,
        AuditAction.ACCOUNT_UNLOCKED,
        AuditAction.ACCOUNT_DISABLED,
        AuditAction.ACCOUNT_ENABLED,
        AuditAction.MFA_ENROLLED,
        AuditAction.MFA_VERIFIED,
        AuditAction.MFA_FAILED,
        AuditAction.MFA_RESET,
        AuditAction.PHONE_NUMBER_SET,
        AuditAction.PHONE_NUMBER_CONFIRMED,
        AuditAction.PHONE_NUMBER_REMOVED,
        AuditAction.PHONE_PREFERENCES_CHANGED,
        AuditAction.PHONE_STOPPED,
        AuditAction.PHONE_STARTED,
        AuditAction.PHONE_MESSAGES_PURGED,
        AuditAction.ACCESS_DENIED,
        AuditAction.AGENCY_CREATED,
        AuditAction.AGENCY_PROVISIONED,
        AuditAction.AGENCY_PROVISION_FAILED,
        AuditAction.INVITATION_SENT,
        AuditAction.INVITATION_ACCEPTED,
        AuditAction.MEMBERSHIP_CREATED,
        AuditAction.MEMBERSHIP_ROLE_CHANGED,
        AuditAction.MEMBERSHIP_MADE_COORDINATOR,
        AuditAction.MEMBERSHIP_MADE_CLINICIAN,
        AuditAction.MEMBERSHIP_DEACTIVATED,
        AuditAction.NETWORK_ROLE_GRANTED,
        AuditAction.STANDARD_PUBLISHED,
        AuditAction.POLICY_CHANGED,
        AuditAction.SNAPSHOTS_REQUESTED,
        AuditAction.PERIOD_PUBLISHED,
        AuditAction.REPORT_EXPORTED,
        AuditAction.ROSTER_CHANGED,
        AuditAction.ROSTER_CONFIRMED,
        AuditAction.ROSTER_REMINDED,
        AuditAction.MASTER_KEY_ROTATED,
        AuditAction.DATA_KEY_ROTATED,
        AuditAction.AGREEMENT_RECORDED,
        AuditAction.AGREEMENT_PROPOSED,
        AuditAction.AGREEMENT_DECIDED,
        AuditAction.AGREEMENT_REVOKED,
        AuditAction.AGREEMENT_DOCUMENT_VIEWED,
        AuditAction.PROTOCOL_SAVED,
        AuditAction.AGENCY_SUSPENDED,
        AuditAction.AGENCY_REINSTATED,
        AuditAction.AGENCY_EXPORT_REQUESTED,
        AuditAction.AGENCY_EXPORT_DOWNLOADED,
        AuditAction.AGENCY_DESTROYED,
        AuditAction.AGENCY_BACKUP,
        AuditAction.AGENCY_RESTORE,
        AuditAction.AGENCY_EXPORT,
        AuditAction.AUDIT_SEARCHED,
        # Who may print the poster is administration; no member is in it.
        AuditAction.REQUEST_ADDRESS_ROTATED,
        AuditAction.RESOURCE_SAVED,
        AuditAction.RESOURCE_CONFIRMED,
        AuditAction.RESOURCE_IMPORTED,
    }
)
# The administrative events recorded without an agency (one login serves every agency): sign-ins,
# failed sign-ins, MFA and account changes. An agency admin sees those of their agency's members.
ACCOUNT_ACTIONS: frozenset[str] = frozenset(
    a for a in ADMINISTRATIVE_ACTIONS if a.startswith(("auth.", "mfa.", "phone."))
)
CARE_ACTIONS: frozenset[str] = frozenset(
    {
        AuditAction.ENCOUNTER_LOGGED,
        AuditAction.ENCOUNTER_VIEWED,
        AuditAction.FOLLOWUP_COMPLETED,
        AuditAction.FOLLOWUP_REASSIGNED,
        AuditAction.FOLLOWUP_REMINDED,
        AuditAction.FOLLOWUP_ESCALATED,
        AuditAction.DISCLOSURE_RECORDED,
        AuditAction.DISCLOSURE_NOTICE_RECORDED,
        AuditAction.DISCLOSURE_VIEWED,
        AuditAction.NOTES_PURGED,
        AuditAction.LEGAL_HOLD_CHANGED,
        AuditAction.ACTIVATION_OPENED,
        AuditAction.ACTIVATION_MEMBERS_ADDED,
        AuditAction.ACTIVATION_ASSIGNED,
        AuditAction.ACTIVATION_ASSIGNMENT_RETURNED,
        AuditAction.ACTIVATION_AGENCY_JOINED,
        AuditAction.ACTIVATION_CALLOUT_SENT,
        AuditAction.ACTIVATION_CALLOUT_ANSWERED,
        AuditAction.ACTIVATION_CALLOUT_RESENT,
        AuditAction.ACTIVATION_CALLOUT_ESCALATED,
        AuditAction.ACTIVATION_DUPLICATE_RESOLVED,
        AuditAction.ACTIVATION_OUTREACH_UPDATED,
        AuditAction.ACTIVATION_DEMOBILIZED,
        AuditAction.ACTIVATION_CLOSED,
        AuditAction.ACTIVATION_NAMES_DESTROYED,
        AuditAction.ACTIVATION_VIEWED,
        AuditAction.REQUEST_RECEIVED,
        AuditAction.REQUEST_ASSIGNED,
        AuditAction.REQUEST_CONTACTED,
        AuditAction.REQUEST_CLOSED,
        AuditAction.REQUEST_ESCALATED,
        AuditAction.REQUEST_CONTACT_DESTROYED,
        AuditAction.CHECKINS_STARTED,
        AuditAction.CHECKIN_SENT,
        AuditAction.CHECKIN_ANSWERED,
        AuditAction.CHECKINS_STOPPED,
        AuditAction.CHECKIN_CONTACT_DESTROYED,
        AuditAction.CHECKLIST_DONE,
        AuditAction.ACTIVATION_FOLLOW_UP_DONE,
        AuditAction.REFERRAL_MADE,
        AuditAction.REFERRAL_UPDATED,
        AuditAction.SUPPORTER_CHANGE_REQUESTED,
        AuditAction.DEPLOYMENT_WELLBEING,
    }
)


def client_ip(request: HttpRequest | None) -> str | None:
    """The caller's address: REMOTE_ADDR, or behind MUSTER_PROXY_COUNT proxies that each append to
    X-Forwarded-For, the entry the outermost of them wrote (entries further left are the caller's own
    word and are ignored). The lockout and the reset limits count by this address too."""
    if request is None:
        return None
    proxies = settings.MUSTER_PROXY_COUNT
    if proxies > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if len(forwarded) >= proxies and forwarded[-proxies]:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR") or None


# Serialises writers: each event is chained to the one committed before it (the INSERT trigger
# takes the same lock and refuses an event that does not follow the current head).
CHAIN_LOCK = 74230001
ANCHOR_PREFIX = "muster-audit-anchor/v1"


def _audit_key() -> bytes:
    return base64.b64decode(settings.MUSTER_AUDIT_KEY)


def event_text(
    *,
    previous_hash: str,
    chain_position: int,
    occurred_at: datetime,
    actor_id: int | None,
    agency_id: int | None,
    action: str,
    object_type: str,
    object_id: str,
    outcome: str,
    source_ip: str | None,
) -> bytes:
    """The canonical text of an event: the one formula, used to write, verify and re-chain."""
    moment = occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    address = str(ipaddress.ip_address(str(source_ip))) if source_ip else ""
    fields = [previous_hash, str(chain_position), moment, str(actor_id or ""), str(agency_id or "")]
    fields += [action, object_type, object_id, outcome, address]
    return "|".join(fields).encode()


def chain_hash(text: bytes) -> str:
    return hmac.new(_audit_key(), text, hashlib.sha256).hexdigest()


def _event_fields(event: AuditEvent | dict) -> dict:
    get = event.get if isinstance(event, dict) else lambda name: getattr(event, name)
    return {
        "previous_hash": get("previous_hash"),
        "chain_position": get("chain_position"),
        "occurred_at": get("occurred_at"),
        "actor_id": get("actor_id"),
        "agency_id": get("agency_id"),
        "action": get("action"),
        "object_type": get("object_type"),
        "object_id": get("object_id"),
        "outcome": get("outcome"),
        "source_ip": get("source_ip"),
    }


def audit_record(
    *,
    action: AuditAction,
    actor: Any = None,
    agency: Any = None,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    outcome: str = AuditEvent.Outcome.SUCCESS,
    request: HttpRequest | None = None,
) -> AuditEvent:
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    event = AuditEvent(
        occurred_at=timezone.now(),
        action=action,
        actor=actor,
        agency=agency,
        object_type=object_type,
        object_id=str(object_id) if object_id != "" else "",
        outcome=outcome,
        source_ip=client_ip(request),
    )
    # Its own transaction when called outside one; inside the caller's, no savepoint (two round trips fewer on every
    # audited change): a failure here fails the caller's change with it, as it should.
    with transaction.atomic(savepoint=False):
        # The chain's lock, then its head, in one statement (network/migrations/0015): one writer at a time.
        with connection.cursor() as cursor:
            cursor.execute("SELECT chain_position, hash FROM public.muster_audit_chain_head(%s)", [CHAIN_LOCK])
            head = cursor.fetchone()
        event.chain_position = (head[0] if head else 0) + 1
        event.previous_hash = head[1] if head else ""
        event.hash = chain_hash(event_text(**_event_fields(event)))
        event.save()
    return event


def chain_head() -> dict | None:
    return (
        AuditEvent.objects.filter(chain_position__isnull=False)
        .order_by("-chain_position")
        .values("id", "chain_position", "hash", "occurred_at")
        .first()
    )


# --- Verification and anchors ------------------------------------------------------------------


class ChainBroken(Exception):
    """The audit chain does not verify; the message names the first event where it breaks."""


@dataclass(frozen=True)
class Anchor:
    chain_position: int
    event_id: int
    occurred_at: str  # ISO 8601, UTC
    hash: str

    def _signed_part(self) -> str:
        return f"{ANCHOR_PREFIX}/{self.chain_position}/{self.event_id}/{self.occurred_at}/{self.hash}"

    def line(self) -> str:
        signature = hmac.new(_audit_key(), b"anchor|" + self._signed_part().encode(), hashlib.sha256).hexdigest()
        return f"{self._signed_part()}/{signature}"


def anchor_current() -> Anchor:
    """The chain head as an anchor, to print and keep outside the database."""
    head = chain_head()
    if head is None:
        raise ChainBroken("The audit log is empty: there is nothing to anchor yet.")
    moment = head["occurred_at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return Anchor(head["chain_position"], head["id"], moment, head["hash"])


def anchor_parse(line: str) -> Anchor:
    """An anchor line back, refused unless its signature verifies under MUSTER_AUDIT_KEY."""
    parts = line.strip().rsplit("/", 5)
    if len(parts) != 6 or parts[0] != ANCHOR_PREFIX:
        raise ChainBroken("Not an audit anchor line (it starts with muster-audit-anchor/v1/).")
    _prefix, position, event_id, occurred_at, head_hash, signature = parts
    try:
        anchor = Anchor(int(position), int(event_id), occurred_at, head_hash)
    except ValueError:
        raise ChainBroken("The anchor line is malformed.") from None
    if not hmac.compare_digest(anchor.line(), line.strip()):
        raise ChainBroken("The anchor's signature does not verify under MUSTER_AUDIT_KEY: it was altered or forged.")
    return anchor


def chain_verify(*, anchors: list[Anchor] = (), batch: int = 2000) -> int:
    """Check every event's HMAC and link in chain order, then that each anchor's event is still there
    unchanged. Returns how many events were checked; raises ChainBroken at the first problem."""
    columns = ["id", "hash", *_event_fields({}).keys()]
    expected_previous, checked, last_position = "", 0, 0
    by_position = {}
    wanted = {anchor.chain_position for anchor in anchors}
    while True:
        rows = list(
            AuditEvent.objects.filter(chain_position__gt=last_position)
            .order_by("chain_position")
            .values(*columns)[:batch]
        )
        if not rows:
            break
        for row in rows:
            if row["previous_hash"] != expected_previous or row["chain_position"] != last_position + 1:
                raise ChainBroken(
                    f"Audit chain broken at event {row['id']}: the event before it was changed or removed."
                )
            if not hmac.compare_digest(row["hash"], chain_hash(event_text(**_event_fields(row)))):
                raise ChainBroken(f"Audit chain broken at event {row['id']}: its content was changed.")
            if row["chain_position"] in wanted:
                by_position[row["chain_position"]] = row
            expected_previous, last_position = row["hash"], row["chain_position"]
            checked += 1
    unchained = AuditEvent.objects.filter(chain_position__isnull=True).values_list("id", flat=True).first()
    if unchained is not None:
        raise ChainBroken(f"Audit chain broken at event {unchained}: it is outside the chain.")
    for anchor in anchors:
        row = by_position.get(anchor.chain_position)
        if row is None:
            raise ChainBroken(
                f"The anchored event {anchor.event_id} (position {anchor.chain_position}) is gone: "
                f"the chain ends at position {last_position}, so events were removed from its end."
            )
        if row["id"] != anchor.event_id or row["hash"] != anchor.hash:
            raise ChainBroken(
                f"The event at the anchored position {anchor.chain_position} is not the anchored event: "
                "the chain was rewritten from there."
            )
    return checked
