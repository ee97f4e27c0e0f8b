"""The audit log is append-only for every role, and DDL lands in it by itself."""

from __future__ import annotations

import psycopg
import pytest
from conftest import UserMaker

from ipai_core import AccessDenied, Lakehouse, Principal


@pytest.fixture
def an_entry(lakehouse: Lakehouse) -> str:
    with lakehouse.session(Principal.service("test: write an entry")) as s:
        entry_id = s.scalar("SELECT public.ipai_audit('app_action', 'app', NULL, 'approve', '{}')")
    return str(entry_id)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE public.ipai_audit_log SET action = 'tampered' WHERE id = %s",
        "DELETE FROM public.ipai_audit_log WHERE id = %s",
    ],
)
def test_service_role_cannot_change_or_remove_entries(
    lakehouse: Lakehouse, an_entry: str, statement: str
) -> None:
    with pytest.raises(AccessDenied), lakehouse.session(Principal.service("test: tamper")) as s:
        s.execute(statement, [an_entry])


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE public.ipai_audit_log SET action = 'tampered' WHERE id = %s",
        "DELETE FROM public.ipai_audit_log WHERE id = %s",
    ],
)
def test_admin_user_cannot_change_or_remove_entries(
    lakehouse: Lakehouse, make_user: UserMaker, an_entry: str, statement: str
) -> None:
    _, _, token = make_user(["admin", "auditor"])
    with pytest.raises(AccessDenied), lakehouse.session(lakehouse.authenticate(token)) as s:
        s.execute(statement, [an_entry])


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE public.ipai_audit_log SET action = 'tampered' WHERE id = %s",
        "DELETE FROM public.ipai_audit_log WHERE id = %s",
        "TRUNCATE public.ipai_audit_log",
    ],
)
def test_even_the_owner_cannot_change_or_remove_entries(
    owner_conn: psycopg.Connection, an_entry: str, statement: str
) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        owner_conn.execute(statement, [an_entry] if "%s" in statement else None)
    assert owner_conn.execute(
        "SELECT action FROM public.ipai_audit_log WHERE id = %s", [an_entry]
    ).fetchone() == ("approve",)


def test_users_cannot_insert_entries_directly(lakehouse: Lakehouse, make_user: UserMaker) -> None:
    _, _, token = make_user(["admin"])
    with pytest.raises(AccessDenied), lakehouse.session(lakehouse.authenticate(token)) as s:
        s.execute(
            "INSERT INTO public.ipai_audit_log (event_type, entity_type, action)"
            " VALUES ('app_action', 'app', 'forged')"
        )


def test_an_entry_written_by_a_user_carries_their_verified_identity(
    lakehouse: Lakehouse, make_user: UserMaker, owner_conn: psycopg.Connection
) -> None:
    _, _, token = make_user(["finance"])
    me = lakehouse.authenticate(token)
    with lakehouse.session(me) as s:
        entry = s.scalar(
            "SELECT public.ipai_audit('app_action', 'app', NULL, 'approve_bill', '{}')"
        )
    row = owner_conn.execute(
        "SELECT user_id::text, actor_role FROM public.ipai_audit_log WHERE id = %s", [entry]
    ).fetchone()
    assert row == (me.user_id, "authenticated")


def test_auditor_reads_everything_others_only_their_own(
    lakehouse: Lakehouse, make_user: UserMaker
) -> None:
    _, _, writer = make_user(["finance"])
    me = lakehouse.authenticate(writer)
    with lakehouse.session(me) as s:
        s.scalar("SELECT public.ipai_audit('app_action', 'app', NULL, 'mine', '{}')")
    _, _, auditor = make_user(["auditor"])
    everyone = lakehouse.query(
        lakehouse.authenticate(auditor), "SELECT DISTINCT user_id FROM public.ipai_audit_log"
    )
    own = lakehouse.query(me, "SELECT DISTINCT user_id FROM public.ipai_audit_log")
    assert own["user_id"].to_list() == [me.user_id]
    assert everyone.height > 1


def test_create_table_is_audited_as_a_schema_change(owner_conn: psycopg.Connection) -> None:
    owner_conn.execute("CREATE TABLE ipai_bronze_core.audited_probe (id int)")
    owner_conn.execute("DROP TABLE ipai_bronze_core.audited_probe")
    rows = owner_conn.execute(
        "SELECT action FROM public.ipai_audit_log WHERE event_type = 'schema_change'"
        " AND details ->> 'object_identity' = 'ipai_bronze_core.audited_probe' ORDER BY created_at"
    ).fetchall()
    assert [r[0] for r in rows] == ["CREATE TABLE", "DROP TABLE"]
