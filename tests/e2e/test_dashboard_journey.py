"""Leaders in a browser: a chief opens the dashboard, sees charts and downloads the CSV; the state
admin rebuilds the snapshots on the real Celery worker and watches the progress finish."""

import csv
import io
import re

import pytest
from playwright.sync_api import expect

from agencies.models import Role
from tests.e2e.conftest import VIEWPORTS, screenshot
from tests.support import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.stack]


def sign_in(page, base_url, user):
    page.goto(base_url + "/login/")
    page.get_by_label("E-mail").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_chief_reads_the_dashboard_and_downloads_the_csv(stack, world, browser, axe_check):
    context = browser.new_context(viewport=VIEWPORTS["phone"], accept_downloads=True)
    page = context.new_page()
    try:
        sign_in(page, stack.base_url, world.a[Role.CHIEF])
        page.get_by_role("link", name="Open the dashboard").click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("peer support program")
        expect(page.locator("svg.muster-chart__svg").first).to_be_visible()
        assert page.locator("svg.muster-chart__svg").count() >= 5
        axe_check(page, "chief dashboard")
        screenshot(page, "dashboard-chief-phone")
        with page.expect_download() as download_info:
            page.get_by_role("link", name="Download CSV").click()
        content = open(download_info.value.path(), encoding="utf-8").read()
        rows = list(csv.reader(io.StringIO(content)))
        assert rows[0] == ["section", "item", "value"] and len(rows) > 5
    finally:
        context.close()


def test_state_admin_rebuilds_the_snapshots_and_watches_them_finish(stack, world, browser, axe_check):
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    page = context.new_page()
    try:
        sign_in(page, stack.base_url, world.state_admin)
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
