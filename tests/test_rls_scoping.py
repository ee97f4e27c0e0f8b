"""RLS-scoped queries: the database decides what each principal sees."""

from __future__ import annotations

import psycopg
import pytest
from conftest import TEST_JWT_SECRET, UserMaker

from ipai_core import AccessDenied, InvalidToken, Lakehouse, Principal
from ipai_core.auth.tokens import TokenService
from ipai_core.db.logins import logins_for
from ipai_core.db.pool import Database
from ipai_core.settings import Settings


@pytest.fixture(scope="module")
def domain_kpis(database_url: str) -> str:
    """A gold table whose rows belong to business domains, guarded like real gold tables."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("""
            CREATE TABLE ipai_gold_core.test_domain_kpi (domain text NOT NULL, kpi text, value int);
            ALTER TABLE ipai_gold_core.test_domain_kpi ENABLE ROW LEVEL SECURITY;
            CREATE POLICY by_domain ON ipai_gold_core.test_domain_kpi FOR SELECT TO authenticated
              USING (public.ipai_has_role(domain));
            INSERT INTO ipai_gold_core.test_domain_kpi VALUES
              ('finance', 'revenue', 100), ('finance', 'margin', 30), ('devops', 'deploys', 12);
        """)
    return "ipai_gold_core.test_domain_kpi"


def test_finance_user_sees_finance_rows_only(
    lakehouse: Lakehouse, make_user: UserMaker, domain_kpis: str
) -> None:
    _, _, token = make_user(["finance"])
    rows = lakehouse.query(lakehouse.authenticate(token), f"SELECT domain, kpi FROM {domain_kpis}")
    assert sorted(rows["kpi"].to_list()) == ["margin", "revenue"]
    assert set(rows["domain"].to_list()) == {"finance"}


def test_admin_sees_every_domain(
    lakehouse: Lakehouse, make_user: UserMaker, domain_kpis: str
) -> None:
    _, _, token = make_user(["admin"])
    rows = lakehouse.query(lakehouse.authenticate(token), f"SELECT domain FROM {domain_kpis}")
    assert sorted(rows["domain"].to_list()) == ["devops", "finance", "finance"]


def test_user_without_roles_sees_no_rows(
    lakehouse: Lakehouse, make_user: UserMaker, domain_kpis: str
) -> None:
    _, _, token = make_user([])
    rows = lakehouse.query(lakehouse.authenticate(token), f"SELECT * FROM {domain_kpis}")
    assert rows.height == 0
    assert rows.columns == ["domain", "kpi", "value"]


@pytest.mark.parametrize(
    "table",
    [
        "ipai_gold_core.test_domain_kpi",
        "public.ipai_audit_log",
        "public.ipai_connector_config",
        "auth.users",
    ],
)
def test_anon_is_refused_by_the_database(
    lakehouse: Lakehouse, domain_kpis: str, table: str
) -> None:
    with pytest.raises(AccessDenied):
        lakehouse.query(Principal.anonymous(), f"SELECT count(*) FROM {table}")


def test_auth_functions_read_the_request_claims(lakehouse: Lakehouse, make_user: UserMaker) -> None:
    email, _, token = make_user(["finance"])
    me = lakehouse.authenticate(token)
    row = lakehouse.query(
        me,
        "SELECT auth.uid()::text AS uid, auth.role() AS role, auth.email() AS email,"
        " auth.jwt() -> 'app_metadata' ->> 'roles' AS roles, current_user AS db_role",
    ).row(0, named=True)
    assert row == {
        "uid": me.user_id,
        "role": "authenticated",
        "email": email,
        "roles": '["finance"]',
        "db_role": "authenticated",
    }


def test_identity_does_not_leak_into_the_next_session_on_a_pooled_connection(
    settings: Settings, lakehouse: Lakehouse, make_user: UserMaker
) -> None:
    with Lakehouse(
        settings,
        Database(lakehouse.db.logins, max_size=1),
        TokenService.from_settings(settings),
    ) as lh:
        _, _, token = make_user(["finance"])
        assert lh.query(lh.authenticate(token), "SELECT auth.uid() AS u")["u"][0] is not None
        after = lh.query(Principal.anonymous(), "SELECT auth.uid()::text AS u, current_user AS r")
        assert after.row(0) == (None, "anon")


@pytest.mark.parametrize("kind", ["forged", "expired", "alg_none", "wrong_audience"])
def test_bad_tokens_are_refused_before_any_query_runs(make_user: UserMaker, kind: str) -> None:
    _, _, good = make_user(["admin"])
    tokens = TokenService(secret=TEST_JWT_SECRET)
    claims = tokens.verify(good)
    bad = {
        "forged": TokenService(secret="another-secret-" + "x" * 40).issue(
            user_id=claims["sub"], email=claims["email"], roles=["admin"]
        ),
        "expired": TokenService(secret=TEST_JWT_SECRET, clock=lambda: 1_000_000.0).issue(
            user_id=claims["sub"], email=claims["email"], roles=["admin"]
        ),
        "alg_none": _unsigned(claims),
        "wrong_audience": TokenService(secret=TEST_JWT_SECRET, audience="other").issue(
            user_id=claims["sub"], email=claims["email"], roles=["admin"]
        ),
    }[kind]
    # This lakehouse's database is unreachable: refusing must happen before any connection.
    unreachable = Database(logins_for("postgresql://nobody@127.0.0.1:9/none", TEST_JWT_SECRET))
    lh = Lakehouse(Settings(_env_file=None, jwt_secret=TEST_JWT_SECRET), unreachable, tokens)  # type: ignore[call-arg]
    with pytest.raises(InvalidToken):
        lh.query(lh.authenticate(bad), "SELECT 1")


def test_service_role_sessions_are_audited_with_their_reason(
    lakehouse: Lakehouse, owner_conn: psycopg.Connection
) -> None:
    with lakehouse.session(Principal.service("test: nightly maintenance")) as s:
        assert s.scalar("SELECT current_user") == "service_role"
    found = owner_conn.execute(
        "SELECT count(*) FROM ipai_audit_log WHERE event_type = 'service_access'"
        " AND details ->> 'reason' = 'test: nightly maintenance'"
    ).fetchone()
    assert found == (1,)


def test_a_failed_statement_rolls_back_the_whole_session(
    lakehouse: Lakehouse, owner_conn: psycopg.Connection
) -> None:
    with (
        pytest.raises(psycopg.errors.UniqueViolation),
        lakehouse.session(Principal.service("test: rollback")) as s,
    ):
        s.execute("INSERT INTO ipai_app_registry (slug, name) VALUES ('rollback-app', 'x')")
        s.execute("INSERT INTO ipai_app_registry (slug, name) VALUES ('rollback-app', 'x')")
    assert owner_conn.execute(
        "SELECT count(*) FROM ipai_app_registry WHERE slug = 'rollback-app'"
    ).fetchone() == (0,)


def _unsigned(claims: dict[str, object]) -> str:
    import base64
    import json

    def part(value: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def test_a_failed_service_session_is_still_audited(
    lakehouse: Lakehouse, owner_conn: psycopg.Connection
) -> None:
    with (
        pytest.raises(psycopg.errors.DivisionByZero),
        lakehouse.session(Principal.service("test: doomed session")) as s,
    ):
        s.execute("SELECT 1/0")
    found = owner_conn.execute(
        "SELECT count(*) FROM ipai_audit_log WHERE event_type = 'service_access'"
        " AND details ->> 'reason' = 'test: doomed session'"
    ).fetchone()
    assert found == (1,)
