"""Issue 19, points 6 and 7: a deployment's hours (page and CSV), its ICS-214-style activity log, demobilisation
(and the activation's own demobilise and close), the after-action section and what chiefs see of it, and the home
agency's page of its people on deployments."""

from __future__ import annotations

import csv
import datetime
import io
import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import connections, transaction
from django.utils import timezone

from activations import deploy_hours, deploy_requests, selectors, services
from activations.models import (
    Activation,
    ActivationEvent,
    DeployedSupporter,
    Deployment,
    DeploymentOffer,
    DeploymentShift,
    OutreachTarget,
)
from agencies.models import Role
from network.audit import AuditAction
from network.models import AuditEvent
from tests.support import WORLD_MEMBER, error_codes, make_user, open_activation, refused

Kind = ActivationEvent.Kind
H = datetime.timedelta(hours=1)
MEMBER = "Casey Deployed-Member"


def _person(deployment, offer, user, agency, status=DeployedSupporter.Status.CONFIRMED):
    return DeployedSupporter.objects.create(
        deployment=deployment,
        offer=offer,
        supporter=user,
        home_agency=agency,
        status=status,
        confirmed_at=timezone.now() if status == DeployedSupporter.Status.CONFIRMED else None,
    )


def _shift(person, *, start, hours=12, checked_in=None, checked_out=None, by=None):
    return DeploymentShift.objects.create(
        deployment=person.deployment,
        person=person,
        starts_at=start,
        ends_at=start + hours * H,
        checked_in_at=checked_in,
        checked_out_at=checked_out,
        created_by=by or person.deployment.requested_by,
    )


def make_deployment(world, activation=None, *, location="Riverside family assistance centre"):
    """A deployment of `activation` (the world's, led by A), agency B offering: B's peer supporter (two shifts worked,
    the second still open: on site), B's two-agency coordinator (one shift worked, one planned tomorrow), a B
    supporter offered but never accepted; and A's own clinician as a second home agency (one shift worked)."""
    activation = activation or world.activation
    now = timezone.now()
    coordinator = world.a[Role.COORDINATOR]
    deployment = Deployment.objects.create(
        activation=activation,
        requested_by=coordinator,
        supporters_wanted=4,
        starts_on=timezone.localdate() - datetime.timedelta(days=2),
        ends_on=timezone.localdate() + datetime.timedelta(days=1),
        reporting_location=location,
        asked_agency_ids=[world.agency_b.pk],
        status=Deployment.Status.ACTIVE,
    )
    offer = DeploymentOffer.objects.create(
        deployment=deployment,
        agency=world.agency_b,
        offered_by=world.b[Role.COORDINATOR],
        status=DeploymentOffer.Status.ACCEPTED,
        decided_by=coordinator,
        decided_at=now,
    )
    own = DeploymentOffer.objects.create(
        deployment=deployment,
        agency=world.agency_a,
        offered_by=coordinator,
        status=DeploymentOffer.Status.ACCEPTED,
        decided_by=coordinator,
        decided_at=now,
    )
    peer = _person(deployment, offer, world.b[Role.PEER_SUPPORTER], world.agency_b)
    two = _person(deployment, offer, world.two_agency_user, world.agency_b)
    extra = make_user(f"offered.{deployment.pk}@test.example", "Offered Only")
    offered = _person(deployment, offer, extra, world.agency_b, status=DeployedSupporter.Status.OFFERED)
    clinician = _person(deployment, own, world.a[Role.CLINICIAN], world.agency_a)
    day1 = now - 40 * H
    _shift(peer, start=day1, checked_in=day1, checked_out=day1 + 12 * H)
    _shift(peer, start=now - 2 * H, checked_in=now - 2 * H)  # on site now
    _shift(two, start=day1, checked_in=day1 + H, checked_out=day1 + 9 * H)  # 8 hours
    _shift(two, start=now + 10 * H)  # the rest of the rotation
    _shift(clinician, start=day1, checked_in=day1, checked_out=day1 + 6 * H)
    return deployment, {"peer": peer, "two": two, "offered": offered, "clinician": clinician}


@pytest.fixture
def deployed(world):
    return make_deployment(world)


@pytest.fixture
def deployed_alone(world):
    """A deployment of an activation of its own (the world's activation carries the sample deployment too)."""
    return make_deployment(world, open_activation(world, name="Grain elevator collapse"))


def _check_out_everyone(deployment):
    DeploymentShift.objects.filter(
        deployment=deployment, checked_out_at__isnull=True, checked_in_at__isnull=False
    ).update(checked_out_at=timezone.now())


def _url(deployment, page):
    return f"/activations/{deployment.activation.uuid}/deployments/{deployment.uuid}/{page}"


# --- Hours ---------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_hours_per_person_and_agency_count_an_open_shift_to_now_and_mark_it_on_site(world, deployed):
    deployment, people = deployed
    now = DeploymentShift.objects.get(person=people["peer"], checked_out_at__isnull=True).checked_in_at + 2 * H
    report = deploy_hours.hours_of(deployment, now=now)
    by_person = {p.person_id: p for p in report.people}
    peer = by_person[people["peer"].pk]
    assert (peer.shifts, peer.hours, peer.on_site) == (2, 14.0, True)
    two = by_person[people["two"].pk]
    assert (two.shifts, two.hours, two.on_site) == (1, 8.0, False)
    assert two.first_check_in is not None and two.last_check_out - two.first_check_in == 8 * H
    assert people["offered"].pk not in by_person  # nobody counts without a check-in
    agencies = {a.agency: a for a in report.agencies}
    assert (agencies[world.agency_b.name].hours, agencies[world.agency_b.name].people) == (22.0, 2)
    assert (agencies[world.agency_a.name].hours, agencies[world.agency_a.name].shifts) == (6.0, 1)
    assert report.hours == 28.0 and report.on_site == 1
    assert report.agencies[0].percent == 100 and report.agencies[1].percent == round(100 * 6 / 22)


@pytest.mark.django_db
def test_hours_are_read_in_one_statement_whatever_the_size(world, deployed, django_assert_num_queries):
    deployment, people = deployed
    with django_assert_num_queries(1):
        small = deploy_hours.hours_of(deployment)
    start = timezone.now() - 200 * H
    for day in range(30):
        at = start + day * 6 * H
        _shift(people["clinician"], start=at, hours=4, checked_in=at, checked_out=at + 4 * H)
    with django_assert_num_queries(1):
        large = deploy_hours.hours_of(deployment)
    assert len(large.shifts) == len(small.shifts) + 30


@pytest.mark.django_db
def test_the_hours_page_shows_each_supporter_the_agency_bars_and_who_is_on_site(client, world, deployed):
    deployment, _ = deployed
    client.force_login(world.a[Role.COORDINATOR])
    page = client.get(_url(deployment, "hours/")).content.decode()
    assert "Hours per agency" in page and "muster-hours-bars__svg" in page
    assert world.b[Role.PEER_SUPPORTER].get_full_name() in page and "on site" in page
    assert world.agency_b.name in page and world.agency_a.name in page
    assert "Offered Only" not in page and WORLD_MEMBER not in page
    assert 'style="' not in page and "<script>" not in page  # CSP: classes and a static file only
    assert "Demobilise" in page  # the lead agency's coordinator may end it


@pytest.mark.django_db
def test_a_deployed_supporter_a_chief_and_another_agencys_coordinator_get_404_on_the_hours(client, world, deployed):
    deployment, _ = deployed
    for user in (world.b[Role.PEER_SUPPORTER], world.a[Role.CHIEF], world.b[Role.COORDINATOR], world.outsider):
        client.force_login(user)
        for page in ("hours/", "hours.csv", "ics214/"):
            assert client.get(_url(deployment, page)).status_code == 404, (user, page)


@pytest.mark.django_db
def test_a_deployment_of_another_activation_answers_404_under_this_one(client, world, deployed):
    deployment, _ = deployed
    other = services.activation_open(
        actor=world.a[Role.COORDINATOR],
        lead_agency=world.agency_a,
        incident_type="mci",
        name="Other incident",
        occurred_at=timezone.now() - H,
        location="Elsewhere",
    )
    client.force_login(world.a[Role.COORDINATOR])
    assert client.get(f"/activations/{other.uuid}/deployments/{deployment.uuid}/hours/").status_code == 404


# --- CSV -----------------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_hours_csv_has_a_row_per_shift_then_agency_totals_and_is_audited(client, world, deployed):
    deployment, people = deployed
    client.force_login(world.a[Role.COORDINATOR])
    response = client.get(_url(deployment, "hours.csv"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["person", "home agency", "checked in", "checked out", "hours"]
    shifts = rows[1 : rows.index([])]
    assert len(shifts) == 4  # the four checked-in shifts, not the planned one
    assert [r for r in shifts if r[3] == "on site"][0][0] == world.b[Role.PEER_SUPPORTER].get_full_name()
    totals = rows[rows.index([]) + 1 :]
    assert totals[0][:2] == ["agency totals", "home agency"]
    assert ["", world.agency_b.name, "2", "3"] == totals[1][:4] or ["", world.agency_b.name, "2", "3"] == totals[2][:4]
    assert totals[-1][1] == "all agencies" and totals[-1][2:4] == ["3", "4"]
    assert WORLD_MEMBER not in text and MEMBER not in text
    event = AuditEvent.objects.filter(action=AuditAction.DEPLOYMENT_HOURS_EXPORTED).latest("pk")
    assert event.actor == world.a[Role.COORDINATOR] and event.object_id == str(deployment.pk)
    assert event.object_type.endswith(".csv")


@pytest.mark.django_db
def test_a_supporter_name_that_looks_like_a_formula_is_written_as_text(client, world, deployed):
    deployment, people = deployed
    # A copy read from the database: the world's user objects outlive this test's transaction.
    type(people["clinician"].supporter).objects.filter(pk=people["clinician"].supporter_id).update(
        full_name="=HYPERLINK(1)"
    )
    client.force_login(world.a[Role.COORDINATOR])
    text = b"".join(client.get(_url(deployment, "hours.csv")).streaming_content).decode()
    assert "'=HYPERLINK(1)" in text


# --- ICS-214 -------------------------------------------------------------------------------------------------------


def _log_events(world, deployment, people, target):
    activation = deployment.activation
    coordinator = world.a[Role.COORDINATOR]
    peer = people["peer"].supporter
    services._event(
        activation, Kind.DEPLOYMENT_REQUESTED, actor=coordinator, agency=world.agency_a, deployment=deployment
    )
    services._event(
        activation,
        Kind.DEPLOYMENT_OFFERED,
        actor=world.b[Role.COORDINATOR],
        agency=world.agency_b,
        deployment=deployment,
        detail="3",
    )
    services._event(activation, Kind.OFFER_ACCEPTED, actor=coordinator, agency=world.agency_b, deployment=deployment)
    services._event(activation, Kind.DEPLOYMENT_CONFIRMED, actor=peer, agency=world.agency_b, deployment=deployment)
    services._event(
        activation, Kind.SHIFT_PLANNED, actor=coordinator, agency=world.agency_b, deployment=deployment, subject=peer
    )
    services._event(activation, Kind.CHECKED_IN, actor=peer, agency=world.agency_b, deployment=deployment)
    services._event(
        activation, Kind.CHECK_IN_OVERDUE, agency=world.agency_b, deployment=deployment, subject=world.two_agency_user
    )
    # An event about a member on this deployment: the log never names the member.
    services._event(
        activation,
        Kind.ASSIGNMENT_RETURNED,
        actor=coordinator,
        agency=world.agency_b,
        target=target,
        deployment=deployment,
        subject=peer,
    )


@pytest.mark.django_db
def test_the_ics214_log_has_its_eight_sections_in_sentences_and_no_member(client, world, deployed):
    deployment, people = deployed
    _log_events(world, deployment, people, world.target)
    client.force_login(world.a[Role.COORDINATOR])
    response = client.get(_url(deployment, "ics214/"))
    page = response.content.decode()
    assert response.status_code == 200
    for heading in (
        "Incident name",
        "Operational period",
        "Peer support deployment",
        "Unit leader",
        "Location",
        "Resources assigned",
        "Activity log",
        "Prepared by",
    ):
        assert heading in page, heading
    assert world.activation.name in page and deployment.reporting_location in page
    assert world.a[Role.COORDINATOR].get_full_name() in page  # the unit leader, who requested
    peer = world.b[Role.PEER_SUPPORTER].get_full_name()
    assert f"{peer} ({world.agency_b.name}) checked in on site." in page
    assert f"{world.b[Role.COORDINATOR].get_full_name()} offered 3 supporters of {world.agency_b.name}." in page
    assert "requested 4 peer supporters" in page
    assert "had not checked in for a shift: coordinators told." in page
    assert f"An assignment held by {peer} ({world.agency_b.name}) went back to the board." in page
    assert "Peer supporter" in page and "Offered Only" not in page  # resources: accepted places only
    assert WORLD_MEMBER not in page and "engineer" not in page
    assert "data-print" in page and "muster/print.js" in page and "<script>" not in page
    assert AuditEvent.objects.filter(
        action=AuditAction.DEPLOYMENT_HOURS_EXPORTED, object_type__endswith=".ics214", object_id=str(deployment.pk)
    ).exists()


# --- Demobilisation ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_demobilising_is_refused_while_anyone_is_on_site(world, deployed):
    deployment, _ = deployed
    with refused("on_site") as caught:
        deploy_hours.deployment_demobilize(actor=world.a[Role.COORDINATOR], deployment=deployment)
    assert "1 supporter is still on site: check them out first." in str(caught.value)
    deployment.refresh_from_db()
    assert deployment.status == Deployment.Status.ACTIVE


def _hold_via_deployment(world, deployment, supporter, *, status=OutreachTarget.Status.PENDING, name=MEMBER):
    (target,) = services.targets_add(
        actor=world.a[Role.COORDINATOR],
        activation=deployment.activation,
        home_agency=world.agency_a,
        entries=[(name, "")],
        exposure="direct",
    )
    OutreachTarget.objects.filter(pk=target.pk).update(
        assigned_supporter=supporter,
        assigned_agency=world.agency_b,
        assigned_at=timezone.now(),
        via_deployment=deployment,
        status=status,
    )
    return target


@pytest.mark.django_db
def test_demobilising_ends_the_rotation_the_places_and_returns_held_members_to_the_board(world, deployed):
    deployment, people = deployed
    _check_out_everyone(deployment)
    open_target = _hold_via_deployment(world, deployment, people["peer"].supporter)
    done_target = _hold_via_deployment(
        world, deployment, people["peer"].supporter, status=OutreachTarget.Status.CONTACTED, name="Done Member"
    )
    DeploymentOffer.objects.create(
        deployment=deployment, agency=world.agency_b, offered_by=world.b[Role.COORDINATOR]
    )  # still waiting
    worked_before = deploy_hours.hours_of(deployment).hours
    deploy_hours.deployment_demobilize(actor=world.a[Role.COORDINATOR], deployment=deployment)

    deployment.refresh_from_db()
    assert deployment.status == Deployment.Status.DEMOBILIZED
    assert deployment.demobilized_by == world.a[Role.COORDINATOR] and deployment.demobilized_at is not None
    assert not DeploymentShift.objects.filter(deployment=deployment, checked_in_at__isnull=True).exists()
    assert deploy_hours.hours_of(deployment).hours == worked_before  # the hours stay
    statuses = dict(DeployedSupporter.objects.filter(deployment=deployment).values_list("pk", "status"))
    assert statuses[people["peer"].pk] == statuses[people["two"].pk] == DeployedSupporter.Status.DEMOBILIZED
    assert statuses[people["offered"].pk] == DeployedSupporter.Status.NOT_TAKEN
    assert not DeployedSupporter.objects.filter(deployment=deployment, ended_at__isnull=True).exists()
    assert not deployment.offers.filter(status=DeploymentOffer.Status.OFFERED).exists()
    open_target.refresh_from_db()
    done_target.refresh_from_db()
    assert open_target.assigned_supporter is None and open_target.via_deployment is None
    assert done_target.assigned_supporter == people["peer"].supporter  # finished outreach keeps its record
    returned = ActivationEvent.objects.get(kind=Kind.ASSIGNMENT_RETURNED, target=open_target)
    assert returned.detail == "deployment-demobilized" and returned.subject == people["peer"].supporter
    assert ActivationEvent.objects.filter(kind=Kind.DEPLOYMENT_DEMOBILIZED, deployment=deployment).count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.DEPLOYMENT_DEMOBILIZED, object_id=str(deployment.pk)).exists()
    with refused("not_under_way"):
        deploy_hours.deployment_demobilize(actor=world.a[Role.COORDINATOR], deployment=deployment)


@pytest.mark.django_db
def test_only_the_lead_agencys_coordinators_and_the_network_roles_may_demobilise(client, world, deployed):
    deployment, _ = deployed
    _check_out_everyone(deployment)
    services.activation_add_agency(actor=world.a[Role.COORDINATOR], activation=world.activation, agency=world.agency_b)
    client.force_login(world.b[Role.COORDINATOR])  # coordinates the activation now: sees the hours, not the button
    page = client.get(_url(deployment, "hours/")).content.decode()
    assert "Hours per supporter" in page and "Demobilise the deployment" not in page
    client.post(_url(deployment, "demobilize/"), {"confirm": "yes"})
    deployment.refresh_from_db()
    assert deployment.status == Deployment.Status.ACTIVE
    for user in (world.b[Role.COORDINATOR], world.b[Role.PEER_SUPPORTER], world.a[Role.CHIEF], world.outsider):
        with refused("no_rights"):
            deploy_hours.deployment_demobilize(actor=user, deployment=deployment)
    assert deploy_requests.may_request_deployment(world.regional_a, world.activation)
    assert deploy_requests.may_request_deployment(world.state_admin, world.activation)
    deploy_hours.deployment_demobilize(actor=world.regional_a, deployment=deployment)


@pytest.mark.django_db
def test_the_demobilise_button_posts_and_explains_a_refusal(client, world, deployed):
    deployment, _ = deployed
    client.force_login(world.a[Role.COORDINATOR])
    page = client.post(_url(deployment, "demobilize/"), {"confirm": "yes"}, follow=True).content.decode()
    assert "still on site: check them out first" in page
    page = client.post(_url(deployment, "demobilize/"), {}, follow=True).content.decode()
    assert "Tick the box to confirm" in page
    _check_out_everyone(deployment)
    page = client.post(_url(deployment, "demobilize/"), {"confirm": "yes"}, follow=True).content.decode()
    assert "Demobilised." in page
    deployment.refresh_from_db()
    assert deployment.status == Deployment.Status.DEMOBILIZED
    assert client.get(_url(deployment, "demobilize/")).status_code == 405


@pytest.mark.django_db
def test_demobilising_or_closing_the_activation_demobilises_its_deployments_but_not_with_someone_on_site(
    world, deployed
):
    deployment, _ = deployed
    coordinator = world.a[Role.COORDINATOR]
    with refused("on_site"):
        services.activation_demobilize(actor=coordinator, activation=world.activation)
    with refused("on_site"):
        services.activation_close(actor=coordinator, activation=world.activation)
    world.activation.refresh_from_db()
    assert world.activation.status == Activation.Status.OPEN
    _check_out_everyone(deployment)
    services.activation_demobilize(actor=coordinator, activation=world.activation)
    deployment.refresh_from_db()
    assert deployment.status == Deployment.Status.DEMOBILIZED


@pytest.mark.django_db
def test_closing_the_activation_demobilises_a_deployment_under_way(world, deployed):
    deployment, _ = deployed
    _check_out_everyone(deployment)
    services.activation_close(actor=world.a[Role.COORDINATOR], activation=world.activation)
    deployment.refresh_from_db()
    assert deployment.status == Deployment.Status.DEMOBILIZED


def _race_once(world, round_number: int, *, check_in_after: float) -> tuple[str | None, str | None]:
    activation = services.activation_open(
        actor=world.a[Role.COORDINATOR],
        lead_agency=world.agency_a,
        incident_type="mci",
        name=f"Race {round_number}",
        occurred_at=timezone.now() - H,
        location="Race",
    )
    deployment, people = make_deployment(world, activation, location=f"Race {round_number}")
    _check_out_everyone(deployment)
    shift = _shift(people["clinician"], start=timezone.now() - 0.5 * H)  # due now, not checked in
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def check_in():
        try:
            barrier.wait(timeout=10)
            time.sleep(check_in_after)  # let the demobilise take its locks first in some rounds
            with transaction.atomic():
                landed = DeploymentShift.objects.filter(pk=shift.pk, checked_in_at__isnull=True).update(
                    checked_in_at=timezone.now()
                )
            outcomes["check_in"] = "checked in" if landed else "no shift"
        except Exception as error:  # noqa: BLE001 - recorded, and fails the test
            outcomes["check_in"] = repr(error)
        finally:
            connections.close_all()

    def demobilize():
        try:
            barrier.wait(timeout=10)
            deploy_hours.deployment_demobilize(actor=world.a[Role.COORDINATOR], deployment=deployment)
            outcomes["demobilize"] = "demobilized"
        except ValidationError as error:  # the loser's refusal is the point
            outcomes["demobilize"] = " ".join(error_codes(error))
        except Exception as error:  # noqa: BLE001 - recorded, and fails the test
            outcomes["demobilize"] = repr(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=check_in), threading.Thread(target=demobilize)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    deployment.refresh_from_db()
    on_site = DeploymentShift.objects.filter(
        deployment=deployment, checked_in_at__isnull=False, checked_out_at__isnull=True
    ).exists()
    assert not (on_site and deployment.status == Deployment.Status.DEMOBILIZED)
    return outcomes.get("check_in"), outcomes.get("demobilize")


def test_a_demobilise_racing_a_check_in_never_leaves_a_check_in_on_a_demobilised_deployment(world, django_db_blocker):
    """Two real transactions on two connections, released together, several times over: a check-in (the conditional
    UPDATE a check-in makes: checked_in_at IS NULL) and a demobilise. Either the check-in lands first and the
    demobilise is refused (someone on site), or the demobilise wins and the shift is gone: never both."""
    with django_db_blocker.unblock():
        for round_number, delay in enumerate([0, 0, 0.01, 0.03, 0.1, 0.3]):
            pair = _race_once(world, round_number, check_in_after=delay)
            assert pair in {("checked in", "on_site"), ("no shift", "demobilized")}, pair


# --- The after-action section --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_after_action_summary_counts_the_deployments_in_the_same_two_statements(
    world, deployed_alone, django_assert_num_queries
):
    deployment, people = deployed_alone
    _check_out_everyone(deployment)
    with django_assert_num_queries(2):
        summary = selectors.after_action_summary(deployment.activation)
    part = summary["deployments"]
    assert part["deployments"] == 1
    assert part["people"] == 3  # confirmed: B's two and A's clinician; the offered one never went
    assert part["agencies"] == 2 and part["shifts"] == 4
    assert 27 <= part["hours"] <= 29  # 12 + 8 + 6 + the open shift checked out just now (about 2), to the hour


@pytest.mark.django_db
def test_the_coordinators_summary_page_shows_the_deployment_section(client, world, deployed):
    client.force_login(world.a[Role.COORDINATOR])
    page = client.get(f"/activations/{world.activation.uuid}/summary/").content.decode()
    assert "Regional deployment" in page and "People deployed" in page


def _numbers_in_deployment_section(page: str) -> list[str]:
    import re

    section = page.split('id="deployments-heading"', 1)[1].split("</section>", 1)[0]
    return re.findall(r'muster-stat__value">([^<]*)<', section)


@pytest.mark.django_db
def test_a_chiefs_summary_suppresses_small_deployment_counts_and_never_names_anyone(client, world, deployed_alone):
    deployment, people = deployed_alone
    _check_out_everyone(deployment)
    services.activation_close(actor=world.a[Role.COORDINATOR], activation=deployment.activation)
    client.force_login(world.a[Role.CHIEF])
    page = client.get(f"/activations/{deployment.activation.uuid}/summary/").content.decode()
    values = _numbers_in_deployment_section(page)
    assert len(values) == 5
    # deployments 1, people 3, agencies 2 under the threshold of 5: suppressed; hours with them; shifts 4: too.
    assert values == ["suppressed"] * 5, values
    for person in people.values():
        assert person.supporter.get_full_name() not in page
    assert WORLD_MEMBER not in page and deployment.reporting_location not in page


@pytest.mark.django_db
def test_leadership_shows_deployment_counts_from_the_threshold_and_hours_only_beside_people():
    published = selectors.leadership_summary(
        {
            "by_status": {},
            "deployments": {"deployments": 1, "people": 12, "agencies": 3, "hours": 400, "shifts": 30},
        },
        threshold=5,
    )
    assert published["deployments"] == {"deployments": None, "people": 12, "agencies": None, "hours": 400, "shifts": 30}
    hidden = selectors.leadership_summary(
        {"by_status": {}, "deployments": {"deployments": 2, "people": 4, "agencies": 2, "hours": 90, "shifts": 9}},
        threshold=5,
    )["deployments"]
    assert hidden["people"] is None and hidden["hours"] is None
    for value in hidden.values():
        assert value is None or value == 0 or value >= 5
    assert selectors.leadership_summary({"by_status": {}}, threshold=5)["deployments"] is None  # older summaries


# --- The home agency's view ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_home_agency_sees_its_own_people_on_deployments_and_their_hours_not_whom_they_supported(
    client, world, deployed
):
    deployment, people = deployed
    _hold_via_deployment(world, deployment, people["peer"].supporter)
    url = f"/a/{world.agency_b.slug}/deployments/people/"
    for user in (world.b[Role.COORDINATOR], world.b[Role.AGENCY_ADMIN]):
        client.force_login(user)
        response = client.get(url)
        page = response.content.decode()
        assert response.status_code == 200
        assert world.b[Role.PEER_SUPPORTER].get_full_name() in page and "on site" in page
        assert world.two_agency_user.get_full_name() in page
        assert world.activation.name in page and deployment.reporting_location in page
        assert "8.0" in page  # the two-agency coordinator's hours
        assert world.a[Role.CLINICIAN].get_full_name() not in page  # agency A's person
        assert "Offered Only" in page  # an offer still open: their agency offered them
        assert MEMBER not in page and WORLD_MEMBER not in page
    for user in (world.b[Role.PEER_SUPPORTER], world.b[Role.CHIEF], world.a[Role.COORDINATOR]):
        client.force_login(user)
        assert client.get(url).status_code == 404, user
    client.force_login(world.a[Role.COORDINATOR])
    assert f"/a/{world.agency_a.slug}/deployments/people/" in client.get(f"/a/{world.agency_a.slug}/").content.decode()
    page = client.get(f"/a/{world.agency_a.slug}/deployments/people/").content.decode()
    assert world.a[Role.CLINICIAN].get_full_name() in page
    assert world.b[Role.PEER_SUPPORTER].get_full_name() not in page


@pytest.mark.django_db
def test_the_home_agency_page_reads_a_fixed_number_of_statements(
    client, world, deployed, django_assert_max_num_queries
):
    deployment, people = deployed
    client.force_login(world.b[Role.COORDINATOR])
    url = f"/a/{world.agency_b.slug}/deployments/people/"
    client.get(url)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        client.get(url)
    for number in range(5):
        other, _ = make_deployment(world, location=f"Another site {number}")
    with CaptureQueriesContext(connection) as large:
        client.get(url)
    assert len(large.captured_queries) == len(small.captured_queries)
