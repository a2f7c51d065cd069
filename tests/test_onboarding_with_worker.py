"""Onboarding end to end through a real Celery worker and real Redis: a state admin adds an
agency, the worker clones its schema, the admin invites the first agency admin, who invites a member."""

import re
import time
import uuid

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_exists

from agencies.models import Agency, Membership, Role
from agencies.schemas import template_schema_name
from tests.support import agency_url

pytestmark = pytest.mark.stack


def _migrations_in(schema: str) -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT app, name FROM "{schema}".django_migrations')
        return set(cursor.fetchall())


def _wait_until_ready(client: Client, agency: Agency, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(f"/network/agencies/{agency.pk}/progress/", HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        if response.get("HX-Refresh") == "true":
            return response.content.decode()
        time.sleep(0.25)
    raise AssertionError("the worker did not finish the agency's schema in time")


def _link_in(message) -> str:
    return re.search(r"https?://\S+/invite/\S+/", message.body).group(0)


def test_state_admin_onboards_an_agency_through_the_worker_and_invites_its_people(stack, world, django_db_blocker):
    slug = f"onboard-{uuid.uuid4().hex[:8]}"
    admin_email = f"first.admin.{slug}@test.example"
    member_email = f"new.member.{slug}@test.example"
    with django_db_blocker.unblock():
        state_admin = Client()
        state_admin.force_login(world.state_admin)
        response = state_admin.post(
            "/network/agencies/new/",
            {"name": "Onboarding Test Fire", "discipline": "fire", "region": world.agency_a.region_id, "slug": slug},
        )
        assert response.status_code == 302, response.content.decode()[:500]
        agency = Agency.objects.get(slug=slug)

        final_fragment = _wait_until_ready(state_admin, agency)
        agency.refresh_from_db()
        assert agency.status == Agency.Status.ACTIVE
        assert "Ready" in final_fragment
        assert agency.provision_seconds is not None
        assert schema_exists(agency.schema_name)
        assert _migrations_in(agency.schema_name) == _migrations_in(template_schema_name())

        mail.outbox.clear()
        response = state_admin.post(f"/network/agencies/{agency.pk}/", {"email": admin_email})
        assert response.status_code == 302
        assert [m.to for m in mail.outbox] == [[admin_email]]

        newcomer = Client()
        link = _link_in(mail.outbox[0])
        path = link.split("://", 1)[1].split("/", 1)[1]
        response = newcomer.post(
            "/" + path,
            {
                "full_name": "First Admin",
                "password1": "a-long-enough-passphrase",
                "password2": "a-long-enough-passphrase",
            },
        )
        assert response.status_code == 302
        assert Membership.objects.get(agency=agency, user__email=admin_email).role == Role.AGENCY_ADMIN

        mail.outbox.clear()
        response = newcomer.post(
            agency_url(agency, "agency_members"), {"email": member_email, "role": Role.COORDINATOR}
        )
        assert response.status_code == 302
        assert [m.to for m in mail.outbox] == [[member_email]]
        assert "Team coordinator" in mail.outbox[0].body
