"""The workspace's Apps and Admin sections through AppTest, and the audit-log queries behind the
Audit log page, against the real test database. Apps are throwaway folders under `tmp_path`."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from streamlit.testing.v1 import AppTest

from ipai_core.apps import flags, registry
from ipai_core.apps.manifest import load_manifest
from ipai_core.db.principal import Principal
from ipai_core.errors import ConfigError
from ipai_core.governance import audit_log
from ipai_core.lakehouse import Lakehouse
from ipai_core.settings import Settings
from ipai_core.workspace import identity
from ipai_core.workspace.server import MAIN_SCRIPT
from tests.support.apps import new_slug, write_app

UserMaker = Callable[..., tuple[str, str, str]]
TIMEOUT_S = 30
PAGES = MAIN_SCRIPT.parent / "views"


@pytest.fixture
def apps_dir(settings: Settings, tmp_path: Path) -> Iterator[Path]:
    """The workspace runs on the test database with an apps folder of our own."""
    folder = tmp_path / "apps"
    folder.mkdir()
    identity.use_settings(settings.model_copy(update={"apps_dir": folder}))
    yield folder
    identity.use_settings(None)


@pytest.fixture
def registered_app(apps_dir: Path, lakehouse: Lakehouse) -> str:
    """A registered app for the finance role, with one flag `beta`."""
    slug = new_slug()
    manifest = load_manifest(write_app(apps_dir, slug, roles=("finance",)))
    with lakehouse.session(Principal.service("test")) as s:
        registry.register(s, [manifest])
    return slug


def workspace(token: str) -> AppTest:
    app = AppTest.from_file(str(MAIN_SCRIPT), default_timeout=TIMEOUT_S)
    app.session_state[identity.TOKEN_STATE_KEY] = token
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def open_page(app: AppTest, page: Path | str) -> AppTest:
    app.switch_page(str(page)).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


# --- the Apps section -------------------------------------------------------------------------


def test_apps_section_offers_an_app_to_its_roles_only(
    apps_dir: Path, registered_app: str, make_user: UserMaker
) -> None:
    entry = apps_dir / registered_app / "app.py"
    app = open_page(workspace(make_user(["finance"])[2]), entry)
    assert [t.value for t in app.title] == [f"Test app {registered_app}"]
    assert app.dataframe[0].value["slug"].tolist() == [registered_app]
    analyst = workspace(make_user(["analyst"])[2])
    with pytest.raises(ValueError, match=r"app\.py"):
        analyst.switch_page(str(entry))


def test_a_switched_off_app_leaves_the_menu(
    apps_dir: Path, registered_app: str, make_user: UserMaker, lakehouse: Lakehouse
) -> None:
    admin = lakehouse.authenticate(make_user(["admin"])[2])
    with lakehouse.session(admin) as s:
        registry.set_active(s, registered_app, False)
    app = workspace(make_user(["finance"])[2])
    with pytest.raises(ValueError, match=r"app\.py"):
        app.switch_page(str(apps_dir / registered_app / "app.py"))


# --- the Admin section ------------------------------------------------------------------------


def test_admin_pages_are_for_admins_only(apps_dir: Path, make_user: UserMaker) -> None:
    token = make_user(["finance", "auditor"])[2]
    app = workspace(token)
    for page in ("admin_audit_log.py", "admin_app_registry.py", "admin_feature_flags.py"):
        with pytest.raises(ValueError, match=page):
            app.switch_page(f"views/{page}")
        direct = AppTest.from_file(str(PAGES / page), default_timeout=TIMEOUT_S)
        direct.session_state[identity.TOKEN_STATE_KEY] = token
        direct.run()
        assert [e.value for e in direct.error] == [identity.ADMINS_ONLY]
        assert not direct.dataframe


def record_actions(lakehouse: Lakehouse, principal: Principal, count: int) -> None:
    """`count` audit entries written by `principal` itself (as an app action would be), one
    transaction each, so each has its own time."""
    for n in range(count):
        with lakehouse.session(principal) as s:
            s.scalar("SELECT public.ipai_audit('app', 'test_target', NULL, %s, '{}')", [f"did_{n}"])


def test_admin_browses_the_audit_log(
    apps_dir: Path, make_user: UserMaker, lakehouse: Lakehouse
) -> None:
    email, _, token = make_user(["admin"])
    admin = lakehouse.authenticate(token)
    record_actions(lakehouse, admin, 2)
    app = open_page(workspace(token), "views/admin_audit_log.py")
    assert [t.value for t in app.title] == ["Audit log"]
    assert {"app", "auth"} <= set(app.multiselect(key="audit_types").options)
    app.multiselect(key="audit_types").select("app").run()
    app.text_input(key="audit_actor").input(email).run()
    rows = app.dataframe[0].value
    assert rows[["action", "actor"]].values.tolist() == [["did_1", email], ["did_0", email]]
    app.multiselect(key="audit_types").unselect("app").run()
    app.text_input(key="audit_actor").input("").run()
    app.text_input(key="audit_entity").input("user").run()
    app.text_input(key="audit_entity_id").input(admin.user_id or "").run()
    rows = app.dataframe[0].value  # what the service role did to this account
    assert {"user_created", "sign_in"} <= set(rows["action"])
    assert set(rows["actor_role"]) == {"service_role"}
    app.text_input(key="audit_entity_id").input("00000000-0000-0000-0000-000000000000").run()
    assert not app.dataframe
    assert app.info[0].value.startswith("No entries match")


def test_admin_switches_an_app_off_in_the_registry(
    apps_dir: Path, registered_app: str, make_user: UserMaker, owner_conn: psycopg.Connection
) -> None:
    app = open_page(workspace(make_user(["admin"])[2]), "views/admin_app_registry.py")
    listed = app.dataframe[0].value
    assert listed.loc[listed["Slug"] == registered_app, "Active"].tolist() == ["on"]
    app.selectbox(key="registry_app").select(registered_app).run()
    app.button(key="registry_toggle").click().run()
    assert not app.exception, [e.value for e in app.exception]
    listed = app.dataframe[0].value
    assert listed.loc[listed["Slug"] == registered_app, "Active"].tolist() == ["off"]
    action = owner_conn.execute(
        "SELECT action FROM public.ipai_audit_log WHERE details ->> 'slug' = %s"
        " ORDER BY created_at DESC LIMIT 1",
        [registered_app],
    ).fetchone()
    assert action == ("app_deactivated",)


def test_admin_sets_a_flag_for_a_role(
    apps_dir: Path,
    registered_app: str,
    make_user: UserMaker,
    lakehouse: Lakehouse,
) -> None:
    app = open_page(workspace(make_user(["admin"])[2]), "views/admin_feature_flags.py")
    app.selectbox(key="flags_app").select(registered_app).run()
    assert app.dataframe[0].value["Flag"].tolist() == ["beta"]
    assert app.info[0].value.startswith("No overrides")
    app.text_input(key="flag_role").input("finance")
    app.toggle(key="flag_on").set_value(True)
    app.button(key="flag_save").click().run()
    assert not app.exception, [e.value for e in app.exception]
    with lakehouse.session(Principal.service("test")) as s:
        rows = flags.read_rows(s, registered_app)
    assert [(r.flag, r.role, r.enabled) for r in rows] == [("beta", "finance", True)]
    overrides = app.dataframe[1].value
    assert overrides[["Flag", "Role", "Value"]].values.tolist() == [["beta", "finance", "on"]]


# --- the queries behind the Audit log page ----------------------------------------------------


def test_audit_search_filters_pages_and_exports(lakehouse: Lakehouse, make_user: UserMaker) -> None:
    email, _, token = make_user(["auditor"])
    auditor = lakehouse.authenticate(token)
    record_actions(lakehouse, auditor, 3)
    since = datetime.now(UTC) - timedelta(minutes=5)
    where = audit_log.AuditFilter(since=since, event_types=("app",), actor=email.upper())
    with lakehouse.session(auditor) as s:
        first = audit_log.search(s, where, limit=2)
        second = audit_log.search(s, where, limit=2, offset=2)
        csv_text = audit_log.export_csv(s, where)
        by_id = audit_log.search(s, audit_log.AuditFilter(actor=auditor.user_id or ""))
        before = audit_log.search(s, audit_log.AuditFilter(until=since, actor=email))
    assert (first.total, first.pages) == (3, 2)
    assert first.rows["action"].to_list() == ["did_2", "did_1"]
    assert second.rows["action"].to_list() == ["did_0"]
    exported = list(csv.DictReader(io.StringIO(csv_text)))
    assert [(r["action"], r["actor"], r["event_type"]) for r in exported] == [
        (f"did_{n}", email, "app") for n in (2, 1, 0)
    ]
    assert by_id.total == 3
    assert before.total == 0
    with pytest.raises(ConfigError, match="page size"), lakehouse.session(auditor) as s:
        audit_log.search(s, where, limit=0)


def test_audit_log_readers_see_what_rls_allows(lakehouse: Lakehouse, make_user: UserMaker) -> None:
    _, _, plain_token = make_user([])
    plain_user = lakehouse.authenticate(plain_token)
    record_actions(lakehouse, plain_user, 2)
    auditor = lakehouse.authenticate(make_user(["auditor"])[2])
    everything = audit_log.AuditFilter()
    with lakehouse.session(plain_user) as s:
        own = audit_log.search(s, everything, limit=1000)
    with lakehouse.session(auditor) as s:
        all_entries = audit_log.search(s, everything, limit=1)
    assert own.total >= 2 and all_entries.total > own.total
    assert set(own.rows["actor"]) == {plain_user.user_id}  # no e-mails for non-auditors
