"""A query budget for every page (issue 15 §1): every URL pattern, opened (GET) by each identity that may
see it, runs at most BUDGET SQL statements, and the same number whether the network's history is small or
large: a page whose statement count grows with the data has an N+1 somewhere.

The walk is the access matrix's (tests/test_url_access_matrix.py): a new page is measured the day it is
added. Each page is measured on its second request, as a person reloading it would: the first request of a
session also writes the session's activity stamp (once a minute, network/sessions.py), which is not the
page's cost.
"""

from __future__ import annotations

import datetime
import re
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tenants.utils import tenant_context

from activations import services as activation_services
from activations.models import Activation, ChecklistItem
from agencies.models import Membership, Role
from encounters import services as encounter_services
from encounters.models import DisclosureRecord, Encounter, FollowUp
from governance import services as governance_services
from network.audit import AuditAction, audit_record
from tests import support
from tests.test_url_access_matrix import (
    admitted,
    all_routes,
    build_path,
    identities,
    sample_kwargs,
    waits_for_close,
)

pytestmark = pytest.mark.django_db

BUDGET = 12
# Savepoints are how a test's transaction shows the BEGIN and COMMIT of production, which Django does not
# report as queries either: a page is charged for its statements, not for its transaction control.
TRANSACTION_CONTROL = re.compile(r"^(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT) ")

# Pages allowed more, each with its ceiling and the reason. The test fails when such a page passes its ceiling
# and when it comes within BUDGET (remove it from here then), so the list only shrinks.
OVER_BUDGET: dict[str, int] = {}


@pytest.fixture(autouse=True)
def _export_sample(world, settings, tmp_path):
    settings.MUSTER_EXPORT_DIR = str(tmp_path)
    support.ready_export(world, tmp_path)
    support.deployment_sample(world)


@pytest.fixture(autouse=True)
def _data_keys_stay_cached(settings):
    """Each process reads a data key once a minute (network/crypto.py, MUSTER_KEY_CACHE_SECONDS), not once per
    page: a walk that takes longer than that would charge the re-read to whichever page came next."""
    from network.crypto import forget_cached_keys

    settings.MUSTER_KEY_CACHE_SECONDS = 3600
    forget_cached_keys()
    yield
    forget_cached_keys()


def clone_rows(model, source_ids: list[int], copies: int, params: tuple = (), **overrides: str) -> None:
    """Copy rows of `model` (in the current schema) `copies` times each, in one INSERT ... SELECT;
    `overrides` are SQL expressions for columns over the source row `s` and the copy number `n`, with
    `params` for their placeholders."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(f'"{f.column}"' for f in fields)
    values = ", ".join(overrides.get(f.column, f's."{f.column}"') for f in fields)
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO "{table}" ({columns}) SELECT {values} '  # noqa: S608 - table and columns from the model
            f'FROM "{table}" s, generate_series(1, %s) n WHERE s.id = ANY(%s)',
            [*params, copies, source_ids],
        )


def with_protocol(world) -> None:
    """The world's activation as if its incident type had a protocol when it opened: a checklist (one step
    done) and a 7/30/90-day follow-up schedule for every member added from now on."""
    protocol = governance_services.protocol_save(
        actor=world.state_admin,
        network=world.activation.network,
        incident_type=world.activation.incident_type,
        name="Major fire",
        steps=[("Call out the team", 0, 1), ("Defusing", 2, 12), ("Debriefing", 24, 72)],
        follow_up_days=[7, 30, 90],
    )
    Activation.objects.filter(pk=world.activation.pk).update(protocol=protocol, follow_up_days=[7, 30, 90])
    occurred = world.activation.occurred_at
    ChecklistItem.objects.bulk_create(
        ChecklistItem(
            activation=world.activation,
            position=step.position,
            title=step.title,
            not_before=occurred + datetime.timedelta(hours=step.not_before_hours),
            due_at=occurred + datetime.timedelta(hours=step.due_hours),
            done_at=occurred + datetime.timedelta(minutes=30) if step.position == 1 else None,
            done_by=world.a[Role.COORDINATOR] if step.position == 1 else None,
        )
        for step in protocol.steps.all()
    )
    world.activation.refresh_from_db()


def grow(world, *, encounters: int, people: int, members: int, activations: int) -> None:
    """Add to agency A's history: `encounters` encounters by three supporters (co-supported, referred), a
    follow-up for each (a third of them done), one disclosure per ten; audit events; `people` more ready
    supporters called out and answering; `members` affected members in the world's activation, the first
    `people` of them assigned; `activations` more activations led by agency A. Encounters are copied in SQL
    from three logged through the service."""
    agency = world.agency_a
    if world.activation.protocol_id is None:
        with_protocol(world)
    authors = [world.a[Role.PEER_SUPPORTER], world.a[Role.COORDINATOR], world.two_agency_user]
    seeds = [
        support.log_encounter(
            agency,
            author=author,
            co_supporters=[authors[(index + 1) % len(authors)]],
            occurred_on=timezone.localdate() - datetime.timedelta(days=3),
            follow_up_due_on=timezone.localdate() + datetime.timedelta(days=index - 1),
            escalation=True,
            referral="clinician",
            referred_to=world.a[Role.CLINICIAN],
        )
        for index, author in enumerate(authors)
    ]
    encounter_services.disclosure_record(
        actor=authors[0],
        agency=agency,
        encounter=seeds[0],
        exception="suicide-risk",
        disclosed_at=timezone.now(),
        notified=["clinician"],
    )
    with tenant_context(agency):
        seed_ids = [e.pk for e in seeds]
        before = set(Encounter.objects.values_list("pk", flat=True))
        clone_rows(Encounter, seed_ids, encounters // 3, uuid="gen_random_uuid()", submission_key="gen_random_uuid()")
        new = sorted(set(Encounter.objects.values_list("pk", flat=True)) - before)
        clone_rows(
            FollowUp,
            [FollowUp.objects.get(encounter=seeds[0]).pk],
            len(new),
            (new,),
            uuid="gen_random_uuid()",
            encounter_id="(%s::bigint[])[n]",
            status="CASE WHEN n %% 3 = 0 THEN 'done' ELSE s.status END",
        )
        clone_rows(
            DisclosureRecord,
            [DisclosureRecord.objects.get(encounter=seeds[0]).pk],
            len(new) // 10,
            (new,),
            uuid="gen_random_uuid()",
            encounter_id="(%s::bigint[])[n]",
        )
    for _ in range(encounters // 30):
        audit_record(action=AuditAction.ROSTER_CONFIRMED, actor=world.a[Role.COORDINATOR], agency=agency)
    supporters = support.grow_roster(agency, people)
    for user in supporters:
        support.make_ready(Membership.objects.get(user=user, agency=agency), actor=world.state_admin)
    coordinator = world.a[Role.COORDINATOR]
    activation_services.callout_send(actor=coordinator, activation=world.activation)
    for user in supporters:
        activation_services.callout_answer(
            supporter=user, activation=world.activation, answer="available", involved=False
        )
    targets = activation_services.targets_add(
        actor=coordinator,
        activation=world.activation,
        home_agency=agency,
        entries=[(f"Member {uuid.uuid4().hex[:8]}", "firefighter") for _ in range(members)],
        exposure="direct",
    )
    for number in range(activations):
        support.open_activation(world, name=f"Incident {number}", participating=[world.agency_b])
    for target, supporter in zip(targets, supporters, strict=False):
        activation_services.target_assign(
            actor=coordinator, target=target, supporter=supporter, expected_supporter_id=None
        )


# Who measures each page: the first two of these it admits (the coordinator sees the most of an agency, the
# supporter their own; the state admin the most of the network), so the walk stays quick.
MEASURED_AS = ["A:coordinator", "A:peer_supporter", "state_admin", "A:agency_admin", "A:chief", "A:clinician"]


def statements_per_page(client, world) -> dict[tuple[str, str], tuple[int, list[str]]]:
    """(page, identity) -> (statements of its second GET, their SQL), for every page that answers GET."""
    people = sorted(
        identities(world), key=lambda i: MEASURED_AS.index(i.label) if i.label in MEASURED_AS else len(MEASURED_AS)
    )
    counts = {}
    for route in all_routes():
        rule = route.callback.access_rule
        path = build_path(route, sample_kwargs(world, route, world.agency_a))
        chosen = [i for i in people if admitted(rule, i, world.agency_a) and not waits_for_close(route, i)][:2]
        for identity in chosen:
            client.logout()
            if identity.user is not None:
                client.force_login(identity.user)
            client.get(path)
            with CaptureQueriesContext(connection) as queries:
                response = client.get(path)
            if response.status_code == 405:
                break  # a POST-only action: no page to measure
            sql = [q["sql"] for q in queries.captured_queries if not TRANSACTION_CONTROL.match(q["sql"])]
            counts[(route.name, identity.label)] = (len(sql), sql)
    return counts


def test_every_page_runs_a_bounded_number_of_statements_whatever_the_data_size(client, world):
    grow(world, encounters=30, people=2, members=4, activations=1)
    small = statements_per_page(client, world)
    grow(world, encounters=3000, people=20, members=300, activations=8)
    large = statements_per_page(client, world)
    assert small.keys() == large.keys()
    assert len({page for page, _ in small}) >= 50, "the walk should reach every page"

    problems = []
    for (page, who), (count, sql) in sorted(large.items()):
        before = small[(page, who)][0]
        if count > before:
            problems.append(f"{page} as {who}: {before} statements with a small history, {count} with a large one")
        ceiling = OVER_BUDGET.get(page, BUDGET)
        if count > ceiling:
            listing = "\n    ".join(sql)
            problems.append(f"{page} as {who}: {count} statements, budget {ceiling}:\n    {listing}")
    for page in OVER_BUDGET:
        worst = max((count for (name, _), (count, _) in large.items() if name == page), default=0)
        if worst <= BUDGET:
            problems.append(f"{page} is now within the budget ({worst}): remove it from OVER_BUDGET")
    assert not problems, "\n".join(problems)


# --- What the budget rests on ---------------------------------------------------------------------------------


def _statements(client, path: str) -> list[str]:
    client.get(path)
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return [q["sql"] for q in queries.captured_queries]


def test_a_page_reads_who_the_user_is_once_for_the_access_check_the_navigation_and_the_page(client, world):
    """The agency home checks the membership (agency_view), lists the user's agencies and network roles in the
    navigation and finds their activations (through the same memberships): one read of each."""
    client.force_login(world.a[Role.COORDINATOR])
    sql = _statements(client, support.agency_url(world.agency_a, "agency_home"))
    mine = '"agencies_membership"."user_id" = '  # the user's own memberships, not a team list
    memberships = [s for s in sql if 'FROM "agencies_membership"' in s and mine in s.split(" WHERE ", 1)[-1]]
    roles = [s for s in sql if 'FROM "network_networkrole"' in s]
    assert len(memberships) == 1, memberships
    assert len(roles) == 1, roles


def test_an_agency_page_sets_the_search_path_once_and_a_run_of_network_pages_not_at_all(client, world):
    """The agency's address names its schema: the agency is looked up under that search path (agencies are
    public tables), so the one SET the page needs is also the lookup's."""
    client.force_login(world.a[Role.COORDINATOR])
    sets = [s for s in _statements(client, support.agency_url(world.agency_a, "encounter_list")) if "search_path" in s]
    assert sets == ['SET search_path = "agency_alpha_fire","public"']
    client.force_login(world.state_admin)
    client.get("/network/")  # the connection comes back to public once...
    sets = [s for s in _statements(client, "/network/") if "search_path" in s]
    assert sets == []  # ...and stays there: the next network page sends no SET


def test_what_a_request_learnt_of_its_user_is_forgotten_when_a_membership_changes_within_it(world):
    from agencies import services as agency_services
    from agencies.selectors import memberships_of
    from network.request_cache import RequestCacheMiddleware

    user = world.outsider
    seen = []

    def view(request):
        seen.append(len(memberships_of(user)))
        seen.append(len(memberships_of(user)))  # answered from memory
        agency_services.membership_add(actor=world.state_admin, user=user, agency=world.agency_b, role=Role.CHIEF)
        seen.append(len(memberships_of(user)))

    with CaptureQueriesContext(connection) as queries:
        RequestCacheMiddleware(view)(object())
    reads = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("SELECT") and 'FROM "agencies_membership" INNER JOIN "agencies_agency"' in q["sql"]
    ]
    assert seen == [0, 0, 1]
    assert len(reads) == 2  # once before the change, once after it: not three times


def test_outside_a_request_nothing_is_remembered(world):
    from network.access import network_roles_for
    from network.models import NetworkRole
    from network.services import network_role_grant

    user = world.outsider
    assert network_roles_for(user) == []
    network_role_grant(
        actor=world.state_admin, user=user, network=world.agency_a.network, role=NetworkRole.Role.STATE_ADMIN
    )
    assert [r.role for r in network_roles_for(user)] == [NetworkRole.Role.STATE_ADMIN]


# Saving an encounter: the request's own (the search path, the agency, session, user, MFA device, memberships),
# the standard, the form's and the service's checks (the co-supporters, the submission key), the encounter, its
# co-supporters and its follow-up in one INSERT each, the audit event (two), the reports' change mark and the
# outbox message. After a real commit the outbox sends it (two more; a test's transaction never commits). It
# was 22: the form read its co-supporter and activation lists to draw a page it did not draw, the
# service read the standard's terms the form had just checked, and the co-supporters went in through the
# related manager (a read, a read, a write).
ENCOUNTER_POST_BUDGET = 17


def test_saving_an_encounter_with_a_co_supporter_and_a_follow_up_runs_a_bounded_number_of_statements(client, world):
    grow(world, encounters=300, people=2, members=4, activations=2)
    supporter = world.a[Role.PEER_SUPPORTER]
    co_supporter = world.a[Role.COORDINATOR]
    client.force_login(supporter)
    path = support.agency_url(world.agency_a, "encounter_new")
    client.get(path)
    data = support.encounter_form_data(
        co_supporters=[str(co_supporter.pk)], follow_up_due_on=timezone.localdate().isoformat()
    )
    with CaptureQueriesContext(connection) as queries:
        response = client.post(path, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    sql = [q["sql"] for q in queries.captured_queries if not TRANSACTION_CONTROL.match(q["sql"])]
    assert len(sql) <= ENCOUNTER_POST_BUDGET, f"{len(sql)} statements:\n" + "\n".join(s[:200] for s in sql)
    with tenant_context(world.agency_a):
        saved = Encounter.objects.get(submission_key=data["submission_key"])
        assert list(saved.co_supporters.values_list("pk", flat=True)) == [co_supporter.pk]
        assert FollowUp.objects.filter(encounter=saved).count() == 1
