"""Issue 13, the activation pages as a new coordinator meets them: a supporter who belongs to two agencies
is assigned under the second one and works the assignment there on a phone; the activation pages lead home,
the list says what it lists and offers to open one, and the board reads on a phone (members first, filters
and checklist folded, no alarm red on zero)."""

import uuid

import pytest
from playwright.sync_api import expect

from agencies.models import Role
from tests.e2e.conftest import VIEWPORTS, csp_violations, screenshot
from tests.support import agency_url, login_as

pytestmark = [pytest.mark.browser, pytest.mark.stack]


def open_activation_with_b(page, world, name):
    """From the page's "Open an activation" button, the coordinator of A opens an activation with B."""
    page.get_by_role("link", name="Open an activation").click()
    page.get_by_role("group", name="Type of incident").get_by_text("Major fire").click()
    page.get_by_label("Name").fill(name)
    page.get_by_label("General location").fill("Dock 4")
    page.get_by_role("group", name="Other participating agencies").get_by_text(world.agency_b.name).click()
    page.get_by_role("button", name="Open the activation").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)


def add_member(page, world, member):
    page.get_by_role("link", name="Add affected members").click()
    page.get_by_label("Their agency").select_option(label=world.agency_a.name)
    page.get_by_role("group", name="Exposure").get_by_text("Directly involved").click()
    page.get_by_label("Name", exact=True).fill(member)
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_role("status").filter(has_text="1 affected member added.")).to_be_visible()


def test_a_supporter_of_two_agencies_is_assigned_under_the_second_and_works_it_there_on_a_phone(
    stack, world, browser, axe_check
):
    """Defects 1 and 7: the two choices of a two-agency supporter used to share one id and one value, so
    choosing the second agency assigned under the first."""
    name, member = f"Dock fire {uuid.uuid4().hex[:4]}", "Riley Stone"
    two, agency_b = world.two_agency_user, world.agency_b
    desk = browser.new_context(viewport=VIEWPORTS["desktop"])
    phone = browser.new_context(viewport=VIEWPORTS["phone"], has_touch=True)
    board, mobile = desk.new_page(), phone.new_page()
    violations = csp_violations(board) + csp_violations(mobile)
    try:
        login_as(board, world.a[Role.COORDINATOR], base_url=stack.base_url)  # lands on the agency home
        open_activation_with_b(board, world, name)
        add_member(board, world, member)

        board.get_by_role("link", name=f"Assign {member}").click()
        # The tile that names the person and Bravo (USWDS keeps the radio input itself off-screen).
        board.locator("label", has_text=two.full_name).filter(has_text=agency_b.name).click()
        axe_check(board, "assign page with a two-agency supporter")
        screenshot(board, "assign-two-agencies-desktop")
        board.get_by_role("button", name="Assign", exact=True).click()
        expect(board.get_by_role("status")).to_contain_text(f"Assigned to {two.full_name} ({agency_b.name})")
        row = board.locator("tr", has_text=member)
        expect(row.get_by_role("cell").nth(1)).to_contain_text(f"{two.full_name} ({agency_b.name})")

        # Back on the assign page: the person is shown once, the agency is the choice, Bravo's is checked.
        row.get_by_role("link", name="Reassign").click()
        person = board.get_by_role("group", name=two.full_name)
        expect(person.get_by_role("radio")).to_have_count(2)
        expect(board.get_by_role("radio", name=f"{two.full_name} · {agency_b.name}")).to_be_checked()
        expect(board.get_by_role("radio", name=f"{two.full_name} · {world.agency_a.name}")).not_to_be_checked()
        board.get_by_role("link", name="Back to the board").click()

        # The supporter, on a phone, works it under Bravo: the contact is logged in Bravo's own schema.
        login_as(mobile, two, base_url=stack.base_url)
        mobile.goto(f"{stack.base_url}/activations/")
        mobile.get_by_role("link", name=name).click()
        mobile.goto(mobile.url.replace("/board/", "/mine/"))  # a Bravo coordinator lands on the board
        assignment = mobile.get_by_role("region", name="Assignment 1")
        expect(assignment).to_contain_text(member)
        log = assignment.get_by_role("link", name="Log the contact")
        expect(log).to_have_attribute("href", agency_url(agency_b, "encounter_new") + "?outreach=" + _uuid_of(row))
        log.click()
        expect(mobile.get_by_text(f"the activation {name}")).to_be_visible()
        assert agency_url(agency_b, "agency_home") in mobile.url
        screenshot(mobile, "assignment-logged-under-second-agency-phone")
        assert not violations, violations
    finally:
        desk.close()
        phone.close()


def _uuid_of(row) -> str:
    """The member's uuid, from the board row's assign link."""
    href = row.get_by_role("link", name="Reassign").get_attribute("href")
    return href.split("/members/")[1].split("/")[0]


def test_activation_pages_lead_home_list_what_they_list_and_the_board_reads_on_a_phone(
    stack, world, browser, axe_check
):
    """Friction: a way home from every activation page, 'Open an activation' on the list, the list's scope
    in words for a network role, and the board at 375 px: members first, filters and checklist folded,
    zero counters not in alarm red."""
    name = f"Grain silo fire {uuid.uuid4().hex[:4]}"
    phone = browser.new_context(viewport=VIEWPORTS["phone"], has_touch=True)
    desk = browser.new_context(viewport=VIEWPORTS["desktop"])
    page, admin = phone.new_page(), desk.new_page()
    try:
        login_as(page, world.a[Role.COORDINATOR], base_url=stack.base_url)
        page.goto(stack.base_url + "/activations/")  # the list's own button opens one
        expect(page.get_by_text("Listed here: activations your agencies take part in.")).to_be_visible()
        screenshot(page, "activation-list-phone")
        open_activation_with_b(page, world, name)

        # At 375 px the members come first; filters and checklist are folded below them.
        members = page.get_by_role("heading", name="Affected members")
        filters = page.locator("summary", has_text="Filter the board")
        expect(members).to_be_visible()
        assert members.bounding_box()["y"] < filters.bounding_box()["y"]
        expect(page.get_by_label("Status", exact=True)).to_be_hidden()
        unassigned = page.locator(".muster-stats li", has_text="Unassigned").locator(".muster-stat__value")
        expect(unassigned).to_have_text("0")
        expect(unassigned).not_to_have_css("color", "rgb(181, 9, 9)")
        axe_check(page, "board on a phone")
        screenshot(page, "activation-board-phone")
        add_member(page, world, "Sam Field")
        expect(unassigned).to_have_text("1")
        expect(unassigned).to_have_css("color", "rgb(181, 9, 9)")
        page.get_by_role("link", name="Assign Sam Field").click()
        expect(page.get_by_role("group", name=world.two_agency_user.full_name)).to_be_visible()
        axe_check(page, "assign page on a phone")
        screenshot(page, "assign-two-agencies-phone")
        page.get_by_role("link", name="Back to the board").click()
        filters.click()
        expect(page.get_by_label("Status", exact=True)).to_be_visible()

        # The way home, from the activation's own page.
        page.get_by_role("button", name="Menu").click()
        page.get_by_role("link", name=f"Home ({world.agency_a.name})").click()
        expect(page).to_have_url(stack.base_url + agency_url(world.agency_a, "agency_home"))

        # A network role sees activations it has not joined: the list says so.
        login_as(admin, world.state_admin, base_url=stack.base_url)
        admin.goto(stack.base_url + "/activations/")
        expect(admin.get_by_text("every activation in the network, as state admin")).to_be_visible()
        expect(admin.get_by_text("Activations you take part in")).to_have_count(0)
        expect(admin.get_by_role("link", name="Open an activation")).to_have_attribute(
            "href", "/network/activations/new/"
        )
        axe_check(admin, "activation list")
        screenshot(admin, "activation-list-desktop")
        admin.get_by_role("link", name=name).click()
        screenshot(admin, "activation-board-desktop-network-role")
    finally:
        phone.close()
        desk.close()
