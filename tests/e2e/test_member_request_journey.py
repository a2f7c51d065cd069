"""Issue 17, "done means": on a phone, a member opens the poster's address and asks for someone from another
agency, letting only the supporter see their number; the region's coordinator sees the request without the number
and gives it to a supporter of the other agency; the supporter sees the number and logs the contact with the
member's agreement to check-ins; the member answers a check-in "I'd like a call", which is in the supporter's
follow-ups."""

import datetime
import re

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from agencies.models import Role
from encounters import maintenance, selectors
from encounters.models import CheckIn
from members.models import MemberRequest
from tests.e2e.conftest import VIEWPORTS, csp_violations, screenshot
from tests.support import login_as

pytestmark = [pytest.mark.browser, pytest.mark.stack]

NUMBER = "(555) 014-2999"


def choose(page, group: str, text: str) -> None:
    page.get_by_role("group", name=group).get_by_text(text, exact=True).click()


def test_a_member_asks_for_another_agency_and_is_checked_on_afterwards_on_a_phone(
    stack, world, browser, axe_check, django_db_blocker
):
    supporter = world.b[Role.PEER_SUPPORTER]
    member = browser.new_context(viewport=VIEWPORTS["phone"], has_touch=True)
    staff = browser.new_context(viewport=VIEWPORTS["phone"], has_touch=True)
    ask, work = member.new_page(), staff.new_page()
    violations = csp_violations(ask) + csp_violations(work)
    try:
        ask.goto(f"{stack.base_url}/r/{world.request_token}/")
        choose(ask, "How soon do you need someone?", "I need help now")
        expect(ask.get_by_role("heading", name="If you need help right now").first).to_be_visible()  # before sending
        choose(ask, "How soon do you need someone?", "Today, if possible")
        choose(ask, "You are", "I work for the agency")
        choose(ask, "Who would you like to talk to?", "Someone from another agency in the network")
        choose(ask, "How can we reach you?", "Phone (call or text)")
        ask.get_by_label("Your phone number or e-mail").fill(NUMBER)
        choose(ask, "Who may see how to reach you?", "Only the supporter who takes my request")
        axe_check(ask, "member request form")
        screenshot(ask, "member-request-phone")
        ask.get_by_role("button", name="Send my request").click()
        expect(ask.get_by_role("heading", level=1)).to_have_text("Thank you. Your request is sent.")
        with django_db_blocker.unblock():
            row = MemberRequest.objects.filter(agency=world.agency_a, served_by="other").order_by("-id").first()

        login_as(work, world.regional_a, base_url=stack.base_url)
        work.goto(f"{stack.base_url}/network/requests/")
        work.locator(f"a[href='/network/requests/{row.uuid}/']").click()
        expect(work.locator("#request-contact")).to_contain_text("Only the supporter who takes the request sees it")
        expect(work.get_by_text("555")).to_have_count(0)
        work.get_by_label("Give this request to").select_option(label=f"{supporter.full_name} ({world.agency_b.name})")
        work.get_by_role("button", name="Give this request").click()
        expect(work.locator("#request-state")).to_contain_text(supporter.full_name)
        screenshot(work, "member-request-assigned-phone")

        work.context.clear_cookies()
        login_as(work, supporter, base_url=stack.base_url)
        work.goto(f"{stack.base_url}/a/{world.agency_b.slug}/requests/mine/")
        work.get_by_role("link", name=re.compile("asked")).first.click()
        expect(work.locator("#request-contact")).to_contain_text("+15550142999")
        work.get_by_role("link", name="Log the contact").click()
        work.get_by_role("group", name="How long").get_by_text("30-44 min").click()
        work.get_by_role("group", name="How", exact=True).get_by_text("Phone").click()
        work.get_by_role("group", name="Topics").get_by_text("Work stress").click()
        work.get_by_role("group", name=re.compile("Confidentiality limits")).get_by_text("Yes").click()
        work.get_by_text(re.compile("The member agrees to short check-ins")).click()
        work.get_by_label("Member's e-mail for check-ins").fill("member.e2e@example.net")
        work.get_by_role("button", name="Save encounter").click()
        expect(work.get_by_role("heading", level=1)).to_be_visible()
        with django_db_blocker.unblock():
            row.refresh_from_db()
            assert row.status == "contacted"
            # A week later the first check-in goes out; the member answers from their phone.
            week_later = timezone.localdate() + datetime.timedelta(days=7)
            maintenance.checkins_send_due(agency=world.agency_b, today=week_later)
            with tenant_context(world.agency_b):
                sent = CheckIn.objects.filter(plan__encounter__member_request_id=row.pk, sent_at__isnull=False)
                token = selectors.checkin_token(world.agency_b, sent.get())
        ask.goto(f"{stack.base_url}/c/{token}/")
        axe_check(ask, "check-in page")
        ask.get_by_role("button", name="I'd like a call").click()
        expect(ask.get_by_role("heading", level=1)).to_have_text("Thank you")
        screenshot(ask, "member-checkin-phone")

        work.goto(f"{stack.base_url}/a/{world.agency_b.slug}/follow-ups/")
        expect(work.get_by_text(timezone.localdate().isoformat()).first).to_be_visible()
        screenshot(work, "member-checkin-follow-up-phone")
        assert not violations
    finally:
        member.close()
        staff.close()
