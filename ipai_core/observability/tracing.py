"""Traces: the process's OpenTelemetry tracer and meter providers, and `span(name, **attrs)`.

`start_telemetry(service, settings)` builds them once per process (the CLI entry, the workspace
server, the scheduler and the MCP server call it through `observability.start`):

- spans go through a batch processor — to `public.ipai_span` unless `IPAI_TELEMETRY_TO_POSTGRES`
  is false, and also over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
  `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, with the SDK's own `OTEL_*` settings;
- metrics go through a periodic reader (every `IPAI_METRIC_EXPORT_INTERVAL_S`) to the same two
  places (`public.ipai_metric_point`, OTLP).

The providers are ours, not the global ones: a library, test or second `start_telemetry` never
fights over OpenTelemetry's set-once globals. Until `start_telemetry` runs, `span()` records
nothing (a no-op tracer) and costs next to nothing. Every span carries the `log_context` fields
in force when it starts, so a trace and its log lines share run, connector, app, agent and user.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, StatusCode

from ipai_core.observability.context import bind, current_fields
from ipai_core.observability.pgexport import (
    LoginsProvider,
    PostgresMetricExporter,
    PostgresSpanExporter,
)
from ipai_core.observability.scrub import scrub

INSTRUMENTATION = "ipai_core"
_OTLP_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
_OTLP_METRIC_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")
_MAX_ATTRIBUTE_LENGTH = 4000

AttributeValue = str | bool | int | float


@dataclass(frozen=True)
class TelemetryOptions:
    """Where telemetry goes. `database` (the login roles' URLs; exports use the service login) is
    called on the first export, not before (the database may not exist yet when a process
    starts)."""

    service: str
    database: LoginsProvider | None  # None: nothing is written to Postgres
    span_delay_s: float = 5.0
    metric_interval_s: float = 60.0


class Telemetry:
    """The process's tracer and meter providers; `flush()` exports what is pending."""

    def __init__(self, options: TelemetryOptions) -> None:
        self.options = options
        resource = Resource.create({"service.name": options.service, "service.namespace": "ipai"})
        self.tracer_provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        readers: list[MetricReader] = []
        interval_ms = options.metric_interval_s * 1000
        if options.database is not None:
            self.tracer_provider.add_span_processor(
                BatchSpanProcessor(
                    PostgresSpanExporter(options.database),
                    schedule_delay_millis=options.span_delay_s * 1000,
                )
            )
            readers.append(
                PeriodicExportingMetricReader(
                    PostgresMetricExporter(options.database),
                    export_interval_millis=interval_ms,
                )
            )
        if any(os.environ.get(v) for v in _OTLP_VARIABLES):
            self.tracer_provider.add_span_processor(BatchSpanProcessor(_otlp_span_exporter()))
        if any(os.environ.get(v) for v in _OTLP_METRIC_VARIABLES):
            readers.append(
                PeriodicExportingMetricReader(
                    _otlp_metric_exporter(), export_interval_millis=interval_ms
                )
            )
        self.meter_provider = MeterProvider(
            resource=resource, metric_readers=readers, shutdown_on_exit=False
        )

    def flush(self, timeout_s: float = 30.0) -> None:
        """Export every finished span and the metric points collected so far, now."""
        self.tracer_provider.force_flush(int(timeout_s * 1000))
        self.meter_provider.force_flush(int(timeout_s * 1000))

    def shutdown(self) -> None:
        """Flush, then stop the background exporters."""
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


_lock = threading.Lock()
_current: Telemetry | None = None
_flush_at_exit = False


def start_telemetry(options: TelemetryOptions) -> Telemetry:
    """Make `options` this process's telemetry; a previous one is flushed and shut down. What is
    still pending when the process exits is flushed then."""
    global _current, _flush_at_exit
    with _lock:
        previous, _current = _current, Telemetry(options)
        started = _current
        if not _flush_at_exit:
            atexit.register(stop_telemetry)
            _flush_at_exit = True
    if previous is not None:
        previous.shutdown()
    return started


def stop_telemetry() -> None:
    """Flush and stop this process's telemetry; `span()` records nothing afterwards."""
    global _current
    with _lock:
        previous, _current = _current, None
    if previous is not None:
        previous.shutdown()


def tracer() -> trace.Tracer:
    telemetry = _current
    if telemetry is None:
        return trace.NoOpTracer()
    return telemetry.tracer_provider.get_tracer(INSTRUMENTATION)


def meter() -> metrics.Meter:
    telemetry = _current
    if telemetry is None:
        return metrics.NoOpMeter(INSTRUMENTATION)
    return telemetry.meter_provider.get_meter(INSTRUMENTATION)


@contextmanager
def span(name: str, *, kind: SpanKind = SpanKind.INTERNAL, **attributes: object) -> Iterator[Span]:
    """A span around the block, child of the current one. An exception leaving the block is
    recorded on it (status error, scrubbed message) and re-raised; control flow that is not an
    `Exception` (a Streamlit `st.stop()` or rerun, an interrupt) ends the span without error."""
    initial = {**_prefixed(current_fields()), **_prefixed(attributes)}
    with tracer().start_as_current_span(
        name, kind=kind, attributes=initial, record_exception=False, set_status_on_exception=False
    ) as current:
        try:
            yield current
        except Exception as exc:
            mark_failed(current, f"{type(exc).__name__}: {exc}")
            raise
        if isinstance(current, ReadableSpan) and current.status.status_code is StatusCode.UNSET:
            current.set_status(trace.Status(StatusCode.OK))  # failures were marked on the way


def annotate(**fields: object) -> None:
    """Add `fields` to the current span's attributes and to the log context (`bind`), e.g. the
    run id once the run row exists."""
    bind(**fields)
    set_attributes(trace.get_current_span(), **fields)


def set_attributes(current: Span, **attributes: object) -> None:
    """Set `ipai.<key>` attributes on `current` (values scrubbed, `None`s left out)."""
    current.set_attributes(_prefixed(attributes))


def mark_failed(current: Span, message: str) -> None:
    """Status error with a scrubbed message, and an `exception` event carrying it."""
    text = scrub(message)[:_MAX_ATTRIBUTE_LENGTH]
    current.set_status(trace.Status(StatusCode.ERROR, text))
    current.add_event("exception", {"exception.message": text})


def _prefixed(values: Mapping[str, object]) -> dict[str, AttributeValue]:
    return {f"ipai.{key}": _value(value) for key, value in values.items() if value is not None}


def _value(value: object) -> AttributeValue:
    if isinstance(value, bool | int | float):
        return value
    return scrub(str(value))[:_MAX_ATTRIBUTE_LENGTH]


def _otlp_span_exporter() -> Any:
    # Imported only when configured: the OTLP exporter pulls in protobuf and requests.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def _otlp_metric_exporter() -> Any:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter()
