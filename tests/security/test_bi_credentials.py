"""BI credentials under RLS (issue 16, point 5), against the real server.

A BI login (`ipai bi credentials add NAME --for EMAIL`) reads gold and platinum exactly as its
person does through `Lakehouse.query` — checked with psql, SQLAlchemy (what Superset uses) and
psycopg — and nothing else. Writes, other schemas and the catalog's secrets, role switches and
forged `request.jwt.claims` are refused (or ignored) by Postgres itself, with nothing written;
role changes apply on the next query, and so do rotation and revocation.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy
from conftest import TEST_JWT_SECRET
from psycopg import sql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from ipai_core.auth import users
from ipai_core.bi import (
    LoginLimits,
    add_credential,
    address_of,
    get_credential,
    list_credentials,
    revoke_credential,
    rotate_credential,
    sync_grants,
)
from ipai_core.db.embedded import ServerStatus, bin_dir
from ipai_core.errors import ConfigError, NotFound
from ipai_core.governance.rls_check import rls_coverage
from ipai_core.lakehouse import Lakehouse
from tests.support.users import SignedInUser, new_user

pytestmark = pytest.mark.slow

INSUFFICIENT_PRIVILEGE = "42501"
READ_ONLY_TRANSACTION = "25006"

# Same SQL as the person and as their BI login; text and integers only, so rows compare as-is.
COMPARED_QUERIES = (
    "SELECT company_id, count(*)::int, sum(balance)::text FROM ipai_gold_erp.journal_items"
    " GROUP BY 1 ORDER BY 1",
    "SELECT company_id, month::text, sum(amount)::text FROM ipai_gold_erp.profit_and_loss"
    " GROUP BY 1, 2 ORDER BY 1, 2",
    "SELECT company_id, count(*)::int FROM ipai_platinum_erp.partner_payment_behaviour"
    " GROUP BY 1 ORDER BY 1",
    "SELECT company_id, section, sum(amount)::text"
    " FROM ipai_gold_erp.balance_sheet_at('2026-10-31') GROUP BY 1, 2 ORDER BY 1, 2",
    "SELECT count(*)::int FROM ipai_gold_devops.ci_status",
    "SELECT count(*)::int FROM ipai_gold_retail.sales_daily",
)
JOURNAL_COMPANIES = "SELECT DISTINCT company_id FROM ipai_gold_erp.journal_items ORDER BY 1"
ERP_ROWS = "SELECT count(*)::int FROM ipai_gold_erp.journal_items"

# Each must fail inside the default read-only transaction, and again with read-only turned off:
# then for want of a privilege, which is what actually protects the data.
WRITES = (
    "INSERT INTO ipai_platinum_erp.reconciliation_decisions DEFAULT VALUES",
    "UPDATE ipai_platinum_erp.reconciliation_decisions SET reason = 'forged'",
    "DELETE FROM ipai_platinum_core.catalog_embeddings",
    "TRUNCATE ipai_platinum_erp.partner_embeddings",
    "CREATE TABLE ipai_gold_erp.bi_forged (a int)",
    "CREATE TABLE public.bi_forged (a int)",
    "CREATE VIEW ipai_gold_erp.bi_forged AS SELECT * FROM ipai_gold_erp.mv_open_items",
    "REFRESH MATERIALIZED VIEW ipai_gold_erp.mv_open_items",
    "GRANT SELECT ON ipai_gold_erp.mv_open_items TO PUBLIC",
    "ALTER ROLE CURRENT_USER CONNECTION LIMIT -1",
    "SELECT public.ipai_audit('bi', 'forged', NULL, 'forged')",
    "SELECT public.ipai_bi_sync()",
    "SELECT public.ipai_bi_disable_login('ipai_bi')",
)
OTHER_READS = (
    "SELECT rolname, rolpassword FROM pg_authid",
    "SELECT usename, passwd FROM pg_shadow",
    "SELECT * FROM auth.users",
    "SELECT auth.uid()",
    "SELECT auth.jwt()",
    "SELECT * FROM ipai_bronze_erp.account_move_line",
    "SELECT * FROM ipai_silver_erp.journal_items",
    "SELECT * FROM ipai_gold_erp.mv_open_items",
    "SELECT * FROM ipai_platinum_erp.mv_partner_payment_behaviour",
    "SELECT * FROM ipai_platinum_erp.invoice_texts",
    "SELECT * FROM public.ipai_audit_log",
    "SELECT * FROM public.ipai_bi_credential",
    "SELECT * FROM public.ipai_local_credential",
    "SELECT * FROM public.ipai_user_company",
    "SELECT * FROM public.ipai_vault_secret",
    "SELECT * FROM public.ipai_connector_config",
    "SELECT * FROM ipai_migrations.applied",
    "SELECT public.ipai_user_claims(gen_random_uuid())",
    "SELECT pg_read_file('postgresql.conf')",
)
ROLE_SWITCHES = (
    "SET ROLE authenticated",
    "SET ROLE service_role",
    "SET ROLE anon",
    "SET ROLE ipai_owner",
    "SET ROLE postgres",
    "SET ROLE ipai_authenticator",
    "SELECT set_config('role', 'service_role', false)",
    "SELECT set_config('role', 'ipai_owner', true)",
    "SET SESSION AUTHORIZATION ipai_owner",
    "SET SESSION AUTHORIZATION postgres",
)


@dataclass(frozen=True)
class BiLogin:
    name: str
    role: str
    password: str
    url: str
    sqlalchemy_url: str


Issue = Callable[..., tuple[SignedInUser, BiLogin]]


@pytest.fixture(scope="module")
def demo(demo_lakehouse: Lakehouse) -> Lakehouse:
    return demo_lakehouse


@pytest.fixture(scope="module")
def companies(demo: Lakehouse) -> list[int]:
    admin = new_user(demo, ["admin"])
    rows = _as_person(demo, admin, JOURNAL_COMPANIES)
    ids = [int(r[0]) for r in rows]
    assert len(ids) >= 2, "the demo has two companies; scoping needs both"
    return ids


@pytest.fixture
def issue(demo: Lakehouse) -> Issue:
    """`issue(["finance"], companies=[1])` → a new person with those roles (and company scope)
    and a BI credential for them."""
    return _issuer(demo)


def _issuer(lh: Lakehouse) -> Issue:
    def make(
        roles: list[str], *, companies: list[int] | None = None, **limits: int
    ) -> tuple[SignedInUser, BiLogin]:
        person = new_user(lh, roles)
        if companies:
            users.grant_companies(lh.db, person.email, companies)
        name = f"t{secrets.token_hex(5)}"
        with _owner(lh) as conn:
            issued = add_credential(conn, name, person.email, limits=LoginLimits(**limits))
        assert issued.password is not None
        address = address_of(_owner_url(lh))
        role = issued.credential.login_role
        return person, BiLogin(
            name,
            role,
            issued.password,
            address.url(role, issued.password),
            address.sqlalchemy_url(role, issued.password),
        )

    return make


def _owner_url(lh: Lakehouse) -> str:
    assert lh.owner_url is not None
    return lh.owner_url


def _owner(lh: Lakehouse) -> psycopg.Connection:
    return psycopg.connect(_owner_url(lh), autocommit=True)


def _bi(login: BiLogin) -> psycopg.Connection:
    return psycopg.connect(login.url, autocommit=True)


def _as_person(lh: Lakehouse, person: SignedInUser, query: str) -> list[tuple[Any, ...]]:
    return lh.query(lh.authenticate(person.token), query).rows()


def _sqlstate(conn: psycopg.Connection, statement: str) -> str | None:
    try:
        conn.execute(statement)
    except psycopg.Error as exc:
        return exc.sqlstate
    return None


def _psql_clients() -> list[Path]:
    found = [bin_dir() / "psql", Path(shutil.which("psql") or "/usr/bin/psql")]
    return [p for p in dict.fromkeys(found) if p.exists()]


def _psql(client: Path, url: str, statement: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(client), "-X", "-A", "-t", "-F", "|", "-v", "ON_ERROR_STOP=1", "-d", url],
        input=statement,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={k: v for k, v in os.environ.items() if not k.startswith("PG")},
    )


def _fingerprint(lh: Lakehouse) -> dict[str, object]:
    """What a write would change: row counts and contents of the tables BI could target, and
    the relations that exist in public, gold and platinum."""
    with _owner(lh) as conn:
        tables = (
            "ipai_platinum_erp.reconciliation_decisions",
            "ipai_platinum_core.catalog_embeddings",
            "ipai_platinum_erp.partner_embeddings",
            "ipai_platinum_erp.invoice_embeddings",
        )
        seen = {
            t: conn.execute(
                sql.SQL(
                    "SELECT count(*), md5(coalesce(string_agg(x::text, ',' ORDER BY x::text),"
                    " '')) FROM {} x"
                ).format(sql.SQL(t))
            ).fetchone()
            for t in tables
        }
        seen["relations"] = conn.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' OR n.nspname ~ '^ipai_(gold|platinum)_'"
        ).fetchone()
        seen["mv_open_items_acl"] = conn.execute(
            "SELECT relacl::text FROM pg_class WHERE oid = 'ipai_gold_erp.mv_open_items'::regclass"
        ).fetchone()
        return dict(seen)


# --- what a BI login reads ----------------------------------------------------------------------


def test_a_bi_login_reads_exactly_what_its_person_reads(
    demo: Lakehouse, issue: Issue, companies: list[int]
) -> None:
    scoped, scoped_bi = issue(["finance"], companies=[companies[0]])
    auditor, auditor_bi = issue(["auditor"])
    analyst, analyst_bi = issue(["analyst"])
    for person, login in ((scoped, scoped_bi), (auditor, auditor_bi), (analyst, analyst_bi)):
        with _bi(login) as conn:
            for query in COMPARED_QUERIES:
                assert conn.execute(query).fetchall() == _as_person(demo, person, query), query
    # …and those people see different rows, so the comparison above could fail.
    with _bi(scoped_bi) as s, _bi(auditor_bi) as a, _bi(analyst_bi) as n:
        assert [r[0] for r in s.execute(JOURNAL_COMPANIES)] == [companies[0]]
        assert [r[0] for r in a.execute(JOURNAL_COMPANIES)] == companies
        assert n.execute(ERP_ROWS).fetchone() == (0,)
        devops = "SELECT count(*)::int FROM ipai_gold_devops.ci_status"
        assert n.execute(devops).fetchone()[0] > 0  # type: ignore[index]
        assert s.execute(devops).fetchone() == (0,)


def test_every_relation_granted_to_bi_logins_can_be_read(demo: Lakehouse, issue: Issue) -> None:
    """A granted view that reads through a security_invoker silver view would refuse a BI login
    (PostgreSQL checks those relations as the querying user): each one is read here."""
    _, login = issue(["admin"])
    with _owner(demo) as owner:
        granted = [
            str(r[0])
            for r in owner.execute(
                "SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n"
                " ON n.oid = c.relnamespace WHERE n.nspname ~ '^ipai_(gold|platinum)_'"
                " AND has_table_privilege('ipai_bi', c.oid, 'SELECT') ORDER BY 1"
            )
        ]
    assert "ipai_platinum_erp.partner_payment_behaviour" in granted
    with _bi(login) as conn:
        refused = [r for r in granted if _sqlstate(conn, f"SELECT * FROM {r} LIMIT 1")]
    assert refused == []


@pytest.mark.parametrize("client", _psql_clients(), ids=lambda p: str(p))
def test_psql_sees_the_persons_rows_and_is_refused_the_rest(
    demo: Lakehouse, issue: Issue, companies: list[int], client: Path
) -> None:
    person, login = issue(["finance"], companies=[companies[1]])
    for query in COMPARED_QUERIES:
        done = _psql(client, login.url, query)
        assert done.returncode == 0, done.stderr
        expected = ["|".join(str(v) for v in row) for row in _as_person(demo, person, query)]
        assert done.stdout.splitlines() == expected, query
    before = _fingerprint(demo)
    for statement in (*WRITES[:3], *OTHER_READS[:6], *ROLE_SWITCHES[:2]):
        done = _psql(client, login.url, statement)
        assert done.returncode != 0, statement
        assert "permission denied" in done.stderr or "read-only transaction" in done.stderr, (
            statement,
            done.stderr,
        )
    assert _fingerprint(demo) == before


def test_sqlalchemy_as_superset_uses_it_lists_and_reads_gold_only(
    demo: Lakehouse, issue: Issue, companies: list[int]
) -> None:
    person, login = issue(["auditor"], companies=[companies[0]])
    engine = sqlalchemy.create_engine(login.sqlalchemy_url, poolclass=NullPool)
    try:
        inspector = sqlalchemy.inspect(engine)
        schemas = inspector.get_schema_names()
        assert "ipai_gold_erp" in schemas and "ipai_platinum_erp" in schemas
        assert "profit_and_loss" in inspector.get_view_names(schema="ipai_gold_erp")
        columns = {c["name"] for c in inspector.get_columns("aging", schema="ipai_gold_erp")}
        assert {"company_id", "partner_name", "total_open"} <= columns
        with engine.connect() as conn:
            for query in COMPARED_QUERIES:
                rows = [tuple(r) for r in conn.execute(sqlalchemy.text(query))]
                assert rows == _as_person(demo, person, query), query
            assert [r[0] for r in conn.execute(sqlalchemy.text(JOURNAL_COMPANIES))] == [
                companies[0]
            ]
        before = _fingerprint(demo)
        for statement in (WRITES[0], WRITES[1], OTHER_READS[5], OTHER_READS[7]):
            with engine.connect() as conn, pytest.raises(DBAPIError) as caught:
                conn.execute(sqlalchemy.text(statement))
            orig = caught.value.orig
            assert isinstance(orig, psycopg.Error)
            assert orig.sqlstate in (INSUFFICIENT_PRIVILEGE, READ_ONLY_TRANSACTION), statement
        assert _fingerprint(demo) == before
    finally:
        engine.dispose()


# --- hostile sessions ---------------------------------------------------------------------------


def test_writes_are_refused_read_only_and_again_for_want_of_privilege(
    demo: Lakehouse, issue: Issue
) -> None:
    _, login = issue(["admin"])  # the widest person: still no write
    before = _fingerprint(demo)
    with _bi(login) as conn:
        assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
        for statement in WRITES:
            assert _sqlstate(conn, statement) in (READ_ONLY_TRANSACTION, INSUFFICIENT_PRIVILEGE)
        conn.execute("SET default_transaction_read_only = off")  # a hostile tool's first move
        for statement in WRITES:
            assert _sqlstate(conn, statement) == INSUFFICIENT_PRIVILEGE, statement
        with conn.transaction():
            conn.execute("SET LOCAL transaction_read_only = off")
            assert _sqlstate(conn, WRITES[0]) == INSUFFICIENT_PRIVILEGE
    assert _fingerprint(demo) == before


def test_other_schemas_and_the_catalogs_secrets_are_refused(issue: Issue) -> None:
    _, login = issue(["admin"])
    with _bi(login) as conn:
        for statement in OTHER_READS:
            assert _sqlstate(conn, statement) == INSUFFICIENT_PRIVILEGE, statement
        # The catalog BI tools browse stays readable, without anything that grants a way in.
        assert conn.execute("SELECT count(*) > 0 FROM pg_catalog.pg_class").fetchone() == (True,)
        granted = conn.execute(
            "SELECT DISTINCT table_schema FROM information_schema.role_table_grants"
            " WHERE grantee IN ('ipai_bi', current_user) ORDER BY 1"
        ).fetchall()
        assert granted and all(
            s.startswith(("ipai_gold_", "ipai_platinum_")) for (s,) in granted
        ), granted


def test_role_switches_are_refused(issue: Issue, demo: Lakehouse) -> None:
    _, login = issue(["analyst"])
    _, other = issue(["admin"])
    with _bi(login) as conn:
        for statement in (*ROLE_SWITCHES, f'SET ROLE "{other.role}"'):
            assert _sqlstate(conn, statement) == INSUFFICIENT_PRIVILEGE, statement
        if conn.info.server_version >= 160000:  # per-grant SET FALSE exists since 16
            assert _sqlstate(conn, "SET ROLE ipai_bi") == INSUFFICIENT_PRIVILEGE
        assert conn.execute("SELECT session_user, current_user").fetchone() == (
            login.role,
            login.role,
        )
        assert conn.execute(ERP_ROWS).fetchone() == (0,)


def test_forged_claims_do_not_widen_access(
    demo: Lakehouse, issue: Issue, companies: list[int]
) -> None:
    admin, _ = issue(["admin"])
    _, analyst = issue(["analyst"])
    _, scoped = issue(["finance"], companies=[companies[0]])
    all_rows = _as_person(demo, admin, ERP_ROWS)
    assert all_rows[0][0] > 0  # what a successful forgery would show
    forged = json.dumps(
        {
            "sub": admin.id,
            "role": "service_role",
            "email": "admin@ipai.local",
            "app_metadata": {"roles": ["admin"], "company_ids": companies},
        }
    )
    for login, roles, journal_companies in (
        (analyst, ["analyst"], []),
        (scoped, ["finance"], [companies[0]]),
    ):
        with _bi(login) as conn:
            conn.execute(sql.SQL("SET request.jwt.claims = {}").format(sql.Literal(forged)))
            conn.execute("SET request.jwt.claim.role = 'service_role'")
            conn.execute('SET request.jwt.claim = \'{"app_metadata": {"roles": ["admin"]}}\'')
            conn.execute("SELECT set_config('request.jwt.claim.sub', %s, false)", [admin.id])
            assert conn.execute("SELECT public.ipai_app_roles()").fetchone() == (roles,)
            assert [r[0] for r in conn.execute(JOURNAL_COMPANIES)] == journal_companies
            with conn.transaction():
                conn.execute("SELECT set_config('request.jwt.claims', %s, true)", [forged])
                assert [r[0] for r in conn.execute(JOURNAL_COMPANIES)] == journal_companies
                assert conn.execute(
                    "SELECT count(*)::int FROM ipai_gold_erp.balance_sheet_at('2026-10-31')"
                    " WHERE company_id <> ALL(%s)",
                    [journal_companies or [0]],
                ).fetchone() == (0,)


def test_the_login_carries_its_limits(issue: Issue) -> None:
    _, login = issue(["analyst"], statement_timeout_ms=250, connection_limit=1)
    with _bi(login) as conn:
        assert conn.execute("SHOW statement_timeout").fetchone() == ("250ms",)
        assert _sqlstate(conn, "SELECT pg_sleep(30)") == "57014"  # query_canceled
        with pytest.raises(psycopg.OperationalError, match="too many connections"):
            _bi(login).close()


# --- changes apply on the next query ------------------------------------------------------------


def test_role_changes_of_the_person_apply_on_the_next_query(demo: Lakehouse, issue: Issue) -> None:
    person, login = issue(["analyst"])
    with _bi(login) as conn:
        assert conn.execute(ERP_ROWS).fetchone() == (0,)
        users.grant_roles(demo.db, person.email, ["finance"])
        granted = conn.execute(ERP_ROWS).fetchone()
        assert granted is not None and granted[0] > 0
        assert [granted] == _as_person(demo, person, ERP_ROWS)
        users.grant_roles(demo.db, person.email, ["finance"], revoke=True)
        assert conn.execute(ERP_ROWS).fetchone() == (0,)


def test_revocation_takes_effect_on_the_next_query(demo: Lakehouse, issue: Issue) -> None:
    _, login = issue(["admin"])
    conn = _bi(login)
    try:
        assert conn.execute(ERP_ROWS).fetchone()[0] > 0  # type: ignore[index]
        with _owner(demo) as owner:
            revoke_credential(owner, login.name)
            assert not get_credential(owner, login.name).active
            assert owner.execute(
                "SELECT rolcanlogin, pg_has_role(rolname, 'ipai_bi', 'MEMBER') FROM pg_roles"
                " WHERE rolname = %s",
                [login.role],
            ).fetchone() == (False, False)
        with pytest.raises(psycopg.OperationalError):
            conn.execute(ERP_ROWS)
    finally:
        conn.close()
    with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
        _bi(login).close()


def test_a_session_left_open_loses_every_privilege_when_revoked(
    demo: Lakehouse, issue: Issue
) -> None:
    """Even where the owner may not end the session, the revoked login's next query fails."""
    _, login = issue(["admin"])
    with _bi(login) as conn:
        assert conn.execute(ERP_ROWS).fetchone()[0] > 0  # type: ignore[index]
        with _owner(demo) as owner:
            owner.execute("SELECT public.ipai_bi_disable_login(%s)", [login.role])
        assert _sqlstate(conn, ERP_ROWS) == INSUFFICIENT_PRIVILEGE


def test_rotation_replaces_the_password_and_ends_old_sessions(
    demo: Lakehouse, issue: Issue
) -> None:
    _, login = issue(["analyst"])
    old_session = _bi(login)
    try:
        with _owner(demo) as owner:
            rotated = rotate_credential(owner, login.name)
        assert rotated.password and rotated.password != login.password
        assert rotated.credential.rotated_at is not None
        with pytest.raises(psycopg.OperationalError):
            old_session.execute("SELECT 1")
    finally:
        old_session.close()
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _bi(login).close()
    new_url = address_of(_owner_url(demo)).url(login.role, rotated.password)
    with psycopg.connect(new_url) as conn:
        assert conn.execute("SELECT session_user").fetchone() == (login.role,)


def test_deleting_the_person_disables_their_bi_login(demo: Lakehouse, issue: Issue) -> None:
    person, login = issue(["finance"])
    users.delete_user(demo.db, person.email)
    with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
        _bi(login).close()
    with _owner(demo) as owner:
        assert login.name not in {c.name for c in list_credentials(owner)}


# --- the registry and its audit trail -----------------------------------------------------------


def test_passwords_are_stored_nowhere_and_every_change_is_audited(
    demo: Lakehouse, issue: Issue, pg_server: ServerStatus
) -> None:
    _, login = issue(["analyst"])
    with _owner(demo) as owner:
        rotated = rotate_credential(owner, login.name)
        revoke_credential(owner, login.name)
        credential = get_credential(owner, login.name)
        entries = owner.execute(
            "SELECT action, details::text FROM public.ipai_audit_log"
            " WHERE entity_type = 'bi_credential' AND entity_id = %s ORDER BY created_at",
            [credential.id],
        ).fetchall()
        columns = {
            r[0]
            for r in owner.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = 'public' AND table_name = 'ipai_bi_credential'"
            )
        }
        assert not any("password" in c for c in columns)
        coverage = rls_coverage(owner, every_schema=True)
    assert [a for a, _ in entries] == [
        "bi_credential_created",
        "bi_credential_rotated",
        "bi_credential_revoked",
    ]
    assert all(login.password not in d and str(rotated.password) not in d for _, d in entries)
    assert not [f for f in coverage.failures if "ipai_bi_credential" in f]
    dbname = psycopg.conninfo.conninfo_to_dict(_owner_url(demo))["dbname"]
    with psycopg.connect(pg_server.url(str(dbname))) as su:
        stored = su.execute(
            "SELECT rolpassword FROM pg_authid WHERE rolname = %s", [login.role]
        ).fetchone()
    assert stored is not None and str(stored[0]).startswith("SCRAM-SHA-256$")


def test_names_and_people_are_checked_before_anything_is_created(
    demo: Lakehouse, issue: Issue
) -> None:
    person, login = issue(["analyst"])
    with _owner(demo) as owner:
        with pytest.raises(ConfigError):
            add_credential(owner, login.name, person.email)
        with pytest.raises(ConfigError):
            add_credential(owner, "Bad-Name", person.email)
        with pytest.raises(NotFound):
            add_credential(owner, f"t{secrets.token_hex(5)}", "nobody@example.test")
        revoke_credential(owner, login.name)
        with pytest.raises(ConfigError):
            rotate_credential(owner, login.name)
        with pytest.raises(psycopg.errors.CheckViolation):
            owner.execute(
                "UPDATE public.ipai_bi_credential SET revoked_at = NULL WHERE name = %s",
                [login.name],
            )


# --- views created later ------------------------------------------------------------------------


@pytest.fixture
def later_objects(lakehouse: Lakehouse) -> Iterator[psycopg.Connection]:
    with _owner(lakehouse) as owner:
        yield owner
        owner.execute("DROP VIEW IF EXISTS ipai_gold_core.bi_later_view, ipai_gold_core.bi_later_2")
        owner.execute("DROP MATERIALIZED VIEW IF EXISTS ipai_gold_core.bi_later_private")


@pytest.fixture
def ddl_trigger(lakehouse: Lakehouse, pg_server: ServerStatus) -> Iterator[None]:
    """The event trigger on `ipai_bi_sync_after_ddl()`, which the privileged pieces install."""
    dbname = psycopg.conninfo.conninfo_to_dict(_owner_url(lakehouse))["dbname"]
    with psycopg.connect(pg_server.url(str(dbname)), autocommit=True) as su:
        installed = su.execute(
            "SELECT 1 FROM pg_event_trigger"
            " WHERE evtfoid = 'public.ipai_bi_sync_after_ddl()'::regprocedure"
        ).fetchone()
    assert installed is not None
    yield


@pytest.fixture
def without_ddl_trigger(lakehouse: Lakehouse, pg_server: ServerStatus) -> Iterator[None]:
    """The BI event trigger disabled for one test (as where the owner may not create it)."""
    dbname = psycopg.conninfo.conninfo_to_dict(_owner_url(lakehouse))["dbname"]
    with psycopg.connect(pg_server.url(str(dbname)), autocommit=True) as su:
        su.execute("ALTER EVENT TRIGGER ipai_bi_sync_after_ddl DISABLE")
        try:
            yield
        finally:
            su.execute("ALTER EVENT TRIGGER ipai_bi_sync_after_ddl ENABLE")


def test_views_created_later_are_granted_and_private_stores_are_not(
    lakehouse: Lakehouse, later_objects: psycopg.Connection, without_ddl_trigger: None
) -> None:
    person, login = _issuer(lakehouse)(["analyst"])
    owner = later_objects
    owner.execute(
        "CREATE MATERIALIZED VIEW ipai_gold_core.bi_later_private AS SELECT 1 AS one;"
        " REVOKE ALL ON ipai_gold_core.bi_later_private FROM PUBLIC, anon, authenticated;"
        " CREATE VIEW ipai_gold_core.bi_later_view WITH (security_barrier) AS"
        "  SELECT one FROM ipai_gold_core.bi_later_private"
        "   WHERE public.ipai_has_any_role(ARRAY['analyst']);"
        " GRANT SELECT ON ipai_gold_core.bi_later_view TO authenticated"
    )
    query = "SELECT one FROM ipai_gold_core.bi_later_view"
    with _bi(login) as conn:
        assert _sqlstate(conn, query) == INSUFFICIENT_PRIVILEGE  # no event trigger: not yet
        assert sync_grants(owner) > 0
        assert conn.execute(query).fetchall() == _as_person(lakehouse, person, query) == [(1,)]
        private = "SELECT * FROM ipai_gold_core.bi_later_private"
        assert _sqlstate(conn, private) == INSUFFICIENT_PRIVILEGE


def test_with_the_ddl_event_trigger_new_views_need_no_sync(
    lakehouse: Lakehouse, later_objects: psycopg.Connection, ddl_trigger: None
) -> None:
    _, login = _issuer(lakehouse)(["analyst"])
    later_objects.execute(
        "CREATE MATERIALIZED VIEW ipai_gold_core.bi_later_private AS SELECT 1 AS one;"
        " REVOKE ALL ON ipai_gold_core.bi_later_private FROM PUBLIC, anon, authenticated;"
        " CREATE VIEW ipai_gold_core.bi_later_2 WITH (security_barrier) AS"
        "  SELECT one + 1 AS two FROM ipai_gold_core.bi_later_private"
        "   WHERE public.ipai_has_any_role(ARRAY['analyst']);"
        " GRANT SELECT ON ipai_gold_core.bi_later_2 TO authenticated"
    )
    with _bi(login) as conn:
        assert conn.execute("SELECT two FROM ipai_gold_core.bi_later_2").fetchall() == [(2,)]
        private = "SELECT * FROM ipai_gold_core.bi_later_private"
        assert _sqlstate(conn, private) == INSUFFICIENT_PRIVILEGE


# --- the command line ---------------------------------------------------------------------------


def test_the_cli_prints_a_working_connection_string_once(
    demo: Lakehouse, tmp_path: Path, companies: list[int]
) -> None:
    person = new_user(demo, ["finance"])
    users.grant_companies(demo.db, person.email, [companies[1]])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IPAI_", "PG"))}
    env |= {
        "IPAI_DATABASE_URL": _owner_url(demo),
        "IPAI_DATA_DIR": str(tmp_path),
        "IPAI_JWT_SECRET": TEST_JWT_SECRET,
    }
    ipai = Path(sys.executable).parent / "ipai"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(ipai), "bi", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    name = f"cli{secrets.token_hex(4)}"
    added = run("credentials", "add", name, "--for", person.email)
    assert added.returncode == 0, added.stderr
    url = next(
        line.removeprefix("connection string: ")
        for line in added.stdout.splitlines()
        if line.startswith("connection string: ")
    )
    password = url.split(":")[2].split("@")[0]
    assert len(password) >= 32
    client = _psql_clients()[0]
    done = _psql(client, url, JOURNAL_COMPANIES)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(companies[1])]
    listed = run("credentials", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert password not in listed.stdout
    (row,) = [c for c in json.loads(listed.stdout) if c["name"] == name]
    assert row["active"] and row["email"] == person.email and row["login_role"] == f"ipai_bi_{name}"
    rotated = run("credentials", "rotate", name, "--json")
    assert rotated.returncode == 0, rotated.stderr
    new_url = json.loads(rotated.stdout)["url"]
    assert _psql(client, url, "SELECT 1").returncode != 0
    assert _psql(client, new_url, "SELECT 1").returncode == 0
    revoked = run("credentials", "revoke", name, "--yes")
    assert revoked.returncode == 0, revoked.stderr
    refused = _psql(client, new_url, "SELECT 1")
    assert refused.returncode != 0 and "not permitted to log in" in refused.stderr
    again = run("credentials", "rotate", name)
    assert again.returncode == 1 and "error: " in again.stderr
