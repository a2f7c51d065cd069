"""Test helpers: the world every test can use, built through the same services the app uses."""

from __future__ import annotations

import contextlib
import functools
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, tenant_context

from activations import services as activation_services
from agencies import services as agency_services
from agencies.models import Agency, AgencyExport, Discipline, Membership, Role
from agencies.roster import services as roster_services
from encounters import maintenance as encounter_maintenance
from encounters import selectors as encounter_selectors
from encounters import services as encounter_services
from encounters.models import CheckIn
from governance import services as governance_services
from members import services as member_services
from network import services as network_services
from network import standards
from network.models import Network, NetworkRole
from reporting import services as reporting_services

PASSWORD = "correct-horse-battery-staple"
User = get_user_model()
ROOT = Path(__file__).resolve().parent.parent
NOT_APP_CODE = {".venv", ".data", ".git", "tests", "static", "benchmarks", "templates", "node_modules"}


def app_modules() -> Iterator[Path]:
    """Every Python module of the application (not tests, benchmarks or tooling), relative to the root: what the
    one-way-for-each-chore guards read (tests/test_csv_exports.py, tests/test_notify.py)."""
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if relative.parts[0] not in NOT_APP_CODE:
            yield relative


@dataclass
class World:
    """Two agencies in two regions, a user for every role in each, and the network roles."""

    network_id: int
    agency_a: Agency
    agency_b: Agency
    # role -> user, per agency
    a: dict[str, object] = field(default_factory=dict)
    b: dict[str, object] = field(default_factory=dict)
    state_admin: object = None
    regional_a: object = None  # regional coordinator of agency A's region
    outsider: object = None  # signed-in user with no role anywhere
    two_agency_user: object = None  # peer supporter in A and coordinator in B
    # In agency A's schema: an encounter by A's peer supporter (with notes, a clinician referral to
    # A's clinician and an escalation), its follow-up, and its disclosure record.
    encounter: object = None
    follow_up: object = None
    disclosure: object = None
    # An open activation led by A (B does not take part), with A's supporters called out and one
    # affected member assigned to A's peer supporter.
    activation: object = None
    target: object = None
    run: object = None  # a finished reporting snapshot run over everything above
    # A and B signed mutual aid (joint activation and cross-agency outreach), recorded by the state admin.
    agreement: object = None
    export: object = None  # an offboarding export, set by the tests that need one
    # Members' requests (members app): one of A's members asked for someone from A, given to A's peer supporter;
    # another asked for someone from another agency (the North region's queue), not yet given to anyone.
    member_request: object = None
    cross_request: object = None
    request_token: str = ""  # agency A's request page: /r/<token>/
    checkin_token: str = ""  # a sent check-in of an encounter by A's peer supporter (the member agreed)
    # A referral directory entry of the North region (agency A's, the regional coordinator's), kept by the state admin.
    resource: object = None
    # In agency A's schema: a referral from the world's encounter to that entry, made by A's coordinator (their
    # follow-up, due in 30 days: the supporter's own follow-ups and reminders stay as they were).
    referral: object = None
    # Issue 19: a deployment of the activation under way (`deployment_sample`): one of B's supporters confirmed.
    deployment: object = None

    def membership(self, agency: Agency, role: str) -> Membership:
        users = self.a if agency.pk == self.agency_a.pk else self.b
        return Membership.objects.get(agency=agency, user=users[role])


# --- Requests: sign in, agency pages, the encounter form ---------------------------------------------------


def login_as(client_or_page, user, *, password: str = PASSWORD, base_url: str = "", **extra):
    """Sign `user` in through the sign-in form, as a person does.

    A Django test client posts the form and the response is returned (`extra` goes to the post:
    `follow=True`, `REMOTE_ADDR=...`). A Playwright page opens the form at `base_url` (the stack's), fills
    it in and waits for the answer to load, whatever it is (a home page, the MFA step, a refusal).
    `client.force_login(user)` stays the way to be signed in when the sign-in itself is not the point."""
    if hasattr(client_or_page, "goto"):
        page = client_or_page
        page.goto(base_url + reverse("login"))
        page.get_by_label("E-mail").fill(user.email)
        page.get_by_label("Password").fill(password)
        with page.expect_navigation():
            page.get_by_role("button", name="Sign in").click()
        return page
    return client_or_page.post(reverse("login"), {"username": user.email, "password": password}, **extra)


def agency_url(agency, name: str, **kwargs) -> str:
    """The path of the agency page named `name` (a URL name under /a/<slug>/), for `agency`."""
    return reverse(name, kwargs={"agency_slug": agency.slug, **kwargs})


def encounter_form_data(**overrides) -> dict:
    """A complete, valid POST of the encounter form (as a supporter's phone sends it), with a fresh
    submission key; `overrides` change or add fields (`follow_up_due_on`, `notes`, `outreach_target`...)."""
    data = {
        "submission_key": str(uuid.uuid4()),
        "occurred_on": timezone.localdate().isoformat(),
        "duration_band": "15-29",
        "contact_mode": "in-person",
        "initiator": "peer-outreach",
        "topics": ["critical-incident"],
        "interventions": ["one-on-one"],
        "confidentiality_notice": "yes",
        "recipient_relation": "own-agency",
        "recipient_discipline": "fire",
        "role_class": "firefighter-ems",
        "visit_number": "1",
        "referral": "none",
    }
    data.update(overrides)
    return data


# --- Refusals --------------------------------------------------------------------------------------------------


def error_codes(error: ValidationError) -> list[str]:
    """The codes a ValidationError carries, however it was built (one message, a list, or a dict per field)."""
    if hasattr(error, "error_dict"):
        return [item.code for items in error.error_dict.values() for item in items]
    return [item.code for item in error.error_list]


@contextmanager
def refused(code: str) -> Iterator[pytest.ExceptionInfo[ValidationError]]:
    """Expect the block to raise a ValidationError carrying `code`: tests match a refusal by its stable code,
    never by its sentence (which may be reworded for the people who read it)."""
    with pytest.raises(ValidationError) as caught:
        yield caught
    assert code in error_codes(caught.value), f"refused for another reason: {caught.value.messages}"


def make_user(email: str, full_name: str = "Test Person"):
    user = network_services.user_create(email=email, full_name=full_name, password=PASSWORD)
    return user


def make_agency(*, actor, network, region, slug: str, name: str | None = None, discipline=Discipline.FIRE) -> Agency:
    """An agency whose schema is built synchronously (the Celery path has its own tests)."""
    return agency_services.agency_create(
        actor=actor,
        network=network,
        name=name or slug.replace("-", " ").title(),
        slug=slug,
        discipline=discipline,
        region=region,
        provision_async=False,
    )


def build_world() -> World:
    network = network_services.network_get_or_create(name="Test Network", slug="test-network")
    north = network_services.region_get_or_create(network=network, name="North", slug="north")
    south = network_services.region_get_or_create(network=network, name="South", slug="south")
    state_admin = make_user("state@test.example", "State Admin")
    network_services.network_role_grant(
        actor=None, user=state_admin, network=network, role=NetworkRole.Role.STATE_ADMIN
    )
    regional = make_user("regional@test.example", "Regional North")
    network_services.network_role_grant(
        actor=state_admin, user=regional, network=network, role=NetworkRole.Role.REGIONAL_COORDINATOR, region=north
    )
    agency_a = make_agency(actor=state_admin, network=network, region=north, slug="alpha-fire")
    agency_b = make_agency(
        actor=state_admin, network=network, region=south, slug="bravo-police", discipline=Discipline.LAW_ENFORCEMENT
    )
    world = World(
        network_id=network.pk, agency_a=agency_a, agency_b=agency_b, state_admin=state_admin, regional_a=regional
    )
    for agency, users, tag in ((agency_a, world.a, "a"), (agency_b, world.b, "b")):
        for role in Role:
            user = make_user(f"{role.value}.{tag}@test.example", f"{role.label} {tag.upper()}")
            agency_services.membership_add(actor=state_admin, user=user, agency=agency, role=role)
            users[role.value] = user
    world.outsider = make_user("outsider@test.example", "No Role")
    world.two_agency_user = make_user("two@test.example", "Two Agencies")
    agency_services.membership_add(
        actor=state_admin, user=world.two_agency_user, agency=agency_a, role=Role.PEER_SUPPORTER
    )
    agency_services.membership_add(
        actor=state_admin, user=world.two_agency_user, agency=agency_b, role=Role.COORDINATOR
    )
    for membership in Membership.objects.filter(role__in=[Role.PEER_SUPPORTER, Role.COORDINATOR]):
        make_ready(membership, actor=state_admin)
    standards.policy_update(actor=state_admin, network=network, notes_enabled=True)
    world.encounter = log_encounter(
        agency_a,
        author=world.a[Role.PEER_SUPPORTER],
        notes=WORLD_NOTE,
        referral="clinician",
        referred_to=world.a[Role.CLINICIAN],
        follow_up_due_on=timezone.localdate(),
        escalation=True,
    )
    world.follow_up = follow_up_of(agency_a, world.encounter)
    world.disclosure = encounter_services.disclosure_record(
        actor=world.a[Role.PEER_SUPPORTER],
        agency=agency_a,
        encounter=world.encounter,
        exception="suicide-risk",
        disclosed_at=timezone.now(),
        notified=["clinician"],
    )
    world.agreement = agreement_record(world, [agency_a, agency_b])
    world.member_request = member_services.request_assign(
        actor=world.a[Role.COORDINATOR],
        row=member_request_submit(agency_a, contact="+15550100101"),
        supporter=world.membership(agency_a, Role.PEER_SUPPORTER),
    )
    world.cross_request = member_request_submit(
        agency_a, contact="+15550100102", served_by="other", contact_visible_to="supporter"
    )
    world.request_token = member_services.address_ensure(agency=agency_a).token
    checked_on = log_encounter(
        agency_a,
        author=world.a[Role.PEER_SUPPORTER],
        checkin_contact="member@test.example",
    )
    # The first check-in, as beat sends it a week later (the encounter itself is today's, as the world's others).
    encounter_maintenance.checkins_send_due(agency=agency_a, today=timezone.localdate() + timedelta(days=7))
    with tenant_context(agency_a):
        world.checkin_token = encounter_selectors.checkin_token(
            agency_a, CheckIn.objects.get(plan__encounter_id=checked_on.pk, sent_at__isnull=False)
        )
    world.activation = activation_services.activation_open(
        actor=world.a[Role.COORDINATOR],
        lead_agency=agency_a,
        incident_type="major-fire",
        name="Warehouse fire",
        occurred_at=timezone.now() - timedelta(hours=6),
        location="Riverside district",
    )
    activation_services.callout_send(actor=world.a[Role.COORDINATOR], activation=world.activation)
    (world.target,) = activation_services.targets_add(
        actor=world.a[Role.COORDINATOR],
        activation=world.activation,
        home_agency=agency_a,
        entries=[(WORLD_MEMBER, "engineer")],
        exposure="direct",
    )
    world.target = activation_services.target_assign(
        actor=world.a[Role.COORDINATOR],
        target=world.target,
        supporter=world.a[Role.PEER_SUPPORTER],
        expected_supporter_id=None,
    )
    world.resource = make_resource(world, name="North Trauma Clinic", region=north)
    # A second, statewide clinician: the world encounter's referral step still offers one to refer to (the fuzzer).
    make_resource(world, name="Statewide Responder Clinic", region=None)
    world.referral = encounter_services.referral_make(
        actor=world.a[Role.COORDINATOR],
        agency=agency_a,
        encounter=world.encounter,
        resource=world.resource,
        follow_up_due_on=timezone.localdate() + timedelta(days=30),
    )
    world.run = reporting_services.run_execute(run_id=reporting_services.run_request(enqueue=False).pk)
    world.deployment = deployment_sample(world)
    return world


def member_request_submit(agency, **overrides):
    """A member's request through the real service (as the public page sends it), with typical choices."""
    arguments = dict(
        who="member",
        contact_kind="phone",
        contact="+15550100199",
        good_time="any",
        urgency="today",
        topic="work-stress",
        served_by="own",
        contact_visible_to="coordinator",
    )
    arguments.update(overrides)
    return member_services.request_submit(agency=agency, **arguments)


def make_resource(world, *, name: str, region=None, **overrides):
    """A vetted, confirmed directory entry of the world's network, saved by the state admin."""
    values = {
        "region": region,
        "kind": "clinician",
        "name": name,
        "contact": "555-0100",
        "disciplines": [],
        "serves_family": True,
        "serves_retirees": True,
        "specialties": ["trauma"],
        "methods": ["emdr"],
        "first_responder_trained": True,
        "languages": ["English"],
        "telehealth": True,
        "insurance": ["Medicaid"],
        "eap_accepted": True,
        "accepting_new_clients": True,
        "wait_days": 7,
        "confirmed_on": timezone.localdate(),
        "vetted_by": "Network clinical director",
        "vetted_on": timezone.localdate() - timedelta(days=30),
        "vetted_until": timezone.localdate() + timedelta(days=335),
        "active": True,
    }
    values.update(overrides)
    return governance_services.resource_save(
        actor=world.state_admin, network=Network.objects.get(pk=world.network_id), **values
    )


def ready_export(world, directory) -> None:
    """A finished offboarding export of agency A, file included in `directory` (the MUSTER_EXPORT_DIR of
    the test): the sample the access matrix and the fuzzer use for the export URLs."""
    (directory / "alpha-export.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    world.export = AgencyExport.objects.create(
        agency=world.agency_a,
        requested_by=world.state_admin,
        status=AgencyExport.Status.READY,
        file_name="alpha-export.zip",
        size_bytes=22,
    )


def signed_pdf(name: str = "signed.pdf") -> SimpleUploadedFile:
    """A minimal PDF upload standing in for a signed agreement."""
    return SimpleUploadedFile(name, b"%PDF-1.4\n% signed agreement\n%%EOF\n", content_type="application/pdf")


def agreement_record(world, parties, *, scopes=("joint-activation", "cross-agency-outreach"), **overrides):
    """An agreement in force between `parties`, recorded by the state admin through the real service."""
    arguments = dict(
        actor=world.state_admin,
        network=world.agency_a.network,
        title=f"Mutual aid {'-'.join(p.slug for p in parties)}",
        network_wide=False,
        parties=list(parties),
        scopes=list(scopes),
        effective_on=timezone.localdate() - timedelta(days=30),
        expires_on=timezone.localdate() + timedelta(days=365),
        document=signed_pdf(),
    )
    arguments.update(overrides)
    return governance_services.agreement_record(**arguments)


def open_activation(world, **overrides):
    """An activation led by agency A through the real service; overrides change any argument."""
    arguments = dict(
        actor=world.a[Role.COORDINATOR],
        lead_agency=world.agency_a,
        incident_type="mci",
        name="Route 9 bus crash",
        occurred_at=timezone.now() - timedelta(hours=2),
        location="Route 9",
    )
    arguments.update(overrides)
    return activation_services.activation_open(**arguments)


SAMPLE_DEPLOYMENT_LOCATION = "Riverside family assistance centre"


def deployment_sample(world):
    """A deployment of the world's activation under way (issue 19), made with the models, once per test transaction:
    agency B's offer accepted, one of B's supporters confirmed (none of the matrix's identities, whose rights it
    knows), who worked a shift the day before yesterday and has one starting within the hour and one tomorrow.
    Nobody is on site, so closing the world's activation still works. For the pages' sample URLs."""
    from activations.models import DeployedSupporter, Deployment, DeploymentOffer, DeploymentShift

    deployment = Deployment.objects.filter(
        activation=world.activation, reporting_location=SAMPLE_DEPLOYMENT_LOCATION
    ).first()
    if deployment is not None:
        return deployment
    now, today = timezone.now(), timezone.localdate()
    coordinator = world.a[Role.COORDINATOR]
    deployment = Deployment.objects.create(
        activation=world.activation,
        requested_by=coordinator,
        supporters_wanted=2,
        starts_on=today - timedelta(days=2),
        ends_on=today + timedelta(days=2),
        reporting_location=SAMPLE_DEPLOYMENT_LOCATION,
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
    supporter = User.objects.filter(email="deployed.b@test.example").first()
    if supporter is None:
        supporter = make_user("deployed.b@test.example", "Deployed B")
        membership = agency_services.membership_add(
            actor=world.state_admin, user=supporter, agency=world.agency_b, role=Role.PEER_SUPPORTER
        )
        # Ready, as a deployed supporter is (and with a profile: the demo seeder's roster profiles everyone without).
        make_ready(membership, actor=world.state_admin)
    person = DeployedSupporter.objects.create(
        deployment=deployment,
        offer=offer,
        supporter=supporter,
        home_agency=world.agency_b,
        status=DeployedSupporter.Status.CONFIRMED,
        confirmed_at=now,
        confirmed_via="web",
    )
    worked = now - timedelta(hours=40)
    DeploymentShift.objects.create(
        deployment=deployment,
        person=person,
        starts_at=worked,
        ends_at=worked + timedelta(hours=12),
        checked_in_at=worked,
        checked_out_at=worked + timedelta(hours=12),
        created_by=coordinator,
    )
    soon = now + timedelta(minutes=30)
    for start in (soon, soon + timedelta(days=1)):
        DeploymentShift.objects.create(
            deployment=deployment,
            person=person,
            starts_at=start,
            ends_at=start + timedelta(hours=12),
            created_by=coordinator,
        )
    return deployment


def deployment_grow(world, supporters: list, *, home_agency) -> None:
    """More history on the sample deployment (the query budget's large world): each of `supporters` a demobilised
    place from `home_agency` (so no access comes of it) with two worked shifts and their timeline events."""
    from activations.models import ActivationEvent, DeployedSupporter, DeploymentOffer, DeploymentShift

    deployment = deployment_sample(world)
    coordinator = world.a[Role.COORDINATOR]
    now = timezone.now()
    offer = DeploymentOffer.objects.create(
        deployment=deployment,
        agency=home_agency,
        offered_by=coordinator,
        status=DeploymentOffer.Status.ACCEPTED,
        decided_by=coordinator,
        decided_at=now,
    )
    for user in supporters:
        person = DeployedSupporter.objects.create(
            deployment=deployment,
            offer=offer,
            supporter=user,
            home_agency=home_agency,
            status=DeployedSupporter.Status.DEMOBILIZED,
            confirmed_at=now,
            ended_at=now,
        )
        for day in (2, 1):
            start = now - timedelta(days=day)
            DeploymentShift.objects.create(
                deployment=deployment,
                person=person,
                starts_at=start,
                ends_at=start + timedelta(hours=8),
                checked_in_at=start,
                checked_out_at=start + timedelta(hours=8),
                created_by=coordinator,
            )
            for kind in (ActivationEvent.Kind.CHECKED_IN, ActivationEvent.Kind.CHECKED_OUT):
                ActivationEvent.objects.create(
                    activation=world.activation, kind=kind, actor=user, agency=home_agency, deployment=deployment
                )


def make_ready(membership, *, actor=None):
    """A designated, trained, available supporter (designated two years ago, current basic training)."""
    today = timezone.localdate()
    roster_services.profile_update(actor=actor, membership=membership, designated_on=today - timedelta(days=730))
    roster_services.certification_add(
        actor=actor,
        membership=membership,
        kind="peer-basic",
        certified_on=today - timedelta(days=365),
        expires_on=today + timedelta(days=365),
    )


WORLD_MEMBER = "Jordan Q. Example"
WORLD_NOTE = "Talked through the night shift; wants a check-in Friday."


def log_encounter(agency, *, author, **overrides):
    """An encounter through the real service, with typical codes (the service enters the agency's schema)."""
    arguments = dict(
        submission_key=uuid.uuid4(),
        occurred_on=timezone.localdate(),
        duration_band="15-29",
        contact_mode="phone",
        initiator="self",
        recipient_relation="own-agency",
        recipient_discipline="fire",
        role_class="firefighter-ems",
        topics=["work-stress"],
        interventions=["one-on-one"],
        referral="none",
        confidentiality_notice_given=True,
    )
    arguments.update(overrides)
    standard = standards.standard_ensure_default(network=agency.network)
    encounter, _created = encounter_services.encounter_log(author=author, agency=agency, standard=standard, **arguments)
    return encounter


def follow_up_of(agency, encounter):
    """The follow-up of an encounter logged in `agency`, read from the agency's schema."""
    with tenant_context(agency):
        return encounter.follow_ups.get()


def refreshed(agency, row):
    """`row` (an agency-schema model instance) re-read from `agency`'s schema."""
    with tenant_context(agency):
        row.refresh_from_db()
    return row


# --- Publication (tests/test_publication.py, tests/test_reporting.py) ----------------------------------------


def entered(agency, *, author, on, **codes):
    """An encounter entered on the day `on` (and, unless `occurred_on` says otherwise, that happened then)."""
    import datetime

    from encounters.models import Encounter, FollowUp

    codes.setdefault("occurred_on", on)
    encounter = log_encounter(agency, author=author, **codes)
    with tenant_context(agency):
        at = timezone.make_aware(datetime.datetime.combine(on, datetime.time(12)))
        Encounter.objects.filter(pk=encounter.pk).update(created_at=at)
        FollowUp.objects.filter(encounter=encounter).update(created_at=at)
    return encounter


def joined(agency, on) -> None:
    """Record that `agency` joined the network on the day `on` (its first published period is that month)."""
    import datetime

    Agency.objects.filter(pk=agency.pk).update(
        created_at=timezone.make_aware(datetime.datetime.combine(on, datetime.time(9)))
    )


def grow_roster(agency, count: int) -> list:
    """Add `count` peer supporters to the agency's roster."""
    users = []
    for _ in range(count):
        user = make_user(f"supporter-{uuid.uuid4().hex[:8]}@test.example")
        agency_services.membership_add(actor=None, user=user, agency=agency, role=Role.PEER_SUPPORTER)
        users.append(user)
    return users


# --- Tenancy guards (docs/tenancy.md) ------------------------------------------------------------------------


@functools.cache
def _tenant_tables() -> re.Pattern:
    """Every table that lives in the agency schemas (the TENANT_APPS' models and their many-to-many tables)."""
    tables = {
        model._meta.db_table
        for app in settings.TENANT_APPS
        for model in apps.get_app_config(app.rsplit(".", 1)[-1]).get_models(include_auto_created=True)
    }
    return re.compile(r"\b(" + "|".join(sorted(map(re.escape, tables), key=len, reverse=True)) + r")\b")


_GUARDS: list = []  # the guards in force, innermost last: only the innermost one judges a query


@contextlib.contextmanager
def _query_guard(name: str, check):
    """Fail the test on any query for which `check(sql)` names a problem, even if the code swallows errors.
    Guards nest: inside `public_only()`, an `only_schema(agency)` block is judged by its own rule only."""
    problems = []
    token = object()

    def guard(execute, sql, params, many, context):
        if _GUARDS and _GUARDS[-1] is token:
            problem = check(sql)
            if problem:
                problems.append(problem)
                pytest.fail(f"{name}: {problem}\n  {sql[:300]}")
        return execute(sql, params, many, context)

    _GUARDS.append(token)
    try:
        with connection.execute_wrapper(guard):
            yield
    finally:
        _GUARDS.remove(token)
    if problems:  # raised inside and caught by the code under test: still a failure
        pytest.fail(f"{name}: {problems[0]}")


def public_only(*, routed_to: Agency | None = None):
    """Fail the test if code inside touches an agency's side: any query naming an agency-schema table, or any
    query run with an agency's schema on the search path. `routed_to`: a page under /a/<slug>/ runs with that
    agency's search path (the routing middleware sets it), so it is allowed; its rows are still not."""
    public = get_public_schema_name()
    allowed = {public} | ({routed_to.schema_name} if routed_to is not None else set())

    def check(sql: str) -> str | None:
        if connection.schema_name not in allowed:
            return f"query ran in agency schema {connection.schema_name!r}"
        found = _tenant_tables().search(sql)
        if found:
            return f"query touched agency table {found.group(1)}"
        return None

    return _query_guard("public_only", check)


def only_schema(agency: Agency):
    """Fail the test if code inside queries an agency-schema table while the connection is in any schema but
    `agency`'s (public included): agency rows are read and written in their own agency's schema only."""

    def check(sql: str) -> str | None:
        found = _tenant_tables().search(sql)
        if found and connection.schema_name != agency.schema_name:
            return f"{found.group(1)} queried in schema {connection.schema_name!r}, not {agency.schema_name!r}"
        return None

    return _query_guard(f"only_schema({agency.slug})", check)
