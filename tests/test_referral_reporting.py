"""Referrals in the figures (issue 18, 4 and 5): referrals made and first appointments attended published with the
rest (same lag, same suppression), and the directory's dead ends per entry for the state admin, counts only."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from agencies.models import Role
from encounters import services as encounter_services
from encounters.models import Referral
from reporting import selectors
from reporting import services as reporting_services
from reporting.models import PeriodKind
from tests.support import agency_url, entered, make_resource
from tests.test_publication import SEP, figure, monthly_agency, network  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def at(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(12)))


def referred(world, agency, entry, *, on: datetime.date | None = None, status: str = "referred"):
    author = world.a[Role.PEER_SUPPORTER]
    encounter = entered(agency, author=author, on=on or timezone.localdate())
    referral = encounter_services.referral_make(actor=author, agency=agency, encounter=encounter, resource=entry)
    if status != "referred":
        encounter_services.referral_update(actor=author, agency=agency, referral=referral, status=status)
    if on is not None:
        with tenant_context(agency):
            Referral.objects.filter(pk=referral.pk).update(created_at=at(on), status_changed_at=at(on))
    return referral


def test_referrals_made_and_first_appointments_attended_are_published_as_a_rate(client, world, network, monthly_agency):  # noqa: F811
    entry = make_resource(world, name="Published Clinic")
    for day in range(1, 13):
        referred(
            world, monthly_agency, entry, on=datetime.date(2026, 9, day), status="attended" if day <= 9 else "referred"
        )
    reporting_services.publication_publish_due(network=network, today=datetime.date(2026, 10, 8))
    assert figure(monthly_agency, PeriodKind.MONTH, SEP, "referrals", "referrals_made") == 12
    assert figure(monthly_agency, PeriodKind.MONTH, SEP, "referrals", "referrals_attended") == 9
    client.force_login(world.a[Role.CHIEF])
    page = client.get(agency_url(monthly_agency, "agency_dashboard")).content.decode()
    assert "75%" in page and "Referrals: first appointment attended" in page


def test_few_referrals_are_suppressed_like_every_leadership_figure(world, network, monthly_agency):  # noqa: F811
    entry = make_resource(world, name="Rarely Used")
    for day in (2, 3):
        referred(world, monthly_agency, entry, on=datetime.date(2026, 9, day), status="attended")
    reporting_services.publication_publish_due(network=network, today=datetime.date(2026, 10, 8))
    assert figure(monthly_agency, PeriodKind.MONTH, SEP, "referrals", "referrals_made") is None


def test_the_state_admin_sees_dead_ends_per_entry_this_quarter_suppressed(client, world):
    busy = make_resource(world, name="Busy Practice")
    full = make_resource(world, name="Full Practice")
    rare = make_resource(world, name="Rare Practice")
    for _ in range(6):
        referred(world, world.agency_a, busy, status="waitlisted")
    for _ in range(6):
        referred(world, world.agency_a, full, status="unanswered")
    referred(world, world.agency_a, rare, status="waitlisted")
    referred(world, world.agency_a, rare, status="attended")  # not a dead end
    reporting_services.run_execute(run_id=reporting_services.run_request(enqueue=False).pk)
    rows = {row["entry"].name: row["dead_ends"] for row in selectors.directory_dead_ends(busy.network)}
    assert rows["Rare Practice"] is None, "1 is below the threshold"
    assert sorted(v for k, v in rows.items() if k in ("Busy Practice", "Full Practice") and v is not None) == [6]
    client.force_login(world.state_admin)
    page = client.get("/network/directory/dead-ends/").content.decode()
    assert "Busy Practice" in page and "suppressed" in page
    assert world.agency_a.name not in page, "no agency detail"
