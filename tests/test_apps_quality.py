"""The Data Quality Monitor through AppTest, on a database of its own with a passing and a
failing check: a data engineer sees the board (failing first), the firing alert and a check's
history, and runs the checks now (audited); an auditor sees the board but no run button; a
finance-only user is refused."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import psycopg
import pytest
from conftest import MIGRATIONS, make_settings

from ipai_core.db.principal import Principal
from ipai_core.lakehouse import Lakehouse
from ipai_core.migrate.runner import migrate
from ipai_core.quality.runner import run_checks, select_checks
from ipai_core.quality.store import CheckSpec, save_check
from ipai_core.settings import Settings
from tests.support.apps import assert_refused, run_app_page
from tests.support.users import new_user

SLUG = "ipai-data-quality-monitor"


@pytest.fixture(scope="module")
def settings(
    new_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    """A database with one passing and one failing check, each run once."""
    url = new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn, MIGRATIONS)
        conn.execute("CREATE SCHEMA ipai_bronze_dqapp")
        conn.execute("CREATE TABLE ipai_bronze_dqapp.items (id int)")
        conn.execute("INSERT INTO ipai_bronze_dqapp.items VALUES (1), (2), (2)")
        conn.execute("GRANT USAGE ON SCHEMA ipai_bronze_dqapp TO service_role")
        conn.execute("GRANT SELECT ON ipai_bronze_dqapp.items TO service_role")
    settings = make_settings(url, tmp_path_factory.mktemp("dqapp"))
    with Lakehouse.open(settings) as lh:
        with lh.session(Principal.service("test: checks")) as s:
            for name, kind, params in (
                ("app.items.unique", "unique", {"columns": ["id"]}),
                ("app.items.not_null", "not_null", {"column": "id"}),
            ):
                spec = CheckSpec(
                    name=name, target="ipai_bronze_dqapp.items", kind=kind, params=params
                )
                save_check(s, spec)
        run_checks(lh, select_checks(lh), trigger="manual")
    yield settings


def token(settings: Settings, *roles: str) -> str:
    with Lakehouse.open(settings) as lh:
        return new_user(lh, roles).token


def test_a_data_engineer_sees_the_board_failing_first_and_runs_the_checks(
    settings: Settings,
) -> None:
    app = run_app_page(SLUG, token(settings, "data_engineer"), settings=settings)
    metrics = {m.label: m.value for m in app.metric}
    assert (metrics["Failing"], metrics["Passing"]) == ("1", "1")
    alerts, board = (frame.value for frame in app.dataframe[:2])
    assert list(alerts["key"]) == ["dq:app.items.unique"]
    assert list(board["check"]) == ["app.items.unique", "app.items.not_null"]
    assert list(board["status"]) == ["fail", "pass"]
    assert app.selectbox[0].value == "app.items.unique"
    assert app.get("plotly_chart"), "the failing check's history is charted"

    (run_now,) = [b for b in app.button if b.label == "Run checks now"]
    run_now.click().run()
    assert not app.exception
    assert "2 check(s) run, 1 failing." in [s.value for s in app.success]
    assert settings.database_url is not None
    with psycopg.connect(settings.database_url.get_secret_value()) as conn:
        audited = conn.execute(
            "SELECT details ->> 'app' FROM ipai_audit_log WHERE event_type = 'app'"
            " AND action = 'run_checks'"
        ).fetchall()
        results = conn.execute(
            "SELECT count(*) FROM ipai_dq_result WHERE trigger = 'manual'"
            " AND requested_by IS NOT NULL"
        ).fetchone()
    assert audited == [(SLUG,)] and results == (2,)


def test_an_auditor_sees_the_board_without_the_run_button(settings: Settings) -> None:
    app = run_app_page(SLUG, token(settings, "auditor"), settings=settings)
    assert list(app.dataframe[1].value["check"]) == ["app.items.unique", "app.items.not_null"]
    assert not [b for b in app.button if b.label == "Run checks now"]


def test_a_finance_only_user_is_refused(settings: Settings) -> None:
    assert_refused(run_app_page(SLUG, token(settings, "finance"), settings=settings))
