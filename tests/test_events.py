"""The events connector and its webhook receiver against the real database, through Starlette's
TestClient: GitHub and timestamped signatures, replays, JSON Lines batches, every refusal (with
nothing written), a database that is down, and the run that files events into a domain schema."""

from __future__ import annotations

import hashlib
import json
import secrets
import socket
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import psycopg
import pytest
from conftest import TEST_JWT_SECRET
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning
from starlette.requests import Request
from starlette.types import Message

import ipai_core.db.pool as pool_module
from ipai_core import Lakehouse, Principal
from ipai_core.auth.tokens import TokenService
from ipai_core.connectors import store
from ipai_core.connectors.events import EventsConnector
from ipai_core.connectors.registry import connector_class
from ipai_core.db.logins import logins_for
from ipai_core.db.pool import Database
from ipai_core.errors import ConfigError
from ipai_core.events import (
    BodyTooLarge,
    SignatureError,
    build_event_routes,
    read_body,
    sign_github,
    sign_hmac,
    verify,
)
from ipai_core.settings import Settings
from ipai_core.sync.engine import run_connector
from ipai_core.vault import SecretValue, open_vault

with warnings.catch_warnings():
    # Starlette >= 1.x asks for the `httpx2` package and warns (once, at import) when it finds
    # plain `httpx`; the TestClient works the same with either.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

PUSH = {"ref": "refs/heads/main", "after": "c0ffee", "repository": {"full_name": "acme/shop"}}


class Source:
    """A registered events connector: its name, source path, secret and target schema."""

    def __init__(self, name: str, source: str, secret: str, target_schema: str) -> None:
        self.name = name
        self.source = source
        self.secret = secret
        self.target_schema = target_schema

    @property
    def path(self) -> str:
        return f"/api/events/{self.source}"


AddSource = Callable[..., Source]


@pytest.fixture
def client(lakehouse: Lakehouse) -> Iterator[TestClient]:
    app = Starlette(routes=build_event_routes(lambda: lakehouse))
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def add_source(lakehouse: Lakehouse) -> AddSource:
    """`add_source(signature="github", **config)` → a new events connector with a vault secret."""

    def add(signature: str = "github", **config: Any) -> Source:
        source = f"src_{secrets.token_hex(4)}"
        secret = "whsec_" + secrets.token_hex(16)
        full = {"target_schema": "ipai_bronze_devops", "source": source, "signature": signature}
        if signature != "none":
            open_vault(lakehouse).put(f"events/{source}", secret)
            full["secret_ref"] = f"events/{source}"
        full.update(config)
        with lakehouse.session(Principal.service("test: add events connector")) as s:
            store.add_connector(s, name=f"hooks-{source}", connector_type="events", config=full)
        return Source(f"hooks-{source}", source, secret, str(full["target_schema"]))

    return add


def _github(
    client: TestClient,
    src: Source,
    body: bytes,
    *,
    delivery: str | None = None,
    event: str = "push",
    secret: str | None = None,
    extra: dict[str, str] | None = None,
) -> Any:
    headers = {
        "content-type": "application/json",
        "x-github-event": event,
        "x-github-hook-id": "4242",
        "x-hub-signature-256": sign_github(secret or src.secret, body),
        **({"x-github-delivery": delivery} if delivery else {}),
        **(extra or {}),
    }
    return client.post(src.path, content=body, headers=headers)


def _signed(
    client: TestClient,
    src: Source,
    body: bytes,
    *,
    content_type: str = "application/json",
    at: float | None = None,
    delivery: str | None = None,
) -> Any:
    stamp = int(time.time() if at is None else at)
    headers = {
        "content-type": content_type,
        "x-ipai-timestamp": str(stamp),
        "x-ipai-signature": sign_hmac(src.secret, body, stamp),
        **({"x-ipai-delivery": delivery} if delivery else {}),
    }
    return client.post(src.path, content=body, headers=headers)


def _rows(conn: psycopg.Connection, source: str) -> list[dict[str, Any]]:
    """The landed rows of `source`, read as the owner on a connection of its own."""
    cur = conn.execute(
        "SELECT delivery_id, line_no, event_type, payload, headers, body_sha256,"
        " _ipai_run_id, received_at FROM ipai_bronze_core.webhook_events"
        " WHERE source = %s ORDER BY delivery_id, line_no",
        [source],
    )
    names = [c.name for c in cur.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _body(payload: Any) -> bytes:
    return json.dumps(payload).encode()


# --- GitHub webhooks --------------------------------------------------------------------------


def test_a_github_push_is_in_bronze_before_the_answer(
    client: TestClient, add_source: AddSource, owner_conn: psycopg.Connection
) -> None:
    src = add_source("github")
    body = _body(PUSH)
    response = _github(
        client,
        src,
        body,
        delivery="d-1",
        extra={"authorization": "Bearer sekret", "cookie": "ipai_session=x"},
    )
    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "duplicates": 0, "ignored": 0, "delivery_id": "d-1"}
    # Durable before the 2xx: another connection sees the committed row right away.
    [row] = _rows(owner_conn, src.source)
    assert (row["delivery_id"], row["line_no"], row["event_type"]) == ("d-1", 0, "push")
    assert row["payload"] == PUSH
    assert row["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert row["_ipai_run_id"] is None
    assert row["headers"] == {
        "content-type": "application/json",
        "user-agent": "testclient",
        "x-github-event": "push",
        "x-github-delivery": "d-1",
        "x-github-hook-id": "4242",
    }


def test_a_delivery_replayed_twice_is_stored_once(
    client: TestClient, add_source: AddSource, owner_conn: psycopg.Connection
) -> None:
    src = add_source("github")
    body = _body(PUSH)
    first = _github(client, src, body, delivery="d-replayed")
    replays = [_github(client, src, body, delivery="d-replayed") for _ in range(2)]
    assert first.status_code == 202
    for replay in replays:
        assert replay.status_code == 200
        assert replay.json() == {
            "accepted": 0,
            "duplicates": 1,
            "ignored": 0,
            "delivery_id": "d-replayed",
        }
    assert len(_rows(owner_conn, src.source)) == 1


def test_without_a_delivery_id_the_body_hash_deduplicates(
    client: TestClient, add_source: AddSource, owner_conn: psycopg.Connection
) -> None:
    src = add_source("github")
    body = _body({"zen": "Keep it logically awesome."})
    first = _github(client, src, body, event="ping")
    again = _github(client, src, body, event="ping")
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["delivery_id"].startswith("sha256:")
    assert [r["event_type"] for r in _rows(owner_conn, src.source)] == ["ping"]


@pytest.mark.parametrize(
    "signature",
    ["wrong secret", "sha256=" + "0" * 64, "sha1=abc", "sha256=not-hex", ""],
)
def test_a_bad_signature_is_401_and_nothing_is_written(
    client: TestClient, add_source: AddSource, owner_conn: psycopg.Connection, signature: str
) -> None:
    src = add_source("github")
    body = _body(PUSH)
    if signature == "wrong secret":
        response = _github(client, src, body, delivery="d-bad", secret="not-the-secret")
    else:
        response = _github(
            client, src, body, delivery="d-bad", extra={"x-hub-signature-256": signature}
        )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_signature"
    assert _rows(owner_conn, src.source) == []


def test_a_missing_signature_is_401(
    client: TestClient, add_source: AddSource, owner_conn: psycopg.Connection
) -> None:
    src = add_source("github")
    response = client.post(
        src.path,
        content=_body(PUSH),
        headers={"content-type": "application/json", "x-github-event": "push"},
    )
    assert response.status_code == 401
    assert "X-Hub-Signature-256" in response.json()["error_description"]
    assert _rows(owner_conn, src.source) == []


def test_event_types_outside_the_accept_list_are_answered_and_dropped(
    client: TestClient, add_source: AddSource, owner_conn: psycopg.Connection
) -> None:
    src = add_source("github", event_types=["push", "workflow_run"])
    ping = _github(client, src, _body({"zen": "hi"}), delivery="d-ping", event="ping")
    assert ping.status_code == 200
    assert ping.json()["ignored"] == 1
    assert _github(client, src, _body(PUSH), delivery="d-push").status_code == 202
    assert [r["event_type"] for r in _rows(owner_conn, src.source)] == ["push"]


# --- refusals ---------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_413_and_nothing_is_written(
    client: TestClient, add_source: AddSource, owner_conn: psycopg.Connection
) -> None:
    src = add_source("github")  # the default limit: 1 MiB
    body = _body({"blob": "x" * (3 << 20)})
    response = _github(client, src, body, delivery="d-big")
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert _rows(owner_conn, src.source) == []


def test_the_body_is_read_in_chunks_and_dropped_at_the_limit() -> None:
    """Without a Content-Length the receiver stops pulling chunks once past the limit."""
    chunks = [b"x" * 1000] * 50
    pulled: list[int] = []

    async def receive() -> Message:
        pulled.append(1)
        more = len(pulled) < len(chunks)
        return {"type": "http.request", "body": chunks[len(pulled) - 1], "more_body": more}

    async def read() -> bytes:
        scope = {"type": "http", "method": "POST", "headers": [], "path": "/", "query_string": b""}
        return await read_body(Request(scope, receive), 4096)

    with pytest.raises(BodyTooLarge):
        anyio.run(read)
    assert len(pulled) == 5  # 4 chunks fit in 4096 bytes; the fifth would not


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b'{"ref": "main",', "not valid JSON"),
        (b'["a", "list"]', "array, not an object"),
        (b'{"n": NaN}', "not valid JSON"),
        (b'{"text": "nul \\u0000 here"}', "jsonb cannot store"),
        (b"\xff\xfe{}", "not UTF-8"),
    ],
)
def test_bad_json_is_400_and_nothing_is_written(
    client: TestClient,
    add_source: AddSource,
    owner_conn: psycopg.Connection,
    body: bytes,
    needle: str,
) -> None:
    src = add_source("github")
    response = _github(client, src, body, delivery="d-json")
    assert response.status_code == 400
    assert needle in response.json()["error_description"]
    assert _rows(owner_conn, src.source) == []


def test_a_wrong_content_type_is_415(
    client: TestClient, add_source: AddSource, owner_conn: psycopg.Connection
) -> None:
    src = add_source("github")
    body = b"payload=%7B%7D"
    response = _github(
        client, src, body, extra={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 415
    assert _rows(owner_conn, src.source) == []


def test_an_unknown_or_disabled_source_is_404_alike(
    client: TestClient, add_source: AddSource, lakehouse: Lakehouse
) -> None:
    src = add_source("github")
    with lakehouse.session(Principal.service("test: disable")) as s:
        store.set_enabled(s, src.name, False)
    disabled = _github(client, src, _body(PUSH), delivery="d-off")
    unknown = client.post(
        "/api/events/no_such_source",
        content=b"{}",
        headers={"content-type": "application/json"},
    )
    odd = client.post(
        "/api/events/Not%20A%20Source", content=b"{}", headers={"content-type": "application/json"}
    )
    assert disabled.status_code == unknown.status_code == odd.status_code == 404
    assert disabled.json() == unknown.json() == odd.json()


# --- the timestamped scheme and JSON Lines ----------------------------------------------------


def test_the_timestamped_scheme_accepts_a_fresh_signature_and_refuses_an_old_one(
    client: TestClient, add_source: AddSource, owner_conn: psycopg.Connection
) -> None:
    src = add_source("hmac-sha256")
    body = _body({"type": "deploy", "service": "shop", "version": "1.4.2"})
    fresh = _signed(client, src, body, delivery="dep-1")
    assert fresh.status_code == 202
    expired = _signed(client, src, body, delivery="dep-2", at=time.time() - 600)
    assert expired.status_code == 401
    assert "X-IPAI-Timestamp" in expired.json()["error_description"]
    unsigned = client.post(src.path, content=body, headers={"content-type": "application/json"})
    assert unsigned.status_code == 401
    rows = _rows(owner_conn, src.source)
    assert [(r["delivery_id"], r["event_type"]) for r in rows] == [("dep-1", "deploy")]


def test_a_json_lines_batch_stores_one_row_per_line(
    client: TestClient, add_source: AddSource, owner_conn: psycopg.Connection
) -> None:
    src = add_source("hmac-sha256")
    lines = [
        {"type": "metric", "name": "cpu", "value": 0.42},
        {"type": "metric", "name": "mem", "value": 512},
        {"type": "metric", "name": "disk", "value": 0.9},
    ]
    body = ("\n".join(json.dumps(line) for line in lines) + "\n").encode()
    response = _signed(client, src, body, content_type="application/x-ndjson", delivery="b-1")
    assert response.status_code == 202
    assert response.json()["accepted"] == 3
    rows = _rows(owner_conn, src.source)
    assert [(r["line_no"], r["event_type"], r["payload"]) for r in rows] == [
        (1, "metric", lines[0]),
        (2, "metric", lines[1]),
        (3, "metric", lines[2]),
    ]
    again = _signed(client, src, body, content_type="application/x-ndjson", delivery="b-1")
    assert (again.status_code, again.json()["duplicates"]) == (200, 3)


def test_a_batch_with_a_bad_line_is_refused_whole(
    client: TestClient, add_source: AddSource, owner_conn: psycopg.Connection
) -> None:
    src = add_source("hmac-sha256")
    body = b'{"name": "cpu", "value": 1}\n{"name": "mem", value: 2}\n{"name": "disk"}\n'
    response = _signed(client, src, body, content_type="application/x-ndjson")
    assert response.status_code == 400
    assert "line 2" in response.json()["error_description"]
    assert _rows(owner_conn, src.source) == []


def test_format_jsonl_in_the_query_overrides_the_content_type(
    client: TestClient, add_source: AddSource, owner_conn: psycopg.Connection
) -> None:
    src = add_source("none", allow_unsigned=True)
    response = client.post(
        f"{src.path}?format=jsonl",
        content=b'{"level": "info", "msg": "up"}\n\n{"level": "warn", "msg": "slow"}',
        headers={"content-type": "text/plain"},
    )
    assert response.status_code == 202
    assert [(r["line_no"], r["event_type"]) for r in _rows(owner_conn, src.source)] == [
        (1, "event"),
        (3, "event"),
    ]


# --- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [
        {"signature": "none"},  # unsigned needs allow_unsigned
        {"signature": "github"},  # a signed scheme needs a secret_ref
        {"signature": "none", "allow_unsigned": True, "secret_ref": "events/x"},
        {"signature": "github", "secret_ref": "events/x", "source": "Bad-Name"},
        {"signature": "github", "secret_ref": "events/x", "max_body_bytes": 10},
        {"signature": "github", "secret_ref": "events/x", "source": "webhook"},  # the landing table
    ],
)
def test_incoherent_configs_are_refused(config: dict[str, Any]) -> None:
    full = {"target_schema": "ipai_bronze_core", "source": "ok_source", **config}
    with pytest.raises(ConfigError):
        store.validate_config("events", full)


def test_a_source_belongs_to_one_connector(add_source: AddSource, lakehouse: Lakehouse) -> None:
    src = add_source("github")
    config = {
        "target_schema": "ipai_bronze_core",
        "source": src.source,
        "signature": "github",
        "secret_ref": f"events/{src.source}",
    }
    # Enforced by a unique index (the store does not translate it into a ConfigError yet).
    with (
        pytest.raises((psycopg.errors.UniqueViolation, ConfigError)),
        lakehouse.session(Principal.service("test: clash")) as s,
    ):
        store.add_connector(s, name=f"other-{src.source}", connector_type="events", config=config)


def test_the_events_type_is_registered() -> None:
    assert connector_class("events") is EventsConnector


# --- the database, the run, secrets -----------------------------------------------------------


def test_a_database_that_is_down_is_503(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setattr(pool_module, "POOL_TIMEOUT_S", 1)
    down = Lakehouse(
        settings,
        Database(logins_for(f"postgresql://nobody@127.0.0.1:{port}/nothing", TEST_JWT_SECRET)),
        TokenService.from_settings(settings),
    )
    try:
        app = Starlette(routes=build_event_routes(lambda: down))
        with TestClient(app) as client:
            response = client.post(
                "/api/events/github", content=b"{}", headers={"content-type": "application/json"}
            )
    finally:
        down.close()
    assert response.status_code == 503
    assert response.json()["error"] == "unavailable"
    assert response.headers["retry-after"] == "30"


def test_a_run_files_the_events_into_the_target_schema(
    client: TestClient,
    add_source: AddSource,
    lakehouse: Lakehouse,
    owner_conn: psycopg.Connection,
) -> None:
    src = add_source("github")
    for n in range(2):
        assert _github(client, src, _body({**PUSH, "n": n}), delivery=f"r-{n}").status_code == 202
    first = run_connector(lakehouse, src.name)
    assert first.ok, first.error
    stream = f"{src.source}_events"
    assert first.streams[stream].rows_written == 2
    assert _github(client, src, _body({**PUSH, "n": 2}), delivery="r-2").status_code == 202
    second = run_connector(lakehouse, src.name)
    assert second.ok, second.error
    assert second.streams[stream].rows_written == 1  # re-read rows are left alone
    filed = owner_conn.execute(
        f"SELECT delivery_id, line_no, event_type, payload ->> 'n', _ipai_run_id IS NOT NULL"
        f" FROM {src.target_schema}.{stream} ORDER BY delivery_id"
    ).fetchall()
    assert filed == [
        ("r-0", 0, "push", "0", True),
        ("r-1", 0, "push", "1", True),
        ("r-2", 0, "push", "2", True),
    ]
    with lakehouse.session(Principal.service("test: history")) as s:
        history = store.run_history(s, src.name)
    assert [r.status for r in history] == ["success", "success"]


def test_the_secret_never_shows_in_answers_or_the_audit_log(
    client: TestClient, add_source: AddSource, owner_conn: psycopg.Connection
) -> None:
    github = add_source("github")
    timed = add_source("hmac-sha256")
    body = _body(PUSH)
    answers = [
        _github(client, github, body, delivery="s-1"),
        _github(client, github, body, delivery="s-2", secret="nope"),
        _github(client, github, b"{bad", delivery="s-3"),
        _signed(client, timed, body, at=time.time() - 900),
        _signed(client, timed, body),
    ]
    assert [a.status_code for a in answers] == [202, 401, 400, 401, 202]
    for answer in answers:
        for secret in (github.secret, timed.secret):
            assert secret not in answer.text
    leaks = owner_conn.execute(
        "SELECT count(*) FROM public.ipai_audit_log WHERE details::text LIKE ANY (%s)",
        [[f"%{github.secret}%", f"%{timed.secret}%"]],
    ).fetchone()
    assert leaks == (0,)
    stored = owner_conn.execute(
        "SELECT count(*) FROM ipai_bronze_core.webhook_events"
        " WHERE source = ANY(%s) AND headers::text ~* 'signature'",
        [[github.source, timed.source]],
    ).fetchone()
    assert stored == (0,)


# --- signatures (pure) ------------------------------------------------------------------------


def test_signatures_round_trip_and_refuse_tampering() -> None:
    secret = SecretValue("s3cret")
    body = b'{"a": 1}'
    verify("github", secret, {"x-hub-signature-256": sign_github("s3cret", body)}, body, now=0)
    upper = "sha256=" + sign_github("s3cret", body)[7:].upper()
    verify("github", secret, {"x-hub-signature-256": upper}, body, now=0)
    with pytest.raises(SignatureError):
        verify("github", secret, {"x-hub-signature-256": sign_github("s3cret", body)}, b"{}", now=0)
    now = 1_700_000_000
    for at, ok in ((now, True), (now - 299, True), (now + 299, True), (now + 301, False)):
        headers = {"x-ipai-timestamp": str(at), "x-ipai-signature": sign_hmac("s3cret", body, at)}
        if ok:
            verify("hmac-sha256", secret, headers, body, now=now)
        else:
            with pytest.raises(SignatureError):
                verify("hmac-sha256", secret, headers, body, now=now)
    # The timestamp is signed: moving it forward breaks the signature.
    moved = {"x-ipai-timestamp": str(now), "x-ipai-signature": sign_hmac("s3cret", body, now - 900)}
    with pytest.raises(SignatureError):
        verify("hmac-sha256", secret, moved, body, now=now)
