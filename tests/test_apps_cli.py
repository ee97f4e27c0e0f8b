"""`ipai apps register|list|run` as a user runs them (the installed console script, against the
test database), and the served pages in a real headless browser: one app standalone after
signing in, and the workspace signing a user in from a trusted proxy's forwarded token."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from ipai_core.settings import PROJECT_ROOT, Settings
from tests.support.apps import new_slug, write_app
from tests.support.served_workspace import served_process

IPAI = Path(sys.executable).parent / "ipai"
CHROMIUM = shutil.which("chromium")
UserMaker = Callable[..., tuple[str, str, str]]


def environment(settings: Settings, apps_dir: Path, home: Path, **extra: str) -> dict[str, str]:
    assert settings.database_url is not None and settings.jwt_secret is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPAI_")}
    return env | {
        "PYTHONPATH": str(PROJECT_ROOT),
        "IPAI_DATABASE_URL": settings.database_url.get_secret_value(),
        "IPAI_JWT_SECRET": settings.jwt_secret.get_secret_value(),
        "IPAI_DATA_DIR": str(settings.data_dir),
        "IPAI_APPS_DIR": str(apps_dir),
        "HOME": str(home),
        **extra,
    }


def ipai(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(IPAI), *args],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_register_and_list(settings: Settings, tmp_path: Path) -> None:
    apps_dir = tmp_path / "apps"
    first, second = sorted([new_slug(), new_slug()])
    write_app(apps_dir, first)
    write_app(apps_dir, second, roles=())
    env = environment(settings, apps_dir, tmp_path)

    registered = ipai(env, tmp_path, "apps", "register", "--all")
    assert registered.returncode == 0, registered.stderr
    assert registered.stdout.splitlines() == [f"{first}: registered", f"{second}: registered"]
    again = ipai(env, tmp_path, "apps", "register", first)
    assert again.stdout.splitlines() == [f"{first}: unchanged"]

    listed = ipai(env, tmp_path, "apps", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    mine = {a["slug"]: a for a in json.loads(listed.stdout) if a["slug"] in (first, second)}
    assert mine[first]["required_roles"] == ["finance"]
    assert mine[second]["required_roles"] == []
    assert all(a["active"] and a["in_checkout"] for a in mine.values())

    for refused in (("apps", "register"), ("apps", "register", "no-such-app")):
        result = ipai(env, tmp_path, *refused)
        assert result.returncode == 1, result
        assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert first in ipai(env, tmp_path, "apps", "register", "no-such-app").stderr


@pytest.fixture
def browser() -> Iterator[Browser]:
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.mark.slow
def test_run_serves_one_app_standalone_behind_sign_in(
    settings: Settings, make_user: UserMaker, tmp_path: Path, browser: Browser
) -> None:
    slug = new_slug()
    apps_dir = tmp_path / "apps"
    write_app(apps_dir, slug)
    email, password, _ = make_user(["finance"])
    env = environment(settings, apps_dir, tmp_path)
    with served_process([str(IPAI), "apps", "run", slug], env, tmp_path) as base:
        page = browser.new_page()
        page.goto(base)
        page.get_by_text("Sign in to open this app.").wait_for()
        page.get_by_role("link", name="Sign in").click()
        page.fill("#email", email)
        page.fill("#password", password)
        page.click("button[type=submit]")
        page.get_by_role("heading", name=f"Test app {slug}").wait_for()
        page.get_by_text("beta is off").wait_for()
        page.reload()  # the sign-in cookie survives a reload
        page.get_by_role("heading", name=f"Test app {slug}").wait_for()


def proxied_page(browser: Browser, base: str, headers: dict[str, str]) -> Page:
    """A fresh browser session whose requests carry `headers`, as a proxy would add them."""
    page = browser.new_context(extra_http_headers=headers).new_page()
    page.goto(base)
    return page


@pytest.mark.slow
def test_workspace_signs_in_a_trusted_proxys_forwarded_identity(
    settings: Settings, make_user: UserMaker, tmp_path: Path, browser: Browser
) -> None:
    email, _, token = make_user(["analyst"])
    other_email, _, _ = make_user(["finance"])
    env = environment(
        settings,
        tmp_path / "apps",
        tmp_path,
        IPAI_TRUSTED_PROXY_IPS="127.0.0.1",
        IPAI_TRUSTED_PROXY_EMAIL_SIGN_IN="true",
    )
    code = "from ipai_core.settings import get_settings\n"
    code += "from ipai_core.workspace.server import serve\nserve(get_settings())\n"
    with served_process([sys.executable, "-c", code], env, tmp_path) as base:
        page = proxied_page(browser, base, {"X-Forwarded-Access-Token": token})
        page.get_by_role("heading", name="Welcome to IPAI Databricks").wait_for()
        page.get_by_text(email).first.wait_for()

        forged = proxied_page(browser, base, {"X-Forwarded-Access-Token": token[:-4] + "AAAA"})
        forged.get_by_role("heading", name="Sign in to IPAI Databricks").wait_for()

        by_email = proxied_page(browser, base, {"X-Forwarded-Email": other_email.upper()})
        by_email.get_by_role("heading", name="Welcome to IPAI Databricks").wait_for()
        by_email.get_by_text(other_email).first.wait_for()

        stranger = proxied_page(browser, base, {"X-Forwarded-Email": "nobody@example.test"})
        stranger.get_by_role("heading", name="Sign in to IPAI Databricks").wait_for()
        stranger.get_by_text("has no account in this workspace").wait_for()
