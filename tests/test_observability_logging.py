"""Structured logs: one JSON object per line with the log context and trace ids, and no secret —
a real vault secret, a real JWT, a URL password — ever in the output."""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import UserMaker

from ipai_core import Lakehouse, Principal
from ipai_core.connectors import store
from ipai_core.observability import bind, log_context, span, start, stop
from ipai_core.observability.logging import configure_logging
from ipai_core.observability.scrub import scrub, scrub_value
from ipai_core.observability.tracing import TelemetryOptions, start_telemetry, stop_telemetry
from ipai_core.settings import Settings
from ipai_core.sync.engine import run_connector
from ipai_core.vault import open_vault
from tests.support.http_receiver import http_receiver

log = logging.getLogger("ipai.test_observability_logging")


class JsonLog:
    def __init__(self, stream: io.StringIO) -> None:
        self._stream = stream

    @property
    def text(self) -> str:
        return self._stream.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text.splitlines()]

    def find(self, message: str) -> dict[str, Any]:
        matches = [line for line in self.lines() if message in line["message"]]
        assert matches, f"no line with {message!r} in {self.text}"
        return matches[-1]


@pytest.fixture
def json_log() -> Iterator[JsonLog]:
    """The root logger as a process's entry point configures it, into a buffer; restored after."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging("test", stream=stream)
    try:
        yield JsonLog(stream)
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)


def test_each_line_is_json_with_the_context_fields(json_log: JsonLog) -> None:
    with log_context(connector="sales", user="ana@example.test"):
        bind(run_id="run-1")
        log.info("loaded %s rows", 42, extra={"rows": 42})
    log.warning("outside")

    inside, outside = json_log.find("loaded 42 rows"), json_log.find("outside")
    assert inside["level"] == "info" and inside["service"] == "test"
    assert (inside["connector"], inside["user"], inside["run_id"]) == (
        "sales",
        "ana@example.test",
        "run-1",
    )
    assert inside["rows"] == 42
    assert "connector" not in outside and "run_id" not in outside, "leaving the block restores"


def test_lines_inside_a_span_carry_its_trace_and_span_ids(json_log: JsonLog) -> None:
    start_telemetry(TelemetryOptions("ipai-test", database=None))
    try:
        with span("test.work") as current:
            log.info("inside the span")
        context = current.get_span_context()
    finally:
        stop_telemetry()

    line = json_log.find("inside the span")
    assert line["trace_id"] == f"{context.trace_id:032x}"
    assert line["span_id"] == f"{context.span_id:016x}"


def test_context_does_not_leak_between_threads(json_log: JsonLog) -> None:
    def other() -> None:
        log.info("from the other thread")

    with log_context(app="finance"):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
        log.info("from this thread")

    assert json_log.find("from this thread")["app"] == "finance"
    assert "app" not in json_log.find("from the other thread")


def test_reconfiguring_keeps_one_handler(json_log: JsonLog) -> None:
    configure_logging("renamed", level="WARNING")
    configure_logging("renamed-again")
    log.info("once")

    assert len(json_log.lines()) == 1
    assert json_log.find("once")["service"] == "renamed-again"


def test_a_real_vault_secret_read_by_the_process_never_reaches_a_log_line(
    json_log: JsonLog, lakehouse: Lakehouse
) -> None:
    name, value = f"test/log-{secrets.token_hex(4)}", "pg-" + secrets.token_urlsafe(24)
    vault = open_vault(lakehouse)
    vault.put(name, value)
    log.error("source error before the read: connection refused for %s", value)
    assert value in json_log.text, "nothing knows the value is secret before it is read"

    vault.get(name)  # the process now holds it, as a connector run does
    log.error("source error after the read: could not connect with %s", value)
    try:
        raise RuntimeError(f"auth failed for secret {value}")
    except RuntimeError:
        log.exception("a traceback that quotes it")

    after = json_log.text.split("source error after the read", 1)[1]
    assert value not in after
    assert "could not connect with ***" in json_log.find("after the read")["message"]
    assert value not in json_log.find("a traceback that quotes it")["exception"]


def test_a_real_jwt_never_reaches_a_log_line(json_log: JsonLog, make_user: UserMaker) -> None:
    _, _, token = make_user(["analyst"])
    log.warning("request with Authorization: Bearer %s refused", token)
    log.warning("token in a query string: /export?access_token=%s", token)
    log.warning("the raw token %s", token)
    log.info("with extras", extra={"access_token": token, "headers": {"cookie": token}})

    assert token not in json_log.text
    assert token.split(".")[1] not in json_log.text, "not even the claims part"
    assert json_log.find("with extras")["access_token"] == "***"


def test_a_failed_connector_run_logs_its_context_and_no_secret(
    json_log: JsonLog, lakehouse: Lakehouse, tmp_path: Path
) -> None:
    secret_name = f"test/run-{secrets.token_hex(4)}"
    secret_value = "sk-" + secrets.token_urlsafe(24)
    open_vault(lakehouse).put(secret_name, secret_value)
    missing = tmp_path / secret_value / "sales.csv"  # the source's error quotes the path
    with lakehouse.session(Principal.service("test: failing connector")) as s:
        store.add_connector(
            s,
            name="log-failing",
            connector_type="file",
            replace=True,
            config={
                "target_schema": "ipai_bronze_retail",
                "url": str(missing),
                "stream": "log_failing",
                "primary_key": ["id"],
            },
            secret_refs=[secret_name],
        )

    result = run_connector(lakehouse, "log-failing")

    assert not result.ok
    line = json_log.find("connector run failed")
    assert line["level"] == "error"
    assert (line["connector"], line["run_id"], line["connector_type"]) == (
        "log-failing",
        result.run_id,
        "file",
    )
    assert "***" in line["message"], "the source's error quoted the secret; it was masked"
    assert secret_value not in json_log.text


def test_a_process_never_logs_its_own_secret_settings(
    json_log: JsonLog, settings: Settings
) -> None:
    jwt_secret = settings.jwt_secret.get_secret_value() if settings.jwt_secret else ""
    assert jwt_secret
    start("test-service", settings.model_copy(update={"telemetry_to_postgres": False}))
    try:
        log.warning("signing with %s", jwt_secret)
    finally:
        stop()

    line = json_log.find("signing with")
    assert line["service"] == "test-service"
    assert jwt_secret not in json_log.text


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("postgresql://ipai:hunter2-pw@db.internal:5432/ipai", "hunter2-pw"),
        ("host=db user=ipai password=hunter2-pw dbname=ipai", "hunter2-pw"),
        ('{"api_key": "sk-live-1234567890"}', "sk-live-1234567890"),
        ("Authorization: Basic dXNlcjpodW50ZXIy", "dXNlcjpodW50ZXIy"),
        ("curl -H 'Authorization: Bearer abcdefghijklmnop'", "abcdefghijklmnop"),
        ("aws secret_access_key=AKIAxyz/123+abc", "AKIAxyz/123+abc"),
    ],
)
def test_patterns_are_scrubbed(text: str, hidden: str) -> None:
    assert hidden not in scrub(text)


def test_ordinary_words_survive_scrubbing() -> None:
    text = "refreshed 3 views; the token expired; job_kind connector_run; tokens_used 12"
    assert scrub(text) == text
    assert scrub_value({"tokens_used": 12, "password": "x"}) == {
        "tokens_used": 12,
        "password": "***",
    }


def test_sentry_gets_error_events_only_when_configured_and_scrubbed(
    database_url: str, make_user: UserMaker, tmp_path: Path
) -> None:
    _, _, token = make_user([])
    code = (
        "import logging, sys, sentry_sdk\n"
        "from ipai_core.observability import start\n"
        "start('sentry-test')\n"
        "logging.getLogger('ipai.test').error('refused %s', sys.argv[1])\n"
        "sentry_sdk.flush(10)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IPAI_", "SENTRY_"))}
    env |= {"IPAI_DATABASE_URL": database_url, "IPAI_TELEMETRY_TO_POSTGRES": "false"}
    with http_receiver() as sentry:
        without = subprocess.run(
            [sys.executable, "-c", code, token], env=env, cwd=tmp_path, timeout=60, check=True
        )
        assert without.returncode == 0 and sentry.received == [], "no DSN: Sentry stays off"
        dsn = f"http://public@127.0.0.1:{sentry.port}/42"
        subprocess.run(
            [sys.executable, "-c", code, token],
            env=env | {"SENTRY_DSN": dsn},
            cwd=tmp_path,
            timeout=60,
            check=True,
        )

    (envelope,) = sentry.posts("/api/42/envelope/")
    body = envelope.body
    if envelope.headers.get("content-encoding") == "gzip":
        body = gzip.decompress(body)
    assert b"refused" in body and b"ipai.test" in body
    assert token.encode() not in body
