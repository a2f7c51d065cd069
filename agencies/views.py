"""Agency pages under /a/<slug>/: each role's home page and the agency admin's member management."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from activations.models import Activation, CalloutResponse
from activations.selectors import activations_for_user
from agencies import services
from agencies.access import agency_view
from agencies.forms import InvitationForm, MembershipRoleForm
from agencies.models import Invitation, Membership, Role
from encounters import selectors as encounter_selectors
from network.forms import add_service_errors

ALL_ROLES = tuple(Role)

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
    request.session["last_agency"] = agency.slug
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
        counts = encounter_selectors.follow_up_counts_of_supporter(membership)
        context["my_open"], context["my_overdue"] = counts["open"], counts["overdue"]
    if membership.role == Role.COORDINATOR:
        context["team_overdue"] = encounter_selectors.overdue_count(agency)
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


@agency_view(Role.AGENCY_ADMIN)
def member_list(request: HttpRequest) -> HttpResponse:
    agency = request.tenant
    form = InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.invitation_create(actor=request.user, agency=agency, request=request, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
            return redirect("agency_members", agency_slug=agency.slug)
    memberships = Membership.objects.filter(agency=agency).select_related("user").order_by("-is_active", "user__email")
    pending = Invitation.objects.filter(agency=agency, accepted_at__isnull=True, revoked_at__isnull=True)
    return render(
        request,
        "agencies/member_list.html",
        {"agency": agency, "form": form, "memberships": memberships, "pending": pending, "roles": Role.choices},
    )


def _membership_in_current_agency(request: HttpRequest, membership_id: int) -> Membership:
    # Scoped to request.tenant: another agency's membership id answers 404.
    return get_object_or_404(
        Membership.objects.select_related("user", "agency"), pk=membership_id, agency=request.tenant
    )


@require_POST
@agency_view(Role.AGENCY_ADMIN)
def member_set_role(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = _membership_in_current_agency(request, membership_id)
    form = MembershipRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role from the list.")
    else:
        try:
            services.membership_set_role(
                actor=request.user, membership=membership, role=form.cleaned_data["role"], request=request
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"{membership.user} is now {Role(form.cleaned_data['role']).label}.")
    return redirect("agency_members", agency_slug=request.tenant.slug)


@require_POST
@agency_view(Role.AGENCY_ADMIN)
def member_deactivate(request: HttpRequest, membership_id: int) -> HttpResponse:
    membership = _membership_in_current_agency(request, membership_id)
    try:
        services.membership_deactivate(actor=request.user, membership=membership, request=request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{membership.user} no longer has access to {request.tenant.name}.")
    return redirect("agency_members", agency_slug=request.tenant.slug)
