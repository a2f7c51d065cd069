"""Check-ins by text (issue 17 §5 through issue 16's channels): the opt-in takes a mobile number, the due
check-in is texted with the neutral body only, the answer stays a button press on the page, and STOP from
the member's number (no Muster user's) ends the check-ins and destroys the contact; START allows new ones.

The provider is replaced only at the network boundary: the real Twilio SDK talks to a local HTTP server
(tests/phone_provider.py), and webhooks are posted signed exactly as the provider signs them."""

from __future__ import annotations

import datetime
import logging
import re

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import tenant_context

from agencies.models import Role
from encounters import maintenance
from encounters.models import CheckIn, CheckInPlan
from network.audit import AuditAction
from network.models import AuditEvent, PhoneMessage, PhoneOptOut, phone_index
from tests.phone_provider import FakeProvider, signed_post
from tests.support import agency_url, encounter_form_data, log_encounter

pytestmark = pytest.mark.django_db

MEMBER = "+12025550177"
DIGITS = "2025550177"  # the number however it might be written: its ten digits are enough to find it
NEUTRAL = re.compile(
    r"^Muster check-in from your peer team: how are you doing\? Answer here: "
    r"(https?://[^/\s]+(/c/\S+/))\. Reply STOP to end check-ins\.$"
)


@pytest.fixture
def provider(settings):
    fake = FakeProvider().start()
    for name, value in fake.settings().items():
        setattr(settings, name, value)
    yield fake
    fake.stop()


def sms(client, frm: str, body: str, sid: str):
    return signed_post(
        client, reverse("phone_sms"), {"From": frm, "To": "+12025550100", "Body": body, "MessageSid": sid}
    )


def encounter_with_text_checkins(world, *, number: str = "(202) 555-0177", days_ago: int = 8):
    return log_encounter(
        world.agency_a,
        author=world.a[Role.PEER_SUPPORTER],
        checkin_contact=number,
        checkin_channel=CheckInPlan.Channel.TEXT,
        occurred_on=timezone.localdate() - datetime.timedelta(days=days_ago),
    )


def plan_of(world, encounter) -> CheckInPlan:
    with tenant_context(world.agency_a):
        return CheckInPlan.objects.get(encounter=encounter)


def raw_rows(table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - a fixed table name of the test's own
        return repr(cursor.fetchall())


# --- The opt-in -------------------------------------------------------------------------------------------------


def test_the_encounter_form_takes_a_mobile_number_for_check_ins_and_keeps_it_normalised_and_encrypted(client, world):
    client.force_login(world.a[Role.PEER_SUPPORTER])
    page = client.get(agency_url(world.agency_a, "encounter_new")).content.decode()
    assert 'name="checkin_by"' in page and 'name="checkin_mobile"' in page
    refused_page = client.post(
        agency_url(world.agency_a, "encounter_new"),
        encounter_form_data(checkins="on", checkin_by="text", checkin_mobile="555-01"),
    )
    assert refused_page.status_code == 200 and b"Enter a valid mobile number" in refused_page.content
    saved = client.post(
        agency_url(world.agency_a, "encounter_new"),
        encounter_form_data(checkins="on", checkin_by="text", checkin_mobile="(202) 555-0177"),
    )
    assert saved.status_code == 302
    with tenant_context(world.agency_a):
        plan = CheckInPlan.objects.get(channel=CheckInPlan.Channel.TEXT)  # the world has one by e-mail
        assert plan.channel == CheckInPlan.Channel.TEXT and plan.contact == MEMBER
        raw = raw_rows("encounters_checkinplan")
    assert DIGITS not in raw  # encrypted at rest, under the plan's own key


# --- The text ---------------------------------------------------------------------------------------------------


def test_a_due_check_in_by_text_carries_the_neutral_body_only_and_the_number_is_kept_nowhere_else(
    client, world, provider, caplog
):
    caplog.set_level(logging.DEBUG)
    encounter = encounter_with_text_checkins(world)
    assert maintenance.checkins_send_due(agency=world.agency_a) == 1  # day 7 is due, 30 and 90 are not
    (request,) = provider.texts(MEMBER)
    match = NEUTRAL.match(request.form["Body"])
    assert match, request.form["Body"]
    assert world.agency_a.name not in request.form["Body"]
    with tenant_context(world.agency_a):
        checkin = CheckIn.objects.get(plan__encounter=encounter, sent_at__isnull=False)
    message = PhoneMessage.objects.get(purpose="checkin")
    assert message.user is None and message.ref_id == checkin.pk and message.provider_sid == request.sid
    assert AuditEvent.objects.filter(action=AuditAction.CHECKIN_SENT, object_id=str(checkin.pk)).exists()
    for table in ("network_phonemessage", "network_auditevent", "network_outboxmessage"):
        assert DIGITS not in raw_rows(table), table
    assert DIGITS not in caplog.text
    assert maintenance.checkins_send_due(agency=world.agency_a) == 0  # once
    assert len(provider.texts(MEMBER)) == 1

    path = match.group(2)  # the answer stays a button press: opening the link records nothing
    assert client.get(path).status_code == 200
    with tenant_context(world.agency_a):
        assert not CheckIn.objects.filter(plan__encounter=encounter).exclude(answer="").exists()
    client.post(path, {"answer": "ok"})
    with tenant_context(world.agency_a):
        assert CheckIn.objects.get(pk=checkin.pk).answer == "ok"


def test_a_check_in_the_provider_cannot_take_now_stays_due_and_goes_on_the_next_run(world, provider):
    """A 503 from the provider used to count as sent: the member never had that check-in, and after the last one the
    contact was destroyed. A refusal of the number itself (400) still ends in a failed text, as before."""
    encounter = encounter_with_text_checkins(world)
    audited = AuditEvent.objects.filter(action=AuditAction.CHECKIN_SENT).count()  # the world's own check-in
    provider.unavailable = True
    assert maintenance.checkins_send_due(agency=world.agency_a) == 0
    assert len(provider.texts(MEMBER)) == 1  # it was tried
    with tenant_context(world.agency_a):
        assert not CheckIn.objects.filter(plan__encounter=encounter, sent_at__isnull=False).exists()
    assert plan_of(world, encounter).contact == MEMBER
    assert not PhoneMessage.objects.filter(purpose="checkin").exists()  # nothing recorded as sent
    assert AuditEvent.objects.filter(action=AuditAction.CHECKIN_SENT).count() == audited

    provider.unavailable = False
    assert maintenance.checkins_send_due(agency=world.agency_a) == 1
    assert [r.sid != "" for r in provider.texts(MEMBER)] == [False, True]
    assert PhoneMessage.objects.get(purpose="checkin").status != PhoneMessage.Status.FAILED


def test_after_the_provider_says_it_is_busy_the_other_check_ins_by_text_wait_for_the_next_run(world, provider):
    encounter_with_text_checkins(world)
    encounter_with_text_checkins(world, number="(202) 555-0178")
    provider.unavailable = True
    assert maintenance.checkins_send_due(agency=world.agency_a) == 0
    assert len(provider.texts()) == 1  # one tried; the second not pressed on a provider that said no
    provider.unavailable = False
    assert maintenance.checkins_send_due(agency=world.agency_a) == 2


def test_a_number_the_provider_refuses_is_a_failed_text_not_a_retry(world, provider):
    encounter = encounter_with_text_checkins(world)
    provider.refuse.add(MEMBER)
    assert maintenance.checkins_send_due(agency=world.agency_a) == 1
    message = PhoneMessage.objects.get(purpose="checkin")
    assert message.status == PhoneMessage.Status.FAILED and message.provider_status == "error-21211"
    with tenant_context(world.agency_a):
        assert CheckIn.objects.filter(plan__encounter=encounter, sent_at__isnull=False).exists()


# --- STOP, START, HELP ------------------------------------------------------------------------------------------


def test_stop_from_the_members_number_ends_the_check_ins_and_destroys_the_contact(client, world, provider):
    encounter = encounter_with_text_checkins(world)
    maintenance.checkins_send_due(agency=world.agency_a)
    answer = sms(client, MEMBER, "STOP", "SMmemberstop").content.decode()
    assert "no more texts" in answer and world.agency_a.name not in answer
    assert PhoneOptOut.objects.filter(number_index=phone_index(MEMBER)).exists()
    assert DIGITS not in raw_rows("network_phoneoptout")
    later = timezone.localdate() + datetime.timedelta(days=100)  # day 30 and day 90 are both due by then
    maintenance.checkins_send_due(agency=world.agency_a, today=later)
    assert len(provider.texts(MEMBER)) == 1  # only the day-7 check-in, before STOP
    plan = plan_of(world, encounter)
    assert plan.ended_at is not None and plan.stopped_by_member
    assert plan.contact is None and plan.contact_destroyed_at is not None
    assert AuditEvent.objects.filter(action=AuditAction.CHECKIN_CONTACT_DESTROYED, object_id=str(plan.pk)).exists()


def test_start_allows_texts_again_for_new_plans_and_help_answers_neutrally(client, world, provider):
    encounter_with_text_checkins(world)
    sms(client, MEMBER, "stop", "SMstop1")
    maintenance.checkins_send_due(agency=world.agency_a)
    assert provider.texts(MEMBER) == []
    help_text = sms(client, MEMBER, "HELP", "SMhelp1").content.decode()
    assert "peer team" in help_text and "STOP" in help_text and world.agency_a.name not in help_text
    assert "on again" not in help_text
    assert "allowed again" in sms(client, MEMBER, "START", "SMstart1").content.decode()
    assert not PhoneOptOut.objects.exists()
    encounter_with_text_checkins(world, days_ago=7)
    assert maintenance.checkins_send_due(agency=world.agency_a) == 1
    assert len(provider.texts(MEMBER)) == 1


def test_other_texts_from_the_members_number_get_nothing(client, world, provider):
    encounter_with_text_checkins(world)
    answer = sms(client, MEMBER, "I'm not doing great", "SMprose").content.decode()
    assert answer.strip() == '<?xml version="1.0" encoding="UTF-8"?><Response />'
    assert PhoneMessage.objects.get(provider_sid="SMprose").body in ("", None)
    assert not PhoneOptOut.objects.exists()


def test_an_unsigned_stop_is_refused_with_403_and_stops_nothing(client, world, provider):
    encounter_with_text_checkins(world)
    params = {"From": MEMBER, "To": "+12025550100", "Body": "STOP", "MessageSid": "SMforged"}
    assert client.post(reverse("phone_sms"), params).status_code == 403
    assert signed_post(client, reverse("phone_sms"), params, token="not-the-token").status_code == 403
    assert not PhoneOptOut.objects.exists()
    assert maintenance.checkins_send_due(agency=world.agency_a) == 1
