"""The paged lists in Chromium at 375 px and 1280 px: the filters and the pagination control fit the screen, are
accessible, and moving between pages keeps the filters (issue 15 §2)."""

import re

import pytest
from playwright.sync_api import expect

from agencies.models import Role
from tests.e2e.conftest import VIEWPORTS, screenshot
from tests.support import agency_url, login_as

pytestmark = [pytest.mark.browser, pytest.mark.stack]

FITS = "document.documentElement.scrollWidth <= window.innerWidth"


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_a_coordinator_pages_through_the_roster_keeping_the_filter(stack, world, browser, axe_check, viewport):
    context = browser.new_context(viewport=VIEWPORTS[viewport])
    page = context.new_page()
    try:
        login_as(page, world.a[Role.COORDINATOR], base_url=stack.base_url)
        page.goto(stack.base_url + agency_url(world.agency_a, "agency_roster") + "?q=a&per_page=1")
        nav = page.get_by_role("navigation", name="Pages of supporters")
        expect(nav).to_be_visible()
        expect(nav.get_by_role("link", name=re.compile("Page 1 of"))).to_have_attribute("aria-current", "page")
        assert page.evaluate(FITS), "the roster scrolls sideways"
        axe_check(page, f"roster, page 1 ({viewport})")
        screenshot(page, f"roster-paged-{viewport}")

        nav.get_by_role("link", name="Next page").click()
        expect(page).to_have_url(re.compile(r"\?q=a&per_page=1&page=2$"))
        expect(page.get_by_label("Name")).to_have_value("a")
        expect(page.get_by_role("status").filter(has_text="page 2 of")).to_be_visible()

        for name in ("encounter_list", "followup_list", "disclosure_list"):
            page.goto(stack.base_url + agency_url(world.agency_a, name) + "?per_page=1")
            expect(page.get_by_role("button", name="Filter")).to_be_visible()
            assert page.evaluate(FITS), f"{name} scrolls sideways"
            axe_check(page, f"{name} ({viewport})")
            screenshot(page, f"{name}-paged-{viewport}")
    finally:
        context.close()


def test_the_state_admin_pages_through_the_audit_trail_on_a_phone(stack, world, browser, axe_check):
    context = browser.new_context(viewport=VIEWPORTS["phone"])
    page = context.new_page()
    try:
        login_as(page, world.state_admin, base_url=stack.base_url)
        page.goto(stack.base_url + "/network/audit/?outcome=success&per_page=5")
        nav = page.get_by_role("navigation", name="Pages of audit events")
        nav.get_by_role("link", name="Next page").click()
        expect(page).to_have_url(re.compile(r"\?outcome=success&per_page=5&page=2$"))
        assert page.evaluate(FITS), "the audit trail scrolls sideways"
        axe_check(page, "audit trail, page 2")
        screenshot(page, "audit-paged-phone")
    finally:
        context.close()
