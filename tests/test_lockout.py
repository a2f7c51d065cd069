"""Five failed sign-ins lock the account for 15 minutes, without revealing whether it exists."""

import io

import pytest
from django.core.management import call_command

from agencies.models import Role
from network.audit import AuditAction
from network.models import AuditEvent
from tests.support import PASSWORD, agency_url

pytestmark = pytest.mark.django_db


def attempt(client, email, password):
    return client.post("/login/", {"username": email, "password": password})


def test_five_failures_lock_the_account_even_for_the_right_password(client, world):
    email = world.a[Role.COORDINATOR].email
    for _ in range(4):
        assert attempt(client, email, "wrong-password").status_code == 200
    assert attempt(client, email, "wrong-password").status_code == 429  # the fifth failure locks
    locked = attempt(client, email, PASSWORD)
    assert locked.status_code == 429
    assert "Too many sign-in attempts" in locked.content.decode()
    assert client.get(agency_url(world.agency_a, "agency_home")).status_code == 302  # not signed in


def test_an_unknown_account_looks_exactly_the_same(client, world):
    for _ in range(5):
        attempt(client, "nobody@test.example", "wrong-password")
    response = attempt(client, "nobody@test.example", "wrong-password")
    assert response.status_code == 429 and "Too many sign-in attempts" in response.content.decode()


def test_an_admin_unlock_is_audited_and_lets_the_user_in(client, world):
    email = world.a[Role.CHIEF].email
    for _ in range(5):
        attempt(client, email, "wrong-password")
    call_command("unlock_account", email, stdout=io.StringIO())
    assert AuditEvent.objects.filter(action=AuditAction.ACCOUNT_UNLOCKED, object_id=str(world.a[Role.CHIEF].pk))
    assert attempt(client, email, PASSWORD).status_code == 302


def test_a_success_before_the_limit_resets_the_count(client, world):
    email = world.a[Role.CLINICIAN].email
    for _ in range(4):
        attempt(client, email, "wrong-password")
    assert attempt(client, email, PASSWORD).status_code == 302
    client.post("/logout/")
    for _ in range(4):
        attempt(client, email, "wrong-password")
    assert attempt(client, email, PASSWORD).status_code == 302


def test_changing_the_case_of_the_address_does_not_dodge_the_lock(client, world):
    email = world.a[Role.AGENCY_ADMIN].email
    for variant in (email, email.upper(), f" {email} ", email.title(), email):
        attempt(client, variant, "wrong-password")
    assert attempt(client, email.upper(), PASSWORD).status_code == 429


# --- Counted per account and source together; lifted by proof of identity ---------------------------

SCRIPT_ADDRESS = "203.0.113.66"  # somewhere else on the internet


def attempt_from(client, address, email, password):
    return client.post("/login/", {"username": email, "password": password}, REMOTE_ADDR=address)


def test_five_failures_from_another_address_do_not_lock_the_owner_out_of_their_own_browser(world):
    from django.test import Client

    email = world.a[Role.COORDINATOR].email
    script, owner = Client(), Client()
    for _ in range(4):
        assert attempt_from(script, SCRIPT_ADDRESS, email, "wrong-password").status_code == 200
    assert attempt_from(script, SCRIPT_ADDRESS, email, "wrong-password").status_code == 429
    assert attempt_from(script, SCRIPT_ADDRESS, email, PASSWORD).status_code == 429  # the script is locked out
    assert attempt(owner, email, PASSWORD).status_code == 302  # the coordinator is not
    assert owner.get(agency_url(world.agency_a, "agency_home")).status_code == 200


def test_a_completed_password_reset_lifts_the_lock_as_the_lock_page_says(
    client, world, django_capture_on_commit_callbacks
):
    import re

    from django.core import mail

    user = world.a[Role.CLINICIAN]
    for _ in range(5):
        attempt(client, user.email, "wrong-password")
    locked = attempt(client, user.email, PASSWORD)
    assert locked.status_code == 429 and "reset it" in locked.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        client.post("/password-reset/", {"email": user.email})
    link = re.search(r"https?://[^/\s]+(/password-reset/\S+/)", mail.outbox[-1].body).group(1)
    set_url = client.get(link, follow=True).redirect_chain[-1][0]
    new_password = "a-brand-new-passphrase"
    client.post(set_url, {"new_password1": new_password, "new_password2": new_password})

    assert attempt(client, user.email, new_password).status_code == 302


def test_an_mfa_verified_sign_in_lifts_locks_on_the_account_from_every_address(client, world, settings):
    from axes.models import AccessAttempt

    from tests.test_mfa import code_for, enroll

    settings.MUSTER_MFA_REQUIRED = True
    user = world.a[Role.CHIEF]
    device = enroll(user).device
    for _ in range(5):
        attempt_from(client, SCRIPT_ADDRESS, user.email, "wrong-password")
    assert AccessAttempt.objects.filter(username=user.email).exists()
    assert attempt(client, user.email, PASSWORD).status_code == 302  # own address: not locked
    assert AccessAttempt.objects.filter(username=user.email).exists()  # a password alone proves little
    assert client.post("/mfa/", {"code": code_for(device, 1)})["Location"] == "/home/"
    assert not AccessAttempt.objects.filter(username=user.email).exists()


def test_retrying_while_locked_does_not_restart_the_fifteen_minutes(client, world):
    import datetime

    from axes.models import AccessAttempt
    from django.db.models import F

    email = world.a[Role.PEER_SUPPORTER].email
    for _ in range(5):
        attempt(client, email, "wrong-password")

    def minutes_pass(minutes):
        AccessAttempt.objects.filter(username=email).update(
            attempt_time=F("attempt_time") - datetime.timedelta(minutes=minutes)
        )

    minutes_pass(14)
    assert attempt(client, email, "wrong-password").status_code == 429  # a retry from the locked client
    minutes_pass(2)  # 16 minutes after the lock began
    assert attempt(client, email, PASSWORD).status_code == 302
