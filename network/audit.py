"""The one audit function: every service writes its event here, in the same transaction as the change."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models

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
    }
)
# The administrative events recorded without an agency (one login serves every agency): sign-ins,
# failed sign-ins, MFA and account changes. An agency admin sees those of their agency's members.
ACCOUNT_ACTIONS: frozenset[str] = frozenset(a for a in ADMINISTRATIVE_ACTIONS if a.startswith(("auth.", "mfa.")))
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
        AuditAction.ACTIVATION_DUPLICATE_RESOLVED,
        AuditAction.ACTIVATION_OUTREACH_UPDATED,
        AuditAction.ACTIVATION_DEMOBILIZED,
        AuditAction.ACTIVATION_CLOSED,
        AuditAction.ACTIVATION_NAMES_DESTROYED,
        AuditAction.ACTIVATION_VIEWED,
        AuditAction.CHECKLIST_DONE,
        AuditAction.ACTIVATION_FOLLOW_UP_DONE,
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
    return AuditEvent.objects.create(
        action=action,
        actor=actor,
        agency=agency,
        object_type=object_type,
        object_id=str(object_id) if object_id != "" else "",
        outcome=outcome,
        source_ip=client_ip(request),
    )
