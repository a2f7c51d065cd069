"""Referring from the encounter and following through (issue 18, 2 and 3): the referral step suggests the directory's
best entries for the member, the referral is a row in the agency's schema and a follow-up of the supporter, and
"waitlisted" refers on to the next entry in one step."""

from __future__ import annotations

import csv
import datetime

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from agencies import export
from agencies.models import Role
from encounters import services
from encounters.models import FollowUp, Referral
from network.models import Region
from tests.support import agency_url, encounter_form_data, log_encounter, make_resource, refused

pytestmark = pytest.mark.django_db


def north(world) -> Region:
    return Region.objects.get(network_id=world.network_id, slug="north")


def test_saving_an_encounter_with_an_eap_referral_goes_on_to_the_referral_step(client, world):
    client.force_login(world.a[Role.PEER_SUPPORTER])
    response = client.post(
        agency_url(world.agency_a, "encounter_new"), encounter_form_data(referral="eap", topics=["substance-use"])
    )
    assert response.status_code == 302 and response["Location"].endswith("/refer/")


def test_the_referral_step_suggests_entries_for_the_member_confirmed_and_short_waits_first(client, world):
    make_resource(world, name="Quick Trauma Care", region=north(world), wait_days=1)
    make_resource(world, name="Slow Trauma Care", region=north(world), wait_days=50)
    make_resource(world, name="Police Trauma Only", region=north(world), disciplines=["law"], wait_days=0)
    make_resource(
        world, name="Old Trauma Care", wait_days=0, confirmed_on=timezone.localdate() - datetime.timedelta(days=95)
    )
    encounter = log_encounter(world.agency_a, author=world.a[Role.PEER_SUPPORTER], topics=["critical-incident"])
    client.force_login(world.a[Role.PEER_SUPPORTER])
    page = client.get(agency_url(world.agency_a, "encounter_refer", encounter_uuid=encounter.uuid)).content.decode()
    assert page.index("Quick Trauma Care") < page.index("Slow Trauma Care") < page.index("Old Trauma Care")
    assert "Police Trauma Only" not in page, "filtered by the member's discipline (fire)"
    assert 'value="trauma"' in page, "the need comes from the encounter's topics"


def test_a_referral_is_recorded_in_the_agency_schema_as_a_follow_up_of_the_supporter(client, world):
    entry = make_resource(world, name="Referral Target", region=north(world))
    encounter = log_encounter(world.agency_a, author=world.a[Role.PEER_SUPPORTER])
    client.force_login(world.a[Role.PEER_SUPPORTER])
    response = client.post(
        agency_url(world.agency_a, "encounter_refer", encounter_uuid=encounter.uuid),
        {"resource": str(entry.uuid), "need": "trauma"},
    )
    assert response.status_code == 302
    with tenant_context(world.agency_a):
        referral = Referral.objects.get(encounter=encounter)
        assert (referral.resource_id, referral.status, referral.need) == (entry.pk, "referred", "trauma")
        assert referral.follow_up.owner_id == world.a[Role.PEER_SUPPORTER].pk
        assert referral.follow_up.status == FollowUp.Status.OPEN
    with tenant_context(world.agency_b):
        assert not Referral.objects.filter(uuid=referral.uuid).exists(), "agency B's schema has none of it"
    follow_ups = client.get(agency_url(world.agency_a, "followup_list")).content.decode()
    assert "Referral to <strong>Referral Target</strong>" in follow_ups


def test_waitlisted_refers_to_the_next_entry_in_one_step_and_the_follow_up_moves(client, world):
    first = make_resource(world, name="First Choice", region=north(world))
    second = make_resource(world, name="Second Choice", region=north(world), wait_days=9)
    encounter = log_encounter(world.agency_a, author=world.a[Role.PEER_SUPPORTER])
    referral = services.referral_make(
        actor=world.a[Role.PEER_SUPPORTER], agency=world.agency_a, encounter=encounter, resource=first
    )
    client.force_login(world.a[Role.PEER_SUPPORTER])
    url = agency_url(world.agency_a, "referral_detail", referral_uuid=referral.uuid)
    assert "Waitlisted: refer to Second Choice" in client.get(url).content.decode()
    client.post(url, {"status": "waitlisted", "next_resource": str(second.uuid)})
    with tenant_context(world.agency_a):
        referral.refresh_from_db()
        assert referral.status == "waitlisted" and referral.next_referral.resource_id == second.pk
        assert referral.follow_up.status == FollowUp.Status.DONE
        following = referral.next_referral
        assert following.follow_up.status == FollowUp.Status.OPEN
    # Later: the first appointment was attended; the follow-up closes with it.
    client.post(agency_url(world.agency_a, "referral_detail", referral_uuid=following.uuid), {"status": "attended"})
    with tenant_context(world.agency_a):
        following.refresh_from_db()
        assert following.status == "attended"
        assert (following.follow_up.status, following.follow_up.outcome) == ("done", "referred")


def test_waitlisted_alone_keeps_the_follow_up_open_for_reminders(world):
    entry = make_resource(world, name="Long List", region=north(world))
    encounter = log_encounter(world.agency_a, author=world.a[Role.PEER_SUPPORTER])
    referral = services.referral_make(
        actor=world.a[Role.PEER_SUPPORTER], agency=world.agency_a, encounter=encounter, resource=entry
    )
    services.referral_update(
        actor=world.a[Role.PEER_SUPPORTER], agency=world.agency_a, referral=referral, status="waitlisted"
    )
    with tenant_context(world.agency_a):
        assert FollowUp.objects.get(referral=referral).status == FollowUp.Status.OPEN


def test_a_closed_referral_or_a_retired_entry_is_refused(world):
    retired = make_resource(world, name="Retired", active=False)
    encounter = log_encounter(world.agency_a, author=world.a[Role.PEER_SUPPORTER])
    with refused("not_listed"):
        services.referral_make(
            actor=world.a[Role.PEER_SUPPORTER], agency=world.agency_a, encounter=encounter, resource=retired
        )
    entry = make_resource(world, name="Open Door")
    referral = services.referral_make(
        actor=world.a[Role.PEER_SUPPORTER], agency=world.agency_a, encounter=encounter, resource=entry
    )
    services.referral_update(
        actor=world.a[Role.PEER_SUPPORTER], agency=world.agency_a, referral=referral, status="declined"
    )
    with refused("closed"):
        services.referral_update(
            actor=world.a[Role.PEER_SUPPORTER], agency=world.agency_a, referral=referral, status="attended"
        )


def test_referrals_are_visible_exactly_as_their_encounter(client, world):
    url = agency_url(world.agency_a, "referral_detail", referral_uuid=world.referral.uuid)
    for role, seen in [
        (Role.PEER_SUPPORTER, 200),  # the author
        (Role.COORDINATOR, 200),
        (Role.CLINICIAN, 200),  # the clinician the encounter's referral is addressed to
    ]:
        client.force_login(world.a[role])
        assert client.get(url).status_code == seen, role
    other = make_resource(world, name="Unseen")
    encounter = log_encounter(world.agency_a, author=world.a[Role.COORDINATOR])
    hidden = services.referral_make(
        actor=world.a[Role.COORDINATOR], agency=world.agency_a, encounter=encounter, resource=other
    )
    for role in (Role.PEER_SUPPORTER, Role.CLINICIAN):
        client.force_login(world.a[role])
        assert client.get(agency_url(world.agency_a, "referral_detail", referral_uuid=hidden.uuid)).status_code == 404
    client.force_login(world.a[Role.CLINICIAN])
    response = client.post(url, {"status": "attended"})
    assert response.status_code == 404, "the clinician reads, the supporter records"
    connection.set_schema_to_public()


def test_a_search_with_no_exact_match_widens_rather_than_dead_ending(client, world):
    make_resource(world, name="Grief-Only EAP", kind="eap", specialties=["grief"])
    encounter = log_encounter(
        world.agency_a, author=world.a[Role.PEER_SUPPORTER], topics=["critical-incident"], referral="eap"
    )
    client.force_login(world.a[Role.PEER_SUPPORTER])
    page = client.get(agency_url(world.agency_a, "encounter_refer", encounter_uuid=encounter.uuid)).content.decode()
    assert "Grief-Only EAP" in page and "Nothing matched exactly; showing entries for any need" in page


def test_referrals_are_in_the_agencys_readable_export(world, tmp_path):
    path = export.agency_export(world.agency_a, tmp_path)
    with open(path / "referrals.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    mine = next(row for row in rows if row["referral_id"] == str(world.referral.uuid))
    assert (mine["resource_name"], mine["encounter_id"]) == (world.resource.name, str(world.encounter.uuid))
