"""The one audit function: every service writes its event here, in the same transaction as the change."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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


def client_ip(request: HttpRequest | None) -> str | None:
    """The caller's address. Behind a proxy, gunicorn's --forwarded-allow-ips sets REMOTE_ADDR."""
    if request is None:
        return None
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
