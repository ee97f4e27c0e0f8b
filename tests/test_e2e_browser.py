"""End to end in a real headless browser: Debian's chromium driven by Playwright (never a
downloaded browser) signs in through the workspace's form, opens the Finance Command Center and
reads the P&L figures off the screen; they must equal the gold view's, computed here in SQL as
the same user. A screenshot is saved under tests/artifacts/ (git-ignored).

`.ci/run` installs chromium; elsewhere the test skips when it is missing."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from ipai_core import Lakehouse
from ipai_core.apps.manifest import discover
from ipai_core.auth import users
from ipai_core.cli.apps import register_apps
from tests.support.served_workspace import served_workspace

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
PASSWORD = "long-enough-pw"
FINANCE_APP = "ipai-finance-command-center"

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is a dev dependency")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason="Debian's chromium is missing (`.ci/run` installs it: apt-get install chromium)",
    ),
]


def expected_pnl(lake: Lakehouse, email: str) -> dict[str, str]:
    """The app's default view (every company the user sees, the last twelve booked months) from
    the gold view, formatted the way the page formats money."""
    me = lake.authenticate(users.sign_in(lake.db, lake.tokens, email, PASSWORD))
    row = lake.query(
        me,
        """
        WITH months AS (
            SELECT DISTINCT month FROM ipai_gold_erp.profit_and_loss ORDER BY month DESC LIMIT 12)
        SELECT coalesce(sum(amount) FILTER (WHERE section = 'income'), 0) AS income,
               coalesce(sum(amount) FILTER (WHERE section = 'expense'), 0) AS expenses
          FROM ipai_gold_erp.profit_and_loss WHERE month IN (SELECT month FROM months)
        """,
    ).row(0, named=True)
    income, expenses = Decimal(row["income"]), Decimal(row["expenses"])
    assert income > 0 and expenses > 0  # the demo has books: the comparison means something
    return {
        "Income": f"{income:,.2f}",
        "Expenses": f"{expenses:,.2f}",
        "Net profit": f"{income - expenses:,.2f}",
    }


def test_finance_user_sees_the_gold_pnl_in_the_browser(
    demo_lakehouse: Lakehouse, tmp_path: Path
) -> None:
    email = "e2e-finance@example.test"
    users.add_user(demo_lakehouse.db, email, PASSWORD, ["finance"])
    register_apps(demo_lakehouse, discover(demo_lakehouse.settings.apps_dir))
    expected = expected_pnl(demo_lakehouse, email)
    ARTIFACTS.mkdir(exist_ok=True)

    with (
        served_workspace(demo_lakehouse.settings, tmp_path) as base,
        playwright.sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = signed_in(browser, base, email)
            page.goto(f"{base}/{FINANCE_APP}")  # a deep link, as a bookmark opens it
            shown = read_metrics(page, list(expected))
            page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)  # the chart drew
            page.screenshot(path=str(ARTIFACTS / "finance-command-center.png"), full_page=True)
            detours = page.get_by_text("Page not found").count()
            page.goto(f"{base}/catalog")
            page.get_by_role("heading", name="Catalog").first.wait_for(timeout=60_000)
            sidebar = page.locator('[data-testid="stSidebarNav"]').inner_text()
        finally:
            browser.close()
    assert shown == expected
    assert detours == 0  # the app's URL is known to the workspace's navigation on first load
    assert "Workspace" in sidebar and "Finance Command Center" in sidebar  # our navigation


def signed_in(browser: object, base: str, email: str) -> object:
    """A new page, signed in through the workspace's form as `email`."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    page.goto(f"{base}/auth/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    return page


def read_metrics(page: object, labels: list[str]) -> dict[str, str]:
    """The value under each metric label, once all of them are on screen."""
    metrics = page.locator('[data-testid="stMetric"]')  # type: ignore[attr-defined]
    for label in labels:
        metrics.filter(has_text=label).first.wait_for(timeout=60_000)
    values = {}
    for label in labels:
        metric = metrics.filter(
            has=page.locator('[data-testid="stMetricLabel"]', has_text=label)  # type: ignore[attr-defined]
        ).first
        values[label] = metric.locator('[data-testid="stMetricValue"]').inner_text().strip()
    return values


def test_genie_asks_back_with_buttons_and_says_what_it_assumed(
    demo_lakehouse: Lakehouse, tmp_path: Path
) -> None:
    """A question two datasets fit equally is asked back with its options as buttons; clicking
    one asks it, and the answer carries the "What I assumed" line; an empty period says so."""
    email = "e2e-genie@example.test"
    users.add_user(demo_lakehouse.db, email, PASSWORD, ["admin"])
    register_apps(demo_lakehouse, discover(demo_lakehouse.settings.apps_dir))
    ARTIFACTS.mkdir(exist_ok=True)
    with (
        served_workspace(demo_lakehouse.settings, tmp_path) as base,
        playwright.sync_playwright() as pw,
    ):
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = signed_in(browser, base, email)
            page.goto(f"{base}/ipai-genie")
            box = page.get_by_placeholder("Ask a question")
            box.wait_for(timeout=60_000)
            box.fill("revenue by month")
            box.press("Enter")
            option = page.get_by_role("button", name="revenue by month (in profit and loss)")
            option.wait_for(timeout=60_000)
            asked_back = page.get_by_text("which one do you mean").count()
            option.click()
            page.get_by_text("What I assumed: no period named").first.wait_for(timeout=60_000)
            box.fill("revenue by company in 2020")
            box.press("Enter")
            page.get_by_text("no data for 2020").first.wait_for(timeout=60_000)
            page.screenshot(path=str(ARTIFACTS / "genie.png"), full_page=True)
            answered = page.get_by_text("Revenue by month — profit_and_loss").count()
        finally:
            browser.close()
    assert asked_back >= 1 and answered >= 1
