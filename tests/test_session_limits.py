"""Sessions end after 30 minutes idle and 12 hours in all, whatever the user does."""

import time

import pytest

from agencies.models import Role
from network.sessions import SEEN_AT, SIGNED_IN_AT
from tests.support import PASSWORD

pytestmark = pytest.mark.django_db


def signed_in(client, world):
    client.post("/login/", {"username": world.a[Role.CHIEF].email, "password": PASSWORD})
    home = f"/a/{world.agency_a.slug}/"
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
