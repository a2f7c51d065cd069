"""A state admin onboards an agency in the browser, watches its set-up finish (real Celery worker),
and invites the agency's first admin."""

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import VIEWPORTS, screenshot
from tests.support import login_as

pytestmark = [pytest.mark.browser, pytest.mark.stack]


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_state_admin_onboards_an_agency_and_invites_its_first_admin(stack, world, browser, axe_check, viewport):
    slug = f"lakeside-{uuid.uuid4().hex[:6]}"
    context = browser.new_context(viewport=VIEWPORTS[viewport])
    page = context.new_page()
    try:
        login_as(page, world.state_admin, base_url=stack.base_url)
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


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_onboarding_suggests_the_web_address_from_the_name_and_keeps_an_edited_one(
    stack, world, browser, axe_check, viewport
):
    tag = uuid.uuid4().hex[:6]
    context = browser.new_context(viewport=VIEWPORTS[viewport])
    page = context.new_page()
    try:
        login_as(page, world.state_admin, base_url=stack.base_url)
        page.get_by_role("link", name="Onboard an agency").click()
        name, address = page.get_by_label("Name"), page.get_by_label("Web address")

        # Typed key by key, as a person types: the address follows the name, and is one the server accepts
        # even from a long name (whole words, at most 40 characters).
        name.press_sequentially("9th Battalion, Greater Lakeside County Fire Protection District")
        expect(address).to_have_value("battalion-greater-lakeside-county-fire")
        name.fill("")
        name.press_sequentially(f"Città di Lakeside Fire & Rescue {tag}")
        expect(address).to_have_value(f"citta-di-lakeside-fire-and-rescue-{tag}")
        screenshot(page, f"onboarding-suggested-address-{viewport}")
        axe_check(page, "agency form with a suggested address")

        # Edited by hand, the address is the admin's: typing more of the name leaves it alone.
        address.fill(world.agency_a.slug)
        name.press("End")
        name.press_sequentially(" North")
        expect(address).to_have_value(world.agency_a.slug)

        # The server still decides: an address already taken is refused, and the page keeps what was typed.
        page.get_by_label("Discipline").select_option("fire")
        page.get_by_label("Region").select_option(label="North")
        page.get_by_role("button", name="Create the agency").click()
        expect(page.get_by_text("Another agency already uses this address; choose another.").first).to_be_visible()
        expect(page.get_by_label("Web address")).to_have_value(world.agency_a.slug)
        expect(page.get_by_label("Name")).to_have_value(f"Città di Lakeside Fire & Rescue {tag} North")

        page.get_by_label("Web address").fill(f"lakeside-{tag}")
        page.get_by_role("button", name="Create the agency").click()
        expect(page).to_have_url(re.compile(r"/network/agencies/\d+/$"))
        expect(page.get_by_text(f"/a/lakeside-{tag}/").first).to_be_visible()
    finally:
        context.close()
