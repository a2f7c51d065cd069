"""Five failed sign-ins lock the account for 15 minutes, without revealing whether it exists."""

import io

import pytest
from django.core.management import call_command

from agencies.models import Role
from network.audit import AuditAction
from network.models import AuditEvent
from tests.support import PASSWORD

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
    assert client.get(f"/a/{world.agency_a.slug}/").status_code == 302  # not signed in


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
