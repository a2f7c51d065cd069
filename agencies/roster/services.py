"""Roster writes: a supporter's designation, availability and certifications, and the quarterly
confirmation (with its reminder). Every write is audited in the same transaction."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from agencies.models import Agency, Certification, CertificationKind, Membership, Role, SupporterProfile
from agencies.roster.selectors import quarter_start, roster_confirmation_due
from network.audit import AuditAction, audit_record
from network.notify import notify

# --- Profiles and certifications ---------------------------------------------------------------------


# What `profile_update` sets: what a roster keeper edits (the member page, the roster import). The profile's
# membership and its time stamp are the service's, never a caller's.
PROFILE_FIELDS = frozenset({"designated_on", "availability", "on_leave_until", "languages", "disciplines"})


def profile_update(*, actor, membership: Membership, request=None, **changes):
    """Set a member's designation date, availability, leave, languages or disciplines. Only the fields in
    PROFILE_FIELDS can be set: any other name is refused (TypeError, as for an unknown argument)."""
    refused = sorted(set(changes) - PROFILE_FIELDS)
    if refused:
        raise TypeError(f"profile_update() cannot set {', '.join(refused)}; it sets only {sorted(PROFILE_FIELDS)}.")
    with transaction.atomic():
        profile, _ = SupporterProfile.objects.select_for_update().get_or_create(membership=membership)
        for name, value in changes.items():
            setattr(profile, name, value)
        if profile.availability != SupporterProfile.Availability.ON_LEAVE:
            profile.on_leave_until = None
        profile.updated_at = timezone.now()
        profile.full_clean()
        profile.save()
        audit_record(
            action=AuditAction.ROSTER_CHANGED, actor=actor, agency=membership.agency, obj=profile, request=request
        )
    return profile


def certification_add(
    *, actor, membership: Membership, kind: str, certified_on, expires_on=None, hours: int = 0, request=None
):
    if kind not in CertificationKind.values:
        raise ValidationError({"kind": "Choose a certification from the list."})
    if certified_on > timezone.localdate():
        raise ValidationError({"certified_on": "The certification date cannot be in the future."})
    if expires_on is not None and expires_on <= certified_on:
        raise ValidationError({"expires_on": "A certification expires after it is granted."})
    if not 0 <= (hours or 0) <= 1000:
        raise ValidationError({"hours": "Training hours are between 0 and 1000."})
    with transaction.atomic():
        certification = Certification.objects.create(
            membership=membership, kind=kind, certified_on=certified_on, expires_on=expires_on, hours=hours or 0
        )
        audit_record(
            action=AuditAction.ROSTER_CHANGED, actor=actor, agency=membership.agency, obj=certification, request=request
        )
    return certification


# --- Quarterly roster confirmation ---------------------------------------------------------------------


def roster_confirm(*, actor, agency: Agency, request=None) -> Agency:
    """A coordinator or agency admin confirms the roster is current for this quarter."""
    now = timezone.now()
    with transaction.atomic():
        Agency.objects.filter(pk=agency.pk).update(roster_confirmed_at=now, roster_confirmed_by=actor)
        audit_record(action=AuditAction.ROSTER_CONFIRMED, actor=actor, agency=agency, obj=agency, request=request)
    agency.roster_confirmed_at, agency.roster_confirmed_by = now, actor
    return agency


def roster_reminders_send(*, now=None) -> int:
    """Beat, daily: remind each active agency's coordinators, once a quarter, to confirm the roster.
    Returns how many agencies were reminded."""
    now = now or timezone.now()
    start = quarter_start(timezone.localtime(now).date())
    reminded = 0
    for agency in Agency.objects.filter(status=Agency.Status.ACTIVE).order_by("pk"):
        if not roster_confirmation_due(agency, now=now):
            continue
        with transaction.atomic():
            claimed = (
                Agency.objects.filter(pk=agency.pk)
                .exclude(roster_reminded_at__gte=start)
                .update(roster_reminded_at=now)
            )
            if not claimed:
                continue  # reminded already this quarter (or by a concurrent run)
            emails = list(
                Membership.objects.filter(
                    agency=agency, role__in=[Role.COORDINATOR, Role.AGENCY_ADMIN], is_active=True, user__is_active=True
                ).values_list("user__email", flat=True)
            )
            audit_record(action=AuditAction.ROSTER_REMINDED, agency=agency, obj=agency)
            link = settings.MUSTER_BASE_URL + reverse("agency_roster", kwargs={"agency_slug": agency.slug})
            notify(emails, "roster_reminder", {"agency_name": agency.name, "link": link})
        reminded += 1
    return reminded
