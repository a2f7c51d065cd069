"""The heart of Muster in a browser: a coordinator opens an activation with a second agency, lists
the affected members (a duplicate is flagged and merged), assigns one to the other agency's supporter,
who logs the contact on a phone; the coordinator's open board shows it without a reload. While nothing changes the
board's polls are answered 204 and only the time of the check moves (issue 15 §3)."""

import re
import uuid

import pytest
from playwright.sync_api import expect

from agencies.models import Role
from tests.e2e.conftest import VIEWPORTS, csp_violations, screenshot
from tests.support import login_as

pytestmark = [pytest.mark.browser, pytest.mark.stack]


def test_interagency_activation_from_opening_to_a_contact_on_the_live_board(stack, world, browser, axe_check):
    name = f"Harbor bridge collapse {uuid.uuid4().hex[:4]}"
    coordinator_context = browser.new_context(viewport=VIEWPORTS["desktop"])
    supporter_context = browser.new_context(viewport=VIEWPORTS["phone"])
    board = coordinator_context.new_page()
    phone = supporter_context.new_page()
    board_violations, phone_violations = csp_violations(board), csp_violations(phone)
    try:
        login_as(board, world.a[Role.COORDINATOR], base_url=stack.base_url)
        board.get_by_role("link", name="Open an activation").click()
        board.get_by_role("group", name="Type of incident").get_by_text("Mass casualty incident").click()
        board.get_by_label("Name").fill(name)
        board.get_by_label("General location").fill("Harbor bridge")
        board.get_by_role("group", name="Other participating agencies").get_by_text(world.agency_b.name).click()
        axe_check(board, "open activation form")
        board.get_by_role("button", name="Open the activation").click()
        expect(board.get_by_role("heading", level=1)).to_have_text(name)

        board.get_by_role("link", name="Add affected members").click()
        board.get_by_label("Their agency").select_option(label=world.agency_a.name)
        board.get_by_role("group", name="Exposure").get_by_text("Directly involved").click()
        board.get_by_label("Or paste a list").fill("Casey Rivers, engineer\nMorgan Lee")
        axe_check(board, "add members form")
        board.get_by_role("button", name="Add").click()
        expect(board.get_by_role("status").filter(has_text="2 affected members added.")).to_be_visible()

        board.get_by_role("link", name="Add affected members").click()
        board.get_by_label("Their agency").select_option(label=world.agency_b.name)
        board.get_by_role("group", name="Exposure").get_by_text("Witness").click()
        board.get_by_label("Name", exact=True).fill("  casey   RIVERS ")
        board.get_by_role("button", name="Add").click()
        expect(board.get_by_role("status").filter(has_text="1 flagged as a possible duplicate")).to_be_visible()
        board.get_by_role("button", name="Merge").click()
        expect(board.get_by_text("possible duplicate", exact=True)).to_have_count(0)

        board.get_by_role("link", name=re.compile("^Assign Casey Rivers")).click()
        supporter = world.b[Role.PEER_SUPPORTER]
        board.get_by_text(supporter.full_name).click()
        axe_check(board, "assign page")
        board.get_by_role("button", name="Assign").click()
        expect(board.get_by_role("status").filter(has_text=f"Assigned to {supporter.full_name}")).to_be_visible()
        row = board.locator("tr", has_text="Casey Rivers")
        expect(row.locator(".usa-tag")).to_have_text("Pending")
        axe_check(board, "activation board")

        # Nothing changes now: a poll sends the version it drew, is answered 204, and the check's time moves on.
        checked = board.locator("[data-board-checked]")
        before = checked.text_content()
        with board.expect_response(
            lambda r: "/board/live/" in r.url and r.status == 204 and r.request.header_value("x-muster-board-version"),
            timeout=20_000,
        ):
            pass
        expect(checked).not_to_have_text(before)
        expect(row.locator(".usa-tag")).to_have_text("Pending")

        login_as(phone, supporter, base_url=stack.base_url)
        phone.get_by_role("link", name=name).click()
        expect(phone.get_by_text("Casey Rivers")).to_be_visible()
        expect(phone.get_by_text("Morgan Lee")).to_have_count(0)  # not theirs
        phone.get_by_role("link", name="Log the contact").click()
        expect(phone.get_by_text(f"the activation {name}")).to_be_visible()
        phone.get_by_role("group", name="How long").get_by_text("30-44 min").click()
        phone.get_by_role("group", name="How", exact=True).get_by_text("In person").click()
        phone.get_by_role("group", name="Topics").get_by_text("Critical incident").click()
        phone.get_by_role("group", name=re.compile("Confidentiality limits")).get_by_text("Yes").click()
        phone.get_by_role("button", name="Save encounter").click()
        expect(phone.get_by_role("status").filter(has_text="Encounter saved.")).to_be_visible()

        # The coordinator's board, never reloaded, shows the contact within a poll or two.
        expect(row.locator(".usa-tag")).to_have_text("Contacted", timeout=20_000)
        screenshot(board, "activation-board-desktop")
        assert not board_violations and not phone_violations, board_violations + phone_violations
    finally:
        coordinator_context.close()
        supporter_context.close()
