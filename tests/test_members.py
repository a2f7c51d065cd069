"""Members ask for a peer without an account, and are checked on afterwards (issue 17, docs/members.md)."""

from __future__ import annotations

import datetime
import re

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from agencies.models import DataKey, Membership, Role
from encounters import maintenance
from encounters import services as encounter_services
from encounters.models import CheckIn, CheckInPlan, Encounter, FollowUp
from members import selectors, services
from members.models import MemberRequest
from network import crypto
from network.audit import AuditAction
from network.models import AuditEvent
from network.ratelimit import rate_limits_clear
from tests.support import agency_url, encounter_form_data, log_encounter, member_request_submit, refused

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_limits():
    rate_limits_clear()
    yield
    rate_limits_clear()


def form_data(**overrides) -> dict:
    data = {
        "urgency": "today",
        "who": "member",
        "served_by": "own",
        "contact_kind": "phone",
        "contact": "(555) 010-0142",
        "contact_visible_to": "coordinator",
        "good_time": "evening",
        "topic": "work-stress",
        "website": "",
    }
    data.update(overrides)
    return data


def page_path(agency) -> str:
    return f"/r/{services.address_ensure(agency=agency).token}/"


def raw_contact(row) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT contact FROM public.members_memberrequest WHERE id = %s", [row.pk])
        return cursor.fetchone()[0]


def newest(agency) -> MemberRequest:
    return MemberRequest.objects.filter(agency=agency).order_by("-id").first()


# --- The public request page -------------------------------------------------------------------------------------


def test_a_member_asks_without_an_account_and_the_contact_is_encrypted_under_the_requests_own_key(client, world):
    before = MemberRequest.objects.count()
    response = client.post(page_path(world.agency_a), form_data())
    assert response.status_code == 200 and b"Your request is sent" in response.content
    assert MemberRequest.objects.count() == before + 1
    row = newest(world.agency_a)
    assert (row.who, row.good_time, row.topic, row.urgency, row.status) == (
        "member",
        "evening",
        "work-stress",
        "today",
        "new",
    )
    assert row.contact == "+15550100142"  # normalised (E.164)
    stored = raw_contact(row)
    assert "5550100142" not in stored
    assert DataKey.objects.get(key_id=crypto.key_id_of(stored)).subject == row.uuid


def test_the_answer_is_the_same_page_whatever_happens(client, world):
    """Stored, folded into an earlier request, a bot's (honeypot), or sent to an address that does not exist: the
    visitor cannot tell which, so the page is no oracle of whether an agency or a person exists."""
    path = page_path(world.agency_a)
    answers = [
        client.post(path, form_data(contact="555-010-0150")).content,
        client.post(path, form_data(contact="555.010.0150")).content,  # the same person again: folded
        client.post(path, form_data(website="http://spam.example")).content,
        client.post("/r/no-such-token/", form_data()).content,
    ]
    assert len(set(answers)) == 1
    assert (
        MemberRequest.objects.filter(agency=world.agency_a, contact_digest__gt="")
        .filter(contact_digest=services.contact_digest(world.agency_a, "phone", "+15550100150"))
        .get()
        .times_asked
        == 2
    )


def test_nothing_typed_is_reflected_back(client, world):
    marker = "<b>zz-marker-zz</b>"
    response = client.post(page_path(world.agency_a), form_data(contact=marker, contact_kind="email"))
    assert response.status_code == 200
    assert b"zz-marker-zz" not in response.content
    assert b"Give an e-mail address" in response.content


def test_a_filled_honeypot_stores_nothing(client, world):
    before = MemberRequest.objects.count()
    client.post(page_path(world.agency_a), form_data(website="bot"))
    assert MemberRequest.objects.count() == before


def test_one_address_is_held_back_after_five_requests(client, world):
    path = page_path(world.agency_a)
    before = MemberRequest.objects.count()
    answers = {client.post(path, form_data(contact=f"555-010-01{n:02d}")).content for n in range(60, 67)}
    assert MemberRequest.objects.count() == before + 5
    assert len(answers) == 1  # the held-back ones got the same page


def test_the_agency_limit_never_holds_back_an_urgent_request(client, world, monkeypatch):
    from members import views

    monkeypatch.setattr(views, "PER_AGENCY", (0, 3600))
    path = page_path(world.agency_a)
    before = MemberRequest.objects.count()
    client.post(path, form_data(contact="555-010-0170"), REMOTE_ADDR="10.0.0.1")
    client.post(path, form_data(contact="555-010-0171", urgency="now"), REMOTE_ADDR="10.0.0.2")
    assert MemberRequest.objects.count() == before + 1
    assert newest(world.agency_a).urgency == "now"


def test_i_need_help_now_shows_988_before_anything_is_sent_and_is_sent_at_top_priority(client, world):
    page = client.get(page_path(world.agency_a)).content.decode()
    # Server-rendered, under the urgency choice: shown by CSS as soon as "now" is checked (no script needed).
    assert 'value="now"' in page and "muster-crisis--on-choice" in page and 'href="tel:988"' in page
    assert page.index("muster-crisis--on-choice") < page.index('name="contact"')
    services.address_ensure(agency=world.agency_a)
    address = selectors.address_of(world.agency_a)
    address.emergency_resources = "EAP line 555-0100, chaplain on call"
    address.save()
    answer = client.post(page_path(world.agency_a), form_data(urgency="now", contact="555-010-0180")).content.decode()
    assert answer.index("988") < answer.index("Your request is sent")
    assert "EAP line 555-0100" in answer
    row = newest(world.agency_a)
    assert row.urgent and row.priority == 0


def test_urgent_requests_sort_first_in_the_queue(world):
    routine = member_request_submit(world.agency_a, contact="+15550100190", urgency="week")
    urgent = member_request_submit(world.agency_a, contact="+15550100191", urgency="now")
    queue = list(selectors.queue_of_agency(world.agency_a, status="new"))
    assert queue.index(urgent) < queue.index(routine)


def test_a_rotated_address_leads_to_the_moved_page(client, world):
    old = page_path(world.agency_a)
    services.address_rotate(actor=world.a[Role.COORDINATOR], agency=world.agency_a)
    response = client.get(old)
    assert (
        response.status_code == 404
        and b"This request page has moved" in response.content
        and b"988" in response.content
    )
    assert client.get(page_path(world.agency_a)).status_code == 200


def test_the_poster_carries_the_address_as_a_server_drawn_qr_code(client, world):
    client.force_login(world.a[Role.AGENCY_ADMIN])
    page = client.get(agency_url(world.agency_a, "member_request_poster")).content.decode()
    assert "<svg" in page and page_path(world.agency_a) in page


def test_no_member_identity_in_audit_rows(client, world):
    client.post(page_path(world.agency_a), form_data(contact="555-010-0195"), REMOTE_ADDR="203.0.113.9")
    row = newest(world.agency_a)
    event = AuditEvent.objects.filter(action=AuditAction.REQUEST_RECEIVED, object_id=str(row.pk)).get()
    assert event.source_ip is None and event.actor_id is None
    values = " ".join(str(v) for v in AuditEvent.objects.values_list("object_type", "object_id", "action"))
    assert "5550100195" not in values


# --- The queues --------------------------------------------------------------------------------------------------


def detail_page(client, user, agency, row):
    client.force_login(user)
    return client.get(agency_url(agency, "member_request_detail", request_uuid=row.uuid))


def test_the_coordinator_sees_the_contact_only_if_the_member_allowed_it(client, world):
    allowed = member_request_submit(world.agency_a, contact="+15550100201", contact_visible_to="coordinator")
    withheld = member_request_submit(world.agency_a, contact="+15550100202", contact_visible_to="supporter")
    coordinator = world.a[Role.COORDINATOR]
    assert "+15550100201" in detail_page(client, coordinator, world.agency_a, allowed).content.decode()
    page = detail_page(client, coordinator, world.agency_a, withheld).content.decode()
    assert "+15550100202" not in page and "Only the supporter who takes the request sees it" in page
    services.request_assign(
        actor=coordinator, row=withheld, supporter=world.membership(world.agency_a, Role.PEER_SUPPORTER)
    )
    assert (
        "+15550100202" in detail_page(client, world.a[Role.PEER_SUPPORTER], world.agency_a, withheld).content.decode()
    )
    assert "+15550100202" not in detail_page(client, coordinator, world.agency_a, withheld).content.decode()


def test_a_request_for_another_agency_goes_to_the_region_then_to_a_ready_supporter_under_agreement(
    client, world, django_capture_on_commit_callbacks
):
    row = member_request_submit(
        world.agency_a, contact="+15550100210", served_by="other", contact_visible_to="supporter"
    )
    # Not in A's own queue: the North region's coordinators run it.
    assert row not in selectors.queue_of_agency(world.agency_a, status="all")
    client.force_login(world.regional_a)
    page = client.get(f"/network/requests/{row.uuid}/").content.decode()
    assert "+15550100210" not in page
    ready = selectors.ready_supporters(row)
    assert ready and {m.agency_id for m in ready} == {world.agency_b.pk}  # another agency, covered by the agreement
    supporter = world.membership(world.agency_b, Role.PEER_SUPPORTER)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/network/requests/{row.uuid}/", {"supporter": supporter.pk})
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.status, row.assigned_to_id, row.assigned_agency_id) == (
        "assigned",
        supporter.user_id,
        world.agency_b.pk,
    )
    # The supporter's e-mail says a request waits, never who.
    assigned_mail = mail.outbox[-1]
    assert assigned_mail.to == [supporter.user.email] and "5550100210" not in assigned_mail.body
    page = detail_page(client, supporter.user, world.agency_b, row).content.decode()
    assert "+15550100210" in page
    # A's coordinator, B's coordinator and chief: not theirs.
    for user, agency in ((world.a[Role.COORDINATOR], world.agency_a), (world.b[Role.COORDINATOR], world.agency_b)):
        assert detail_page(client, user, agency, row).status_code == 404


def test_taking_a_request_needs_a_supporter_the_roster_says_is_ready(world):
    row = member_request_submit(world.agency_a, contact="+15550100220")
    supporter = world.membership(world.agency_a, Role.PEER_SUPPORTER)
    profile = supporter.profile
    profile.availability = "unavailable"
    profile.save()
    with refused(services.RequestError.NOT_READY):
        services.request_assign(actor=world.a[Role.COORDINATOR], row=row, supporter=supporter)


def test_logging_the_contact_records_a_self_initiated_encounter_linked_to_the_request(client, world):
    row = member_request_submit(world.agency_a, contact="+15550100230", topic="grief", who="retiree")
    supporter = world.a[Role.PEER_SUPPORTER]
    services.request_assign(
        actor=world.a[Role.COORDINATOR], row=row, supporter=world.membership(world.agency_a, Role.PEER_SUPPORTER)
    )
    client.force_login(supporter)
    form = client.get(agency_url(world.agency_a, "encounter_new") + f"?request={row.uuid}")
    assert form.context["form"].initial["initiator"] == "self"
    assert form.context["form"].initial["recipient_relation"] == "retiree"
    response = client.post(
        agency_url(world.agency_a, "encounter_new"),
        encounter_form_data(
            peer_request=str(row.uuid), initiator="self", recipient_relation="retiree", topics=["grief"]
        ),
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.status == "contacted" and row.contacted_at is not None
    with tenant_context(world.agency_a):
        encounter = Encounter.objects.get(member_request_id=row.pk)
        assert encounter.initiator == "self" and encounter.author_id == supporter.pk


def test_someone_else_cannot_log_a_contact_for_a_request_not_given_to_them(client, world):
    row = world.member_request  # given to A's peer supporter
    client.force_login(world.a[Role.COORDINATOR])
    before = MemberRequest.objects.get(pk=row.pk).status
    client.post(agency_url(world.agency_a, "encounter_new"), encounter_form_data(peer_request=str(row.uuid)))
    assert MemberRequest.objects.get(pk=row.pk).status == before
    with tenant_context(world.agency_a):
        assert not Encounter.objects.filter(member_request_id=row.pk).exists()


def test_a_missed_target_escalates_to_the_coordinators_then_the_region_without_member_detail(
    world, django_capture_on_commit_callbacks
):
    row = member_request_submit(world.agency_a, contact="+15550100240", urgency="now")
    asked = row.asked_at
    mail.outbox.clear()
    assert services.requests_escalate(now=asked + datetime.timedelta(minutes=10)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        services.requests_escalate(now=asked + datetime.timedelta(minutes=31))
    coordinators = {m.user.email for m in Membership.objects.filter(agency=world.agency_a, role=Role.COORDINATOR)}
    first = [m for m in mail.outbox if set(m.to) & coordinators]
    assert first and "past its first-contact target" in first[0].subject
    with django_capture_on_commit_callbacks(execute=True):
        services.requests_escalate(now=asked + datetime.timedelta(minutes=61))
    assert any(world.regional_a.email in m.to for m in mail.outbox)
    for message in mail.outbox:
        assert "5550100240" not in message.body and "5550100240" not in message.subject
    row.refresh_from_db()
    assert row.escalated_at and row.escalated_regional_at
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.requests_escalate(now=asked + datetime.timedelta(minutes=200))
    assert not [m for m in mail.outbox if "first-contact" in m.subject]  # each stage once


def test_a_closed_requests_contact_is_destroyed_after_the_retention_window(world):
    row = member_request_submit(world.agency_a, contact="+15550100250")
    stored = raw_contact(row)
    services.request_close(actor=world.a[Role.COORDINATOR], row=row)
    assert services.contacts_destroy_due(now=timezone.now() + datetime.timedelta(days=1)) == 0
    assert services.contacts_destroy_due(now=timezone.now() + datetime.timedelta(days=8)) >= 1
    row.refresh_from_db()
    assert row.contact is None and row.contact_digest == "" and row.contact_destroyed_at
    crypto.forget_cached_keys()
    with pytest.raises(crypto.DecryptionError):  # a backup's copy of the ciphertext is unreadable too
        crypto.decrypt(stored, aad=MemberRequest._meta.get_field("contact").associated_data(row))


# --- Leadership sees no request ----------------------------------------------------------------------------------


def test_chiefs_agency_admins_and_the_state_admin_reach_no_request_answer_or_contact(client, world):
    """Beside the access matrix: their pages never even read the requests, check-ins or answers."""
    tables = re.compile(r"members_memberrequest|encounters_checkin")
    pages = [
        (world.a[Role.CHIEF], agency_url(world.agency_a, "agency_home")),
        (world.a[Role.CHIEF], agency_url(world.agency_a, "agency_dashboard")),
        (world.a[Role.AGENCY_ADMIN], agency_url(world.agency_a, "agency_home")),
        (world.a[Role.AGENCY_ADMIN], agency_url(world.agency_a, "member_request_poster")),
        (world.state_admin, "/network/"),
        (world.state_admin, "/network/dashboard/"),
    ]
    for user, path in pages:
        client.force_login(user)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(path).status_code == 200, path
        read = [q["sql"] for q in queries.captured_queries if tables.search(q["sql"])]
        assert not read, f"{path} read {read[0][:200]}"
    for user, name in (
        (world.a[Role.CHIEF], "member_request_detail"),
        (world.a[Role.AGENCY_ADMIN], "member_request_detail"),
    ):
        client.force_login(user)
        assert client.get(agency_url(world.agency_a, name, request_uuid=world.member_request.uuid)).status_code == 404
    client.force_login(world.state_admin)
    assert client.get(f"/network/requests/{world.cross_request.uuid}/").status_code == 404


# --- Check-ins ---------------------------------------------------------------------------------------------------


def encounter_with_checkins(world, *, occurred_on=None):
    return log_encounter(
        world.agency_a,
        author=world.a[Role.PEER_SUPPORTER],
        checkin_contact="member@example.net",
        occurred_on=occurred_on or timezone.localdate() - datetime.timedelta(days=8),
    )


def plan_of(world, encounter) -> CheckInPlan:
    with tenant_context(world.agency_a):
        return CheckInPlan.objects.prefetch_related("checkins").get(encounter=encounter)


def checkin_link(world, encounter, capture) -> str:
    mail.outbox.clear()
    with capture(execute=True):
        maintenance.checkins_send_due(agency=world.agency_a)
    (message,) = [m for m in mail.outbox if m.to == ["member@example.net"]]
    return re.search(r"https?://[^/\s]+(/c/\S+/)", message.body).group(1)


def test_a_member_who_agrees_gets_check_ins_on_the_policys_schedule(world, django_capture_on_commit_callbacks):
    encounter = encounter_with_checkins(world)
    plan = plan_of(world, encounter)
    assert [c.due_on - encounter.occurred_on for c in plan.checkins.all()] == [
        datetime.timedelta(days=d) for d in (7, 30, 90)
    ]
    assert plan.channel == "email"
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert maintenance.checkins_send_due(agency=world.agency_a) == 1  # day 7 is due, 30 and 90 are not
    (message,) = mail.outbox
    assert message.to == ["member@example.net"] and "How are you doing" in message.body
    assert maintenance.checkins_send_due(agency=world.agency_a) == 0  # once


def test_opening_the_link_records_nothing_and_i_would_like_a_call_becomes_the_supporters_follow_up(
    client, world, django_capture_on_commit_callbacks
):
    encounter = encounter_with_checkins(world)
    path = checkin_link(world, encounter, django_capture_on_commit_callbacks)
    page = client.get(path)
    assert page.status_code == 200 and b"I&#x27;d like a call" in page.content
    with tenant_context(world.agency_a):
        assert not CheckIn.objects.filter(plan__encounter=encounter).exclude(answer="").exists()
    client.post(path, {"answer": "call"})
    with tenant_context(world.agency_a):
        answered = CheckIn.objects.get(plan__encounter=encounter, answer="call")
        follow_up = FollowUp.objects.get(pk=answered.follow_up_id)
        assert follow_up.owner_id == world.a[Role.PEER_SUPPORTER].pk and follow_up.due_on == timezone.localdate()
    client.force_login(world.a[Role.PEER_SUPPORTER])
    follow_ups = client.get(agency_url(world.agency_a, "followup_list")).content.decode()
    assert str(encounter.uuid) in follow_ups and "check-in: the member would like a call" in follow_ups
    client.force_login(world.a[Role.COORDINATOR])  # the team's list shows the follow-up, not the answer
    team = client.get(agency_url(world.agency_a, "followup_list")).content.decode()
    assert "check-in: the member" not in team


def test_i_need_help_now_shows_crisis_resources_and_alerts_the_supporter_and_coordinators(
    client, world, django_capture_on_commit_callbacks
):
    encounter = encounter_with_checkins(world)
    path = checkin_link(world, encounter, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(path, {"answer": "help"}).content.decode()
    assert 'href="tel:988"' in page
    (alert,) = mail.outbox
    assert world.a[Role.PEER_SUPPORTER].email in alert.to and world.a[Role.COORDINATOR].email in alert.to
    assert "member@example.net" not in alert.body


def test_one_tap_stops_every_check_in_and_destroys_the_contact(client, world, django_capture_on_commit_callbacks):
    encounter = encounter_with_checkins(world)
    path = checkin_link(world, encounter, django_capture_on_commit_callbacks)
    client.post(path, {"stop": "all"})
    plan = plan_of(world, encounter)
    assert plan.ended_at and plan.stopped_by_member and plan.contact is None and plan.contact_destroyed_at
    assert not DataKey.objects.filter(subject=plan.uuid, destroyed_at__isnull=True).exists()
    mail.outbox.clear()
    maintenance.checkins_send_due(agency=world.agency_a, today=timezone.localdate() + datetime.timedelta(days=100))
    assert not [m for m in mail.outbox if m.to == ["member@example.net"]]


def test_the_answers_are_shown_to_the_members_supporter_only(client, world, django_capture_on_commit_callbacks):
    encounter = encounter_with_checkins(world)
    client.post(checkin_link(world, encounter, django_capture_on_commit_callbacks), {"answer": "ok"})
    url = agency_url(world.agency_a, "encounter_detail", encounter_uuid=encounter.uuid)
    client.force_login(world.a[Role.PEER_SUPPORTER])
    assert "I&#x27;m OK" in client.get(url).content.decode()
    client.force_login(world.a[Role.COORDINATOR])
    assert "I&#x27;m OK" not in client.get(url).content.decode()


def test_a_made_up_or_altered_check_in_link_shows_the_neutral_page(client, world, django_capture_on_commit_callbacks):
    encounter = encounter_with_checkins(world)
    path = checkin_link(world, encounter, django_capture_on_commit_callbacks)
    assert client.get(path[:-3] + "xx/").status_code == 404
    assert client.post("/c/not-a-token/", {"answer": "ok"}).status_code == 404


def test_encounter_service_refuses_a_request_not_given_to_the_author(world):
    with pytest.raises(Exception):  # noqa: B017 - ValidationError from the service
        log_encounter(world.agency_a, author=world.a[Role.COORDINATOR], member_request=world.member_request)
    assert encounter_services  # the service above is the one the form calls


# --- Leadership figures --------------------------------------------------------------------------------------------


def test_leadership_sees_counts_only_published_once_with_suppression(client, world):
    """Requests by period, time to first contact and check-ins answered go through the same publication (lag,
    suppression) as every other leadership figure."""
    from network.models import Network
    from reporting import services as reporting_services
    from reporting.models import PeriodKind, PublishedFigure
    from tests.support import grow_roster, joined

    network = Network.objects.get(pk=world.network_id)
    october = datetime.date(2026, 10, 1)
    joined(world.agency_a, datetime.date(2026, 7, 1))
    joined(world.agency_b, datetime.date(2026, 7, 1))
    grow_roster(world.agency_a, 8)  # publishes by month
    asked = timezone.make_aware(datetime.datetime(2026, 10, 14, 9, 0))
    for n in range(7):
        row = member_request_submit(world.agency_a, contact=f"+1555010{400 + n}")
        contacted = asked + datetime.timedelta(minutes=40) if n < 6 else None
        MemberRequest.objects.filter(pk=row.pk).update(asked_at=asked, last_asked_at=asked, contacted_at=contacted)
    row = member_request_submit(world.agency_b, contact="+15550100499")
    MemberRequest.objects.filter(pk=row.pk).update(asked_at=asked, last_asked_at=asked)

    reporting_services.publication_publish_due(network=network, today=datetime.date(2026, 11, 6))  # not yet due
    assert not PublishedFigure.objects.filter(publication__period_start=october, table="members").exists()
    reporting_services.publication_publish_due(network=network, today=datetime.date(2026, 11, 20))

    def value(agency, key):
        return PublishedFigure.objects.get(
            agency=agency,
            publication__period_kind=PeriodKind.MONTH,
            publication__period_start=october,
            table="members",
            key=key,
        ).value

    assert value(world.agency_a, "requests") == 7
    assert value(world.agency_a, "contacted") == 6
    assert value(world.agency_a, "median_minutes") == 40
    assert value(world.agency_a, "checkins_sent") == 0
    client.force_login(world.a[Role.CHIEF])
    page = client.get(agency_url(world.agency_a, "agency_dashboard")).content.decode()
    assert "Members&#x27; requests and check-ins" in page or "Members' requests and check-ins" in page
    assert "+1555010" not in page


def test_an_agency_leaving_the_network_takes_its_members_contacts_with_it(world):
    """Offboarding drops the schema and shreds the agency's key; the requests' and check-in plans' own keys
    are shredded with them, so no backup taken before can be read for a member's contact."""
    from django.db import transaction

    from agencies import offboarding
    from agencies import services as agency_services
    from tests.support import make_agency, make_user

    agency = make_agency(
        actor=world.state_admin, network=world.agency_a.network, region=world.agency_a.region, slug="leaving-ems"
    )
    row = member_request_submit(agency, contact="+15550100500")
    user = make_user("leaving.coordinator@test.example")
    agency_services.membership_add(actor=world.state_admin, user=user, agency=agency, role=Role.COORDINATOR)
    encounter = log_encounter(agency, author=user, checkin_contact="leaving.member@example.net")
    with tenant_context(agency):
        plan = CheckInPlan.objects.get(encounter=encounter)
    assert DataKey.objects.filter(subject__in=[row.uuid, plan.uuid], destroyed_at__isnull=True).count() == 2
    with connection.cursor() as cursor:  # the test's own inserts are checked now, as their commit would
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with transaction.atomic():
        offboarding._shred(agency)
    assert not DataKey.objects.filter(subject__in=[row.uuid, plan.uuid], destroyed_at__isnull=True).exists()
    row.refresh_from_db()
    assert row.contact is None and row.contact_destroyed_at


def test_the_first_contact_targets_are_network_policy_settings(client, world):
    from network.models import Network
    from network.selectors import policy_for

    network = Network.objects.get(pk=world.network_id)
    client.force_login(world.state_admin)
    page = client.get("/network/policy/").content.decode()
    assert 'name="request_first_contact_hours"' in page and 'value="4"' in page
    form = {
        name: value
        for name, value in client.get("/network/policy/").context["form"].initial.items()
        if name not in ("checkin_days",) and value is not None
    }
    form.update(notes_enabled="on" if form.pop("notes_enabled") else "", request_urgent_first_contact_minutes=20)
    assert client.post("/network/policy/", form).status_code == 302
    assert policy_for(network).request_urgent_first_contact_minutes == 20
    row = member_request_submit(world.agency_a, contact="+15550100600", urgency="now")
    assert selectors.first_contact_due_at(row, policy_for(network)) == row.asked_at + datetime.timedelta(minutes=20)
