"""Sessions end after 30 minutes idle and 12 hours in all, whatever the user does."""

import time

import pytest

from agencies.models import Role
from network.sessions import SEEN_AT, SIGNED_IN_AT
from tests.support import agency_url, login_as

pytestmark = pytest.mark.django_db


def signed_in(client, world):
    login_as(client, world.a[Role.CHIEF])
    home = agency_url(world.agency_a, "agency_home")
    assert client.get(home).status_code == 200
    return home


def age_session(client, **seconds_ago):
    session = client.session
    now = time.time()
    for key, ago in seconds_ago.items():
        session[key] = now - ago
    session.save()


def test_thirty_minutes_idle_ends_the_session(client, world):
    home = signed_in(client, world)
    age_session(client, **{SEEN_AT: 31 * 60})
    response = client.get(home, follow=True)
    assert response.redirect_chain[0][0].startswith("/login/")
    assert "30 minutes without activity" in response.content.decode()
    assert client.get(home).status_code == 302


def test_activity_keeps_the_session_alive_but_not_past_twelve_hours(client, world):
    home = signed_in(client, world)
    age_session(client, **{SEEN_AT: 20 * 60})
    assert client.get(home).status_code == 200
    age_session(client, **{SIGNED_IN_AT: 12 * 3600 + 60, SEEN_AT: 10})
    response = client.get(home, follow=True)
    assert "after 12 hours" in response.content.decode()


class FakeClock:
    """Stands in for the `time` module network.sessions reads, so a test can let half an hour pass."""

    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now

    def advance(self, minutes: float) -> None:
        self.now += minutes * 60


def test_an_unattended_board_whose_only_requests_are_polls_locks_after_thirty_minutes(client, world, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr("network.sessions.time", clock)
    login_as(client, world.a[Role.COORDINATOR])
    board = f"/activations/{world.activation.uuid}/board/"
    page = client.get(board)
    assert page.status_code == 200
    poll_headers = {"HX-Request": "true", "X-Muster-Poll": "board", "HX-Current-URL": f"http://testserver{board}"}
    for _ in range(6):  # polls every five minutes (the page polls every 5 s) for the next 30 minutes
        clock.advance(5)
        assert client.get(f"{board}live/", headers=poll_headers).status_code == 200
    clock.advance(1)  # 31 minutes since the person last did anything
    locked = client.get(f"{board}live/", headers=poll_headers)
    assert locked.status_code == 200 and locked["HX-Redirect"].startswith("/login/?next=")
    assert locked["HX-Redirect"].endswith("/board/")  # back to the board, not to its fragment
    assert client.get(board)["Location"].startswith("/login/")
    assert '"X-Muster-Poll"' in page.content.decode()  # the page's live part sends its polls marked so


def test_a_person_using_the_board_keeps_the_session_alive(client, world, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr("network.sessions.time", clock)
    login_as(client, world.a[Role.COORDINATOR])
    board = f"/activations/{world.activation.uuid}/board/"
    for _ in range(4):
        clock.advance(10)
        assert client.get(board).status_code == 200  # a filter, a click: the person is there
    assert client.get(f"{board}live/", headers={"HX-Request": "true", "X-Muster-Poll": "board"}).status_code == 200
