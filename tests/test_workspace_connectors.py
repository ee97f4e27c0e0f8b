"""Connectors and Explorer pages through AppTest, against the real test database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import UserMaker
from streamlit.testing.v1 import AppTest

from ipai_core import Lakehouse, Principal
from ipai_core.connectors import store
from ipai_core.settings import Settings
from ipai_core.storage.locate import default_blob_store
from ipai_core.workspace import identity
from ipai_core.workspace.server import MAIN_SCRIPT


@pytest.fixture(autouse=True)
def workspace_settings(settings: Settings) -> Iterator[None]:
    identity.use_settings(settings)
    yield
    identity.use_settings(None)


@pytest.fixture
def sales_connector(lakehouse: Lakehouse, tmp_path: Path) -> str:
    (tmp_path / "sales.csv").write_text("id,region,amount\n1,north,10\n2,south,5\n")
    with lakehouse.session(Principal.service("test: page connector")) as s:
        store.add_connector(
            s,
            name="page-sales",
            connector_type="file",
            replace=True,
            config={
                "target_schema": "ipai_bronze_retail",
                "url": str(tmp_path / "sales.csv"),
                "stream": "page_sales",
                "primary_key": ["id"],
            },
        )
    return "page-sales"


def open_page(token: str, page: str) -> AppTest:
    app = AppTest.from_file(str(MAIN_SCRIPT), default_timeout=60)
    app.session_state[identity.TOKEN_STATE_KEY] = token
    app.run()
    app.switch_page(page).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_data_engineer_sees_connectors_and_runs_one(
    make_user: UserMaker, sales_connector: str
) -> None:
    _, _, token = make_user(["data_engineer"])
    app = open_page(token, "views/connectors.py")
    app.selectbox[0].select(sales_connector).run()
    run_button = next(b for b in app.button if b.label.startswith(f"Run {sales_connector}"))
    run_button.click().run()
    assert not app.exception, [e.value for e in app.exception]
    labels = [s.label for s in app.status]
    assert any("success" in label for label in labels), labels


def test_user_without_roles_sees_no_connector_and_no_run_button(
    make_user: UserMaker, sales_connector: str
) -> None:
    _, _, token = make_user([])
    app = open_page(token, "views/connectors.py")
    assert not app.dataframe
    assert any("No connectors you can see" in i.value for i in app.info)
    assert not [b for b in app.button if b.label.startswith("Run ")]


def test_analyst_sees_connectors_but_cannot_run(make_user: UserMaker, sales_connector: str) -> None:
    _, _, token = make_user(["analyst"])
    app = open_page(token, "views/connectors.py")
    assert app.dataframe
    assert not [b for b in app.button if b.label.startswith("Run ")]


def test_explorer_previews_files_for_data_engineers_only(
    make_user: UserMaker, settings: Settings
) -> None:
    default_blob_store(settings).put_bytes("landing/pages/a.csv", b"id,v\n1,x\n2,y\n")
    _, _, engineer = make_user(["data_engineer"])
    app = open_page(engineer, "views/explorer.py")
    app.text_input[0].input("landing/pages/*.csv").run()
    assert not app.exception
    assert app.dataframe and app.dataframe[0].value.shape[0] == 2

    _, _, analyst = make_user(["analyst"])
    app = open_page(analyst, "views/explorer.py")
    app.text_input[0].input("landing/pages/*.csv").run()
    assert any("data_engineer" in e.value for e in app.error)
    assert not app.dataframe
