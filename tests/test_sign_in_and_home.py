"""Signing in with an e-mail, landing on the role's own home page, switching agencies, signing out,
resetting a password, and the audit events each of these leaves."""

import re

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse

from agencies.models import Role
from network.audit import AuditAction
from network.models import AuditEvent
from tests.support import PASSWORD, agency_url, login_as

pytestmark = pytest.mark.django_db

ROLE_HEADINGS = {
    Role.PEER_SUPPORTER: "Your peer support work",
    Role.COORDINATOR: "Peer team",
    Role.CLINICIAN: "Team clinician",
    Role.CHIEF: "Peer support program",
    Role.AGENCY_ADMIN: "Manage members",
}


def sign_in_typed(client, email, password=PASSWORD):
    """The sign-in form as typed, for what the form does with what people type (case, unknown addresses)."""
    return client.post(reverse("login"), {"username": email, "password": password}, follow=True)


@pytest.mark.parametrize("role", list(Role))
def test_each_agency_role_lands_on_its_own_home_page(client, world, role):
    response = login_as(client, world.a[role], follow=True)
    assert response.redirect_chain[-1][0] == agency_url(world.agency_a, "agency_home")
    assert ROLE_HEADINGS[role] in response.content.decode()


def test_state_admin_lands_on_the_network_page_with_onboarding(client, world):
    response = login_as(client, world.state_admin, follow=True)
    assert response.redirect_chain[-1][0] == "/network/"
    assert "Onboard an agency" in response.content.decode()


def test_regional_coordinator_sees_only_their_regions_agencies(client, world):
    response = login_as(client, world.regional_a, follow=True)
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == "/network/"
    assert world.agency_a.name in page
    assert world.agency_b.name not in page
    assert "Onboard an agency" not in page


def test_sign_in_is_case_insensitive_on_email(client, world):
    response = sign_in_typed(client, world.a[Role.COORDINATOR].email.upper())
    assert response.redirect_chain[-1][0] == agency_url(world.agency_a, "agency_home")


def test_wrong_password_shows_a_message_that_does_not_reveal_the_account_and_is_audited(client, world):
    before = AuditEvent.objects.filter(action=AuditAction.SIGN_IN_FAILED).count()
    known = login_as(client, world.a[Role.CHIEF], password="wrong-password", follow=True).content.decode()
    unknown = sign_in_typed(client, "nobody@test.example", "wrong-password").content.decode()
    message = "do not match an active account"
    assert message in known and message in unknown
    events = AuditEvent.objects.filter(action=AuditAction.SIGN_IN_FAILED).order_by("id")
    assert events.count() == before + 2
    assert events.last().outcome == AuditEvent.Outcome.FAILURE
    assert "wrong-password" not in str(list(events.values()))


def test_successful_sign_in_is_audited_with_actor_and_source(client, world):
    user = world.a[Role.PEER_SUPPORTER]
    login_as(client, user, follow=True)
    event = AuditEvent.objects.filter(action=AuditAction.SIGN_IN, actor=user).latest("id")
    assert event.outcome == AuditEvent.Outcome.SUCCESS
    assert event.source_ip == "127.0.0.1"
    assert event.occurred_at.utcoffset().total_seconds() == 0


def test_member_of_two_agencies_can_switch_between_them(client, world):
    user = world.two_agency_user
    response = login_as(client, user, follow=True)
    page = response.content.decode()
    assert world.agency_a.name in page and world.agency_b.name in page  # the switcher lists both
    in_a = client.get(agency_url(world.agency_a, "agency_home")).content.decode()
    in_b = client.get(agency_url(world.agency_b, "agency_home")).content.decode()
    assert ROLE_HEADINGS[Role.PEER_SUPPORTER] in in_a
    assert ROLE_HEADINGS[Role.COORDINATOR] in in_b
    # Home remembers the agency used last.
    assert client.get("/home/")["Location"] == agency_url(world.agency_b, "agency_home")


def test_user_without_any_role_is_told_how_to_get_one(client, world):
    response = login_as(client, world.outsider, follow=True)
    assert "not part of an agency yet" in response.content.decode()


def test_sign_out_requires_post_and_ends_the_session(client, world):
    login_as(client, world.a[Role.CHIEF], follow=True)
    assert client.get("/logout/").status_code == 405
    client.post("/logout/")
    assert client.get(agency_url(world.agency_a, "agency_home"))["Location"].startswith("/login/")


def test_password_reset_by_email_lets_the_user_sign_in_with_the_new_password(
    client, world, django_capture_on_commit_callbacks
):
    user = world.a[Role.CLINICIAN]
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/password-reset/", {"email": user.email})
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [user.email]
    link = re.search(re.escape(settings.MUSTER_BASE_URL) + r"(/password-reset/\S+/)", mail.outbox[0].body).group(1)
    form_page = client.get(link, follow=True)
    set_url = form_page.redirect_chain[-1][0]
    new_password = "a-brand-new-passphrase"
    done = client.post(set_url, {"new_password1": new_password, "new_password2": new_password}, follow=True)
    assert "new password is saved" in done.content.decode()
    assert login_as(client, user, password=new_password, follow=True).redirect_chain[-1][0] == agency_url(
        world.agency_a, "agency_home"
    )
    actions = set(AuditEvent.objects.filter(object_id=str(user.pk)).values_list("action", flat=True))
    assert {AuditAction.PASSWORD_RESET_REQUESTED, AuditAction.PASSWORD_SET} <= actions


def test_password_reset_for_unknown_address_looks_the_same_and_sends_nothing(
    client, world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/password-reset/", {"email": "nobody@test.example"}, follow=True)
    assert "Check your e-mail" in response.content.decode()
    assert mail.outbox == []


def test_chief_home_shows_counts_and_no_names(client, world):
    client.force_login(world.a[Role.CHIEF])
    page = client.get(agency_url(world.agency_a, "agency_home")).content.decode()
    assert "Peer supporter" in page
    for role in Role:
        if role != Role.CHIEF:
            assert world.a[role].full_name not in page
            assert world.a[role].email not in page
