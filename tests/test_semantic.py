"""The semantic layer: model validation, the compiler (declared fields only, bound values, fixed
operators, grains, caps), and every seeded model run against the demo data under RLS."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from ipai_core.db.principal import Principal
from ipai_core.errors import AccessDenied, SemanticQueryError, UnknownField, UnsafeSql
from ipai_core.genie.text import phrase_stems
from ipai_core.lakehouse import Lakehouse
from ipai_core.semantic import (
    Filter,
    SemanticModel,
    SemanticQuery,
    TimeRange,
    compile_query,
    load_model,
    load_models,
    run_semantic_query,
)
from ipai_core.semantic.models import Dimension, Measure

SEEDED = {
    "profit_and_loss",
    "balance_sheet",
    "cash_flow",
    "aging",
    "open_items",
    "dora_summary",
    "deployments_weekly",
    "lead_time",
    "ci_weekly",
    "incidents",
    "spec_kit_coverage",
    "sales_daily",
    "campaign_performance",
    "creative_effectiveness",
}


def pnl_model(**overrides: Any) -> SemanticModel:
    values: dict[str, Any] = {
        "dataset": "pnl",
        "source_view": "ipai_gold_erp.profit_and_loss",
        "grain": "company x month",
        "measures": [
            Measure(name="revenue", label="Revenue", sql="amount"),
            Measure(
                name="margin",
                label="Margin",
                sql="sum(amount) / nullif(count(*), 0)",
                aggregation="none",
                format="percent",
            ),
        ],
        "dimensions": [
            Dimension(
                name="month",
                label="Month",
                column="month",
                type="date",
                time_grains=("month", "quarter", "year"),
            ),
            Dimension(name="company", label="Company", column="company_name", lookup=True),
            Dimension(name="company_id", label="Company id", column="company_id", type="number"),
        ],
    }
    values.update(overrides)
    return SemanticModel(**values)


def principal(lake: Lakehouse, roles: list[str], **app_metadata: Any) -> Principal:
    token = lake.tokens.issue(
        user_id=str(uuid.uuid4()),
        email="semantic@example.test",
        roles=roles,
        extra_claims={"app_metadata": {"provider": "ipai", "roles": roles, **app_metadata}},
    )
    return lake.authenticate(token)


# --- models


@pytest.mark.parametrize(
    "expression",
    [
        "amount; DROP TABLE x",
        "(SELECT max(amount) FROM ipai_gold_erp.aging)",
        "p.amount",
        "amount FROM ipai_bronze_erp.account_move",
    ],
)
def test_a_measure_expression_must_be_one_expression_over_bare_columns(expression: str) -> None:
    with pytest.raises(UnsafeSql):
        Measure(name="bad", label="Bad", sql=expression)


def test_a_measure_must_not_aggregate_twice() -> None:
    with pytest.raises(ValueError):
        Measure(name="bad", label="Bad", sql="sum(amount)")  # its aggregation is `sum` already


def test_a_ratio_must_aggregate_by_itself() -> None:
    with pytest.raises(ValueError):
        Measure(name="ratio", label="Ratio", sql="a / b", aggregation="none")


def test_field_names_are_one_namespace() -> None:
    with pytest.raises(ValueError):
        pnl_model(dimensions=[Dimension(name="revenue", label="Revenue", column="revenue")])


def test_filters_check_their_value_shape() -> None:
    with pytest.raises(ValueError):
        Filter(field="company", op="in", value="IPAI Demo Manila")
    with pytest.raises(ValueError):
        Filter(field="month", op="between", value=["2026-01-01"])
    with pytest.raises(ValueError):
        Filter(field="company", op="DROP")  # type: ignore[arg-type]


# --- compiler


def test_unknown_fields_are_refused_with_the_known_ones() -> None:
    model = pnl_model()
    with pytest.raises(UnknownField) as measure:
        compile_query(model, SemanticQuery(dataset="pnl", measures=["profit"]))
    assert set(measure.value.known) == {"margin", "revenue"}
    with pytest.raises(UnknownField) as dimension:
        compile_query(model, SemanticQuery(dataset="pnl", measures=["revenue"], dimensions=["x"]))
    assert set(dimension.value.known) == {"month", "company", "company_id"}
    with pytest.raises(UnknownField):
        compile_query(
            model,
            SemanticQuery(dataset="pnl", measures=["revenue"], order_by=[{"field": "amount"}]),
        )


def test_values_are_bound_never_spliced_into_the_sql() -> None:
    hostile = "x' OR 1=1; DROP TABLE ipai_audit_log; --"
    compiled = compile_query(
        pnl_model(),
        SemanticQuery(
            dataset="pnl",
            measures=["revenue"],
            filters=[Filter(field="company", value=hostile)],
        ),
    )
    assert hostile not in compiled.sql
    assert compiled.params == [hostile]
    assert '"company_name" = %s::text' in compiled.sql


def test_every_operator_compiles_with_typed_parameters() -> None:
    model = pnl_model()
    cases = {
        "=": ("company", "A", '"company_name" = %s::text'),
        "!=": ("company", "A", '"company_name" <> %s::text'),
        ">=": ("company_id", 2, '"company_id" >= %s::numeric'),
        "in": ("company", ["A", "B"], '"company_name" = ANY(%s::text[])'),
        "not in": ("company_id", [1], 'NOT coalesce("company_id" = ANY(%s::numeric[]), false)'),
        "between": ("month", ["2026-01-01", "2026-03-01"], "BETWEEN %s::date AND %s::date"),
        "contains": ("company", "50%_off", '"company_name"::text ILIKE %s'),
        "is null": ("company", None, '"company_name" IS NULL'),
    }
    for op, (field, value, fragment) in cases.items():
        query = SemanticQuery(
            dataset="pnl", measures=["revenue"], filters=[Filter(field=field, op=op, value=value)]
        )
        compiled = compile_query(model, query)
        assert fragment in compiled.sql, op
    contains = SemanticQuery(
        dataset="pnl",
        measures=["revenue"],
        filters=[Filter(field="company", op="contains", value="50%_off")],
    )
    assert compile_query(model, contains).params == ["%50\\%\\_off%"]


def test_measure_filters_go_to_having_after_the_where_parameters() -> None:
    compiled = compile_query(
        pnl_model(),
        SemanticQuery(
            dataset="pnl",
            measures=["revenue"],
            dimensions=["company"],
            filters=[
                Filter(field="revenue", op=">", value=1000),
                Filter(field="company", value="A"),
            ],
            time_range=TimeRange(start=date(2026, 1, 1)),
        ),
    )
    assert "HAVING sum(amount) > %s::numeric" in compiled.sql
    assert compiled.params == ["A", date(2026, 1, 1), 1000]


def test_time_grain_truncates_and_groups_first() -> None:
    compiled = compile_query(
        pnl_model(),
        SemanticQuery(
            dataset="pnl",
            measures=["revenue"],
            dimensions=["company"],
            time_grain="quarter",
            time_range=TimeRange(start=date(2026, 1, 1), end=date(2026, 7, 1)),
        ),
    )
    assert compiled.columns == ["month", "company", "revenue"]
    assert compiled.sql.startswith(
        'SELECT date_trunc(\'quarter\', "month")::date AS "month", "company_name" AS'
    )
    assert '"month" >= %s::date AND "month" < %s::date' in compiled.sql
    assert "GROUP BY 1, 2" in compiled.sql and "ORDER BY 1" in compiled.sql


def test_a_grain_the_dimension_does_not_offer_is_refused() -> None:
    with pytest.raises(SemanticQueryError):
        compile_query(
            pnl_model(), SemanticQuery(dataset="pnl", measures=["revenue"], time_grain="week")
        )


def test_a_time_range_needs_a_time_dimension() -> None:
    model = pnl_model(dimensions=[Dimension(name="company", label="C", column="company_name")])
    with pytest.raises(SemanticQueryError):
        compile_query(
            model,
            SemanticQuery(
                dataset="pnl", measures=["revenue"], time_range=TimeRange(start=date(2026, 1, 1))
            ),
        )


def test_limit_is_capped() -> None:
    query = SemanticQuery(dataset="pnl", measures=["revenue"], limit=10_000_000)
    with pytest.raises(SemanticQueryError):
        compile_query(pnl_model(), query)
    with pytest.raises(SemanticQueryError):
        compile_query(pnl_model(), query.model_copy(update={"limit": 501}), max_limit=500)


def test_default_filters_apply_unless_the_query_takes_the_field() -> None:
    model = pnl_model(default_filters=[Filter(field="company", value="Main")])
    plain = compile_query(model, SemanticQuery(dataset="pnl", measures=["revenue"]))
    assert plain.params == ["Main"]
    grouped = SemanticQuery(dataset="pnl", measures=["revenue"], dimensions=["company"])
    assert compile_query(model, grouped).params == []
    filtered = SemanticQuery(
        dataset="pnl", measures=["revenue"], filters=[Filter(field="company", value="Other")]
    )
    assert compile_query(model, filtered).params == ["Other"]


def test_percent_signs_in_model_expressions_survive_parameter_binding() -> None:
    model = pnl_model(
        measures=[
            Measure(
                name="share",
                label="Share",
                sql="count(*) FILTER (WHERE company_name LIKE 'IPAI%')",
                aggregation="none",
            )
        ]
    )
    compiled = compile_query(
        model,
        SemanticQuery(
            dataset="pnl", measures=["share"], filters=[Filter(field="company_id", value=1)]
        ),
    )
    assert "LIKE 'IPAI%%'" in compiled.sql and compiled.params == [1]


# --- seeded models on the demo data


def test_seeded_models_load_for_any_signed_in_user(demo_lakehouse: Lakehouse) -> None:
    with demo_lakehouse.session(principal(demo_lakehouse, [])) as s:
        models = load_models(s)
    assert set(models) >= SEEDED
    with demo_lakehouse.session(Principal.anonymous()) as s, pytest.raises(AccessDenied):
        load_models(s)


def test_every_seeded_measure_and_dimension_compiles_and_runs(demo_lakehouse: Lakehouse) -> None:
    admin = principal(demo_lakehouse, ["admin"])
    with demo_lakehouse.session(admin) as s:
        models = {name: m for name, m in load_models(s).items() if name in SEEDED}
        for name, model in models.items():
            first_dimension = [d.name for d in model.dimensions if not d.is_time][:1]
            for measure in model.measures:
                query = SemanticQuery(
                    dataset=name, measures=[measure.name], dimensions=first_dimension
                )
                frame = run_semantic_query(s, query, model=model)
                assert frame.columns == [*first_dimension, measure.name]
                assert frame.height > 0, f"{name}.{measure.name} returned no rows"
            for dimension in model.dimensions:
                grain = dimension.time_grains[-1] if dimension.time_grains else None
                query = SemanticQuery(
                    dataset=name,
                    measures=[model.measures[0].name],
                    dimensions=[] if dimension.is_time else [dimension.name],
                    time_grain=grain if dimension.is_time else None,
                    time_dimension=dimension.name if dimension.is_time else None,
                )
                frame = run_semantic_query(s, query, model=model)
                assert dimension.name in frame.columns and frame.height > 0, (
                    f"{name}.{dimension.name}"
                )


def test_no_two_measures_of_a_seeded_model_answer_to_the_same_words(
    demo_lakehouse: Lakehouse,
) -> None:
    """Genie would have to ask back every time those words came up."""
    with demo_lakehouse.session(principal(demo_lakehouse, [])) as s:
        models = load_models(s)
    for name in SEEDED:
        owners: dict[tuple[str, ...], str] = {}
        for measure in models[name].measures:
            for phrase in {measure.name, measure.label, *measure.synonyms}:
                stems = phrase_stems(phrase)
                other = owners.setdefault(stems, measure.name)
                assert other == measure.name, f"{name}: `{phrase}` names {other} and {measure.name}"


def test_semantic_queries_run_under_the_callers_rls(demo_lakehouse: Lakehouse) -> None:
    query = SemanticQuery(dataset="profit_and_loss", measures=["revenue"], dimensions=["company"])
    everyone = principal(demo_lakehouse, ["finance"])
    only_first = principal(demo_lakehouse, ["finance"], company_ids=[1])
    nobody = principal(demo_lakehouse, ["analyst"])
    results = {}
    for label, who in (("all", everyone), ("first", only_first), ("none", nobody)):
        with demo_lakehouse.session(who) as s:
            results[label] = dict(run_semantic_query(s, query).rows())
    assert set(results["all"]) == {"IPAI Demo Manila", "IPAI Demo Singapore"}
    assert results["first"] == {"IPAI Demo Manila": results["all"]["IPAI Demo Manila"]}
    assert results["none"] == {}


def test_latest_month_end_is_the_default_and_follows_the_time_range(
    demo_lakehouse: Lakehouse,
) -> None:
    admin = principal(demo_lakehouse, ["admin"])
    reference = """
        SELECT sum(amount) FROM ipai_gold_erp.balance_sheet_monthly
         WHERE section = 'asset' AND month_end = %s"""
    with demo_lakehouse.session(admin) as s:
        model = load_model(s, "balance_sheet")
        latest = s.scalar("SELECT max(month_end) FROM ipai_gold_erp.balance_sheet_monthly")
        now = run_semantic_query(
            s, SemanticQuery(dataset="balance_sheet", measures=["total_assets"]), model=model
        )
        june = run_semantic_query(
            s,
            SemanticQuery(
                dataset="balance_sheet",
                measures=["total_assets"],
                time_range=TimeRange(start=date(2026, 4, 1), end=date(2026, 7, 1)),
            ),
            model=model,
        )
        assert now.item() == s.scalar(reference, [latest])
        assert june.item() == s.scalar(reference, [date(2026, 6, 30)])
        assert isinstance(june.item(), Decimal)


def test_an_unknown_dataset_lists_the_known_ones(demo_lakehouse: Lakehouse) -> None:
    with (
        demo_lakehouse.session(principal(demo_lakehouse, [])) as s,
        pytest.raises(UnknownField) as caught,
    ):
        run_semantic_query(s, SemanticQuery(dataset="revenue_cube", measures=["x"]))
    assert set(caught.value.known) >= SEEDED
