"""Pushed events: the webhook receiver the workspace serves at `POST /api/events/{source}`.

A source is an `events` connector (`ipai_core.connectors.events`): its path segment, signature
scheme, vault secret, body limit and accepted event types. A delivery is verified, parsed and
stored in `ipai_bronze_core.webhook_events` — one committed transaction — before the 2xx; a
replayed delivery id stores nothing new. A connector run later files the source's events into
`<target_schema>.<source>_events`.

    signatures.py  HMAC-SHA256 checks (GitHub's `X-Hub-Signature-256`; the timestamped
                   `X-IPAI-Signature`), and the matching signing helpers for senders and tests
    receiver.py    find the source, parse and verify a delivery into rows, store them
    routes.py      the Starlette route: content type, bounded body, status codes

Refusals (nothing is written for any of them):

    IpaiError
    ├── EventRefused           the request cannot be stored as sent
    │   ├── UnknownSource      404  no enabled events connector has this source
    │   ├── UnsupportedFormat  415  neither JSON nor JSON Lines
    │   ├── BodyTooLarge       413  over the source's `max_body_bytes`
    │   └── BadRequest         400  not JSON, not an object, a bad line (`line`), a bad header
    ├── SignatureError         401  missing, malformed, wrong or expired signature
    └── SourceUnavailable      503  the source's config or secret is broken (as is a database
                                    that cannot be reached: `DatabaseError`)
"""

from ipai_core.events.receiver import (
    BadRequest,
    BodyTooLarge,
    Delivery,
    Endpoint,
    EventRefused,
    Receipt,
    SourceUnavailable,
    UnknownSource,
    UnsupportedFormat,
    body_format,
    find_endpoint,
    parse_delivery,
    store,
)
from ipai_core.events.routes import EVENTS_PATH, build_event_routes, read_body
from ipai_core.events.signatures import SignatureError, sign_github, sign_hmac, verify

__all__ = [
    "EVENTS_PATH",
    "BadRequest",
    "BodyTooLarge",
    "Delivery",
    "Endpoint",
    "EventRefused",
    "Receipt",
    "SignatureError",
    "SourceUnavailable",
    "UnknownSource",
    "UnsupportedFormat",
    "body_format",
    "build_event_routes",
    "find_endpoint",
    "parse_delivery",
    "read_body",
    "sign_github",
    "sign_hmac",
    "store",
    "verify",
]
