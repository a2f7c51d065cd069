"""Reads are reads (issue 14 §3): pages that read the network's policy or documentation standard write
nothing, the policy and version 1 of the standard exist from the network's creation, supporters_of is the
one definition of an agency's peer supporters, and the profile and policy services set only listed fields."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from activations import services as activation_services
from agencies import services as agency_services
from agencies.models import Role, SupporterProfile
from agencies.roster import services as roster_services
from network import services as network_services
from network.models import AuditEvent, DocumentationStandard, Network, NetworkPolicy, NetworkRole, PolicyChange
from network.standards import DEFAULT_TERMS, policy_update
from tests.support import agency_url, make_agency, make_user

pytestmark = pytest.mark.django_db

# Writes a GET may make, and why each is legitimate:
# - django_session: the session middleware saves the signed-in user's session (its expiry, the idle clock);
#   that is the visitor's own state, not the network's data.
# - network_auditevent: looking at something can itself be audited (an export, a denial); the audit log is
#   append-only and recording a read is the point of it.
LEGITIMATE_WRITES = ("django_session", "network_auditevent")
WRITE = ("INSERT", "UPDATE", "DELETE")


def _writes(queries) -> list[str]:
    """The statements that wrote, except the legitimate ones."""
    writes = [q["sql"] for q in queries if q["sql"].lstrip().upper().startswith(WRITE)]
    return [sql for sql in writes if not any(f'"{table}"' in sql for table in LEGITIMATE_WRITES)]


@pytest.fixture
def fresh(world):
    """A second network made through the service the way a deployment makes its own, with one agency and
    an open activation. Nothing has read its policy or its standard yet."""
    network = network_services.network_get_or_create(name="Read Only Network", slug="read-only")
    region = network_services.region_get_or_create(network=network, name="East", slug="east")
    admin = make_user("state@read-only.example", "Read Only Admin")
    network_services.network_role_grant(actor=None, user=admin, network=network, role=NetworkRole.Role.STATE_ADMIN)
    agency = make_agency(actor=admin, network=network, region=region, slug="read-only-fire")
    people = {"admin": admin}
    for role in (Role.PEER_SUPPORTER, Role.COORDINATOR, Role.CHIEF):
        people[role] = make_user(f"{role}@read-only.example", role.label)
        agency_services.membership_add(actor=admin, user=people[role], agency=agency, role=role)
    activation = activation_services.activation_open(
        actor=people[Role.COORDINATOR],
        lead_agency=agency,
        incident_type="mci",
        name="Read only crash",
        occurred_at=timezone.now() - timedelta(hours=1),
        location="East road",
    )
    return network, agency, activation, people


def test_a_new_network_has_its_policy_and_first_standard(fresh):
    network, *_ = fresh
    assert NetworkPolicy.objects.filter(network=network).count() == 1
    standard = DocumentationStandard.objects.get(network=network)
    assert standard.version == 1
    assert standard.terms.count() == sum(len(terms) for terms in DEFAULT_TERMS.values())


def test_get_pages_that_read_the_policy_or_the_standard_write_nothing(client, fresh, monkeypatch):
    """Every page that reads the policy or the standard, opened first on a network nobody has used: the
    policy and the standard exist already, so not one of them inserts or updates a row."""
    network, agency, activation, people = fresh
    monkeypatch.setattr("network.views_standard.network_current", lambda: network)  # the deployment's network
    pages = [
        (people["admin"], "/network/standard/"),
        (people["admin"], "/network/standard/new/"),
        (people["admin"], "/network/policy/"),
        (people["admin"], "/network/dashboard/"),
        (people["admin"], "/network/dashboard/export.csv"),
        (people[Role.PEER_SUPPORTER], agency_url(agency, "encounter_new")),
        (people[Role.CHIEF], agency_url(agency, "agency_dashboard")),
        (people[Role.CHIEF], agency_url(agency, "agency_dashboard_csv")),
        (people[Role.COORDINATOR], reverse("activation_summary", kwargs={"activation_uuid": activation.uuid})),
    ]
    wrote = {}
    for user, path in pages:
        client.force_login(user)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(path)
        assert response.status_code == 200, path
        if _writes(queries.captured_queries):
            wrote[path] = _writes(queries.captured_queries)
    assert wrote == {}


def test_the_migration_gives_an_older_network_what_it_lacks(world):
    """Networks made before the policy and the standard were created with them get both from migration 0014;
    a network that has them keeps them as they are."""
    migration = importlib.import_module("network.migrations.0014_networks_have_policy_and_standard")
    older = Network.objects.create(name="Older Network", slug="older")  # as networks were made before
    existing = Network.objects.get(pk=world.network_id)
    existing_standards = list(DocumentationStandard.objects.filter(network=existing).values_list("pk", flat=True))
    existing_policy = NetworkPolicy.objects.get(network=existing)
    migration.create_missing(apps, None)
    migration.create_missing(apps, None)  # twice: nothing more
    policy = NetworkPolicy.objects.get(network=older)
    assert (policy.notes_enabled, policy.suppression_threshold, policy.publication_delay_days) == (False, 5, 7)
    standard = DocumentationStandard.objects.get(network=older)
    assert standard.version == 1
    terms = {(t.vocabulary, t.code, t.label, t.concept, t.position) for t in standard.terms.all()}
    assert terms == {
        (vocabulary, code, label, code, position)
        for vocabulary, entries in DEFAULT_TERMS.items()
        for position, (code, label) in enumerate(entries)
    }
    assert list(DocumentationStandard.objects.filter(network=existing).values_list("pk", flat=True)) == (
        existing_standards
    )
    assert NetworkPolicy.objects.get(network=existing).notes_enabled == existing_policy.notes_enabled is True


def test_supporters_of_is_the_agencys_active_peer_supporters_and_coordinators(world):
    from agencies.selectors import supporters_of

    agency = world.agency_a
    expected = {world.a[Role.PEER_SUPPORTER].pk, world.a[Role.COORDINATOR].pk, world.two_agency_user.pk}
    assert set(supporters_of(agency).values_list("user_id", flat=True)) == expected
    leaving = world.membership(agency, Role.PEER_SUPPORTER)
    agency_services.membership_deactivate(actor=world.a[Role.AGENCY_ADMIN], membership=leaving)
    assert set(supporters_of(agency).values_list("user_id", flat=True)) == expected - {leaving.user_id}
    # Agency B: the two-agency user is a coordinator there; nobody of A is counted.
    assert set(supporters_of(world.agency_b).values_list("user_id", flat=True)) == {
        world.b[Role.PEER_SUPPORTER].pk,
        world.b[Role.COORDINATOR].pk,
        world.two_agency_user.pk,
        *world.deployment.people.values_list("supporter_id", flat=True),  # B's supporter on the sample deployment
    }


def test_profile_update_refuses_a_field_not_on_its_list(world):
    """A caller cannot move a profile to another membership, nor set its time stamp."""
    membership = world.membership(world.agency_a, Role.PEER_SUPPORTER)
    chief = world.membership(world.agency_a, Role.CHIEF)  # has no profile: moving one there would succeed
    profile = SupporterProfile.objects.get(membership=membership)
    events = AuditEvent.objects.count()
    with pytest.raises(TypeError, match="membership_id"):
        roster_services.profile_update(actor=None, membership=membership, membership_id=chief.pk)
    with pytest.raises(TypeError, match="updated_at"):
        roster_services.profile_update(
            actor=None, membership=membership, availability="unavailable", updated_at=timezone.now()
        )
    profile.refresh_from_db()
    assert (profile.membership_id, profile.availability) == (membership.pk, "available")
    assert not SupporterProfile.objects.filter(membership=chief).exists()
    assert AuditEvent.objects.count() == events
    # The listed fields still work.
    roster_services.profile_update(actor=None, membership=membership, availability="unavailable")
    assert SupporterProfile.objects.get(membership=membership).availability == "unavailable"


def test_policy_update_refuses_a_setting_not_on_its_list(world):
    """A caller cannot hand the policy to another network, nor write who changed it."""
    network = Network.objects.get(pk=world.network_id)
    other = Network.objects.create(name="Other Network", slug="other-network")  # no policy: a move would succeed
    policy = NetworkPolicy.objects.get(network=network)
    changes, events = PolicyChange.objects.count(), AuditEvent.objects.count()
    with pytest.raises(TypeError, match="network_id"):
        policy_update(actor=world.state_admin, network=network, network_id=other.pk)
    with pytest.raises(TypeError, match="updated_by"):
        policy_update(actor=world.state_admin, network=network, suppression_threshold=9, updated_by=world.outsider)
    assert NetworkPolicy.objects.get(pk=policy.pk).network_id == network.pk
    assert NetworkPolicy.objects.get(pk=policy.pk).suppression_threshold == policy.suppression_threshold
    assert not NetworkPolicy.objects.filter(network=other).exists()
    assert (PolicyChange.objects.count(), AuditEvent.objects.count()) == (changes, events)
    policy_update(actor=world.state_admin, network=network, suppression_threshold=9)
    assert NetworkPolicy.objects.get(pk=policy.pk).suppression_threshold == 9
