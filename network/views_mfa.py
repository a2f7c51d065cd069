"""The MFA step after the password: set up an authenticator app, give a code, see recovery codes once;
and the state admin's reset for a lost phone.

The first three are the only pages (with sign-out) that network.mfa.MfaRequiredMiddleware lets a
session open before its code is given. None of them is cached, and none writes a code or secret anywhere
but the page it is shown on.
"""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache

from network import mfa
from network.access import login_view, network_view
from network.forms import MfaCodeForm, MfaResetForm
from network.models import NetworkRole, User


def _wait_message(check: mfa.CodeCheck) -> str:
    seconds = max(1, int((check.locked_until - timezone.now()).total_seconds()) + 1)
    return f"Too many wrong codes. Wait {seconds} second{'s' if seconds != 1 else ''}, then try again."


@never_cache
@login_view
def mfa_verify(request: HttpRequest) -> HttpResponse:
    """Ask an enrolled user for the code from their app, or one of their recovery codes."""
    if mfa.is_verified(request):
        return redirect(mfa.safe_next(request))
    if mfa.authenticator_for(request.user) is None:
        # Nothing to verify against: set one up (or, where MFA is relaxed, carry on without).
        return redirect("mfa_enroll" if request.mfa_pending else "home")
    form = MfaCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        check = mfa.mfa_code_check(user=request.user, code=form.cleaned_data["code"], request=request)
        if check.ok:
            mfa.session_mark_verified(request, check.device)
            if check.used_recovery_code:
                left = mfa.recovery_codes_left(request.user)
                messages.warning(
                    request,
                    f"You signed in with a recovery code; it cannot be used again. {left} left. "
                    "If your phone is lost, ask your state admin to reset your two-step sign-in.",
                )
            return redirect(mfa.safe_next(request))
        form.add_error("code", _wait_message(check) if check.locked_until else "That code is not right. Try again.")
    return render(request, "network/mfa_verify.html", {"form": form, "next": request.GET.get("next", "")})


def _enroll_form(data) -> MfaCodeForm:
    form = MfaCodeForm(data)
    form.fields["code"].label = "6-digit code from the app"
    form.fields["code"].widget.attrs.update(inputmode="numeric", pattern="[0-9 ]*")
    return form


@never_cache
@login_view
def mfa_enroll(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator app: scan the QR code (or type the secret), confirm with a current code.

    The secret is this session's own (network.mfa.enrollment_pending) and the form names it, so a code
    is only ever confirmed onto the account that gave its password in this session, with the secret this
    session was shown.
    """
    if mfa.authenticator_for(request.user) is not None:
        # Already set up: replacing it goes through an audited reset, not this page.
        mfa.enrollment_discard(request)
        return redirect("mfa_verify" if not mfa.is_verified(request) else "home")
    form = _enroll_form(request.POST or None)
    if request.method == "POST":
        pending = mfa.enrollment_pending(request, create=False)
        if pending is None or request.POST.get("enrollment") != pending.id:
            # A page from an earlier sign-in (another account's, or an older secret): never confirm it.
            messages.warning(request, "That set-up page belonged to an earlier sign-in. Scan the new code below.")
            return redirect(request.get_full_path())
        if form.is_valid():
            check, codes = mfa.mfa_enrollment_confirm(
                user=request.user, secret=pending.secret, code=form.cleaned_data["code"], request=request
            )
            if check.ok:
                mfa.session_mark_verified(request, check.device)
                request.session[mfa.NEW_RECOVERY_CODES_KEY] = codes
                url = reverse("mfa_recovery_codes")
                next_url = request.POST.get("next")
                return redirect(f"{url}?{urlencode({'next': next_url})}" if next_url else url)
            if check.already_enrolled:
                mfa.enrollment_discard(request)
                messages.info(request, "Two-step sign-in is already set up for this account: enter its code.")
                return redirect("mfa_verify")
            form.add_error("code", "That code is not right. Check the app and try again.")
    pending = mfa.enrollment_pending(request)
    setup_link = mfa.otpauth_url(user=request.user, secret=pending.secret)
    context = {
        "form": form,
        "enrollment": pending.id,
        "qr_svg": mfa.qr_code_svg(setup_link),
        "secret": mfa.secret_for_display(pending.secret),
        "setup_link": setup_link,  # otpauth://: opens the app when enrolling on the phone itself
        "next": request.GET.get("next", "") or request.POST.get("next", ""),
    }
    return render(request, "network/mfa_enroll.html", context)


@never_cache
@login_view
def mfa_recovery_codes(request: HttpRequest) -> HttpResponse:
    """The new recovery codes, shown once: they leave the session as this page is built."""
    codes = request.session.pop(mfa.NEW_RECOVERY_CODES_KEY, None)
    if not codes:
        return redirect("home")
    context = {"codes": mfa.recovery_codes_for_display(codes), "next": mfa.safe_next(request)}
    return render(request, "network/mfa_recovery_codes.html", context)


@never_cache
@network_view(NetworkRole.Role.STATE_ADMIN)
def mfa_reset_for_user(request: HttpRequest) -> HttpResponse:
    """A state admin resets someone's two-step sign-in after a lost phone (audited, sessions end)."""
    form = MfaResetForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = User.objects.filter(email__iexact=form.cleaned_data["email"].strip()).first()
        if user is None:
            form.add_error("email", "No account has that e-mail address.")
        else:
            mfa.mfa_reset(actor=request.user, user=user, request=request)
            messages.success(
                request, f"Two-step sign-in reset for {user.email}. They set it up again at their next sign-in."
            )
            return redirect("network_mfa_reset")
    return render(request, "network/mfa_reset.html", {"form": form})
