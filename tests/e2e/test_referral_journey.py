"""Referrals in a browser (issue 18): a supporter logs an encounter, refers the member to the suggested clinician,
later marks the referral waitlisted and refers on to the next one in one step, then records the first appointment
attended; the state admin finds the first entry in the directory's dead ends (one referral: suppressed)."""

import re
import uuid

import pytest
from playwright.sync_api import expect

from agencies.models import Role
from network.models import Region
from tests.e2e.conftest import VIEWPORTS, csp_violations, screenshot
from tests.support import agency_url, login_as, make_resource

pytestmark = [pytest.mark.browser, pytest.mark.stack]


def test_refer_waitlist_refer_on_attend_and_the_dead_end_count(stack, world, browser, axe_check, django_db_blocker):
    tag = uuid.uuid4().hex[:4]
    first, second = f"First Choice Clinic {tag}", f"Second Choice Clinic {tag}"
    with django_db_blocker.unblock():
        north = Region.objects.get(network_id=world.network_id, slug="north")
        make_resource(world, name=first, region=north, wait_days=0)
        make_resource(world, name=second, region=north, wait_days=1)
    context = browser.new_context(viewport=VIEWPORTS["phone"], has_touch=True)
    page = context.new_page()
    violations = csp_violations(page)
    try:
        login_as(page, world.a[Role.PEER_SUPPORTER], base_url=stack.base_url)
        page.goto(stack.base_url + agency_url(world.agency_a, "encounter_new"))
        page.get_by_role("group", name="How long").get_by_text("15-29 min").click()
        page.get_by_role("group", name="How", exact=True).get_by_text("In person").click()
        page.get_by_role("group", name="Who reached out").get_by_text("Peer outreach").click()
        page.get_by_role("group", name="Topics").get_by_text("Critical incident").click()
        page.get_by_role("group", name=re.compile("Confidentiality limits")).get_by_text("Yes").click()
        page.get_by_role("button", name="Save encounter").click()
        expect(page.get_by_role("status").filter(has_text="Encounter saved.")).to_be_visible()

        # The referral step: confirmed entries with the shortest wait first.
        page.get_by_role("link", name="Refer to a resource").click()
        expect(page.locator("section.muster-card").first).to_have_attribute("aria-label", first)
        axe_check(page, "referral step")
        screenshot(page, "referral-step-phone")
        page.get_by_role("button", name=f"Refer to {first}").click()
        expect(page.get_by_role("status").filter(has_text=f"Referred to {first}")).to_be_visible()

        # Later, from My follow-ups: waitlisted, and referred on to the next in one step.
        page.goto(stack.base_url + agency_url(world.agency_a, "followup_list"))
        page.get_by_role("link", name=f"Record how the referral went ({first})").click()
        page.get_by_role("button", name=f"Waitlisted: refer to {second}").click()
        expect(page.get_by_role("status").filter(has_text=f"referred on to {second}")).to_be_visible()
        page.get_by_role("link", name=second).click()
        page.get_by_role("group", name="How did the referral go?").get_by_text("First appointment attended").click()
        page.get_by_role("button", name="Save").click()
        facts = page.locator("dl.muster-facts")
        expect(facts).to_contain_text("First appointment attended (since")
        expect(facts).to_contain_text("Completed")
        axe_check(page, "referral attended")
        screenshot(page, "referral-attended-phone")

        assert not violations, violations
        # The state admin sees the first entry's dead ends (one: below the threshold, so suppressed).
        context.close()
        context = browser.new_context(viewport=VIEWPORTS["phone"], has_touch=True)
        page = context.new_page()
        violations = csp_violations(page)
        login_as(page, world.state_admin, base_url=stack.base_url)
        page.goto(stack.base_url + "/network/directory/dead-ends/")
        row = page.get_by_role("row").filter(has_text=first)
        for _ in range(20):  # the worker refreshes the agency's counts after the change
            if "suppressed" in row.inner_text():
                break
            page.wait_for_timeout(500)
            page.reload()
        expect(row).to_contain_text("suppressed")
        axe_check(page, "dead ends")
        screenshot(page, "dead-ends-phone")
        assert not violations, violations
    finally:
        context.close()
