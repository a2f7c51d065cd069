"""Network governance: collaboration agreements gate who works with whom; protocols lay out an
activation's checklist and follow-ups; the policy carries the confidentiality notice."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from activations import selectors as activation_selectors
from activations import services as activation_services
from activations.models import ActivationEvent, ChecklistItem, TargetFollowUp
from agencies.models import Role
from governance import selectors, services
from governance.models import Agreement, Scope
from network.models import AuditEvent
from tests.support import (
    agency_url,
    agreement_record,
    log_encounter,
    make_agency,
    make_ready,
    open_activation,
    refused,
    signed_pdf,
)

pytestmark = pytest.mark.django_db


def _revoke(world):
    services.agreement_revoke(actor=world.state_admin, agreement=world.agreement)


# --- Agreements gate joint activations --------------------------------------------------------------


def test_an_agency_joins_an_activation_only_under_an_agreement_in_force(world):
    activation = open_activation(world)
    _revoke(world)
    with refused("no_joint_activation_agreement"):
        activation_services.activation_add_agency(
            actor=world.a[Role.COORDINATOR], activation=activation, agency=world.agency_b
        )
    assert not activation.participations.filter(agency=world.agency_b).exists()

    agreement_record(world, [world.agency_a, world.agency_b], title="Renewed mutual aid")
    activation_services.activation_add_agency(
        actor=world.a[Role.COORDINATOR], activation=activation, agency=world.agency_b
    )
    assert activation.participations.filter(agency=world.agency_b).exists()


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"expires_on": timezone.localdate() - datetime.timedelta(days=1)}, id="expired"),
        pytest.param(
            {
                "effective_on": timezone.localdate() + datetime.timedelta(days=5),
                "expires_on": timezone.localdate() + datetime.timedelta(days=50),
            },
            id="not-yet-in-force",
        ),
        pytest.param({"scopes": [Scope.DATA_SHARING]}, id="other-scope"),
    ],
)
def test_an_agreement_out_of_force_or_of_another_scope_does_not_cover(world, overrides):
    _revoke(world)
    agreement_record(world, [world.agency_a, world.agency_b], **overrides)
    assert selectors.agreement_covering(world.agency_a, world.agency_b, Scope.JOINT_ACTIVATION) is None
    with pytest.raises(ValidationError):
        open_activation(world, participating=[world.agency_b])


def test_network_wide_mutual_aid_covers_every_agency(world):
    _revoke(world)
    agreement_record(world, [], network_wide=True, title="Statewide mutual aid")
    activation = open_activation(world, participating=[world.agency_b])
    assert {p.agency_id for p in activation.participations.all()} == {world.agency_a.pk, world.agency_b.pk}


def test_the_open_form_offers_only_agencies_under_agreement(client, world):
    coordinator = world.a[Role.COORDINATOR]
    client.force_login(coordinator)
    url = agency_url(world.agency_a, "agency_activation_open")
    assert world.agency_b.name in client.get(url).content.decode()
    _revoke(world)
    page = client.get(url).content.decode()
    assert world.agency_b.name not in page
    assert "Only agencies under a collaboration agreement" in page


def test_a_supporter_of_another_agency_needs_a_cross_agency_outreach_agreement(world):
    _revoke(world)
    agreement_record(world, [world.agency_a, world.agency_b], scopes=[Scope.JOINT_ACTIVATION])
    activation = open_activation(world, participating=[world.agency_b])
    b_supporter = world.membership(world.agency_b, Role.PEER_SUPPORTER)
    make_ready(b_supporter)
    (target,) = activation_services.targets_add(
        actor=world.a[Role.COORDINATOR],
        activation=activation,
        home_agency=world.agency_a,
        entries=[("Casey Morgan", "")],
        exposure="direct",
    )
    row = next(
        p for p in activation_selectors.assignable_supporters(activation, target) if p["user"] == b_supporter.user
    )
    assert row["blocked"] == f"no cross-agency outreach agreement with {world.agency_a.name}"
    with refused("no_outreach_agreement"):
        activation_services.target_assign(
            actor=world.a[Role.COORDINATOR], target=target, supporter=b_supporter.user, expected_supporter_id=None
        )

    agreement_record(world, [world.agency_a, world.agency_b], scopes=[Scope.CROSS_AGENCY_OUTREACH], title="Outreach")
    assigned = activation_services.target_assign(
        actor=world.a[Role.COORDINATOR], target=target, supporter=b_supporter.user, expected_supporter_id=None
    )
    assert assigned.assigned_supporter_id == b_supporter.user_id


# --- Recording, proposing, approving -------------------------------------------------------------------


def test_state_admin_records_an_agreement_with_its_signed_document_in_the_browser_form(client, world):
    client.force_login(world.state_admin)
    response = client.post(
        "/network/agreements/new/",
        {
            "title": "Alpha and Bravo outreach",
            "parties": [world.agency_a.pk, world.agency_b.pk],
            "scopes": [Scope.CROSS_AGENCY_OUTREACH],
            "effective_on": "2026-01-01",
            "expires_on": "2027-12-31",
            "document": signed_pdf("scan.pdf"),
        },
    )
    agreement = Agreement.objects.get(title="Alpha and Bravo outreach")
    assert response.status_code == 302 and str(agreement.uuid) in response["Location"]
    assert agreement.status == Agreement.Status.ACTIVE
    assert set(agreement.parties.values_list("pk", flat=True)) == {world.agency_a.pk, world.agency_b.pk}
    download = client.get(f"/network/agreements/{agreement.uuid}/document/")
    assert download.content == bytes(agreement.document)
    assert download["Content-Disposition"].startswith("attachment;")
    assert AuditEvent.objects.filter(action="agreement.document_viewed", object_id=str(agreement.pk)).exists()


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (SimpleUploadedFile("x.pdf", b"<html><script>alert(1)</script></html>"), "PDF, PNG or JPEG"),
        (SimpleUploadedFile("big.pdf", b"%PDF-" + b"0" * (10 * 1024 * 1024)), "larger than 10 MB"),
    ],
    ids=["html-named-pdf", "too-large"],
)
def test_a_document_that_is_not_a_scan_is_refused_with_a_reason(client, world, upload, message):
    client.force_login(world.state_admin)
    response = client.post(
        "/network/agreements/new/",
        {
            "title": "Bad upload",
            "parties": [world.agency_a.pk, world.agency_b.pk],
            "scopes": [Scope.JOINT_ACTIVATION],
            "effective_on": "2026-01-01",
            "document": upload,
        },
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Agreement.objects.filter(title="Bad upload").exists()


def test_an_agency_admins_proposal_covers_nothing_until_a_state_admin_approves(client, world):
    _revoke(world)
    admin = world.a[Role.AGENCY_ADMIN]
    client.force_login(admin)
    response = client.post(
        agency_url(world.agency_a, "agency_agreement_propose"),
        {
            "title": "Proposed mutual aid",
            "parties": [world.agency_a.pk, world.agency_b.pk],
            "scopes": [Scope.JOINT_ACTIVATION],
            "effective_on": "2026-01-01",
            "document": signed_pdf(),
        },
    )
    assert response.status_code == 302
    proposal = Agreement.objects.get(title="Proposed mutual aid")
    assert proposal.status == Agreement.Status.PROPOSED
    assert selectors.agreement_covering(world.agency_a, world.agency_b, Scope.JOINT_ACTIVATION) is None

    client.force_login(world.state_admin)
    client.post(f"/network/agreements/{proposal.uuid}/decide/", {"decision": "approve"})
    proposal.refresh_from_db()
    assert proposal.status == Agreement.Status.ACTIVE and proposal.decided_by == world.state_admin
    assert selectors.agreement_covering(world.agency_a, world.agency_b, Scope.JOINT_ACTIVATION) == proposal


def test_an_agency_admin_cannot_propose_for_agencies_without_their_own(world):
    with refused("own_agency_not_party"):
        services.agreement_record(
            actor=world.b[Role.AGENCY_ADMIN],
            network=world.agency_a.network,
            title="Not ours",
            network_wide=False,
            parties=[
                world.agency_a,
                make_agency(
                    actor=world.state_admin,
                    network=world.agency_a.network,
                    region=world.agency_a.region,
                    slug="charlie-ems",
                ),
            ],
            scopes=[Scope.JOINT_ACTIVATION],
            effective_on=timezone.localdate(),
            expires_on=None,
            document=signed_pdf(),
            proposing_agency=world.agency_b,
        )


def test_a_non_party_agency_admin_cannot_download_the_signed_document(client, world):
    charlie = make_agency(
        actor=world.state_admin, network=world.agency_a.network, region=world.agency_a.region, slug="charlie-ems"
    )
    agreement = agreement_record(world, [world.agency_a, charlie], title="Alpha and Charlie")
    client.force_login(world.b[Role.AGENCY_ADMIN])
    response = client.get(agency_url(world.agency_b, "agency_agreement_document", agreement_uuid=agreement.uuid))
    assert response.status_code == 404
    client.force_login(world.a[Role.AGENCY_ADMIN])
    assert (
        client.get(agency_url(world.agency_a, "agency_agreement_document", agreement_uuid=agreement.uuid)).status_code
        == 200
    )


def test_a_regional_coordinator_sees_only_agreements_with_a_party_in_their_region(client, world):
    """regional_a coordinates North (agency A). An agreement between two South agencies is not theirs:
    absent from the list, 404 on its page and its document. One with a North party, and network-wide
    mutual aid (which binds North's agencies too), are shown. The state admin sees all three."""
    south = world.agency_b.region
    delta = make_agency(actor=world.state_admin, network=world.agency_a.network, region=south, slug="delta-ems")
    southern = agreement_record(world, [world.agency_b, delta], title="Bravo and Delta")
    statewide = agreement_record(world, [], network_wide=True, title="Statewide mutual aid")
    client.force_login(world.regional_a)
    listing = client.get("/network/agreements/").content.decode()
    assert world.agreement.title in listing and statewide.title in listing
    assert southern.title not in listing
    assert client.get(f"/network/agreements/{southern.uuid}/").status_code == 404
    assert client.get(f"/network/agreements/{southern.uuid}/document/").status_code == 404
    assert client.get(f"/network/agreements/{world.agreement.uuid}/").status_code == 200
    assert client.get(f"/network/agreements/{statewide.uuid}/").status_code == 200
    client.force_login(world.state_admin)
    listing = client.get("/network/agreements/").content.decode()
    assert all(a.title in listing for a in (southern, statewide, world.agreement))
    assert client.get(f"/network/agreements/{southern.uuid}/").status_code == 200


# --- Expiry -------------------------------------------------------------------------------------------------


def test_expiring_agreements_are_flagged_and_their_parties_told_once(
    client, world, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    _revoke(world)
    soon = agreement_record(
        world, [world.agency_a, world.agency_b], expires_on=timezone.localdate() + datetime.timedelta(days=12)
    )
    agreement_record(world, [world.agency_a, world.agency_b], title="Long one")
    client.force_login(world.state_admin)
    assert "Expires in 12 days" in client.get("/network/agreements/").content.decode()

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.agreements_expiry_notify() == 1
    assert len(mail.outbox) == 1
    recipients = set(mail.outbox[0].to)
    assert {world.state_admin.email, world.a[Role.AGENCY_ADMIN].email, world.b[Role.AGENCY_ADMIN].email} <= recipients
    assert world.a[Role.PEER_SUPPORTER].email not in recipients
    assert soon.title in mail.outbox[0].subject
    with django_capture_on_commit_callbacks(execute=True):
        assert services.agreements_expiry_notify() == 0
    assert len(mail.outbox) == 1


# --- Protocols ----------------------------------------------------------------------------------------------


def test_checklist_lines_are_read_with_windows_and_every_bad_line_named():
    assert services.parse_steps("3h Demobilization\n\n1d-10d Debriefing (CISD)") == [
        ("Demobilization", 0, 3),
        ("Debriefing (CISD)", 24, 240),
    ]
    with pytest.raises(ValidationError) as error:
        services.parse_steps("Defusing soon\n12h Defusing\n10d-1d Backwards")
    assert [(e.code, e.params["line"]) for e in error.value.error_list] == [
        ("step_timing", 1),
        ("step_window_reversed", 3),
    ]
    assert error.value.messages[1].startswith("Line 3: ")  # the sentence names the line
    assert services.parse_follow_up_days("90, 7;30 7") == [7, 30, 90]
    with pytest.raises(ValidationError):
        services.parse_follow_up_days("7, soon")


def _save_protocol(client, world, steps="3h Demobilization\n12h Defusing\n1d-10d Debriefing", days="7, 30, 90"):
    client.force_login(world.state_admin)
    return client.post(
        "/network/protocols/mci/", {"name": "Mass casualty protocol", "steps": steps, "follow_up_days": days}
    )


def test_opening_an_activation_applies_its_protocol_checklist_and_follow_up_schedule(client, world):
    assert _save_protocol(client, world).status_code == 302
    occurred = timezone.now() - datetime.timedelta(hours=5)
    activation = open_activation(world, occurred_at=occurred)
    items = list(ChecklistItem.objects.filter(activation=activation).order_by("position"))
    assert [(i.title, i.not_before - occurred, i.due_at - occurred) for i in items] == [
        ("Demobilization", datetime.timedelta(0), datetime.timedelta(hours=3)),
        ("Defusing", datetime.timedelta(0), datetime.timedelta(hours=12)),
        ("Debriefing", datetime.timedelta(days=1), datetime.timedelta(days=10)),
    ]
    assert [item.state() for item in items] == ["overdue", "due", "upcoming"]
    (target,) = activation_services.targets_add(
        actor=world.a[Role.COORDINATOR],
        activation=activation,
        home_agency=world.agency_a,
        entries=[("Jordan Reyes", "")],
        exposure="witness",
    )
    incident_day = timezone.localtime(occurred).date()
    assert list(TargetFollowUp.objects.filter(target=target).values_list("days_after", "due_on")) == [
        (7, incident_day + datetime.timedelta(days=7)),
        (30, incident_day + datetime.timedelta(days=30)),
        (90, incident_day + datetime.timedelta(days=90)),
    ]

    client.force_login(world.a[Role.COORDINATOR])
    board = client.get(f"/activations/{activation.uuid}/board/").content.decode()
    assert "Protocol checklist" in board and "Debriefing" in board and "overdue" in board


def test_editing_a_protocol_does_not_move_an_activation_already_open(client, world):
    _save_protocol(client, world)
    activation = open_activation(world)
    _save_protocol(client, world, steps="1h Something else", days="14")
    assert list(activation.checklist.values_list("title", flat=True)) == ["Demobilization", "Defusing", "Debriefing"]
    activation.refresh_from_db()
    assert activation.follow_up_days == [7, 30, 90]


def test_a_bad_protocol_is_shown_back_with_its_line_and_nothing_saved(client, world):
    response = _save_protocol(client, world, steps="12h Defusing\nsoon Debriefing")
    assert response.status_code == 200
    assert "Line 2: start with when it is due" in response.content.decode()
    assert not world.agency_a.network.protocols.exists()


def test_coordinator_ticks_a_checklist_step_once(client, world):
    _save_protocol(client, world)
    activation = open_activation(world)
    item = activation.checklist.get(title="Defusing")
    client.force_login(world.a[Role.COORDINATOR])
    url = f"/activations/{activation.uuid}/checklist/{item.pk}/done/"
    client.post(url)
    item.refresh_from_db()
    first = item.done_at
    assert first is not None and item.done_by == world.a[Role.COORDINATOR]
    client.post(url)
    item.refresh_from_db()
    assert item.done_at == first
    assert activation.events.filter(kind=ActivationEvent.Kind.CHECKLIST_DONE).count() == 1


def test_only_the_assigned_supporter_or_a_coordinator_marks_a_follow_up_done(client, world):
    _save_protocol(client, world)
    activation = open_activation(world)
    supporter = world.membership(world.agency_a, Role.PEER_SUPPORTER)
    other = world.two_agency_user
    make_ready(supporter)
    (target,) = activation_services.targets_add(
        actor=world.a[Role.COORDINATOR],
        activation=activation,
        home_agency=world.agency_a,
        entries=[("Pat Lee", "")],
        exposure="direct",
    )
    activation_services.target_assign(
        actor=world.a[Role.COORDINATOR], target=target, supporter=supporter.user, expected_supporter_id=None
    )
    follow_up = target.follow_ups.get(days_after=7)
    url = f"/activations/{activation.uuid}/members/{target.uuid}/follow-ups/{follow_up.pk}/done/"

    client.force_login(other)
    assert client.post(url).status_code == 404
    follow_up.refresh_from_db()
    assert follow_up.done_at is None

    client.force_login(supporter.user)
    mine = client.get(f"/activations/{activation.uuid}/mine/").content.decode()
    assert "7-day follow-up" in mine
    # Before the first contact is logged the server refuses, whatever the page shows (the button is hidden).
    client.post(url)
    follow_up.refresh_from_db()
    assert follow_up.done_at is None
    with refused("no_first_contact"):
        activation_services.target_follow_up_done(actor=supporter.user, follow_up=follow_up, coordinator=False)

    log_encounter(
        world.agency_a,
        author=supporter.user,
        initiator="activation",
        outreach_target=target,
        activation=activation,
    )
    client.post(url)
    follow_up.refresh_from_db()
    assert follow_up.done_by == supporter.user
    summary = activation_selectors.after_action_summary(activation)
    assert (summary["scheduled_follow_ups"], summary["scheduled_follow_ups_done"]) == (3, 1)


# --- Policy -------------------------------------------------------------------------------------------------


def test_the_confidentiality_notice_is_a_versioned_policy_shown_on_the_encounter_form(client, world):
    client.force_login(world.state_admin)
    page = client.get("/network/policy/")
    form = page.context["form"]
    data = {name: value for name, value in form.initial.items() if value not in (None, False)}
    data["confidentiality_notice_text"] = "Limits: harm to self or others, abuse, crime, court order."
    assert client.post("/network/policy/", data).status_code == 302
    history = client.get("/network/policy/").content.decode()
    assert "Confidentiality notice supporters give" in history

    client.force_login(world.a[Role.PEER_SUPPORTER])
    form_page = client.get(agency_url(world.agency_a, "encounter_new")).content.decode()
    assert "Limits: harm to self or others, abuse, crime, court order." in form_page


def test_the_inactivity_limit_comes_from_the_policy(world):
    from network.standards import policy_update
    from network.tasks import inactive_accounts_disable_task

    policy_update(actor=world.state_admin, network=world.agency_a.network, account_inactive_days=30)
    user = world.b[Role.CHIEF]
    type(user).objects.filter(pk=user.pk).update(
        last_login=timezone.now() - datetime.timedelta(days=45),
        date_joined=timezone.now() - datetime.timedelta(days=400),
    )
    inactive_accounts_disable_task.run()
    user.refresh_from_db()
    assert not user.is_active
