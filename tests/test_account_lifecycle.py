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
from tests.support import PASSWORD

pytestmark = pytest.mark.django_db


def two_devices(world, role=Role.COORDINATOR):
    devices = [Client(), Client()]
    for device in devices:
        device.post("/login/", {"username": world.a[role].email, "password": PASSWORD})
    home = f"/a/{world.agency_a.slug}/"
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
