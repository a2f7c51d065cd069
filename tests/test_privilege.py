"""State privilege profiles in the network policy (issue 18, 6): versioned with the policy; designation before the
incident, training hours, witnesses, parties and supervisors never assigned, the member's own choice of supporter,
and the no-session-content mode (the form hides notes and topics, the service refuses them)."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from activations import selectors as activation_selectors
from activations import services as activation_services
from activations.models import ActivationEvent, OutreachTarget
from agencies.models import Certification, Membership, Role, SupporterProfile
from network import standards
from network.models import Network, PolicyChange
from tests.support import agency_url, encounter_form_data, log_encounter, refused

pytestmark = pytest.mark.django_db


def policy(world, **changes):
    network = Network.objects.get(pk=world.network_id)
    return standards.policy_update(actor=world.state_admin, network=network, **changes)


def supporter_row(world, target=None):
    target = target or OutreachTarget.objects.get(pk=world.target.pk)
    rows = activation_selectors.assignable_supporters(world.activation, target)
    return next(p for p in rows if p["user"].pk == world.a[Role.PEER_SUPPORTER].pk and p["agency"] == world.agency_a)


def test_the_profile_is_versioned_like_the_rest_of_the_policy(client, world):
    policy(world, privilege_profile="mt")
    change = PolicyChange.objects.get(policy__network_id=world.network_id, setting="privilege_profile")
    assert (change.old_value, change.new_value, change.changed_by) == ("none", "mt", world.state_admin)
    client.force_login(world.state_admin)
    page = client.get("/network/policy/").content.decode()
    assert "Mont. Code Ann. 7-32-602" in page and "Montana (in force)" in page


def test_under_montana_the_encounter_form_hides_notes_and_topics_and_the_server_refuses_them(client, world):
    policy(world, privilege_profile="mt")
    client.force_login(world.a[Role.PEER_SUPPORTER])
    url = agency_url(world.agency_a, "encounter_new")
    page = client.get(url).content.decode()
    assert 'name="topics"' not in page and 'name="notes"' not in page
    assert "forbids recording session content" in page
    with refused("no_session_content"):
        log_encounter(world.agency_a, author=world.a[Role.PEER_SUPPORTER], topics=["grief"])
    with refused("no_session_content"):
        log_encounter(world.agency_a, author=world.a[Role.PEER_SUPPORTER], topics=[], notes="Said a lot.")
    posted = client.post(url, encounter_form_data(topics=["grief"], notes="Said a lot."))
    assert posted.status_code == 302, "the form has no such fields: posted ones are ignored, nothing is kept"
    encounter = log_encounter(world.agency_a, author=world.a[Role.PEER_SUPPORTER], topics=[])
    assert encounter.topics == [] and encounter.notes is None


def test_without_the_profile_topics_are_still_required(world):
    with pytest.raises(ValidationError) as caught:
        log_encounter(world.agency_a, author=world.a[Role.PEER_SUPPORTER], topics=[])
    assert "topics" in caught.value.error_dict


def test_a_profile_with_training_hours_blocks_a_supporter_short_of_them_and_says_why(world):
    assert not supporter_row(world)["blocked"]
    policy(world, privilege_profile="wa")
    row = supporter_row(world)
    assert "40 training hours" in row["blocked"] and row["blocked_code"] == "supporter_not_ready"
    membership = Membership.objects.get(agency=world.agency_a, user=world.a[Role.PEER_SUPPORTER])
    Certification.objects.filter(membership=membership).update(hours=40)
    assert not supporter_row(world)["blocked"]


def test_a_custom_profile_may_waive_designation_before_the_incident(world):
    membership = Membership.objects.get(agency=world.agency_a, user=world.a[Role.PEER_SUPPORTER])
    # The day after the incident (its date in local time): "today" is the incident's own day until 6 a.m. local time.
    after = timezone.localtime(world.activation.occurred_at).date() + datetime.timedelta(days=1)
    SupporterProfile.objects.filter(membership=membership).update(designated_on=after)
    assert supporter_row(world)["blocked"] == "designated after the incident"
    policy(world, privilege_profile="custom", privilege_designation_before_incident=False)
    assert not supporter_row(world)["blocked"]


def test_a_supervisor_declared_on_the_assign_page_is_refused_with_the_reason(client, world):
    coordinator = world.a[Role.COORDINATOR]
    supporter = world.a[Role.PEER_SUPPORTER]
    client.force_login(coordinator)
    url = f"/activations/{world.activation.uuid}/members/{world.target.uuid}/assign/"
    response = client.post(
        url,
        {
            "supporter": f"{supporter.pk}:{world.agency_a.pk}",
            "expected_supporter": str(supporter.pk),
            "supervises": "on",
        },
        follow=True,
    )
    assert "cannot be assigned: supervises the member" in response.content.decode()
    target = OutreachTarget.objects.get(pk=world.target.pk)
    assert target.supervisor_ids == [supporter.pk] and target.assigned_supporter_id is None
    with refused("supporter_supervises"):
        activation_services.target_assign(
            actor=coordinator, target=target, supporter=supporter, agency=world.agency_a, expected_supporter_id=None
        )
    assert ActivationEvent.objects.filter(activation=world.activation, kind="supervisor_declared").exists()


def test_a_supporter_who_supervises_affected_members_says_so_in_the_callout_reply(client, world):
    supporter = world.a[Role.PEER_SUPPORTER]
    client.force_login(supporter)
    client.post(f"/activations/{world.activation.uuid}/mine/", {"answer": "available", "supervises": "on"})
    row = supporter_row(world)
    assert row["blocked_code"] == "supporter_supervises", "the member is of the supporter's own agency"


def test_a_member_may_ask_to_change_supporter_and_it_is_kept_in_the_timeline(client, world):
    client.force_login(world.a[Role.COORDINATOR])
    client.post(
        f"/activations/{world.activation.uuid}/members/{world.target.uuid}/supporter-request/", {"request": "change"}
    )
    assert OutreachTarget.objects.get(pk=world.target.pk).assigned_supporter_id is None
    client.post(
        f"/activations/{world.activation.uuid}/members/{world.target.uuid}/supporter-request/", {"request": "add"}
    )
    kinds = set(ActivationEvent.objects.filter(activation=world.activation).values_list("kind", flat=True))
    assert {"change_requested", "add_requested"} <= kinds


def test_certifications_record_training_hours(client, world):
    membership = Membership.objects.get(agency=world.agency_a, user=world.a[Role.PEER_SUPPORTER])
    client.force_login(world.a[Role.COORDINATOR])
    client.post(
        agency_url(world.agency_a, "agency_roster_member", membership_id=membership.pk),
        {
            "add_certification": "1",
            "kind": "cism-group",
            "certified_on": (timezone.localdate() - datetime.timedelta(days=3)).isoformat(),
            "hours": "24",
        },
    )
    assert Certification.objects.get(membership=membership, kind="cism-group").hours == 24


def test_the_roster_import_records_training_hours(client, world):
    supporter = world.a[Role.PEER_SUPPORTER]
    header = "email,designated_on,availability,languages,certification,certified_on,expires_on,disciplines,hours\n"
    row = f"{supporter.email},2024-01-15,available,,cism-individual,{timezone.localdate().isoformat()},,,32\n"
    client.force_login(world.a[Role.COORDINATOR])
    response = client.post(
        agency_url(world.agency_a, "agency_roster_import"),
        {"file": SimpleUploadedFile("roster.csv", (header + row).encode(), content_type="text/csv")},
        follow=True,
    )
    assert "Roster updated from 1 row(s)." in response.content.decode()
    membership = Membership.objects.get(agency=world.agency_a, user=supporter)
    assert Certification.objects.get(membership=membership, kind="cism-individual").hours == 32
