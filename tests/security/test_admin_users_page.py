"""The Users admin page (Admin · Users) through AppTest on the demo lakehouse: admins see every
user with roles and company scope and change them, sign a user out everywhere or delete one —
each change audited with the admin's own id; everybody else is refused and sees nothing."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from streamlit.testing.v1 import AppTest  # noqa: TID251 - the workspace as a browser runs it

from ipai_core.auth import users
from ipai_core.errors import InvalidToken
from ipai_core.lakehouse import Lakehouse
from ipai_core.workspace import identity
from ipai_core.workspace.server import MAIN_SCRIPT
from tests.support.users import SignedInUser, new_user

pytestmark = pytest.mark.slow  # the demo lakehouse
PAGE = MAIN_SCRIPT.parent / "views" / "admin_users.py"
TIMEOUT_S = 30


@pytest.fixture(autouse=True)
def workspace_on_the_demo(demo_lakehouse: Lakehouse) -> Iterator[None]:
    identity.use_settings(demo_lakehouse.settings)
    yield
    identity.use_settings(None)


@pytest.fixture
def owner(demo_lakehouse: Lakehouse) -> Iterator[psycopg.Connection]:
    assert demo_lakehouse.settings.database_url is not None
    with psycopg.connect(demo_lakehouse.settings.database_url.get_secret_value()) as conn:
        yield conn


def page(token: str) -> AppTest:
    app = AppTest.from_file(str(PAGE), default_timeout=TIMEOUT_S)
    app.session_state[identity.TOKEN_STATE_KEY] = token
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def pick(app: AppTest, email: str) -> AppTest:
    app.selectbox(key="users_user").set_value(email).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def click(app: AppTest, key: str) -> AppTest:
    app.button(key=key).click().run()
    assert not app.exception, [e.value for e in app.exception]
    assert not app.error, [e.value for e in app.error]
    return app


def test_only_admins_see_the_users_page(demo_lakehouse: Lakehouse) -> None:
    finance = new_user(demo_lakehouse, ["finance", "auditor"])
    refused = page(finance.token)
    assert [e.value for e in refused.error] == [identity.ADMINS_ONLY]
    assert not refused.dataframe
    admin = new_user(demo_lakehouse, ["admin"])
    main = AppTest.from_file(str(MAIN_SCRIPT), default_timeout=TIMEOUT_S)
    main.session_state[identity.TOKEN_STATE_KEY] = admin.token
    main.run()
    main.switch_page("views/admin_users.py").run()  # listed in the admin section
    assert [t.value for t in main.title] == ["Users"]


def test_an_admin_changes_roles_and_companies_audited_with_their_id(
    demo_lakehouse: Lakehouse, owner: psycopg.Connection
) -> None:
    admin = new_user(demo_lakehouse, ["admin"])
    target = new_user(demo_lakehouse, ["analyst"])
    app = pick(page(admin.token), target.email)
    listed = app.dataframe[0].value
    row = listed[listed["Email"] == target.email]
    assert row["Companies"].tolist() == ["every company their roles allow"]

    app.multiselect(key="users_roles_pick").set_value(["finance", "auditor"])
    click(app, "users_roles_save")
    app.multiselect(key="users_companies_pick").set_value([2])
    click(app, "users_companies_save")

    changed = users.get_user(demo_lakehouse.db, target.email)
    assert (changed.roles, changed.company_ids) == (("auditor", "finance"), (2,))
    principal = demo_lakehouse.authenticate(target.token)  # the target's old token, right away
    assert principal.roles == ("auditor", "finance")
    granted = owner.execute(
        "SELECT granted_by::text FROM public.ipai_user_company WHERE user_id = %s", [target.id]
    ).fetchall()
    assert granted == [(admin.id,)]
    actors = owner.execute(
        "SELECT action, user_id::text FROM public.ipai_audit_log WHERE entity_id = %s"
        " AND action IN ('roles_granted', 'roles_revoked', 'companies_granted')"
        " ORDER BY created_at",
        [target.id],
    ).fetchall()
    assert actors == [
        ("roles_granted", admin.id),
        ("roles_revoked", admin.id),
        ("companies_granted", admin.id),
    ]
    refreshed = pick(page(admin.token), target.email).dataframe[0].value
    assert refreshed[refreshed["Email"] == target.email]["Companies"].tolist() == [
        "2 · IPAI Demo Singapore"
    ]


def test_an_admin_signs_a_user_out_and_deletes_one_but_not_themselves(
    demo_lakehouse: Lakehouse,
) -> None:
    admin = new_user(demo_lakehouse, ["admin"])
    target = new_user(demo_lakehouse, ["finance"])
    app = click(pick(page(admin.token), target.email), "users_sign_out")
    with pytest.raises(InvalidToken):
        demo_lakehouse.authenticate(target.token)

    again = _signed_in_again(demo_lakehouse, target)
    app = pick(page(admin.token), target.email)
    app.checkbox(key="users_delete_confirm").check().run()
    click(app, "users_delete")
    assert target.email not in [u.email for u in users.list_users(demo_lakehouse.db)]
    with pytest.raises(InvalidToken):
        demo_lakehouse.authenticate(again)

    own = pick(page(admin.token), admin.email)
    assert own.button(key="users_delete").disabled
    assert own.checkbox(key="users_delete_confirm").disabled


def _signed_in_again(lh: Lakehouse, user: SignedInUser) -> str:
    token = users.sign_in(lh.db, lh.tokens, user.email, user.password)
    assert lh.authenticate(token).email == user.email
    return token
