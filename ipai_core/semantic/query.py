"""A semantic query: pure data naming a dataset's declared fields — measures, dimensions, filters,
a time range and grain, order and limit. The compiler turns it into SQL; nothing here touches a
database, so planners (Genie, the MCP tools, an app) can build and test queries freely."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

TimeGrain = Literal["day", "week", "month", "quarter", "year"]
TIME_GRAINS: tuple[TimeGrain, ...] = ("day", "week", "month", "quarter", "year")
FilterOp = Literal[
    "=",
    "!=",
    ">",
    ">=",
    "<",
    "<=",
    "in",
    "not in",
    "contains",
    "between",
    "is null",
    "is not null",
    "latest",
]
FILTER_OPS: tuple[str, ...] = FilterOp.__args__  # type: ignore[attr-defined]
LIST_OPS = frozenset({"in", "not in", "between"})
VALUELESS_OPS = frozenset({"is null", "is not null", "latest"})
FIELD_PATTERN = r"^[a-z][a-z0-9_]*$"
DEFAULT_LIMIT = 1000

Scalar = bool | int | float | date | datetime | str
FilterValue = Scalar | list[Scalar] | None


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Filter(_Frozen):
    """`field op value`. A dimension filter goes to WHERE, a measure filter to HAVING; the value
    is always a bound parameter. `latest` keeps the rows of the field's greatest value (the last
    month-end of a balance sheet)."""

    field: str = Field(pattern=FIELD_PATTERN)
    op: FilterOp = "="
    value: FilterValue = None

    @model_validator(mode="after")
    def _value_shape(self) -> Filter:
        if self.op in VALUELESS_OPS and self.value is not None:
            raise ValueError(f"filter `{self.field} {self.op}` takes no value")
        if self.op in LIST_OPS and not isinstance(self.value, list):
            raise ValueError(f"filter `{self.field} {self.op}` needs a list of values")
        if self.op == "between" and len(self.value or []) != 2:  # type: ignore[arg-type]
            raise ValueError(f"filter `{self.field} between` needs exactly two values")
        if self.op not in LIST_OPS | VALUELESS_OPS and (
            self.value is None or isinstance(self.value, list)
        ):
            raise ValueError(f"filter `{self.field} {self.op}` needs one value")
        return self


class TimeRange(_Frozen):
    """`start <= t < end` on the dataset's time dimension; either bound may be open."""

    start: date | None = None
    end: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.start is None and self.end is None:
            raise ValueError("a time range needs a start, an end, or both")
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ValueError(f"time range starts ({self.start}) at or after it ends ({self.end})")
        return self

    @property
    def label(self) -> str:
        if self.start and self.end:
            return f"{self.start.isoformat()} to {self.end.isoformat()} (exclusive)"
        if self.start:
            return f"since {self.start.isoformat()}"
        return f"before {self.end.isoformat() if self.end else ''}"


class OrderBy(_Frozen):
    field: str = Field(pattern=FIELD_PATTERN)
    desc: bool = False


class SemanticQuery(_Frozen):
    """What to compute from one dataset. `time_grain` truncates the time dimension
    (`time_dimension`, or the dataset's first date/time dimension) and groups by it."""

    dataset: str = Field(pattern=FIELD_PATTERN)
    measures: list[str] = Field(default_factory=list)
    dimensions: list[str] = Field(default_factory=list)
    filters: list[Filter] = Field(default_factory=list)
    time_range: TimeRange | None = None
    time_grain: TimeGrain | None = None
    time_dimension: str | None = Field(default=None, pattern=FIELD_PATTERN)
    order_by: list[OrderBy] = Field(default_factory=list)
    limit: int = Field(default=DEFAULT_LIMIT, ge=1)

    @model_validator(mode="after")
    def _selects_something(self) -> SemanticQuery:
        if not self.measures and not self.dimensions and self.time_grain is None:
            raise ValueError(f"a query on `{self.dataset}` needs a measure or a dimension")
        for name in (*self.measures, *self.dimensions):
            if not _is_field_name(name):
                raise ValueError(f"`{name}` is not a field name")
        return self


def _is_field_name(name: str) -> bool:
    return re.fullmatch(FIELD_PATTERN, name) is not None
