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
import secrets
import time
from base64 import b32encode
from binascii import unhexlify
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

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
from django_otp.oath import TOTP

from network import crypto
from network.audit import AuditAction, audit_record
from network.models import AuditEvent, AuthenticatorApp, RecoveryCode, RecoveryCodeSet, User, recovery_code_digest
from network.services import user_lockout_lift, user_sessions_end

RECOVERY_CODE_COUNT = 10
AUTHENTICATOR_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"
NEW_RECOVERY_CODES_KEY = "muster_mfa_new_recovery_codes"  # shown once, then removed from the session
# The secret being set up: in this session only (encrypted), bound to the account that gave its password
# here, and written to the database only when a code from the app confirms it.
PENDING_ENROLLMENT_KEY = "muster_mfa_enrollment"
SECRET_BYTES = 20

# The only pages a signed-in session that still owes its code may open. The sign-in page is one of
# them: someone else at this browser can always sign in, which discards the unfinished sign-in.
OPEN_BEFORE_VERIFICATION = frozenset({"mfa_verify", "mfa_enroll", "login", "logout", "healthz"})

_TOTP_CODE = re.compile(r"^\d{6}$")
_SEPARATORS = re.compile(r"[\s-]+")


# --- Reads ---------------------------------------------------------------------------------------


def authenticator_for(user) -> AuthenticatorApp | None:
    """The user's confirmed authenticator app, if they have enrolled one."""
    return AuthenticatorApp.objects.devices_for_user(user, confirmed=True).order_by("pk").first()


def recovery_device_for(user) -> RecoveryCodeSet | None:
    return RecoveryCodeSet.objects.devices_for_user(user, confirmed=True).order_by("pk").first()


def recovery_codes_left(user) -> int:
    return RecoveryCode.objects.filter(device__user=user, device__confirmed=True).count()


def is_verified(request: HttpRequest) -> bool:
    """Has this session passed the MFA step (django-otp's OTPMiddleware reads it from the session)?"""
    verified = getattr(request.user, "is_verified", None)
    return bool(verified and verified())


def new_secret() -> str:
    """A fresh authenticator secret, hex (20 random bytes, as RFC 4226 recommends)."""
    return secrets.token_hex(SECRET_BYTES)


def secret_for_display(secret: str) -> str:
    """The TOTP secret as authenticator apps ask for it by hand: base32, in groups of four."""
    text = b32encode(unhexlify(secret)).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def otpauth_url(*, user, secret: str) -> str:
    """The otpauth:// link the QR code carries (the Key URI format every authenticator app reads)."""
    issuer = settings.OTP_TOTP_ISSUER.replace(":", "")
    label = quote(f"{issuer}:{user.get_username()}")
    params = urlencode(
        {
            "secret": b32encode(unhexlify(secret)).decode(),
            "algorithm": "SHA1",
            "digits": AuthenticatorApp.digits,
            "period": AuthenticatorApp.step,
        }
    )
    return f"otpauth://totp/{label}?{params}&issuer={quote(issuer)}"


def qr_code_svg(url: str) -> SafeString:
    """The enrollment QR code as inline SVG drawn on the server: no script, no inline style, no CDN."""
    qr = segno.make(url, error="m")
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

    device: AuthenticatorApp | RecoveryCodeSet | None = None
    locked_until: datetime | None = None
    already_enrolled: bool = False  # enrollment only: another session set up an app first

    @property
    def ok(self) -> bool:
        return self.device is not None

    @property
    def used_recovery_code(self) -> bool:
        return isinstance(self.device, RecoveryCodeSet)


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


def _enrollment_code_step(*, secret: str, code: str) -> tuple[int, int] | None:
    """The time step and drift at which `code` matches `secret` (one step either way), or None."""
    if not _TOTP_CODE.match(code):
        return None
    totp = TOTP(unhexlify(secret), AuthenticatorApp.step, AuthenticatorApp.t0, AuthenticatorApp.digits)
    totp.time = time.time()
    if not totp.verify(int(code), AuthenticatorApp.tolerance):
        return None
    return totp.t(), totp.drift


def mfa_enrollment_confirm(
    *, user, secret: str, code: str, request: HttpRequest | None = None
) -> tuple[CodeCheck, list[str]]:
    """Confirm an authenticator app with a current code for `secret` (which until now lived only in
    the enrolling session); on success store the app and issue fresh recovery codes.

    The app is created here and nowhere else, so no two sessions ever share a secret. If the account
    already has an app (another session confirmed first), nothing changes: replacing an app goes
    through the audited reset. Returns the check and, when it passed, the recovery codes (shown once).
    """
    matched = _enrollment_code_step(secret=secret, code=_normalize(code))
    with transaction.atomic():
        # One enrollment at a time per account: a second session waits here, then sees the first's app.
        User.objects.select_for_update().filter(pk=user.pk).first()
        if authenticator_for(user) is not None:
            _audit_failure(user=user, request=request)
            return CodeCheck(already_enrolled=True), []
        if matched is None:
            _audit_failure(user=user, request=request)
            return CodeCheck(), []
        step, drift = matched
        AuthenticatorApp.objects.filter(user=user).delete()
        device = AuthenticatorApp(user=user, name=AUTHENTICATOR_NAME, confirmed=True, secret=secret)
        device.last_t, device.drift = step, drift  # the confirming code cannot be used again to sign in
        device.save()
        codes = _recovery_codes_replace(user=user)
        audit_record(action=AuditAction.MFA_ENROLLED, actor=user, obj=device, request=request)
    return CodeCheck(device=device), codes


def _recovery_codes_replace(*, user) -> list[str]:
    RecoveryCodeSet.objects.filter(user=user).delete()
    device = RecoveryCodeSet.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [_random_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    RecoveryCode.objects.bulk_create(
        [RecoveryCode(device=device, digest=recovery_code_digest(device_uuid=device.uuid, code=c)) for c in codes]
    )
    return codes


def _random_recovery_code() -> str:
    """Eight base32 characters (40 random bits), shown as xxxx-xxxx."""
    return b32encode(secrets.token_bytes(5)).decode().lower()


def mfa_reset(*, actor, user, request: HttpRequest | None = None) -> int:
    """Remove a user's authenticator and recovery codes (a lost phone) and end their sessions.

    They enroll again at their next sign-in. Returns how many devices were removed.
    """

    with transaction.atomic():
        removed = AuthenticatorApp.objects.filter(user=user).delete()[1].get(AuthenticatorApp._meta.label, 0)
        removed += RecoveryCodeSet.objects.filter(user=user).delete()[1].get(RecoveryCodeSet._meta.label, 0)
        audit_record(action=AuditAction.MFA_RESET, actor=actor, obj=user, request=request)
    user_sessions_end(user=user)
    return removed


# --- Session -------------------------------------------------------------------------------------


def session_mark_verified(request: HttpRequest, device) -> None:
    """Record in the session that MFA passed, under a new session key (as Django does at sign-in),
    so a session id seen before the code was given is worth nothing after it. The person has now
    proved who they are, so any sign-in lockout on the account (from any address) is lifted."""

    otp_login(request, device)
    request.session.pop(PENDING_ENROLLMENT_KEY, None)
    request.session.cycle_key()
    user_lockout_lift(user=request.user)


@dataclass(frozen=True)
class PendingEnrollment:
    """The authenticator secret this session is setting up, and the id the setup form carries."""

    id: str
    secret: str  # hex


def _pending_aad(user_pk) -> bytes:
    return f"public|session|{PENDING_ENROLLMENT_KEY}|{user_pk}".encode()


def enrollment_pending(request: HttpRequest, *, create: bool = True) -> PendingEnrollment | None:
    """This session's enrollment for the signed-in account: made on first need, kept across reloads,
    never shown to another session. One left by another account's sign-in is discarded."""
    stored = request.session.get(PENDING_ENROLLMENT_KEY)
    if stored and stored.get("user") == request.user.pk:
        try:
            return PendingEnrollment(stored["id"], crypto.decrypt(stored["secret"], aad=_pending_aad(request.user.pk)))
        except crypto.DecryptionError:
            pass
    request.session.pop(PENDING_ENROLLMENT_KEY, None)
    if not create:
        return None
    pending = PendingEnrollment(secrets.token_urlsafe(16), new_secret())
    request.session[PENDING_ENROLLMENT_KEY] = {
        "user": request.user.pk,
        "id": pending.id,
        "secret": crypto.encrypt(pending.secret, aad=_pending_aad(request.user.pk)),
    }
    return pending


def enrollment_discard(request: HttpRequest) -> None:
    request.session.pop(PENDING_ENROLLMENT_KEY, None)


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
