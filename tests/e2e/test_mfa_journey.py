"""Two-step sign-in in a real browser on a phone: set up an authenticator app from the page, keep
the recovery codes, then sign in again with an app code and with a recovery code."""

import re
import time
import uuid
from base64 import b32decode

import pytest
from django_otp.oath import hotp
from playwright.sync_api import expect

from tests.e2e.conftest import VIEWPORTS, csp_violations, screenshot
from tests.stack import Stack
from tests.support import PASSWORD, login_as, make_user

pytestmark = [pytest.mark.browser, pytest.mark.stack]


class MfaRequiredStack(Stack):
    """A web server on the suite's test database with MFA required, as in production (the suite's
    default is relaxed so that other journeys sign in with a password)."""

    def env(self) -> dict[str, str]:
        return {**super().env(), "MUSTER_MFA_REQUIRED": "1"}


@pytest.fixture(scope="module")
def mfa_stack(stack):
    web = MfaRequiredStack()  # the `stack` fixture's worker answers this server's health check
    web.start_web()
    try:
        web.wait_healthy()
        yield web
    finally:
        web.stop()


@pytest.fixture
def newcomer(django_db_blocker):
    """A committed account of its own, so its authenticator cannot touch the shared world's users."""
    with django_db_blocker.unblock():
        return make_user(f"mfa-{uuid.uuid4().hex[:10]}@test.example", "Morgan Example")


def time_step() -> int:
    """The current 30-second TOTP time step."""
    return int(time.time()) // 30


def app_code(secret: str, step: int | None = None) -> str:
    """What an authenticator app shows for the secret typed from the page, at a given time step
    (TOTP is HOTP of the step number)."""
    compact = secret.replace(" ", "")
    key = b32decode(compact + "=" * (-len(compact) % 8))
    return f"{hotp(key, time_step() if step is None else step):06d}"


def sign_out(page) -> None:
    page.get_by_role("button", name="Menu").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login/$"))


def test_a_user_sets_up_mfa_on_a_phone_and_signs_in_with_a_code_then_a_recovery_code(
    mfa_stack, browser, axe_check, newcomer
):
    phone = VIEWPORTS["phone"]
    context = browser.new_context(viewport=phone, has_touch=True)
    page = context.new_page()
    violations = csp_violations(page)
    try:
        login_as(page, newcomer, base_url=mfa_stack.base_url)
        expect(page).to_have_url(re.compile(r"/mfa/setup/$"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Set up two-step sign-in")
        expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
        axe_check(page, "MFA setup")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= phone["width"], f"setup page is {width}px wide: it scrolls sideways"
        screenshot(page, "mfa-setup-phone")

        secret = page.locator("#mfa-secret").inner_text()
        page.get_by_label("6-digit code from the app").fill("000000" if app_code(secret) != "000000" else "111111")
        page.get_by_role("button", name="Turn on two-step sign-in").click()
        expect(page.get_by_role("alert")).to_contain_text("That code is not right")
        page.wait_for_timeout(1100)  # one wrong code: the app is asked to wait a second
        enrolled_step = time_step()
        page.get_by_label("6-digit code from the app").fill(app_code(secret, enrolled_step))
        page.get_by_role("button", name="Turn on two-step sign-in").click()

        expect(page.get_by_role("heading", level=1)).to_have_text("Save your recovery codes")
        codes = page.locator(".muster-recovery-codes code").all_inner_texts()
        assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-7]{4}-[a-z2-7]{4}", c) for c in codes)
        axe_check(page, "recovery codes")
        assert page.evaluate("document.documentElement.scrollWidth") <= phone["width"]
        screenshot(page, "mfa-recovery-codes-phone")
        page.get_by_role("link", name="I have stored them, continue").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("not part of an agency yet")
        sign_out(page)

        login_as(page, newcomer, base_url=mfa_stack.base_url)
        expect(page.get_by_role("heading", level=1)).to_have_text("Enter your sign-in code")
        axe_check(page, "MFA code")
        screenshot(page, "mfa-verify-phone")
        # A later step than the one spent at setup (a code is accepted once): now's, or the next one,
        # which the server allows one step of clock drift for, if the clock has not moved on yet.
        page.get_by_label("Code").fill(app_code(secret, max(time_step(), enrolled_step + 1)))
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("not part of an agency yet")
        sign_out(page)

        login_as(page, newcomer, base_url=mfa_stack.base_url)
        page.get_by_label("Code").fill(codes[0])
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("status")).to_contain_text("9 left")
        axe_check(page, "signed in with a recovery code")
        sign_out(page)

        login_as(page, newcomer, base_url=mfa_stack.base_url)
        page.get_by_label("Code").fill(codes[0])
        page.get_by_role("button", name="Continue").click()
        expect(page.get_by_role("alert")).to_contain_text("not right")
        assert not violations, violations
    finally:
        context.close()


@pytest.fixture
def second_newcomer(django_db_blocker):
    with django_db_blocker.unblock():
        return make_user(f"mfa-{uuid.uuid4().hex[:10]}@test.example", "Riley Example")


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_the_next_person_at_a_browser_with_an_unfinished_sign_in_can_sign_in(
    mfa_stack, browser, axe_check, newcomer, second_newcomer, viewport
):
    """Someone gave their password and walked away from the code step: the sign-in page still works
    for the next person, says the unfinished sign-in ends, and the next person sets up their own app."""
    size = VIEWPORTS[viewport]
    context = browser.new_context(viewport=size)
    page = context.new_page()
    violations = csp_violations(page)
    try:
        login_as(page, newcomer, base_url=mfa_stack.base_url)
        expect(page).to_have_url(re.compile(r"/mfa/setup/$"))
        first_secret = page.locator("#mfa-secret").inner_text()

        page.goto(mfa_stack.base_url + "/login/")
        expect(page).to_have_url(re.compile(r"/login/$"))
        expect(page.get_by_role("status")).to_contain_text("started in this browser but not finished")
        axe_check(page, "sign-in over an unfinished sign-in")
        assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
        screenshot(page, f"sign-in-over-unfinished-{viewport}")

        page.get_by_label("E-mail").fill(second_newcomer.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page).to_have_url(re.compile(r"/mfa/setup/$"))
        expect(page.get_by_text(f"Account: {second_newcomer.email}")).to_be_visible()
        assert page.locator("#mfa-secret").inner_text() != first_secret
        screenshot(page, f"mfa-setup-after-unfinished-{viewport}")
        assert not violations, violations
    finally:
        context.close()
