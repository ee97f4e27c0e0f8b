"""Run an app's page (`apps/<slug>/<entry_point>`) through Streamlit's AppTest, as a user.

    from tests.support.apps import assert_refused, run_app_page

    app = run_app_page("ipai-devops-health", token, settings=demo_lakehouse.settings)
    assert app.dataframe                      # a user with the role sees data
    assert_refused(run_app_page("ipai-devops-health", other_token, settings=...))

`write_app` and `new_slug` make a throwaway app folder for tests of the runtime itself.

The app is read from `settings.apps_dir` and registered (idempotently) into that database first,
so a test never depends on `ipai up` having run. The token goes in through the session-state
seam `ipai_core.workspace.identity` reads (AppTest cannot send cookies) and is verified exactly as
a cookie would be. The workspace's Lakehouse stays pinned to `settings` afterwards, so further
`app.run()` calls (after clicking a button, say) use the same database.
"""

from __future__ import annotations

import json
import textwrap
import uuid
from pathlib import Path

from streamlit.testing.v1 import AppTest

from ipai_core.apps import registry
from ipai_core.apps.manifest import find_app
from ipai_core.apps.runtime import NEEDS_ROLE
from ipai_core.db.principal import Principal
from ipai_core.lakehouse import Lakehouse
from ipai_core.settings import Settings
from ipai_core.workspace import identity

TIMEOUT_S = 30
_REFUSAL_START = NEEDS_ROLE.split("{", 1)[0]  # "You cannot open "


def run_app_page(slug: str, token: str | None = None, *, settings: Settings) -> AppTest:
    """The app's entry point after one run as the user of `token` (None: signed out). Fails the
    test when the script raised."""
    manifest = find_app(settings.apps_dir, slug)
    with (
        Lakehouse.open(settings) as lakehouse,
        lakehouse.session(Principal.service(f"test: register {slug}")) as s,
    ):
        registry.register(s, [manifest])
    identity.use_settings(settings)
    app = AppTest.from_file(str(manifest.entry_path), default_timeout=TIMEOUT_S)
    if token is not None:
        app.session_state[identity.TOKEN_STATE_KEY] = token
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def assert_refused(app: AppTest) -> None:
    """The page said the user lacks the app's role, and showed nothing of the app."""
    assert any(e.value.startswith(_REFUSAL_START) for e in app.error), [e.value for e in app.error]
    assert not app.dataframe
    assert not app.metric
    assert not app.get("plotly_chart")


# A throwaway app for tests of the runtime itself: a page that reads the registry row of its
# own app (SQL in a page is fine for this test double only) and shows its `beta` flag.
PAGE = """
import streamlit as st

from ipai_core import open_app

ctx = open_app("{slug}")
st.title(ctx.app.name)
st.text(f"beta is {{'on' if ctx.flag('beta') else 'off'}}")
mine = "SELECT slug, name FROM public.ipai_app_registry WHERE slug = %s"
st.dataframe(ctx.query(mine, [ctx.app.slug]))
"""


def write_app(
    apps_dir: Path,
    slug: str,
    *,
    roles: tuple[str, ...] = ("finance",),
    manifest: str | None = None,
) -> Path:
    """`apps_dir/<slug>/` with `PAGE` as app.py and a manifest (the given text, or one for
    `roles` declaring the flag `beta`, off by default)."""
    folder = apps_dir / slug
    folder.mkdir(parents=True)
    (folder / "app.toml").write_text(
        manifest
        if manifest is not None
        else textwrap.dedent(
            f"""
            slug = "{slug}"
            name = "Test app {slug}"
            description = "A throwaway app."
            icon = ":material/science:"
            entry_point = "app.py"
            required_roles = {json.dumps(list(roles))}
            [flags]
            beta = {{ default = false, description = "Try the beta view" }}
            """
        ),
        encoding="utf-8",
    )
    (folder / "app.py").write_text(PAGE.format(slug=slug), encoding="utf-8")
    return folder


def new_slug() -> str:
    """A slug no other test uses (the test database's registry is shared by the session)."""
    return f"test-app-{uuid.uuid4().hex[:8]}"
