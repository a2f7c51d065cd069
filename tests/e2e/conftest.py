"""Browser fixtures: Debian's Chromium driven by Playwright, with an axe accessibility check."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; the tests only read fixtures built
# before it starts, so Django's guard against ORM calls from async code does not apply.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 375, "height": 740}}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def browser():
    reason = os.environ.get("MUSTER_BROWSER_SKIP")
    if reason:
        pytest.skip(f"browser tests skipped: {reason}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield IdCheckingBrowser(browser)
        browser.close()


# --- Every page any journey visits has unique element ids --------------------------------------------------
# axe does not report duplicate ids (its duplicate-id rules were retired), yet two radios with one id make a
# label choose the wrong one (issue 13: the assign page). Every context the journeys open gets a script that
# checks the document once it is parsed and again after each htmx swap, and reports duplicates on the
# console; the test fails if any page reported one.

DUPLICATE_IDS_MARK = "muster-duplicate-ids"
DUPLICATE_IDS_SCRIPT = """
(() => {
  const check = () => {
    const counts = new Map();
    for (const element of document.querySelectorAll("[id]")) {
      counts.set(element.id, (counts.get(element.id) || 0) + 1);
    }
    const repeated = [...counts].filter(([, n]) => n > 1).map(([id, n]) => `"${id}" x${n}`);
    if (repeated.length) console.error(`%MARK% ${location.pathname}: ${repeated.join(", ")}`);
  };
  document.addEventListener("DOMContentLoaded", check);
  document.addEventListener("htmx:afterSettle", check);
})();
""".replace("%MARK%", DUPLICATE_IDS_MARK)
duplicate_ids_found: list[str] = []


def _watch_for_duplicate_ids(context) -> None:
    context.add_init_script(DUPLICATE_IDS_SCRIPT)
    context.on(
        "console", lambda msg: duplicate_ids_found.append(msg.text) if msg.text.startswith(DUPLICATE_IDS_MARK) else None
    )


class IdCheckingBrowser:
    """The Playwright browser, with every new context (and page) checked for duplicate element ids."""

    def __init__(self, browser):
        self._browser = browser

    def new_context(self, **kwargs):
        context = self._browser.new_context(**kwargs)
        _watch_for_duplicate_ids(context)
        return context

    def new_page(self, **kwargs):
        return self.new_context(**kwargs).new_page()

    def __getattr__(self, name):
        return getattr(self._browser, name)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A journey that passed fails if any page it visited had an id twice (named with the page's path)."""
    duplicate_ids_found.clear()
    result = yield
    found, duplicate_ids_found[:] = list(duplicate_ids_found), []
    assert not found, "duplicate element ids:\n" + "\n".join(dict.fromkeys(found))
    return result


@pytest.fixture
def axe_check():
    """Run axe on the current page; fail on serious or critical violations, naming them."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()

    def check(page, label: str) -> None:
        results = axe.run(page)
        bad = [v for v in results.response["violations"] if v.get("impact") in ("serious", "critical")]
        details = [f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes']][:3]}" for v in bad]
        assert not bad, f"accessibility violations on {label}:\n" + "\n".join(details)

    return check


def csp_violations(page) -> list[str]:
    """Collects the page's Content Security Policy violations as they happen (the list fills in place)."""
    found: list[str] = []
    page.on("console", lambda msg: found.append(msg.text) if "Content Security Policy" in msg.text else None)
    return found


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
