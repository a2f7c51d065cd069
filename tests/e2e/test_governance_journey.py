"""Governance in a browser: the state admin records a signed agreement and an activation protocol;
an agency admin imports a roster CSV with one bad row and sees it reported, nothing applied; a
coordinator opens an activation of that type and finds the protocol's checklist on the board."""

import datetime
import uuid

import pytest
from playwright.sync_api import expect

from agencies.models import Role
from tests.e2e.conftest import VIEWPORTS, csp_violations, screenshot
from tests.support import agency_url, login_as

pytestmark = [pytest.mark.browser, pytest.mark.stack]
PDF = b"%PDF-1.4\n% signed by both chiefs\n%%EOF\n"


def test_agreement_protocol_and_roster_import_lead_to_a_checklist_on_the_board(stack, world, browser, axe_check):
    title = f"Alpha and Bravo mutual aid {uuid.uuid4().hex[:4]}"
    step = f"Family liaison assigned {uuid.uuid4().hex[:4]}"
    admin_context = browser.new_context(viewport=VIEWPORTS["desktop"])
    phone_context = browser.new_context(viewport=VIEWPORTS["phone"])
    page, phone = admin_context.new_page(), phone_context.new_page()
    violations = csp_violations(page)
    phone_violations = csp_violations(phone)
    try:
        # The state admin records the signed agreement.
        login_as(page, world.state_admin, base_url=stack.base_url)
        page.goto(stack.base_url + "/network/")
        page.get_by_role("link", name="Agreements").click()
        page.get_by_role("link", name="Record an agreement").click()
        page.get_by_label("Title").fill(title)
        parties = page.get_by_role("group", name="Parties")
        parties.get_by_text(world.agency_a.name).click()
        parties.get_by_text(world.agency_b.name).click()
        scopes = page.get_by_role("group", name="What it covers")
        scopes.get_by_text("Joint activation").click()
        scopes.get_by_text("Cross-agency outreach").click()
        page.get_by_label("In force from").fill(datetime.date.today().isoformat())
        page.get_by_label("Expires on (optional)").fill(
            (datetime.date.today() + datetime.timedelta(days=20)).isoformat()
        )
        page.get_by_label("Signed agreement").set_input_files(
            files=[{"name": "signed.pdf", "mimeType": "application/pdf", "buffer": PDF}]
        )
        axe_check(page, "record agreement form")
        page.get_by_role("button", name="Record the agreement").click()
        expect(page.get_by_role("heading", level=1)).to_have_text(title)
        expect(page.get_by_text("Expires in 20 days")).to_be_visible()

        # ... and the protocol for line-of-duty deaths.
        page.goto(stack.base_url + "/network/")
        page.get_by_role("link", name="Activation protocols").click()
        page.get_by_role("link", name="Line-of-duty death").click()
        page.get_by_label("Checklist").fill(f"2h {step}\n12h Defusing\n1d-10d Debriefing (CISD)")
        page.get_by_label("Follow up each affected member after (days)").fill("7, 30, 90")
        axe_check(page, "protocol form")
        screenshot(page, "governance-protocol-form")
        page.get_by_role("button", name="Save the protocol").click()
        expect(page.get_by_role("status").filter(has_text="Protocol saved")).to_be_visible()
        expect(page.locator("tr", has_text="Line-of-duty death")).to_contain_text("3 steps")

        # The agency admin imports the roster on a phone; one bad row stops the whole file.
        login_as(phone, world.a[Role.AGENCY_ADMIN], base_url=stack.base_url)
        phone.goto(stack.base_url + agency_url(world.agency_a, "agency_roster"))
        phone.get_by_role("link", name="Import CSV").click()
        csv = (
            "email,designated_on,availability,languages,certification,certified_on,expires_on\n"
            f"{world.a[Role.PEER_SUPPORTER].email},2024-01-15,available,Spanish,cism-group,2025-02-01,2028-02-01\n"
            f"{world.a[Role.COORDINATOR].email},someday,available,,,,\n"
        )
        phone.locator("input[type=file][name=file]").set_input_files(
            files=[{"name": "roster.csv", "mimeType": "text/csv", "buffer": csv.encode()}]
        )
        phone.get_by_role("button", name="Check and import").click()
        report = phone.get_by_role("alert")
        expect(report).to_contain_text("Nothing was imported: 1 problem")
        expect(report).to_contain_text("Line 3")
        axe_check(phone, "roster import report")
        screenshot(phone, "governance-roster-import-phone")

        # The same admin sees the new agreement, flagged as expiring, among their agency's agreements.
        phone.goto(stack.base_url + agency_url(world.agency_a, "agency_agreements"))
        expect(phone.locator("tr", has_text=title)).to_contain_text("Expires in 20 days")
        axe_check(phone, "agency agreements on a phone")
        screenshot(phone, "governance-agency-agreements-phone")

        # A coordinator opens a line-of-duty death activation: the protocol's checklist is on the board.
        page.get_by_role("button", name="Sign out").click()
        login_as(page, world.a[Role.COORDINATOR], base_url=stack.base_url)
        page.goto(stack.base_url + agency_url(world.agency_a, "agency_activation_open"))
        page.get_by_role("group", name="Type of incident").get_by_text("Line-of-duty death").click()
        page.get_by_label("Name").fill(f"Engine 7 LODD {uuid.uuid4().hex[:4]}")
        page.get_by_label("General location").fill("Station 7")
        page.get_by_role("button", name="Open the activation").click()
        checklist = page.get_by_role("region", name="Protocol checklist")
        expect(checklist).to_contain_text(step)
        expect(checklist).to_contain_text("Debriefing (CISD)")
        screenshot(page, "governance-board-checklist-before")
        checklist.locator("li", has_text=step).get_by_role("button").click()
        expect(page.get_by_role("status").filter(has_text=f"Done: {step}")).to_be_visible()
        axe_check(page, "board with checklist")
        screenshot(page, "governance-board-checklist")
        assert not violations and not phone_violations, violations + phone_violations
    finally:
        admin_context.close()
        phone_context.close()
