"""Password-reset e-mails are limited per address and per client (without revealing anything), and every
e-mailed link is built on MUSTER_BASE_URL, never on the Host header a request carried."""

import uuid

import pytest
from django.core import mail

from agencies.models import Role
from tests.support import agency_url, make_user

pytestmark = pytest.mark.django_db

BASE_URL = "https://muster.example.gov"


@pytest.fixture
def reset_request(client, django_capture_on_commit_callbacks):
    """Ask for a reset as a client does; the mail goes out when the request's work commits."""

    def request(email, *, address="198.51.100.7", host=None):
        extra = {"REMOTE_ADDR": address}
        if host:
            extra["HTTP_HOST"] = host
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/password-reset/", {"email": email}, **extra)

    return request


def test_thirty_requests_for_one_address_send_at_most_three_emails(reset_request, world):
    email = world.a[Role.CLINICIAN].email
    responses = [reset_request(email, address=f"198.51.100.{i + 1}") for i in range(30)]
    assert len([m for m in mail.outbox if m.to == [email]]) == 3
    # Every request, sent or not, gets the same answer: the limit says nothing about the account.
    assert {(r.status_code, r["Location"]) for r in responses} == {(302, "/password-reset/sent/")}


def test_one_client_asking_for_many_addresses_sends_at_most_ten_emails(reset_request, world):
    users = [make_user(f"reset-{uuid.uuid4().hex[:8]}@test.example") for _ in range(15)]
    for user in users:
        assert reset_request(user.email, address="198.51.100.200")["Location"] == "/password-reset/sent/"
    assert len(mail.outbox) == 10
    # Another client is not held back by the first one's requests.
    reset_request(world.a[Role.CHIEF].email, address="198.51.100.201")
    assert mail.outbox[-1].to == [world.a[Role.CHIEF].email]


def test_a_forged_host_header_does_not_reach_the_password_reset_email(reset_request, world, settings):
    settings.MUSTER_BASE_URL = BASE_URL
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "evil.example"]  # a lax proxy passed it through
    reset_request(world.a[Role.CHIEF].email, host="evil.example")
    body = mail.outbox[-1].body
    assert f"{BASE_URL}/password-reset/" in body
    assert "evil.example" not in body


def test_a_forged_host_header_does_not_reach_the_invitation_email(
    client, world, settings, django_capture_on_commit_callbacks
):
    settings.MUSTER_BASE_URL = BASE_URL
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "evil.example"]
    client.force_login(world.a[Role.AGENCY_ADMIN])
    email = f"invitee-{uuid.uuid4().hex[:8]}@test.example"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            agency_url(world.agency_a, "agency_members"),
            {"email": email, "role": Role.PEER_SUPPORTER},
            HTTP_HOST="evil.example",
        )
    assert response.status_code == 302
    body = next(m for m in mail.outbox if m.to == [email]).body
    assert f"{BASE_URL}/invite/" in body
    assert "evil.example" not in body
