"""Demo roster: designation dates, training (a few expired) and availability for every supporter."""

from __future__ import annotations

import datetime
import random

from django.utils import timezone

from agencies.models import CertificationKind, Membership, Role, SupporterProfile
from agencies.roster import services

LANGUAGES = [[], [], [], ["Spanish"], ["Vietnamese"], ["ASL"], ["Spanish", "Portuguese"]]
CROSS_TRAINED = {"fire": ["fire", "ems"], "911": ["911", "law"]}
ALWAYS_READY = {"supporter@example.org", "coordinator@example.org", "deployed@example.org"}


def seed_roster(*, rng: random.Random) -> int:
    """Give each supporter and coordinator without a profile one. Returns how many were created."""
    today = timezone.localdate()
    created = 0
    members = Membership.objects.filter(role__in=[Role.PEER_SUPPORTER, Role.COORDINATOR], profile__isnull=True)
    for membership in members.select_related("user").order_by("pk"):
        ready = membership.user.email in ALWAYS_READY
        roll = rng.random()
        availability = SupporterProfile.Availability.AVAILABLE
        leave_until = None
        if not ready and roll < 0.08:
            availability = SupporterProfile.Availability.UNAVAILABLE
        elif not ready and roll < 0.15:
            availability, leave_until = SupporterProfile.Availability.ON_LEAVE, today + datetime.timedelta(days=20)
        services.profile_update(
            actor=None,
            membership=membership,
            designated_on=today - datetime.timedelta(days=rng.randint(200, 1500)),
            availability=availability,
            on_leave_until=leave_until,
            languages=rng.choice(LANGUAGES),
            # Some firefighters are also paramedics, some dispatchers also serve law enforcement.
            disciplines=CROSS_TRAINED.get(membership.agency.discipline, []) if rng.random() < 0.3 else [],
        )
        certified = today - datetime.timedelta(days=rng.randint(100, 900))
        expired = not ready and rng.random() < 0.12
        services.certification_add(
            actor=None,
            membership=membership,
            kind=CertificationKind.PEER_BASIC,
            certified_on=certified,
            expires_on=today - datetime.timedelta(days=30) if expired else certified + datetime.timedelta(days=1095),
        )
        if rng.random() < 0.4:
            services.certification_add(
                actor=None,
                membership=membership,
                kind=CertificationKind.CISM_INDIVIDUAL,
                certified_on=certified,
                expires_on=certified + datetime.timedelta(days=1095),
            )
        created += 1
    return created
