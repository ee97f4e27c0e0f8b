"""The workspace's Streamlit pages through AppTest, against the real test database.

AppTest cannot send cookies, so the token goes into `st.session_state["ipai_token"]`, the seam
`identity` reads after the cookie; it is verified exactly as a cookie would be.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import jwt
import pytest
from pydantic import SecretStr
from streamlit.testing.v1 import AppTest

from ipai_core.lakehouse import Lakehouse
from ipai_core.settings import Settings
from ipai_core.workspace import identity
from ipai_core.workspace.server import MAIN_SCRIPT

UserMaker = Callable[..., tuple[str, str, str]]
TIMEOUT_S = 30


@pytest.fixture(autouse=True)
def workspace_settings(settings: Settings) -> Iterator[None]:
    """The app's Lakehouse uses the test database (and is closed afterwards)."""
    identity.use_settings(settings)
    yield
    identity.use_settings(None)


def run_app(token: str | None = None) -> AppTest:
    app = AppTest.from_file(str(MAIN_SCRIPT), default_timeout=TIMEOUT_S)
    if token is not None:
        app.session_state[identity.TOKEN_STATE_KEY] = token
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def open_catalog(app: AppTest) -> AppTest:
    app.switch_page("views/catalog.py").run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def table_rows(app: AppTest, key_column: str) -> dict[str, dict[str, object]]:
    """Rows of every dataframe on the page that has `key_column`, by that column's value:
    "Schema" for the per-layer schema tables, "Name" for the per-schema object tables."""
    rows: dict[str, dict[str, object]] = {}
    for frame in app.dataframe:
        if key_column in frame.value.columns:
            rows.update({str(row[key_column]): row for row in frame.value.to_dict("records")})
    return rows


def catalog_rows(app: AppTest) -> dict[str, dict[str, object]]:
    return table_rows(app, "Name")


def assert_sign_in_page(app: AppTest) -> None:
    assert [t.value for t in app.title] == ["Sign in to IPAI Databricks"]
    assert any('href="/auth/login"' in h.proto.body for h in app.html)
    assert not app.dataframe
    assert not app.metric
    assert not app.sidebar.text
    with pytest.raises(ValueError, match="catalog"):
        app.switch_page("views/catalog.py")


def test_signed_in_user_sees_home(make_user: UserMaker) -> None:
    email, _, token = make_user(["finance", "analyst"])
    app = run_app(token)
    assert [t.value for t in app.title] == ["Welcome to IPAI Databricks"]
    texts = [t.value for t in app.text]
    assert email in texts
    assert "analyst, finance" in texts
    metrics = {m.label: int(m.value) for m in app.metric}
    assert metrics["Schemas"] >= 17  # bronze…platinum schemas and the control plane
    assert metrics["Tables and views"] >= 1
    assert any("Database:" in c.value and "@" not in c.value for c in app.caption)
    assert email in [t.value for t in app.sidebar.text]
    assert any('href="/auth/logout"' in h.proto.body for h in app.sidebar.html)
    assert not app.info  # no "session expired" notice


def test_catalog_lists_schemas_by_layer_with_objects(make_user: UserMaker) -> None:
    _, _, token = make_user(["analyst"])
    app = open_catalog(run_app(token))
    assert [t.value for t in app.title] == ["Catalog"]
    assert [tab.label for tab in app.tabs] == [
        "Bronze",
        "Silver",
        "Gold",
        "Platinum",
        "Control plane",
    ]
    schemas = table_rows(app, "Schema")
    assert {"ipai_bronze_erp", "ipai_silver_erp", "ipai_gold_erp", "ipai_platinum_erp"} <= set(
        schemas
    )
    assert "P&L" in str(schemas["ipai_gold_erp"]["Description"])  # the schema's COMMENT
    assert int(str(schemas["public"]["Objects"])) >= 1
    assert "public" in [s.value for s in app.subheader]  # a section per schema with objects
    for tab in app.tabs:  # a layer without any table or view says so in words
        layer_objects = sum(
            int(row["Objects"]) for row in tab.dataframe[0].value.to_dict("records")
        )
        assert bool(tab.info) == (layer_objects == 0), tab.label
    rows = catalog_rows(app)
    audit = rows["ipai_audit_log"]
    assert audit["Kind"] == "table"
    assert audit["RLS"] == "on"
    assert int(str(audit["Policies"])) >= 1
    assert "Append-only" in str(audit["Comment"])
    assert rows["ipai_local_credential"]["Rows"] == "—"  # granted to the service role only


def test_row_counts_are_what_each_user_may_see(make_user: UserMaker) -> None:
    _, _, auditor_token = make_user(["auditor"])
    _, _, plain_token = make_user([])
    auditor_rows = catalog_rows(open_catalog(run_app(auditor_token)))["ipai_audit_log"]["Rows"]
    plain_rows = catalog_rows(open_catalog(run_app(plain_token)))["ipai_audit_log"]["Rows"]
    # Both within the cache's minute: the cache is per user and roles, never shared.
    assert int(str(auditor_rows).replace(",", "")) > int(str(plain_rows).replace(",", ""))


def test_unauthenticated_visitor_sees_only_the_sign_in_page() -> None:
    app = run_app()
    assert_sign_in_page(app)
    assert not app.info


def test_forged_token_sees_the_sign_in_page(lakehouse: Lakehouse, make_user: UserMaker) -> None:
    _, _, token = make_user(["admin"])
    claims = lakehouse.tokens.verify(token)
    forged = jwt.encode(claims, "not-the-secret-" + "x" * 40, algorithm="HS256")
    app = run_app(forged)
    assert_sign_in_page(app)
    assert [i.value for i in app.info] == [identity.SESSION_EXPIRED]
    assert identity.TOKEN_STATE_KEY not in app.session_state


def test_unreachable_database_is_explained(settings: Settings, make_user: UserMaker) -> None:
    _, _, token = make_user([])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    url = f"postgresql://nobody:hunter2@127.0.0.1:{closed_port}/nothing"
    identity.use_settings(settings.model_copy(update={"database_url": SecretStr(url)}))
    app = run_app(token)
    assert [e.value for e in app.error] == [identity.DATABASE_DOWN]
    assert not app.title and not app.dataframe


def test_service_role_token_does_not_open_the_workspace(lakehouse: Lakehouse) -> None:
    token = lakehouse.tokens.issue(
        user_id="00000000-0000-0000-0000-000000000000", email=None, roles=[], role="service_role"
    )
    app = run_app(token)
    assert_sign_in_page(app)
    assert [i.value for i in app.info] == [identity.NOT_A_USER]
