"""The business semantic models of docs/metrics.md on the demo data: every measure and dimension of
`sales_invoices`, `invoice_settlement`, `payments` and `pull_requests`, and what the seeded models
gained (company names on aging and open items, the aging bucket, the P&L account group, the pooled
DORA change failure rate), compiled as semantic queries and compared with SQL written by hand over
the silver views (run as the service role); then the RLS behind them: no finance role, no ERP
rows; DevOps users see pull requests; a company scope narrows every ERP dataset."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from ipai_core.auth import users
from ipai_core.db.principal import Principal
from ipai_core.genie.text import phrase_stems
from ipai_core.governance.rls_check import rls_coverage
from ipai_core.lakehouse import Lakehouse
from ipai_core.semantic import (
    Filter,
    SemanticModel,
    SemanticQuery,
    TimeRange,
    load_models,
    run_semantic_query,
)
from ipai_core.semantic.query import TimeGrain
from tests.support.users import new_user

pytestmark = pytest.mark.slow  # the demo lakehouse

NEW = ("sales_invoices", "invoice_settlement", "payments", "pull_requests")
ERP = ("sales_invoices", "invoice_settlement", "payments", "aging", "open_items")
SINGAPORE_ID, SINGAPORE = 2, "IPAI Demo Singapore"
COMPANIES = {"IPAI Demo Manila", SINGAPORE}


@dataclass(frozen=True)
class Case:
    """A semantic query and the hand-written SQL over silver whose rows it must equal (the
    dimensions' columns first, then the measures', in the query's order)."""

    query: SemanticQuery
    reference: str
    params: tuple[Any, ...] = ()

    @property
    def id(self) -> str:
        q = self.query
        grain = [f"{q.time_dimension or 'time'}:{q.time_grain}"] if q.time_grain else []
        parts = [q.dataset, *grain, *q.dimensions, *(f.field for f in q.filters)]
        return "-".join(parts) + ("-range" if q.time_range else "")


@pytest.fixture(scope="module")
def lake(demo_lakehouse: Lakehouse) -> Lakehouse:
    return demo_lakehouse


@pytest.fixture(scope="module")
def admin(lake: Lakehouse) -> Principal:
    return lake.authenticate(new_user(lake, ["admin"]).token)


@pytest.fixture(scope="module")
def models(lake: Lakehouse, admin: Principal) -> dict[str, SemanticModel]:
    with lake.session(admin) as s:
        return load_models(s)


@pytest.fixture(scope="module")
def owner(lake: Lakehouse) -> Iterator[psycopg.Connection]:
    assert lake.settings.database_url is not None
    with psycopg.connect(lake.settings.database_url.get_secret_value(), autocommit=True) as conn:
        yield conn


def run(lake: Lakehouse, who: Principal, query: SemanticQuery) -> list[tuple[Any, ...]]:
    with lake.session(who) as s:
        return run_semantic_query(s, query).rows()


def reference(
    lake: Lakehouse, statement: str, params: tuple[Any, ...] = ()
) -> list[tuple[Any, ...]]:
    return lake.query(Principal.service("test: reference figures"), statement, list(params)).rows()


def normalized(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """Rows in a stable order, numbers to 9 significant digits (averages differ in scale only)."""

    def value(v: Any) -> Any:
        if isinstance(v, bool) or v is None:
            return v
        if isinstance(v, int | float | Decimal):
            return float(f"{float(v):.9g}") + 0.0
        return v

    return sorted((tuple(value(v) for v in row) for row in rows), key=repr)


def assert_case(lake: Lakehouse, who: Principal, case: Case) -> None:
    got = normalized(run(lake, who, case.query))
    want = normalized(reference(lake, case.reference, case.params))
    assert want, f"{case.id}: the reference has no rows, so the comparison proves nothing"
    assert got == want, case.id


# --- sales_invoices ---------------------------------------------------------------------------

# Posted customer invoices and credit notes, one row per document, amounts from the move's own
# untaxed total (the lines are not read): an independent account of the invoiced amount.
_DOCUMENTS = """
WITH d AS (
    SELECT m.move_id, m.name, m.move_type, m.partner_name, m.invoice_date, m.payment_state,
           c.company_name,
           CASE m.move_type WHEN 'out_invoice' THEN m.amount_untaxed ELSE -m.amount_untaxed END
             AS untaxed,
           CASE m.move_type WHEN 'out_refund' THEN 'credit note' ELSE 'invoice' END AS doc_type
      FROM ipai_silver_erp.moves m
      JOIN ipai_silver_erp.companies c ON c.company_id = m.company_id
     WHERE m.state = 'posted' AND m.move_type IN ('out_invoice', 'out_refund'))
"""
_DOCUMENT_FIGURES = """
       sum(untaxed),
       count(*) FILTER (WHERE move_type = 'out_invoice'),
       count(*) FILTER (WHERE move_type = 'out_refund'),
       avg(untaxed) FILTER (WHERE move_type = 'out_invoice')
"""
_SALES_MEASURES = ["invoiced_amount", "invoice_count", "credit_note_count", "average_invoice_value"]
# Income-account lines of those documents, signed as sales: a credit is an invoiced amount.
_SALES_LINES = """
SELECT {group}, sum(j.credit - j.debit),
       count(DISTINCT j.move_id) FILTER (WHERE m.move_type = 'out_invoice')
  FROM ipai_silver_erp.journal_items j
  JOIN ipai_silver_erp.moves m ON m.move_id = j.move_id
 WHERE m.state = 'posted' AND m.move_type IN ('out_invoice', 'out_refund')
   AND j.account_type LIKE 'income%%'
 GROUP BY 1
"""


def _sales(dimensions: list[str], group: str, **query: Any) -> Case:
    select = f"{group}, " if group else ""
    grouped = f" GROUP BY {', '.join(str(i + 1) for i in range(len(dimensions)))}" if group else ""
    return Case(
        SemanticQuery(
            dataset="sales_invoices", measures=_SALES_MEASURES, dimensions=dimensions, **query
        ),
        f"{_DOCUMENTS} SELECT {select}{_DOCUMENT_FIGURES} FROM d{query_where(query)}{grouped}",
        query_params(query),
    )


def query_where(query: dict[str, Any]) -> str:
    """The reference's WHERE for the few filter shapes the cases use (company, time range)."""
    conditions = []
    for item in query.get("filters", []):
        conditions.append(
            {"company": "company_name = %s", "customer": "partner_name = %s"}[item.field]
        )
    if "time_range" in query:
        conditions.append("invoice_date >= %s AND invoice_date < %s")
    return f" WHERE {' AND '.join(conditions)}" if conditions else ""


def query_params(query: dict[str, Any]) -> tuple[Any, ...]:
    params: list[Any] = [item.value for item in query.get("filters", [])]
    if "time_range" in query:
        params += [query["time_range"].start, query["time_range"].end]
    return tuple(params)


SALES_CASES = [
    _sales([], ""),
    _sales(["customer"], "partner_name"),
    _sales(["company"], "company_name"),
    _sales(["payment_state"], "payment_state"),
    _sales(["document_type"], "doc_type"),
    _sales(["invoice_number"], "name"),
    _sales(["company", "customer"], "company_name, partner_name"),
    _sales([], "", filters=[Filter(field="company", value=SINGAPORE)]),
    _sales(
        ["customer"],
        "partner_name",
        time_range=TimeRange(start=date(2026, 7, 1), end=date(2026, 10, 1)),
    ),
    Case(
        SemanticQuery(dataset="sales_invoices", measures=_SALES_MEASURES, time_grain="month"),
        f"{_DOCUMENTS} SELECT date_trunc('month', invoice_date)::date, {_DOCUMENT_FIGURES}"
        " FROM d GROUP BY 1",
    ),
    Case(
        SemanticQuery(
            dataset="sales_invoices",
            measures=["invoiced_amount", "invoice_count"],
            time_grain="quarter",
            time_dimension="invoice_date",
            filters=[Filter(field="company", value=SINGAPORE)],
        ),
        f"{_DOCUMENTS} SELECT date_trunc('quarter', invoice_date)::date, sum(untaxed),"
        " count(*) FILTER (WHERE move_type = 'out_invoice') FROM d"
        " WHERE company_name = %s GROUP BY 1",
        (SINGAPORE,),
    ),
    Case(
        SemanticQuery(
            dataset="sales_invoices",
            measures=["invoiced_amount", "invoice_count"],
            dimensions=["product"],
        ),
        _SALES_LINES.format(group="j.label"),
    ),
    Case(
        SemanticQuery(
            dataset="sales_invoices",
            measures=["invoiced_amount", "invoice_count"],
            dimensions=["product_category"],
        ),
        _SALES_LINES.format(group="j.account_name"),
    ),
]


@pytest.mark.parametrize("case", SALES_CASES, ids=lambda c: c.id)
def test_sales_invoices_equal_the_invoices_by_hand(
    lake: Lakehouse, admin: Principal, case: Case
) -> None:
    assert_case(lake, admin, case)


def test_invoiced_amount_nets_credit_notes_and_equals_invoiced_income(
    lake: Lakehouse, admin: Principal
) -> None:
    query = SemanticQuery(
        dataset="sales_invoices", measures=["invoiced_amount"], dimensions=["document_type"]
    )
    by_type = dict(run(lake, admin, query))
    assert by_type["credit note"] < 0 < by_type["invoice"]
    income = reference(
        lake,
        "SELECT sum(j.credit - j.debit) FROM ipai_silver_erp.journal_items j"
        " JOIN ipai_silver_erp.moves m USING (move_id)"
        " WHERE j.account_type LIKE 'income%%' AND m.move_type IN ('out_invoice', 'out_refund')",
    )[0][0]
    assert by_type["credit note"] + by_type["invoice"] == income


# --- invoice_settlement -----------------------------------------------------------------------

_SETTLEMENT = """
WITH s AS (
    SELECT s.*, c.company_name,
           CASE s.move_type WHEN 'out_invoice' THEN 'receivable' ELSE 'payable' END AS side
      FROM ipai_silver_erp.invoice_settlement s
      JOIN ipai_silver_erp.companies c ON c.company_id = s.company_id)
SELECT {group}
       avg(paid_date - invoice_date) FILTER (WHERE paid_date IS NOT NULL),
       avg(paid_date - due_date) FILTER (WHERE paid_date IS NOT NULL),
       count(*) FILTER (WHERE paid_date > due_date)::numeric
         / nullif(count(*) FILTER (WHERE paid_date IS NOT NULL), 0),
       count(*) FILTER (WHERE paid_date IS NOT NULL),
       count(*),
       coalesce(sum(amount_total) FILTER (WHERE move_type = 'in_invoice'), 0),
       coalesce(sum(amount_total) FILTER (WHERE move_type = 'out_invoice'), 0),
       sum(amount_residual)
  FROM s {group_by}
"""
_SETTLEMENT_MEASURES = [
    "avg_days_to_pay",
    "avg_days_late",
    "share_paid_late",
    "settled_count",
    "document_count",
    "billed_amount",
    "invoice_total_incl_tax",
    "amount_outstanding",
]


def _settlement(dimension: str | None, group: str, *, grain: TimeGrain | None = None) -> Case:
    time = dimension if grain else None
    select = f"date_trunc('{grain}', {group})::date, " if grain else f"{group}, " if group else ""
    return Case(
        SemanticQuery(
            dataset="invoice_settlement",
            measures=_SETTLEMENT_MEASURES,
            dimensions=[dimension] if dimension and not grain else [],
            time_grain=grain,
            time_dimension=time,
        ),
        _SETTLEMENT.format(group=select, group_by="GROUP BY 1" if group else ""),
    )


SETTLEMENT_CASES = [
    _settlement(None, ""),
    _settlement("kind", "side"),
    _settlement("partner", "partner_name"),
    _settlement("company", "company_name"),
    _settlement("payment_state", "payment_state"),
    _settlement("document", "name"),
    _settlement("invoice_date", "invoice_date", grain="month"),
    _settlement("due_date", "due_date", grain="quarter"),
    _settlement("paid_date", "paid_date", grain="month"),
    Case(
        SemanticQuery(
            dataset="invoice_settlement",
            measures=["avg_days_to_pay", "share_paid_late"],
            dimensions=["partner"],
            filters=[Filter(field="kind", value="receivable")],
        ),
        "SELECT partner_name, avg(paid_date - invoice_date),"
        " count(*) FILTER (WHERE paid_date > due_date)::numeric / nullif(count(paid_date), 0)"
        " FROM ipai_silver_erp.invoice_settlement WHERE move_type = 'out_invoice' GROUP BY 1",
    ),
]


@pytest.mark.parametrize("case", SETTLEMENT_CASES, ids=lambda c: c.id)
def test_invoice_settlement_equals_the_settlements_by_hand(
    lake: Lakehouse, admin: Principal, case: Case
) -> None:
    assert_case(lake, admin, case)


def test_share_paid_late_is_pooled_not_an_average_of_partners(
    lake: Lakehouse, admin: Principal
) -> None:
    def share(**query: Any) -> list[tuple[Any, ...]]:
        return run(
            lake,
            admin,
            SemanticQuery(dataset="invoice_settlement", measures=["share_paid_late"], **query),
        )

    pooled = share()[0][0]
    per_partner = [r[1] for r in share(dimensions=["partner"]) if r[1] is not None]
    assert 0 < pooled < 1
    assert abs(pooled - sum(per_partner) / len(per_partner)) > Decimal("0.001")


# --- payments ---------------------------------------------------------------------------------

_PAYMENTS = """
SELECT {group}
       coalesce(sum(b.amount) FILTER (WHERE b.amount >= 0), 0),
       coalesce(sum(-b.amount) FILTER (WHERE b.amount < 0), 0),
       sum(b.amount),
       count(*)
  FROM ipai_silver_erp.bank_statement_lines b
  JOIN ipai_silver_erp.companies c ON c.company_id = b.company_id {group_by}
"""
_PAYMENT_MEASURES = ["payments_received", "payments_made", "net_payments", "payment_count"]


def _payments(dimension: str | None, group: str, *, grain: TimeGrain | None = None) -> Case:
    select = f"date_trunc('{grain}', b.date)::date, " if grain else f"{group}, " if group else ""
    return Case(
        SemanticQuery(
            dataset="payments",
            measures=_PAYMENT_MEASURES,
            dimensions=[dimension] if dimension and not grain else [],
            time_grain=grain,
        ),
        _PAYMENTS.format(group=select, group_by="GROUP BY 1" if group or grain else ""),
    )


PAYMENT_CASES = [
    _payments(None, ""),
    _payments("partner", "b.partner_name"),
    _payments("company", "c.company_name"),
    _payments("direction", "CASE WHEN b.amount < 0 THEN 'made' ELSE 'received' END"),
    _payments("transaction_type", "b.transaction_type"),
    _payments("date", "", grain="month"),
    Case(
        SemanticQuery(
            dataset="payments",
            measures=["payments_received", "payment_count"],
            filters=[Filter(field="partner", value="Kestrel Logistics Inc.")],
            time_range=TimeRange(start=date(2026, 1, 1), end=date(2026, 11, 1)),
        ),
        "SELECT coalesce(sum(amount) FILTER (WHERE amount > 0), 0), count(*)"
        " FROM ipai_silver_erp.bank_statement_lines"
        " WHERE partner_name = 'Kestrel Logistics Inc.'"
        " AND date >= '2026-01-01' AND date < '2026-11-01'",
    ),
]


@pytest.mark.parametrize("case", PAYMENT_CASES, ids=lambda c: c.id)
def test_payments_equal_the_bank_lines_by_hand(
    lake: Lakehouse, admin: Principal, case: Case
) -> None:
    assert_case(lake, admin, case)


def test_payments_without_a_partner_stay_unnamed(lake: Lakehouse, admin: Principal) -> None:
    query = SemanticQuery(dataset="payments", measures=["payment_count"], dimensions=["partner"])
    counts = dict(run(lake, admin, query))
    assert counts.get(None, 0) > 0  # bank fees, interest, transfers Odoo matched to nobody


# --- pull_requests ----------------------------------------------------------------------------

_PULLS = """
SELECT {group}
       count(*),
       count(*) FILTER (WHERE state = 'open'),
       count(merged_at),
       count(*) FILTER (WHERE state = 'closed' AND merged_at IS NULL),
       avg(extract(epoch FROM merged_at - created_at) / 3600),
       percentile_cont(0.5) WITHIN GROUP
         (ORDER BY extract(epoch FROM merged_at - created_at) / 3600)
  FROM ipai_silver_devops.pull_requests {group_by}
"""
_PULL_MEASURES = [
    "pull_request_count",
    "open_pull_requests",
    "merged_pull_requests",
    "closed_unmerged_pull_requests",
    "avg_hours_to_merge",
    "median_hours_to_merge",
]


def _pulls(dimension: str | None, group: str, *, grain: TimeGrain | None = None) -> Case:
    time = dimension if grain else None
    select = f"date_trunc('{grain}', {group})::date, " if grain else f"{group}, " if group else ""
    return Case(
        SemanticQuery(
            dataset="pull_requests",
            measures=_PULL_MEASURES,
            dimensions=[dimension] if dimension and not grain else [],
            time_grain=grain,
            time_dimension=time,
        ),
        _PULLS.format(group=select, group_by="GROUP BY 1" if group else ""),
    )


PULL_CASES = [
    _pulls(None, ""),
    _pulls("repository", "repository"),
    _pulls("author", "user_login"),
    _pulls("state", "state"),
    _pulls("created_at", "created_at", grain="week"),
    _pulls("merged_at", "merged_at", grain="month"),
]


@pytest.mark.parametrize("case", PULL_CASES, ids=lambda c: c.id)
def test_pull_requests_equal_the_pull_requests_by_hand(
    lake: Lakehouse, admin: Principal, case: Case
) -> None:
    assert_case(lake, admin, case)


# --- what the seeded models gained ----------------------------------------------------------

_OPEN_ITEMS = """
WITH o AS (
    SELECT c.company_name, j.account_type,
           CASE WHEN j.account_type = 'asset_receivable' THEN j.amount_residual
                ELSE -j.amount_residual END AS open_amount,
           %s::date - coalesce(j.date_maturity, j.date) AS late
      FROM ipai_silver_erp.journal_items j
      JOIN ipai_silver_erp.companies c ON c.company_id = j.company_id
     WHERE j.account_type IN ('asset_receivable', 'liability_payable') AND j.amount_residual <> 0)
"""
_BUCKET = """CASE WHEN late <= 0 THEN 'not due' WHEN late <= 30 THEN '1-30'
                  WHEN late <= 60 THEN '31-60' WHEN late <= 90 THEN '61-90' ELSE '90+' END"""
_ACCOUNT_GROUP = """CASE account_type WHEN 'income' THEN 'Operating revenue'
                         WHEN 'income_other' THEN 'Other income'
                         WHEN 'expense_direct_cost' THEN 'Cost of revenue'
                         WHEN 'expense_depreciation' THEN 'Depreciation'
                         ELSE 'Operating expenses' END"""


@pytest.fixture(scope="module")
def as_of(lake: Lakehouse) -> date:
    """The day open items were aged at (their last refresh)."""
    day = reference(lake, "SELECT max(as_of) FROM ipai_gold_erp.mv_open_items")[0][0]
    assert isinstance(day, date)
    return day


def seeded_cases(as_of: date) -> list[Case]:
    return [
        Case(
            SemanticQuery(
                dataset="open_items",
                measures=["open_amount", "open_item_count"],
                dimensions=["aging_bucket"],
            ),
            f"{_OPEN_ITEMS} SELECT {_BUCKET}, sum(open_amount), count(*) FROM o GROUP BY 1",
            (as_of,),
        ),
        Case(
            SemanticQuery(dataset="open_items", measures=["open_amount"], dimensions=["company"]),
            f"{_OPEN_ITEMS} SELECT company_name, sum(open_amount) FROM o GROUP BY 1",
            (as_of,),
        ),
        Case(
            SemanticQuery(
                dataset="aging",
                measures=["total_open", "overdue_90_plus"],
                dimensions=["company"],
                filters=[Filter(field="kind", value="receivable")],
            ),
            f"{_OPEN_ITEMS} SELECT company_name, sum(open_amount),"
            " sum(open_amount) FILTER (WHERE late > 90) FROM o"
            " WHERE account_type = 'asset_receivable' GROUP BY 1",
            (as_of,),
        ),
        Case(
            SemanticQuery(
                dataset="profit_and_loss",
                measures=["revenue", "expenses", "net_profit"],
                dimensions=["account_group"],
            ),
            f"SELECT {_ACCOUNT_GROUP},"
            " sum(CASE WHEN section = 'income' THEN credit - debit ELSE 0 END),"
            " sum(CASE WHEN section = 'expense' THEN debit - credit ELSE 0 END),"
            " sum(credit - debit)"
            " FROM ipai_silver_erp.journal_items WHERE section IN ('income', 'expense')"
            " GROUP BY 1",
        ),
        Case(
            SemanticQuery(
                dataset="dora_summary",
                measures=["change_failure_rate", "failed_production_deployments"],
            ),
            "SELECT count(*) FILTER (WHERE outcome IN ('failure', 'error'))::numeric"
            " / count(*) FILTER (WHERE outcome IN ('success', 'failure', 'error')),"
            " count(*) FILTER (WHERE outcome IN ('failure', 'error'))"
            " FROM ipai_silver_devops.deployments WHERE environment = 'production'",
        ),
        Case(
            SemanticQuery(
                dataset="dora_summary",
                measures=["change_failure_rate", "failed_production_deployments"],
                dimensions=["repository"],
            ),
            "SELECT repository, count(*) FILTER (WHERE outcome IN ('failure', 'error'))::numeric"
            " / count(*) FILTER (WHERE outcome IN ('success', 'failure', 'error')),"
            " count(*) FILTER (WHERE outcome IN ('failure', 'error'))"
            " FROM ipai_silver_devops.deployments WHERE environment = 'production' GROUP BY 1",
        ),
    ]


def test_seeded_models_gained_their_fields_and_they_equal_silver(
    lake: Lakehouse, admin: Principal, as_of: date
) -> None:
    for case in seeded_cases(as_of):
        assert_case(lake, admin, case)


def test_the_aging_bucket_agrees_with_gold_aging(lake: Lakehouse, admin: Principal) -> None:
    receivable = Filter(field="kind", value="receivable")
    buckets = dict(
        run(
            lake,
            admin,
            SemanticQuery(
                dataset="open_items",
                measures=["open_amount"],
                dimensions=["aging_bucket"],
                filters=[receivable],
            ),
        )
    )
    aging = run(
        lake,
        admin,
        SemanticQuery(
            dataset="aging",
            measures=[
                "not_due",
                "overdue_1_30",
                "overdue_31_60",
                "overdue_61_90",
                "overdue_90_plus",
            ],
            filters=[receivable],
        ),
    )[0]
    names = ("not due", "1-30", "31-60", "61-90", "90+")
    assert [buckets.get(n) for n in names] == list(aging)
    assert len(buckets) >= 4


def test_the_pooled_change_failure_rate_is_not_the_average_of_repositories(
    lake: Lakehouse, admin: Principal
) -> None:
    pooled = run(
        lake, admin, SemanticQuery(dataset="dora_summary", measures=["change_failure_rate"])
    )[0][0]
    rates = reference(lake, "SELECT change_failure_rate FROM ipai_gold_devops.mv_dora_summary")
    per_repository = [r[0] for r in rates if r[0] is not None]
    assert len(per_repository) >= 2
    assert abs(pooled - sum(per_repository) / len(per_repository)) > Decimal("0.001")
    by_repository = run(
        lake,
        admin,
        SemanticQuery(
            dataset="dora_summary", measures=["change_failure_rate"], dimensions=["repository"]
        ),
    )
    view = dict(
        reference(
            lake, "SELECT repository, change_failure_rate FROM ipai_gold_devops.mv_dora_summary"
        )
    )
    for repository, rate in by_repository:
        assert round(rate, 4) == view[repository], repository  # the view's rate, unrounded


# --- the models themselves --------------------------------------------------------------------


def test_the_new_models_are_stored_documented_and_unambiguous(
    models: dict[str, SemanticModel],
) -> None:
    for name in NEW:
        model = models[name]
        assert model.rls_policy_refs and model.description and model.synonyms, name
        assert model.default_time_dimension is not None, name
        for item in (*model.measures, *model.dimensions):
            assert item.label and item.description, f"{name}.{item.name}"
        owners: dict[tuple[str, ...], str] = {}
        for measure in model.measures:
            for phrase in {measure.name, measure.label, *measure.synonyms}:
                other = owners.setdefault(phrase_stems(phrase), measure.name)
                assert other == measure.name, f"{name}: `{phrase}` names {other} and {measure.name}"
    assert models["invoice_settlement"].default_time_dimension.name == "invoice_date"  # type: ignore[union-attr]
    assert models["pull_requests"].default_time_dimension.name == "created_at"  # type: ignore[union-attr]
    kind = models["invoice_settlement"].dimension("kind").value_synonyms
    assert "supplier" in kind["payable"] and "customer" in kind["receivable"]
    direction = models["payments"].dimension("direction").value_synonyms
    assert {"incoming", "collected"} <= set(direction["received"])
    assert "outgoing" in direction["made"]
    assert "paid" not in direction["made"]  # "customers paid us" is money received


def test_the_new_gold_views_are_guarded_and_served_to_bi_logins(
    owner: psycopg.Connection,
) -> None:
    views = [
        "ipai_gold_erp.sales_invoices",
        "ipai_gold_erp.invoice_settlement",
        "ipai_gold_erp.payments",
        "ipai_gold_devops.pull_requests",
        "ipai_gold_devops.dora_summary",
    ]
    coverage = rls_coverage(owner)
    assert coverage.failures == []
    covered = {f"{f.schema}.{f.name}" for f in coverage.findings}
    for view in views:
        store = view.replace(".", ".mv_", 1)
        assert {view, store} <= covered
        assert owner.execute(
            "SELECT has_table_privilege('authenticated', %s, 'SELECT'),"
            " has_table_privilege('ipai_bi', %s, 'SELECT'),"
            " has_table_privilege('authenticated', %s, 'SELECT'),"
            " has_table_privilege('ipai_bi', %s, 'SELECT')",
            [view, view, store, store],
        ).fetchone() == (True, True, False, False), view
        assert owner.execute("SELECT obj_description(%s::regclass)", [view]).fetchone() != (None,)


# --- RLS ------------------------------------------------------------------------------------------


def first_count(model: SemanticModel) -> str:
    counts = [m.name for m in model.measures if m.aggregation in ("count", "count_distinct")]
    return counts[0] if counts else model.measures[0].name


def by_company(lake: Lakehouse, who: Principal, model: SemanticModel) -> dict[str, Any]:
    query = SemanticQuery(
        dataset=model.dataset, measures=[first_count(model)], dimensions=["company"]
    )
    return dict(run(lake, who, query))


def test_without_a_finance_role_no_erp_rows_and_devops_sees_pull_requests(
    lake: Lakehouse, admin: Principal, models: dict[str, SemanticModel]
) -> None:
    devops = lake.authenticate(new_user(lake, ["devops"]).token)
    nobody = lake.authenticate(new_user(lake, []).token)
    finance = lake.authenticate(new_user(lake, ["finance"]).token)
    for name in ERP:
        assert set(by_company(lake, admin, models[name])) == COMPANIES, name
        for who in (devops, nobody):
            assert by_company(lake, who, models[name]) == {}, name
    pulls = SemanticQuery(
        dataset="pull_requests", measures=["pull_request_count"], dimensions=["repository"]
    )
    everything = run(lake, admin, pulls)
    assert len(everything) >= 2
    assert run(lake, devops, pulls) == everything
    assert run(lake, finance, pulls) == [] and run(lake, nobody, pulls) == []


def test_a_company_scope_narrows_every_erp_dataset(
    lake: Lakehouse, models: dict[str, SemanticModel]
) -> None:
    unscoped = lake.authenticate(new_user(lake, ["finance"]).token)
    user = new_user(lake, ["finance"])
    users.grant_companies(lake.db, user.email, [SINGAPORE_ID])
    scoped = lake.authenticate(users.sign_in(lake.db, lake.tokens, user.email, user.password))
    for name in ERP:
        everything = by_company(lake, unscoped, models[name])
        assert set(everything) == COMPANIES, name
        assert by_company(lake, scoped, models[name]) == {SINGAPORE: everything[SINGAPORE]}, name


def test_the_bucket_and_group_expressions_cut_where_aging_and_the_pnl_do(
    lake: Lakehouse, models: dict[str, SemanticModel]
) -> None:
    """The dimension expressions themselves, over every boundary (the demo data may not have
    an item exactly 30 days overdue, or an `income_other` line)."""
    bucket = models["open_items"].dimension("aging_bucket").sql
    days = [0, 1, 30, 31, 60, 61, 90, 91, 400]
    got = reference(
        lake,
        f"SELECT days_overdue, {bucket} FROM unnest(%s::int[]) AS v(days_overdue) ORDER BY 1",
        (days,),
    )
    assert [b for _, b in got] == [
        "not due", "1-30", "1-30", "31-60", "31-60", "61-90", "61-90", "90+", "90+"
    ]  # fmt: skip
    group = models["profit_and_loss"].dimension("account_group").sql
    types = {
        ("income", "income"): "Operating revenue",
        ("income", "income_other"): "Other income",
        ("expense", "expense_direct_cost"): "Cost of revenue",
        ("expense", "expense_depreciation"): "Depreciation",
        ("expense", "expense"): "Operating expenses",
    }
    got = reference(
        lake,
        f"SELECT section, account_type, {group}"
        " FROM unnest(%s::text[], %s::text[]) AS v(section, account_type)",
        ([s for s, _ in types], [t for _, t in types]),
    )
    assert {(s, t): g for s, t, g in got} == types
