"""Column type names users write in connector configs (`"decimal(12,2)"`, `"timestamptz"`) and
the Arrow types they mean."""

from __future__ import annotations

import re

import polars as pl
import pyarrow as pa

from ipai_core.errors import ConfigError

_SIMPLE: dict[str, pa.DataType] = {
    "string": pa.string(),
    "text": pa.string(),
    "json": pa.string(),
    "int": pa.int64(),
    "integer": pa.int64(),
    "int64": pa.int64(),
    "bigint": pa.int64(),
    "int32": pa.int32(),
    "smallint": pa.int16(),
    "int16": pa.int16(),
    "float": pa.float64(),
    "double": pa.float64(),
    "float64": pa.float64(),
    "real": pa.float32(),
    "bool": pa.bool_(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
}
_DECIMAL = re.compile(r"^(decimal|numeric)\((\d+),\s*(\d+)\)$")
TYPE_NAMES = (*sorted(_SIMPLE), "decimal(p,s)")


def arrow_type(spec: str) -> pa.DataType:
    """`"decimal(12,2)"` → `decimal128(12, 2)`; an unknown name lists the known ones."""
    name = spec.strip().lower()
    if name in _SIMPLE:
        return _SIMPLE[name]
    match = _DECIMAL.match(name)
    if match:
        precision, scale = int(match[2]), int(match[3])
        if not 0 < precision <= 38 or scale > precision:
            raise ConfigError(f"`{spec}`: precision must be 1 to 38 and scale ≤ precision")
        return pa.decimal128(precision, scale)
    raise ConfigError(f"unknown column type `{spec}`; use one of: {', '.join(TYPE_NAMES)}")


def from_polars(dtype: pl.DataType) -> pa.DataType:
    """The Arrow type for a type Polars inferred from a sample (strings for anything exotic)."""
    if dtype.is_integer():
        return pa.int64()
    if dtype.is_float():
        return pa.float64()
    if dtype == pl.Boolean:
        return pa.bool_()
    if dtype == pl.Date:
        return pa.date32()
    if isinstance(dtype, pl.Datetime):
        return pa.timestamp("us", tz="UTC" if dtype.time_zone else None)
    if isinstance(dtype, pl.Decimal):
        return pa.decimal128(dtype.precision or 38, dtype.scale or 0)
    return pa.string()
