"""The invoice-line table's columns, in order, as each loader names their types. No heavy
imports here: the psql worker loads this and stays a small process."""

from __future__ import annotations

# The file connector's `columns` config (the names connector configs use).
COLUMN_TYPES = {
    "id": "bigint",
    "invoice_id": "bigint",
    "line_no": "int32",
    "product_sku": "text",
    "description": "text",
    "quantity": "int32",
    "unit_price": "decimal(12,2)",
    "discount": "decimal(12,2)",
    "tax_rate": "decimal(5,4)",
    "amount": "decimal(14,2)",
    "currency": "text",
    "invoice_date": "date",
    "updated_at": "timestamptz",
}

# The same columns in PostgreSQL, as bronze creates them (for the psql and Arrow COPY peers).
PG_COLUMNS = {
    "id": "bigint NOT NULL",
    "invoice_id": "bigint",
    "line_no": "integer",
    "product_sku": "text",
    "description": "text",
    "quantity": "integer",
    "unit_price": "numeric(12,2)",
    "discount": "numeric(12,2)",
    "tax_rate": "numeric(5,4)",
    "amount": "numeric(14,2)",
    "currency": "text",
    "invoice_date": "date",
    "updated_at": "timestamp with time zone",
}

COLUMNS = tuple(PG_COLUMNS)
