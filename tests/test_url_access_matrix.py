"""Every URL pattern x every identity: nobody gets through where the view's access rule says no.

New views are covered automatically: the walk finds them, and a view without an access rule
(one of the access decorators: network.access, agencies.access, activations.access) fails the first test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from agencies.models import Role
from network.models import NetworkRole
from tests import support

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Route:
    template: str  # e.g. "a/<slug:agency_slug>/members/<int:membership_id>/role/"
    name: str
    callback: object

    @property
    def kwargs(self) -> list[str]:
        return re.findall(r"<(?:\w+:)?(\w+)>", self.template)


def all_routes() -> list[Route]:
    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield Route(prefix + str(pattern.pattern), pattern.name or "", pattern.callback)

    return list(walk(get_resolver().url_patterns))


@dataclass(frozen=True)
class Identity:
    label: str
    user: object | None
    agency_roles: dict  # agency pk -> role
    network_roles: frozenset
    activation_perms: frozenset = frozenset()  # held on the world's activation (led by A; B not in it)


COORDINATE, SUPPORT, SUMMARY = "coordinate_activation", "support_activation", "view_activation_summary"
DEPLOYED = "deployed"  # a place on one of the activation's deployments (activations.access): no identity here holds one
# The grants activation_open gives each role of a participating agency.
ROLE_GRANTS = {
    Role.COORDINATOR: {COORDINATE, SUPPORT},
    Role.PEER_SUPPORTER: {SUPPORT},
    Role.CHIEF: {SUMMARY},
}
NETWORK_GRANTS = frozenset({COORDINATE, SUMMARY})


@pytest.fixture(autouse=True)
def export_sample(world, settings, tmp_path):
    """A finished offboarding export of agency A, file included, for the export routes."""
    settings.MUSTER_EXPORT_DIR = str(tmp_path)
    support.ready_export(world, tmp_path)


def identities(world) -> list[Identity]:
    people = [Identity("anonymous", None, {}, frozenset())]
    for role in Role:
        grants = frozenset(ROLE_GRANTS.get(role, ()))
        a_roles, b_roles = {world.agency_a.pk: role.value}, {world.agency_b.pk: role.value}
        people.append(Identity(f"A:{role.value}", world.a[role.value], a_roles, frozenset(), grants))
        people.append(Identity(f"B:{role.value}", world.b[role.value], b_roles, frozenset()))
    state, regional = NetworkRole.Role.STATE_ADMIN, NetworkRole.Role.REGIONAL_COORDINATOR
    people.append(Identity("state_admin", world.state_admin, {}, frozenset({state}), NETWORK_GRANTS))
    people.append(Identity("regional_a", world.regional_a, {}, frozenset({regional}), NETWORK_GRANTS))
    people.append(Identity("outsider", world.outsider, {}, frozenset()))
    return people


def sample_kwargs(world, route: Route, agency) -> dict[str, str]:
    """Values for a route's URL arguments. Objects always belong to agency A."""
    samples = {
        "agency_slug": agency.slug,
        "agency_id": str(world.agency_a.pk),
        "membership_id": str(world.membership(world.agency_a, Role.PEER_SUPPORTER).pk),
        "token": "not-a-real-token",
        "uidb64": "MQ",
        "encounter_uuid": str(world.encounter.uuid),
        "follow_up_uuid": str(world.follow_up.uuid),
        "disclosure_uuid": str(world.disclosure.uuid),
        "activation_uuid": str(world.activation.uuid),
        "target_uuid": str(world.target.uuid),
        "action": "callout",
        "run_id": str(world.run.pk),
        "agreement_uuid": str(world.agreement.uuid),
        "incident_type": "major-fire",
        "item_id": "1",
        "follow_up_id": "1",
        "export_id": str(world.export.pk),
        "request_uuid": str(world.member_request.uuid),
        "cross_request_uuid": str(world.cross_request.uuid),
        "request_token": world.request_token,
        "checkin_token": world.checkin_token,
        "entry_uuid": str(world.resource.uuid),
        "referral_uuid": str(world.referral.uuid),
        "deployment_uuid": str(world.deployment.uuid),
        "wellbeing_id": "1",
    }
    missing = [name for name in route.kwargs if name not in samples]
    assert not missing, f"{route.template}: add a sample value for {missing} to sample_kwargs()"
    return {name: samples[name] for name in route.kwargs}


def build_path(route: Route, kwargs: dict[str, str]) -> str:
    path = route.template
    for name, value in kwargs.items():
        path = re.sub(rf"<(?:\w+:)?{name}>", value, path)
    return "/" + path.lstrip("^").rstrip("$")


def admitted(rule, identity: Identity, agency) -> bool:
    if rule.scope == "public":
        return True
    if identity.user is None:
        return False
    if rule.scope == "authenticated":
        return True
    if rule.scope == "agency":
        return identity.agency_roles.get(agency.pk) in rule.agency_roles
    if rule.scope == "network":
        return bool(identity.network_roles & rule.network_roles)
    if rule.scope == "activation":
        return bool(identity.activation_perms & rule.activation_perms)
    raise AssertionError(f"unknown scope {rule.scope}")


def request_as(client, identity: Identity, method: str, path: str):
    client.logout()
    if identity.user is not None:
        client.force_login(identity.user)
    return client.get(path) if method == "GET" else client.post(path, {})


def refused(response, identity: Identity) -> bool:
    if response.status_code == 405:
        return True  # the method is not served at all
    if identity.user is None:
        return response.status_code == 302 and "/login/" in response["Location"]
    return response.status_code == 404


# The reviewed policy: who each page is for. A new view must be added here, which makes its
# audience a deliberate, reviewed decision rather than whatever the decorator happened to say.
ANY_AGENCY_ROLE = frozenset(Role.values)
STATE = frozenset({NetworkRole.Role.STATE_ADMIN})
NETWORK = frozenset({NetworkRole.Role.STATE_ADMIN, NetworkRole.Role.REGIONAL_COORDINATOR})
SUPPORTERS = frozenset({Role.PEER_SUPPORTER, Role.COORDINATOR})
POLICY = {
    "landing": ("public",),
    "healthz": ("public",),
    "login": ("public",),
    "logout": ("public",),
    "mfa_verify": ("authenticated",),  # the MFA step: the signed-in user's own code and devices
    "mfa_enroll": ("authenticated",),
    "mfa_recovery_codes": ("authenticated",),
    "account_mobile": ("authenticated",),  # the signed-in person's own mobile number for callouts
    # The text and voice provider's webhooks: public URLs, each refusing (403) a request without the
    # provider's signature (tests/test_callout_phone.py).
    "phone_sms": ("public",),
    "phone_voice_gather": ("public",),
    "phone_status": ("public",),
    "password_reset": ("public",),
    "password_reset_done": ("public",),
    "password_reset_confirm": ("public",),
    "password_reset_complete": ("public",),
    "invitation_accept": ("public",),
    "home": ("authenticated",),
    "network_home": ("network", NETWORK),
    "network_agency_create": ("network", STATE),
    "network_agency_detail": ("network", STATE),
    "network_agency_progress": ("network", STATE),
    "network_agency_retry": ("network", STATE),
    "network_agency_offboarding": ("network", STATE),
    "network_agency_export": ("network", STATE),
    "network_agency_export_download": ("network", STATE),
    "network_standard": ("network", STATE),
    "network_standard_publish": ("network", STATE),
    "network_policy": ("network", STATE),
    "network_audit": ("network", STATE),
    "network_account_status": ("network", STATE),
    "agency_audit": ("agency", frozenset({Role.AGENCY_ADMIN})),
    "network_mfa_reset": ("network", STATE),
    "agency_home": ("agency", ANY_AGENCY_ROLE),
    "agency_members": ("agency", frozenset({Role.AGENCY_ADMIN})),
    "agency_member_set_role": ("agency", frozenset({Role.AGENCY_ADMIN})),
    "agency_member_deactivate": ("agency", frozenset({Role.AGENCY_ADMIN})),
    "encounter_new": ("agency", SUPPORTERS),
    "encounter_list": ("agency", SUPPORTERS | {Role.CLINICIAN}),
    "encounter_detail": ("agency", SUPPORTERS | {Role.CLINICIAN}),
    "encounter_legal_hold": ("agency", frozenset({Role.COORDINATOR})),
    "encounter_disclosure_new": ("agency", SUPPORTERS),
    "followup_list": ("agency", SUPPORTERS),
    "followup_complete": ("agency", SUPPORTERS),
    "followup_reassign": ("agency", frozenset({Role.COORDINATOR})),
    "followup_scheduled_done": ("agency", SUPPORTERS),
    "disclosure_list": ("agency", frozenset({Role.COORDINATOR, Role.CLINICIAN})),
    "disclosure_detail": ("agency", frozenset({Role.COORDINATOR, Role.CLINICIAN})),
    "agency_activation_open": ("agency", frozenset({Role.COORDINATOR})),
    "agency_roster": ("agency", frozenset({Role.COORDINATOR, Role.AGENCY_ADMIN})),
    "agency_roster_member": ("agency", frozenset({Role.COORDINATOR, Role.AGENCY_ADMIN})),
    "agency_roster_import": ("agency", frozenset({Role.COORDINATOR, Role.AGENCY_ADMIN})),
    "agency_roster_confirm": ("agency", frozenset({Role.COORDINATOR, Role.AGENCY_ADMIN})),
    "agency_directory": ("agency", frozenset({Role.COORDINATOR})),
    "agency_dashboard": ("agency", frozenset({Role.CHIEF, Role.COORDINATOR, Role.AGENCY_ADMIN})),
    "agency_dashboard_csv": ("agency", frozenset({Role.CHIEF, Role.COORDINATOR, Role.AGENCY_ADMIN})),
    "network_dashboard": ("network", NETWORK),
    "network_dashboard_csv": ("network", NETWORK),
    "network_snapshots_rebuild": ("network", STATE),
    "network_snapshot_run": ("network", STATE),
    "network_activation_open": ("network", NETWORK),
    "activation_list": ("authenticated",),
    "activation_home": ("activation", frozenset({COORDINATE, SUPPORT, SUMMARY, DEPLOYED})),
    "activation_board": ("activation", frozenset({COORDINATE})),
    "activation_board_live": ("activation", frozenset({COORDINATE})),
    "activation_summary": ("activation", frozenset({COORDINATE, SUMMARY})),
    "activation_mine": ("activation", frozenset({SUPPORT})),
    "activation_members_add": ("activation", frozenset({COORDINATE})),
    "activation_agencies_add": ("activation", frozenset({COORDINATE})),
    "activation_target_assign": ("activation", frozenset({COORDINATE})),
    "activation_target_duplicate": ("activation", frozenset({COORDINATE})),
    "activation_target_outreach": ("activation", frozenset({COORDINATE, SUPPORT})),
    "activation_action": ("activation", frozenset({COORDINATE})),
    "activation_checklist_done": ("activation", frozenset({COORDINATE})),
    "activation_follow_up_done": ("activation", frozenset({COORDINATE, SUPPORT})),
    "network_agreements": ("network", NETWORK),
    "network_agreement_create": ("network", STATE),
    "network_agreement": ("network", NETWORK),
    "network_agreement_decide": ("network", STATE),
    "network_agreement_document": ("network", NETWORK),
    "network_protocols": ("network", NETWORK),
    "network_protocol_edit": ("network", STATE),
    "agency_agreements": ("agency", frozenset({Role.AGENCY_ADMIN, Role.COORDINATOR})),
    "agency_agreement_propose": ("agency", frozenset({Role.AGENCY_ADMIN})),
    "agency_agreement_document": ("agency", frozenset({Role.AGENCY_ADMIN})),
    # Members' requests (docs/members.md): the request page and the check-in link are public; a request is seen by
    # its queue's coordinators and the supporter it was given to, never by a chief, an agency admin or the state
    # admin. The region's queue is the regional coordinators' alone.
    "member_request_form": ("public",),
    "checkin_answer": ("public",),
    "member_request_queue": ("agency", frozenset({Role.COORDINATOR})),
    "member_requests_mine": ("agency", SUPPORTERS),
    "member_request_detail": ("agency", SUPPORTERS),
    "member_request_close": ("agency", SUPPORTERS),
    "member_request_poster": ("agency", frozenset({Role.COORDINATOR, Role.AGENCY_ADMIN})),
    "member_request_rotate": ("agency", frozenset({Role.COORDINATOR, Role.AGENCY_ADMIN})),
    "network_member_requests": ("network", frozenset({NetworkRole.Role.REGIONAL_COORDINATOR})),
    "network_member_request": ("network", frozenset({NetworkRole.Role.REGIONAL_COORDINATOR})),
    "network_member_request_close": ("network", frozenset({NetworkRole.Role.REGIONAL_COORDINATOR})),
    # Issue 18: the referral directory (kept by the state admin and regional coordinators).
    "network_resources": ("network", NETWORK),
    "network_resource_create": ("network", NETWORK),
    "network_resource_import": ("network", NETWORK),
    "network_resources_csv": ("network", NETWORK),
    "network_resource": ("network", NETWORK),
    "network_resource_confirm": ("network", NETWORK),
    "network_directory_feedback": ("network", STATE),
    "activation_target_supporter_request": ("activation", frozenset({COORDINATE})),
    "encounter_refer": ("agency", SUPPORTERS),
    # Issue 19: a deployment's hours, ICS-214 log and demobilisation are the activation's coordinators' (the service
    # narrows demobilising to the lead agency's coordinators and the network roles); the home agency's page of its
    # own deployed people is its coordinators' and its agency admin's, never a chief's or a supporter's.
    "deployment_hours": ("activation", frozenset({COORDINATE})),
    "deployment_hours_csv": ("activation", frozenset({COORDINATE})),
    "deployment_ics214": ("activation", frozenset({COORDINATE})),
    "deployment_demobilize": ("activation", frozenset({COORDINATE})),
    "agency_deployed_people": ("agency", frozenset({Role.COORDINATOR, Role.AGENCY_ADMIN})),
    "referral_detail": ("agency", SUPPORTERS | {Role.CLINICIAN}),
    # Issue 19, a deployment on site: the rotation planner is the activation's coordinators'; the check-in page
    # theirs and the deployed supporter's own (DEPLOYED: a place on this very deployment); a deployed supporter's
    # own wellbeing check is marked done by their home agency's coordinators only.
    "deployment_planner": ("activation", frozenset({COORDINATE})),
    "deployment_site": ("activation", frozenset({COORDINATE, "deployed"})),
    "deployment_wellbeing_done": ("agency", frozenset({Role.COORDINATOR})),
    # Issue 19: regional deployment. The request form is also refused (404) inside the view to a coordinator of a
    # participating agency other than the lead (tests/test_deploy_requests.py); the deployment page shows a deployed
    # supporter their own place only; the confirm page is the deployed supporter's alone.
    "deployment_new": ("activation", frozenset({COORDINATE})),
    "deployment_detail": ("activation", frozenset({COORDINATE, DEPLOYED})),
    "deployment_confirm": ("activation", frozenset({DEPLOYED})),
    "agency_deployment_requests": ("agency", frozenset({Role.COORDINATOR})),
}


def test_every_route_matches_the_reviewed_policy():
    problems = []
    for route in all_routes():
        rule = getattr(route.callback, "access_rule", None)
        expected = POLICY.get(route.name)
        if expected is None:
            problems.append(f"{route.name or route.template}: not in POLICY; add who it is for")
            continue
        roles = (
            {"agency": rule.agency_roles, "network": rule.network_roles, "activation": rule.activation_perms}.get(
                rule.scope
            )
            if rule
            else None
        )
        actual = (rule.scope,) if rule and rule.scope in ("public", "authenticated") else (rule and rule.scope, roles)
        if actual != expected:
            problems.append(f"{route.name}: declared {actual}, policy says {expected}")
    assert not problems, "\n".join(problems)


def test_every_view_declares_an_access_rule():
    missing = [r.template for r in all_routes() if not hasattr(r.callback, "access_rule")]
    assert not missing, f"views without an access decorator: {missing}"


def test_the_walk_finds_agency_network_and_public_routes():
    scopes = {r.callback.access_rule.scope for r in all_routes()}
    assert {"public", "authenticated", "agency", "network", "activation"} <= scopes


def waits_for_close(route: Route, identity: Identity) -> bool:
    """Leadership (the summary permission alone) sees an activation only once it is closed, and the
    world's activation is open: those pages answer 404 to them."""
    if route.name == "activation_summary":
        return COORDINATE not in identity.activation_perms
    if route.name == "activation_home":
        return not identity.activation_perms & {COORDINATE, SUPPORT}
    return False


def test_nobody_gets_past_a_view_their_role_does_not_admit(client, world):
    failures = []
    for route in all_routes():
        rule = route.callback.access_rule
        path = build_path(route, sample_kwargs(world, route, world.agency_a))
        for identity in identities(world):
            if admitted(rule, identity, world.agency_a) and not waits_for_close(route, identity):
                response = request_as(client, identity, "GET", path)
                # Public pages may 404 on a made-up token; pages behind a rule must open.
                shut = (403, 500) if rule.scope == "public" else (403, 404, 500)
                if response.status_code in shut:
                    failures.append(f"{identity.label} GET {path} -> {response.status_code} (should be admitted)")
                continue
            for method in ("GET", "POST"):
                response = request_as(client, identity, method, path)
                if not refused(response, identity):
                    failures.append(f"{identity.label} {method} {path} -> {response.status_code} (should be refused)")
    assert not failures, "\n".join(failures)


# Objects that belong to several agencies at once: the sample agreement is signed by A and B, so B's
# admin rightly reads it. tests/test_governance.py proves a non-party agency gets 404.
SHARED_BY_PARTIES = {"agency_agreement_document"}


def test_another_agencys_object_answers_404_under_your_own_agency(client, world):
    """Agency B's staff, on B's own pages, asking for agency A's objects by id, get 404."""
    failures = []
    object_routes = [
        r
        for r in all_routes()
        if r.callback.access_rule.scope == "agency"
        and set(r.kwargs) - {"agency_slug"}
        and r.name not in SHARED_BY_PARTIES
    ]
    assert object_routes, "expected agency routes that take object ids"
    for route in object_routes:
        path = build_path(route, sample_kwargs(world, route, world.agency_b))
        for identity in identities(world):
            if not admitted(route.callback.access_rule, identity, world.agency_b):
                continue
            for method in ("GET", "POST"):
                response = request_as(client, identity, method, path)
                if response.status_code not in (404, 405):
                    failures.append(f"{identity.label} {method} {path} -> {response.status_code}")
    assert not failures, "\n".join(failures)


def test_unknown_or_unready_agency_path_answers_404(client, world):
    client.force_login(world.a[Role.AGENCY_ADMIN])
    assert client.get("/a/no-such-agency/").status_code == 404


@pytest.mark.parametrize("suspended", ["lead", "joined"])
def test_a_suspended_agencys_people_get_404_on_every_activation_url(client, world, suspended):
    """Every role of a suspended agency, on every activation URL (and every page of the agency), GET and
    POST: 404. Whether the agency leads the activation (A) or joined it (B), rights end with the status."""
    from activations import services as activation_services
    from agencies import offboarding

    activation_services.activation_add_agency(
        actor=world.a[Role.COORDINATOR], activation=world.activation, agency=world.agency_b
    )
    agency, staff = (world.agency_a, world.a) if suspended == "lead" else (world.agency_b, world.b)
    people = [Identity(f"suspended {agency.slug}:{role.value}", staff[role.value], {}, frozenset()) for role in Role]
    # Before suspension the agency's coordinator and supporter do get in: the 404s below are the
    # suspension's doing, not a missing grant. (A chief sees nothing of an open activation anyway; their
    # closed-activation summary is tested in tests/test_suspended_agency.py.)
    board = f"/activations/{world.activation.uuid}/"
    for role in (Role.COORDINATOR, Role.PEER_SUPPORTER):
        assert (
            request_as(client, Identity(role.value, staff[role.value], {}, frozenset()), "GET", board).status_code
            == 302
        )
    offboarding.agency_suspend(actor=world.state_admin, agency=agency)

    routes = [r for r in all_routes() if r.callback.access_rule.scope in ("activation", "agency")]
    assert sum(r.callback.access_rule.scope == "activation" for r in routes) >= 10
    failures = []
    for route in routes:
        path = build_path(route, sample_kwargs(world, route, agency))
        for identity in people:
            for method in ("GET", "POST"):
                response = request_as(client, identity, method, path)
                if not refused(response, identity):  # 404 (405 where the method is not served at all)
                    failures.append(f"{identity.label} {method} {path} -> {response.status_code}")
    assert not failures, "\n".join(failures)
