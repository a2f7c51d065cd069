"""The live board's poll (issue 15 §3): answered 204 No Content while nothing the board is drawn from has changed,
drawn afresh when any of those rows changes, when the filters differ and at least once a minute; never a way past
the board's access check. The browser side is in tests/e2e/test_activation_journey.py."""

import datetime

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from activations import selectors, services
from activations.models import (
    Activation,
    ActivationEvent,
    CalloutResponse,
    DeployedSupporter,
    DeploymentShift,
    OutreachTarget,
    Participation,
    TargetFollowUp,
)
from agencies.models import Role
from tests.support import open_activation

VERSION = "X-Muster-Board-Version"
REDRAWN_EVERY = selectors.BOARD_REDRAWN_AT_LEAST_EVERY


@pytest.fixture(autouse=True)
def one_window(monkeypatch):
    """Every poll of a test in one redraw window: a minute turning between two polls would draw the board again
    and fail a test that expects a 204 (the window's own test sets the minute back)."""
    monkeypatch.setattr(selectors, "BOARD_REDRAWN_AT_LEAST_EVERY", 10**10)


def live(activation, query: str = "") -> str:
    return f"/activations/{activation.uuid}/board/live/" + (f"?{query}" if query else "")


def poll(client, activation, version: str = "", query: str = ""):
    return client.get(live(activation, query), headers={VERSION: version} if version else {})


@pytest.fixture
def coordinator(client, world):
    client.force_login(world.a[Role.COORDINATOR])
    return client


@pytest.mark.django_db
def test_an_unchanged_board_is_answered_204_with_nothing_in_it_and_fewer_statements(coordinator, world):
    drawn = poll(coordinator, world.activation)
    assert drawn.status_code == 200 and drawn[VERSION]
    assert "Affected members" in drawn.content.decode()
    with CaptureQueriesContext(connection) as full:
        poll(coordinator, world.activation)
    with CaptureQueriesContext(connection) as unchanged:
        again = poll(coordinator, world.activation, drawn[VERSION])
    assert again.status_code == 204 and again.content == b""
    assert again[VERSION] == drawn[VERSION]
    assert again["X-Muster-Checked"]  # the time of the check, which the board's script shows
    assert "no-store" in again["Cache-Control"]  # nothing of the board is kept by the browser to do this
    assert len(unchanged) < len(full) - 3, (len(unchanged), len(full))


@pytest.mark.django_db
def test_the_board_page_carries_its_version_so_its_first_poll_is_answered_204(coordinator, world):
    page = coordinator.get(f"/activations/{world.activation.uuid}/board/?status=pending")
    version = page["X-Muster-Board-Version"]
    assert f'data-board-version="{version}"' in page.content.decode()
    assert poll(coordinator, world.activation, version, query="status=pending").status_code == 204
    assert poll(coordinator, world.activation, version).status_code == 200  # other filters, another version


@pytest.mark.django_db
def test_a_version_that_is_not_the_current_one_draws_the_board(coordinator, world):
    answer = poll(coordinator, world.activation, "not-a-version")
    assert answer.status_code == 200 and "muster-board" in answer.content.decode()


def _member(world, activation):
    return services.targets_add(
        actor=world.a[Role.COORDINATOR],
        activation=activation,
        home_agency=world.agency_a,
        entries=[("Jordan Vega", "")],
        exposure="direct",
    )[0]


def _insert_member(world):
    _member(world, world.activation)


def _member_status(world):
    OutreachTarget.objects.filter(pk=world.target.pk).update(status=OutreachTarget.Status.ATTEMPTED)


def _member_merged(world):
    # A merge hides a member (merged_into); the row itself is kept.
    other = _member(world, world.activation)
    return lambda: OutreachTarget.objects.filter(pk=other.pk).update(merged_into=world.target)


def _follow_up_scheduled(world):
    TargetFollowUp.objects.create(target=world.target, days_after=3, due_on=timezone.localdate())


def _follow_up_done(world):
    follow_up = TargetFollowUp.objects.create(target=world.target, days_after=3, due_on=timezone.localdate())
    return lambda: TargetFollowUp.objects.filter(pk=follow_up.pk).update(done_at=timezone.now())


def _callout_answered(world):
    CalloutResponse.objects.filter(activation=world.activation).update(answer="available")


def _agency_joins(world):
    Participation.objects.create(activation=world.activation, agency=world.agency_b, added_by=world.a[Role.COORDINATOR])


def _texts_counted(world):
    Activation.objects.filter(pk=world.activation.pk).update(texts_sent=F("texts_sent") + 1)


def _timeline_event(world):
    ActivationEvent.objects.create(
        activation=world.activation, kind=ActivationEvent.Kind.CALLOUT_SENT, actor=world.a[Role.COORDINATOR]
    )


def _checked_in(world):
    soon = timezone.now() - datetime.timedelta(hours=1)
    shift = (
        DeploymentShift.objects.filter(deployment=world.deployment, starts_at__gt=soon).order_by("starts_at").first()
    )
    DeploymentShift.objects.filter(pk=shift.pk).update(checked_in_at=timezone.now())


def _released(world):
    DeployedSupporter.objects.filter(deployment=world.deployment).update(status=DeployedSupporter.Status.RELEASED)


def later(change):
    return lambda world: lambda: change(world)


# Each kind of row the live board is drawn from, changed straight in its table (not through a view that might also
# touch another row). Each entry prepares what its change needs and returns the change proper, made after the
# version is read.
CHANGES = {
    "a member added": later(_insert_member),
    "a member's status": later(_member_status),
    "a member merged away": _member_merged,
    "a follow-up scheduled": later(_follow_up_scheduled),
    "a follow-up done": _follow_up_done,
    "a callout answer": later(_callout_answered),
    "an agency joining": later(_agency_joins),
    "the activation's text count": later(_texts_counted),
    "a timeline event": later(_timeline_event),
    "a deployed supporter checking in": later(_checked_in),
    "a deployed supporter released": later(_released),
}


@pytest.mark.django_db
@pytest.mark.parametrize("change", list(CHANGES))
def test_any_change_to_what_the_board_shows_draws_it_again(coordinator, world, change):
    make_change = CHANGES[change](world)
    version = poll(coordinator, world.activation)[VERSION]
    assert poll(coordinator, world.activation, version).status_code == 204
    make_change()
    answer = poll(coordinator, world.activation, version)
    assert answer.status_code == 200, change
    assert answer[VERSION] != version


@pytest.mark.django_db
def test_the_filters_are_part_of_the_version(coordinator, world):
    version = poll(coordinator, world.activation)[VERSION]
    filtered = poll(coordinator, world.activation, version, query="status=pending")
    assert filtered.status_code == 200 and filtered[VERSION] != version


@pytest.mark.django_db
def test_the_board_is_drawn_again_each_minute_though_nothing_changed(world, monkeypatch):
    """What moves with the clock alone (hours without a contact, a check-in falling overdue) and the names read from
    other tables are shown at most BOARD_REDRAWN_AT_LEAST_EVERY seconds late."""
    monkeypatch.setattr(selectors, "BOARD_REDRAWN_AT_LEAST_EVERY", REDRAWN_EVERY)
    assert REDRAWN_EVERY == 60
    activation = Activation.objects.annotate(**selectors.board_stamp_inline()).get(pk=world.activation.pk)
    every = selectors.BOARD_REDRAWN_AT_LEAST_EVERY
    start = datetime.datetime.fromtimestamp((timezone.now().timestamp() // every) * every, tz=datetime.UTC)

    def version(at):
        return selectors.board_version(activation, perms={"coordinate_activation"}, query="", now=at)

    assert version(start) == version(start + datetime.timedelta(seconds=every - 1))
    assert version(start) != version(start + datetime.timedelta(seconds=every))


@pytest.mark.django_db
def test_a_current_version_opens_nothing_to_someone_who_may_not_see_the_board(client, coordinator, world):
    version = poll(coordinator, world.activation)[VERSION]
    for outsider in (world.b[Role.CHIEF], world.a[Role.PEER_SUPPORTER]):
        client.force_login(outsider)
        assert poll(client, world.activation, version).status_code == 404
    client.logout()
    assert poll(client, world.activation, version).status_code == 302  # to sign in


@pytest.mark.django_db
def test_the_deployment_section_is_part_of_the_live_board(coordinator, world):
    """It used to be drawn with the page only: who is on site changed on reload (noticed at issue 19)."""
    page = coordinator.get(f"/activations/{world.activation.uuid}/board/").content.decode()
    assert 'hx-select-oob="#board-live-site,#board-live-more"' in page
    assert 'id="board-live-site"' in page and "muster/board_live.js" in page
    before = poll(coordinator, world.activation).content.decode()
    assert 'id="board-live-site"' in before and "Nobody checked in." in before
    _checked_in(world)
    after = poll(coordinator, world.activation).content.decode()
    assert "Nobody checked in." not in after and "Deployed B" in after


@pytest.mark.django_db
def test_another_activation_has_its_own_version(coordinator, world):
    other = open_activation(world, name="Harbor crane collapse")
    first, second = poll(coordinator, world.activation)[VERSION], poll(coordinator, other)[VERSION]
    assert first != second
    assert poll(coordinator, other, first).status_code == 200
