"""Agency pages: onboarding (the state admin's create, detail, progress and retry), invitations, and under
/a/<slug>/ the agency admin's member management and administrative audit trail."""

from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from agencies import selectors, services
from agencies.access import agency_view
from agencies.forms import (
    AgencyCreateForm,
    FirstAdminInvitationForm,
    InvitationAcceptForm,
    InvitationForm,
    MembershipRoleForm,
)
from agencies.models import Agency, Invitation, Membership, Role
from network.access import network_view, public_view
from network.audit import ACCOUNT_ACTIONS, ADMINISTRATIVE_ACTIONS
from network.models import AuditEvent, NetworkRole
from network.selectors import network_current
from network.service_errors import add_service_errors, message_service_error
from network.views_audit import audit_search

STATE_ADMIN = NetworkRole.Role.STATE_ADMIN


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
            message_service_error(request, error)
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
        message_service_error(request, error)
    else:
        messages.success(request, f"{membership.user} no longer has access to {request.tenant.name}.")
    return redirect("agency_members", agency_slug=request.tenant.slug)


@network_view(STATE_ADMIN)
def agency_create(request: HttpRequest) -> HttpResponse:
    network = network_current()
    form = AgencyCreateForm(request.POST or None, network=network)
    if request.method == "POST" and form.is_valid():
        try:
            agency = services.agency_create(actor=request.user, network=network, request=request, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"{agency.name} was added. Its private schema is being created.")
            return redirect("network_agency_detail", agency_id=agency.pk)
    return render(request, "network/agency_create.html", {"form": form})


def _agency_for_state_admin(agency_id: int) -> Agency:
    return get_object_or_404(Agency.objects.select_related("region"), pk=agency_id)


@network_view(STATE_ADMIN)
def agency_detail(request: HttpRequest, agency_id: int) -> HttpResponse:
    agency = _agency_for_state_admin(agency_id)
    form = FirstAdminInvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.invitation_create(
                actor=request.user,
                agency=agency,
                email=form.cleaned_data["email"],
                role=Role.AGENCY_ADMIN,
                request=request,
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
            return redirect("network_agency_detail", agency_id=agency.pk)
    invitations = Invitation.objects.filter(agency=agency, role=Role.AGENCY_ADMIN).order_by("-created_at")[:10]
    admins = agency.memberships.filter(role=Role.AGENCY_ADMIN, is_active=True).select_related("user")
    return render(
        request,
        "network/agency_detail.html",
        {"agency": agency, "form": form, "invitations": invitations, "admins": admins},
    )


@network_view(STATE_ADMIN)
def agency_progress(request: HttpRequest, agency_id: int) -> HttpResponse:
    """The onboarding progress fragment; htmx polls it until the schema is ready or has failed."""
    agency = _agency_for_state_admin(agency_id)
    response = render(request, "network/_agency_progress.html", {"agency": agency})
    if request.htmx and agency.status != Agency.Status.PROVISIONING:
        # Reload the whole page once, so the invitation form appears when the agency is ready.
        response["HX-Refresh"] = "true"
    return response


@require_POST
@network_view(STATE_ADMIN)
def agency_retry(request: HttpRequest, agency_id: int) -> HttpResponse:
    agency = _agency_for_state_admin(agency_id)
    try:
        services.agency_retry_provisioning(actor=request.user, agency=agency, request=request)
    except ValidationError as error:
        message_service_error(request, error)
    return redirect("network_agency_detail", agency_id=agency.pk)


@public_view
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = selectors.invitation_for_token(token)
    if invitation is None:
        return render(request, "network/invitation_invalid.html", status=404)
    existing = get_user_model().objects.filter(email__iexact=invitation.email).first()
    has_account = existing is not None and existing.has_usable_password()
    context = {"invitation": invitation, "has_account": has_account}

    if has_account:
        # Existing users confirm while signed in as the invited account.
        if request.user.is_authenticated and request.user.pk == existing.pk and request.method == "POST":
            try:
                services.invitation_accept(invitation=invitation, user=request.user, request=request)
            except ValidationError as error:
                message_service_error(request, error)
                return redirect("home")
            messages.success(request, f"You joined {invitation.agency.name} as {invitation.get_role_display()}.")
            return redirect("agency_home", agency_slug=invitation.agency.slug)
        context["signed_in_as_invitee"] = request.user.is_authenticated and request.user.pk == existing.pk
        context["login_url"] = f"{reverse('login')}?next={request.path}"
        return render(request, "network/invitation_accept.html", context)

    form = InvitationAcceptForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.invitation_accept(
                invitation=invitation,
                full_name=form.cleaned_data["full_name"],
                password=form.cleaned_data["password1"],
                request=request,
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(
                request, f"Welcome. You joined {invitation.agency.name} as {invitation.get_role_display()}."
            )
            return redirect("home")
    context["form"] = form
    return render(request, "network/invitation_accept.html", context)


@agency_view(Role.AGENCY_ADMIN)
def agency_audit(request: HttpRequest) -> HttpResponse:
    """Administrative events of the agency only. Care events (who logged, viewed or disclosed what, and
    any search by a care record's id) stay with the state admin's security review; an action not
    classified in network.audit is hidden here by default."""
    agency = request.tenant
    members = Membership.objects.filter(agency=agency, is_active=True).values_list("user_id", flat=True)
    # Sign-ins and account events carry no agency: the agency's current members' are shown (a failed
    # sign-in names the account by object id only, never as the actor).
    account_events = Q(agency__isnull=True, action__in=ACCOUNT_ACTIONS) & (
        Q(actor_id__in=members) | Q(object_type="network.user", object_id__in=[str(pk) for pk in members])
    )
    events = AuditEvent.objects.filter(Q(agency=agency, action__in=ADMINISTRATIVE_ACTIONS) | account_events)
    return audit_search(request, events, agency=agency)
