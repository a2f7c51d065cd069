"""Agencies as tenants: creation and validation, schema cloning, invitations, roles, audit, grants."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_exists
from guardian.shortcuts import assign_perm

from agencies import schemas, selectors, services
from agencies.access import object_permission_checker
from agencies.models import Agency, AgencyUserObjectPermission, Invitation, Membership, Role
from network.audit import AuditAction
from network.models import AuditEvent, Network
from tests.support import agency_url, make_agency, make_user, refused

pytestmark = pytest.mark.django_db


def _create_form(client, world, **overrides):
    data = {"name": "Harbor Fire", "discipline": "fire", "region": world.agency_a.region_id, "slug": "harbor-fire"}
    data.update(overrides)
    client.force_login(world.state_admin)
    return client.post("/network/agencies/new/", data)


@pytest.mark.parametrize(
    "slug, message",
    [
        ("ab", "Use 3 to 40 characters."),
        ("Harbor Fire", "Use lowercase letters"),
        ("9-lives", "Use lowercase letters"),
        ("harbor--fire", "Use lowercase letters"),
        ("public", "reserved"),
        ("alpha-fire", "Another agency already uses this address"),
    ],
)
def test_agency_form_explains_a_bad_address(client, world, slug, message):
    response = _create_form(client, world, slug=slug)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Agency.objects.filter(name="Harbor Fire").exists()


def test_agency_form_requires_discipline_and_region(client, world):
    response = _create_form(client, world, discipline="", region="")
    page = response.content.decode()
    assert page.count("This field is required.") == 2


def test_creating_an_agency_queues_its_schema_after_commit(client, world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        response = _create_form(client, world)
    agency = Agency.objects.get(slug="harbor-fire")
    assert response["Location"] == f"/network/agencies/{agency.pk}/"
    assert agency.status == Agency.Status.PROVISIONING
    assert agency.schema_name == "agency_harbor_fire"
    assert len(callbacks) == 1  # the Celery enqueue, sent only once the row is committed
    assert AuditEvent.objects.filter(action=AuditAction.AGENCY_CREATED, agency=agency, actor=world.state_admin).exists()


def test_provisioning_clones_the_template_and_is_idempotent(world):
    network = Network.objects.get(pk=world.network_id)
    agency = make_agency(actor=world.state_admin, network=network, region=world.agency_a.region, slug="clone-check")
    assert agency.status == Agency.Status.ACTIVE and agency.provision_progress == 100
    assert schema_exists(agency.schema_name)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY 1",
            [agency.schema_name],
        )
        agency_tables = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY 1",
            [schemas.template_schema_name()],
        )
        template_tables = [row[0] for row in cursor.fetchall()]
    assert agency_tables == template_tables and "django_migrations" in agency_tables
    again = services.agency_provision(agency_id=agency.pk)
    assert again.status == Agency.Status.ACTIVE
    assert AuditEvent.objects.filter(action=AuditAction.AGENCY_PROVISIONED, agency=agency).count() == 1


def test_failed_provisioning_is_shown_and_can_be_retried(
    world, monkeypatch, client, django_capture_on_commit_callbacks
):
    network = Network.objects.get(pk=world.network_id)
    agency = Agency.objects.create(
        network=network,
        name="Broken",
        slug="broken-one",
        schema_name="agency_broken_one",
        discipline="ems",
        region=world.agency_a.region,
    )

    def explode(schema_name):
        raise RuntimeError("disk full")

    monkeypatch.setattr(schemas, "schema_clone_from_template", explode)
    with pytest.raises(RuntimeError):
        services.agency_provision(agency_id=agency.pk)
    agency.refresh_from_db()
    assert agency.status == Agency.Status.FAILED
    assert "RuntimeError" in agency.provision_error and "disk full" not in agency.provision_error
    client.force_login(world.state_admin)
    page = client.get(f"/network/agencies/{agency.pk}/").content.decode()
    assert "Retry set-up" in page
    with django_capture_on_commit_callbacks() as callbacks:
        client.post(f"/network/agencies/{agency.pk}/retry/")
    agency.refresh_from_db()
    assert agency.status == Agency.Status.PROVISIONING and len(callbacks) == 1


def test_progress_fragment_polls_while_provisioning_and_shows_the_step(client, world):
    network = Network.objects.get(pk=world.network_id)
    agency = Agency.objects.create(
        network=network,
        name="Slow",
        slug="slow-one",
        schema_name="agency_slow_one",
        discipline="ems",
        region=world.agency_a.region,
        provision_progress=20,
        provision_step="Creating the agency's private schema",
    )
    client.force_login(world.state_admin)
    response = client.get(f"/network/agencies/{agency.pk}/progress/", HTTP_HX_REQUEST="true")
    page = response.content.decode()
    assert 'hx-trigger="every 1s"' in page
    assert 'value="20"' in page
    assert "Creating the agency&#x27;s private schema" in page
    assert "HX-Refresh" not in response


def test_agency_pages_answer_404_until_the_schema_is_ready(client, world):
    network = Network.objects.get(pk=world.network_id)
    agency = Agency.objects.create(
        network=network,
        name="Pending",
        slug="pending-one",
        schema_name="agency_pending_one",
        discipline="ems",
        region=world.agency_a.region,
    )
    user = make_user("pending.admin@test.example")
    Membership.objects.create(user=user, agency=agency, role=Role.AGENCY_ADMIN)
    client.force_login(user)
    assert client.get(agency_url(agency, "agency_home")).status_code == 404


# --- Invitations -------------------------------------------------------------------------------


def _invite(world, email="newcomer@test.example", role=Role.PEER_SUPPORTER):
    return services.invitation_create(actor=world.a[Role.AGENCY_ADMIN], agency=world.agency_a, email=email, role=role)


def test_invitation_stores_only_a_digest_of_its_token(world):
    invitation, token = _invite(world)
    assert token not in invitation.token_digest
    assert not Invitation.objects.filter(token_digest=token).exists()
    assert selectors.invitation_for_token(token) == invitation


def test_invitation_email_carries_a_working_set_password_link(client, world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _invitation, token = _invite(world, email="Newcomer@Test.Example")
    assert mail.outbox[0].to == ["newcomer@test.example"]
    assert f"/invite/{token}/" in mail.outbox[0].body
    page = client.get(f"/invite/{token}/").content.decode()
    assert "Choose a password" in page and "Peer supporter" in page


def test_accepting_an_invitation_creates_the_account_membership_and_signs_in(client, world):
    _invitation, token = _invite(world, role=Role.CLINICIAN)
    response = client.post(
        f"/invite/{token}/",
        {"full_name": "New Person", "password1": "a-long-enough-passphrase", "password2": "a-long-enough-passphrase"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == agency_url(world.agency_a, "agency_home")
    membership = Membership.objects.get(user__email="newcomer@test.example", agency=world.agency_a)
    assert membership.role == Role.CLINICIAN
    assert client.get(f"/invite/{token}/").status_code == 404  # single use


def test_weak_or_mismatched_passwords_are_explained(client, world):
    _invitation, token = _invite(world)
    page = client.post(
        f"/invite/{token}/", {"full_name": "X", "password1": "short", "password2": "other"}
    ).content.decode()
    assert "The two passwords differ." in page
    assert "too short" in page
    assert not Membership.objects.filter(user__email="newcomer@test.example").exists()


def test_expired_invitation_is_refused(client, world):
    invitation, token = _invite(world)
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    response = client.get(f"/invite/{token}/")
    assert response.status_code == 404
    assert "does not work" in response.content.decode()


def test_inviting_again_replaces_the_pending_invitation(world):
    first, first_token = _invite(world)
    second, second_token = _invite(world)
    assert selectors.invitation_for_token(first_token) is None
    assert selectors.invitation_for_token(second_token) == second


def test_existing_account_accepts_by_signing_in_as_that_account(client, world):
    b_chief = world.b[Role.CHIEF]
    _invitation, token = _invite(world, email=b_chief.email, role=Role.CHIEF)
    page = client.get(f"/invite/{token}/").content.decode()
    assert "already have a Muster account" in page
    client.force_login(world.outsider)
    client.post(f"/invite/{token}/")
    assert not Membership.objects.filter(user=world.outsider, agency=world.agency_a).exists()
    client.force_login(b_chief)
    client.post(f"/invite/{token}/")
    assert Membership.objects.get(user=b_chief, agency=world.agency_a).role == Role.CHIEF


def test_inviting_a_current_member_is_refused_with_a_clear_message(client, world):
    client.force_login(world.a[Role.AGENCY_ADMIN])
    response = client.post(
        agency_url(world.agency_a, "agency_members"), {"email": world.a[Role.CHIEF].email, "role": Role.COORDINATOR}
    )
    assert "already a member" in response.content.decode()


# --- Memberships -------------------------------------------------------------------------------


def test_agency_admin_changes_a_role_and_it_is_audited(client, world):
    membership = world.membership(world.agency_a, Role.PEER_SUPPORTER)
    client.force_login(world.a[Role.AGENCY_ADMIN])
    client.post(
        agency_url(world.agency_a, "agency_member_set_role", membership_id=membership.pk), {"role": Role.COORDINATOR}
    )
    membership.refresh_from_db()
    assert membership.role == Role.COORDINATOR
    event = AuditEvent.objects.filter(action=AuditAction.MEMBERSHIP_ROLE_CHANGED).latest("id")
    assert (event.actor, event.agency, event.object_id) == (
        world.a[Role.AGENCY_ADMIN],
        world.agency_a,
        str(membership.pk),
    )


def test_removed_member_loses_access_at_once(client, world):
    membership = world.membership(world.agency_a, Role.COORDINATOR)
    admin = client
    admin.force_login(world.a[Role.AGENCY_ADMIN])
    admin.post(agency_url(world.agency_a, "agency_member_deactivate", membership_id=membership.pk))
    admin.force_login(world.a[Role.COORDINATOR])
    assert admin.get(agency_url(world.agency_a, "agency_home")).status_code == 404


def test_the_last_agency_admin_cannot_remove_or_demote_themself(client, world):
    membership = world.membership(world.agency_a, Role.AGENCY_ADMIN)
    with refused("last_agency_admin"):
        services.membership_set_role(actor=world.a[Role.AGENCY_ADMIN], membership=membership, role=Role.CHIEF)
    client.force_login(world.a[Role.AGENCY_ADMIN])
    response = client.post(
        agency_url(world.agency_a, "agency_member_deactivate", membership_id=membership.pk), follow=True
    )
    assert "at least one active agency admin" in response.content.decode()
    membership.refresh_from_db()
    assert membership.is_active


def _second_admin(world):
    """Another agency admin for A, so the last-admin rule is not what refuses."""
    other = make_user("second.admin@test.example", "Second Admin")
    return services.membership_add(actor=world.state_admin, user=other, agency=world.agency_a, role=Role.AGENCY_ADMIN)


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.CLINICIAN, Role.CHIEF])
def test_an_agency_admin_cannot_change_their_own_role(world, role):
    _second_admin(world)
    own = world.membership(world.agency_a, Role.AGENCY_ADMIN)
    with refused("own_role"):
        services.membership_set_role(actor=world.a[Role.AGENCY_ADMIN], membership=own, role=role)
    own.refresh_from_db()
    assert own.role == Role.AGENCY_ADMIN
    assert not AuditEvent.objects.filter(action=AuditAction.MEMBERSHIP_ROLE_CHANGED, object_id=str(own.pk)).exists()


def test_the_members_page_offers_no_role_change_for_ones_own_membership(client, world):
    second = _second_admin(world)
    own = world.membership(world.agency_a, Role.AGENCY_ADMIN)
    client.force_login(world.a[Role.AGENCY_ADMIN])
    page = client.get(agency_url(world.agency_a, "agency_members")).content.decode()
    assert f'id="role-{own.pk}"' not in page
    assert f'id="role-{second.pk}"' in page  # the other admin's role is offered
    response = client.post(
        agency_url(world.agency_a, "agency_member_set_role", membership_id=own.pk), {"role": Role.CHIEF}, follow=True
    )
    assert "cannot change your own role" in response.content.decode()
    own.refresh_from_db()
    assert own.role == Role.AGENCY_ADMIN


@pytest.mark.parametrize(
    ("role", "action"),
    [
        (Role.COORDINATOR, AuditAction.MEMBERSHIP_MADE_COORDINATOR),
        (Role.CLINICIAN, AuditAction.MEMBERSHIP_MADE_CLINICIAN),
    ],
)
def test_making_someone_coordinator_or_clinician_tells_the_state_admins_and_the_trail(
    client, world, django_capture_on_commit_callbacks, role, action
):
    membership = world.membership(world.agency_a, Role.PEER_SUPPORTER)
    client.force_login(world.a[Role.AGENCY_ADMIN])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(agency_url(world.agency_a, "agency_member_set_role", membership_id=membership.pk), {"role": role})
    membership.refresh_from_db()
    assert membership.role == role
    (message,) = mail.outbox
    assert message.to == [world.state_admin.email]
    assert Role(role).label in message.subject and world.agency_a.name in message.subject
    person = membership.user
    assert person.full_name not in message.body and person.email not in message.body
    assert f"object_id={membership.pk}" in message.body
    event = AuditEvent.objects.get(action=action)
    assert (event.actor, event.agency, event.object_type, event.object_id) == (
        world.a[Role.AGENCY_ADMIN],
        world.agency_a,
        "agencies.membership",
        str(membership.pk),
    )


@pytest.mark.parametrize(
    ("role", "action"),
    [
        (Role.COORDINATOR, AuditAction.MEMBERSHIP_MADE_COORDINATOR),
        (Role.CLINICIAN, AuditAction.MEMBERSHIP_MADE_CLINICIAN),
    ],
)
def test_joining_by_invitation_as_coordinator_or_clinician_tells_the_state_admins_too(
    world, django_capture_on_commit_callbacks, role, action
):
    admin = world.a[Role.AGENCY_ADMIN]
    with django_capture_on_commit_callbacks(execute=True):
        invitation, _token = services.invitation_create(
            actor=admin, agency=world.agency_a, email="new.coordinator@example.org", role=role
        )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        user = services.invitation_accept(invitation=invitation, full_name="New Person", password="a-long-pass-2026!")
    membership = user.memberships.get(agency=world.agency_a)
    (message,) = mail.outbox
    assert message.to == [world.state_admin.email]
    assert Role(role).label in message.subject and world.agency_a.name in message.subject
    assert "New Person" not in message.body and user.email not in message.body
    event = AuditEvent.objects.get(action=action)
    assert (event.actor, event.agency, event.object_id) == (admin, world.agency_a, str(membership.pk))


def test_joining_by_invitation_in_another_role_tells_no_one(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        invitation, _token = services.invitation_create(
            actor=world.a[Role.AGENCY_ADMIN],
            agency=world.agency_a,
            email="new.peer@example.org",
            role=Role.PEER_SUPPORTER,
        )
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.invitation_accept(invitation=invitation, full_name="New Peer", password="a-long-pass-2026!")
    assert mail.outbox == []


def test_other_role_changes_tell_no_one(world, django_capture_on_commit_callbacks):
    membership = world.membership(world.agency_a, Role.PEER_SUPPORTER)
    with django_capture_on_commit_callbacks(execute=True):
        services.membership_set_role(actor=world.a[Role.AGENCY_ADMIN], membership=membership, role=Role.CHIEF)
    assert mail.outbox == []


def test_one_membership_per_user_and_agency_is_enforced_by_the_database(world):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.create(user=world.a[Role.CHIEF], agency=world.agency_a, role=Role.COORDINATOR)


# --- Audit log and object grants -----------------------------------------------------------------


def test_audit_events_cannot_be_edited_or_deleted_through_the_orm(world):
    event = AuditEvent.objects.first()
    with pytest.raises(RuntimeError):
        event.save()
    with pytest.raises(RuntimeError):
        event.delete()


def test_guardian_object_grants_on_agencies_use_the_direct_foreign_key_table(world):
    user = world.a[Role.COORDINATOR]
    assign_perm("agencies.view_agency", user, world.agency_a)
    assert AgencyUserObjectPermission.objects.filter(user=user, content_object=world.agency_a).exists()
    checker = object_permission_checker(user)
    assert checker.has_perm("view_agency", world.agency_a)
    assert not checker.has_perm("view_agency", world.agency_b)
