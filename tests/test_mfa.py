"""Two-step sign-in (MFA): enrollment with a QR code, codes that work once, recovery codes,
throttling, no way around it through a password reset or an invitation, an audited reset for a
lost phone, and production that refuses to run without it."""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from base64 import b32decode, b32encode
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from django_otp.oath import totp

from agencies import services as agency_services
from agencies.models import Role
from network import mfa
from network.audit import AuditAction
from network.fields import Ciphertext
from network.models import AuditEvent, AuthenticatorApp, RecoveryCode, RecoveryCodeSet, recovery_code_digest
from tests.support import agency_url, login_as, make_user
from tests.test_production_shape import PRODUCTION_ENV, run_manage

pytestmark = pytest.mark.django_db

OFF_BANNER = "Two-step sign-in (MFA) is off"


@pytest.fixture
def mfa_required(settings):
    settings.MUSTER_MFA_REQUIRED = True


def code_for(device: AuthenticatorApp, steps_ahead: int = 0) -> str:
    """What the user's authenticator app shows now (or `steps_ahead` 30-second steps from now)."""
    device.refresh_from_db()
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=steps_ahead):06d}"


def code_for_secret(secret: str, steps_ahead: int = 0) -> str:
    """What an app set up with this secret (hex, or base32 as the page shows it) shows now."""
    compact = secret.replace(" ", "")
    try:
        key = bytes.fromhex(compact)
    except ValueError:
        key = b32decode(compact + "=" * (-len(compact) % 8))
    return f"{totp(key, step=30, t0=0, digits=6, drift=steps_ahead):06d}"


@dataclass
class Enrolled:
    device: AuthenticatorApp
    recovery_codes: list[str]
    code_used: str  # the code that confirmed the app


def enroll(user) -> Enrolled:
    """Enroll through the service the setup page calls (the secret a setup page would have shown)."""
    secret = mfa.new_secret()
    code = code_for_secret(secret)
    check, codes = mfa.mfa_enrollment_confirm(user=user, secret=secret, code=code)
    assert check.ok
    return Enrolled(check.device, codes, code)


def home_of(world) -> str:
    return agency_url(world.agency_a, "agency_home")


def audit_count(action, user) -> int:
    return AuditEvent.objects.filter(action=action, actor=user).count()


@contextmanager
def captured_logs():
    """Every log line written anywhere while the block runs."""
    lines: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage())

    handler, root = Collect(level=logging.DEBUG), logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield lines
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


# --- Settings ------------------------------------------------------------------------------------


def test_production_refuses_to_start_with_mfa_off():
    result = run_manage("check", env_overrides={**PRODUCTION_ENV, "MUSTER_MFA_REQUIRED": "0"})
    assert result.returncode != 0
    assert "MUSTER_MFA_REQUIRED cannot be turned off in production" in result.stderr


@pytest.mark.parametrize(
    ("env", "required"),
    [
        (PRODUCTION_ENV, "True"),
        ({"MUSTER_ENV": "development"}, "True"),
        ({"MUSTER_ENV": "development", "MUSTER_DEMO": "1"}, "False"),
        ({"MUSTER_ENV": "test"}, "False"),
        ({"MUSTER_ENV": "development", "MUSTER_DEMO": "1", "MUSTER_MFA_REQUIRED": "1"}, "True"),
    ],
)
def test_mfa_is_required_unless_relaxed_for_the_demo_or_the_test_suite(env, required):
    result = run_manage(
        "shell", "-c", "from django.conf import settings; print(settings.MUSTER_MFA_REQUIRED)", env_overrides=env
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == required


# --- A password alone opens nothing ---------------------------------------------------------------


def test_a_password_alone_opens_no_page_while_mfa_is_required(client, world, mfa_required):
    chief = world.a[Role.CHIEF]
    response = login_as(client, chief)
    assert response.status_code == 302
    landing = client.get(response["Location"])
    assert landing.status_code == 302 and landing["Location"].startswith("/mfa/setup/")
    for path in (home_of(world), "/home/", "/activations/", "/network/", "/password-reset/", "/no-such-page/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/mfa/setup/"), path
    post = client.post(f"{home_of(world)}encounters/new/", {})
    assert post.status_code == 302 and post["Location"] == "/mfa/setup/"
    htmx = client.get(home_of(world), headers={"HX-Request": "true"})
    assert htmx["HX-Redirect"].startswith("/mfa/setup/")
    assert client.get("/healthz").status_code in (200, 503)  # load balancers still see health
    assert client.post("/logout/")["Location"] == "/login/"
    assert client.get(home_of(world))["Location"].startswith("/login/")


def test_the_page_asked_for_is_kept_through_the_mfa_step_but_not_an_outside_address(client, world, mfa_required):
    chief = world.a[Role.CHIEF]
    device = enroll(chief).device
    login_as(client, chief)
    dashboard = f"{home_of(world)}dashboard/"
    assert client.get(dashboard)["Location"] == f"/mfa/?next={dashboard.replace('/', '%2F')}"
    response = client.post("/mfa/", {"code": code_for(device, 1), "next": dashboard})
    assert response["Location"] == dashboard
    client.post("/logout/")
    login_as(client, chief)
    response = client.post("/mfa/", {"code": code_for(device, 2), "next": "https://evil.example/"})
    assert response["Location"] == "/home/"


def test_before_the_code_the_page_shows_nothing_of_the_account_but_sign_out(client, world, mfa_required):
    login_as(client, world.a[Role.COORDINATOR])
    page = client.get("/mfa/setup/").content.decode()
    assert "Sign out" in page
    assert world.agency_a.name not in page
    assert "Log encounter" not in page and "Activations" not in page


# --- Enrollment -----------------------------------------------------------------------------------


def test_enrollment_shows_a_qr_code_and_the_secret_and_confirms_with_a_current_code(client, world, mfa_required):
    chief = world.a[Role.CHIEF]
    login_as(client, chief)
    with captured_logs() as logs:
        page = client.get("/mfa/setup/").content.decode()
        qr = re.search(r"<svg[^>]*muster-qr__svg.*?</svg>", page, re.S).group(0)
        assert "<script" not in qr and "style=" not in qr and "<path" in qr
        secret = re.search(r'id="mfa-secret">([A-Z2-7 ]+)<', page).group(1)
        enrollment = re.search(r'name="enrollment" value="([^"]+)"', page).group(1)
        assert not AuthenticatorApp.objects.filter(user=chief).exists()  # nothing stored before a code confirms
        assert client.get("/mfa/setup/").content.decode().count(secret) == 1  # the same secret on a reload

        wrong_code = "000000" if code_for_secret(secret) != "000000" else "111111"
        wrong = client.post("/mfa/setup/", {"code": wrong_code, "enrollment": enrollment})
        assert "That code is not right" in wrong.content.decode()

        code = code_for_secret(secret)
        response = client.post("/mfa/setup/", {"code": code, "enrollment": enrollment})
        assert response["Location"] == "/mfa/recovery-codes/"
        codes_page = client.get("/mfa/recovery-codes/").content.decode()
    shown = re.findall(r"<code>([a-z2-7]{4}-[a-z2-7]{4})</code>", codes_page)
    assert len(shown) == 10 and len(set(shown)) == 10
    recovery = RecoveryCodeSet.objects.get(user=chief)
    stored = set(RecoveryCode.objects.filter(device=recovery).values_list("digest", flat=True))
    assert {recovery_code_digest(device_uuid=recovery.uuid, code=c.replace("-", "")) for c in shown} == stored
    assert "only time Muster shows these codes" in codes_page
    assert client.get("/mfa/recovery-codes/")["Location"] == "/home/"  # shown once
    assert client.get(home_of(world)).status_code == 200
    device = AuthenticatorApp.objects.get(user=chief)
    compact = secret.replace(" ", "")
    assert device.confirmed and device.bin_key == b32decode(compact + "=" * (-len(compact) % 8))
    assert audit_count(AuditAction.MFA_ENROLLED, chief) == 1
    assert audit_count(AuditAction.MFA_FAILED, chief) == 1
    secret_plain = secret.replace(" ", "")
    for line in logs:
        assert secret_plain not in line.replace(" ", "") and device.secret not in line and code not in line, line
        assert not any(c in line for c in shown), line
    for event in AuditEvent.objects.filter(actor=chief):
        assert code not in event.object_id and secret_plain not in event.object_id


def test_enrolled_accounts_cannot_enroll_again_without_a_reset(client, world, mfa_required):
    chief = world.a[Role.CHIEF]
    device = enroll(chief).device
    login_as(client, chief)
    assert client.get("/mfa/setup/")["Location"] == "/mfa/"
    client.post("/mfa/", {"code": code_for(device, 1)})
    assert client.get("/mfa/setup/")["Location"] == "/home/"
    assert AuthenticatorApp.objects.filter(user=chief).count() == 1


# --- Verification ---------------------------------------------------------------------------------


def test_a_current_code_opens_the_account_under_a_new_session_key_and_is_audited(client, world, mfa_required):
    chief = world.a[Role.CHIEF]
    device = enroll(chief).device
    login_as(client, chief)
    assert client.get(home_of(world))["Location"].startswith("/mfa/?next=")
    before = client.session.session_key
    response = client.post("/mfa/", {"code": code_for(device, 1)})
    assert response["Location"] == "/home/"
    assert client.session.session_key != before
    assert client.get(home_of(world)).status_code == 200
    assert AuditEvent.objects.filter(
        action=AuditAction.MFA_VERIFIED, actor=chief, object_type="network.authenticatorapp", object_id=str(device.pk)
    ).exists()


def test_a_used_code_cannot_be_used_again(client, world, mfa_required):
    chief = world.a[Role.CHIEF]
    enrolled = enroll(chief)
    device = enrolled.device
    login_as(client, chief)
    assert "not right" in client.post("/mfa/", {"code": enrolled.code_used}).content.decode()
    AuthenticatorApp.objects.filter(pk=device.pk).update(throttling_failure_count=0, throttling_failure_timestamp=None)

    code = code_for(device, 1)
    assert client.post("/mfa/", {"code": code})["Location"] == "/home/"
    client.post("/logout/")
    login_as(client, chief)
    replay = client.post("/mfa/", {"code": code})
    assert replay.status_code == 200 and "not right" in replay.content.decode()
    assert client.get(home_of(world))["Location"].startswith("/mfa/")


def test_a_recovery_code_signs_in_once(client, world, mfa_required):
    chief = world.a[Role.CHIEF]
    codes = enroll(chief).recovery_codes
    login_as(client, chief)
    typed = mfa.format_recovery_code(codes[3]).upper()  # as printed, in capitals: still accepted
    response = client.post("/mfa/", {"code": typed}, follow=True)
    assert response.redirect_chain[-1][0] == home_of(world)
    assert "9 left" in response.content.decode()
    assert AuditEvent.objects.filter(
        action=AuditAction.MFA_VERIFIED, actor=chief, object_type="network.recoverycodeset"
    ).exists()
    client.post("/logout/")
    login_as(client, chief)
    again = client.post("/mfa/", {"code": codes[3]})
    assert again.status_code == 200 and "not right" in again.content.decode()
    assert mfa.recovery_codes_left(chief) == 9


def test_wrong_codes_are_throttled_and_audited_without_the_code(client, world, mfa_required, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 60  # a minute after one wrong code, so a slow machine cannot outwait it
    chief = world.a[Role.CHIEF]
    device = enroll(chief).device
    login_as(client, chief)
    right = code_for(device, 1)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    failed_before = audit_count(AuditAction.MFA_FAILED, chief)

    assert "not right" in client.post("/mfa/", {"code": wrong}).content.decode()
    throttled = client.post("/mfa/", {"code": right}).content.decode()
    assert "Too many wrong codes" in throttled  # even the right code waits out the back-off
    assert client.get(home_of(world)).status_code == 302

    failures = AuditEvent.objects.filter(action=AuditAction.MFA_FAILED, actor=chief)
    assert failures.count() == failed_before + 2
    assert {(e.object_type, e.object_id) for e in failures} == {("network.user", str(chief.pk))}
    device.refresh_from_db()
    assert device.throttling_failure_count == 1  # attempts while waiting are refused unchecked

    AuthenticatorApp.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=timezone.now() - timedelta(seconds=61)
    )
    assert client.post("/mfa/", {"code": right})["Location"] == "/home/"


def test_wrong_recovery_codes_are_throttled_too(client, world, mfa_required, settings):
    settings.OTP_STATIC_THROTTLE_FACTOR = 60
    chief = world.a[Role.CHIEF]
    codes = enroll(chief).recovery_codes
    login_as(client, chief)
    client.post("/mfa/", {"code": "aaaa-aaaa"})
    assert "Too many wrong codes" in client.post("/mfa/", {"code": codes[0]}).content.decode()
    assert RecoveryCodeSet.objects.get(user=chief).throttling_failure_count == 1
    assert mfa.recovery_codes_left(chief) == 10


# --- No way around it -----------------------------------------------------------------------------


def test_a_password_reset_does_not_bypass_mfa(client, world, mfa_required, django_capture_on_commit_callbacks):
    clinician = world.a[Role.CLINICIAN]
    enroll(clinician)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/password-reset/", {"email": clinician.email})
    link = re.search(re.escape(settings.MUSTER_BASE_URL) + r"(/password-reset/\S+/)", mail.outbox[0].body).group(1)
    set_url = client.get(link, follow=True).redirect_chain[-1][0]
    new_password = "a-brand-new-passphrase"
    done = client.post(set_url, {"new_password1": new_password, "new_password2": new_password}, follow=True)
    assert "new password is saved" in done.content.decode()
    assert client.get(home_of(world))["Location"].startswith("/login/")  # the reset signs nobody in

    response = login_as(client, clinician, password=new_password, follow=True)
    assert response.redirect_chain[-1][0].startswith("/mfa/")
    for path in (home_of(world), f"{home_of(world)}encounters/", "/activations/"):
        assert client.get(path)["Location"].startswith("/mfa/"), path


def test_accepting_an_invitation_signs_in_only_as_far_as_mfa_setup(client, world, mfa_required):
    email = f"invitee-{uuid.uuid4().hex[:8]}@test.example"
    _invitation, token = agency_services.invitation_create(
        actor=world.a[Role.AGENCY_ADMIN], agency=world.agency_a, email=email, role=Role.PEER_SUPPORTER
    )
    response = client.post(
        f"/invite/{token}/",
        {"full_name": "New Person", "password1": "a-long-enough-passphrase", "password2": "a-long-enough-passphrase"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/mfa/setup/"
    assert "Set up two-step sign-in" in response.content.decode()
    assert client.get(home_of(world))["Location"].startswith("/mfa/setup/")


def test_an_enrolled_account_is_asked_for_its_code_even_where_mfa_is_relaxed(client, world, settings):
    settings.MUSTER_MFA_REQUIRED = False
    chief = world.a[Role.CHIEF]
    device = enroll(chief).device
    login_as(client, chief)
    assert client.get(home_of(world))["Location"].startswith("/mfa/?next=")
    client.post("/mfa/", {"code": code_for(device, 1)})
    assert client.get(home_of(world)).status_code == 200


# --- Relaxed for the demo -------------------------------------------------------------------------


def test_relaxed_mfa_lets_a_password_sign_in_and_every_page_says_so(client, world, settings):
    settings.MUSTER_MFA_REQUIRED = False
    settings.MUSTER_DEMO = True
    assert OFF_BANNER in client.get("/login/").content.decode()
    response = login_as(client, world.a[Role.CHIEF], follow=True)
    assert response.redirect_chain[-1][0] == home_of(world)
    page = response.content.decode()
    assert f"{OFF_BANNER} for the demo" in page and "Demo network" in page
    assert "Set up two-step sign-in" in client.get("/mfa/setup/").content.decode()  # still available by choice


def test_no_banner_when_mfa_is_required(client, world, mfa_required):
    assert OFF_BANNER not in client.get("/login/").content.decode()


# --- Lost phone -----------------------------------------------------------------------------------


def test_reset_mfa_command_removes_the_devices_ends_sessions_and_is_audited(client, world, mfa_required):
    chief = world.a[Role.CHIEF]
    device = enroll(chief).device
    login_as(client, chief)
    client.post("/mfa/", {"code": code_for(device, 1)})
    assert client.get(home_of(world)).status_code == 200

    call_command("reset_mfa", chief.email.upper(), "--by", world.state_admin.email)

    assert not AuthenticatorApp.objects.filter(user=chief).exists()
    assert not RecoveryCodeSet.objects.filter(user=chief).exists()
    assert client.get(home_of(world))["Location"].startswith("/login/")
    assert AuditEvent.objects.filter(
        action=AuditAction.MFA_RESET, actor=world.state_admin, object_id=str(chief.pk)
    ).exists()
    login_as(client, chief)
    assert client.get(home_of(world))["Location"].startswith("/mfa/setup/")


def test_a_state_admin_resets_a_lost_phone_from_the_network_pages(client, world):
    chief = world.a[Role.CHIEF]
    enroll(chief)
    client.force_login(world.state_admin)
    assert "Reset a lost phone" in client.get("/network/").content.decode()
    unconfirmed = client.post("/network/mfa-reset/", {"email": chief.email})
    assert unconfirmed.status_code == 200 and AuthenticatorApp.objects.filter(user=chief).exists()
    unknown = client.post("/network/mfa-reset/", {"email": "nobody@test.example", "confirm": "on"})
    assert "No account has that e-mail address" in unknown.content.decode()

    response = client.post("/network/mfa-reset/", {"email": chief.email, "confirm": "on"}, follow=True)
    assert f"Two-step sign-in reset for {chief.email}" in response.content.decode()
    assert not AuthenticatorApp.objects.filter(user=chief).exists()
    assert not RecoveryCodeSet.objects.filter(user=chief).exists()
    assert AuditEvent.objects.filter(
        action=AuditAction.MFA_RESET, actor=world.state_admin, object_id=str(chief.pk)
    ).exists()


def test_reset_mfa_command_refuses_an_unknown_account():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No account"):
        call_command("reset_mfa", "nobody@test.example")


def test_users_without_roles_enroll_too(client, world, mfa_required):
    """MFA is per account, not per role: someone with no agency yet still sets it up first."""
    user = make_user(f"norole-{uuid.uuid4().hex[:8]}@test.example")
    login_as(client, user)
    assert client.get("/home/")["Location"] == "/mfa/setup/"


# --- Enrollment belongs to one session; an unfinished sign-in traps no one -------------------------


def setup_page(client) -> tuple[str, str]:
    """The secret (as shown, base32) and the enrollment id of the setup page this client is shown."""
    page = client.get("/mfa/setup/").content.decode()
    secret = re.search(r'id="mfa-secret">([A-Z2-7 ]+)<', page).group(1)
    return secret, re.search(r'name="enrollment" value="([^"]+)"', page).group(1)


def test_someone_who_knows_a_new_accounts_password_cannot_plant_their_authenticator(world, mfa_required):
    """The issue's two browsers: the attacker's session and the real user's are shown different
    secrets, and after the real user enrolls the attacker's codes open nothing."""
    from django.test import Client

    user = world.a[Role.PEER_SUPPORTER]
    attacker, owner = Client(), Client()
    login_as(attacker, user)
    attacker_secret, attacker_enrollment = setup_page(attacker)
    login_as(owner, user)
    owner_secret, owner_enrollment = setup_page(owner)
    assert attacker_secret != owner_secret
    assert not AuthenticatorApp.objects.filter(user=user).exists()

    confirmed = owner.post("/mfa/setup/", {"code": code_for_secret(owner_secret), "enrollment": owner_enrollment})
    assert confirmed["Location"] == "/mfa/recovery-codes/"

    late = attacker.post("/mfa/setup/", {"code": code_for_secret(attacker_secret), "enrollment": attacker_enrollment})
    assert late.status_code == 302 and late["Location"] == "/mfa/"
    stored_key = AuthenticatorApp.objects.get(user=user).bin_key
    assert b32encode(stored_key).decode().rstrip("=") == owner_secret.replace(" ", "")
    encounters = f"{home_of(world)}encounters/"
    for steps in (0, 1):
        refused = attacker.post("/mfa/", {"code": code_for_secret(attacker_secret, steps)})
        assert refused.status_code == 200 and "not right" in refused.content.decode()
        AuthenticatorApp.objects.filter(user=user).update(throttling_failure_count=0, throttling_failure_timestamp=None)
    assert attacker.get(encounters)["Location"].startswith("/mfa/")
    assert owner.get(encounters).status_code == 200


def test_the_sign_in_page_lets_the_next_person_sign_in_over_an_unfinished_sign_in(client, world, mfa_required):
    first, second = world.a[Role.CHIEF], world.a[Role.COORDINATOR]
    login_as(client, first)  # password given, code never entered; then they walk away
    page = client.get("/login/")
    assert page.status_code == 200
    assert "started in this browser but not finished" in page.content.decode()
    assert first.email not in page.content.decode()
    response = login_as(client, second)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(second.pk)
    assert client.get(home_of(world))["Location"].startswith("/mfa/setup/")  # the second person's own setup


def test_a_setup_page_from_an_earlier_sign_in_is_never_confirmed_onto_the_next_account(client, world, mfa_required):
    first, second = world.a[Role.CHIEF], world.a[Role.COORDINATOR]
    login_as(client, first)
    old_secret, old_enrollment = setup_page(client)  # the first person's page, still open in a tab
    login_as(client, second)
    response = client.post(
        "/mfa/setup/", {"code": code_for_secret(old_secret), "enrollment": old_enrollment}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/mfa/setup/"
    assert "belonged to an earlier sign-in" in response.content.decode()
    assert not AuthenticatorApp.objects.filter(user__in=[first, second]).exists()
    new_secret, new_enrollment = setup_page(client)
    assert new_secret != old_secret and new_enrollment != old_enrollment


def test_a_setup_form_without_this_sessions_enrollment_confirms_nothing(client, world, mfa_required):
    chief = world.a[Role.CHIEF]
    login_as(client, chief)
    secret, _enrollment = setup_page(client)
    client.post("/mfa/setup/", {"code": code_for_secret(secret)})
    client.post("/mfa/setup/", {"code": code_for_secret(secret), "enrollment": "guessed"})
    assert not AuthenticatorApp.objects.filter(user=chief).exists()


# --- At rest: secrets encrypted, recovery codes hashed -----------------------------------------------


def raw_column(sql: str, params) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def test_the_authenticator_secret_is_encrypted_in_the_database(world, mfa_required):
    chief = world.a[Role.CHIEF]
    device = enroll(chief).device
    secret_hex = device.bin_key.hex()
    secret_b32 = b32encode(device.bin_key).decode().rstrip("=")
    (stored,) = raw_column("SELECT secret FROM network_authenticatorapp WHERE user_id = %s", [chief.pk])
    assert stored.startswith("m1.")  # an AES-256-GCM ciphertext under the network's data key
    assert secret_hex not in stored.lower() and secret_b32 not in stored.upper()
    assert not raw_column("SELECT key FROM otp_totp_totpdevice WHERE user_id = %s", [chief.pk])
    # Moved to another row it no longer decrypts (the ciphertext is bound to its row).
    other = enroll(world.a[Role.CLINICIAN]).device
    AuthenticatorApp.objects.filter(pk=other.pk).update(secret=Ciphertext(stored))
    from network.crypto import DecryptionError

    with pytest.raises(DecryptionError):
        AuthenticatorApp.objects.get(pk=other.pk).bin_key  # noqa: B018


def test_recovery_codes_are_stored_only_as_keyed_hashes(world, mfa_required):
    chief = world.a[Role.CHIEF]
    codes = enroll(chief).recovery_codes
    stored = raw_column(
        "SELECT c.digest FROM network_recoverycode c JOIN network_recoverycodeset s ON s.id = c.device_id "
        "WHERE s.user_id = %s",
        [chief.pk],
    )
    assert len(stored) == 10
    for code in codes:
        assert all(code not in value for value in stored)
        assert all(hashlib.sha256(code.encode()).hexdigest() != value for value in stored)  # keyed, not bare
    assert not raw_column(
        "SELECT t.token FROM otp_static_statictoken t JOIN otp_static_staticdevice d ON d.id = t.device_id "
        "WHERE d.user_id = %s",
        [chief.pk],
    )


def test_enrolled_accounts_keep_their_app_and_recovery_codes_through_the_migration(client, world, mfa_required):
    """The data migration moves django-otp's plain-text devices into the encrypted and hashed ones."""
    import importlib

    from django.apps import apps
    from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
    from django_otp.plugins.otp_totp.models import TOTPDevice

    chief, pending = world.a[Role.CHIEF], world.a[Role.CLINICIAN]
    old_app = TOTPDevice.objects.create(user=chief, name="Authenticator app", confirmed=True)
    TOTPDevice.objects.create(user=pending, name="Authenticator app", confirmed=False)  # a shared pending one
    old_codes = StaticDevice.objects.create(user=chief, name="Recovery codes", confirmed=True)
    StaticToken.objects.bulk_create([StaticToken(device=old_codes, token=t) for t in ("abcd2345", "wxyz6777")])

    migration = importlib.import_module("network.migrations.0011_mfa_devices_moved_from_django_otp")
    migration.move_devices(apps, None)

    assert not TOTPDevice.objects.exists() and not StaticToken.objects.exists()
    assert not AuthenticatorApp.objects.filter(user=pending).exists()
    moved = AuthenticatorApp.objects.get(user=chief)
    assert moved.bin_key == old_app.bin_key
    login_as(client, chief)
    code = f"{totp(old_app.bin_key, step=30, t0=0, digits=6, drift=1):06d}"
    assert client.post("/mfa/", {"code": code})["Location"] == "/home/"
    client.post("/logout/")
    login_as(client, chief)
    assert client.post("/mfa/", {"code": "abcd-2345"}, follow=True).redirect_chain[-1][0] == home_of(world)
    assert mfa.recovery_codes_left(chief) == 1
