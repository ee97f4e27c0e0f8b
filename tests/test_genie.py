"""Genie end to end on the demo data: the offline planner (time phrases with an injected clock,
top-N, values, asking back), answers under the asking user's RLS, free SQL through the guard,
and the LLM planner through a real HTTP stand-in with the real `openai` SDK — including a model
that plans something malicious, which must be refused and logged."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from conftest import TEST_JWT_SECRET

from ipai_core.auth import users
from ipai_core.db.principal import Principal
from ipai_core.errors import UnsafeSql
from ipai_core.genie import (
    Catalog,
    Clarification,
    Genie,
    LlmPlanner,
    OfflinePlanner,
    QueryPlan,
    Refusal,
    check_select,
)
from ipai_core.genie.timephrases import parse_time
from ipai_core.lakehouse import Lakehouse
from ipai_core.llm.provider import LlmProvider, Prices
from ipai_core.semantic.models import Dimension, Measure, SemanticModel
from tests.support.genie_plans import llm_plan
from tests.support.openai_standin import OpenAIStandIn, RecordedRequest, Reply

TODAY = date(2026, 11, 1)  # the demo's reference day
GOLD = ("ipai_gold_*", "ipai_platinum_*")
IPAI = Path(sys.executable).parent / "ipai"


def principal(lake: Lakehouse, roles: list[str], **app_metadata: Any) -> Principal:
    token = lake.tokens.issue(
        user_id=str(uuid.uuid4()),
        email=f"{'-'.join(roles) or 'nobody'}@example.test",
        roles=roles,
        extra_claims={"app_metadata": {"provider": "ipai", "roles": roles, **app_metadata}},
    )
    return lake.authenticate(token)


@pytest.fixture(scope="module")
def genie(demo_lakehouse: Lakehouse) -> Genie:
    return Genie(demo_lakehouse, OfflinePlanner(), clock=lambda: TODAY)


@pytest.fixture
def standin() -> Iterator[OpenAIStandIn]:
    with OpenAIStandIn(model="planner-test") as server:
        yield server


def llm_genie(lake: Lakehouse, server: OpenAIStandIn, **kwargs: Any) -> Genie:
    provider = LlmProvider(
        model=server.model,
        base_url=server.base_url,
        api_key="sk-standin",
        max_retries=0,
        prices=Prices(prompt_per_1k=0.001, completion_per_1k=0.002),
    )
    planner = LlmPlanner(provider, row_limit=lake.settings.genie_row_limit, **kwargs)
    return Genie(lake, planner, clock=lambda: TODAY)


def plan_reply(**fields: Any) -> Reply:
    return Reply(json=llm_plan(**fields), prompt_tokens=2000, completion_tokens=150)


# --- time phrases against an injected clock


@pytest.mark.parametrize(
    ("phrase", "start", "end", "grain"),
    [
        ("net profit last quarter", date(2026, 7, 1), date(2026, 10, 1), None),
        ("revenue this year by month", date(2026, 1, 1), date(2027, 1, 1), "month"),
        ("deployments in 2025", date(2025, 1, 1), date(2026, 1, 1), None),
        ("units over the last 3 months", date(2026, 8, 1), date(2026, 11, 1), None),
        ("cash inflow since March", date(2026, 3, 1), None, None),
        ("sales per week", None, None, "week"),
        ("sales yesterday", date(2026, 10, 31), date(2026, 11, 1), None),
        ("incidents in December", date(2025, 12, 1), date(2026, 1, 1), None),
        ("ci runs in Q2 2026", date(2026, 4, 1), date(2026, 7, 1), None),
        ("between March and June", date(2026, 3, 1), date(2026, 7, 1), None),
        ("revenue year to date", date(2026, 1, 1), date(2026, 11, 2), None),
        ("the last 2 weeks", date(2026, 10, 12), date(2026, 10, 26), None),
        ("invoices due next month", date(2026, 12, 1), date(2027, 1, 1), None),
        ("may I see revenue", None, None, None),
    ],
)
def test_time_phrases(phrase: str, start: date | None, end: date | None, grain: str | None) -> None:
    found = parse_time(phrase, TODAY)
    got = (found.time_range.start, found.time_range.end) if found.time_range else (None, None)
    assert (got, found.grain) == ((start, end), grain)


def test_the_clock_decides_what_last_quarter_means(demo_lakehouse: Lakehouse) -> None:
    admin = principal(demo_lakehouse, ["admin"])
    question = "Net profit by month last quarter"
    in_november = Genie(demo_lakehouse, OfflinePlanner(), clock=lambda: TODAY).ask(admin, question)
    in_may = Genie(demo_lakehouse, OfflinePlanner(), clock=lambda: date(2026, 5, 15)).ask(
        admin, question
    )
    assert in_november.frame is not None and in_may.frame is not None
    assert in_november.frame["month"].to_list() == [date(2026, m, 1) for m in (7, 8, 9)]
    assert in_may.frame["month"].to_list() == [date(2026, m, 1) for m in (1, 2, 3)]
    assert in_november.chart is not None and in_november.chart.kind == "line"


# --- the offline planner as pure data (no database: a catalog built by hand)


def _catalog(*models: SemanticModel, readable: set[str] | None = None) -> Catalog:
    names = {m.dataset for m in models}
    values = {("shop", "store"): ["MNL-01", "CEB-01"]}
    return Catalog(
        {m.dataset: m for m in models},
        frozenset(names if readable is None else readable),
        TODAY,
        lambda model, dimension: values.get((model.dataset, dimension), ()),
    )


def _model(dataset: str, measures: dict[str, list[str]], synonyms: list[str]) -> SemanticModel:
    return SemanticModel(
        dataset=dataset,
        source_view=f"ipai_gold_core.{dataset}",
        grain="day x store",
        synonyms=tuple(synonyms),
        measures=tuple(
            Measure(name=name, label=name.title(), sql=name, synonyms=tuple(words))
            for name, words in measures.items()
        ),
        dimensions=(
            Dimension(
                name="day", label="Day", column="day", type="date", time_grains=("day", "month")
            ),
            Dimension(name="store", label="Store", column="store", lookup=True),
        ),
    )


SHOP = _model("shop", {"revenue": ["sales"], "units": ["items sold"]}, ["stores"])
LEDGER = _model("ledger", {"income": ["revenue"], "bookings": ["orders"]}, ["accounting"])


def test_a_plan_is_data_that_names_declared_fields_only() -> None:
    result = OfflinePlanner().plan("Top 3 stores by sales last month for MNL-01", _catalog(SHOP))
    assert result.planner == "offline"
    assert isinstance(result.plan, QueryPlan)
    query = result.plan.query
    assert (query.dataset, query.measures, query.dimensions) == ("shop", ["revenue"], ["store"])
    assert query.time_range is not None and query.time_range.start == date(2026, 10, 1)
    assert (query.limit, query.order_by[0].field, query.order_by[0].desc) == (3, "revenue", True)
    assert [(f.field, f.value) for f in query.filters] == [("store", "MNL-01")]


def test_two_datasets_that_fit_equally_are_asked_back() -> None:
    plan = OfflinePlanner().plan("revenue by month", _catalog(SHOP, LEDGER)).plan
    assert isinstance(plan, Clarification)
    assert plan.options == ("revenue by month (in ledger)", "revenue by month (in shop)")
    only_shop = OfflinePlanner().plan("revenue by month", _catalog(SHOP, LEDGER, readable={"shop"}))
    assert isinstance(only_shop.plan, QueryPlan) and only_shop.plan.query.dataset == "shop"


def test_two_measures_that_claim_the_same_words_are_asked_back() -> None:
    twice = _model("shop", {"revenue": ["takings"], "net_sales": ["takings"]}, [])
    plan = OfflinePlanner().plan("takings by store", _catalog(twice)).plan
    assert isinstance(plan, Clarification)
    assert plan.options == ("Revenue (revenue)", "Net_Sales (net_sales)")


def test_a_dataset_the_user_cannot_read_is_refused_not_substituted() -> None:
    plan = OfflinePlanner().plan("accounting bookings", _catalog(SHOP, LEDGER, readable={"shop"}))
    assert isinstance(plan.plan, Refusal) and "`ledger`" in plan.plan.reason


def test_a_grain_the_data_does_not_have_becomes_the_next_coarser_one() -> None:
    result = OfflinePlanner().plan("units per week", _catalog(SHOP)).plan
    assert isinstance(result, QueryPlan) and result.query.time_grain == "month"
    assert any("no week figures" in note for note in result.notes)


# --- the offline planner on the demo data


def test_top_n_with_a_dimension_and_a_measure(genie: Genie, demo_lakehouse: Lakehouse) -> None:
    answer = genie.ask(principal(demo_lakehouse, ["finance"]), "Top 5 customers by overdue amount")
    assert answer.status == "answer" and answer.dataset == "aging"
    assert answer.frame is not None and answer.frame.columns == ["partner", "overdue"]
    overdue = answer.frame["overdue"].to_list()
    assert len(overdue) == 5 and overdue == sorted(overdue, reverse=True)
    assert answer.chart is not None and (answer.chart.kind, answer.chart.x) == ("bar", "partner")
    assert answer.sql is not None and "LIMIT 5" in answer.sql
    assert answer.explanation.endswith("— aging")


def test_values_named_in_the_question_become_bound_filters(
    genie: Genie, demo_lakehouse: Lakehouse
) -> None:
    answer = genie.ask(principal(demo_lakehouse, ["devops"]), "Deployments per week for ledger-api")
    assert answer.status == "answer" and answer.dataset == "deployments_weekly"
    assert answer.params == ["production", "ipai-demo/ledger-api"]  # the default filter first
    assert "ledger-api" not in (answer.sql or "")
    reference = demo_lakehouse.query(
        principal(demo_lakehouse, ["devops"]),
        "SELECT week, sum(deployments) FROM ipai_gold_devops.deployments_weekly"
        " WHERE repository = 'ipai-demo/ledger-api' AND environment = 'production'"
        " GROUP BY 1 ORDER BY 1",
    )
    assert answer.frame is not None and answer.frame.rows() == reference.rows()


def test_a_single_number_is_suggested_as_a_number(genie: Genie, demo_lakehouse: Lakehouse) -> None:
    answer = genie.ask(principal(demo_lakehouse, ["devops"]), "What is our mean time to restore?")
    assert answer.status == "answer" and answer.frame is not None and answer.frame.shape == (1, 1)
    assert answer.chart is not None and answer.chart.kind == "number"


def test_ambiguity_is_asked_back_not_guessed(genie: Genie, demo_lakehouse: Lakehouse) -> None:
    answer = genie.ask(principal(demo_lakehouse, ["admin"]), "What was revenue last quarter?")
    assert answer.status == "clarify" and answer.frame is None and answer.sql is None
    assert "What was revenue last quarter (in profit and loss)" in answer.options
    assert "What was revenue last quarter (in sales daily)" in answer.options
    assert answer.clarification and "which one" in answer.clarification


def test_what_the_user_cannot_read_does_not_make_it_ambiguous(
    genie: Genie, demo_lakehouse: Lakehouse
) -> None:
    finance = principal(demo_lakehouse, ["finance"])
    answer = genie.ask(finance, "What was revenue last quarter?")
    assert answer.status == "answer" and answer.dataset == "profit_and_loss"


# --- RLS: the asking user's, always


def test_a_finance_user_limited_to_one_company_gets_only_its_figures(
    genie: Genie, demo_lakehouse: Lakehouse
) -> None:
    question = "Revenue by company last quarter"
    everyone = genie.ask(principal(demo_lakehouse, ["finance"]), question)
    manila_only = genie.ask(principal(demo_lakehouse, ["finance"], company_ids=[1]), question)
    assert everyone.frame is not None and manila_only.frame is not None
    all_companies = dict(everyone.frame.rows())
    assert set(all_companies) == {"IPAI Demo Manila", "IPAI Demo Singapore"}
    assert dict(manila_only.frame.rows()) == {"IPAI Demo Manila": all_companies["IPAI Demo Manila"]}
    asked_for_other = genie.ask(
        principal(demo_lakehouse, ["finance"], company_ids=[1]),
        "Revenue for IPAI Demo Singapore last quarter",
    )
    # Singapore is not among the values this user can see, so Genie cannot place the words: it
    # asks back (saying nothing of the other company's figures) instead of answering for Manila.
    assert asked_for_other.status == "clarify" and asked_for_other.frame is None
    assert asked_for_other.sql is None


def test_a_user_without_finance_roles_is_refused_with_the_reason(
    genie: Genie, demo_lakehouse: Lakehouse, caplog: pytest.LogCaptureFixture
) -> None:
    analyst = principal(demo_lakehouse, ["analyst"])
    with caplog.at_level(logging.WARNING, logger="ipai_core.genie.service"):
        answer = genie.ask(analyst, "What was our net profit by month this year?")
    assert answer.status == "refused" and answer.frame is None and answer.sql is None
    assert "profit_and_loss" in answer.explanation and "finance" in answer.explanation
    assert any("genie refused" in r.getMessage() for r in caplog.records)
    nobody = genie.ask(principal(demo_lakehouse, []), "Top 5 customers by overdue amount")
    assert nobody.status == "refused" and "aging" in nobody.explanation


# --- free SQL


@pytest.mark.parametrize(
    "statement",
    [
        "DROP TABLE ipai_gold_erp.mv_aging",
        "SELECT 1; DELETE FROM public.ipai_semantic_model",
        "WITH gone AS (DELETE FROM public.ipai_semantic_model RETURNING *) SELECT * FROM gone",
        "SELECT * FROM public.ipai_local_credential",
        "SELECT * FROM ipai_bronze_erp.account_move",
        "SELECT * FROM pg_catalog.pg_authid",
        "SELECT * FROM aging",
        'SELECT set_config(\'request.jwt.claims\', \'{"app_metadata":{"roles":["admin"]}}\', true)',
        "SELECT pg_sleep(30)",
        "SELECT * INTO ipai_gold_erp.copy FROM ipai_gold_erp.aging",
        "SELECT * FROM ipai_gold_erp.aging FOR UPDATE",
        "SELECT * FROM ipai_gold_erp.aging LIMIT 10000000",
        "SELECT public.ipai_audit('x', 'y', NULL, 'z', '{}')",
    ],
)
def test_the_guard_refuses_anything_but_one_select_over_gold(statement: str) -> None:
    with pytest.raises(UnsafeSql):
        check_select(statement, allowed_schemas=GOLD, row_limit=5000)


def test_the_guard_returns_the_checked_select_with_the_row_limit() -> None:
    checked = check_select(
        "select kind, sum(total_open) from ipai_gold_erp.aging group by 1",
        allowed_schemas=GOLD,
        row_limit=50,
    )
    assert checked == "SELECT kind, SUM(total_open) FROM ipai_gold_erp.aging GROUP BY 1 LIMIT 50"
    union = check_select("SELECT 1 AS a UNION SELECT 2", allowed_schemas=GOLD, row_limit=10)
    assert union.endswith("AS genie_result LIMIT 10")


def test_free_sql_runs_under_the_users_rls(genie: Genie, demo_lakehouse: Lakehouse) -> None:
    statement = "SELECT company_id, count(*) AS n FROM ipai_gold_erp.journal_items GROUP BY 1"
    limited = genie.run_sql(principal(demo_lakehouse, ["finance"], company_ids=[2]), statement)
    outsider = genie.run_sql(principal(demo_lakehouse, ["analyst"]), statement)
    assert limited.status == "answer" and limited.frame is not None
    assert limited.frame["company_id"].to_list() == [2]
    assert outsider.status == "answer" and outsider.frame is not None
    assert outsider.frame.is_empty()
    refused = genie.run_sql(principal(demo_lakehouse, ["admin"]), "TRUNCATE ipai_gold_erp.mv_aging")
    assert refused.status == "refused"


def test_a_slow_query_is_cut_at_the_statement_timeout(demo_lakehouse: Lakehouse) -> None:
    slow = Genie(demo_lakehouse, OfflinePlanner(), clock=lambda: TODAY)
    slow.statement_timeout_ms = 200
    answer = slow.run_sql(
        principal(demo_lakehouse, ["admin"]),
        "SELECT count(*) FROM ipai_gold_erp.journal_items a, ipai_gold_erp.journal_items b",
    )
    assert answer.status == "error" and "timeout" in answer.explanation
    assert answer.latency_ms < 5000


def test_the_callers_shorter_statement_timeout_wins(demo_lakehouse: Lakehouse) -> None:
    genie = Genie(demo_lakehouse, OfflinePlanner(), clock=lambda: TODAY)
    assert genie.statement_timeout_ms > 1000
    hurried = principal(demo_lakehouse, ["admin"]).with_limits(statement_timeout_ms=200)
    answer = genie.run_sql(
        hurried,
        "SELECT count(*) FROM ipai_gold_erp.journal_items a, ipai_gold_erp.journal_items b",
    )
    assert answer.status == "error" and "timeout" in answer.explanation
    assert answer.latency_ms < 5000


# --- the LLM planner through a real HTTP stand-in


def test_llm_plan_is_compiled_and_run_with_usage_recorded(
    demo_lakehouse: Lakehouse, standin: OpenAIStandIn
) -> None:
    standin.reply(
        plan_reply(
            dataset="profit_and_loss",
            measures=["net_profit"],
            time_grain="month",
            time_range={"start": "2026-07-01", "end": "2026-10-01"},
        )
    )
    finance = principal(demo_lakehouse, ["finance"])
    answer = llm_genie(demo_lakehouse, standin).ask(finance, "How did profit develop last quarter?")

    assert answer.status == "answer" and answer.planner == "llm"
    assert answer.frame is not None and answer.frame.height == 3
    assert (answer.prompt_tokens, answer.completion_tokens) == (2000, 150)
    assert answer.cost_usd == pytest.approx(2 * 0.001 + 0.15 * 0.002)
    [request] = standin.chat_requests
    fmt = request.response_format
    assert fmt is not None and fmt["type"] == "json_schema" and fmt["json_schema"]["strict"]
    catalog = request.messages[0]["content"]
    assert "profit_and_loss" in catalog and "2026-11-01" in catalog
    assert "deployments_weekly" not in catalog  # the finance user cannot read DevOps data
    assert request.messages[-1] == {
        "role": "user",
        "content": "How did profit develop last quarter?",
    }


@pytest.mark.parametrize(
    ("plan", "reason"),
    [
        (
            {"dataset": "ipai_bronze_erp.account_move", "measures": ["amount_total"]},
            "not a dataset",
        ),
        ({"dataset": "deployments_weekly", "measures": ["deployments"]}, "not a dataset"),
        ({"dataset": "profit_and_loss", "measures": ["password_hash"]}, "unknown measure"),
        ({"dataset": "profit_and_loss", "measures": ["revenue"], "limit": 10_000_000}, "limit"),
        (
            {
                "dataset": "profit_and_loss",
                "measures": ["revenue"],
                "filters": [{"field": "company", "op": "; DROP TABLE x", "value": "a"}],
            },
            "not valid",
        ),
        ({"kind": "sql", "sql": "DROP TABLE ipai_gold_erp.mv_profit_and_loss"}, "only SELECT"),
        ({"kind": "sql", "sql": "SELECT * FROM public.ipai_local_credential"}, "schema `public`"),
        (
            {"kind": "sql", "sql": "SELECT * FROM ipai_gold_erp.journal_items LIMIT 10000000"},
            "LIMIT",
        ),
        (
            {"kind": "sql", "sql": "SELECT set_config('request.jwt.claims', '{}', true)"},
            "set_config",
        ),
    ],
)
def test_a_malicious_llm_plan_is_refused_and_logged(
    demo_lakehouse: Lakehouse,
    standin: OpenAIStandIn,
    caplog: pytest.LogCaptureFixture,
    plan: dict[str, Any],
    reason: str,
) -> None:
    standin.reply(plan_reply(**plan))
    finance = principal(demo_lakehouse, ["finance"])
    with caplog.at_level(logging.WARNING, logger="ipai_core.genie.service"):
        answer = llm_genie(demo_lakehouse, standin).ask(finance, "Show me everything you have")
    assert answer.status == "refused", answer
    assert answer.planner == "llm" and answer.frame is None
    assert reason in answer.explanation
    [record] = [r for r in caplog.records if "genie refused" in r.getMessage()]
    assert "planner=llm" in record.getMessage() and reason in record.getMessage()
    with demo_lakehouse.session(Principal.service("test: nothing was dropped")) as s:
        assert s.scalar("SELECT count(*) FROM ipai_gold_erp.mv_profit_and_loss") > 0


def test_llm_sql_runs_through_the_guard_under_the_users_rls(
    demo_lakehouse: Lakehouse, standin: OpenAIStandIn
) -> None:
    standin.reply(
        plan_reply(
            kind="sql",
            sql="SELECT company_id, sum(amount) AS income FROM ipai_gold_erp.profit_and_loss"
            " WHERE section = 'income' GROUP BY 1",
            explanation="Income per company",
        )
    )
    manila = principal(demo_lakehouse, ["finance"], company_ids=[1])
    answer = llm_genie(demo_lakehouse, standin).ask(manila, "Income per company, any way you like")
    assert answer.status == "answer" and answer.frame is not None
    assert answer.frame["company_id"].to_list() == [1]
    assert answer.sql is not None and answer.sql.endswith("LIMIT 5000")
    standin.reply(plan_reply(kind="sql", sql="SELECT 1"))
    no_sql = llm_genie(demo_lakehouse, standin, allow_sql=False).ask(manila, "anything")
    assert no_sql.status == "refused" and "switched off" in no_sql.explanation


def test_llm_clarification_is_passed_on(demo_lakehouse: Lakehouse, standin: OpenAIStandIn) -> None:
    standin.reply(
        plan_reply(kind="clarify", clarification="Which revenue?", options=["ERP", "Retail"])
    )
    answer = llm_genie(demo_lakehouse, standin).ask(principal(demo_lakehouse, ["admin"]), "revenue")
    assert answer.status == "clarify" and answer.options == ("ERP", "Retail")


def test_when_the_llm_fails_the_offline_planner_answers(
    demo_lakehouse: Lakehouse, standin: OpenAIStandIn
) -> None:
    standin.respond_with(lambda request: Reply(status=503, error="overloaded"))
    genie = llm_genie(demo_lakehouse, standin, fallback=OfflinePlanner())
    answer = genie.ask(principal(demo_lakehouse, ["devops"]), "Incidents by repository this year")
    assert answer.status == "answer" and answer.planner == "offline"
    assert answer.dataset == "incidents"
    without_fallback = llm_genie(demo_lakehouse, standin).ask(
        principal(demo_lakehouse, ["devops"]), "Incidents by repository"
    )
    assert without_fallback.status == "error" and "503" in without_fallback.explanation


def test_the_default_planner_follows_the_settings(
    demo_lakehouse: Lakehouse, standin: OpenAIStandIn
) -> None:
    assert isinstance(Genie(demo_lakehouse).planner, OfflinePlanner)
    settings = demo_lakehouse.settings.model_copy(update={"llm_base_url": standin.base_url})
    with_llm = Lakehouse(settings, demo_lakehouse.db, demo_lakehouse.tokens)
    planner = Genie(with_llm).planner
    assert isinstance(planner, LlmPlanner) and isinstance(planner.fallback, OfflinePlanner)

    def answer(request: RecordedRequest) -> Reply:
        return plan_reply(dataset="incidents", measures=["incidents"])

    standin.respond_with(answer)
    result = Genie(with_llm).ask(principal(demo_lakehouse, ["devops"]), "How many incidents?")
    assert result.status == "answer" and result.planner == "llm"


# --- the command line


def test_cli_ask_prints_sql_columns_and_rows_as_json(
    demo_lakehouse: Lakehouse, tmp_path: Path
) -> None:
    email = f"genie-cli-{uuid.uuid4().hex[:6]}@example.test"
    users.add_user(demo_lakehouse.db, email, "a long enough password", ["devops"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPAI_")}
    env |= {
        "IPAI_DATABASE_URL": demo_lakehouse.owner_url,
        "IPAI_DATA_DIR": str(tmp_path),
        "IPAI_JWT_SECRET": TEST_JWT_SECRET,
    }

    def ipai(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(IPAI), "genie", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    answered = ipai("ask", "Incidents by repository", "--json", "--as", email)
    assert answered.returncode == 0, answered.stderr
    document = json.loads(answered.stdout)
    assert document["status"] == "answer" and document["columns"] == ["repository", "incidents"]
    assert document["sql"].startswith("SELECT") and len(document["rows"]) == 4
    refused = ipai("ask", "Net profit by month", "--as", email)
    assert refused.returncode == 1 and "profit_and_loss" in refused.stderr
    nobody = ipai("ask", "Incidents by repository")
    assert nobody.returncode == 1 and "--as EMAIL" in nobody.stderr
