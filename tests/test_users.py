"""Local users: sign-in issues verifiable tokens; wrong passwords and lockouts are refused."""

from __future__ import annotations

import psycopg
import pytest
from conftest import UserMaker

from ipai_core import ConfigError, InvalidCredentials, Lakehouse, NotFound
from ipai_core.auth import users


def test_sign_in_returns_a_token_carrying_the_roles(
    lakehouse: Lakehouse, make_user: UserMaker
) -> None:
    email, _, token = make_user(["finance", "analyst"])
    claims = lakehouse.tokens.verify(token)
    assert claims["email"] == email
    assert claims["role"] == "authenticated"
    assert claims["aud"] == "authenticated"
    assert claims["app_metadata"]["roles"] == ["analyst", "finance"]


def test_wrong_password_and_unknown_email_fail_alike(
    lakehouse: Lakehouse, make_user: UserMaker
) -> None:
    email, _, _ = make_user([])
    with pytest.raises(InvalidCredentials) as wrong_password:
        users.sign_in(lakehouse.db, lakehouse.tokens, email, "not-the-password")
    with pytest.raises(InvalidCredentials) as unknown_email:
        users.sign_in(lakehouse.db, lakehouse.tokens, "nobody@example.test", "whatever-pass")
    assert str(wrong_password.value) == str(unknown_email.value)


def test_repeated_failures_lock_the_account_even_for_the_right_password(
    lakehouse: Lakehouse, make_user: UserMaker
) -> None:
    email, password, _ = make_user([])
    for _ in range(users.MAX_FAILED_ATTEMPTS):
        with pytest.raises(InvalidCredentials):
            users.sign_in(lakehouse.db, lakehouse.tokens, email, "wrong-password")
    with pytest.raises(InvalidCredentials):
        users.sign_in(lakehouse.db, lakehouse.tokens, email, password)
    users.set_password(lakehouse.db, email, password)  # an admin reset unlocks
    assert users.sign_in(lakehouse.db, lakehouse.tokens, email, password)


def test_passwords_are_stored_as_scrypt_hashes_only(
    lakehouse: Lakehouse, make_user: UserMaker, owner_conn: psycopg.Connection
) -> None:
    email, password, _ = make_user([])
    stored = owner_conn.execute(
        "SELECT c.password_hash, u.encrypted_password FROM public.ipai_local_credential c"
        " JOIN auth.users u ON u.id = c.user_id WHERE u.email = %s",
        [email],
    ).fetchone()
    assert stored is not None
    assert stored[0].startswith("scrypt$") and password not in stored[0]
    assert stored[1] is None


def test_grant_and_revoke_take_effect_at_the_next_request(
    lakehouse: Lakehouse, make_user: UserMaker
) -> None:
    email, password, old_token = make_user(["analyst"])
    users.grant_roles(lakehouse.db, email, ["finance"])
    new_token = users.sign_in(lakehouse.db, lakehouse.tokens, email, password)
    assert lakehouse.tokens.verify(old_token)["app_metadata"]["roles"] == ["analyst"]
    assert lakehouse.authenticate(old_token).roles == ("analyst", "finance")  # read again
    assert lakehouse.authenticate(new_token).roles == ("analyst", "finance")
    users.grant_roles(lakehouse.db, email, ["analyst"], revoke=True)
    assert users.get_user(lakehouse.db, email).roles == ("finance",)
    assert lakehouse.authenticate(new_token).roles == ("finance",)


def test_duplicate_email_and_bad_role_names_are_refused(
    lakehouse: Lakehouse, make_user: UserMaker
) -> None:
    email, _, _ = make_user([])
    with pytest.raises(ConfigError):
        users.add_user(lakehouse.db, email.upper(), "long-enough-pw", [])
    with pytest.raises(ConfigError):
        users.add_user(lakehouse.db, "new@example.test", "long-enough-pw", ["Not A Role"])
    with pytest.raises(NotFound):
        users.grant_roles(lakehouse.db, "missing@example.test", ["finance"])


def test_sign_ins_and_failures_are_audited(
    lakehouse: Lakehouse, make_user: UserMaker, owner_conn: psycopg.Connection
) -> None:
    email, _, token = make_user([])
    with pytest.raises(InvalidCredentials):
        users.sign_in(lakehouse.db, lakehouse.tokens, email, "wrong-password")
    user_id = lakehouse.authenticate(token).user_id
    actions = [
        r[0]
        for r in owner_conn.execute(
            "SELECT action FROM ipai_audit_log WHERE entity_id = %s ORDER BY created_at", [user_id]
        ).fetchall()
    ]
    assert actions == ["user_created", "sign_in", "sign_in_failed"]
