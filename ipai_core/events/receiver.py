"""What the receiver does with one request, apart from HTTP: find the source, verify and parse the
delivery into rows (pure), and store them in one committed transaction.

    fmt = body_format(content_type, request_format)        # UnsupportedFormat, BadRequest
    endpoint = find_endpoint(lakehouse, "github", get_vault)  # UnknownSource, SourceUnavailable
    delivery = parse_delivery(endpoint, headers, body, fmt, now=time.time())
                                                           # SignatureError, BadRequest
    receipt = store(lakehouse, delivery)                   # committed when it returns

A single JSON event is line 0; a JSON Lines batch stores each non-blank line under its line
number (from 1) and is refused whole when any line is not a JSON object. Rows are keyed by
(source, delivery id, line): a replayed delivery inserts nothing and is counted as duplicates.
Events whose type the source does not accept are dropped and counted as ignored.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import psycopg
from psycopg import sql
from pydantic import ValidationError

from ipai_core.connectors.events import LANDING_TABLE, SOURCE_PATTERN, EventsConfig
from ipai_core.db.principal import Principal
from ipai_core.errors import IpaiError
from ipai_core.events.signatures import verify
from ipai_core.lakehouse import Lakehouse
from ipai_core.vault import SecretValue, Vault

Format = Literal["json", "jsonl"]
JSONL_MEDIA_TYPES = frozenset(
    {"application/x-ndjson", "application/jsonl", "application/x-jsonlines", "application/ndjson"}
)
# What of a request's headers is kept beside its events: never signatures, cookies or tokens.
KEPT_HEADERS = (
    "content-type",
    "user-agent",
    "x-github-event",
    "x-github-delivery",
    "x-github-hook-id",
    "x-github-hook-installation-target-type",
    "x-github-hook-installation-target-id",
    "x-ipai-event",
    "x-ipai-delivery",
    "x-ipai-timestamp",
)
MAX_HEADER_CHARS = 500
MAX_EVENT_TYPE_CHARS = 100
_DELIVERY_ID = re.compile(r"[A-Za-z0-9._:-]{1,200}")
_SOURCE = re.compile(SOURCE_PATTERN)
_JSON_SUFFIX = re.compile(r"application/[a-z0-9.+-]+\+json")

_FIND = (
    "SELECT name, config, is_enabled FROM public.ipai_connector_config"
    " WHERE connector_type = 'events' AND config ->> 'source' = %s"
)
_INSERT = sql.SQL(
    "INSERT INTO {} (source, delivery_id, line_no, event_type, payload, headers, body_sha256)"
    " SELECT %s, %s, e.line_no, e.event_type, e.payload::jsonb, %s::jsonb, %s"
    " FROM unnest(%s::integer[], %s::text[], %s::text[]) AS e(line_no, event_type, payload)"
    " ON CONFLICT (source, delivery_id, line_no) DO NOTHING"
).format(sql.Identifier(*LANDING_TABLE))


class EventRefused(IpaiError):
    """The request cannot be stored as sent; nothing was written."""


class UnknownSource(EventRefused):
    """No enabled events connector has this source."""

    def __init__(self, source: str) -> None:
        self.source = source
        super().__init__(f"no event source `{source}`")


class UnsupportedFormat(EventRefused):
    """The content type is neither JSON nor JSON Lines."""


class BodyTooLarge(EventRefused):
    """The body is longer than the source's `max_body_bytes`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"the body is over this source's limit of {limit} bytes; send less")


class BadRequest(EventRefused):
    """The body (or a header) is not what the receiver takes; `line` names a bad JSON line."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        self.line = line
        super().__init__(message)


class SourceUnavailable(IpaiError):
    """The source exists but cannot take deliveries now (its config or secret is broken)."""


@dataclass(frozen=True)
class Endpoint:
    """A registered source, as the receiver needs it."""

    connector: str
    config: EventsConfig
    secret: SecretValue | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Event:
    line_no: int
    event_type: str
    payload: str  # the JSON text as received; PostgreSQL parses it again into jsonb


@dataclass(frozen=True)
class Delivery:
    """One verified request, as the rows it becomes."""

    source: str
    delivery_id: str
    headers: Mapping[str, str]
    body_sha256: str
    events: tuple[Event, ...]
    ignored: int = 0


@dataclass(frozen=True)
class Receipt:
    delivery_id: str
    accepted: int
    duplicates: int
    ignored: int

    def as_json(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "ignored": self.ignored,
            "delivery_id": self.delivery_id,
        }


# -- the source --------------------------------------------------------------------------------


def find_endpoint(lakehouse: Lakehouse, source: str, vault: Callable[[], Vault]) -> Endpoint:
    """The enabled events connector of `source`, with its secret (from `vault()`, asked only
    when the source has one)."""
    if not _SOURCE.fullmatch(source):
        raise UnknownSource(source)
    with lakehouse.session(Principal.service(f"events: {source}")) as s:
        rows = s.query(_FIND, [source]).rows()
    if not rows or not rows[0][2]:
        raise UnknownSource(source)  # a disabled source is answered like a missing one
    name, raw_config = str(rows[0][0]), json.loads(str(rows[0][1]))
    try:
        config = EventsConfig.model_validate(raw_config)
    except ValidationError:
        raise SourceUnavailable(
            f"the config of events connector `{name}` is invalid; fix it with "
            "`ipai connectors add --replace`"
        ) from None
    if config.secret_ref is None:
        return Endpoint(name, config)
    try:
        return Endpoint(name, config, vault().get(config.secret_ref))
    except IpaiError as exc:  # NotFound, or the vault's DatabaseError
        raise SourceUnavailable(
            f"events connector `{name}` cannot read its secret `{config.secret_ref}`: {exc}"
        ) from exc


# -- the request (pure) ------------------------------------------------------------------------


def body_format(content_type: str | None, requested: str | None) -> Format:
    """`?format=json|jsonl` when given; else JSON for application/json (and `+json`), JSON Lines
    for application/x-ndjson and its aliases."""
    if requested is not None:
        if requested not in ("json", "jsonl"):
            raise BadRequest(f"`format` is `{requested[:20]}`; use `json` or `jsonl`")
        return "json" if requested == "json" else "jsonl"
    media, _, params = (content_type or "").partition(";")
    media = media.strip().lower()
    charset = _charset(params)
    if charset not in (None, "utf-8", "utf8"):
        raise UnsupportedFormat(f"charset `{charset[:20]}` is not accepted; send UTF-8")
    if media == "application/json" or _JSON_SUFFIX.fullmatch(media):
        return "json"
    if media in JSONL_MEDIA_TYPES:
        return "jsonl"
    raise UnsupportedFormat(
        f"content type `{media[:60] or 'none'}` is not accepted; send `application/json` (one "
        "event) or `application/x-ndjson` (JSON Lines), or add `?format=json|jsonl`"
    )


def parse_delivery(
    endpoint: Endpoint, headers: Mapping[str, str], body: bytes, fmt: Format, *, now: float
) -> Delivery:
    """Verify `body`'s signature, then parse it into events (`headers` keyed in lower case)."""
    config = endpoint.config
    if len(body) > config.max_body_bytes:
        raise BodyTooLarge(config.max_body_bytes)
    verify(config.signature, endpoint.secret, headers, body, now=now)
    sha = hashlib.sha256(body).hexdigest()
    declared = _declared_event_type(headers)
    events = [
        Event(line_no, declared or _own_event_type(obj), raw)
        for line_no, raw, obj in _documents(_text(body), fmt)
    ]
    accepted = config.event_types
    kept = tuple(e for e in events if accepted is None or e.event_type in accepted)
    return Delivery(
        source=config.source,
        delivery_id=_delivery_id(headers, sha),
        headers=kept_headers(headers),
        body_sha256=sha,
        events=kept,
        ignored=len(events) - len(kept),
    )


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {h: headers[h][:MAX_HEADER_CHARS] for h in KEPT_HEADERS if h in headers}


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"the body is not UTF-8 (byte {exc.start}); send UTF-8 JSON") from None


def _documents(text: str, fmt: Format) -> list[tuple[int, str, dict[str, Any]]]:
    """(line number, JSON text, object) of each event: line 0 for a single JSON document."""
    if fmt == "json":
        return [(0, text, _object(text, "the body", None))]
    documents = []
    for line_no, line in enumerate(text.split("\n"), start=1):
        raw = line.strip()
        if raw:
            documents.append((line_no, raw, _object(raw, f"line {line_no}", line_no)))
    if not documents:
        raise BadRequest("the batch has no lines; send one JSON object per line")
    return documents


def _object(raw: str, where: str, line: int | None) -> dict[str, Any]:
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"{where} is not valid JSON ({exc.msg} at {_position(exc, line)}); nothing from this "
            "request was stored",
            line=line,
        ) from None
    except (ValueError, RecursionError) as exc:
        raise BadRequest(
            f"{where} is not valid JSON ({exc}); nothing was stored", line=line
        ) from None
    if not isinstance(value, dict):
        raise BadRequest(
            f"{where} is a JSON {_json_kind(value)}, not an object; nothing was stored", line=line
        )
    if not _storable(value):
        raise BadRequest(
            f"{where} holds a `\\u0000` or an unpaired surrogate, which jsonb cannot store",
            line=line,
        )
    return value


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool) or value is None:
        return "literal"
    return "number"


def _position(exc: json.JSONDecodeError, line: int | None) -> str:
    return f"column {exc.colno}" if line is not None else f"line {exc.lineno} column {exc.colno}"


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"`{name}` is not a JSON number")


def _storable(value: Any) -> bool:
    """False when a string holds what PostgreSQL's jsonb refuses (NUL, lone surrogates)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and not _plain_text(item):
            return False
    return True


def _plain_text(text: str) -> bool:
    return "\x00" not in text and not any("\ud800" <= c <= "\udfff" for c in text)


def _declared_event_type(headers: Mapping[str, str]) -> str | None:
    for header in ("x-github-event", "x-ipai-event"):
        value = headers.get(header)
        if value is not None:
            value = value.strip()
            if not 0 < len(value) <= MAX_EVENT_TYPE_CHARS:
                raise BadRequest(f"`{header}` must be 1 to {MAX_EVENT_TYPE_CHARS} characters")
            return value
    return None


def _own_event_type(obj: Mapping[str, Any]) -> str:
    own = obj.get("type")
    if isinstance(own, str) and 0 < len(own) <= MAX_EVENT_TYPE_CHARS:
        return own
    return "event"


def _delivery_id(headers: Mapping[str, str], body_sha256: str) -> str:
    for header in ("x-github-delivery", "x-ipai-delivery"):
        value = headers.get(header)
        if value is not None:
            if not _DELIVERY_ID.fullmatch(value.strip()):
                raise BadRequest(
                    f"`{header}` must be 1 to 200 letters, digits or `._:-` characters"
                )
            return value.strip()
    return f"sha256:{body_sha256}"


def _charset(params: str) -> str | None:
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip('"').lower()
    return None


# -- the write ---------------------------------------------------------------------------------


def store(lakehouse: Lakehouse, delivery: Delivery) -> Receipt:
    """Insert the delivery's events in one transaction, committed (synchronously) on return."""
    new = 0
    if delivery.events:
        try:
            with lakehouse.session(Principal.service(f"events: {delivery.source}")) as s:
                s.execute("SELECT set_config('synchronous_commit', 'on', true)")
                new = s.execute(_INSERT, _insert_params(delivery))
        except psycopg.DataError as exc:
            raise BadRequest(
                f"PostgreSQL cannot store this JSON: {exc.diag.message_primary}; nothing was stored"
            ) from None
    return Receipt(
        delivery_id=delivery.delivery_id,
        accepted=new,
        duplicates=len(delivery.events) - new,
        ignored=delivery.ignored,
    )


def _insert_params(delivery: Delivery) -> list[Any]:
    return [
        delivery.source,
        delivery.delivery_id,
        json.dumps(dict(delivery.headers)),
        delivery.body_sha256,
        [e.line_no for e in delivery.events],
        [e.event_type for e in delivery.events],
        [e.payload for e in delivery.events],
    ]
