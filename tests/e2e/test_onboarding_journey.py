"""A state admin onboards an agency in the browser, watches its set-up finish (real Celery worker),
and invites the agency's first admin."""

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import VIEWPORTS, screenshot
from tests.support import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.stack]


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_state_admin_onboards_an_agency_and_invites_its_first_admin(stack, world, browser, axe_check, viewport):
    slug = f"lakeside-{uuid.uuid4().hex[:6]}"
    context = browser.new_context(viewport=VIEWPORTS[viewport])
    page = context.new_page()
    try:
        page.goto(stack.base_url + "/login/")
        page.get_by_label("E-mail").fill(world.state_admin.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("link", name="Onboard an agency").click()

        page.get_by_role("button", name="Create the agency").click()
        expect(page.get_by_text("This field is required.").first).to_be_visible()
        axe_check(page, "agency form with errors")

        page.get_by_label("Name").fill("Lakeside Fire District")
        page.get_by_label("Discipline").select_option("fire")
        page.get_by_label("Region").select_option(label="North")
        page.get_by_label("Web address").fill(slug)
        page.get_by_role("button", name="Create the agency").click()

        expect(page).to_have_url(re.compile(r"/network/agencies/\d+/$"))
        expect(page.get_by_test_id("provision-step")).to_have_text("Ready", timeout=30_000)
        axe_check(page, "agency ready")
        admin_email = f"first.admin@{slug}.test"
        page.get_by_label("E-mail of the agency's first admin").fill(admin_email)
        page.get_by_role("button", name="Send invitation").click()
        expect(page.get_by_role("status").filter(has_text="Invitation sent")).to_be_visible()
        screenshot(page, f"onboarding-ready-{viewport}")
        assert admin_email in stack.sent_mail()
    finally:
        context.close()
