"""Public-schema pages: sign-in, the home router, network administration, invitations."""

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from agencies import selectors as agency_selectors
from agencies import services as agency_services
from agencies.access import (
    is_state_admin,
    login_view,
    network_roles_for,
    network_view,
    public_view,
    region_ids_for,
)
from agencies.models import Agency, Invitation, Role
from governance.models import Agreement
from network.audit import AuditAction, audit_record, client_ip
from network.forms import (
    AccountStatusForm,
    AgencyCreateForm,
    EmailAuthenticationForm,
    FirstAdminInvitationForm,
    InvitationAcceptForm,
    add_service_errors,
)
from network.models import AuditEvent, NetworkRole
from network.ratelimit import rate_limit_allows
from network.selectors import agencies_for_network_user, memberships_for_user, network_current
from network.services import user_disable, user_enable, user_lockout_lift

logger = logging.getLogger(__name__)

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
    memberships = list(memberships_for_user(request.user))
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
    return render(
        request,
        template,
        {
            "agencies": agencies,
            "regions": regions,
            "network": network_current(),
            "status_counts": {status.label: sum(1 for a in agencies if a.status == status) for status in Agency.Status},
            "expiring_agreements": Agreement.objects.expiring().count(),
            "pending_agreements": Agreement.objects.filter(status=Agreement.Status.PROPOSED).count(),
        },
    )


@network_view(STATE_ADMIN)
def agency_create(request: HttpRequest) -> HttpResponse:
    network = network_current()
    form = AgencyCreateForm(request.POST or None, network=network)
    if request.method == "POST" and form.is_valid():
        try:
            agency = agency_services.agency_create(
                actor=request.user, network=network, request=request, **form.cleaned_data
            )
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
            agency_services.invitation_create(
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
        agency_services.agency_retry_provisioning(actor=request.user, agency=agency, request=request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("network_agency_detail", agency_id=agency.pk)


@public_view
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = agency_selectors.invitation_for_token(token)
    if invitation is None:
        return render(request, "network/invitation_invalid.html", status=404)
    existing = get_user_model().objects.filter(email__iexact=invitation.email).first()
    has_account = existing is not None and existing.has_usable_password()
    context = {"invitation": invitation, "has_account": has_account}

    if has_account:
        # Existing users confirm while signed in as the invited account.
        if request.user.is_authenticated and request.user.pk == existing.pk and request.method == "POST":
            try:
                agency_services.invitation_accept(invitation=invitation, user=request.user, request=request)
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
                return redirect("home")
            messages.success(request, f"You joined {invitation.agency.name} as {invitation.get_role_display()}.")
            return redirect("agency_home", agency_slug=invitation.agency.slug)
        context["signed_in_as_invitee"] = request.user.is_authenticated and request.user.pk == existing.pk
        context["login_url"] = f"{reverse('login')}?next={request.path}"
        return render(request, "network/invitation_accept.html", context)

    form = InvitationAcceptForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            user = agency_services.invitation_accept(
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


class SignInView(auth_views.LoginView):
    """Django's sign-in with the e-mail form. A session that has passed sign-in goes home; a session
    holding someone's unfinished sign-in (password given, code owed) gets the form like anyone else,
    because the person at the browser now may be someone else: signing in as another account discards
    the unfinished one (django.contrib.auth.login flushes a session that belonged to another user)."""

    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True

    def dispatch(self, request, *args, **kwargs):
        self.unfinished_sign_in = request.user.is_authenticated and getattr(request, "mfa_pending", False)
        if self.unfinished_sign_in:
            self.redirect_authenticated_user = False
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "unfinished_sign_in": self.unfinished_sign_in}


class AuditedPasswordResetView(auth_views.PasswordResetView):
    """Django's reset request, plus an audit event (which account, when it exists; never the address
    typed), a limit per address and per client, and links built on MUSTER_BASE_URL."""

    def form_valid(self, form):
        email = form.cleaned_data["email"].strip().lower()
        user = get_user_model().objects.filter(email__iexact=email, is_active=True).first()
        audit_record(
            action=AuditAction.PASSWORD_RESET_REQUESTED,
            actor=None,
            object_type="network.user",
            object_id=user.pk if user else "",
            outcome=AuditEvent.Outcome.SUCCESS if user else AuditEvent.Outcome.FAILURE,
            request=self.request,
        )
        window = settings.MUSTER_PASSWORD_RESET_WINDOW_SECONDS
        # Both are counted on every request (no short-circuit), so neither can be spent without the other.
        per_address = rate_limit_allows(
            scope="password-reset-address",
            key=email,
            limit=settings.MUSTER_PASSWORD_RESET_PER_ADDRESS,
            window_seconds=window,
        )
        per_client = rate_limit_allows(
            scope="password-reset-client",
            key=client_ip(self.request) or "",
            limit=settings.MUSTER_PASSWORD_RESET_PER_CLIENT,
            window_seconds=window,
        )
        if not (per_address and per_client):
            # The same page as a sent link, so the limit reveals nothing about the account.
            logger.info("password reset e-mail not sent: %s limit reached", "client" if per_address else "address")
            return redirect(self.get_success_url())
        # The e-mail's link is built on the configured origin, never on the Host this request named.
        self.extra_email_context = {"base_url": settings.MUSTER_BASE_URL}
        return super().form_valid(form)


class AuditedPasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    def form_valid(self, form):
        response = super().form_valid(form)
        audit_record(action=AuditAction.PASSWORD_SET, actor=form.user, obj=form.user, request=self.request)
        # Whoever chose the new password proved they hold the mailbox: the lock page promises this.
        user_lockout_lift(user=form.user)
        return response


@never_cache
@network_view(STATE_ADMIN)
def account_status(request: HttpRequest) -> HttpResponse:
    """A state admin disables an account (someone left, a lost device) or enables one again."""
    form = AccountStatusForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = get_user_model().objects.filter(email__iexact=form.cleaned_data["email"].strip()).first()
        if user is None:
            form.add_error("email", "No account has that e-mail address.")
        elif user.pk == request.user.pk:
            form.add_error("email", "You cannot change your own account here; ask another state admin.")
        elif form.cleaned_data["action"] == "disable":
            user_disable(actor=request.user, user=user, request=request)
            messages.success(request, f"{user.email} is disabled and signed out everywhere.")
            return redirect("network_account_status")
        else:
            user_enable(actor=request.user, user=user, request=request)
            messages.success(request, f"{user.email} can sign in again.")
            return redirect("network_account_status")
    return render(request, "network/account_status.html", {"form": form})
