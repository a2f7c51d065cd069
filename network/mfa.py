"""Multi-factor sign-in (CJIS asks for it on every account): TOTP authenticator apps through
django-otp, ten one-time recovery codes, and the middleware that holds a signed-in session at the
MFA step until a code is given.

A password alone never opens a page while MFA is required (`MUSTER_MFA_REQUIRED`, always on in
production). Where it is relaxed (the demo, the test suite), enrollment is optional, but an
account that has enrolled is still asked for its code: turning the setting off never weakens an
account that chose MFA.

Codes and secrets are never logged or audited; audit events carry the account and the device.
"""

from __future__ import annotations

import re
from base64 import b32encode
from dataclasses import dataclass
from datetime import datetime

import segno
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import SafeString, mark_safe
from django_htmx.http import HttpResponseClientRedirect
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from network.audit import AuditAction, audit_record
from network.models import AuditEvent

RECOVERY_CODE_COUNT = 10
AUTHENTICATOR_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"
NEW_RECOVERY_CODES_KEY = "muster_mfa_new_recovery_codes"  # shown once, then removed from the session

# The only pages a signed-in session that still owes its code may open.
OPEN_BEFORE_VERIFICATION = frozenset({"mfa_verify", "mfa_enroll", "logout", "healthz"})

_TOTP_CODE = re.compile(r"^\d{6}$")
_SEPARATORS = re.compile(r"[\s-]+")


# --- Reads ---------------------------------------------------------------------------------------


def authenticator_for(user) -> TOTPDevice | None:
    """The user's confirmed authenticator app, if they have enrolled one."""
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).order_by("pk").first()


def recovery_device_for(user) -> StaticDevice | None:
    return StaticDevice.objects.devices_for_user(user, confirmed=True).order_by("pk").first()


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def is_verified(request: HttpRequest) -> bool:
    """Has this session passed the MFA step (django-otp's OTPMiddleware reads it from the session)?"""
    verified = getattr(request.user, "is_verified", None)
    return bool(verified and verified())


def secret_for_display(device: TOTPDevice) -> str:
    """The TOTP secret as authenticator apps ask for it by hand: base32, in groups of four."""
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_code_svg(device: TOTPDevice) -> SafeString:
    """The enrollment QR code as inline SVG drawn on the server: no script, no inline style, no CDN."""
    qr = segno.make(device.config_url, error="m")
    svg = qr.svg_inline(scale=1, border=4, omitsize=True, dark="#000", light="#fff", svgclass="muster-qr__svg")
    return mark_safe(svg)  # noqa: S308  # nosec B308, B703  # segno draws our own otpauth URL; no user markup


def format_recovery_code(code: str) -> str:
    """Recovery codes are shown as xxxx-xxxx; the hyphen (and case, and spaces) are ignored when typed."""
    return f"{code[:4]}-{code[4:]}"


def recovery_codes_for_display(codes: list[str]) -> list[str]:
    return [format_recovery_code(code) for code in codes]


def _normalize(code: str) -> str:
    return _SEPARATORS.sub("", code or "").lower()


# --- Writes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CodeCheck:
    """The outcome of checking one code: the device that accepted it, or why nothing did."""

    device: TOTPDevice | StaticDevice | None = None
    locked_until: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.device is not None

    @property
    def used_recovery_code(self) -> bool:
        return isinstance(self.device, StaticDevice)


def _check_device(*, device_model, pk: int, code: str) -> CodeCheck:
    """Verify `code` on one device, row-locked so two requests cannot both spend the same code.

    django-otp does the rest: a TOTP code must belong to a later time step than the last one
    accepted (so it cannot be replayed), a recovery code is deleted when used, and each wrong code
    doubles the wait before the device accepts another (1, 2, 4, 8 ... seconds).
    """
    device = device_model.objects.select_for_update().get(pk=pk)
    allowed, details = device.verify_is_allowed()
    if not allowed:
        return CodeCheck(locked_until=(details or {}).get("locked_until"))
    if device.verify_token(code):
        return CodeCheck(device=device)
    return CodeCheck()


def _audit_failure(*, user, request: HttpRequest | None) -> None:
    audit_record(
        action=AuditAction.MFA_FAILED, actor=user, obj=user, outcome=AuditEvent.Outcome.FAILURE, request=request
    )


def mfa_code_check(*, user, code: str, request: HttpRequest | None = None) -> CodeCheck:
    """Check a sign-in code: six digits go to the authenticator app, anything else to the recovery codes."""
    code = _normalize(code)
    if _TOTP_CODE.match(code):
        device = authenticator_for(user)
    else:
        device = recovery_device_for(user)
    with transaction.atomic():
        result = _check_device(device_model=type(device), pk=device.pk, code=code) if device else CodeCheck()
        if result.ok:
            audit_record(action=AuditAction.MFA_VERIFIED, actor=user, obj=result.device, request=request)
        else:
            _audit_failure(user=user, request=request)
    return result


def mfa_enrollment_device(*, user) -> TOTPDevice:
    """The authenticator app being set up: the same secret on every visit until it is confirmed."""
    device = TOTPDevice.objects.devices_for_user(user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=AUTHENTICATOR_NAME, confirmed=False)
    return device


def mfa_enrollment_confirm(
    *, user, device: TOTPDevice, code: str, request: HttpRequest | None = None
) -> tuple[CodeCheck, list[str]]:
    """Confirm the authenticator app with a current code; on success issue fresh recovery codes.

    Returns the check and, when it passed, the new recovery codes (shown once, stored by django-otp).
    """
    with transaction.atomic():
        result = _check_device(device_model=TOTPDevice, pk=device.pk, code=_normalize(code))
        if not result.ok:
            _audit_failure(user=user, request=request)
            return result, []
        confirmed = result.device
        confirmed.confirmed = True
        confirmed.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user).exclude(pk=confirmed.pk).delete()
        codes = _recovery_codes_replace(user=user)
        audit_record(action=AuditAction.MFA_ENROLLED, actor=user, obj=confirmed, request=request)
    return result, codes


def _recovery_codes_replace(*, user) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


def mfa_reset(*, actor, user, request: HttpRequest | None = None) -> int:
    """Remove a user's authenticator and recovery codes (a lost phone) and end their sessions.

    They enroll again at their next sign-in. Returns how many devices were removed.
    """
    from network.services import user_sessions_end

    with transaction.atomic():
        removed = TOTPDevice.objects.filter(user=user).delete()[1].get(TOTPDevice._meta.label, 0)
        removed += StaticDevice.objects.filter(user=user).delete()[1].get(StaticDevice._meta.label, 0)
        audit_record(action=AuditAction.MFA_RESET, actor=actor, obj=user, request=request)
    user_sessions_end(user=user)
    return removed


# --- Session -------------------------------------------------------------------------------------


def session_mark_verified(request: HttpRequest, device) -> None:
    """Record in the session that MFA passed, under a new session key (as Django does at sign-in),
    so a session id seen before the code was given is worth nothing after it."""
    otp_login(request, device)
    request.session.cycle_key()


def safe_next(request: HttpRequest, default: str = "home") -> str:
    """Where to go after the MFA step: the page asked for, when it is on this site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse(default)


def _mfa_url(request: HttpRequest, name: str) -> str:
    url = reverse(name)
    home = reverse("home")
    path = request.get_full_path()
    if request.method == "GET" and path not in (home, "/") and not request.headers.get("HX-Request"):
        url += "?" + urlencode({"next": path})
    return url


class MfaRequiredMiddleware:
    """Keeps a signed-in session that has not given its code out of every page but the MFA pages,
    sign-out and the health check. Sits after django-otp's OTPMiddleware and the session limits.

    It works on the resolved URL name, before any view or access decorator runs, so no page can
    forget it; a path that resolves to nothing is refused too (the 404 page carries navigation).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.mfa_pending = False
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not is_verified(request):
            authenticator = authenticator_for(user)
            request.mfa_pending = settings.MUSTER_MFA_REQUIRED or authenticator is not None
            if request.mfa_pending and _url_name(request) not in OPEN_BEFORE_VERIFICATION:
                target = _mfa_url(request, "mfa_verify" if authenticator else "mfa_enroll")
                if request.headers.get("HX-Request"):
                    return HttpResponseClientRedirect(target)
                return redirect(target)
        return self.get_response(request)


def _url_name(request: HttpRequest) -> str | None:
    try:
        return resolve(request.path_info).url_name
    except Resolver404:
        return None


def mfa_context(request: HttpRequest) -> dict:
    """Template context: whether MFA is relaxed here (every page says so) and whether this session
    still owes its code (the navigation then shows nothing but sign-out)."""
    return {
        "mfa_relaxed": not settings.MUSTER_MFA_REQUIRED,
        "mfa_pending": getattr(request, "mfa_pending", False),
    }
