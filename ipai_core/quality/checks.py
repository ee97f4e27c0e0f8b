"""Check kinds: for each, its parameters (a pydantic model), the SQL that measures it (a `Plan`:
pure data composed with `psycopg.sql`, never an identifier pasted into a string), and the
judgement of what was measured (pure). Only `runner` touches the database.

    freshness        the newest `column` is at most `max_age` old
    volume           the row count is no anomaly against the check's earlier results
                     (z-score with a relative tolerance, or a ratio band around their median)
    not_null         at most `max_null_share` of `column` is NULL
    unique           no two rows share `columns` (rows with a NULL in them are not compared)
    accepted_values  `column` holds only `values` (compared as text) or NULL
    referential      every non-NULL `column` exists in `to`.`to_column`
    schema_drift     the relation's columns and types equal the `columns` snapshot; read from
                     the catalog (`pg_attribute`), not `information_schema`, which omits
                     materialized views — and gold is materialized

A measure returns one row. When it does not pass, an optional sample query returns up to
`SAMPLE_SIZE` offending keys or values, kept in the result's `observed.sample`.
"""

from __future__ import annotations

import statistics
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, Literal

from psycopg import sql
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from ipai_core.errors import ConfigError

SAMPLE_SIZE = 5
RELATION_PATTERN = r"^ipai_(bronze|silver|gold|platinum)_[a-z0-9_]+\.[A-Za-z_][A-Za-z0-9_]*$"
ColumnName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=63)]
RelationName = Annotated[str, StringConstraints(pattern=RELATION_PATTERN)]
Statement = sql.SQL | sql.Composed
KINDS = (
    "freshness",
    "volume",
    "not_null",
    "unique",
    "accepted_values",
    "referential",
    "schema_drift",
)


@dataclass(frozen=True)
class Plan:
    """What to run: the measure (one row), and the sample query used only when it fails."""

    measure: Statement
    params: tuple[Any, ...] = ()
    sample: Statement | None = None
    sample_params: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Verdict:
    """Whether the rule held, one line for people, and what was observed (JSON-ready)."""

    passed: bool
    message: str
    observed: dict[str, Any]


def relation(name: str) -> sql.Identifier:
    """`schema.relation` (already validated against `RELATION_PATTERN`) as a quoted identifier."""
    schema, table = name.split(".", 1)
    return sql.Identifier(schema, table)


class _Kind(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @abstractmethod
    def plan(self, target: str) -> Plan:
        """The SQL that measures the rule on `target`."""

    @abstractmethod
    def judge(self, row: Mapping[str, Any], history: Sequence[float]) -> Verdict:
        """The verdict on the measured `row`; `history`: earlier values, newest first."""

    def reads(self) -> frozenset[str]:
        """Relations the check reads besides its target (a change there touches it too)."""
        return frozenset()


class Freshness(_Kind):
    kind: Literal["freshness"] = "freshness"
    column: ColumnName
    max_age: timedelta = Field(gt=timedelta(0))

    def plan(self, target: str) -> Plan:
        latest = sql.SQL("max({})::timestamptz").format(sql.Identifier(self.column))
        return Plan(
            sql.SQL(
                "SELECT {latest} AS latest,"
                " extract(epoch FROM now() - {latest})::float8 AS age_s FROM {target}"
            ).format(latest=latest, target=relation(target))
        )

    def judge(self, row: Mapping[str, Any], history: Sequence[float]) -> Verdict:
        limit = self.max_age.total_seconds()
        if row["latest"] is None:
            return Verdict(
                False,
                f"no `{self.column}` value at all: the relation is empty or the column is NULL",
                {"value": None, "threshold": limit},
            )
        age = float(row["age_s"])
        observed = {"value": round(age, 3), "threshold": limit, "latest": row["latest"].isoformat()}
        if age > limit:
            return Verdict(
                False,
                f"newest `{self.column}` is {_span(age)} old, over the {_span(limit)} allowed",
                observed,
            )
        return Verdict(True, f"newest `{self.column}` is {_span(age)} old", observed)


class Volume(_Kind):
    kind: Literal["volume"] = "volume"
    method: Literal["zscore", "ratio"] = "zscore"
    max_z: float = Field(default=3.0, gt=0)
    tolerance: float = Field(default=0.05, ge=0)
    min_ratio: float = Field(default=0.5, ge=0)
    max_ratio: float = Field(default=2.0, gt=0)
    min_history: int = Field(default=5, ge=2)
    window: int = Field(default=30, ge=2, le=1000)

    @model_validator(mode="after")
    def _band(self) -> Volume:
        if self.min_ratio >= self.max_ratio:
            raise ValueError("min_ratio must be below max_ratio")
        if self.min_history > self.window:
            raise ValueError("min_history cannot exceed window")
        return self

    def plan(self, target: str) -> Plan:
        return Plan(sql.SQL("SELECT count(*)::bigint AS value FROM {}").format(relation(target)))

    def judge(self, row: Mapping[str, Any], history: Sequence[float]) -> Verdict:
        value = float(row["value"])
        if len(history) < self.min_history:
            return Verdict(
                True,
                f"{int(value):,} rows; collecting history ({len(history)} of "
                f"{self.min_history} earlier results)",
                {"value": value, "history": len(history)},
            )
        lower, upper, stats = self._bounds(history)
        observed = {"value": value, "lower": lower, "upper": upper, "history": len(history)}
        observed |= stats
        if lower <= value <= upper:
            return Verdict(
                True, f"{int(value):,} rows, within {lower:,.0f} to {upper:,.0f}", observed
            )
        return Verdict(
            False,
            f"{int(value):,} rows, outside the expected {lower:,.0f} to {upper:,.0f} "
            f"({self.method} over the last {len(history)} results)",
            observed,
        )

    def _bounds(self, history: Sequence[float]) -> tuple[float, float, dict[str, float]]:
        if self.method == "ratio":
            baseline = statistics.median(history)
            return (
                baseline * self.min_ratio,
                baseline * self.max_ratio,
                {"median": baseline},
            )
        mean = statistics.fmean(history)
        stddev = statistics.stdev(history)
        # A relative floor: a table whose count never moved must not fail on its first small change.
        band = max(self.max_z * stddev, self.tolerance * abs(mean))
        return mean - band, mean + band, {"mean": mean, "stddev": stddev}


class NotNull(_Kind):
    kind: Literal["not_null"] = "not_null"
    column: ColumnName
    max_null_share: float = Field(default=0.0, ge=0, le=1)
    key_columns: tuple[ColumnName, ...] = ()

    def plan(self, target: str) -> Plan:
        column = sql.Identifier(self.column)
        sample = None
        if self.key_columns:
            sample = sql.SQL("SELECT {keys} FROM {target} WHERE {column} IS NULL LIMIT {n}").format(
                keys=_columns(self.key_columns),
                target=relation(target),
                column=column,
                n=sql.Literal(SAMPLE_SIZE),
            )
        return Plan(
            sql.SQL(
                "SELECT count(*)::bigint AS total,"
                " count(*) FILTER (WHERE {column} IS NULL)::bigint AS nulls FROM {target}"
            ).format(column=column, target=relation(target)),
            sample=sample,
        )

    def judge(self, row: Mapping[str, Any], history: Sequence[float]) -> Verdict:
        total, nulls = int(row["total"]), int(row["nulls"])
        share = nulls / total if total else 0.0
        observed = {"value": share, "threshold": self.max_null_share, "nulls": nulls}
        observed["rows"] = total
        text = f"{nulls:,} of {total:,} rows ({share:.2%}) have no `{self.column}`"
        if share > self.max_null_share:
            return Verdict(False, f"{text}, over the {self.max_null_share:.2%} allowed", observed)
        return Verdict(True, text, observed)


class Unique(_Kind):
    kind: Literal["unique"] = "unique"
    columns: tuple[ColumnName, ...] = Field(min_length=1)

    def plan(self, target: str) -> Plan:
        present = sql.SQL(" AND ").join(
            sql.SQL("{} IS NOT NULL").format(sql.Identifier(c)) for c in self.columns
        )
        parts = {"cols": _columns(self.columns), "target": relation(target), "present": present}
        return Plan(
            sql.SQL(
                "SELECT count(*)::bigint AS duplicate_keys,"
                " coalesce(sum(n), 0)::bigint AS duplicate_rows FROM (SELECT count(*) AS n"
                " FROM {target} WHERE {present} GROUP BY {cols} HAVING count(*) > 1) d"
            ).format(**parts),
            sample=sql.SQL(
                "SELECT {cols}, count(*) AS rows FROM {target} WHERE {present} GROUP BY {cols}"
                " HAVING count(*) > 1 ORDER BY count(*) DESC LIMIT {n}"
            ).format(n=sql.Literal(SAMPLE_SIZE), **parts),
        )

    def judge(self, row: Mapping[str, Any], history: Sequence[float]) -> Verdict:
        keys, rows = int(row["duplicate_keys"]), int(row["duplicate_rows"])
        label = ", ".join(self.columns)
        observed = {"value": keys, "threshold": 0, "duplicate_rows": rows}
        if keys:
            return Verdict(False, f"{keys:,} ({label}) value(s) occur more than once", observed)
        return Verdict(True, f"({label}) is unique", observed)


class AcceptedValues(_Kind):
    kind: Literal["accepted_values"] = "accepted_values"
    column: ColumnName
    values: tuple[str | int | bool, ...] = Field(min_length=1)

    def _texts(self) -> list[str]:
        """The values as Postgres prints them (`true`, `42`, `posted`): compared as text."""
        return [str(v).lower() if isinstance(v, bool) else str(v) for v in self.values]

    def plan(self, target: str) -> Plan:
        unexpected = sql.SQL("{c} IS NOT NULL AND NOT ({c}::text = ANY(%s::text[]))").format(
            c=sql.Identifier(self.column)
        )
        parts = {"unexpected": unexpected, "target": relation(target)}
        return Plan(
            sql.SQL(
                "SELECT count(*)::bigint AS total,"
                " count(*) FILTER (WHERE {unexpected})::bigint AS unexpected FROM {target}"
            ).format(**parts),
            (self._texts(),),
            sql.SQL(
                "SELECT {c}::text AS value, count(*) AS rows FROM {target} WHERE {unexpected}"
                " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {n}"
            ).format(c=sql.Identifier(self.column), n=sql.Literal(SAMPLE_SIZE), **parts),
            (self._texts(),),
        )

    def judge(self, row: Mapping[str, Any], history: Sequence[float]) -> Verdict:
        total, bad = int(row["total"]), int(row["unexpected"])
        observed = {"value": bad, "threshold": 0, "rows": total, "accepted": self._texts()}
        if bad:
            return Verdict(
                False, f"{bad:,} of {total:,} rows have an unexpected `{self.column}`", observed
            )
        return Verdict(True, f"every `{self.column}` is one of the accepted values", observed)


class Referential(_Kind):
    kind: Literal["referential"] = "referential"
    column: ColumnName
    to: RelationName
    to_column: ColumnName

    def reads(self) -> frozenset[str]:
        return frozenset({self.to})

    def plan(self, target: str) -> Plan:
        parts = {
            "target": relation(target),
            "column": sql.Identifier("t", self.column),
            "to": relation(self.to),
            "to_column": sql.Identifier("r", self.to_column),
        }
        orphans = sql.SQL(
            "FROM {target} t WHERE {column} IS NOT NULL AND NOT EXISTS"
            " (SELECT 1 FROM {to} r WHERE {to_column} = {column})"
        ).format(**parts)
        return Plan(
            sql.SQL("SELECT count(*)::bigint AS orphans {}").format(orphans),
            sample=sql.SQL("SELECT DISTINCT {column}::text AS value {orphans} LIMIT {n}").format(
                column=parts["column"], orphans=orphans, n=sql.Literal(SAMPLE_SIZE)
            ),
        )

    def judge(self, row: Mapping[str, Any], history: Sequence[float]) -> Verdict:
        orphans = int(row["orphans"])
        target = f"{self.to}.{self.to_column}"
        observed = {"value": orphans, "threshold": 0, "references": target}
        if orphans:
            return Verdict(
                False,
                f"{orphans:,} row(s) point to a `{self.column}` missing from {target}",
                observed,
            )
        return Verdict(True, f"every `{self.column}` exists in {target}", observed)


class SchemaDrift(_Kind):
    kind: Literal["schema_drift"] = "schema_drift"
    columns: dict[ColumnName, str] = Field(min_length=1)
    allow_added: bool = False

    def plan(self, target: str) -> Plan:
        return Plan(
            sql.SQL(
                "SELECT coalesce(jsonb_object_agg(a.attname, format_type(a.atttypid, a.atttypmod)),"
                " '{}'::jsonb) AS columns FROM pg_catalog.pg_attribute a"
                " WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped"
            ),
            (relation(target).as_string(),),
        )

    def judge(self, row: Mapping[str, Any], history: Sequence[float]) -> Verdict:
        actual: dict[str, str] = dict(row["columns"])
        expected = {name: normalize_type(t) for name, t in self.columns.items()}
        missing = sorted(set(expected) - set(actual))
        added = sorted(set(actual) - set(expected))
        changed = [
            {"column": c, "expected": expected[c], "actual": actual[c]}
            for c in sorted(set(expected) & set(actual))
            if expected[c] != actual[c]
        ]
        observed: dict[str, Any] = {"missing": missing, "added": added, "changed": changed}
        observed["value"] = len(missing) + len(changed) + (0 if self.allow_added else len(added))
        problems = [
            *(f"`{c}` is gone" for c in missing),
            *(f"`{c['column']}` is {c['actual']}, not {c['expected']}" for c in changed),
            *(() if self.allow_added else (f"`{c}` is new" for c in added)),
        ]
        if problems:
            return Verdict(False, "schema drifted: " + "; ".join(problems), observed)
        return Verdict(True, f"{len(expected)} columns as expected", observed)


CheckRule = Annotated[
    Freshness | Volume | NotNull | Unique | AcceptedValues | Referential | SchemaDrift,
    Field(discriminator="kind"),
]
_RULE: TypeAdapter[CheckRule] = TypeAdapter(CheckRule)

_TYPE_ALIASES = {
    "int": "integer",
    "int4": "integer",
    "int8": "bigint",
    "int2": "smallint",
    "bool": "boolean",
    "float8": "double precision",
    "float4": "real",
    "varchar": "character varying",
    "timestamptz": "timestamp with time zone",
    "timestamp": "timestamp without time zone",
    "timetz": "time with time zone",
    "time": "time without time zone",
}


def normalize_type(name: str) -> str:
    """A type as `format_type` prints it, accepting the common short spellings."""
    text = " ".join(name.lower().split())
    return _TYPE_ALIASES.get(text, text)


def parse_rule(kind: str, params: Mapping[str, Any], *, check: str) -> CheckRule:
    """The rule of `kind` with `params`; `ConfigError` names each problem and the check."""
    if kind not in KINDS:
        raise ConfigError(f"check `{check}`: unknown kind `{kind}`; known: {', '.join(KINDS)}")
    try:
        return _RULE.validate_python({**params, "kind": kind})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'params'}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(
            f"check `{check}`: invalid `{kind}` params: {problems}; fix them and save it again"
        ) from None


def rule_params(rule: CheckRule) -> dict[str, Any]:
    """The params to store: the rule as JSON, without its `kind` (a column of its own)."""
    data = rule.model_dump(mode="json")
    data.pop("kind")
    return data


def _columns(names: Sequence[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


def _span(seconds: float) -> str:
    """`3 h 20 min`, `2 d 4 h`, `45 s`."""
    whole = int(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"
