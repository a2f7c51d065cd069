"""Roster reads: readiness of peer supporters (who may be called out and assigned, and if not, why)
and whether the quarterly roster confirmation is due."""

from __future__ import annotations

import datetime

from django.db.models import Q
from django.utils import timezone

from agencies.models import Agency, Membership, SupporterProfile

NOT_DESIGNATED = "not designated as a peer supporter"
DESIGNATED_AFTER = "designated after the incident"
NO_TRAINING = "no current training on record"
UNAVAILABLE = "unavailable"


def readiness_problem(
    membership: Membership,
    *,
    on: datetime.date | None = None,
    incident_date: datetime.date | None = None,
    designation_before_incident: bool = True,
    min_training_hours: int = 0,
) -> str:
    """'' when the supporter is designated, trained (a current certification) and available; else the reason.
    The privilege profile in force (network/privilege.py) says whether designation must precede the incident and
    how many training hours the current certifications must add up to."""
    on = on or timezone.localdate()
    profile = getattr(membership, "profile", None)
    if profile is None or profile.designated_on is None:
        return NOT_DESIGNATED
    if designation_before_incident and incident_date is not None and profile.designated_on > incident_date:
        return DESIGNATED_AFTER
    current = [cert for cert in membership.certifications.all() if cert.is_current(on)]
    if not current:
        return NO_TRAINING
    if min_training_hours and sum(cert.hours for cert in current) < min_training_hours:
        return f"fewer than the {min_training_hours} training hours the state's privilege rule asks for"
    if profile.availability == SupporterProfile.Availability.UNAVAILABLE:
        return UNAVAILABLE
    if profile.availability == SupporterProfile.Availability.ON_LEAVE and (
        profile.on_leave_until is None or profile.on_leave_until >= on
    ):
        return f"on leave until {profile.on_leave_until:%Y-%m-%d}" if profile.on_leave_until else "on leave"
    return ""


# --- Quarterly roster confirmation ---------------------------------------------------------------------


def quarter_start(day: datetime.date) -> datetime.datetime:
    """Midnight (local time) on the first day of `day`'s calendar quarter."""
    first = day.replace(month=3 * ((day.month - 1) // 3) + 1, day=1)
    return timezone.make_aware(datetime.datetime.combine(first, datetime.time.min))


def roster_confirmation_due(agency: Agency, *, now=None) -> bool:
    """Not yet confirmed since this quarter began."""
    now = now or timezone.now()
    start = quarter_start(timezone.localtime(now).date())
    return agency.roster_confirmed_at is None or agency.roster_confirmed_at < start


# --- The roster list's filters (agencies/roster/forms.py RosterFilterForm) --------------------------------------


def roster_filtered(memberships, data: dict):
    """Name search and availability, in the database. A supporter with no profile yet counts as available."""
    if data.get("q"):
        memberships = memberships.filter(user__full_name__icontains=data["q"].strip())
    availability = data.get("availability")
    if availability == SupporterProfile.Availability.AVAILABLE:
        memberships = memberships.filter(Q(profile__isnull=True) | Q(profile__availability=availability))
    elif availability:
        memberships = memberships.filter(profile__availability=availability)
    return memberships
