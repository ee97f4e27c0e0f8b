"""The catalog lists lakehouse objects with RLS status, comments and the rows each user can see."""

from __future__ import annotations

import psycopg
import pytest
from conftest import UserMaker

from ipai_core import Lakehouse, Principal
from ipai_core.catalog.objects import list_objects, list_schemas


@pytest.fixture(scope="module")
def sales_table(database_url: str) -> str:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("""
            CREATE TABLE IF NOT EXISTS ipai_gold_retail.test_sales (region text, amount int);
            COMMENT ON TABLE ipai_gold_retail.test_sales IS 'Sales by region (test).';
            ALTER TABLE ipai_gold_retail.test_sales ENABLE ROW LEVEL SECURITY;
            CREATE POLICY retail_only ON ipai_gold_retail.test_sales FOR SELECT TO authenticated
              USING (public.ipai_has_role('retail'));
            INSERT INTO ipai_gold_retail.test_sales VALUES ('north', 1), ('south', 2), ('east', 3);
        """)
    return "test_sales"


def test_every_prd_schema_is_listed_with_its_layer(
    lakehouse: Lakehouse, make_user: UserMaker
) -> None:
    _, _, token = make_user([])
    with lakehouse.session(lakehouse.authenticate(token)) as s:
        schemas = {sc.name: sc for sc in list_schemas(s)}
    for name in [
        "ipai_bronze_core",
        "ipai_silver_core",
        "ipai_gold_core",
        "ipai_platinum_core",
        "ipai_bronze_erp",
        "ipai_silver_erp",
        "ipai_gold_erp",
        "ipai_bronze_devops",
        "ipai_gold_devops",
        "ipai_bronze_retail",
        "ipai_gold_retail",
        "ipai_bronze_creative",
        "ipai_gold_creative",
    ]:
        assert name in schemas, name
        assert schemas[name].comment, f"{name} has no COMMENT"
    assert schemas["ipai_gold_erp"].layer == "gold" and schemas["ipai_gold_erp"].domain == "erp"
    assert schemas["public"].layer == "control"


def test_row_counts_are_what_each_user_may_see(
    lakehouse: Lakehouse, make_user: UserMaker, sales_table: str
) -> None:
    def sales_rows(roles: list[str]) -> int | None:
        _, _, token = make_user(roles)
        with lakehouse.session(lakehouse.authenticate(token)) as s:
            objects = {o.name: o for o in list_objects(s, "ipai_gold_retail")}
        found = objects[sales_table]
        assert found.rls_enabled and found.policies == 1 and found.kind == "table"
        assert found.comment == "Sales by region (test)."
        return found.row_count

    assert sales_rows(["retail"]) == 3
    assert sales_rows(["finance"]) == 0


def test_objects_the_principal_cannot_read_have_no_row_count(lakehouse: Lakehouse) -> None:
    with lakehouse.session(Principal.anonymous()) as s:
        objects = {o.qualified_name: o for o in list_objects(s)}
    audit = objects["public.ipai_audit_log"]
    assert not audit.readable and audit.row_count is None
