"""A peer supporter on a phone logs an encounter in a handful of taps, then completes a follow-up."""

import datetime
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from agencies.models import Role
from tests.e2e.conftest import VIEWPORTS, screenshot
from tests.support import agency_url, login_as

pytestmark = [pytest.mark.browser, pytest.mark.stack]


def test_supporter_logs_an_encounter_on_a_phone_and_completes_its_follow_up(stack, world, browser, axe_check):
    supporter = world.a[Role.PEER_SUPPORTER]
    context = browser.new_context(viewport=VIEWPORTS["phone"], has_touch=True)
    page = context.new_page()
    try:
        login_as(page, supporter, base_url=stack.base_url)
        expect(page.get_by_role("heading", level=1)).to_contain_text("Your peer support work")

        taps = 0

        def tap(locator):
            nonlocal taps
            taps += 1
            locator.click()

        tap(page.get_by_role("link", name="Log an encounter"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Log an encounter")
        axe_check(page, "encounter form")
        screenshot(page, "encounter-form-phone")
        tap(page.get_by_role("group", name="How long").get_by_text("15-29 min"))
        tap(page.get_by_role("group", name="How", exact=True).get_by_text("In person"))
        tap(page.get_by_role("group", name="Who reached out").get_by_text("Peer outreach"))
        tap(page.get_by_role("group", name="Topics").get_by_text("Critical incident"))
        tap(page.get_by_role("group", name=re.compile("Confidentiality limits")).get_by_text("Yes"))
        due = (timezone.localdate() + datetime.timedelta(days=2)).isoformat()
        taps += 1
        page.get_by_label("Follow-up due").fill(due)
        tap(page.get_by_role("button", name="Save encounter"))

        expect(page.get_by_role("status").filter(has_text="Encounter saved.")).to_be_visible()
        assert taps <= 10, f"logging took {taps} interactions"
        expect(page.get_by_text("Critical incident")).to_be_visible()
        axe_check(page, "encounter saved")

        page.goto(stack.base_url + agency_url(world.agency_a, "followup_list"))
        card = page.get_by_role("region", name=f"Follow-up due {due}")
        card.get_by_text("Contacted; no further need").click()
        card.get_by_role("button", name="Complete follow-up").click()
        expect(page.get_by_role("status").filter(has_text="Follow-up completed.")).to_be_visible()
        expect(page.get_by_role("region", name=f"Follow-up due {due}")).to_have_count(0)
        axe_check(page, "follow-ups")
        screenshot(page, "follow-ups-phone")
    finally:
        context.close()
