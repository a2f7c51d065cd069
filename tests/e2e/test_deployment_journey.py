"""Issue 19, the deployment journey as its users meet it: the lead coordinator asks for 4 supporters for 3 days, two
agencies offer, the requester accepts both, a supporter confirms and checks in on a phone and shows "on site" on the
board, and the ICS-214 activity log prints."""

import datetime
import uuid

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from activations import deploy_hours, deploy_site
from activations.models import Deployment, DeploymentShift
from agencies import services as agency_services
from agencies.models import Discipline, Membership, Role
from tests.e2e.conftest import VIEWPORTS, csp_violations, screenshot
from tests.support import agreement_record, login_as, make_agency, make_ready, make_user, open_activation

pytestmark = [pytest.mark.browser, pytest.mark.stack]


def _third_agency(world, tag: str):
    """Agency C under a joint-activation agreement with A, with a coordinator and a ready peer supporter."""
    agency = make_agency(
        actor=world.state_admin,
        network=world.agency_a.network,
        region=world.agency_a.region,
        slug=f"charlie-ems-{tag}",
        name=f"Charlie EMS {tag}",
        discipline=Discipline.EMS,
    )
    people = {}
    for role, name in ((Role.COORDINATOR, "Casey Coordinator"), (Role.PEER_SUPPORTER, "Pat Peer")):
        user = make_user(f"{role.value}.c.{tag}@test.example", f"{name} {tag}")
        agency_services.membership_add(actor=world.state_admin, user=user, agency=agency, role=role)
        make_ready(Membership.objects.get(user=user, agency=agency))
        people[role] = user
    agreement_record(world, [world.agency_a, agency], scopes=("joint-activation",), title=f"A and C {tag}")
    return agency, people


def _offer(browser, stack, agency, coordinator, supporter, name: str) -> None:
    """The offering agency's coordinator ticks their supporter on the agency's deployment requests page."""
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    page = context.new_page()
    try:
        login_as(page, coordinator, base_url=stack.base_url)
        page.goto(f"{stack.base_url}/a/{agency.slug}/deployments/")
        request = page.locator("section", has_text=name).first
        request.locator("label", has_text=supporter.full_name).click()
        request.get_by_role("button", name="Offer the ticked supporters").click()
        expect(page.get_by_role("status").filter(has_text="1 supporter offered.")).to_be_visible()
    finally:
        context.close()


def test_a_deployment_is_requested_offered_accepted_checked_into_on_a_phone_and_its_ics214_prints(
    stack, world, browser, axe_check, django_db_blocker
):
    tag = uuid.uuid4().hex[:4]
    name = f"Depot collapse {tag}"
    supporter, lead_coordinator = world.b[Role.PEER_SUPPORTER], world.a[Role.COORDINATOR]
    with django_db_blocker.unblock():
        agency_c, people_c = _third_agency(world, tag)
        activation = open_activation(world, name=name, location="Depot 7")
    today = timezone.localdate()
    desk = browser.new_context(viewport=VIEWPORTS["desktop"])
    phone = browser.new_context(viewport=VIEWPORTS["phone"], has_touch=True)
    lead, mobile = desk.new_page(), phone.new_page()
    violations = csp_violations(lead) + csp_violations(mobile)
    try:
        # The lead coordinator asks for 4 supporters for 3 days, from the board.
        login_as(lead, lead_coordinator, base_url=stack.base_url)
        lead.goto(f"{stack.base_url}/activations/{activation.uuid}/board/")
        lead.get_by_role("link", name="Request a deployment").click()
        lead.get_by_label("Supporters wanted").fill("4")
        lead.get_by_label("First day").fill(today.isoformat())
        lead.get_by_label("Last day").fill((today + datetime.timedelta(days=2)).isoformat())
        lead.get_by_label("Reporting location").fill("Depot 7 family centre")
        axe_check(lead, "deployment request form")
        lead.get_by_role("button", name="Send the request").click()
        expect(lead.get_by_role("heading", level=2)).to_have_text("Deployment to Depot 7 family centre")
        deployment_url = lead.url

        # Two agencies offer a supporter each.
        _offer(browser, stack, world.agency_b, world.b[Role.COORDINATOR], supporter, name)
        _offer(browser, stack, agency_c, people_c[Role.COORDINATOR], people_c[Role.PEER_SUPPORTER], name)

        # The requester accepts both offers.
        lead.goto(deployment_url)
        for agency in (world.agency_b, agency_c):
            lead.get_by_role("button", name=f"Accept the offer from {agency.name}").click()
            expect(lead.get_by_role("status").first).to_be_visible()
        expect(lead.locator(".muster-stats")).to_contain_text("2 accepted, to confirm")
        axe_check(lead, "deployment page")
        screenshot(lead, "deployment-offers-accepted-desktop")

        # The supporter confirms on their phone: the activation's link leads them to the confirm page.
        login_as(mobile, supporter, base_url=stack.base_url)
        mobile.goto(f"{stack.base_url}/activations/")
        mobile.get_by_role("link", name=name).first.click()
        mobile.get_by_role("button", name="I'll go").click()
        expect(mobile.get_by_role("status").filter(has_text="you are confirmed")).to_be_visible()

        # The lead plans a shift starting now for them on the rotation planner.
        lead.goto(deployment_url)
        lead.get_by_role("link", name="Rotations").click()
        lead.get_by_label("Supporter").select_option(label=f"{supporter.full_name} ({world.agency_b.name})")
        lead.get_by_label("First day").fill(today.isoformat())
        lead.get_by_label("Days in a row").fill("1")
        start = timezone.localtime()
        start = start if start.hour < 23 else start.replace(hour=22)  # a shift that ends by midnight
        lead.get_by_label("Shift starts at").fill(start.strftime("%H:%M"))
        lead.get_by_role("button", name="Plan shifts").click()
        expect(lead.get_by_role("status").filter(has_text="1 shift planned.")).to_be_visible()

        # On the phone: one tap checks in.
        mobile.goto(deployment_url)
        mobile.get_by_role("link", name="Check in or out").click()
        axe_check(mobile, "check-in page on a phone")
        mobile.get_by_role("button", name="Check in").click()
        expect(mobile.get_by_role("status").filter(has_text="Checked in.")).to_be_visible()
        screenshot(mobile, "deployment-checked-in-phone")

        # The board shows them on site now.
        lead.goto(f"{stack.base_url}/activations/{activation.uuid}/board/")
        section = lead.locator("section", has=lead.get_by_role("heading", name="Deployment: Depot 7 family centre"))
        expect(section).to_contain_text("1 on site")
        expect(section.locator("li", has_text=supporter.full_name)).to_contain_text("since")
        screenshot(lead, "deployment-on-site-board-desktop")

        # The ICS-214 activity log prints: the check-in is in it, the screen-only controls are not.
        lead.goto(deployment_url + "ics214/")
        expect(lead.locator(".muster-ics214")).to_contain_text(supporter.full_name)
        expect(lead.locator(".muster-ics214")).to_contain_text("checked in")
        lead.emulate_media(media="print")
        expect(lead.get_by_role("button", name="Print")).to_be_hidden()
        pdf = lead.pdf(format="Letter")
        assert pdf.startswith(b"%PDF") and len(pdf) > 5000
        assert not violations, violations
    finally:
        desk.close()
        phone.close()
        with django_db_blocker.unblock():
            # Leave nobody on site and no place held, for the tests that follow.
            deployment = Deployment.objects.filter(activation__name=name).first()
            if deployment is not None:
                for shift in DeploymentShift.objects.filter(deployment=deployment, checked_out_at=None).exclude(
                    checked_in_at=None
                ):
                    deploy_site.shift_check_out(actor=lead_coordinator, shift=shift)
                if deployment.is_under_way:
                    deploy_hours.deployment_demobilize(actor=lead_coordinator, deployment=deployment)
                assert not deployment.people.filter(status__in=["accepted", "confirmed"]).exists()
