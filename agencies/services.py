"""Every write to agencies, memberships and invitations goes through these functions."""

from __future__ import annotations

import logging
import secrets
import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import schema_exists

from agencies import schemas
from agencies.models import (
    Agency,
    Invitation,
    Membership,
    Role,
    role_group_name,
    schema_name_for_slug,
)
from agencies.selectors import token_digest
from network.audit import AuditAction, audit_record
from network.models import AuditEvent, Network, NetworkRole, Region
from network.notify import notify
from network.outbox import outbox_enqueue

logger = logging.getLogger(__name__)
User = get_user_model()


# --- Agencies --------------------------------------------------------------------------------


def agency_create(
    *,
    actor,
    network: Network,
    name: str,
    slug: str,
    discipline: str,
    region: Region,
    request=None,
    provision_async: bool = True,
) -> Agency:
    """Record a new agency and queue the creation of its schema (after the transaction commits)."""
    agency = Agency(
        network=network,
        name=name.strip(),
        slug=slug,
        schema_name=schema_name_for_slug(slug),
        discipline=discipline,
        region=region,
        status=Agency.Status.PROVISIONING,
        provision_step="Waiting for a background worker",
    )
    agency.full_clean()
    if region.network_id != network.pk:
        raise ValidationError({"region": "This region belongs to another network."})
    with transaction.atomic():
        agency.save()
        audit_record(action=AuditAction.AGENCY_CREATED, actor=actor, agency=agency, obj=agency, request=request)
        if provision_async:
            agency_provision_enqueue(agency=agency)
    if not provision_async:
        agency = agency_provision(agency_id=agency.pk)
    return agency


def agency_provision_enqueue(*, agency: Agency) -> None:
    """Queue the schema build through the outbox: sent after commit, or by the relay if Redis is down."""

    outbox_enqueue(task="agencies.tasks.agency_provision_task", args=[agency.pk])


def agency_retry_provisioning(*, actor, agency: Agency, request=None) -> Agency:
    if agency.status != Agency.Status.FAILED:
        raise ValidationError("Only an agency whose set-up failed can be retried.")
    with transaction.atomic():
        Agency.objects.filter(pk=agency.pk).update(
            status=Agency.Status.PROVISIONING,
            provision_progress=0,
            provision_step="Waiting for a background worker",
            provision_error="",
        )
        agency_provision_enqueue(agency=agency)
    agency.refresh_from_db()
    return agency


def _provision_progress(agency: Agency, progress: int, step: str) -> None:
    # Written outside any transaction so the onboarding page sees each step as it happens.
    Agency.objects.filter(pk=agency.pk).update(provision_progress=progress, provision_step=step)


def agency_provision(*, agency_id: int) -> Agency:
    """Build the agency's schema from the template. Idempotent: safe to run twice or after a crash."""
    agency = Agency.objects.get(pk=agency_id)
    if agency.status == Agency.Status.ACTIVE:
        return agency
    started = time.perf_counter()
    try:
        _provision_progress(agency, 20, "Creating the agency's private schema")
        if not schema_exists(agency.schema_name):
            with transaction.atomic():
                schemas.schema_clone_from_template(agency.schema_name)
        _provision_progress(agency, 70, "Checking the schema is up to date")
        schemas.schema_migrate(agency.schema_name)
    except Exception as exc:
        logger.exception("agency %s provisioning failed", agency.pk)
        Agency.objects.filter(pk=agency.pk).update(
            status=Agency.Status.FAILED,
            provision_step="Set-up failed",
            provision_error=(
                f"The schema could not be created ({type(exc).__name__}). Retry, or ask support to check the logs."
            ),
        )
        audit_record(
            action=AuditAction.AGENCY_PROVISION_FAILED, agency=agency, obj=agency, outcome=AuditEvent.Outcome.FAILURE
        )
        raise
    elapsed = time.perf_counter() - started
    with transaction.atomic():
        Agency.objects.filter(pk=agency.pk).update(
            status=Agency.Status.ACTIVE,
            provision_progress=100,
            provision_step="Ready",
            provision_error="",
            provision_seconds=elapsed,
            activated_at=timezone.now(),
        )
        audit_record(action=AuditAction.AGENCY_PROVISIONED, agency=agency, obj=agency)
    logger.info("agency %s provisioned in %.3fs", agency.pk, elapsed)
    agency.refresh_from_db()
    return agency


# --- Invitations ---------------------------------------------------------------------------------


def invitation_url(token: str) -> str:
    """The link in the invitation e-mail: always on MUSTER_BASE_URL, never on the Host the request
    named (a forged Host header must not send someone's invitation token to another site)."""
    return settings.MUSTER_BASE_URL + reverse("invitation_accept", kwargs={"token": token})


def invitation_create(*, actor, agency: Agency, email: str, role: str, request=None) -> tuple[Invitation, str]:
    """Invite `email` to join `agency` as `role`. Returns the invitation and its one-time token.

    A pending invitation for the same address is replaced, so "resend" is just inviting again.
    """
    email = User.objects.normalize_email(email).strip().lower()
    if role not in Role.values:
        raise ValidationError({"role": "Choose a role from the list."})
    if not agency.is_active:
        raise ValidationError("The agency is not ready yet; wait until its set-up has finished.")
    if Membership.objects.filter(agency=agency, user__email__iexact=email, is_active=True).exists():
        raise ValidationError({"email": "This person is already a member of the agency; change their role instead."})
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        Invitation.objects.filter(agency=agency, email=email, accepted_at__isnull=True, revoked_at__isnull=True).update(
            revoked_at=now
        )
        invitation = Invitation(
            email=email,
            agency=agency,
            role=role,
            token_digest=token_digest(token),
            invited_by=actor,
            expires_at=now + timedelta(days=settings.MUSTER_INVITATION_DAYS),
        )
        invitation.full_clean()
        invitation.save()
        audit_record(action=AuditAction.INVITATION_SENT, actor=actor, agency=agency, obj=invitation, request=request)
        context = {"invitation": invitation, "link": invitation_url(token), "days": settings.MUSTER_INVITATION_DAYS}
        notify(invitation.email, "invitation", context)
    return invitation, token


def invitation_accept(*, invitation: Invitation, user=None, full_name: str = "", password: str = "", request=None):
    """Turn an invitation into a membership. A new user sets their name and password here.

    Returns the user who now holds the membership.
    """
    with transaction.atomic():
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if not invitation.is_usable:
            raise ValidationError("This invitation has already been used or has expired.")
        if user is None:
            user = User.objects.filter(email__iexact=invitation.email).first()
            if user is not None and user.has_usable_password():
                raise ValidationError("An account with this e-mail exists: sign in to accept the invitation.")
            if user is not None and not user.is_active:
                raise ValidationError("This account is disabled. Ask the network's administrators to restore it.")
            if user is None:
                user = User.objects.create_user(email=invitation.email, password=None)
            if full_name:
                user.full_name = full_name.strip()
            user.set_password(password)
            user.save()
            audit_record(action=AuditAction.PASSWORD_SET, actor=user, obj=user, request=request)
        elif user.email.lower() != invitation.email.lower():
            raise ValidationError("This invitation was sent to a different e-mail address.")
        membership, created = Membership.objects.get_or_create(
            user=user, agency=invitation.agency, defaults={"role": invitation.role}
        )
        if not created:
            membership.role = invitation.role
            membership.is_active = True
            membership.save(update_fields=["role", "is_active"])
        membership_sync_groups(membership)
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["accepted_at"])
        audit_record(
            action=AuditAction.INVITATION_ACCEPTED,
            actor=user,
            agency=invitation.agency,
            obj=invitation,
            request=request,
        )
        audit_record(
            action=AuditAction.MEMBERSHIP_CREATED, actor=user, agency=invitation.agency, obj=membership, request=request
        )
        if invitation.role in ROLES_TOLD_TO_STATE_ADMINS:
            # Joining straight into a role that opens confidential records is granting it: told like a role
            # change, with the admin who sent the invitation as the one who granted it.
            audit_record(
                action=ROLES_TOLD_TO_STATE_ADMINS[invitation.role],
                actor=invitation.invited_by,
                agency=invitation.agency,
                obj=membership,
                request=request,
            )
            _state_admins_tell_role_granted(membership=membership)
    return user


# --- Memberships ---------------------------------------------------------------------------------


def role_group(agency: Agency, role: str) -> Group:
    group, _ = Group.objects.get_or_create(name=role_group_name(agency.pk, role))
    return group


def membership_sync_groups(membership: Membership) -> None:
    """Keep the user in exactly the role group of their current role in this agency (none when inactive).

    Object permissions (e.g. on activations) are granted to these groups, so a role change
    changes what the person can open everywhere at once.
    """
    prefix = f"agency-{membership.agency_id}-"
    current = membership.user.groups.filter(name__startswith=prefix)
    membership.user.groups.remove(*current)
    if membership.is_active:
        membership.user.groups.add(role_group(membership.agency, membership.role))


def _ensure_another_admin_remains(membership: Membership) -> None:
    if membership.role != Role.AGENCY_ADMIN:
        return
    # Lock every active admin of the agency, so two admins removing each other cannot both succeed.
    admins = list(
        Membership.objects.select_for_update()
        .filter(agency=membership.agency, role=Role.AGENCY_ADMIN, is_active=True)
        .order_by("pk")  # one lock order for everyone: no deadlock between two admins
        .values_list("pk", flat=True)
    )
    if not [pk for pk in admins if pk != membership.pk]:
        raise ValidationError("An agency must keep at least one active agency admin.", code="last_agency_admin")


# Roles that open confidential records (every name on an activation board, referred encounters,
# disclosures): granting one is told to the network's state admins.
ROLES_TOLD_TO_STATE_ADMINS = {
    Role.COORDINATOR: AuditAction.MEMBERSHIP_MADE_COORDINATOR,
    Role.CLINICIAN: AuditAction.MEMBERSHIP_MADE_CLINICIAN,
}
OWN_ROLE_REFUSED = "You cannot change your own role; another agency admin (or a state admin) can."


def membership_set_role(*, actor, membership: Membership, role: str, request=None) -> Membership:
    if role not in Role.values:
        raise ValidationError({"role": "Choose a role from the list."})
    if role == membership.role:
        return membership
    with transaction.atomic():
        if role != Role.AGENCY_ADMIN:
            _ensure_another_admin_remains(membership)  # locks the agency's admins first, in pk order
        if actor is not None and actor.pk == membership.user_id:
            # Nobody grants themself a role, nor demotes themself (an admin stepping down asks another).
            raise ValidationError(OWN_ROLE_REFUSED, code="own_role")
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        membership.role = role
        membership.save(update_fields=["role"])
        membership_sync_groups(membership)
        audit_record(
            action=AuditAction.MEMBERSHIP_ROLE_CHANGED,
            actor=actor,
            agency=membership.agency,
            obj=membership,
            request=request,
        )
        if role in ROLES_TOLD_TO_STATE_ADMINS:
            audit_record(
                action=ROLES_TOLD_TO_STATE_ADMINS[role],
                actor=actor,
                agency=membership.agency,
                obj=membership,
                request=request,
            )
            _state_admins_tell_role_granted(membership=membership)
    return membership


def _state_admins_tell_role_granted(*, membership: Membership) -> None:
    """E-mail the network's state admins (after commit, like every notice) that someone now holds a role
    that sees confidential records. Ids, the agency and the role only: the trail says who did it."""

    emails = sorted(
        set(
            NetworkRole.objects.filter(
                network_id=membership.agency.network_id, role=NetworkRole.Role.STATE_ADMIN, user__is_active=True
            ).values_list("user__email", flat=True)
        )
    )
    if not emails:
        return
    context = {
        "agency_name": membership.agency.name,
        "role": Role(membership.role).label,
        "membership_id": membership.pk,
        "link": settings.MUSTER_BASE_URL + reverse("network_audit") + f"?object_id={membership.pk}",
    }
    notify(emails, "role_granted", context)


def membership_deactivate(*, actor, membership: Membership, request=None) -> Membership:
    with transaction.atomic():
        _ensure_another_admin_remains(membership)  # locks the agency's admins first, in pk order
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        membership.is_active = False
        membership.save(update_fields=["is_active"])
        membership_sync_groups(membership)
        audit_record(
            action=AuditAction.MEMBERSHIP_DEACTIVATED,
            actor=actor,
            agency=membership.agency,
            obj=membership,
            request=request,
        )
    return membership


def membership_add(*, actor, user, agency: Agency, role: str) -> Membership:
    """Add an existing user to an agency directly (demo data and tests; people join by invitation)."""
    with transaction.atomic():
        membership, created = Membership.objects.get_or_create(user=user, agency=agency, defaults={"role": role})
        if created:
            membership_sync_groups(membership)
            audit_record(action=AuditAction.MEMBERSHIP_CREATED, actor=actor, agency=agency, obj=membership)
    return membership
