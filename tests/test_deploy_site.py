"""A deployment on site (issue 19, points 3 to 5): the rotation planner and swaps, check-in and check-out (a double
tap or two devices check in once, proved with two real transactions), the board's deployment section, the overdue
check-in escalation, and the supporters' own wellbeing follow-up seen only by their home agency's coordinators."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connections
from django.utils import timezone

from activations import deploy_site
from activations.models import (
    ActivationEvent,
    DeployedSupporter,
    Deployment,
    DeploymentOffer,
    DeploymentShift,
    SupporterWellbeing,
)
from activations.tasks import deployment_check_ins_overdue_task
from agencies.models import Role
from network.audit import CARE_ACTIONS, AuditAction, AuditEvent
from tests.support import agency_url, open_activation, refused

Kind = ActivationEvent.Kind


def _deployment(world, **overrides) -> Deployment:
    today = timezone.localdate()
    fields = dict(
        activation=world.activation,
        requested_by=world.a[Role.COORDINATOR],
        supporters_wanted=2,
        starts_on=today,
        ends_on=today + datetime.timedelta(days=4),
        reporting_location="North station",
        asked_agency_ids=[world.agency_b.pk],
        status=Deployment.Status.ACTIVE,
        shift_hours=12,
        rest_hours=12,
        max_days_in_row=3,
    )
    fields.update(overrides)
    return Deployment.objects.create(**fields)


def _people(world, deployment, *users, status=DeployedSupporter.Status.CONFIRMED) -> list[DeployedSupporter]:
    offer = DeploymentOffer.objects.create(
        deployment=deployment,
        agency=world.agency_b,
        offered_by=world.b[Role.COORDINATOR],
        status=DeploymentOffer.Status.ACCEPTED,
    )
    return [
        DeployedSupporter.objects.create(
            deployment=deployment, offer=offer, supporter=user, home_agency=world.agency_b, status=status
        )
        for user in users
    ]


@pytest.fixture
def site(world, db):
    """A deployment of the world's activation (led by A) under way, with two of agency B's supporters confirmed."""
    deployment = _deployment(world)
    first, second = _people(world, deployment, world.b[Role.PEER_SUPPORTER], world.b[Role.COORDINATOR])
    return deployment, first, second


def _shift(deployment, person, *, starts_in: datetime.timedelta, hours: int = 12, **fields) -> DeploymentShift:
    start = timezone.now() + starts_in
    return DeploymentShift.objects.create(
        deployment=deployment,
        person=person,
        starts_at=start,
        ends_at=start + datetime.timedelta(hours=hours),
        created_by=deployment.requested_by,
        **fields,
    )


def _url(deployment, page: str) -> str:
    return f"/activations/{deployment.activation.uuid}/deployments/{deployment.uuid}/{page}/"


# --- Rotations ----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_rotation_plans_one_shift_a_day_and_is_logged_with_the_supporter(world, site):
    deployment, first, _second = site
    coordinator = world.a[Role.COORDINATOR]
    shifts = deploy_site.shifts_plan(
        actor=coordinator,
        deployment=deployment,
        person=first,
        first_day=deployment.starts_on,
        days=3,
        start_time=datetime.time(8, 0),
    )
    assert len(shifts) == 3
    assert all(s.ends_at - s.starts_at == datetime.timedelta(hours=12) for s in shifts)
    assert [timezone.localtime(s.starts_at).date() for s in shifts] == [
        deployment.starts_on + datetime.timedelta(days=n) for n in range(3)
    ]
    event = deployment.events.get(kind=Kind.SHIFT_PLANNED)
    assert (event.actor, event.subject, event.detail) == (coordinator, first.supporter, "3x12h")
    assert AuditEvent.objects.filter(
        action=AuditAction.DEPLOYMENT_SHIFTS_CHANGED, object_id=str(deployment.pk)
    ).exists()


@pytest.mark.django_db
def test_a_rotation_that_breaks_the_rest_or_the_days_in_a_row_is_refused_whole(world, site):
    deployment, first, _second = site
    coordinator = world.a[Role.COORDINATOR]
    plan = dict(actor=coordinator, deployment=deployment, person=first, start_time=datetime.time(8, 0))
    deploy_site.shifts_plan(first_day=deployment.starts_on, days=2, **plan)
    with refused("rotation_limits") as caught:  # a fourth day in a row, the deployment allows three
        deploy_site.shifts_plan(first_day=deployment.starts_on + datetime.timedelta(days=2), days=2, **plan)
    assert "days in a row" in caught.value.messages[0]
    with refused("rotation_limits") as caught:  # 20:00 the same day: overlaps, and then 0 h rest
        deploy_site.shifts_plan(first_day=deployment.starts_on, days=1, **{**plan, "start_time": datetime.time(20)})
    with refused("rotation_limits"):  # starts 4 h after the first one ended
        deploy_site.shifts_plan(
            first_day=deployment.starts_on + datetime.timedelta(days=2),
            days=1,
            **{**plan, "start_time": datetime.time(0, 0)},
        )
    assert DeploymentShift.objects.filter(person=first).count() == 2
    with refused("outside_period"):
        deploy_site.shifts_plan(first_day=deployment.ends_on, days=2, **plan)


@pytest.mark.django_db
def test_only_confirmed_people_get_shifts_only_while_under_way_and_only_from_a_coordinator(world, site):
    deployment, first, _second = site
    (accepted,) = _people(world, deployment, world.b[Role.CLINICIAN], status=DeployedSupporter.Status.ACCEPTED)
    plan = dict(deployment=deployment, first_day=deployment.starts_on, days=1, start_time=datetime.time(8))
    with refused("not_confirmed"):
        deploy_site.shifts_plan(actor=world.a[Role.COORDINATOR], person=accepted, **plan)
    with refused("no_rights"):  # a deployed supporter does not plan
        deploy_site.shifts_plan(actor=world.b[Role.PEER_SUPPORTER], person=first, **plan)
    Deployment.objects.filter(pk=deployment.pk).update(status=Deployment.Status.DEMOBILIZED)
    deployment.refresh_from_db()
    with refused("not_under_way"):
        deploy_site.shifts_plan(actor=world.a[Role.COORDINATOR], person=first, **plan)


@pytest.mark.django_db
def test_a_swap_hands_an_unstarted_shift_over_and_the_planner_flags_anyone_then_over_the_limit(world, site):
    deployment, first, second = site
    coordinator = world.a[Role.COORDINATOR]
    plan = dict(actor=coordinator, deployment=deployment, start_time=datetime.time(8, 0))
    tomorrow = deployment.starts_on + datetime.timedelta(days=1)
    deploy_site.shifts_plan(person=first, first_day=tomorrow, days=1, **plan)
    deploy_site.shifts_plan(person=second, first_day=deployment.starts_on + datetime.timedelta(days=2), days=3, **plan)
    handed = DeploymentShift.objects.get(person=first)
    new = deploy_site.shift_swap(actor=coordinator, shift=handed, to_person=second)
    handed.refresh_from_db()
    assert handed.swapped_to == new and new.person == second and new.starts_at == handed.starts_at
    event = deployment.events.get(kind=Kind.SHIFT_SWAPPED)
    assert (event.actor, event.subject) == (coordinator, second.supporter)
    with refused("already_swapped"):
        deploy_site.shift_swap(actor=coordinator, shift=handed, to_person=second)
    # Second now works four days in a row (the limit is three): flagged, not hidden.
    plan = deploy_site.planner(deployment)
    flagged = {p.pk: p.problems for p in plan["people"]}
    assert flagged[first.pk] == [] and "4 days in a row (at most 3)" in flagged[second.pk]
    started = _shift(deployment, first, starts_in=-datetime.timedelta(hours=1))
    with refused("started"):
        deploy_site.shift_swap(actor=coordinator, shift=started, to_person=second)


@pytest.mark.django_db
def test_the_planner_page_shows_coverage_and_gaps_and_plans_for_coordinators_only(client, world, site):
    deployment, first, _second = site
    client.force_login(world.a[Role.COORDINATOR])
    response = client.post(
        _url(deployment, "planner"),
        {
            "action": "plan",
            "plan-person": str(first.pk),
            "plan-first_day": deployment.starts_on.isoformat(),
            "plan-days": "2",
            "plan-start_time": "08:00",
        },
        follow=True,
    )
    page = response.content.decode()
    assert "2 shifts planned." in page
    assert "1 / 2" in page and "gap 1" in page and "0 / 2" in page
    assert world.b[Role.PEER_SUPPORTER].get_full_name() in page
    refused_plan = client.post(
        _url(deployment, "planner"),
        {
            "action": "plan",
            "plan-person": str(first.pk),
            "plan-first_day": deployment.starts_on.isoformat(),
            "plan-days": "1",
            "plan-start_time": "14:00",
        },
    )
    assert "This rotation is refused" in refused_plan.content.decode()
    for user in (world.b[Role.PEER_SUPPORTER], world.a[Role.PEER_SUPPORTER], world.b[Role.COORDINATOR]):
        client.force_login(user)
        assert client.get(_url(deployment, "planner")).status_code == 404


# --- Check-in and check-out -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_supporter_checks_in_once_and_checks_out_on_their_phone(client, world, site):
    deployment, first, second = site
    mine = _shift(deployment, first, starts_in=datetime.timedelta(minutes=90))
    theirs = _shift(deployment, second, starts_in=datetime.timedelta(minutes=30))
    client.force_login(first.supporter)
    page = client.get(_url(deployment, "site")).content.decode()
    assert "Check in" in page and "Check out" not in page
    assert second.supporter.get_full_name() not in page  # a person sees only their own shifts
    response = client.post(_url(deployment, "site"), {"action": "check_in", "shift": str(mine.pk)}, follow=True)
    assert "Checked in." in response.content.decode() and "Check out" in response.content.decode()
    mine.refresh_from_db()
    first_time = mine.checked_in_at
    assert first_time is not None
    again = client.post(_url(deployment, "site"), {"action": "check_in", "shift": str(mine.pk)}, follow=True)
    assert "Already checked in" in again.content.decode()
    mine.refresh_from_db()
    assert mine.checked_in_at == first_time
    assert deployment.events.filter(kind=Kind.CHECKED_IN).count() == 1
    event = deployment.events.get(kind=Kind.CHECKED_IN)
    assert (event.actor, event.subject, event.detail) == (first.supporter, first.supporter, "self")
    # Another person's shift answers 404 to them.
    assert client.post(_url(deployment, "site"), {"action": "check_in", "shift": str(theirs.pk)}).status_code == 404
    response = client.post(_url(deployment, "site"), {"action": "check_out", "shift": str(mine.pk)})
    assert response.status_code == 302 and "step=wellbeing" in response["Location"]
    mine.refresh_from_db()
    assert mine.checked_out_at is not None
    assert AuditEvent.objects.filter(action=AuditAction.DEPLOYMENT_CHECKED_OUT, object_id=str(mine.pk)).exists()


@pytest.mark.django_db
def test_check_in_opens_two_hours_before_the_shift_and_a_coordinator_may_check_someone_in(client, world, site):
    deployment, first, _second = site
    later = _shift(deployment, first, starts_in=datetime.timedelta(hours=3))
    with refused("too_early"):
        deploy_site.shift_check_in(actor=first.supporter, shift=later)
    client.force_login(first.supporter)
    assert "No shift of yours starts within the next two hours" in client.get(_url(deployment, "site")).content.decode()
    coordinator = world.a[Role.COORDINATOR]
    now_shift = _shift(deployment, first, starts_in=-datetime.timedelta(minutes=45), hours=6)
    client.force_login(coordinator)
    page = client.get(_url(deployment, "site")).content.decode()
    assert "overdue" in page and first.supporter.get_full_name() in page
    client.post(_url(deployment, "site"), {"action": "check_in", "shift": str(now_shift.pk)})
    event = deployment.events.get(kind=Kind.CHECKED_IN)
    assert (event.actor, event.subject, event.detail) == (coordinator, first.supporter, "coordinator")
    with refused("no_rights"):  # someone with no place and no coordination
        deploy_site.shift_check_out(actor=world.a[Role.PEER_SUPPORTER], shift=now_shift)
    DeployedSupporter.objects.filter(pk=first.pk).update(status=DeployedSupporter.Status.RELEASED)
    released = DeploymentShift.objects.select_related("person", "deployment__activation").get(pk=later.pk)
    with refused("not_confirmed"):  # a released supporter's shift is not checked in, even by a coordinator
        deploy_site.shift_check_in(actor=coordinator, shift=released, now=released.starts_at)


@pytest.mark.django_db
def test_a_deployed_supporter_of_another_deployment_or_nobody_gets_404(client, world, site):
    deployment, _first, _second = site
    other = _deployment(world, reporting_location="South station")
    (elsewhere,) = _people(world, other, world.b[Role.AGENCY_ADMIN])
    client.force_login(elsewhere.supporter)
    assert client.get(_url(other, "site")).status_code == 200
    assert client.get(_url(deployment, "site")).status_code == 404
    client.force_login(world.a[Role.PEER_SUPPORTER])
    assert client.get(_url(deployment, "site")).status_code == 404


def test_two_devices_checking_in_at_once_check_in_once(world, django_db_blocker):
    """Two real transactions on two connections, released together: one check-in, one event."""
    with django_db_blocker.unblock():
        # Committed: on an activation of its own, and demobilised at the end, so no other test sees a place.
        activation = open_activation(world, name="Check-in race")
        deployment = _deployment(world, activation=activation, reporting_location="Race station")
        (person,) = _people(world, deployment, world.b[Role.PEER_SUPPORTER])
        shift = _shift(deployment, person, starts_in=datetime.timedelta(minutes=10))
        barrier = threading.Barrier(2)
        outcomes: dict[str, object] = {}

        def tap(label):
            try:
                barrier.wait(timeout=10)
                outcomes[label] = deploy_site.shift_check_in(actor=person.supporter, shift=shift)
            except ValidationError as error:
                outcomes[label] = error.messages
            except Exception as error:  # noqa: BLE001 - any other failure is recorded, and fails the test
                outcomes[label] = repr(error)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=tap, args=(label,)) for label in ("phone", "tablet")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        DeployedSupporter.objects.filter(pk=person.pk).update(status=DeployedSupporter.Status.DEMOBILIZED)
        Deployment.objects.filter(pk=deployment.pk).update(status=Deployment.Status.DEMOBILIZED)
        assert sorted(outcomes.values()) == [False, True], outcomes
        assert deployment.events.filter(kind=Kind.CHECKED_IN).count() == 1
        assert DeploymentShift.objects.get(pk=shift.pk).checked_in_at is not None


@pytest.mark.django_db
def test_the_deployed_supporters_own_page_runs_within_the_page_budget(client, world, site):
    """The access matrix and the query budget walk the world's identities, none of them deployed: measured here."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.test_query_budget import BUDGET, TRANSACTION_CONTROL

    deployment, first, _second = site
    _checked_out(deployment, first)
    deploy_site.wellbeing_choose(actor=first.supporter, person=first, choice="check_in")
    for hours in (1, 30, 50):
        _shift(deployment, first, starts_in=datetime.timedelta(hours=hours))
    client.force_login(first.supporter)
    client.get(_url(deployment, "site"))
    with CaptureQueriesContext(connection) as queries:
        response = client.get(_url(deployment, "site") + "?step=wellbeing")
    assert response.status_code == 200 and "A check-in in a few days" in response.content.decode()
    sql = [q["sql"] for q in queries.captured_queries if not TRANSACTION_CONTROL.match(q["sql"])]
    assert len(sql) <= BUDGET, "\n".join(sql)


# --- The board ----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_board_shows_on_site_due_overdue_and_released_people(client, world, site):
    deployment, first, second = site
    on_site = _shift(deployment, first, starts_in=-datetime.timedelta(hours=1))
    deploy_site.shift_check_in(actor=first.supporter, shift=on_site)
    _shift(deployment, second, starts_in=-datetime.timedelta(minutes=40))
    (soon,) = _people(world, deployment, world.b[Role.CLINICIAN])
    _shift(deployment, soon, starts_in=datetime.timedelta(minutes=60))
    (released,) = _people(world, deployment, world.b[Role.CHIEF], status=DeployedSupporter.Status.RELEASED)
    sections = {s["deployment"].pk: s for s in deploy_site.board_deployments(world.activation)}
    mine = sections[deployment.pk]
    assert [r["shift"].person_id for r in mine["on_site"]] == [first.pk]
    assert [r["shift"].person_id for r in mine["overdue"]] == [second.pk]
    assert [r["shift"].person_id for r in mine["due"]] == [soon.pk]
    assert [r["person"].pk for r in mine["ended"]] == [released.pk]
    client.force_login(world.a[Role.COORDINATOR])
    page = client.get(f"/activations/{world.activation.uuid}/board/").content.decode()
    assert "Deployment: North station" in page and "On site now" in page and "Overdue to check in" in page
    assert "Demobilised or released" in page
    # A demobilised deployment leaves the board.
    Deployment.objects.filter(pk=deployment.pk).update(status=Deployment.Status.DEMOBILIZED)
    assert deployment.pk not in {s["deployment"].pk for s in deploy_site.board_deployments(world.activation)}


# --- Overdue escalation -------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_overdue_check_in_is_escalated_once_to_the_requester_and_the_lead_coordinators_without_names(
    world, site, django_capture_on_commit_callbacks
):
    deployment, first, second = site
    late = _shift(deployment, first, starts_in=-datetime.timedelta(minutes=20))
    checked = _shift(deployment, second, starts_in=-datetime.timedelta(minutes=50))
    deploy_site.shift_check_in(actor=second.supporter, shift=checked)
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        deploy_site.check_ins_overdue_escalate(now=now)  # 20 minutes: not yet
    late.refresh_from_db()
    assert late.escalated_at is None
    later = now + datetime.timedelta(minutes=15)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        deploy_site.check_ins_overdue_escalate(now=later)
    late.refresh_from_db()
    assert late.escalated_at == later
    event = deployment.events.get(kind=Kind.CHECK_IN_OVERDUE)
    assert event.subject == first.supporter and event.actor is None
    ours = [m for m in mail.outbox if "North station" in m.subject]
    assert len(ours) == 1
    assert world.a[Role.COORDINATOR].email in ours[0].to
    text = ours[0].subject + ours[0].body
    assert first.supporter.get_full_name() not in text and first.supporter.email not in text
    with django_capture_on_commit_callbacks(execute=True):
        deploy_site.check_ins_overdue_escalate(now=later + datetime.timedelta(minutes=5))
    assert deployment.events.filter(kind=Kind.CHECK_IN_OVERDUE).count() == 1  # once


@pytest.mark.django_db
def test_the_overdue_escalation_runs_from_beat_every_five_minutes(settings, world, site):
    assert settings.CELERY_BEAT_SCHEDULE["deployment-check-ins-overdue"] == {
        "task": "activations.tasks.deployment_check_ins_overdue_task",
        "schedule": 300.0,
    }
    deployment, first, _second = site
    late = _shift(deployment, first, starts_in=-datetime.timedelta(minutes=40))
    assert deployment_check_ins_overdue_task() >= 1
    late.refresh_from_db()
    assert late.escalated_at is not None


# --- The supporters' own wellbeing --------------------------------------------------------------------------------


def _checked_out(deployment, person) -> DeploymentShift:
    shift = _shift(deployment, person, starts_in=-datetime.timedelta(hours=2))
    deploy_site.shift_check_in(actor=person.supporter, shift=shift)
    deploy_site.shift_check_out(actor=person.supporter, shift=shift)
    return shift


@pytest.mark.django_db
def test_at_check_out_the_supporter_chooses_a_defusing_owned_by_their_home_coordinators(client, world, site):
    deployment, first, _second = site
    client.force_login(first.supporter)
    with refused("not_checked_out"):
        deploy_site.wellbeing_choose(actor=first.supporter, person=first, choice="defusing")
    _checked_out(deployment, first)
    page = client.get(_url(deployment, "site") + "?step=wellbeing").content.decode()
    assert "A defusing" in page and "A check-in in a few days" in page and "Not now" in page
    client.post(_url(deployment, "site"), {"action": "wellbeing", "choice": "defusing"})
    wellbeing = SupporterWellbeing.objects.get(person=first)
    today = timezone.localdate()
    assert (wellbeing.home_agency, wellbeing.choice) == (world.agency_b, "defusing")
    assert wellbeing.due_on == today + datetime.timedelta(days=1)
    # Changed later from the same page: still one per person per deployment.
    client.post(_url(deployment, "site"), {"action": "wellbeing", "choice": "check_in"})
    wellbeing = SupporterWellbeing.objects.get(person=first)
    assert (wellbeing.choice, wellbeing.due_on) == ("check_in", today + datetime.timedelta(days=3))
    client.post(_url(deployment, "site"), {"action": "wellbeing", "choice": "not_now"})
    assert SupporterWellbeing.objects.get(person=first).due_on is None
    audit = AuditEvent.objects.filter(action=AuditAction.DEPLOYMENT_WELLBEING, object_id=str(wellbeing.pk))
    assert audit.count() == 3 and AuditAction.DEPLOYMENT_WELLBEING in CARE_ACTIONS
    # Nothing of it in the activation's timeline: the activation's coordinators never see it.
    assert not world.activation.events.filter(kind__icontains="wellbeing").exists()
    with refused("no_rights"):  # nobody chooses for them
        deploy_site.wellbeing_choose(actor=world.a[Role.COORDINATOR], person=first, choice="defusing")


@pytest.mark.django_db
def test_only_the_home_agencys_coordinators_see_the_check_and_mark_it_done(client, world, site):
    deployment, first, _second = site
    _checked_out(deployment, first)
    wellbeing = deploy_site.wellbeing_choose(actor=first.supporter, person=first, choice="defusing")
    name = first.supporter.get_full_name()
    client.force_login(world.b[Role.COORDINATOR])
    page = client.get(agency_url(world.agency_b, "followup_list")).content.decode()
    assert "Deployed supporters to check on" in page and name in page and "North station" in page
    # Not the requester (lead agency's coordinator), not on the board.
    client.force_login(world.a[Role.COORDINATOR])
    assert (
        "Deployed supporters to check on"
        not in client.get(agency_url(world.agency_a, "followup_list")).content.decode()
    )
    board = client.get(f"/activations/{world.activation.uuid}/board/").content.decode()
    assert "defusing" not in board.lower()
    # Another agency's coordinator: 404, on their own agency's address.
    done_a = f"/a/{world.agency_a.slug}/follow-ups/wellbeing/{wellbeing.pk}/done/"
    assert client.post(done_a).status_code == 404
    # A supporter or a chief of the home agency: 404 (coordinators only).
    done_b = f"/a/{world.agency_b.slug}/follow-ups/wellbeing/{wellbeing.pk}/done/"
    for user in (world.b[Role.PEER_SUPPORTER], world.b[Role.CHIEF]):
        client.force_login(user)
        assert client.post(done_b).status_code == 404
    client.force_login(world.b[Role.COORDINATOR])
    assert client.post(done_b).status_code == 302
    wellbeing.refresh_from_db()
    assert wellbeing.done_at is not None and wellbeing.done_by == world.b[Role.COORDINATOR]
    page = client.get(agency_url(world.agency_b, "followup_list")).content.decode()
    assert "Deployed supporters to check on" not in page


@pytest.mark.stack
def test_the_overdue_escalation_runs_on_the_real_worker(stack, world, django_db_blocker):
    """Committed, on an activation of its own, demobilised at the end: the real Celery worker runs the beat task."""
    import time

    def wait_for(check, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return True
            time.sleep(0.25)
        return False

    with django_db_blocker.unblock():
        activation = open_activation(world, name="Worker overdue")
        deployment = _deployment(world, activation=activation, reporting_location="Worker station")
        (person,) = _people(world, deployment, world.b[Role.PEER_SUPPORTER])
        shift = _shift(deployment, person, starts_in=-datetime.timedelta(minutes=40))
        try:
            deployment_check_ins_overdue_task.delay()
            escalated = wait_for(lambda: DeploymentShift.objects.get(pk=shift.pk).escalated_at is not None)
            assert escalated, stack.log_tail("worker")
            assert wait_for(lambda: "overdue at Worker station" in stack.sent_mail()), stack.log_tail("worker")
            ours = [m.read_text(errors="replace") for m in stack.mail_dir.glob("*")]
            ours = [text for text in ours if "Worker station" in text]
            assert ours and all(person.supporter.get_full_name() not in text for text in ours)
        finally:
            DeployedSupporter.objects.filter(pk=person.pk).update(status=DeployedSupporter.Status.DEMOBILIZED)
            Deployment.objects.filter(pk=deployment.pk).update(status=Deployment.Status.DEMOBILIZED)


@pytest.mark.django_db
def test_the_timeline_and_the_ics214_log_keep_the_moment_of_a_check_in_and_who_did_it(world, site):
    """The event is dated when the check-in took place (the time the service was given), and the activity log says
    "by" only when a coordinator acted for the supporter."""
    from activations import deploy_hours

    deployment, first, second = site
    own = _shift(deployment, first, starts_in=-datetime.timedelta(hours=3))
    for_them = _shift(deployment, second, starts_in=-datetime.timedelta(hours=3))
    moment = timezone.now() - datetime.timedelta(hours=2)
    deploy_site.shift_check_in(actor=first.supporter, shift=own, now=moment)
    deploy_site.shift_check_in(actor=world.a[Role.COORDINATOR], shift=for_them, now=moment)
    events = list(deployment.events.filter(kind=Kind.CHECKED_IN).order_by("pk"))
    assert [e.at for e in events] == [moment, moment]
    log = [text for _at, text in deploy_hours.ics214_of(deployment).activity]
    own_name, their_name = first.supporter.get_full_name(), second.supporter.get_full_name()
    assert any(t.startswith(f"{own_name} (") and t.endswith("checked in on site.") for t in log), log
    coordinator = world.a[Role.COORDINATOR].get_full_name()
    assert any(t.startswith(f"{their_name} (") and t.endswith(f"checked in on site by {coordinator}.") for t in log), (
        log
    )


@pytest.mark.django_db
def test_hostile_posts_to_the_supporters_own_forms_answer_without_a_server_error(world, site):
    """The forms the fuzzer's crawl cannot reach (no identity of its holds a place): the check-in page's actions and
    the wellbeing step, as the deployed supporter, and marking a wellbeing check done, as the home coordinator."""
    from django.test import Client

    deployment, first, _second = site
    shift = _shift(deployment, first, starts_in=-datetime.timedelta(hours=2))
    deploy_site.shift_check_in(actor=first.supporter, shift=shift)
    client = Client(raise_request_exception=False)
    client.force_login(first.supporter)
    url = _url(deployment, "site")
    junk = ["", "\x00", "²", "-1", "99999999999999999999", "1e309", "<script>", str(shift.pk) + "'"]
    for data in (
        {},
        *({"action": value} for value in junk),
        *({"action": "check_in", "shift": value} for value in junk),
        *({"action": "check_out", "shift": value} for value in junk),
        *({"action": "wellbeing", "choice": value} for value in junk),
        {"action": ["wellbeing", "check_out"], "choice": ["defusing", "\x00"]},
    ):
        assert client.post(url, data).status_code in (200, 302, 404), data
    shift.refresh_from_db()
    assert shift.checked_out_at is None  # no junk checked them out
    deploy_site.shift_check_out(actor=first.supporter, shift=shift)
    check = deploy_site.wellbeing_choose(actor=first.supporter, person=first, choice="defusing")
    for data in ({"action": "wellbeing", "choice": value} for value in junk):
        assert client.post(url, data).status_code in (200, 302, 404), data
    check.refresh_from_db()
    assert check.choice == "defusing"  # junk changed nothing
    client.force_login(world.b[Role.COORDINATOR])
    for wellbeing_id in ("0", "99999999", str(check.pk + 1000)):
        done = client.post(agency_url(world.agency_b, "deployment_wellbeing_done", wellbeing_id=wellbeing_id))
        assert done.status_code in (302, 404), wellbeing_id
    check.refresh_from_db()
    assert check.done_at is None
