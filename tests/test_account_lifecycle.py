"""Signing out ends every session of the user; disabled and long-unused accounts lose access at once."""

import datetime

import pytest
from django.test import Client
from django.utils import timezone

from agencies.models import Role
from network import services
from network.audit import AuditAction
from network.models import AuditEvent, User
from network.tasks import inactive_accounts_disable_task
from tests.support import agency_url, login_as

pytestmark = pytest.mark.django_db


def two_devices(world, role=Role.COORDINATOR):
    devices = [Client(), Client()]
    for device in devices:
        login_as(device, world.a[role])
    home = agency_url(world.agency_a, "agency_home")
    assert all(device.get(home).status_code == 200 for device in devices)
    return devices, home


def test_signing_out_on_one_device_signs_out_everywhere(world):
    (phone, desk), home = two_devices(world)
    phone.post("/logout/")
    assert desk.get(home).status_code == 302


def test_disabling_an_account_ends_its_sessions_and_is_audited(world):
    (phone, desk), home = two_devices(world, Role.CHIEF)
    services.user_disable(actor=world.state_admin, user=world.a[Role.CHIEF])
    assert phone.get(home).status_code == 302 and desk.get(home).status_code == 302
    assert AuditEvent.objects.filter(action=AuditAction.ACCOUNT_DISABLED, object_id=str(world.a[Role.CHIEF].pk))


def test_accounts_unused_for_ninety_days_are_disabled_by_the_daily_task(world, settings):
    stale = world.a[Role.CLINICIAN]
    User.objects.filter(pk=stale.pk).update(last_login=timezone.now() - datetime.timedelta(days=91))
    User.objects.exclude(pk=stale.pk).update(last_login=timezone.now())
    assert inactive_accounts_disable_task() == 1
    assert not User.objects.get(pk=stale.pk).is_active
    assert User.objects.get(pk=world.a[Role.CHIEF].pk).is_active
    assert "network.tasks.inactive_accounts_disable_task" in {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }


def test_state_admin_disables_and_enables_an_account_in_the_browser(client, world):
    (device_one, device_two), home = two_devices(world)
    target = world.a[Role.COORDINATOR]
    client.force_login(world.state_admin)
    response = client.post("/network/accounts/", {"email": target.email.upper(), "action": "disable"}, follow=True)
    assert "is disabled and signed out everywhere" in response.content.decode()
    target.refresh_from_db()
    assert not target.is_active
    assert device_one.get(home).status_code == 302 and device_two.get(home).status_code == 302
    assert login_as(Client(), target).status_code == 200  # refused

    client.post("/network/accounts/", {"email": target.email, "action": "enable"})
    target.refresh_from_db()
    assert target.is_active
    assert login_as(Client(), target).status_code == 302
    assert list(
        AuditEvent.objects.filter(object_id=str(target.pk), action__startswith="auth.account_")
        .order_by("chain_position")
        .values_list("action", flat=True)
    )[-2:] == [AuditAction.ACCOUNT_DISABLED, AuditAction.ACCOUNT_ENABLED]


def test_a_state_admin_cannot_disable_their_own_account_here(client, world):
    client.force_login(world.state_admin)
    response = client.post("/network/accounts/", {"email": world.state_admin.email, "action": "disable"})
    assert "You cannot change your own account here" in response.content.decode()
    world.state_admin.refresh_from_db()
    assert world.state_admin.is_active


def test_expired_sessions_are_deleted_by_a_daily_beat_task(settings):
    from celery import current_app
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session

    expired, live = SessionStore(), SessionStore()
    expired["muster_seen_at"] = live["muster_seen_at"] = 0
    expired.set_expiry(1)
    live.set_expiry(3600)
    expired.create()
    live.create()
    Session.objects.filter(session_key=expired.session_key).update(
        expire_date=timezone.now() - datetime.timedelta(minutes=1)
    )
    scheduled = [entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()]
    clearing = [name for name in scheduled if "session" in name]
    assert clearing, "no beat entry clears expired sessions"
    for name in clearing:
        current_app.tasks[name].apply().get()
    assert not Session.objects.filter(session_key=expired.session_key).exists()
    assert Session.objects.filter(session_key=live.session_key).exists()
