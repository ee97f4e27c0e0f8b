"""OpenTelemetry exporters that roll spans and metric points up into Postgres, so the workspace
can chart them with no collector running: spans into `public.ipai_span`, metric points into
`public.ipai_metric_point` (summed per minute and label set; several processes add into one row).

The SDK calls them from its own background threads (a batch span processor, a periodic metric
reader). Each export is one audited service-role session on a one-connection pool of the
exporter's own, so telemetry never takes a connection from the process's pool, and never fails
the caller: when the database is away or not migrated yet, the batch is dropped and a warning is
logged at most once a minute. Until a write succeeds (and after any failure) the database is
pinged first, with a short connect timeout, so an unreachable server costs a refused connection
rather than the pool's wait — a process exiting with spans still queued does not hang.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from opentelemetry.sdk.metrics import Counter, Histogram, ObservableCounter
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    HistogramDataPoint,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    NumberDataPoint,
    Sum,
)
from opentelemetry.sdk.metrics.export import (
    Histogram as HistogramData,
)
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import StatusCode

from ipai_core.db.logins import Logins
from ipai_core.db.pool import Database
from ipai_core.db.principal import Principal
from ipai_core.db.scoped import session
from ipai_core.observability.scrub import scrub, scrub_value

LoginsProvider = Callable[[], Logins]

_log = logging.getLogger(__name__)
_WARN_EVERY_S = 60.0
_STATUS = {StatusCode.UNSET: "unset", StatusCode.OK: "ok", StatusCode.ERROR: "error"}

_INSERT_SPAN = """
INSERT INTO public.ipai_span (trace_id, span_id, parent_span_id, name, kind, service, started_at,
  duration_ms, status, status_message, attributes)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb)
ON CONFLICT (trace_id, span_id) DO NOTHING
"""

_UPSERT_POINT = """
INSERT INTO public.ipai_metric_point AS p (name, labels, bucket, kind, unit, count, sum, min, max)
VALUES (%s, %s::jsonb, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (name, bucket, labels) DO UPDATE SET
  count = p.count + EXCLUDED.count,
  sum = p.sum + EXCLUDED.sum,
  min = least(p.min, EXCLUDED.min),
  max = greatest(p.max, EXCLUDED.max)
"""


class _Writer:
    """The exporters' shared part: a lazily opened one-connection pool, one audited
    service-role transaction per batch, and rate-limited warnings instead of exceptions."""

    def __init__(self, logins: LoginsProvider, what: str) -> None:
        self._logins = logins
        self._what = what
        self._db: Database | None = None
        self._lock = threading.Lock()
        self._last_warning = 0.0
        self._healthy = False  # the last write succeeded

    def write(self, statement: str, rows: Sequence[Sequence[Any]]) -> bool:
        if not rows:
            return True
        try:
            database = self._database()
            if not self._healthy and not database.ping():
                raise ConnectionError("the database does not answer")
            principal = Principal.service(f"telemetry: {self._what}")
            with session(database, principal) as s, s.connection.cursor() as cur:
                cur.executemany(statement, rows)
            self._healthy = True
            return True
        except Exception as exc:  # telemetry never fails the work it describes
            self._healthy = False
            self._warn(exc, len(rows))
            return False

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _database(self) -> Database:
        with self._lock:
            if self._db is None:
                self._db = Database(self._logins(), max_size=1)
            return self._db

    def _warn(self, exc: Exception, count: int) -> None:
        now = time.monotonic()
        if now - self._last_warning < _WARN_EVERY_S:
            return
        self._last_warning = now
        _log.warning(
            "dropped %s %s: %s (check that the database is up and migrated: `ipai db status`, "
            "`ipai migrate`)",
            count,
            self._what,
            scrub(f"{type(exc).__name__}: {exc}".strip()),
        )


class PostgresSpanExporter(SpanExporter):
    """Finished spans → `public.ipai_span`, attributes and status messages scrubbed."""

    def __init__(self, logins: LoginsProvider) -> None:
        self._writer = _Writer(logins, "spans")

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        rows = [row for row in map(_span_row, spans) if row is not None]
        ok = self._writer.write(_INSERT_SPAN, rows)
        return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        self._writer.close()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True  # every export is written before it returns


class PostgresMetricExporter(MetricExporter):
    """Delta metric points → per-minute rows of `public.ipai_metric_point` (counters as `sum`,
    histograms as count, sum, min and max)."""

    def __init__(self, logins: LoginsProvider) -> None:
        delta = AggregationTemporality.DELTA
        super().__init__(
            preferred_temporality={Counter: delta, Histogram: delta, ObservableCounter: delta}
        )
        self._writer = _Writer(logins, "metric points")

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        ok = self._writer.write(_UPSERT_POINT, list(_point_rows(metrics_data)))
        return MetricExportResult.SUCCESS if ok else MetricExportResult.FAILURE

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._writer.close()


def _span_row(span: ReadableSpan) -> tuple[Any, ...] | None:
    context = span.get_span_context()
    if context is None:  # never for a finished SDK span; nothing to key the row by otherwise
        return None
    started = span.start_time or 0
    ended = span.end_time or started
    attributes = dict(span.attributes or {})
    for event in span.events:
        if event.name == "exception" and event.attributes:
            attributes.setdefault("exception.type", event.attributes.get("exception.type"))
            attributes.setdefault("exception.message", event.attributes.get("exception.message"))
    message = span.status.description
    return (
        f"{context.trace_id:032x}",
        f"{context.span_id:016x}",
        f"{span.parent.span_id:016x}" if span.parent is not None else None,
        span.name,
        span.kind.name.lower(),
        str(span.resource.attributes.get("service.name", "ipai")),
        _timestamp(started),
        max(ended - started, 0) / 1e6,
        _STATUS[span.status.status_code],
        scrub(message) if message else None,
        json.dumps(scrub_value(attributes), default=str),
    )


def _point_rows(metrics_data: MetricsData) -> Iterator[tuple[Any, ...]]:
    for resource_metrics in metrics_data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                for point in metric.data.data_points:
                    row = _point_row(metric.name, metric.unit or "", metric.data, point)
                    if row is not None:
                        yield row


def _point_row(name: str, unit: str, data: Any, point: Any) -> tuple[Any, ...] | None:
    labels = json.dumps(dict(point.attributes or {}), sort_keys=True, default=str)
    bucket = _minute(point.time_unix_nano)
    if isinstance(data, Sum) and isinstance(point, NumberDataPoint):
        if not point.value:
            return None
        return (name, labels, bucket, "sum", unit, 0, float(point.value), None, None)
    if isinstance(data, HistogramData) and isinstance(point, HistogramDataPoint):
        if not point.count:
            return None
        return (name, labels, bucket, "histogram", unit, point.count, point.sum, point.min,
                point.max)  # fmt: skip
    return None  # gauges and other shapes are not rolled up (none of our instruments is one)


def _timestamp(unix_nano: int) -> datetime:
    return datetime.fromtimestamp(unix_nano / 1e9, UTC)


def _minute(unix_nano: int) -> datetime:
    return _timestamp(unix_nano).replace(second=0, microsecond=0)
