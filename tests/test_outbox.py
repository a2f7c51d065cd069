"""The transactional outbox (network/outbox.py) and the work an encounter save queues through it.

Messages here are real publishes to the test Redis; `before_task_publish`, Celery's own signal,
counts them. The task used is the real snapshot refresh for an agency id that does not exist, which
a worker that picks it up finishes as a no-op.
"""

from __future__ import annotations

import datetime
import threading

import pytest
from celery.signals import before_task_publish
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import tenant_context

from agencies.models import Role
from encounters.models import Encounter
from network.models import OutboxMessage
from network.outbox import outbox_dispatch, outbox_enqueue, outbox_relay
from reporting import builder
from reporting import services as reporting_services
from reporting.models import AgencySnapshotState, MetricSnapshot, PeriodKind
from tests.support import log_encounter

REFRESH = "reporting.tasks.agency_snapshot_refresh_task"
NO_SUCH_AGENCY = 0


@pytest.fixture
def published():
    """Task ids of the refresh messages this process hands to Redis during the test (the relay may also
    send other tests' leftovers: assertions look for their own ids)."""
    ids: list[str] = []

    def count(sender=None, headers=None, **kwargs):
        if sender == REFRESH:
            ids.append(headers["id"])

    before_task_publish.connect(count, weak=False)
    yield ids
    before_task_publish.disconnect(count)


@pytest.fixture
def committed(django_db_setup, django_db_blocker):
    """Real commits (on_commit runs); the messages a test makes are removed afterwards."""
    with django_db_blocker.unblock():
        first_id = (OutboxMessage.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
        yield
        OutboxMessage.objects.filter(pk__gte=first_id, args__contains=[NO_SUCH_AGENCY]).delete()


def _pending(*args) -> OutboxMessage:
    """A message whose after-commit send failed (Redis was down): committed, not sent."""
    return OutboxMessage.objects.create(task=REFRESH, args=list(args), attempts=1, last_error="ConnectionError")


@pytest.mark.django_db
def test_queued_work_rolls_back_with_the_change_that_queued_it():
    with pytest.raises(RuntimeError), transaction.atomic():
        outbox_enqueue(task=REFRESH, args=[NO_SUCH_AGENCY])
        raise RuntimeError("the change failed")
    assert not OutboxMessage.objects.filter(task=REFRESH, args=[NO_SUCH_AGENCY]).exists()


def test_a_committed_message_is_sent_after_the_commit_and_never_again_by_the_relay(committed, published):
    with transaction.atomic():
        message = outbox_enqueue(task=REFRESH, args=[NO_SUCH_AGENCY])
        assert published == []  # nothing leaves before the commit
    message.refresh_from_db()
    assert message.sent_at is not None
    assert published == [f"outbox-{message.pk}"]
    outbox_relay()
    assert outbox_dispatch(message_id=message.pk) is False
    assert published.count(f"outbox-{message.pk}") == 1


def test_the_relay_skips_a_message_being_dispatched_so_it_is_sent_once(committed, published):
    message = _pending(NO_SUCH_AGENCY)
    locked, release = threading.Event(), threading.Event()

    def dispatcher_holding_the_row():
        try:
            with transaction.atomic():
                OutboxMessage.objects.select_for_update().get(pk=message.pk)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=dispatcher_holding_the_row)
    holder.start()
    assert locked.wait(10)
    outbox_relay()
    message.refresh_from_db()
    assert message.sent_at is None and f"outbox-{message.pk}" not in published  # skipped, not waited for
    release.set()
    holder.join(10)

    outbox_relay()
    message.refresh_from_db()
    assert message.sent_at is not None
    assert outbox_dispatch(message_id=message.pk) is False
    assert published.count(f"outbox-{message.pk}") == 1


def test_identical_messages_queued_during_an_outage_are_sent_once(committed, published):
    same = [_pending(NO_SUCH_AGENCY) for _ in range(3)]
    other = _pending(NO_SUCH_AGENCY, "other")
    outbox_relay()
    assert not OutboxMessage.objects.filter(pk__in=[m.pk for m in [*same, other]], sent_at__isnull=True).exists()
    ours = [task_id for task_id in published if task_id in {f"outbox-{m.pk}" for m in [*same, other]}]
    assert sorted(ours) == sorted([f"outbox-{same[0].pk}", f"outbox-{other.pk}"])


@pytest.mark.django_db
def test_saving_an_encounter_marks_its_snapshots_stale_and_queues_their_refresh(world):
    agency = world.agency_a
    before = AgencySnapshotState.objects.filter(agency=agency).values_list("changes", flat=True).first() or 0
    log_encounter(agency, author=world.a[Role.PEER_SUPPORTER])
    state = AgencySnapshotState.objects.get(agency=agency)
    assert state.changes == before + 1 and state.is_stale
    (message,) = OutboxMessage.objects.filter(task=REFRESH, args=[agency.pk], sent_at__isnull=True)
    assert message.schema_name == agency.schema_name  # runs where it was queued from, as .delay() would


@pytest.mark.django_db
def test_a_refresh_counts_the_new_encounter_once_then_finds_nothing_to_do(world):
    agency = world.agency_a
    week = builder.period_start(PeriodKind.WEEK, timezone.localdate())
    log_encounter(agency, author=world.a[Role.PEER_SUPPORTER])
    with tenant_context(agency):
        expected = Encounter.objects.filter(occurred_on__gte=week).count()
    assert reporting_services.agency_snapshot_refresh(agency_id=agency.pk) is True
    stored = MetricSnapshot.objects.get(
        agency=agency, period_kind=PeriodKind.WEEK, period_start=week, metric="encounters", dimension="", key=""
    )
    assert stored.value == expected
    assert not AgencySnapshotState.objects.get(agency=agency).is_stale
    assert reporting_services.agency_snapshot_refresh(agency_id=agency.pk) is False


def test_a_message_with_an_eta_reaches_celery_with_it(committed):
    """The callout ladder's later steps (docs/callout.md) are outbox messages that must not run before their
    time: the eta is kept on the row (so the relay sends it too) and handed to Celery as the task's eta."""
    seen = {}

    def record(sender=None, headers=None, **kwargs):
        if sender == REFRESH:
            seen[headers["id"]] = headers.get("eta")

    before_task_publish.connect(record, weak=False)
    later = timezone.now() + datetime.timedelta(seconds=30)
    try:
        with transaction.atomic():
            message = outbox_enqueue(task=REFRESH, args=[NO_SUCH_AGENCY], eta=later)
    finally:
        before_task_publish.disconnect(record)
    message.refresh_from_db()
    assert message.eta == later and message.sent_at is not None
    assert datetime.datetime.fromisoformat(seen[f"outbox-{message.pk}"]) == later


def test_a_message_due_hours_from_now_waits_here_and_is_handed_over_once_its_eta_is_near(
    committed, published, monkeypatch
):
    """Redis gives an unacknowledged message to another worker every visibility timeout (an hour), and one waiting
    for its eta is unacknowledged all along: a text held until the end of someone's quiet hours, eight hours away,
    reached Celery at once and would have run eight times. It now stays in the outbox until its eta is near."""
    later = timezone.now() + datetime.timedelta(hours=8)
    with transaction.atomic():
        message = outbox_enqueue(task=REFRESH, args=[NO_SUCH_AGENCY], eta=later)
    message.refresh_from_db()
    assert message.sent_at is None and f"outbox-{message.pk}" not in published
    outbox_relay()
    message.refresh_from_db()
    assert message.sent_at is None and f"outbox-{message.pk}" not in published
    monkeypatch.setattr(timezone, "now", lambda: later - datetime.timedelta(minutes=4))  # the relay's next sweeps
    outbox_relay()
    outbox_relay()
    message.refresh_from_db()
    assert message.sent_at is not None and published.count(f"outbox-{message.pk}") == 1
