"""The encounter form on the incident night (issue 13): a police supporter logs the contact with a fire
engineer on a phone, finds the protocol's follow-ups in "My follow-ups", cannot save the same contact twice
with Back, and is guided by marked required groups and an error summary."""

import datetime
import re
import uuid

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context
from playwright.sync_api import expect

from activations import services as activation_services
from agencies import services as agency_services
from agencies.models import Discipline, Membership, Role
from encounters.models import Encounter
from governance import services as governance_services
from network import selectors, standards
from network import services as network_services
from network.models import NetworkRole
from tests.e2e.conftest import VIEWPORTS, csp_violations, screenshot
from tests.support import agency_url, login_as, make_agency, make_ready, make_user, signed_pdf

pytestmark = [pytest.mark.browser, pytest.mark.stack]


class Incident:
    """A network of its own (the test commits through the real stack): Riverton Fire leads a major-fire
    activation under a 7/30/90-day protocol with Riverton Police; a fire engineer is assigned to a police
    supporter."""

    def __init__(self, django_db_blocker):
        with django_db_blocker.unblock():
            tag = uuid.uuid4().hex[:6]
            network = network_services.network_get_or_create(name=f"Riverton {tag}", slug=f"riverton-{tag}")
            region = network_services.region_get_or_create(network=network, name="Valley", slug="valley")
            admin = make_user(f"riverton-admin-{tag}@test.example", "Riverton Admin")
            network_services.network_role_grant(
                actor=None, user=admin, network=network, role=NetworkRole.Role.STATE_ADMIN
            )
            self.fire = make_agency(
                actor=admin, network=network, region=region, slug=f"riverton-fire-{tag}", name=f"Riverton Fire {tag}"
            )
            self.police = make_agency(
                actor=admin,
                network=network,
                region=region,
                slug=f"riverton-police-{tag}",
                name=f"Riverton Police {tag}",
                discipline=Discipline.LAW_ENFORCEMENT,
            )
            self.coordinator = make_user(f"riverton-coord-{tag}@test.example", "Casey Coordinator")
            self.supporter = make_user(f"riverton-peer-{tag}@test.example", "Alex Moreno")
            agency_services.membership_add(actor=admin, user=self.coordinator, agency=self.fire, role=Role.COORDINATOR)
            agency_services.membership_add(
                actor=admin, user=self.supporter, agency=self.police, role=Role.PEER_SUPPORTER
            )
            for membership in Membership.objects.filter(user__in=[self.coordinator, self.supporter]):
                make_ready(membership, actor=admin)
            standards.policy_update(actor=admin, network=network, notes_enabled=True)
            governance_services.agreement_record(
                actor=admin,
                network=network,
                title=f"Riverton mutual aid {tag}",
                network_wide=False,
                parties=[self.fire, self.police],
                scopes=["joint-activation", "cross-agency-outreach"],
                effective_on=timezone.localdate() - datetime.timedelta(days=30),
                expires_on=timezone.localdate() + datetime.timedelta(days=365),
                document=signed_pdf(),
            )
            governance_services.protocol_save(
                actor=admin,
                network=network,
                incident_type="major-fire",
                name="Major fire",
                steps=[("Defusing", 0, 12)],
                follow_up_days=[7, 30, 90],
            )
            self.activation = activation_services.activation_open(
                actor=self.coordinator,
                lead_agency=self.fire,
                incident_type="major-fire",
                name=f"Mill Street fire {tag}",
                occurred_at=timezone.now() - datetime.timedelta(hours=3),
                location="Mill Street",
                participating=[self.police],
            )
            (target,) = activation_services.targets_add(
                actor=self.coordinator,
                activation=self.activation,
                home_agency=self.fire,
                entries=[("Jamie Engine", "engineer")],
                exposure="direct",
            )
            self.target = activation_services.target_assign(
                actor=self.coordinator, target=target, supporter=self.supporter, expected_supporter_id=None
            )
            self.incident_day = timezone.localtime(self.activation.occurred_at).date()

    def encounters(self, django_db_blocker) -> list[Encounter]:
        with django_db_blocker.unblock(), tenant_context(self.police):
            return list(Encounter.objects.order_by("created_at"))

    def form_url(self, base_url) -> str:
        return base_url + agency_url(self.police, "encounter_new") + f"?outreach={self.target.uuid}"


def fill_required(page, *, initiator: bool = False):
    page.get_by_role("group", name="How long").get_by_text("30-44 min").click()
    page.get_by_role("group", name="How", exact=True).get_by_text("In person").click()
    if initiator:  # an activation contact has it prefilled
        page.get_by_role("group", name="Who reached out").get_by_text("Peer outreach").click()
    page.get_by_role("group", name="Topics").get_by_text("Critical incident").click()
    page.get_by_role("group", name=re.compile("Confidentiality limits")).get_by_text("Yes").click()


def test_activation_contact_is_prefilled_from_the_member_and_names_its_activation(
    stack, world, browser, axe_check, django_db_blocker
):
    """Defect 2: the form takes the member's agency (fire, another agency), not the supporter's (police),
    shows the activation the contact belongs to, and the saved page links back to it."""
    incident = Incident(django_db_blocker)
    context = browser.new_context(viewport=VIEWPORTS["phone"], has_touch=True)
    page = context.new_page()
    violations = csp_violations(page)
    try:
        login_as(page, incident.supporter, base_url=stack.base_url)
        page.goto(stack.base_url + f"/activations/{incident.activation.uuid}/")
        page.get_by_role("link", name="Log the contact").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Log an encounter")
        page.get_by_text("More details", exact=True).click()
        relation = page.get_by_role("group", name="Member is from")
        expect(relation.get_by_label("Other agency / mutual aid")).to_be_checked()
        expect(page.get_by_role("group", name="Member's discipline").get_by_label("Fire", exact=True)).to_be_checked()
        expect(
            page.get_by_role("group", name="Member's role").get_by_label("Firefighter / EMS provider")
        ).to_be_checked()
        expect(page.get_by_role("group", name="Member's role").get_by_label("Sworn")).not_to_be_checked()
        activation_field = page.get_by_label(re.compile("Part of an activation"))
        expect(activation_field).to_contain_text(incident.activation.name)
        expect(activation_field.locator("option:checked")).to_have_text(re.compile(re.escape(incident.activation.name)))
        axe_check(page, "activation contact form")
        screenshot(page, "encform-activation-contact-phone")
        fill_required(page)
        page.get_by_role("button", name="Save encounter").click()
        expect(page.get_by_role("status").filter(has_text="Encounter saved.")).to_be_visible()
        back = page.get_by_role("link", name=re.compile("Back to the activation"))
        expect(back).to_be_visible()
        screenshot(page, "encform-activation-contact-saved-phone")
        (encounter,) = incident.encounters(django_db_blocker)
        assert (encounter.recipient_relation, encounter.recipient_discipline, encounter.role_class) == (
            "other-agency",
            "fire",
            "firefighter-ems",
        )
        assert encounter.activation_id == incident.activation.pk
        back.click()
        expect(page.get_by_role("heading", level=2, name="My assignments")).to_be_visible()
        assert not violations, violations
    finally:
        context.close()


def test_activation_follow_ups_are_in_my_follow_ups_on_the_home_page_and_on_the_board(
    stack, world, browser, axe_check, django_db_blocker
):
    """Defect 3: the protocol's 7/30/90-day follow-ups are the supporter's follow-ups: listed (with their own
    action) in "My follow-ups", counted on the home page; the board's column shows the next one due."""
    incident = Incident(django_db_blocker)
    seven = incident.incident_day + datetime.timedelta(days=7)
    phone = browser.new_context(viewport=VIEWPORTS["phone"], has_touch=True)
    desk = browser.new_context(viewport=VIEWPORTS["desktop"])
    page, board = phone.new_page(), desk.new_page()
    try:
        login_as(page, incident.supporter, base_url=stack.base_url)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        page.goto(stack.base_url + agency_url(incident.police, "agency_home"))
        expect(page.get_by_text(re.compile(r"My follow-ups: 3 open"))).to_be_visible()
        page.get_by_role("link", name="My follow-ups").click()
        card = page.get_by_role("region", name=f"Follow-up due {seven:%Y-%m-%d}")
        expect(card).to_contain_text("7-day follow-up")
        expect(card).to_contain_text(incident.activation.name)
        expect(page.get_by_role("region", name=re.compile("^Follow-up due"))).to_have_count(3)
        axe_check(page, "my follow-ups with activation follow-ups")
        screenshot(page, "encform-my-follow-ups-phone")
        page.set_viewport_size(VIEWPORTS["desktop"])
        screenshot(page, "encform-my-follow-ups-desktop")
        page.set_viewport_size(VIEWPORTS["phone"])

        # Once contacted, the 7-day follow-up is done from the list itself.
        page.goto(incident.form_url(stack.base_url))
        fill_required(page)
        page.get_by_role("button", name="Save encounter").click()
        expect(page.get_by_role("status").filter(has_text="Encounter saved.")).to_be_visible()
        page.goto(stack.base_url + agency_url(incident.police, "followup_list"))
        card = page.get_by_role("region", name=f"Follow-up due {seven:%Y-%m-%d}")
        card.get_by_role("button", name=re.compile("Done")).click()
        expect(page.get_by_role("status").filter(has_text="7-day follow-up is recorded as done")).to_be_visible()
        expect(page).to_have_url(re.compile(r"/follow-ups/$"))
        expect(page.get_by_role("region", name=re.compile("^Follow-up due"))).to_have_count(2)

        login_as(board, incident.coordinator, base_url=stack.base_url)
        board.goto(f"{stack.base_url}/activations/{incident.activation.uuid}/board/")
        row = board.locator("tr", has_text="Jamie Engine")
        thirty = incident.incident_day + datetime.timedelta(days=30)
        expect(row.locator("td[data-label='Follow-up']")).to_contain_text(f"{thirty:%Y-%m-%d}")
        screenshot(board, "encform-board-follow-up-column-desktop")
    finally:
        phone.close()
        desk.close()


def test_back_after_saving_neither_restores_the_notes_nor_saves_twice(
    stack, world, browser, axe_check, django_db_blocker
):
    """Defect 4: Back after "Encounter saved." shows no note, and saving what Back shows creates no second
    encounter; the form page and the response after saving are sent no-store."""
    incident = Incident(django_db_blocker)
    context = browser.new_context(viewport=VIEWPORTS["phone"], has_touch=True)
    page = context.new_page()
    try:
        login_as(page, incident.supporter, base_url=stack.base_url)
        response = page.goto(stack.base_url + agency_url(incident.police, "encounter_new"))
        assert "no-store" in response.headers.get("cache-control", "")
        fill_required(page, initiator=True)
        page.get_by_label(re.compile("^Notes")).fill("Check in after the night shift.")
        key = page.locator("input[name=submission_key]").input_value()
        with page.expect_navigation() as saved:
            page.get_by_role("button", name="Save encounter").click()
        assert "no-store" in saved.value.headers.get("cache-control", "")
        expect(page.get_by_role("status").filter(has_text="Encounter saved.")).to_be_visible()
        assert len(incident.encounters(django_db_blocker)) == 1

        page.go_back()
        expect(page.get_by_role("button", name="Save encounter")).to_be_visible()
        restored_note = page.get_by_label(re.compile("^Notes")).input_value()
        restored_key = page.locator("input[name=submission_key]").input_value()
        page.get_by_role("button", name="Save encounter").click()
        page.wait_for_load_state()
        count = len(incident.encounters(django_db_blocker))
        assert count == 1, f"Back + save created a second encounter (same key: {restored_key == key})"
        assert restored_note == "", "Back restored the note"
        page.go_back()
        expect(page.locator("form.muster-encounter-form")).to_have_attribute("autocomplete", "off")
        expect(page.get_by_label(re.compile("^Notes"))).to_have_attribute("autocomplete", "off")
    finally:
        context.close()


def test_required_groups_are_marked_and_an_error_summary_takes_focus(stack, world, browser, axe_check):
    """Defect 5: every required group carries the required mark; saving an empty form puts a USWDS error
    summary at the top, linking to each field, and moves focus to it."""
    supporter = world.a[Role.PEER_SUPPORTER]
    context = browser.new_context(viewport=VIEWPORTS["phone"], has_touch=True)
    page = context.new_page()
    violations = csp_violations(page)
    try:
        login_as(page, supporter, base_url=stack.base_url)
        page.goto(stack.base_url + agency_url(world.agency_a, "encounter_new"))
        for name in ("How long", "How", "Who reached out", "Topics", "Confidentiality limits explained"):
            legend = page.locator("legend", has_text=re.compile("^" + re.escape(name)))
            expect(legend.first.locator(".usa-hint--required")).to_have_count(1)
        screenshot(page, "encform-required-marks-phone")
        page.get_by_role("button", name="Save encounter").click()
        summary = page.locator(".muster-error-summary")
        expect(summary).to_be_visible()
        expect(summary).to_be_focused()
        links = summary.get_by_role("link")
        for name in ("How long", "How", "Who reached out", "Topics", "Confidentiality limits explained"):
            link = links.filter(has_text=re.compile("^" + re.escape(name)))
            expect(link.first).to_be_visible()
        targets = [links.nth(i).get_attribute("href") for i in range(links.count())]
        for href in targets:
            assert href.startswith("#") and page.locator(href).count() == 1, href
        axe_check(page, "encounter form with errors")
        screenshot(page, "encform-error-summary-phone")
        page.set_viewport_size(VIEWPORTS["desktop"])
        screenshot(page, "encform-error-summary-desktop")
        links.filter(has_text=re.compile("^Topics")).first.click()
        expect(page).to_have_url(re.compile("#id_topics"))
        expect(page.locator("#id_topics_0")).to_be_focused()
        assert not violations, violations
    finally:
        context.close()


def test_friction_notes_policy_name_warning_and_assignment_actions(stack, world, browser, django_db_blocker):
    """Friction: the notes help states the retention in force; a name in the notes gets a gentle warning
    that does not stop saving; "Log the contact" comes first and the 7/30/90-day buttons wait for a contact."""
    incident = Incident(django_db_blocker)
    context = browser.new_context(viewport=VIEWPORTS["phone"], has_touch=True)
    page = context.new_page()
    try:
        login_as(page, incident.supporter, base_url=stack.base_url)
        page.goto(f"{stack.base_url}/activations/{incident.activation.uuid}/mine/")
        card = page.get_by_role("region", name="Assignment 1")
        expect(card.get_by_role("button", name=re.compile("^Done"))).to_have_count(0)
        first_action = card.locator("a.usa-button, button.usa-button").first
        expect(first_action).to_have_text("Log the contact")
        screenshot(page, "encform-my-assignments-before-contact-phone")

        page.goto(incident.form_url(stack.base_url))
        with django_db_blocker.unblock():
            days = selectors.policy_for(incident.police.network).notes_retention_days
        expect(page.get_by_text(re.compile(rf"kept {days} days after", re.IGNORECASE))).to_be_visible()
        fill_required(page)
        notes = page.get_by_label(re.compile("^Notes"))
        notes.fill("Spoke with Jamie Engine after shift.")
        warning = page.locator("#id_notes_name_warning")
        expect(warning).to_be_visible()
        expect(warning).to_contain_text("name")
        screenshot(page, "encform-name-warning-phone")
        page.set_viewport_size(VIEWPORTS["desktop"])
        screenshot(page, "encform-activation-contact-desktop")
        page.get_by_role("button", name="Save encounter").click()
        expect(page.get_by_role("status").filter(has_text="Encounter saved.")).to_be_visible()

        page.goto(f"{stack.base_url}/activations/{incident.activation.uuid}/mine/")
        card = page.get_by_role("region", name="Assignment 1")
        expect(card.get_by_role("button", name=re.compile("^Done"))).to_have_count(3)
        expect(card.locator("a.usa-button, button.usa-button").first).to_have_text("Log the contact")
        screenshot(page, "encform-my-assignments-after-contact-phone")
    finally:
        context.close()
