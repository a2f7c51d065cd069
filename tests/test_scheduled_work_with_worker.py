"""The daily reminder and purge tasks run on the real Celery worker, across every agency schema."""

import datetime
import time
import uuid

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from agencies import services as agency_services
from agencies.models import Role
from encounters.models import Encounter, FollowUp
from encounters.tasks import follow_up_reminders_task, notes_purge_task
from network.models import Network
from tests.support import log_encounter, make_agency

pytestmark = pytest.mark.stack


def wait_for(check, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.25)
    return False


def test_reminders_and_purge_run_on_the_worker_in_each_agency_schema(stack, world, django_db_blocker):
    with django_db_blocker.unblock():
        network = Network.objects.get(pk=world.network_id)
        agency = make_agency(
            actor=world.state_admin, network=network, region=world.agency_a.region, slug=f"sched-{uuid.uuid4().hex[:6]}"
        )
        supporter = world.a[Role.PEER_SUPPORTER]
        agency_services.membership_add(actor=None, user=supporter, agency=agency, role=Role.PEER_SUPPORTER)
        tomorrow = timezone.localdate() + datetime.timedelta(days=1)
        encounter = log_encounter(agency, author=supporter, follow_up_due_on=tomorrow)
        old = log_encounter(agency, author=supporter, notes="old enough to purge")
        with tenant_context(agency):
            Encounter.objects.filter(pk=old.pk).update(created_at=timezone.now() - datetime.timedelta(days=400))

        follow_up_reminders_task.delay()
        notes_purge_task.delay()

        def done():
            with tenant_context(agency):
                reminded = FollowUp.objects.get(encounter=encounter).reminded_at is not None
                purged = Encounter.objects.get(pk=old.pk).notes_purged_at is not None
            return reminded and purged

        assert wait_for(done), stack.log_tail("worker")
        assert wait_for(lambda: f"due {tomorrow:%Y-%m-%d}" in stack.sent_mail())
