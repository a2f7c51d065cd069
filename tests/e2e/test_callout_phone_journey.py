"""Callout by text and voice in a browser, as issue 16 asks: a coordinator calls out the team; on the
development phone (/dev/phone/) one supporter replies 1 by text, another answers the voice call with 3, a
third never answers; the coordinator's board, never reloaded, shows available, involved (not assignable)
and escalated to the coordinators.

/dev/phone/ exists only under MUSTER_ENV=development, so this journey runs its own web server and worker in
development mode (no provider configured: texts and calls go to the console and the page), on a queue of
their own, with a protocol minute of half a second (N = M = 10 minutes: 5 s each)."""

import re
import uuid

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from playwright.sync_api import expect

from agencies import services as agency_services
from agencies.models import Role
from network import services as network_services
from tests.e2e.conftest import VIEWPORTS, csp_violations, screenshot
from tests.phone_provider import FakeProvider, confirm_committed
from tests.stack import Stack
from tests.support import PASSWORD, login_as, make_agency, make_ready, make_user

pytestmark = [pytest.mark.browser, pytest.mark.stack]


class _DevelopmentStack(Stack):
    def __init__(self) -> None:
        super().__init__()
        self.queue = f"muster-phone-journey-{uuid.uuid4().hex[:8]}"

    def env(self) -> dict[str, str]:
        env = super().env()
        for name in ("MUSTER_SMS_ACCOUNT_SID", "MUSTER_SMS_AUTH_TOKEN", "MUSTER_SMS_FROM", "MUSTER_SMS_API_URL"):
            env.pop(name, None)
        env.update(
            MUSTER_ENV="development",
            MUSTER_MFA_REQUIRED="0",
            MUSTER_CALLOUT_MINUTE_SECONDS="0.5",
            MUSTER_CELERY_QUEUE=self.queue,
            MUSTER_BASE_URL=self.base_url,
        )
        return env


@pytest.fixture
def development_stack(django_db_setup):
    stack = _DevelopmentStack()
    stack.start()
    yield stack
    stack.stop()


def _people(django_db_blocker, settings):
    """A fresh network with one fire agency: a coordinator and three supporters with confirmed numbers."""
    provider = FakeProvider().start()
    for name, value in provider.settings().items():
        setattr(settings, name, value)
    try:
        with django_db_blocker.unblock():
            tag = uuid.uuid4().hex[:6]
            network = network_services.network_get_or_create(name=f"Phone {tag}", slug=f"phone-{tag}")
            region = network_services.region_get_or_create(network=network, name="East", slug="east")
            admin = make_user(f"phone-admin-{tag}@test.example")
            agency = make_agency(actor=admin, network=network, region=region, slug=f"phone-{tag}", name="Riverton Fire")
            people = {}
            for index, (key, name, role) in enumerate(
                [
                    ("coordinator", "Tom Kowalski", Role.COORDINATOR),
                    ("texts", "Alex Moreno", Role.PEER_SUPPORTER),
                    ("keypad", "Kendall Quintero", Role.PEER_SUPPORTER),
                    ("silent", "Maria Dawson", Role.PEER_SUPPORTER),
                ]
            ):
                user = make_user(f"phone-{key}-{tag}@test.example", name)
                # The suite hashes passwords with MD5 for speed; the development server accepts only its own.
                hasher = PBKDF2PasswordHasher()
                user.password = hasher.encode(PASSWORD, hasher.salt())
                user.save(update_fields=["password"])
                make_ready(agency_services.membership_add(actor=None, user=user, agency=agency, role=role))
                if key != "coordinator":
                    confirm_committed(provider, user, f"+1202555{int(tag, 16) % 90 + 10:02d}{index:02d}")
                people[key] = user
    finally:
        provider.stop()
    return agency, people


def test_text_reply_keypad_answer_and_silence_reach_the_live_board(
    development_stack, django_db_blocker, settings, browser, axe_check
):
    stack = development_stack
    agency, people = _people(django_db_blocker, settings)
    name = f"Warehouse fire {uuid.uuid4().hex[:4]}"
    board_context = browser.new_context(viewport=VIEWPORTS["desktop"])
    phone_context = browser.new_context(viewport=VIEWPORTS["phone"])
    board, phone = board_context.new_page(), phone_context.new_page()
    violations = csp_violations(board) + csp_violations(phone)
    try:
        login_as(board, people["coordinator"], base_url=stack.base_url)
        board.get_by_role("link", name="Open an activation").click()
        board.get_by_role("group", name="Type of incident").get_by_text("Major fire").click()
        board.get_by_label("Name").fill(name)
        board.get_by_label("General location").fill("Mill Street")
        board.get_by_role("button", name="Open the activation").click()
        expect(board.get_by_role("heading", level=1)).to_have_text(name)
        board.get_by_role("button", name="Call out the team").click()
        expect(board.get_by_role("status").filter(has_text="Callout sent to 4 supporters.")).to_be_visible()

        def roster_row(key):
            return board.locator("tr[data-channel-state]", has_text=people[key].full_name)

        # The development phone: what was texted, and a reply box.
        login_as(phone, people["texts"], base_url=stack.base_url)
        phone.goto(stack.base_url + "/dev/phone/")
        texted = phone.locator(f"tr[data-person='{people['texts'].email}'][data-purpose='callout']")
        for _ in range(40):
            if texted.count():
                break
            phone.wait_for_timeout(250)
            phone.reload()
        expect(texted.first).to_contain_text(f"Muster callout, {agency.name} peer team. Reply 1 available")
        expect(texted.first).not_to_contain_text(name)
        axe_check(phone, "development phone")
        phone.get_by_label("From").select_option(label=f"{people['texts'].full_name} ({people['texts'].email})")
        phone.get_by_label("Text", exact=True).fill("1")
        phone.get_by_role("button", name="Send the reply").click()
        expect(phone.get_by_text("Muster answered: Muster: recorded, available. Thank you.")).to_be_visible()
        expect(roster_row("texts")).to_have_attribute("data-answer", "available", timeout=15_000)
        expect(roster_row("texts")).to_contain_text("by text")

        # No answer to the text after N minutes: the call, answered with 3 on the keypad.
        call = phone.locator(f"tr[data-person='{people['keypad'].email}'][data-channel='voice']")
        for _ in range(80):
            if call.count():
                break
            phone.wait_for_timeout(250)
            phone.reload()
        call.first.get_by_role("button", name="Press 3").click()
        expect(phone.get_by_text(re.compile("The call said: recorded, involved or witness"))).to_be_visible()
        expect(roster_row("keypad")).to_contain_text("Yes: cannot be assigned", timeout=15_000)
        expect(roster_row("keypad")).to_contain_text("by keypad")

        # The third never answers: M minutes after the call, the coordinators are told on the board.
        expect(roster_row("silent")).to_have_attribute("data-channel-state", "escalated", timeout=30_000)
        expect(board.get_by_text(re.compile(r"\d+ escalated to coordinators"))).to_be_visible()
        assert roster_row("texts").get_attribute("data-channel-state") == "replied"
        board.locator("h2", has_text="Callout").scroll_into_view_if_needed()
        axe_check(board, "board with the callout's channel states")
        screenshot(board, "callout-board-desktop")
        screenshot(phone, "callout-dev-phone-phone")
        assert not violations, violations
    finally:
        board_context.close()
        phone_context.close()
