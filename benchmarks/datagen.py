"""Deterministic invoice-line data for the ingest benchmark, written as CSV and Parquet in chunks.

Every value of a row is a hash of `(seed, id, column)`, so any row can be made on its own: the
full set is written chunk by chunk (memory bounded by one chunk, whatever the row count), the
first million rows of a ten-million-row set are the one-million-row set, and the "changed rows"
file of an incremental sync is made from the ids it changes.

    python -m benchmarks.datagen --rows 2000 --out /tmp/lines
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from benchmarks.shape import COLUMNS

SEED = 20261124
CHUNK_ROWS = 100_000
CHANGED_ROWS = 10_000
LINES_PER_INVOICE = 8
PRODUCTS = 5_000
FIRST_DAY = np.datetime64("2024-01-01", "D")
DAYS = 730

CURRENCIES = ("EUR", "USD", "GBP", "CHF", "SEK", "PLN")
TAX_BASIS_POINTS = (2000, 0, 2000, 810, 2500, 2300)  # per currency, in 1/10000
_ADJECTIVES = ("Basic", "Premium", "Compact", "Heavy-duty", "Eco", "Deluxe", "Smart", "Classic")
_NOUNS = ("widget", "bracket", "cable", "adapter", "sensor", "valve", "panel", "filter", "pump")
_SIZES = ("small", "medium", "large", "XL", "10 mm", "25 mm", "1 m", "5 m")

SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("invoice_id", pa.int64()),
        pa.field("line_no", pa.int32()),
        pa.field("product_sku", pa.string()),
        pa.field("description", pa.string()),
        pa.field("quantity", pa.int32()),
        pa.field("unit_price", pa.decimal128(12, 2)),
        pa.field("discount", pa.decimal128(12, 2)),
        pa.field("tax_rate", pa.decimal128(5, 4)),
        pa.field("amount", pa.decimal128(14, 2)),
        pa.field("currency", pa.string()),
        pa.field("invoice_date", pa.date32()),
        pa.field("updated_at", pa.timestamp("us", tz="UTC")),
    ]
)
assert tuple(SCHEMA.names) == COLUMNS, "benchmarks.shape and SCHEMA must list the same columns"

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_PRODUCT_SKUS = pa.array([f"SKU-{p:06d}" for p in range(PRODUCTS)])
_PRODUCT_NAMES = pa.array(
    [
        f"{_ADJECTIVES[p % 8]} {_NOUNS[(p // 8) % 9]}, {_SIZES[(p // 72) % 8]} (model {p:04d})"
        for p in range(PRODUCTS)
    ]
)


@dataclass(frozen=True)
class DataSet:
    """The files one generation wrote."""

    rows: int
    csv: Path
    parquet: Path
    changes_csv: Path
    changes_parquet: Path
    changed_ids: int


def generate(
    out: Path, rows: int, *, seed: int = SEED, changed: int = CHANGED_ROWS, chunk: int = CHUNK_ROWS
) -> DataSet:
    """Write `lines.csv`/`lines.parquet` (ids 1..rows) and `changes.csv`/`changes.parquet`
    (`changed` of those ids, spread evenly, with new values) into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    data = DataSet(
        rows=rows,
        csv=out / "lines.csv",
        parquet=out / "lines.parquet",
        changes_csv=out / "changes.csv",
        changes_parquet=out / "changes.parquet",
        changed_ids=min(changed, rows),
    )
    _write(data.csv, data.parquet, _chunks(rows, seed, chunk))
    _write(data.changes_csv, data.changes_parquet, [changed_rows(rows, seed, changed)])
    return data


def rows_for(ids: np.ndarray, seed: int = SEED, *, revision: int = 0) -> pa.Table:
    """The invoice lines with these ids (int64), as `SCHEMA`; `revision` > 0 changes the
    quantity, the amounts, the description and `updated_at` as an edit in the source would."""
    ids = ids.astype(np.int64)
    invoice = (ids - 1) // LINES_PER_INVOICE
    product = _hash(seed, ids, 1) % PRODUCTS
    quantity = 1 + (_hash(seed, ids, 2) % 24).astype(np.int64) + revision
    unit_cents = 99 + (_hash(seed, product, 3) % 50_000).astype(np.int64)
    gross = quantity * unit_cents
    discount_pct = np.where(_hash(seed, ids, 4) % 10 < 7, 0, 5 * (1 + _hash(seed, ids, 5) % 3))
    discount = gross * discount_pct.astype(np.int64) // 100
    currency = (_hash(seed, invoice, 6) % len(CURRENCIES)).astype(np.int64)
    tax = np.asarray(TAX_BASIS_POINTS, dtype=np.int64)[currency]
    amount = ((gross - discount) * (10_000 + tax) + 5_000) // 10_000
    day = (invoice // 500) % DAYS
    dates = FIRST_DAY + day.astype("timedelta64[D]")
    micros = (_hash(seed, ids, 7) % (3 * 86_400_000_000)).astype(np.int64)
    micros += revision * 86_400_000_000
    updated = dates.astype("datetime64[us]") + micros.astype("timedelta64[us]")
    description = _PRODUCT_NAMES.take(pa.array(product.astype(np.int64)))
    if revision:
        description = pc.binary_join_element_wise(description, f" (revision {revision})", "")
    columns = [
        pa.array(ids),
        pa.array(100_000 + invoice),
        pa.array(((ids - 1) % LINES_PER_INVOICE + 1).astype(np.int32)),
        _PRODUCT_SKUS.take(pa.array(product.astype(np.int64))),
        description,
        pa.array(quantity.astype(np.int32)),
        _decimal(unit_cents, 12, 2),
        _decimal(discount, 12, 2),
        _decimal(tax, 5, 4),
        _decimal(amount, 14, 2),
        pa.array(np.asarray(CURRENCIES, dtype=object)[currency], pa.string()),
        pa.array(dates, pa.date32()),
        pa.array(updated, pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC")),
    ]
    return pa.Table.from_arrays(columns, schema=SCHEMA)


def changed_ids(rows: int, changed: int = CHANGED_ROWS) -> np.ndarray:
    """`changed` ids spread evenly over 1..rows (all of them when rows ≤ changed)."""
    count = min(changed, rows)
    return 1 + (np.arange(count, dtype=np.int64) * rows) // count


def changed_rows(rows: int, seed: int = SEED, changed: int = CHANGED_ROWS) -> pa.Table:
    return rows_for(changed_ids(rows, changed), seed, revision=1)


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _chunks(rows: int, seed: int, chunk: int) -> Iterator[pa.Table]:
    for start in range(1, rows + 1, chunk):
        yield rows_for(np.arange(start, min(start + chunk, rows + 1), dtype=np.int64), seed)


def _write(csv_path: Path, parquet_path: Path, tables: Iterator[pa.Table] | list[pa.Table]) -> None:
    """CSV (plain header, quotes only where needed) and Parquet (a row group per chunk)."""
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    with (
        csv_path.open("wb") as csv_file,
        pq.ParquetWriter(parquet_path, SCHEMA, compression="snappy") as parquet,
    ):
        csv_file.write((",".join(SCHEMA.names) + "\n").encode())
        with pacsv.CSVWriter(csv_file, SCHEMA, write_options=options) as writer:
            for table in tables:
                writer.write_table(table)
                parquet.write_table(table)


def _hash(seed: int, values: np.ndarray, column: int) -> np.ndarray:
    """splitmix64 of (seed, value, column): a uniform uint64 per value, the same on every run."""
    with np.errstate(over="ignore"):
        x = values.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        x ^= np.uint64((seed * 1_000_003 + column * 0xBF58476D) & 0xFFFFFFFFFFFFFFFF)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9) & _MASK64
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB) & _MASK64
        return x ^ (x >> np.uint64(31))


def _decimal(unscaled: np.ndarray, precision: int, scale: int) -> pa.Array:
    """A decimal128 array from non-negative unscaled integers (cents → 12.34), without Python
    objects: the 16-byte little-endian value is (unscaled, 0)."""
    words = np.zeros((len(unscaled), 2), dtype=np.int64)
    words[:, 0] = unscaled
    return pa.Array.from_buffers(
        pa.decimal128(precision, scale), len(unscaled), [None, pa.py_buffer(words.tobytes())]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    data = generate(args.out, args.rows, seed=args.seed)
    for path in (data.csv, data.parquet, data.changes_csv, data.changes_parquet):
        print(f"{path}  {path.stat().st_size:>12,d} B  sha256 {file_digest(path)[:16]}")


if __name__ == "__main__":
    main()
