"""`POST /api/events/{source}`: webhooks and JSON Lines batches into bronze, acknowledged only
once they are committed.

    202  {"accepted": n, "duplicates": m, "ignored": k, "delivery_id": "…"}   n ≥ 1 events stored
    200  the same body with n = 0: a replay (all duplicates) or only ignored event types; a 2xx
         all the same, so the sender stops retrying
    400  not UTF-8, not JSON, not an object, a bad line of a batch (named), a bad delivery id or
         event header, an unknown `?format=`
    401  signature missing, malformed or wrong; for `hmac-sha256` also a timestamp over 5 minutes
         away
    404  no enabled events connector has this source (and nothing more is said)
    413  the body is over the source's `max_body_bytes` (read in chunks, dropped at the limit)
    415  neither `application/json` nor `application/x-ndjson` (and no `?format=json|jsonl`)
    503  the database is unreachable, or the source's config or secret is broken: nothing was
         acknowledged, retry later

Checks run cheapest first: content type, then the source (one query), the body limit, the
signature (before any JSON is parsed), the JSON, and last the write. Nothing is written unless
every check passed, and a 2xx leaves only after the transaction committed.

No audit entry per request: each database session the receiver opens is a service-role session,
which the audit log already records with its reason (`events: <source>`), and the stored row
itself (received_at, delivery id, body hash, headers) is the record of what was accepted. Refusals
are logged (`ipai_core.events.routes`) with their source, status and reason, never a secret or a
signature.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import psycopg
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ipai_core.errors import IpaiError
from ipai_core.events.receiver import (
    BadRequest,
    BodyTooLarge,
    Endpoint,
    EventRefused,
    Format,
    Receipt,
    UnknownSource,
    UnsupportedFormat,
    body_format,
    find_endpoint,
    parse_delivery,
    store,
)
from ipai_core.events.signatures import SignatureError
from ipai_core.lakehouse import Lakehouse
from ipai_core.vault import Vault, open_vault

EVENTS_PATH = "/api/events/{source}"

LakehouseProvider = Callable[[], Lakehouse]

_log = logging.getLogger(__name__)
_NO_STORE = {"Cache-Control": "no-store"}
_REFUSALS: tuple[tuple[type[IpaiError], int, str], ...] = (
    (UnknownSource, 404, "unknown_source"),
    (UnsupportedFormat, 415, "unsupported_media_type"),
    (BodyTooLarge, 413, "payload_too_large"),
    (BadRequest, 400, "bad_request"),
    (SignatureError, 401, "invalid_signature"),
)


def build_event_routes(lakehouse_provider: LakehouseProvider) -> list[Route]:
    """The receiver's route. `lakehouse_provider` is called on each request, never before the
    first one; pass one that returns the same cached `Lakehouse` for the whole process."""
    receiver = _Receiver(lakehouse_provider)
    return [Route(EVENTS_PATH, receiver.receive, methods=["POST"])]


async def read_body(request: Request, limit: int) -> bytes:
    """The body, read chunk by chunk; `BodyTooLarge` as soon as it would pass `limit` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    body = bytearray()
    async for chunk in request.stream():
        if len(body) + len(chunk) > limit:
            raise BodyTooLarge(limit)
        body += chunk
    return bytes(body)


class _Receiver:
    def __init__(self, lakehouse: LakehouseProvider) -> None:
        self._lakehouse = lakehouse
        self._vault: tuple[Lakehouse, Vault] | None = None  # one per Lakehouse: it never changes

    async def receive(self, request: Request) -> JSONResponse:
        source = request.path_params["source"]
        try:
            fmt = body_format(
                request.headers.get("content-type"), request.query_params.get("format")
            )
            lakehouse, endpoint = await run_in_threadpool(self._endpoint, source)
            body = await read_body(request, endpoint.config.max_body_bytes)
            receipt = await run_in_threadpool(
                self._accept, lakehouse, endpoint, request.headers, body, fmt
            )
        except (EventRefused, SignatureError) as exc:
            return _refusal(source, exc)
        except ClientDisconnect:  # the sender hung up mid-body: nothing stored, nobody to tell
            return _error(400, "bad_request", "the request ended before its body did")
        except (IpaiError, psycopg.Error) as exc:  # database down, broken config or secret
            _log.warning("events %s: not stored, answered 503: %s", source, _primary(exc))
            return _error(
                503,
                "unavailable",
                "the event store is unavailable; nothing was stored, retry later",
                {"Retry-After": "30"},
            )
        return JSONResponse(
            receipt.as_json(), status_code=202 if receipt.accepted else 200, headers=_NO_STORE
        )

    def _endpoint(self, source: str) -> tuple[Lakehouse, Endpoint]:
        lakehouse = self._lakehouse()
        return lakehouse, find_endpoint(lakehouse, source, lambda: self._vault_of(lakehouse))

    def _vault_of(self, lakehouse: Lakehouse) -> Vault:
        if self._vault is None or self._vault[0] is not lakehouse:
            self._vault = (lakehouse, open_vault(lakehouse))
        return self._vault[1]

    @staticmethod
    def _accept(
        lakehouse: Lakehouse, endpoint: Endpoint, headers: Headers, body: bytes, fmt: Format
    ) -> Receipt:
        delivery = parse_delivery(endpoint, headers, body, fmt, now=time.time())
        return store(lakehouse, delivery)


def _refusal(source: str, exc: IpaiError) -> JSONResponse:
    status, code = next((s, c) for kind, s, c in _REFUSALS if isinstance(exc, kind))
    _log.info("events %s: refused with %d: %s", source, status, exc)
    description = "no such event source" if status == 404 else str(exc)
    extra = {"Connection": "close"} if status == 413 else {}
    return _error(status, code, description, extra)


def _error(
    status: int, error: str, description: str, extra: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={**_NO_STORE, **(extra or {})},
    )


def _primary(exc: Exception) -> str:
    if isinstance(exc, psycopg.Error):
        return exc.diag.message_primary or type(exc).__name__
    return str(exc)
