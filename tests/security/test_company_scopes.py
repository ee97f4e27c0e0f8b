"""Company scopes as data (issue 16, point 4): `ipai users grant-company` / `revoke-company`
store a user's ERP companies in `ipai_user_company` (audited), sign-in puts them in the token's
`app_metadata.company_ids`, and every verification reads them again. A single-company finance
user then sees only that company — in every finance gold view (listed from the catalog), in
Genie and through MCP, also as an agent acting for them — whatever company_ids a token claims.

On the demo lakehouse: two ERP companies, Manila (1) and Singapore (2)."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
import psycopg
import pytest
from conftest import TEST_JWT_SECRET
from mcp import Client, StdioServerParameters

from ipai_core.agents import add_agent, build_spec, get_agent, issue_agent_token, remove_agent
from ipai_core.auth import users
from ipai_core.auth.claims import company_scope
from ipai_core.db.principal import Principal
from ipai_core.errors import ConfigError, InvalidToken, NotFound
from ipai_core.genie import Genie, OfflinePlanner
from ipai_core.lakehouse import Lakehouse
from tests.support.users import SignedInUser, new_user

pytestmark = pytest.mark.slow  # the demo lakehouse, subprocesses

IPAI = Path(sys.executable).parent / "ipai"
DEMO_TODAY = date(2026, 11, 1)
SINGAPORE = 2
BOTH = {1, 2}
FINANCE_GOLD_VIEWS = """
SELECT format('%I.%I', n.nspname, c.relname)
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'company_id' AND NOT a.attisdropped
 WHERE n.nspname ~ '^ipai_gold_' AND c.relkind = 'v'
   AND has_table_privilege('authenticated', c.oid, 'SELECT')
 ORDER BY 1
"""


@pytest.fixture(scope="module")
def owner(demo_lakehouse: Lakehouse) -> Iterator[psycopg.Connection]:
    assert demo_lakehouse.settings.database_url is not None
    url = demo_lakehouse.settings.database_url.get_secret_value()
    with psycopg.connect(url, autocommit=True) as conn:
        yield conn


def finance_user(lh: Lakehouse, companies: list[int] | None = None) -> SignedInUser:
    """A finance user, limited to `companies` before signing in (None: no scope)."""
    user = new_user(lh, ["finance"])
    if companies is None:
        return user
    users.grant_companies(lh.db, user.email, companies)
    token = users.sign_in(lh.db, lh.tokens, user.email, user.password)
    return SignedInUser(user.id, user.email, user.password, token)


def companies_in(lh: Lakehouse, principal: Principal, view: str) -> set[int]:
    frame = lh.query(principal, f"SELECT DISTINCT company_id FROM {view}")
    return {int(c) for c in frame["company_id"].to_list() if c is not None}


# --- stored, audited, carried into the token ---------------------------------------------------


def test_a_grant_is_stored_audited_and_carried_into_the_token(
    demo_lakehouse: Lakehouse, owner: psycopg.Connection
) -> None:
    user = finance_user(demo_lakehouse, [SINGAPORE])
    claims = demo_lakehouse.tokens.verify(user.token)
    assert claims["app_metadata"]["company_ids"] == [SINGAPORE]
    assert owner.execute(
        "SELECT company_id, granted_by FROM public.ipai_user_company WHERE user_id = %s",
        [user.id],
    ).fetchall() == [(SINGAPORE, None)]  # granted from the command line: no admin id
    assert owner.execute(
        "SELECT raw_app_meta_data -> 'company_ids' FROM auth.users WHERE id = %s", [user.id]
    ).fetchone() == ([SINGAPORE],)  # where Supabase Auth reads app_metadata from
    audit = owner.execute(
        "SELECT details FROM public.ipai_audit_log WHERE entity_id = %s"
        " AND action = 'companies_granted'",
        [user.id],
    ).fetchall()
    assert [(d["company_ids"], d["now"], d["email"]) for (d,) in audit] == [
        ([SINGAPORE], [SINGAPORE], user.email)
    ]
    assert users.get_user(demo_lakehouse.db, user.email).company_ids == (SINGAPORE,)


def test_a_single_company_user_sees_only_that_company_in_every_finance_gold_view(
    demo_lakehouse: Lakehouse, owner: psycopg.Connection
) -> None:
    views = [r[0] for r in owner.execute(FINANCE_GOLD_VIEWS)]
    core = {f"ipai_gold_erp.{v}" for v in ("profit_and_loss", "balance_sheet_monthly", "aging")}
    assert core <= set(views), views  # the catalog lists them; so would it a new one
    everyone = demo_lakehouse.authenticate(finance_user(demo_lakehouse).token)
    scoped = demo_lakehouse.authenticate(finance_user(demo_lakehouse, [SINGAPORE]).token)
    both_seen = 0
    for view in views:
        unscoped_sees = companies_in(demo_lakehouse, everyone, view)
        assert companies_in(demo_lakehouse, scoped, view) == unscoped_sees & {SINGAPORE}, view
        both_seen += unscoped_sees == BOTH
    assert both_seen >= 5  # the comparison is not vacuous: most views hold both companies


def test_genie_answers_a_single_company_user_with_that_company_only(
    demo_lakehouse: Lakehouse,
) -> None:
    genie = Genie(demo_lakehouse, OfflinePlanner(), clock=lambda: DEMO_TODAY)
    scoped = demo_lakehouse.authenticate(finance_user(demo_lakehouse, [SINGAPORE]).token)
    everyone = demo_lakehouse.authenticate(finance_user(demo_lakehouse).token)
    question = "Revenue by company last quarter"
    all_names = dict(_answered(genie.ask(everyone, question)))
    assert len(all_names) == 2
    only = dict(_answered(genie.ask(scoped, question)))
    assert list(only) == ["IPAI Demo Singapore"]
    assert only["IPAI Demo Singapore"] == all_names["IPAI Demo Singapore"]
    free_sql = genie.run_sql(
        scoped, "SELECT company_id, count(*) AS n FROM ipai_gold_erp.journal_items GROUP BY 1"
    )
    assert free_sql.frame is not None and free_sql.frame["company_id"].to_list() == [SINGAPORE]


# --- hostile: a token claiming other companies -------------------------------------------------


def test_a_forged_company_ids_claim_gives_no_more_than_the_granted_scope(
    demo_lakehouse: Lakehouse,
) -> None:
    lh = demo_lakehouse
    user = finance_user(lh, [SINGAPORE])
    account = users.account(lh.db, user.email)
    wider = users.issue_token(lh.tokens, dataclasses.replace(account, company_ids=(1, 2)))
    unlimited = lh.tokens.issue(user_id=user.id, email=user.email, roles=["finance", "admin"])
    for token in (wider, unlimited):  # signed with the key, claiming more: the database decides
        principal = lh.authenticate(token)
        assert company_scope(principal.claims) == (SINGAPORE,)
        assert principal.roles == ("finance",)
        assert companies_in(lh, principal, "ipai_gold_erp.profit_and_loss") == {SINGAPORE}
    header, payload, signature = user.token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["app_metadata"]["company_ids"] = [1, 2]
    edited = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidToken) as caught:  # edited without the key: refused outright
        lh.authenticate(f"{header}.{edited}.{signature}")
    assert caught.value.reason == "bad_signature"


def test_scope_changes_apply_at_the_next_request_and_never_widen_by_accident(
    demo_lakehouse: Lakehouse, owner: psycopg.Connection
) -> None:
    lh = demo_lakehouse
    user = finance_user(lh)  # signed in without a scope
    assert companies_in(lh, lh.authenticate(user.token), "ipai_gold_erp.profit_and_loss") == BOTH
    users.grant_companies(lh.db, user.email, [SINGAPORE])
    token_before = lh.authenticate(user.token)  # the token from before the grant
    assert companies_in(lh, token_before, "ipai_gold_erp.profit_and_loss") == {SINGAPORE}

    audited = _audit_count(owner, user.id)
    with pytest.raises(ConfigError, match="every company"):
        users.revoke_companies(lh.db, user.email, [SINGAPORE])  # the last one: would widen
    with pytest.raises(NotFound, match="no ERP company `999`"):
        users.grant_companies(lh.db, user.email, [999])
    assert users.get_user(lh.db, user.email).company_ids == (SINGAPORE,)  # nothing changed
    assert _audit_count(owner, user.id) == audited  # nothing written

    users.grant_companies(lh.db, user.email, [1])
    users.revoke_companies(lh.db, user.email, [SINGAPORE])
    assert companies_in(lh, lh.authenticate(user.token), "ipai_gold_erp.aging") <= {1}
    users.revoke_companies(lh.db, user.email, None)  # lifted on purpose
    assert users.get_user(lh.db, user.email).company_ids is None
    assert company_scope(lh.authenticate(user.token).claims) is None
    assert owner.execute(
        "SELECT raw_app_meta_data ? 'company_ids' FROM auth.users WHERE id = %s", [user.id]
    ).fetchone() == (False,)


# --- the command line ----------------------------------------------------------------------------


def test_the_cli_grants_lists_and_revokes_companies(
    demo_lakehouse: Lakehouse, tmp_path: Path
) -> None:
    user = finance_user(demo_lakehouse)
    ipai = _cli(demo_lakehouse, tmp_path)
    granted = ipai("users", "grant-company", user.email, "1", "2")
    assert granted.returncode == 0, granted.stderr
    assert granted.stdout.strip() == f"{user.email} now sees companies: 1,2"
    listed = ipai("users", "list", "--json")
    row = next(u for u in json.loads(listed.stdout) if u["email"] == user.email)
    assert row["company_ids"] == [1, 2] and row["roles"] == ["finance"]
    assert "1,2" in next(
        line for line in ipai("users", "list").stdout.splitlines() if user.email in line
    )
    assert ipai("users", "revoke-company", user.email, "1").stdout.strip().endswith(": 2")
    for refusal in (
        ipai("users", "revoke-company", user.email, "2"),  # the last company
        ipai("users", "grant-company", user.email, "999"),  # no such company
        ipai("users", "grant-company", "nobody@example.test", "1"),  # no such user
        ipai("users", "revoke-company", user.email),  # neither ids nor --all
    ):
        assert refusal.returncode == 1 and refusal.stderr.startswith("error: "), refusal.stderr
        assert len(refusal.stderr.strip().splitlines()) == 1 and "Traceback" not in refusal.stderr
    companies = json.loads(ipai("users", "companies", "--json").stdout)
    assert {c["id"] for c in companies} == BOTH
    lifted = ipai("users", "revoke-company", user.email, "--all")
    assert lifted.stdout.strip() == f"{user.email} now sees companies: all"


# --- MCP: an agent acting for a single-company person -------------------------------------------


@pytest.fixture(scope="module")
def finance_agent(demo_lakehouse: Lakehouse) -> Iterator[str]:
    code = f"scope{secrets.token_hex(3)}"
    add_agent(
        demo_lakehouse,
        build_spec(
            code_name=code,
            display_name="Finance agent",
            allowed_tools=["run_sql", "query_semantic_model"],
            allowed_schemas=["ipai_gold_erp"],
            app_roles=["finance"],
        ),
    )
    yield code
    remove_agent(demo_lakehouse, code)


def test_through_mcp_an_agent_for_a_single_company_person_sees_only_that_company(
    demo_lakehouse: Lakehouse, finance_agent: str, tmp_path: Path
) -> None:
    lh = demo_lakehouse
    person = finance_user(lh, [SINGAPORE])
    for_person = issue_agent_token(lh, finance_agent, on_behalf_of=person.email)
    assert lh.tokens.verify(for_person)["app_metadata"]["company_ids"] == [SINGAPORE]
    forged = lh.tokens.issue(  # signed, for the person, but claiming both companies
        user_id=person.id,
        email=person.email,
        roles=["finance"],
        company_ids=[1, 2],
        extra_claims={
            "ipai_agent": finance_agent,
            "ipai_agent_id": get_agent(lh, finance_agent).id,
            "ipai_on_behalf_of": person.id,
        },
    )
    alone = issue_agent_token(lh, finance_agent)
    seen = {
        name: anyio.run(_companies_over_mcp, lh, token, tmp_path)
        for name, token in (("person", for_person), ("forged", forged), ("alone", alone))
    }
    assert seen["alone"] == (BOTH, {"IPAI Demo Manila", "IPAI Demo Singapore"})
    assert seen["person"] == ({SINGAPORE}, {"IPAI Demo Singapore"})
    assert seen["forged"] == seen["person"]


async def _companies_over_mcp(lh: Lakehouse, token: str, home: Path) -> tuple[set[int], set[str]]:
    env = _env(lh) | {"IPAI_AGENT_TOKEN": token}
    server = StdioServerParameters(command=str(IPAI), args=["mcp", "serve"], env=env, cwd=home)
    async with Client(server) as client:
        sql = await client.call_tool(
            "run_sql", {"sql": "SELECT DISTINCT company_id FROM ipai_gold_erp.profit_and_loss"}
        )
        model = await client.call_tool(
            "query_semantic_model",
            {"dataset": "profit_and_loss", "measures": ["revenue"], "dimensions": ["company"]},
        )
    ids = {int(r["company_id"]) for r in _payload(sql)["rows"]}
    names = {str(r["company"]) for r in _payload(model)["rows"]}
    return ids, names


# --- helpers ----------------------------------------------------------------------------------


def _answered(answer: Any) -> list[tuple[Any, ...]]:
    assert answer.status == "answer" and answer.frame is not None, answer.explanation
    return list(answer.frame.rows())


def _audit_count(owner: psycopg.Connection, user_id: str) -> int:
    row = owner.execute(
        "SELECT count(*) FROM public.ipai_audit_log WHERE entity_id = %s", [user_id]
    ).fetchone()
    return int(row[0]) if row else 0


def _env(lh: Lakehouse) -> dict[str, str]:
    assert lh.settings.database_url is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPAI_")}
    return env | {
        "IPAI_DATABASE_URL": lh.settings.database_url.get_secret_value(),
        "IPAI_DATA_DIR": str(lh.settings.data_dir),
        "IPAI_JWT_SECRET": TEST_JWT_SECRET,
    }


def _cli(lh: Lakehouse, cwd: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(IPAI), *args],
            env=_env(lh),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    return run


def _payload(result: types.CallToolResult) -> dict[str, Any]:
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    payload: dict[str, Any] = json.loads(block.text)
    assert not result.is_error, payload
    return payload
