"""Publication: leadership figures are published once per period, after a delay, and never change."""

import datetime
import uuid

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from agencies import services as agency_services
from agencies.models import Agency, Role
from encounters.models import Encounter
from network.models import Network
from reporting import services
from reporting.models import Publication, PublishedFigure
from tests.support import log_encounter, make_user

TODAY = datetime.date(2026, 12, 2)


def aware(day: datetime.date, hour: int = 12) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour)))


def entered(agency, *, author, on: datetime.date, **codes):
    """An encounter entered on `on` (and, unless given, that happened that day)."""
    codes.setdefault("occurred_on", on)
    with tenant_context(agency):
        encounter = log_encounter(agency, author=author, **codes)
        Encounter.objects.filter(pk=encounter.pk).update(created_at=aware(on))
    return encounter


def joined(agency, since: datetime.date) -> None:
    Agency.objects.filter(pk=agency.pk).update(created_at=aware(since))


def grow_roster(agency, count: int) -> None:
    for _ in range(count):
        user = make_user(f"supporter-{uuid.uuid4().hex[:8]}@test.example")
        agency_services.membership_add(actor=None, user=user, agency=agency, role=Role.PEER_SUPPORTER)


@pytest.mark.django_db
def test_smoke(world):
    network = Network.objects.get(pk=world.network_id)
    joined(world.agency_a, datetime.date(2026, 8, 3))
    joined(world.agency_b, datetime.date(2026, 8, 3))
    grow_roster(world.agency_a, 8)
    author = world.a[Role.PEER_SUPPORTER]
    for day in range(1, 25):
        entered(world.agency_a, author=author, on=datetime.date(2026, 9, day), contact_mode="video" if day % 3 else "phone")
    made = services.publication_publish_due(network=network, today=TODAY)
    print([(p.period_kind, p.period_start) for p in made])
    for f in PublishedFigure.objects.filter(agency=world.agency_a).order_by("publication", "table", "position"):
        print(f.publication, f.table, f.key, f.value)
    assert Publication.objects.exists()
