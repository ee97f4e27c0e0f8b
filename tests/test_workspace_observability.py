"""The workspace's Observability page through AppTest, against the real test database: what
devops and auditors see (SLOs, charts, a traced connector run with its spans), and that others
are turned away and not offered the page."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import UserMaker
from streamlit.testing.v1 import AppTest

from ipai_core import Lakehouse, Principal
from ipai_core.connectors import store
from ipai_core.observability.tracing import TelemetryOptions, start_telemetry, stop_telemetry
from ipai_core.settings import Settings
from ipai_core.sync.engine import run_connector
from ipai_core.workspace import identity
from ipai_core.workspace.server import MAIN_SCRIPT

PAGE = "views/observability.py"


@pytest.fixture(autouse=True)
def workspace_settings(settings: Settings) -> Iterator[None]:
    identity.use_settings(settings)
    yield
    identity.use_settings(None)


@pytest.fixture(scope="module")
def traced_run(
    lakehouse: Lakehouse, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A connector run recorded with telemetry on: its trace is in `ipai_span`."""
    folder = tmp_path_factory.mktemp("observed")
    (folder / "sales.csv").write_text("id,amount\n1,10\n2,20\n")
    name = f"observed-{secrets.token_hex(3)}"
    with lakehouse.session(Principal.service("test: observed connector")) as s:
        store.add_connector(
            s,
            name=name,
            connector_type="file",
            config={
                "target_schema": "ipai_bronze_retail",
                "url": str(Path(folder) / "sales.csv"),
                "stream": name.replace("-", "_"),
                "primary_key": ["id"],
            },
        )
    telemetry = start_telemetry(TelemetryOptions("ipai-test", database=lambda: lakehouse.db.logins))
    try:
        result = run_connector(lakehouse, name)
        telemetry.flush()
    finally:
        stop_telemetry()
    assert result.ok, result.error
    return name


def open_page(token: str) -> AppTest:
    app = AppTest.from_file(str(MAIN_SCRIPT), default_timeout=60)
    app.session_state[identity.TOKEN_STATE_KEY] = token
    app.run()
    app.switch_page(PAGE).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


@pytest.mark.parametrize("role", ["devops", "auditor"])
def test_operators_see_slos_charts_and_the_traced_run(
    role: str, make_user: UserMaker, traced_run: str
) -> None:
    _, _, token = make_user([role])
    app = open_page(token)

    labels = {m.label for m in app.metric}
    assert {"connector-success-rate", "agent-p95-latency", "app-availability"} <= labels
    assert len(app.get("plotly_chart")) >= 3  # burn, durations, rows, bytes, trace timeline
    traces = next(df.value for df in app.dataframe if "trace_id" in df.value.columns)
    assert "connector.run" in set(traces["name"])
    assert any(s.label == "Trace" for s in app.selectbox)


def test_the_trace_picker_shows_the_span_tree(make_user: UserMaker, traced_run: str) -> None:
    _, _, token = make_user(["devops"])
    app = open_page(token)
    picker = next(s for s in app.selectbox if s.label == "Trace")
    run_trace = next(t for t in picker.options if "connector.run" in t)
    picker.select(picker.options[picker.options.index(run_trace)]).run()

    assert not app.exception, [e.value for e in app.exception]
    spans = next(df.value for df in app.dataframe if "span" in df.value.columns)
    assert any(str(name).endswith("connector.stream") for name in spans["span"])


def test_others_are_not_offered_the_page_and_turned_away_from_it(make_user: UserMaker) -> None:
    _, _, token = make_user(["analyst"])
    workspace = AppTest.from_file(str(MAIN_SCRIPT), default_timeout=60)
    workspace.session_state[identity.TOKEN_STATE_KEY] = token
    workspace.run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        workspace.switch_page(PAGE)

    page = AppTest.from_file(str(MAIN_SCRIPT.parent / PAGE), default_timeout=60)
    page.session_state[identity.TOKEN_STATE_KEY] = token
    page.run()

    assert any("for admins, devops and auditors" in e.value for e in page.error)
    assert not page.metric and not page.get("plotly_chart")
