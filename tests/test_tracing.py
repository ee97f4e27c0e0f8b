"""Traces and metrics: a connector run becomes a span tree and per-minute metric points in
Postgres; with OTEL_EXPORTER_OTLP_ENDPOINT set the spans also reach an OTLP/HTTP receiver; and an
exporter that cannot write never fails the work it describes."""

from __future__ import annotations

import json
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import TEST_JWT_SECRET
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from ipai_core import Lakehouse, Principal
from ipai_core.connectors import store
from ipai_core.db.logins import logins_for
from ipai_core.observability import observe, span
from ipai_core.observability.tracing import (
    Telemetry,
    TelemetryOptions,
    start_telemetry,
    stop_telemetry,
)
from ipai_core.sync.engine import run_connector
from tests.support.http_receiver import HttpReceiver, http_receiver


@pytest.fixture
def telemetry(lakehouse: Lakehouse) -> Iterator[Telemetry]:
    started = start_telemetry(
        TelemetryOptions("ipai-test", database=lambda: lakehouse.db.logins, metric_interval_s=3600)
    )
    yield started
    stop_telemetry()


def _file_connector(lakehouse: Lakehouse, folder: Path, *, rows: int) -> str:
    name = f"trace-{secrets.token_hex(3)}"
    lines = ["id,region,amount", *(f"{i},north,{i * 10}" for i in range(rows))]
    (folder / "sales.csv").write_text("\n".join(lines) + "\n")
    with lakehouse.session(Principal.service("test: traced connector")) as s:
        store.add_connector(
            s,
            name=name,
            connector_type="file",
            config={
                "target_schema": "ipai_bronze_retail",
                "url": str(folder / "sales.csv"),
                "stream": name.replace("-", "_"),
                "primary_key": ["id"],
            },
        )
    return name


def _spans(owner: psycopg.Connection, trace_id: str) -> list[dict[str, Any]]:
    cur = owner.execute(
        "SELECT span_id, parent_span_id, name, status, status_message, service, duration_ms,"
        " attributes FROM ipai_span WHERE trace_id = %s ORDER BY started_at",
        [trace_id],
    )
    names = [c.name for c in cur.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _run_span(owner: psycopg.Connection, run_id: str) -> dict[str, Any]:
    row = owner.execute(
        "SELECT trace_id FROM ipai_span WHERE name = 'connector.run'"
        " AND attributes ->> 'ipai.run_id' = %s",
        [run_id],
    ).fetchone()
    assert row is not None, f"no connector.run span for run {run_id}"
    (root,) = [s for s in _spans(owner, row[0]) if s["parent_span_id"] is None]
    return {"trace_id": row[0], **root}


def test_a_connector_run_becomes_a_span_tree_and_metric_points(
    telemetry: Telemetry, lakehouse: Lakehouse, owner_conn: psycopg.Connection, tmp_path: Path
) -> None:
    name = _file_connector(lakehouse, tmp_path, rows=3)

    result = run_connector(lakehouse, name)
    telemetry.flush()

    assert result.ok, result.error
    root = _run_span(owner_conn, result.run_id)
    spans = _spans(owner_conn, root["trace_id"])
    assert root["name"] == "connector.run" and root["service"] == "ipai-test"
    assert root["attributes"]["ipai.connector"] == name
    assert root["attributes"]["ipai.rows_written"] == 3
    (stream,) = [s for s in spans if s["name"] == "connector.stream"]
    assert stream["parent_span_id"] == root["span_id"]
    assert stream["attributes"]["ipai.rows_written"] == 3
    assert stream["attributes"]["ipai.bytes_read"] > 0
    assert stream["attributes"]["ipai.run_id"] == result.run_id, "log context on every span"
    assert all(s["status"] != "error" for s in spans)

    points = owner_conn.execute(
        "SELECT name, labels ->> 'outcome', kind, count, sum FROM ipai_metric_point"
        " WHERE labels ->> 'connector' = %s ORDER BY 1, 2",
        [name],
    ).fetchall()
    by_name = {(p[0], p[1]): p[2:] for p in points}
    assert by_name[("ipai.connector.rows", "written")] == ("sum", 0, 3.0)
    assert by_name[("ipai.connector.rows", "read")] == ("sum", 0, 3.0)
    assert by_name[("ipai.connector.bytes", None)][2] > 0
    kind, count, seconds = by_name[("ipai.connector.run.duration", None)]
    assert (kind, count) == ("histogram", 1) and seconds > 0


def test_a_failed_run_is_an_error_span_and_an_error_metric(
    telemetry: Telemetry, lakehouse: Lakehouse, owner_conn: psycopg.Connection, tmp_path: Path
) -> None:
    name = _file_connector(lakehouse, tmp_path, rows=1)
    (tmp_path / "sales.csv").unlink()

    result = run_connector(lakehouse, name)
    telemetry.flush()

    assert not result.ok
    root = _run_span(owner_conn, result.run_id)
    assert root["status"] == "error" and root["status_message"]
    errors = owner_conn.execute(
        "SELECT sum(sum) FROM ipai_metric_point WHERE name = 'ipai.connector.errors'"
        " AND labels ->> 'connector' = %s",
        [name],
    ).fetchone()
    assert errors is not None and errors[0] >= 1


def test_metric_points_of_one_minute_add_up(
    telemetry: Telemetry, owner_conn: psycopg.Connection
) -> None:
    view = f"ipai_gold_core.test_{secrets.token_hex(3)}"
    for _ in range(2):
        with observe.view_refresh(view):
            pass
        telemetry.flush()
    rows = owner_conn.execute(
        "SELECT count, sum, min, max FROM ipai_metric_point"
        " WHERE name = 'ipai.transform.refresh.duration' AND labels ->> 'view' = %s",
        [view],
    ).fetchall()
    assert sum(r[0] for r in rows) == 2, "two exports, one row per minute, counts added"
    assert all(r[2] <= r[3] for r in rows)


@pytest.fixture
def otlp_receiver() -> Iterator[HttpReceiver]:
    """A tiny OTLP/HTTP collector on loopback: it keeps every protobuf body posted to it."""
    with http_receiver() as receiver:
        yield receiver


def test_spans_and_metrics_are_exported_over_otlp_when_an_endpoint_is_set(
    otlp_receiver: HttpReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_receiver.url())
    telemetry = start_telemetry(TelemetryOptions("ipai-otlp-test", database=None))
    try:
        with observe.agent_call("pulser", "query", project="finance") as call:
            call.usage(tokens=120, cost_usd=0.002)
            with call.sql("SELECT 1"):
                pass
        telemetry.flush()
    finally:
        stop_telemetry()

    traces = [r.body for r in otlp_receiver.posts("/v1/traces")]
    assert traces, f"nothing posted to /v1/traces (got {otlp_receiver.received})"
    spans = []
    for body in traces:
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            assert service["service.name"] == "ipai-otlp-test"
            spans += [s for scope in resource_spans.scope_spans for s in scope.spans]
    by_name = {s.name: s for s in spans}
    assert set(by_name) >= {"agent.call", "agent.sql"}
    assert by_name["agent.sql"].parent_span_id == by_name["agent.call"].span_id
    metrics_bodies = [r.body for r in otlp_receiver.posts("/v1/metrics")]
    names = {
        m.name
        for body in metrics_bodies
        for rm in ExportMetricsServiceRequest.FromString(body).resource_metrics
        for sm in rm.scope_metrics
        for m in sm.metrics
    }
    assert {"ipai.agent.call.duration", "ipai.agent.tokens", "ipai.agent.cost"} <= names


def test_an_unreachable_database_never_fails_the_caller(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://nobody:pw@127.0.0.1:{port}/none?connect_timeout=1"
    logins = logins_for(url, TEST_JWT_SECRET)
    telemetry = start_telemetry(TelemetryOptions("ipai-test", database=lambda: logins))
    try:
        with span("test.unexported") as current:
            current.set_attribute("ipai.note", "dropped")
        with observe.view_refresh("ipai_gold_core.nowhere"):
            pass
        telemetry.flush(timeout_s=20)
    finally:
        stop_telemetry()
    dropped = [r for r in caplog.records if "dropped" in r.getMessage()]
    assert dropped, "the dropped batch is reported once in the log"
    assert "pw@" not in json.dumps([r.getMessage() for r in dropped])


def test_without_telemetry_spans_are_no_ops() -> None:
    stop_telemetry()
    with span("test.nothing") as current:
        assert not current.is_recording()
