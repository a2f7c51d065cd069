"""Composed home pages: the landing page, the router that sends each user home, the network's home and
each agency role's home. They read from every layer below and write nothing but the session's
remembered agency."""

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from activations.models import Activation, CalloutResponse
from activations.selectors import activations_for_user
from agencies.access import agency_view
from agencies.models import Agency, Invitation, Membership, Role
from agencies.selectors import agencies_for_network_user, memberships_of
from encounters import selectors as encounter_selectors
from governance.models import Agreement
from governance.selectors import resources_flagged_count
from network.access import is_state_admin, login_view, network_roles_for, network_view, public_view, region_ids_for
from network.models import NetworkRole
from network.selectors import network_current

ALL_ROLES = tuple(Role)
STATE_ADMIN = NetworkRole.Role.STATE_ADMIN
REGIONAL_COORDINATOR = NetworkRole.Role.REGIONAL_COORDINATOR


@public_view
def landing(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("home")
    return render(request, "network/landing.html")


@login_view
def home(request: HttpRequest) -> HttpResponse:
    """Send each user to the home page of their role: network roles first, then their last agency."""
    memberships = memberships_of(request.user)
    last_slug = request.session.get("last_agency")
    preferred = next((m for m in memberships if m.agency.slug == last_slug), None)
    if preferred is not None:
        return redirect("agency_home", agency_slug=preferred.agency.slug)
    if network_roles_for(request.user):
        return redirect("network_home")
    if memberships:
        return redirect("agency_home", agency_slug=memberships[0].agency.slug)
    return render(request, "network/no_access.html")


@network_view(STATE_ADMIN, REGIONAL_COORDINATOR)
def network_home(request: HttpRequest) -> HttpResponse:
    region_ids = region_ids_for(request)
    agencies = list(agencies_for_network_user(region_ids))
    template = "network/home_state_admin.html" if is_state_admin(request) else "network/home_regional.html"
    regions = sorted({role.region.name for role in request.network_roles if role.region_id})
    network = network_current()
    return render(
        request,
        template,
        {
            "agencies": agencies,
            "regions": regions,
            "network": network,
            "status_counts": {status.label: sum(1 for a in agencies if a.status == status) for status in Agency.Status},
            "expiring_agreements": Agreement.objects.expiring().count(),
            "pending_agreements": Agreement.objects.filter(status=Agreement.Status.PROPOSED).count(),
            "flagged_resources": resources_flagged_count(network) if is_state_admin(request) else 0,
        },
    )


HOME_TEMPLATES = {
    Role.PEER_SUPPORTER: "agencies/home_peer_supporter.html",
    Role.COORDINATOR: "agencies/home_coordinator.html",
    Role.CLINICIAN: "agencies/home_clinician.html",
    Role.CHIEF: "agencies/home_chief.html",
    Role.AGENCY_ADMIN: "agencies/home_agency_admin.html",
}


def _team(agency, roles):
    return (
        Membership.objects.filter(agency=agency, is_active=True, role__in=roles)
        .select_related("user")
        .order_by("role", "user__full_name")
    )


@agency_view(*ALL_ROLES)
def agency_home(request: HttpRequest) -> HttpResponse:
    agency, membership = request.tenant, request.membership
    if request.session.get("last_agency") != agency.slug:
        request.session["last_agency"] = agency.slug  # written only when it changes: a reload writes nothing
    context = {"agency": agency, "membership": membership}
    if membership.role in (Role.PEER_SUPPORTER, Role.CLINICIAN):
        context["contacts"] = _team(agency, [Role.COORDINATOR, Role.CLINICIAN])
    if membership.role == Role.COORDINATOR:
        context["team"] = _team(agency, [Role.PEER_SUPPORTER, Role.COORDINATOR, Role.CLINICIAN])
    if membership.role in (Role.CHIEF, Role.AGENCY_ADMIN):
        # Leadership sees counts only: no names.
        counts = dict(
            Membership.objects.filter(agency=agency, is_active=True)
            .values_list("role")
            .annotate(n=Count("id"))
            .values_list("role", "n")
        )
        context["role_counts"] = [(role.label, counts.get(role.value, 0)) for role in Role]
    if membership.role in (Role.PEER_SUPPORTER, Role.COORDINATOR):
        # Agency follow-ups and the activation follow-ups of the members held through this agency alike.
        coordinator = membership.role == Role.COORDINATOR
        counts = encounter_selectors.follow_up_counts_of_supporter(membership, team=coordinator)
        context["my_open"], context["my_overdue"] = counts["open"], counts["overdue"]
        if coordinator:
            context["team_overdue"] = counts["team_overdue"]
    if membership.role in (Role.PEER_SUPPORTER, Role.COORDINATOR, Role.CHIEF):
        open_activations = (
            activations_for_user(request.user)
            .filter(participations__agency=agency)
            .exclude(status=Activation.Status.CLOSED)
        )
        context["open_activations"] = open_activations
        context["pending_callouts"] = CalloutResponse.objects.filter(
            supporter=request.user, answer=CalloutResponse.Answer.PENDING, activation__in=open_activations
        ).select_related("activation")
    if membership.role == Role.CLINICIAN:
        context["referral_count"] = encounter_selectors.encounters_visible_to(membership).count()
    if membership.role == Role.AGENCY_ADMIN:
        context["pending_invitations"] = Invitation.objects.filter(
            agency=agency, accepted_at__isnull=True, revoked_at__isnull=True
        ).count()
    return render(request, HOME_TEMPLATES[Role(membership.role)], context)
