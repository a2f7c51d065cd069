"""Every role signs in through a real browser, at desktop and phone widths, and lands on an
accessible home page of its own."""

import re

import pytest
from playwright.sync_api import expect

from agencies.models import Role
from tests.e2e.conftest import VIEWPORTS, csp_violations, screenshot
from tests.support import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.stack]

JOURNEYS = {
    # who: (user in the world, landing path, heading text)
    "state_admin": (lambda w: w.state_admin, r"/network/$", "Test Network"),
    "regional": (lambda w: w.regional_a, r"/network/$", "North"),
    Role.AGENCY_ADMIN.value: (lambda w: w.a[Role.AGENCY_ADMIN], r"/a/alpha-fire/$", "Alpha Fire"),
    Role.COORDINATOR.value: (lambda w: w.a[Role.COORDINATOR], r"/a/alpha-fire/$", "Peer team"),
    Role.PEER_SUPPORTER.value: (lambda w: w.a[Role.PEER_SUPPORTER], r"/a/alpha-fire/$", "Your peer support work"),
    Role.CLINICIAN.value: (lambda w: w.a[Role.CLINICIAN], r"/a/alpha-fire/$", "Team clinician"),
    Role.CHIEF.value: (lambda w: w.a[Role.CHIEF], r"/a/alpha-fire/$", "Peer support program"),
}


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("who", list(JOURNEYS))
def test_role_signs_in_and_lands_on_its_home_page(stack, world, browser, axe_check, who, viewport):
    get_user, landing, heading = JOURNEYS[who]
    user = get_user(world)
    context = browser.new_context(viewport=VIEWPORTS[viewport])
    page = context.new_page()
    violations = csp_violations(page)
    try:
        page.goto(stack.base_url + "/login/")
        axe_check(page, "sign-in page")
        page.get_by_label("E-mail").fill(user.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()

        expect(page).to_have_url(re.compile(landing))
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        axe_check(page, f"{who} home")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= VIEWPORTS[viewport]["width"], f"page is {width}px wide: it scrolls sideways"
        screenshot(page, f"sign-in-{who}-{viewport}")

        if viewport == "phone":
            page.get_by_role("button", name="Menu").click()
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(re.compile(r"/login/$"))
        assert not violations, violations
    finally:
        context.close()


def test_wrong_password_is_explained_in_the_browser(stack, world, browser, axe_check):
    context = browser.new_context(viewport=VIEWPORTS["phone"])
    page = context.new_page()
    try:
        page.goto(stack.base_url + "/login/")
        page.get_by_label("E-mail").fill(world.a[Role.CHIEF].email)
        page.get_by_label("Password").fill("not-the-password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("alert")).to_contain_text("do not match an active account")
        axe_check(page, "sign-in error")
    finally:
        context.close()
