"""Retail and creative demo data flows through the file connectors into gold, and the gold
numbers match figures computed by hand from the same files."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from conftest import UserMaker

from ipai_core import Lakehouse
from ipai_core.demo.load import load_demo
from ipai_core.demo.retail_data import write_retail_demo

TODAY = date(2026, 11, 1)


@pytest.fixture(scope="module")
def demo(lakehouse: Lakehouse) -> Path:
    report = load_demo(lakehouse, today=TODAY)
    assert report.ok, [r.error for r in report.runs] + [o.error for o in report.transform.outcomes]
    return lakehouse.settings.data_dir / "demo" / "retail"


def test_generator_is_deterministic(tmp_path: Path) -> None:
    a = write_retail_demo(tmp_path / "a", end=TODAY)
    b = write_retail_demo(tmp_path / "b", end=TODAY)
    for left, right in zip(a.__dict__.values(), b.__dict__.values(), strict=True):
        assert left.read_bytes() == right.read_bytes()


def test_gold_sales_equal_hand_computed_totals(
    demo: Path, lakehouse: Lakehouse, make_user: UserMaker
) -> None:
    expected: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    with (demo / "transactions.csv").open() as handle:
        for row in csv.DictReader(handle):
            net = Decimal(row["quantity"]) * Decimal(row["unit_price"]) - Decimal(row["discount"])
            expected[(row["txn_ts"][:10], row["store_code"])] += net
    _, _, token = make_user(["retail"])
    frame = lakehouse.query(
        lakehouse.authenticate(token),
        "SELECT day::text AS day, store_code, sum(revenue) AS revenue"
        " FROM ipai_gold_retail.sales_daily GROUP BY 1, 2",
    )
    got = {(r["day"], r["store_code"]): Decimal(str(r["revenue"])) for r in frame.to_dicts()}
    assert got == dict(expected)


def test_campaign_roi_and_creative_kpis(
    demo: Path, lakehouse: Lakehouse, make_user: UserMaker
) -> None:
    _, _, token = make_user(["marketing"])
    me = lakehouse.authenticate(token)
    campaigns = lakehouse.query(
        me, "SELECT campaign_code, budget, revenue, roi FROM ipai_gold_retail.campaign_performance"
    )
    assert campaigns.height == 6
    for row in campaigns.to_dicts():
        budget, revenue = Decimal(str(row["budget"])), Decimal(str(row["revenue"]))
        assert Decimal(str(row["roi"])) == ((revenue - budget) / budget).quantize(Decimal("0.0001"))
    creatives = lakehouse.query(
        me, "SELECT impressions, clicks, ctr FROM ipai_gold_creative.creative_effectiveness"
    )
    assert creatives.height == 18
    for row in creatives.to_dicts():
        ratio = Decimal(row["clicks"]) / Decimal(row["impressions"])
        assert Decimal(str(row["ctr"])) == ratio.quantize(Decimal("0.0001"))


def test_gold_is_refused_without_the_role(
    demo: Path, lakehouse: Lakehouse, make_user: UserMaker, owner_conn: psycopg.Connection
) -> None:
    _, _, token = make_user(["finance"])
    me = lakehouse.authenticate(token)
    assert lakehouse.query(me, "SELECT * FROM ipai_gold_retail.sales_daily").height == 0
    from ipai_core import AccessDenied

    with pytest.raises(AccessDenied):
        lakehouse.query(me, "SELECT * FROM ipai_gold_retail.mv_sales_daily")
    assert owner_conn.execute(
        "SELECT count(*) > 0 FROM ipai_gold_retail.mv_sales_daily"
    ).fetchone() == (True,)
