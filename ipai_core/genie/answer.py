"""What Genie gives back: the status, the rows (a Polars frame), a suggested chart, the SQL that
ran with its parameters, one line of explanation, or the question asked back with its options."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Literal

import polars as pl

from ipai_core.genie.plan import PlannerName
from ipai_core.semantic.query import SemanticQuery

Status = Literal["answer", "clarify", "refused", "error"]
ChartKind = Literal["line", "bar", "table", "number"]


@dataclass(frozen=True)
class ChartSpec:
    kind: ChartKind
    x: str | None = None
    y: str | None = None
    color: str | None = None


@dataclass(frozen=True)
class GenieAnswer:
    status: Status
    question: str
    planner: PlannerName
    explanation: str = ""
    dataset: str | None = None
    sql: str | None = None
    params: list[Any] = field(default_factory=list)
    frame: pl.DataFrame | None = None
    chart: ChartSpec | None = None
    clarification: str | None = None
    options: tuple[str, ...] = ()
    query: SemanticQuery | None = None
    notes: tuple[str, ...] = ()
    unused_words: tuple[str, ...] = ()
    latency_ms: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    def to_dict(self, *, max_rows: int | None = None) -> dict[str, Any]:
        """A JSON-ready view: the SQL, columns and rows, and everything else but the frame."""
        frame = self.frame if self.frame is not None else pl.DataFrame()
        rows = frame.rows() if max_rows is None else frame.head(max_rows).rows()
        return {
            "status": self.status,
            "question": self.question,
            "planner": self.planner,
            "dataset": self.dataset,
            "explanation": self.explanation,
            "clarification": self.clarification,
            "options": list(self.options),
            "notes": list(self.notes),
            "unused_words": list(self.unused_words),
            "sql": self.sql,
            "params": [_jsonable(v) for v in self.params],
            "columns": frame.columns,
            "rows": [[_jsonable(v) for v in row] for row in rows],
            "row_count": frame.height,
            "chart": None if self.chart is None else self.chart.__dict__,
            "query": None if self.query is None else self.query.model_dump(mode="json"),
            "latency_ms": self.latency_ms,
            "cost_usd": self.cost_usd,
        }


def _jsonable(value: Any) -> Any:
    """Dates as ISO text, decimals as floats: what `json.dumps` takes as it is."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date | datetime | time):
        return value.isoformat()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def chart_for_query(query: SemanticQuery, frame: pl.DataFrame) -> ChartSpec:
    """Line over a time grain, bar over a category, a number for a single value, else a table."""
    measures = [m for m in query.measures if m in frame.columns]
    groups = [c for c in frame.columns if c not in measures]
    time_column = groups[0] if query.time_grain and groups else None
    if not measures:
        return ChartSpec("table")
    if time_column is not None:
        color = next((g for g in groups if g != time_column), None)
        return ChartSpec("line", x=time_column, y=measures[0], color=color)
    if groups:
        return ChartSpec(
            "bar", x=groups[0], y=measures[0], color=groups[1] if len(groups) > 1 else None
        )
    if frame.height <= 1 and len(measures) == 1:
        return ChartSpec("number", y=measures[0])
    return ChartSpec("table")


def chart_for_frame(frame: pl.DataFrame) -> ChartSpec:
    """The same rules for free SQL, read from the column types."""
    numeric = [c for c, t in frame.schema.items() if t.is_numeric()]
    temporal = [c for c, t in frame.schema.items() if t.is_temporal()]
    labels = [c for c, t in frame.schema.items() if t == pl.String]
    if frame.width == 1 and frame.height <= 1 and numeric:
        return ChartSpec("number", y=numeric[0])
    if temporal and numeric:
        return ChartSpec("line", x=temporal[0], y=numeric[0], color=labels[0] if labels else None)
    if labels and numeric:
        return ChartSpec("bar", x=labels[0], y=numeric[0])
    return ChartSpec("table")
