"""Leaders in a browser: a chief opens the dashboard, sees the published periods' charts and downloads the
CSV; the state admin rebuilds the snapshots on the real Celery worker and watches the progress finish."""

import csv
import datetime
import io
import re
import uuid

import pytest
from playwright.sync_api import expect

from agencies import services as agency_services
from agencies.models import Role
from network import services as network_services
from reporting import services as reporting_services
from tests.e2e.conftest import VIEWPORTS, screenshot
from tests.support import entered, grow_roster, joined, login_as, make_agency, make_user

pytestmark = [pytest.mark.browser, pytest.mark.stack]


def published_agency(django_db_blocker):
    """A chief of an agency with published periods, in a network of its own: publications are committed by
    this browser test and can never be deleted, so they stay out of the shared test network."""
    with django_db_blocker.unblock():
        tag = uuid.uuid4().hex[:6]
        network = network_services.network_get_or_create(name=f"Journey {tag}", slug=f"journey-{tag}")
        region = network_services.region_get_or_create(network=network, name="West", slug="west")
        admin = make_user(f"journey-admin-{tag}@test.example")
        agency = make_agency(actor=admin, network=network, region=region, slug=f"journey-fire-{tag}")
        chief, supporter = make_user(f"journey-chief-{tag}@test.example"), make_user(f"journey-peer-{tag}@test.example")
        agency_services.membership_add(actor=None, user=chief, agency=agency, role=Role.CHIEF)
        agency_services.membership_add(actor=None, user=supporter, agency=agency, role=Role.PEER_SUPPORTER)
        grow_roster(agency, 9)
        joined(agency, datetime.date(2026, 7, 1))
        for n in range(40):
            entered(
                agency,
                author=supporter,
                on=datetime.date(2026, 7 + n % 3, 1 + n % 27),
                contact_mode=["in-person", "phone", "in-person", "video"][n % 4],
            )
        reporting_services.publication_publish_due(network=network, today=datetime.date(2026, 10, 10))
    return chief


def test_chief_reads_the_dashboard_and_downloads_the_csv(stack, world, browser, axe_check, django_db_blocker):
    chief = published_agency(django_db_blocker)
    context = browser.new_context(viewport=VIEWPORTS["phone"], accept_downloads=True)
    page = context.new_page()
    try:
        login_as(page, chief, base_url=stack.base_url)
        page.get_by_role("link", name="Open the dashboard").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("peer support program")
        expect(page.get_by_test_id("publication-status")).to_contain_text("Latest published period: September 2026")
        expect(page.locator("svg.muster-chart__svg").first).to_be_visible()
        assert page.locator("svg.muster-chart__svg").count() >= 5
        axe_check(page, "chief dashboard")
        screenshot(page, "dashboard-chief-phone")
        with page.expect_download() as download_info:
            page.get_by_role("link", name="Download CSV").click()
        content = open(download_info.value.path(), encoding="utf-8").read()
        rows = list(csv.reader(io.StringIO(content)))
        assert rows[0] == ["period", "section", "item", "value"] and len(rows) > 5
    finally:
        context.close()


def test_state_admin_rebuilds_the_snapshots_and_watches_them_finish(stack, world, browser, axe_check):
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    page = context.new_page()
    try:
        login_as(page, world.state_admin, base_url=stack.base_url)
        page.goto(stack.base_url + "/network/dashboard/")
        expect(page.get_by_role("heading", level=1)).to_contain_text("Test Network")
        page.get_by_role("button", name="Rebuild now").click()
        expect(page.get_by_test_id("run-status")).to_have_text("Done", timeout=60_000)
        progress = page.locator("#snapshot-run").inner_text()
        done, total = re.search(r"(\d+) of (\d+) agencies", progress).groups()
        assert done == total and int(total) >= 2
        axe_check(page, "network dashboard")
        screenshot(page, "dashboard-network-desktop")
    finally:
        context.close()


PERIOD_WITH_YEAR = re.compile(r"^(Q[1-4]|[A-Z][a-z]{2}) 20\d\d$")


def visible_trend_labels(page) -> list[dict]:
    """The trend chart's axis labels as drawn: text, on-screen font size and box."""
    return page.locator("figure:has(#trend-title) svg.muster-chart__svg:visible").evaluate(
        """svg => {
            const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
            return [...svg.querySelectorAll('text.muster-chart__label')].map(t => {
                const r = t.getBoundingClientRect();
                const size = parseFloat(getComputedStyle(t).fontSize) * scale;
                return {text: t.textContent.replace(/\\s+/g, ' ').trim(), size, left: r.left, right: r.right,
                        top: r.top, bottom: r.bottom};
            });
        }"""
    )


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_chief_dashboard_labels_carry_the_year_readably_and_figures_are_as_of_their_publication(
    stack, world, browser, axe_check, django_db_blocker, viewport
):
    from django.utils import dateformat, timezone

    from agencies.models import Membership
    from reporting.models import PeriodKind, Publication

    chief = published_agency(django_db_blocker)
    with django_db_blocker.unblock():
        network = Membership.objects.select_related("agency__network").get(user=chief).agency.network
        september = Publication.objects.get(
            network=network, period_kind=PeriodKind.MONTH, period_start=datetime.date(2026, 9, 1)
        )
    context = browser.new_context(viewport=VIEWPORTS[viewport])
    page = context.new_page()
    try:
        login_as(page, chief, base_url=stack.base_url)
        page.get_by_role("link", name="Open the dashboard").click()
        expect(page.get_by_test_id("publication-status")).to_contain_text("Latest published period: September 2026")

        labels = visible_trend_labels(page)
        assert [label["text"] for label in labels] == ["Jul 2026", "Aug 2026", "Sep 2026"]
        assert all(PERIOD_WITH_YEAR.match(label["text"]) for label in labels)
        # Readable on the screen it is drawn on: at least 11 CSS px, and no label drawn over another.
        assert min(label["size"] for label in labels) >= 11, labels
        for a, b in zip(labels, labels[1:], strict=False):
            apart = a["right"] <= b["left"] or a["bottom"] <= b["top"]
            assert apart, (a, b)
        page.locator("figure:has(#trend-title) summary").click()
        periods = page.locator("#trend-table tbody th").all_inner_texts()
        assert periods == ["July 2026", "August 2026", "September 2026"]
        table_periods = page.locator("table:has(caption:text('Median time')) tbody th").all_inner_texts()
        assert table_periods and all(re.search(r" 20\d\d$", p) for p in table_periods), table_periods

        # "Figures as of" is the moment the shown figures were built and published, to the second.
        as_of = page.get_by_test_id("figures-as-of").locator("time")
        assert datetime.datetime.fromisoformat(as_of.get_attribute("datetime")) == september.published_at
        expect(as_of).to_have_text(dateformat.format(timezone.localtime(september.published_at), "j F Y, H:i T"))
        axe_check(page, f"chief dashboard ({viewport})")
        screenshot(page, f"dashboard-labels-{viewport}")
    finally:
        context.close()
