"""Logging encounters, who sees what, follow-ups, disclosures, reminders and the retention purge."""

import datetime
import re
import uuid

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from activations.models import Activation
from agencies.models import Role
from encounters import maintenance
from encounters.models import DisclosureRecord, Encounter, FollowUp
from network import selectors, standards
from network.audit import AuditAction
from network.models import AuditEvent, Network, Vocabulary
from tests.support import WORLD_NOTE, agency_url, encounter_form_data, follow_up_of, log_encounter, refreshed

pytestmark = pytest.mark.django_db


def count_encounters(agency) -> int:
    with tenant_context(agency):
        return Encounter.objects.count()


# --- Logging --------------------------------------------------------------------------------------


def test_new_encounter_form_defaults_to_today_and_the_agencys_discipline(client, world):
    client.force_login(world.a[Role.PEER_SUPPORTER])
    page = client.get(agency_url(world.agency_a, "encounter_new")).content.decode()
    assert f'value="{timezone.localdate().isoformat()}"' in page
    assert re.search(r'name="recipient_discipline" value="fire"[^>]*checked', page)
    assert re.search(r'name="referral" value="none"[^>]*checked', page)
    field_names = set(re.findall(r'name="([a-z_]+)"', page))
    assert not {n for n in field_names if "name" in n or "member" in n}, "there must be no field for the member"
    assert 'name="notes"' in page  # the test network turned notes on


def test_supporter_logs_an_encounter_with_a_follow_up_and_it_is_audited(client, world):
    client.force_login(world.a[Role.PEER_SUPPORTER])
    before = count_encounters(world.agency_a)
    due = (timezone.localdate() + datetime.timedelta(days=3)).isoformat()
    response = client.post(
        agency_url(world.agency_a, "encounter_new"), encounter_form_data(follow_up_due_on=due, notes="Check on sleep.")
    )
    assert response.status_code == 302
    assert count_encounters(world.agency_a) == before + 1
    with tenant_context(world.agency_a):
        encounter = Encounter.objects.latest("created_at")
        assert encounter.notes == "Check on sleep."
        assert encounter.topics == ["critical-incident"]
        assert encounter.follow_ups.get().owner == world.a[Role.PEER_SUPPORTER]
        assert encounter.standard.version == 1
    assert AuditEvent.objects.filter(action=AuditAction.ENCOUNTER_LOGGED, object_id=str(encounter.pk)).exists()


def test_a_double_tap_saves_one_encounter(client, world):
    client.force_login(world.a[Role.PEER_SUPPORTER])
    data = encounter_form_data()
    before = count_encounters(world.agency_a)
    first = client.post(agency_url(world.agency_a, "encounter_new"), data)
    second = client.post(agency_url(world.agency_a, "encounter_new"), data, follow=True)
    assert first.status_code == 302
    assert "was not saved twice" in second.content.decode()
    assert count_encounters(world.agency_a) == before + 1


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"occurred_on": (timezone.localdate() + datetime.timedelta(days=1)).isoformat()}, "cannot be in the future"),
        ({"contact_mode": "carrier-pigeon"}, "Select a valid choice"),
        ({"topics": ["critical-incident", "made-up"]}, "Select a valid choice"),
        ({"topics": []}, "This field is required"),
        ({"confidentiality_notice": ""}, "This field is required"),
        ({"visit_number": "77"}, "Select a valid choice"),
        ({"occurred_on": "not-a-date"}, "Enter a valid date"),
        ({"submission_key": "tampered"}, "This form was altered or is out of date"),
        ({"referral": "clinician"}, "Choose the team clinician"),
    ],
)
def test_bad_or_tampered_input_gets_a_clear_message_and_saves_nothing(client, world, overrides, message):
    client.force_login(world.a[Role.PEER_SUPPORTER])
    before = count_encounters(world.agency_a)
    response = client.post(agency_url(world.agency_a, "encounter_new"), encounter_form_data(**overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert count_encounters(world.agency_a) == before


def test_the_form_offers_other_supporters_as_co_supporters_and_only_clinicians_for_a_referral(client, world):
    """Both lists come from one statement (encounters/forms.py EncounterForm.offers): each must still hold only its
    own people, of this agency, and never the author as their own co-supporter."""
    me = world.a[Role.PEER_SUPPORTER]
    client.force_login(me)
    page = client.get(agency_url(world.agency_a, "encounter_new")).content.decode()
    co_supporters = set(re.findall(r'name="co_supporters" value="(\d+)"', page))
    select = re.search(r'<select name="referred_to".*?</select>', page, re.S).group(0)
    clinicians = set(re.findall(r'<option value="(\d+)"', select))
    assert str(world.a[Role.COORDINATOR].pk) in co_supporters
    assert str(me.pk) not in co_supporters
    assert clinicians == {str(world.a[Role.CLINICIAN].pk)}
    assert str(world.a[Role.CLINICIAN].pk) not in co_supporters
    outsiders = {str(world.b[role].pk) for role in (Role.PEER_SUPPORTER, Role.CLINICIAN)}
    assert not outsiders & (co_supporters | clinicians)


def test_another_agencys_member_cannot_be_a_co_supporter(client, world):
    client.force_login(world.a[Role.PEER_SUPPORTER])
    response = client.post(
        agency_url(world.agency_a, "encounter_new"),
        encounter_form_data(co_supporters=[world.b[Role.PEER_SUPPORTER].pk]),
    )
    assert "Select a valid choice" in response.content.decode()


def test_notes_are_refused_when_the_network_turns_them_off(client, world):
    network = Network.objects.get(pk=world.network_id)
    standards.policy_update(actor=world.state_admin, network=network, notes_enabled=False)
    client.force_login(world.a[Role.PEER_SUPPORTER])
    assert 'name="notes"' not in client.get(agency_url(world.agency_a, "encounter_new")).content.decode()
    response = client.post(
        agency_url(world.agency_a, "encounter_new"), encounter_form_data(notes="should not be stored")
    )
    assert response.status_code == 302
    with tenant_context(world.agency_a):
        assert Encounter.objects.latest("created_at").notes is None


def test_escalation_leads_straight_to_the_disclosure_record(client, world):
    client.force_login(world.a[Role.PEER_SUPPORTER])
    response = client.post(agency_url(world.agency_a, "encounter_new"), encounter_form_data(escalation="on"))
    assert "/disclosure/" in response["Location"]


def test_encounters_keep_the_standard_version_they_were_logged_under(client, world):
    network = Network.objects.get(pk=world.network_id)
    v1 = selectors.standard_current(network)
    terms = {v: [(t.code, t.label, t.concept) for t in ts] for v, ts in selectors.terms_by_vocabulary(v1).items()}
    terms[Vocabulary.CONTACT_MODE] = [("face-to-face", "Face to face", "in-person"), ("phone", "Phone")]
    v2 = standards.standard_publish(actor=world.state_admin, network=network, terms=terms)
    with tenant_context(world.agency_a):
        assert Encounter.objects.get(pk=world.encounter.pk).standard == v1
    client.force_login(world.a[Role.PEER_SUPPORTER])
    client.post(agency_url(world.agency_a, "encounter_new"), encounter_form_data(contact_mode="face-to-face"))
    with tenant_context(world.agency_a):
        newest = Encounter.objects.latest("created_at")
        assert (newest.standard, newest.contact_mode) == (v2, "face-to-face")
        assert v2.terms.get(vocabulary=Vocabulary.CONTACT_MODE, code="face-to-face").concept == "in-person"
    response = client.post(agency_url(world.agency_a, "encounter_new"), encounter_form_data(contact_mode="in-person"))
    assert "Select a valid choice" in response.content.decode()  # a retired code is refused


# --- Who sees what -----------------------------------------------------------------------------------


def detail(client, world, user):
    client.force_login(user)
    return client.get(agency_url(world.agency_a, "encounter_detail", encounter_uuid=world.encounter.uuid))


def test_author_sees_the_full_encounter_with_notes(client, world):
    page = detail(client, world, world.a[Role.PEER_SUPPORTER]).content.decode()
    assert WORLD_NOTE.split(";")[0] in page


def test_co_supporter_sees_the_notes_too(client, world):
    encounter = log_encounter(
        world.agency_a, author=world.a[Role.COORDINATOR], notes="shared note", co_supporters=[world.two_agency_user]
    )
    client.force_login(world.two_agency_user)
    page = client.get(agency_url(world.agency_a, "encounter_detail", encounter_uuid=encounter.uuid)).content.decode()
    assert "shared note" in page


def test_coordinator_sees_coded_fields_and_follow_up_status_but_never_notes(client, world):
    response = detail(client, world, world.a[Role.COORDINATOR])
    page = response.content.decode()
    assert response.status_code == 200
    assert "Work stress" in page and "Open" in page
    assert "night shift" not in page


def test_clinician_sees_only_referrals_addressed_to_them(client, world):
    assert detail(client, world, world.a[Role.CLINICIAN]).status_code == 200
    assert "night shift" not in detail(client, world, world.a[Role.CLINICIAN]).content.decode()
    unreferred = log_encounter(world.agency_a, author=world.a[Role.PEER_SUPPORTER])
    client.force_login(world.a[Role.CLINICIAN])
    assert client.get(agency_url(world.agency_a, "encounter_detail", encounter_uuid=unreferred.uuid)).status_code == 404
    listing = client.get(agency_url(world.agency_a, "encounter_list")).content.decode()
    assert str(world.encounter.uuid) in listing and str(unreferred.uuid) not in listing


def test_another_peer_supporter_of_the_same_agency_cannot_open_it(client, world):
    assert detail(client, world, world.two_agency_user).status_code == 404


def test_chief_and_agency_admin_see_no_encounter_rows(client, world):
    for role in (Role.CHIEF, Role.AGENCY_ADMIN):
        assert detail(client, world, world.a[role]).status_code == 404
        assert client.get(agency_url(world.agency_a, "encounter_list")).status_code == 404
        home = client.get(agency_url(world.agency_a, "agency_home")).content.decode()
        assert str(world.encounter.uuid) not in home


def test_another_agency_sees_nothing(client, world):
    client.force_login(world.b[Role.COORDINATOR])
    assert (
        client.get(agency_url(world.agency_b, "encounter_detail", encounter_uuid=world.encounter.uuid)).status_code
        == 404
    )
    assert str(world.encounter.uuid) not in client.get(agency_url(world.agency_b, "encounter_list")).content.decode()


def test_viewing_an_encounter_is_audited_and_marked_no_store(client, world):
    response = detail(client, world, world.a[Role.COORDINATOR])
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert AuditEvent.objects.filter(
        action=AuditAction.ENCOUNTER_VIEWED, actor=world.a[Role.COORDINATOR], object_id=str(world.encounter.pk)
    ).exists()


# --- Follow-ups ----------------------------------------------------------------------------------------


def test_my_follow_ups_lists_overdue_first_and_completing_records_the_outcome(client, world):
    supporter = world.a[Role.PEER_SUPPORTER]
    log_encounter(world.agency_a, author=supporter, follow_up_due_on=timezone.localdate() + datetime.timedelta(5))
    old = log_encounter(
        world.agency_a,
        author=supporter,
        occurred_on=timezone.localdate() - datetime.timedelta(10),
        follow_up_due_on=timezone.localdate() - datetime.timedelta(days=2),
    )
    overdue = follow_up_of(world.agency_a, old)
    client.force_login(supporter)
    page = client.get(agency_url(world.agency_a, "followup_list")).content.decode()
    assert page.index("Overdue") < page.index("Due today") < page.index("Coming up")
    client.post(agency_url(world.agency_a, "followup_complete", follow_up_uuid=overdue.uuid), {"outcome": "contacted"})
    refreshed(world.agency_a, overdue)
    assert (overdue.status, overdue.outcome) == (FollowUp.Status.DONE, "contacted")
    assert overdue.completed_at is not None


def test_completing_without_an_outcome_is_explained(client, world):
    client.force_login(world.a[Role.PEER_SUPPORTER])
    response = client.post(
        agency_url(world.agency_a, "followup_complete", follow_up_uuid=world.follow_up.uuid), {}, follow=True
    )
    assert "Choose an outcome" in response.content.decode()


def test_coordinator_reassigns_a_follow_up_and_a_stranger_cannot_complete_it(client, world):
    client.force_login(world.a[Role.COORDINATOR])
    client.post(
        agency_url(world.agency_a, "followup_reassign", follow_up_uuid=world.follow_up.uuid),
        {"owner": world.two_agency_user.pk},
    )
    with tenant_context(world.agency_a):
        assert FollowUp.objects.get(pk=world.follow_up.pk).owner == world.two_agency_user
    client.force_login(world.a[Role.PEER_SUPPORTER])  # no longer the owner, not a coordinator
    response = client.post(
        agency_url(world.agency_a, "followup_complete", follow_up_uuid=world.follow_up.uuid), {"outcome": "contacted"}
    )
    assert response.status_code == 404


def test_reminders_go_once_to_owners_and_overdue_follow_ups_escalate_to_coordinators(world):
    supporter = world.a[Role.PEER_SUPPORTER]
    today = timezone.localdate()
    soon = log_encounter(world.agency_a, author=supporter, follow_up_due_on=today + datetime.timedelta(days=1))
    late = log_encounter(
        world.agency_a,
        author=supporter,
        occurred_on=today - datetime.timedelta(days=9),
        follow_up_due_on=today - datetime.timedelta(days=1),
    )
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        maintenance.follow_up_reminders_send(agency=world.agency_a)
    assert follow_up_of(world.agency_a, soon).reminded_at is not None
    assert follow_up_of(world.agency_a, late).escalated_at is not None
    assert maintenance.follow_up_reminders_send(agency=world.agency_a) == {"reminded": 0, "escalated": 0}
    reminders = [m for m in mail.outbox if m.to == [supporter.email]]
    escalations = [m for m in mail.outbox if m.to == [world.a[Role.COORDINATOR].email]]
    assert any((today + datetime.timedelta(days=1)).isoformat() in m.subject for m in reminders)
    assert len(escalations) == 1 and "overdue" in escalations[0].subject
    for message in mail.outbox:
        assert "night shift" not in message.body and "Work stress" not in message.body


def test_beat_schedules_the_reminder_and_purge_tasks_daily(settings):
    from config.celery import app

    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"encounters.tasks.follow_up_reminders_task", "encounters.tasks.notes_purge_task"} <= tasks
    app.loader.import_default_modules()
    assert tasks <= set(app.tasks)


# --- Disclosures -----------------------------------------------------------------------------------------


def test_disclosures_are_visible_to_coordinator_and_clinician_only_and_every_view_is_audited(client, world):
    path = agency_url(world.agency_a, "disclosure_detail", disclosure_uuid=world.disclosure.uuid)
    for role in (Role.COORDINATOR, Role.CLINICIAN):
        client.force_login(world.a[role])
        assert client.get(path).status_code == 200
        assert AuditEvent.objects.filter(
            action=AuditAction.DISCLOSURE_VIEWED, actor=world.a[role], object_id=str(world.disclosure.pk)
        ).exists()
    for role in (Role.PEER_SUPPORTER, Role.CHIEF, Role.AGENCY_ADMIN):
        client.force_login(world.a[role])
        assert client.get(path).status_code == 404


def test_disclosure_form_records_exception_time_parties_and_notice_date(client, world):
    encounter = log_encounter(world.agency_a, author=world.a[Role.PEER_SUPPORTER], escalation=True)
    client.force_login(world.a[Role.PEER_SUPPORTER])
    path = agency_url(world.agency_a, "encounter_disclosure_new", encounter_uuid=encounter.uuid)
    bad = client.post(path, {"exception": "gossip", "disclosed_at": "2026-01-01T10:00", "notified": []})
    assert "Select a valid choice" in bad.content.decode()
    client.post(
        path,
        {
            "exception": "harm-to-others",
            "disclosed_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "notified": ["law-enforcement", "clinician"],
        },
    )
    with tenant_context(world.agency_a):
        record = DisclosureRecord.objects.get(encounter=encounter)
    assert record.notified == ["law-enforcement", "clinician"] and record.written_notice_sent_on is None
    client.force_login(world.a[Role.COORDINATOR])
    client.post(
        agency_url(world.agency_a, "disclosure_detail", disclosure_uuid=record.uuid),
        {"written_notice_sent_on": timezone.localdate().isoformat()},
    )
    refreshed(world.agency_a, record)
    assert record.written_notice_sent_on == timezone.localdate()


# --- Retention -------------------------------------------------------------------------------------------


def test_notes_are_purged_after_follow_ups_close_plus_retention_unless_on_legal_hold(world):
    supporter = world.a[Role.PEER_SUPPORTER]
    network = Network.objects.get(pk=world.network_id)
    retention = selectors.policy_for(network).notes_retention_days
    with tenant_context(world.agency_a):
        closed = log_encounter(
            world.agency_a, author=supporter, notes="purge me", follow_up_due_on=timezone.localdate()
        )
        FollowUp.objects.filter(encounter=closed).update(
            status=FollowUp.Status.DONE, completed_at=timezone.now() - datetime.timedelta(days=retention + 1)
        )
        held = log_encounter(world.agency_a, author=supporter, notes="keep me: hold")
        Encounter.objects.filter(pk=held.pk).update(
            legal_hold=True, created_at=timezone.now() - datetime.timedelta(400)
        )
        recent = log_encounter(world.agency_a, author=supporter, notes="too recent")
        later = timezone.now() + datetime.timedelta(hours=1)
        maintenance.notes_purge(agency=world.agency_a, now=later)
        assert Encounter.objects.get(pk=closed.pk).notes is None
        assert Encounter.objects.get(pk=closed.pk).notes_purged_at is not None
        assert Encounter.objects.get(pk=held.pk).notes == "keep me: hold"
        assert Encounter.objects.get(pk=recent.pk).notes == "too recent"
        assert Encounter.objects.get(pk=world.encounter.pk).notes == WORLD_NOTE  # its follow-up is still open
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM encounters_encounter WHERE id = %s", [closed.pk])
            assert cursor.fetchone()[0] == 1  # counts stay: only the notes go
    assert AuditEvent.objects.filter(action=AuditAction.NOTES_PURGED, object_id=str(closed.pk)).exists()


GARBAGE = ["", " ", "\x00", "a" * 5000, "<script>alert(1)</script>", "0", "-1", "9" * 30, "2026-13-45", "💥", "null"]


@pytest.mark.parametrize(
    "field", list(encounter_form_data().keys()) + ["co_supporters", "referred_to", "notes", "escalation"]
)
def test_garbage_in_any_field_never_causes_a_server_error(client, world, field):
    client.force_login(world.a[Role.PEER_SUPPORTER])
    before = count_encounters(world.agency_a)
    saved = 0
    for value in GARBAGE + [GARBAGE]:  # the last one sends every garbage value as a list
        response = client.post(agency_url(world.agency_a, "encounter_new"), encounter_form_data(**{field: value}))
        assert response.status_code in (200, 302), (field, value, response.status_code)
        saved += response.status_code == 302
    assert count_encounters(world.agency_a) == before + saved


def test_an_encounter_can_be_linked_to_an_open_activation_of_the_agency(client, world):
    client.force_login(world.a[Role.PEER_SUPPORTER])
    page = client.get(agency_url(world.agency_a, "encounter_new")).content.decode()
    assert "Warehouse fire" in page
    response = client.post(
        agency_url(world.agency_a, "encounter_new"), encounter_form_data(activation=str(world.activation.pk))
    )
    assert response.status_code == 302
    with tenant_context(world.agency_a):
        assert Encounter.objects.latest("created_at").activation == world.activation


def test_another_agencys_or_a_closed_activation_is_refused(client, world):
    from activations import services as activation_services

    b_activation = activation_services.activation_open(
        actor=world.b[Role.COORDINATOR],
        lead_agency=world.agency_b,
        incident_type="other",
        name="B only",
        occurred_at=timezone.now(),
        location="B town",
    )
    client.force_login(world.a[Role.PEER_SUPPORTER])
    before = count_encounters(world.agency_a)
    page = client.post(
        agency_url(world.agency_a, "encounter_new"), encounter_form_data(activation=str(b_activation.pk))
    ).content.decode()
    assert "Select a valid choice" in page
    activation_services.activation_close(
        actor=world.a[Role.COORDINATOR], activation=Activation.objects.get(pk=world.activation.pk)
    )
    page = client.post(
        agency_url(world.agency_a, "encounter_new"), encounter_form_data(activation=str(world.activation.pk))
    ).content.decode()
    assert "Select a valid choice" in page
    assert count_encounters(world.agency_a) == before


def test_clinicians_read_disclosures_but_only_coordinators_record_the_notice_date_once(client, world):
    path = agency_url(world.agency_a, "disclosure_detail", disclosure_uuid=world.disclosure.uuid)
    client.force_login(world.a[Role.CLINICIAN])
    assert client.post(path, {"written_notice_sent_on": timezone.localdate().isoformat()}).status_code == 404
    client.force_login(world.a[Role.COORDINATOR])
    client.post(path, {"written_notice_sent_on": timezone.localdate().isoformat()})
    assert client.post(path, {"written_notice_sent_on": timezone.localdate().isoformat()}).status_code == 404
    assert AuditEvent.objects.filter(action=AuditAction.DISCLOSURE_NOTICE_RECORDED).count() == 1


def test_overdue_follow_ups_wait_for_a_coordinator_before_they_count_as_escalated(world):
    from agencies.services import membership_set_role

    coordinator = world.membership(world.agency_a, Role.COORDINATOR)
    membership_set_role(actor=world.a[Role.AGENCY_ADMIN], membership=coordinator, role=Role.PEER_SUPPORTER)
    late = log_encounter(
        world.agency_a,
        author=world.a[Role.PEER_SUPPORTER],
        occurred_on=timezone.localdate() - datetime.timedelta(5),
        follow_up_due_on=timezone.localdate() - datetime.timedelta(days=1),
    )
    assert maintenance.follow_up_reminders_send(agency=world.agency_a)["escalated"] == 0
    assert follow_up_of(world.agency_a, late).escalated_at is None


def test_a_reassigned_follow_up_owner_can_open_the_encounter_without_its_notes(client, world):
    client.force_login(world.a[Role.COORDINATOR])
    client.post(
        agency_url(world.agency_a, "followup_reassign", follow_up_uuid=world.follow_up.uuid),
        {"owner": world.two_agency_user.pk},
    )
    client.force_login(world.two_agency_user)
    response = client.get(agency_url(world.agency_a, "encounter_detail", encounter_uuid=world.encounter.uuid))
    assert response.status_code == 200 and "night shift" not in response.content.decode()


# --- Issue 13: activation contacts, activation follow-ups, the form on a bad night ---------------------------


def scheduled_member(world, *, supporter, supporter_agency):
    """A member of agency A (fire) in an activation with a 7/30/90-day protocol, held by `supporter` through
    `supporter_agency`; all through the real services."""
    from activations import services as activation_services
    from governance import services as governance_services
    from tests.support import open_activation

    governance_services.protocol_save(
        actor=world.state_admin,
        network=world.agency_a.network,
        incident_type="lodd",
        name="Line-of-duty death",
        steps=[],
        follow_up_days=[7, 30, 90],
    )
    activation = open_activation(world, incident_type="lodd", name="Engine 4 loss", participating=[world.agency_b])
    (target,) = activation_services.targets_add(
        actor=world.a[Role.COORDINATOR],
        activation=activation,
        home_agency=world.agency_a,
        entries=[("Robin Hydrant", "engineer")],
        exposure="direct",
    )
    target = activation_services.target_assign(
        actor=world.a[Role.COORDINATOR], target=target, supporter=supporter, expected_supporter_id=None
    )
    assert target.assigned_agency == supporter_agency
    return target


def test_activation_contact_form_is_prefilled_from_the_member_and_shows_its_activation(client, world):
    supporter = world.b[Role.PEER_SUPPORTER]  # a police supporter, the member is a fire engineer
    target = scheduled_member(world, supporter=supporter, supporter_agency=world.agency_b)
    client.force_login(supporter)
    page = client.get(agency_url(world.agency_b, "encounter_new") + f"?outreach={target.uuid}").content.decode()
    assert re.search(r'name="recipient_relation" value="other-agency"[^>]*checked', page)
    assert re.search(r'name="recipient_discipline" value="fire"[^>]*checked', page)
    assert re.search(r'name="role_class" value="firefighter-ems"[^>]*checked', page)
    assert not re.search(r'name="role_class" value="sworn"[^>]*checked', page)
    assert re.search(rf'<option value="{target.activation.pk}" selected>Engine 4 loss', page)
    data = encounter_form_data(
        outreach_target=str(target.uuid),
        initiator="activation",
        recipient_relation="other-agency",
        recipient_discipline="fire",
        role_class="firefighter-ems",
    )
    saved = client.post(agency_url(world.agency_b, "encounter_new") + f"?outreach={target.uuid}", data, follow=True)
    with tenant_context(world.agency_b):
        encounter = Encounter.objects.get(submission_key=data["submission_key"])
    assert encounter.activation_id == target.activation_id and encounter.outreach_target_id == target.pk
    assert f'href="/activations/{target.activation.uuid}/"' in saved.content.decode()  # back to the activation


def test_my_follow_ups_and_the_home_count_include_the_activation_schedule_in_due_order(client, world):
    supporter = world.a[Role.PEER_SUPPORTER]
    target = scheduled_member(world, supporter=supporter, supporter_agency=world.agency_a)
    client.force_login(supporter)
    page = client.get(agency_url(world.agency_a, "followup_list")).content.decode()
    world_due = f"Due {world.follow_up.due_on:%Y-%m-%d}"
    scheduled = [f"Due {f.due_on:%Y-%m-%d}</strong> · {f.days_after}-day" for f in target.follow_ups.all()]
    assert all(s in page for s in scheduled), "the 7/30/90-day follow-ups are missing from My follow-ups"
    positions = [page.index(world_due)] + [page.index(s) for s in scheduled]
    assert positions == sorted(positions)
    home = client.get(agency_url(world.agency_a, "agency_home")).content.decode()
    assert re.search(r"My follow-ups</a>: 4 open", home), "1 agency follow-up + 3 scheduled ones"


def test_a_scheduled_follow_up_is_done_from_my_follow_ups_after_the_contact_and_only_by_its_supporter(client, world):
    from activations import services as activation_services

    supporter = world.a[Role.PEER_SUPPORTER]
    target = scheduled_member(world, supporter=supporter, supporter_agency=world.agency_a)
    seven = target.follow_ups.get(days_after=7)
    done_url = agency_url(world.agency_a, "followup_scheduled_done", follow_up_id=seven.pk)
    client.force_login(world.a[Role.COORDINATOR])  # not theirs: another supporter's member
    assert client.post(done_url).status_code == 404
    client.force_login(world.b[Role.PEER_SUPPORTER])
    assert client.post(agency_url(world.agency_b, "followup_scheduled_done", follow_up_id=seven.pk)).status_code == 404
    client.force_login(supporter)
    refused = client.post(done_url, follow=True).content.decode()
    assert "Log the first contact" in refused
    seven.refresh_from_db()
    assert seven.done_at is None
    activation_services.outreach_contact_logged(
        actor=supporter, agency=world.agency_a, target=target, referred=False, follow_up_due_on=None
    )
    client.post(done_url)
    seven.refresh_from_db()
    assert seven.done_by == supporter and seven.done_at is not None


def test_scheduled_follow_ups_are_reminded_and_escalated_once_without_the_members_name(world):
    from django.test import TestCase

    supporter = world.a[Role.PEER_SUPPORTER]
    target = scheduled_member(world, supporter=supporter, supporter_agency=world.agency_a)
    seven = target.follow_ups.get(days_after=7)
    with TestCase.captureOnCommitCallbacks(execute=True):
        maintenance.follow_up_reminders_send(agency=world.agency_a, today=seven.due_on - datetime.timedelta(1))
    seven.refresh_from_db()
    assert seven.reminded_at is not None and seven.escalated_at is None
    reminders = [m for m in mail.outbox if m.to == [supporter.email] and seven.due_on.isoformat() in m.subject]
    assert len(reminders) == 1
    with TestCase.captureOnCommitCallbacks(execute=True):
        counts = maintenance.follow_up_reminders_send(agency=world.agency_a, today=seven.due_on + datetime.timedelta(1))
    seven.refresh_from_db()
    assert seven.escalated_at is not None and counts["escalated"] >= 1
    again = maintenance.follow_up_reminders_send(agency=world.agency_a, today=seven.due_on + datetime.timedelta(1))
    assert again == {"reminded": 0, "escalated": 0}
    escalations = [m for m in mail.outbox if m.to == [world.a[Role.COORDINATOR].email]]
    assert any(f"due {seven.due_on:%Y-%m-%d} (activation)" in m.body for m in escalations)
    assert AuditEvent.objects.filter(
        action=AuditAction.FOLLOWUP_ESCALATED, object_type="activations.targetfollowup", object_id=str(seven.pk)
    ).exists()
    for message in mail.outbox:
        assert "Robin" not in message.body and "Hydrant" not in message.subject + message.body


def test_board_follow_up_column_shows_each_members_next_scheduled_follow_up(client, world):
    from activations import selectors as activation_selectors

    target = scheduled_member(world, supporter=world.a[Role.PEER_SUPPORTER], supporter_agency=world.agency_a)
    board = activation_selectors.board(target.activation)
    (row,) = board["rows"]
    assert row["next_follow_up"] == target.follow_ups.get(days_after=7)
    client.force_login(world.a[Role.COORDINATOR])
    page = client.get(f"/activations/{target.activation.uuid}/board/").content.decode()
    assert f"{row['next_follow_up'].due_on:%Y-%m-%d} · 7-day" in page


def test_encounter_form_is_never_restored_marks_required_groups_and_summarises_errors(client, world):
    client.force_login(world.a[Role.PEER_SUPPORTER])
    response = client.get(agency_url(world.agency_a, "encounter_new"))
    page = response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert re.search(r'<form method="post" class="[^"]*muster-encounter-form" autocomplete="off"', page)
    assert re.search(r'<textarea[^>]*autocomplete="off"[^>]*name="notes"|name="notes"[^>]*autocomplete="off"', page)
    for legend in ("How long", "How", "Who reached out", "Topics", "Confidentiality limits explained"):
        assert re.search(rf"<legend[^>]*>{re.escape(legend)}[^<]*<span class=\"usa-hint usa-hint--required\"", page)
    refused = client.post(agency_url(world.agency_a, "encounter_new"), {"submission_key": str(uuid.uuid4())})
    page = refused.content.decode()
    assert "no-store" in refused["Cache-Control"]
    summary = page[page.index("muster-error-summary") : page.index("muster-encounter-form")]
    for anchor in ("id_duration_band_0", "id_contact_mode_0", "id_initiator_0", "id_topics_0"):
        assert f'href="#{anchor}"' in summary and f'id="{anchor}"' in page
    assert 'href="#id_confidentiality_notice_0"' in summary
    assert "muster/error_summary.js" in page


def test_notes_help_states_the_retention_in_force(client, world):
    policy = selectors.policy_for(world.agency_a.network)
    client.force_login(world.a[Role.PEER_SUPPORTER])
    page = client.get(agency_url(world.agency_a, "encounter_new")).content.decode()
    assert f"Kept {policy.notes_retention_days} days after the last follow-up closes" in page
    assert "purged after follow-up closes" not in page


def test_coordinators_team_follow_ups_list_the_activation_schedule_their_overdue_count_includes(client, world):
    from activations.models import TargetFollowUp

    target = scheduled_member(world, supporter=world.a[Role.PEER_SUPPORTER], supporter_agency=world.agency_a)
    seven = target.follow_ups.get(days_after=7)
    TargetFollowUp.objects.filter(pk=seven.pk).update(due_on=timezone.localdate() - datetime.timedelta(days=1))
    client.force_login(world.a[Role.COORDINATOR])
    home = client.get(agency_url(world.agency_a, "agency_home")).content.decode()
    with tenant_context(world.agency_a):
        agency_overdue = FollowUp.objects.filter(status="open", due_on__lt=timezone.localdate()).count()
    assert f"Team follow-ups overdue: <strong>{agency_overdue + 1}</strong>" in home
    team = client.get(agency_url(world.agency_a, "followup_list")).content.decode()
    assert "7-day follow-up of the activation" in team and world.a[Role.PEER_SUPPORTER].get_full_name() in team
