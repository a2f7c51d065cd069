"""Public-schema pages: sign-in, password reset, the state admin's account status page, and a person's own
mobile number for callouts."""

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from network import services
from network.access import login_view, network_view
from network.audit import AuditAction, audit_record, client_ip
from network.forms import (
    AccountStatusForm,
    EmailAuthenticationForm,
    MobileConfirmForm,
    MobileNumberForm,
    MobilePreferencesForm,
    PasswordResetByNotifyForm,
)
from network.models import AuditEvent, MobileNumber, NetworkRole
from network.phone import phone_enabled
from network.ratelimit import rate_limit_allows
from network.service_errors import add_service_errors, message_service_error
from network.services import user_disable, user_enable, user_lockout_lift

logger = logging.getLogger(__name__)

STATE_ADMIN = NetworkRole.Role.STATE_ADMIN
REGIONAL_COORDINATOR = NetworkRole.Role.REGIONAL_COORDINATOR


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

    form_class = PasswordResetByNotifyForm  # the mail goes through network.notify

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


@never_cache
@login_view
def account_mobile(request: HttpRequest) -> HttpResponse:
    """The signed-in person's mobile number for callouts: register it, confirm it with the texted code,
    choose text and voice, quiet hours and reminders, or remove it. Only ever their own."""
    mobile = MobileNumber.objects.filter(user=request.user).first()
    action = request.POST.get("action") if request.method == "POST" else None
    number_form = MobileNumberForm(request.POST if action == "number" else None)
    confirm_form = MobileConfirmForm(request.POST if action == "confirm" else None)
    initial = {}
    if mobile is not None:
        initial = {f: getattr(mobile, f) for f in MobilePreferencesForm.base_fields}
    preferences_form = MobilePreferencesForm(request.POST if action == "preferences" else None, initial=initial)
    done = None
    try:
        if action == "number" and number_form.is_valid():
            services.mobile_number_set(actor=request.user, number=number_form.cleaned_data["number"], request=request)
            done = "A code is on its way by text. Enter it below to confirm the number."
        elif action == "confirm" and confirm_form.is_valid():
            services.mobile_number_confirm(actor=request.user, code=confirm_form.cleaned_data["code"], request=request)
            done = "Your number is confirmed: callouts will reach you by text."
        elif action == "resend":
            services.mobile_code_resend(actor=request.user, request=request)
            done = "A new code is on its way."
        elif action == "preferences" and preferences_form.is_valid():
            services.mobile_preferences_set(actor=request.user, **preferences_form.cleaned_data, request=request)
            done = "Your choices are saved."
        elif action == "remove":
            services.mobile_number_remove(actor=request.user, request=request)
            done = "Your number is removed. Callouts reach you by e-mail and in the app."
    except ValidationError as error:
        form = {"number": number_form, "confirm": confirm_form, "preferences": preferences_form}.get(action)
        if form is not None:
            add_service_errors(form, error)
        else:
            message_service_error(request, error)
    if done:
        messages.success(request, done)
        return redirect("account_mobile")
    return render(
        request,
        "network/account_mobile.html",
        {
            "mobile": mobile,
            "number_form": number_form,
            "confirm_form": confirm_form,
            "preferences_form": preferences_form,
            "phone_enabled": phone_enabled(),
        },
    )
