"""Issue 16, the SQL guards: what an attacker writes into a semantic model or a free SELECT is
refused — by Python when a model is built, saved or compiled, and by the database's trigger when
the row is written directly — with nothing written, and every legitimate edit of a model is
audited. One function allowlist serves both, and the database's copy of it equals Python's."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import MIGRATIONS

from ipai_core.db.principal import Principal
from ipai_core.errors import AccessDenied, MigrationError, UnsafeExpression, UnsafeSql
from ipai_core.genie import Genie, OfflinePlanner, check_select
from ipai_core.governance.sql_functions import (
    ALLOWED_FUNCTIONS,
    CALL_SYNTAX,
    DENIED_FUNCTIONS,
    expression_problem,
)
from ipai_core.lakehouse import Lakehouse
from ipai_core.migrate.runner import migrate
from ipai_core.semantic import (
    Dimension,
    Measure,
    SemanticModel,
    SemanticQuery,
    compile_query,
    delete_model,
    load_models,
    save_model,
)
from tests.support.users import new_user

GOLD = ("ipai_gold_*", "ipai_platinum_*")
SPECIAL_FORMS = {"cast", "coalesce", "nullif", "greatest", "least", "trim"}  # syntax, not pg_proc
HOSTILE_EXPRESSIONS = [
    "set_config('role', 'postgres', true)",
    "CASE WHEN set_config('role', 'postgres', true) = 'x' THEN amount END",
    "coalesce(pg_read_file('/etc/passwd'), account_type)",
    "current_setting('is_superuser')",
    "dblink('dbname=postgres', 'SELECT rolpassword FROM pg_authid')",
    "lo_import('/etc/passwd')::text",
    "pg_catalog.set_config('role', 'postgres', true)",
    "pg_catalog.upper(account_type)",
    "\"set_config\"('role', 'postgres', true)",
    '"lower"(account_type)',
    "U&\"\\0073et_config\"('role', 'postgres', true)",
    "SET_CONFIG\n('role', 'postgres', true)",
    "(SELECT rolpassword FROM pg_authid LIMIT 1)",
    "(TABLE pg_authid)",
    "amount = ANY(VALUES (1))",
    "amount; SELECT 1",
    "amount -- a comment",
    "amount /* a comment */",
    "$$x$$ || account_type",
    "upper($1)",
    "amount FROM ipai_bronze_erp.account_move",
    "p.amount",
    "(account_type).upper",
    # Out of the parenthesis the compiler wraps an expression in, and into its FROM clause:
    "'in(' ) FROM ipai_bronze_erp.account_move WHERE true AND (amount = ')'",
    "amount) FROM ipai_bronze_erp.account_move WHERE (true",
    "E'\\'' || account_type || '",
    "account_type || '",
]
BENIGN_AGGREGATES = [
    "sum(successful)::numeric / nullif(sum(deployments), 0)",
    "coalesce(sum(a)::numeric / nullif(sum(b), 0), 0)",
    "count(*) FILTER (WHERE company_name LIKE 'IPAI%')",
    "percentile_cont(0.5) WITHIN GROUP (ORDER BY lead_time_hours)",
    "sum(CASE WHEN label = 'it''s (odd)' THEN 1 ELSE 0 END)",
]
BENIGN_SCALARS = [
    "amount",
    "CASE WHEN section = 'income' THEN amount ELSE -amount END",
    "CAST(amount AS numeric(12, 2))",
    "amount::numeric(12, 2)",
    "date_trunc('month', posted_on)",
    "extract(year FROM (posted_on))",
    "lower (account_type)",
    "account_type IN ('income', 'expense') AND NOT (amount < 0)",
    "greatest(amount, 0) - least(amount, 0)",
    "\"Company Name\" || ' (' || company_id || ')'",
]
BENIGN_EXPRESSIONS = BENIGN_AGGREGATES + BENIGN_SCALARS


def _measure(expression: str) -> Measure:
    """A measure that skipped validation, as a smuggled or hand-built definition would."""
    return Measure.model_construct(
        name="probe", label="Probe", sql=expression, aggregation="none", format="number"
    )


def _model(dataset: str, *, measure_sql: str = "amount", label: str = "Revenue") -> SemanticModel:
    return SemanticModel(
        dataset=dataset,
        source_view="ipai_gold_erp.profit_and_loss",
        grain="company x month",
        measures=(Measure(name="revenue", label=label, sql=measure_sql),),
        dimensions=(Dimension(name="company", label="Company", column="company_name"),),
    )


def _row_params(dataset: str, *, dimension_sql: str) -> list[Any]:
    dimensions = [{"name": "probe", "label": "Probe", "sql": dimension_sql}]
    measures = [{"name": "revenue", "label": "Revenue", "sql": "amount"}]
    return [
        dataset,
        "ipai_gold_erp.profit_and_loss",
        "x",
        json.dumps(measures),
        json.dumps(dimensions),
    ]


_INSERT = (
    "INSERT INTO public.ipai_semantic_model (dataset, source_view, grain, measures, dimensions)"
    " VALUES (%s, %s, %s, %s::jsonb, %s::jsonb) RETURNING id"
)


def _dataset() -> str:
    return f"probe_{uuid.uuid4().hex[:10]}"


def _stored(owner_conn: psycopg.Connection, dataset: str) -> int:
    row = owner_conn.execute(
        "SELECT count(*) FROM public.ipai_semantic_model WHERE dataset = %s", [dataset]
    ).fetchone()
    return int(row[0]) if row else 0


def _audit(owner_conn: psycopg.Connection, dataset: str) -> list[tuple[Any, ...]]:
    return owner_conn.execute(
        "SELECT action, user_id::text, actor_role, details FROM public.ipai_audit_log"
        " WHERE event_type = 'schema_change' AND entity_type = 'semantic_model'"
        " AND details ->> 'dataset' = %s ORDER BY created_at, action",
        [dataset],
    ).fetchall()


@pytest.fixture
def engineer(lakehouse: Lakehouse) -> Iterator[tuple[str, Principal]]:
    user = new_user(lakehouse, ["data_engineer"])
    yield user.id, lakehouse.authenticate(user.token)


# --- one allowlist


def test_the_allowlist_never_holds_a_denied_function_or_a_keyword() -> None:
    assert not ALLOWED_FUNCTIONS & DENIED_FUNCTIONS
    assert not ALLOWED_FUNCTIONS & CALL_SYNTAX
    assert {"set_config", "current_setting", "pg_read_file", "dblink", "lo_import"} <= (
        DENIED_FUNCTIONS
    )


def test_the_database_reads_the_same_allowlist_as_python(owner_conn: psycopg.Connection) -> None:
    rows = owner_conn.execute("SELECT name, kind FROM public.ipai_sql_function_allowlist")
    stored = set(rows.fetchall())
    expected = {(n, "function") for n in ALLOWED_FUNCTIONS} | {(n, "syntax") for n in CALL_SYNTAX}
    assert stored == expected


def test_every_allowlisted_function_is_a_built_in_without_side_effects(
    owner_conn: psycopg.Connection,
) -> None:
    rows = owner_conn.execute(
        "SELECT proname, bool_or(provolatile = 'v') FROM pg_proc"
        " WHERE pronamespace = 'pg_catalog'::regnamespace AND proname = ANY(%s) GROUP BY 1",
        [sorted(ALLOWED_FUNCTIONS)],
    ).fetchall()
    assert {name for name, _ in rows} | SPECIAL_FORMS == ALLOWED_FUNCTIONS
    assert [name for name, volatile in rows if volatile] == []


@pytest.mark.parametrize("expression", HOSTILE_EXPRESSIONS + BENIGN_EXPRESSIONS)
def test_python_and_the_database_judge_an_expression_alike(
    owner_conn: psycopg.Connection, expression: str
) -> None:
    row = owner_conn.execute("SELECT public.ipai_sql_expression_problem(%s)", [expression])
    in_database = row.fetchone()
    assert in_database is not None
    lexically_refused = expression_problem(expression) is not None
    assert (in_database[0] is not None) == lexically_refused


# --- semantic models in Python: built, saved, compiled


@pytest.mark.parametrize("expression", HOSTILE_EXPRESSIONS)
def test_a_hostile_expression_is_refused_when_the_model_is_built(expression: str) -> None:
    with pytest.raises(UnsafeExpression):
        Dimension(name="probe", label="Probe", sql=expression)
    with pytest.raises(UnsafeExpression):
        Measure(name="probe", label="Probe", sql=expression, aggregation="none")


@pytest.mark.parametrize("expression", BENIGN_AGGREGATES)
def test_ordinary_measures_pass(expression: str) -> None:
    Measure(name="ok", label="Ok", sql=expression, aggregation="none")


@pytest.mark.parametrize("expression", BENIGN_SCALARS)
def test_ordinary_dimensions_pass(expression: str) -> None:
    Dimension(name="ok", label="Ok", sql=expression)


def test_a_model_outside_gold_and_platinum_is_refused() -> None:
    with pytest.raises(ValueError):
        SemanticModel(
            dataset="creds",
            source_view="public.ipai_local_credential",
            grain="x",
            measures=(Measure(name="n", label="N", sql="*", aggregation="count"),),
        )


@pytest.mark.parametrize(
    "expression",
    ["set_config('role', 'postgres', true)", "pg_read_file('/etc/passwd')", '"lower"(x)'],
)
def test_an_unchecked_model_is_refused_when_compiled(expression: str) -> None:
    smuggled = SemanticModel.model_construct(
        dataset="smuggled",
        source_view="ipai_gold_erp.profit_and_loss",
        grain="x",
        measures=(_measure(expression),),
        dimensions=(
            Dimension.model_construct(
                name="probe", label="Probe", column=None, sql=expression, type="string"
            ),
        ),
        default_filters=(),
    )
    with pytest.raises(UnsafeExpression):
        compile_query(smuggled, SemanticQuery(dataset="smuggled", measures=["probe"]))
    with pytest.raises(UnsafeExpression):
        compile_query(
            smuggled, SemanticQuery(dataset="smuggled", dimensions=["probe"], measures=[])
        )


@pytest.mark.parametrize(
    "expression",
    [
        "set_config('role', 'postgres', true)",
        "pg_read_file('/etc/passwd')",
        "dblink('dbname=postgres', 'SELECT 1')",
        "lo_import('/etc/passwd')",
        "pg_catalog.upper(account_type)",
        '"upper"(account_type)',
    ],
)
def test_a_data_engineer_cannot_save_a_hostile_model_through_the_python_api(
    lakehouse: Lakehouse,
    owner_conn: psycopg.Connection,
    engineer: tuple[str, Principal],
    expression: str,
) -> None:
    dataset = _dataset()
    hand_built = SemanticModel.model_construct(
        **{**_model(dataset).__dict__, "measures": (_measure(expression),)}
    )
    with pytest.raises(UnsafeExpression), lakehouse.session(engineer[1]) as s:
        save_model(s, hand_built)
    assert _stored(owner_conn, dataset) == 0
    assert _audit(owner_conn, dataset) == []


# --- semantic models in the database: the trigger


@pytest.mark.parametrize(
    "expression",
    [
        "set_config('role', 'postgres', true)",
        "pg_read_file('/etc/passwd')",
        "current_setting('is_superuser')",
        "dblink('dbname=postgres', 'SELECT 1')",
        "lo_import('/etc/passwd')",
        "pg_catalog.upper(account_type)",
        "\"set_config\"('role', 'postgres', true)",
        "(SELECT rolpassword FROM pg_authid LIMIT 1)",
        "account_type; SELECT 1",
    ],
)
def test_direct_sql_as_a_data_engineer_is_refused_by_the_trigger(
    lakehouse: Lakehouse,
    owner_conn: psycopg.Connection,
    engineer: tuple[str, Principal],
    expression: str,
) -> None:
    dataset = _dataset()
    with pytest.raises(AccessDenied) as refused:
        lakehouse.query(engineer[1], _INSERT, _row_params(dataset, dimension_sql=expression))
    cause = refused.value.__cause__
    assert isinstance(cause, psycopg.errors.InsufficientPrivilege)
    assert cause.diag.constraint_name == "semantic_model_expressions"
    assert _stored(owner_conn, dataset) == 0
    assert _audit(owner_conn, dataset) == []


def test_the_hostile_text_inline_is_refused_too(
    lakehouse: Lakehouse, owner_conn: psycopg.Connection, engineer: tuple[str, Principal]
) -> None:
    dataset = _dataset()
    dimensions = json.dumps([{"name": "x", "label": "X", "sql": "pg_read_file('/etc/passwd')"}])
    statement = (
        "INSERT INTO public.ipai_semantic_model (dataset, source_view, grain, measures, dimensions)"
        f" VALUES ('{dataset}', 'ipai_gold_erp.profit_and_loss', 'x',"
        f' \'[{{"name": "n", "label": "N", "sql": "amount"}}]\', $j${dimensions}$j$)'
    )
    with pytest.raises(AccessDenied):
        lakehouse.query(engineer[1], statement)
    assert _stored(owner_conn, dataset) == 0


def test_editing_a_seeded_model_into_a_hostile_one_is_refused(
    lakehouse: Lakehouse, owner_conn: psycopg.Connection, engineer: tuple[str, Principal]
) -> None:
    before = owner_conn.execute(
        "SELECT dimensions FROM public.ipai_semantic_model WHERE dataset = 'profit_and_loss'"
    ).fetchone()
    hostile = json.dumps([{"name": "company", "label": "C", "sql": "pg_read_file('/etc/passwd')"}])
    with pytest.raises(AccessDenied):
        lakehouse.query(
            engineer[1],
            "UPDATE public.ipai_semantic_model SET dimensions = %s::jsonb"
            " WHERE dataset = 'profit_and_loss' RETURNING id",
            [hostile],
        )
    after = owner_conn.execute(
        "SELECT dimensions FROM public.ipai_semantic_model WHERE dataset = 'profit_and_loss'"
    ).fetchone()
    assert after == before


@pytest.mark.parametrize(
    ("source_view", "expression"),
    [
        ("ipai_gold_erp.profit_and_loss", "set_config('role', 'postgres', true)"),
        ("pg_catalog.pg_authid", "rolpassword"),
        ("ipai_bronze_erp.account_move", "amount"),
    ],
)
def test_not_even_the_owner_or_the_service_role_can_store_a_hostile_model(
    lakehouse: Lakehouse, owner_conn: psycopg.Connection, source_view: str, expression: str
) -> None:
    dataset = _dataset()
    params = _row_params(dataset, dimension_sql=expression)
    params[1] = source_view
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        owner_conn.execute(_INSERT, params)
    with pytest.raises(AccessDenied):
        lakehouse.query(Principal.service("test: smuggle a model"), _INSERT, params)
    assert _stored(owner_conn, dataset) == 0


def test_the_seeded_models_pass_the_trigger(owner_conn: psycopg.Connection) -> None:
    rows = owner_conn.execute(
        "SELECT m.dataset, public.ipai_semantic_model_problem(m)"
        " FROM public.ipai_semantic_model m ORDER BY 1"
    ).fetchall()
    assert len(rows) >= 14
    assert [r for r in rows if r[1] is not None] == []


@pytest.mark.slow
def test_the_migration_fails_loudly_on_a_stored_model_it_would_refuse(
    new_database: Callable[[], str], tmp_path: Path
) -> None:
    earlier, later = tmp_path / "earlier", tmp_path / "all"
    earlier.mkdir()
    shutil.copytree(MIGRATIONS, later)
    for path in MIGRATIONS.glob("*.sql"):
        if path.name < "20261206001100":
            shutil.copy(path, earlier / path.name)
    with psycopg.connect(new_database(), autocommit=True) as conn:
        migrate(conn, earlier)
        conn.execute(_INSERT, _row_params("smuggled", dimension_sql="pg_read_file('/etc/passwd')"))
        with pytest.raises(MigrationError):
            migrate(conn, later)
        guard = conn.execute(
            "SELECT count(*) FROM pg_trigger WHERE tgname = 'semantic_model_guard'"
        ).fetchone()
    assert guard == (0,)


def test_a_row_smuggled_past_the_trigger_is_refused_when_read_and_compiled(
    lakehouse: Lakehouse, owner_conn: psycopg.Connection
) -> None:
    """The owner turns the trigger off and the service role writes the row, as a restored dump
    or a hand-made repair might: the finance user's question still runs nothing of it."""
    dataset = _dataset()
    params = _row_params(dataset, dimension_sql="set_config('role', 'postgres', true)")
    owner_conn.execute(
        "ALTER TABLE public.ipai_semantic_model DISABLE TRIGGER semantic_model_guard"
    )
    try:
        lakehouse.query(Principal.service("test: smuggle a model"), _INSERT, params)
    finally:
        owner_conn.execute(
            "ALTER TABLE public.ipai_semantic_model ENABLE TRIGGER semantic_model_guard"
        )
    try:
        finance = lakehouse.authenticate(new_user(lakehouse, ["finance"]).token)
        with pytest.raises(UnsafeExpression), lakehouse.session(finance) as s:
            load_models(s)
        answer = Genie(lakehouse, OfflinePlanner()).ask(finance, "revenue by company")
        assert answer.status != "answer" and answer.frame is None
    finally:
        owner_conn.execute("DELETE FROM public.ipai_semantic_model WHERE dataset = %s", [dataset])


# --- the audit trail of models


def test_every_edit_of_a_model_is_audited_with_who_and_what(
    lakehouse: Lakehouse, owner_conn: psycopg.Connection, engineer: tuple[str, Principal]
) -> None:
    user_id, principal = engineer
    dataset = _dataset()
    with lakehouse.session(principal) as s:
        model_id = save_model(s, _model(dataset))
    with lakehouse.session(principal) as s:
        save_model(s, _model(dataset, label="Turnover"))
    with lakehouse.session(principal) as s:
        save_model(s, _model(dataset, label="Turnover"))  # no change: no entry
    with lakehouse.session(principal) as s:
        assert delete_model(s, dataset)

    entries = _audit(owner_conn, dataset)
    assert [e[0] for e in entries] == ["created", "updated", "deleted"]
    assert {e[1] for e in entries} == {user_id}
    assert {e[2] for e in entries} == {"authenticated"}
    created, updated, deleted = (e[3] for e in entries)
    assert created["new"]["id"] == model_id and created["new"]["measures"][0]["label"] == "Revenue"
    assert set(updated["changed"]) == {"measures"}
    assert updated["changed"]["measures"]["old"][0]["label"] == "Revenue"
    assert updated["changed"]["measures"]["new"][0]["label"] == "Turnover"
    assert deleted["old"]["dataset"] == dataset


def test_a_user_who_is_not_a_data_engineer_cannot_save_a_model(
    lakehouse: Lakehouse, owner_conn: psycopg.Connection
) -> None:
    finance = lakehouse.authenticate(new_user(lakehouse, ["finance"]).token)
    dataset = _dataset()
    with pytest.raises(AccessDenied), lakehouse.session(finance) as s:
        save_model(s, _model(dataset))
    assert _stored(owner_conn, dataset) == 0 and _audit(owner_conn, dataset) == []


# --- free SQL: CTEs cannot shadow tables


@pytest.mark.parametrize(
    "statement",
    [
        "WITH x AS (SELECT * FROM pg_authid) SELECT * FROM x",
        "WITH pg_authid AS (SELECT * FROM pg_authid) SELECT * FROM pg_authid",
        "WITH pg_authid AS (SELECT 1) SELECT rolpassword FROM pg_catalog.pg_authid",
        "WITH ipai_gold_erp AS (SELECT 1) SELECT * FROM pg_authid",
        "WITH aging AS (SELECT * FROM aging) SELECT * FROM aging",
        'WITH "PG_AUTHID" AS (SELECT 1) SELECT * FROM pg_authid',
        "WITH a AS (SELECT * FROM pg_authid), pg_authid AS (SELECT 1) SELECT * FROM a",
        "WITH a AS (WITH pg_authid AS (SELECT 1) SELECT * FROM pg_authid) SELECT * FROM pg_authid",
        "SELECT * FROM (WITH pg_authid AS (SELECT 1) SELECT * FROM pg_authid) s, pg_authid",
        "(WITH pg_authid AS (SELECT 1) SELECT 1) UNION SELECT rolpassword FROM pg_authid",
        "WITH RECURSIVE t AS (SELECT 1 AS n UNION ALL SELECT n FROM pg_authid) SELECT * FROM t",
        "WITH a AS (SELECT 1) SELECT * FROM ipai_gold_erp.aging,"
        " LATERAL (SELECT * FROM pg_authid) p",
        "SELECT * FROM ipai_gold_erp.aging WHERE EXISTS (SELECT 1 FROM pg_authid)",
        "TABLE pg_authid",
    ],
)
def test_a_cte_cannot_shadow_a_table_outside_the_allowed_schemas(statement: str) -> None:
    with pytest.raises(UnsafeSql):
        check_select(statement, allowed_schemas=GOLD, row_limit=100)


@pytest.mark.parametrize(
    "statement",
    [
        "WITH a AS (SELECT * FROM ipai_gold_erp.aging) SELECT * FROM a",
        "WITH a AS (SELECT 1 AS x), b AS (SELECT * FROM a) SELECT * FROM b",
        "WITH a AS (SELECT 1 AS x) SELECT * FROM (WITH a AS (SELECT * FROM a) SELECT * FROM a) s",
        "WITH ipai_gold_erp AS (SELECT 1 AS x) SELECT * FROM ipai_gold_erp",
        "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3)"
        " SELECT * FROM t",
        "WITH a AS (SELECT 1 AS x) SELECT * FROM a UNION SELECT * FROM a",
    ],
)
def test_a_cte_of_the_query_may_be_used_unqualified(statement: str) -> None:
    check_select(statement, allowed_schemas=GOLD, row_limit=100)


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT set_config('role', 'postgres', true)",
        "SELECT pg_catalog.set_config('role', 'postgres', true)",
        "SELECT \"set_config\"('role', 'postgres', true)",
        "SELECT U&\"\\0073et_config\"('role', 'postgres', true)",
        "SELECT pg_read_file('/etc/passwd')",
        "SELECT current_setting('is_superuser')",
        "SELECT dblink('dbname=postgres', 'SELECT 1')",
        "SELECT lo_import('/etc/passwd')",
        "SELECT pg_catalog.upper(kind) FROM ipai_gold_erp.aging",
        'SELECT "lower"(kind) FROM ipai_gold_erp.aging',
        "SELECT version()",
        "SELECT * FROM pg_ls_dir('.')",
        "SELECT * FROM ipai_gold_erp.aging, LATERAL pg_catalog.pg_read_file('x') AS f",
        "SELECT kind FROM ipai_gold_erp.aging;",
        "SELECT kind FROM ipai_gold_erp.aging -- why not",
        "SELECT kind /* hidden */ FROM ipai_gold_erp.aging",
        "SELECT $$x$$",
        'SELECT * FROM "IPAI_GOLD_ERP".aging',
    ],
)
def test_free_sql_calls_only_allowlisted_functions_in_plain_text(statement: str) -> None:
    with pytest.raises(UnsafeSql):
        check_select(statement, allowed_schemas=GOLD, row_limit=100)


def test_free_sql_shadowing_is_refused_before_it_reaches_the_database(
    lakehouse: Lakehouse,
) -> None:
    finance = lakehouse.authenticate(new_user(lakehouse, ["finance"]).token)
    answer = Genie(lakehouse, OfflinePlanner()).run_sql(
        finance, "WITH pg_authid AS (SELECT * FROM pg_authid) SELECT rolpassword FROM pg_authid"
    )
    assert answer.status == "refused" and answer.frame is None
