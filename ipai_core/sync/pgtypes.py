"""Arrow types ↔ PostgreSQL column types, and which type changes are safe widenings."""

from __future__ import annotations

import pyarrow as pa

from ipai_core.errors import ConfigError


def pg_type(arrow_type: pa.DataType) -> str:
    """The PostgreSQL type a bronze column gets for an Arrow type."""
    t = arrow_type
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_int8(t) or pa.types.is_int16(t) or pa.types.is_uint8(t):
        return "smallint"
    if pa.types.is_int32(t) or pa.types.is_uint16(t):
        return "integer"
    if pa.types.is_int64(t) or pa.types.is_uint32(t):
        return "bigint"
    if pa.types.is_uint64(t):
        return "numeric(20,0)"
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return "real"
    if pa.types.is_float64(t):
        return "double precision"
    if pa.types.is_decimal(t):
        return f"numeric({t.precision},{t.scale})"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "text"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "bytea"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "timestamp with time zone" if t.tz else "timestamp without time zone"
    if pa.types.is_time(t):
        return "time without time zone"
    if pa.types.is_duration(t):
        return "interval"
    if (
        pa.types.is_list(t)
        or pa.types.is_large_list(t)
        or pa.types.is_struct(t)
        or pa.types.is_map(t)
    ):
        return "jsonb"
    if pa.types.is_null(t):
        return "text"
    raise ConfigError(f"no PostgreSQL type for Arrow type `{t}`; cast it in the connector")


# Safe widenings: the old values all fit the new type, so ALTER COLUMN … TYPE keeps every row.
_WIDER: dict[str, set[str]] = {
    "smallint": {"integer", "bigint", "numeric", "real", "double precision", "text"},
    "integer": {"bigint", "numeric", "double precision", "text"},
    "bigint": {"numeric", "text"},
    "real": {"double precision", "text"},
    "double precision": {"text"},
    "numeric": {"text"},
    "boolean": {"text"},
    "date": {"timestamp without time zone", "timestamp with time zone", "text"},
    "timestamp without time zone": {"timestamp with time zone", "text"},
    "timestamp with time zone": {"text"},
    "time without time zone": {"text"},
    "jsonb": {"text"},
}


def base_type(pg: str) -> str:
    """`numeric(12,2)` → `numeric`; other names unchanged."""
    return pg.split("(", 1)[0].strip()


def widening(current: str, wanted: str) -> str | None:
    """The type to ALTER a column to so it holds both, or None when no safe widening exists.

    Equal types need nothing (returns `current`). numeric(p,s) widens to the larger precision and
    scale.
    """
    if current == wanted:
        return current
    cur, new = base_type(current), base_type(wanted)
    if cur == new == "numeric":
        return _wider_numeric(current, wanted)
    if new in _WIDER.get(cur, set()):
        return wanted if new != "numeric" else "numeric"
    if cur in _WIDER.get(new, set()):
        return current  # the source narrowed: the existing column already holds it
    return None


def _wider_numeric(a: str, b: str) -> str:
    def parts(t: str) -> tuple[int, int] | None:
        if "(" not in t:
            return None
        p, s = t[t.index("(") + 1 : t.index(")")].split(",")
        return int(p), int(s)

    pa_, pb = parts(a), parts(b)
    if pa_ is None or pb is None:
        return "numeric"
    scale = max(pa_[1], pb[1])
    integer_digits = max(pa_[0] - pa_[1], pb[0] - pb[1])
    return f"numeric({integer_digits + scale},{scale})"
