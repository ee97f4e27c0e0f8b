"""Delivery: drain the outbox (`ipai_alert_delivery`) to the destinations over HTTP.

`deliver_due` claims due attempts (`FOR UPDATE SKIP LOCKED`: several schedulers never send one
attempt twice at once), sends each with a short timeout, and records every attempt: delivered,
retrying (the next attempt is queued after a backoff), or failed (a 4xx that retrying cannot
fix, or the last attempt). Within one pass, a destination that failed is not tried again: a
dead endpoint costs one timeout per pass, not one per event. Results are written once per batch;
a process that dies mid-batch leaves its attempts `sending`, and they are sent again after
`LEASE` — delivery is at least once, and `X-IPAI-Delivery` (the event id) lets a receiver drop
a repeat.

No URL held in the vault and no secret is ever written to a row, a log line or an error.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from ipai_core.alerts.destinations import Destination, get_destination
from ipai_core.alerts.events import OutgoingEvent
from ipai_core.alerts.payloads import render
from ipai_core.db.principal import Principal
from ipai_core.db.scoped import ScopedSession
from ipai_core.errors import IpaiError
from ipai_core.events.signatures import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_hmac
from ipai_core.lakehouse import Lakehouse
from ipai_core.scheduler.plan import RetryPolicy
from ipai_core.vault import SecretValue, open_vault

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
BATCH = 20
USER_AGENT = "ipai-databricks-webhooks"
_RETRYABLE = {408, 425, 429}
_BODY_IN_ERROR = 200


@dataclass(frozen=True)
class Attempt:
    """How sending once ended. `retryable`: the same request may work later."""

    delivered: bool
    retryable: bool
    http_status: int | None = None
    error: str | None = None
    duration_ms: int = 0


@dataclass(frozen=True)
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    deferred: int = 0  # not tried: their destination already failed in this pass

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(
            self.delivered + other.delivered,
            self.retrying + other.retrying,
            self.failed + other.failed,
            self.deferred + other.deferred,
        )

    def __str__(self) -> str:
        return (
            f"{self.delivered} delivered, {self.retrying} to retry, {self.failed} failed, "
            f"{self.deferred} deferred"
        )


@dataclass(frozen=True)
class _Claimed:
    id: str
    attempt: int
    claimed_at: datetime
    payload: dict[str, Any]
    destination: Destination


@dataclass
class _Pass:
    """One `deliver_due` call: its HTTP poster, the credentials it resolved, the destinations
    that failed in it."""

    lh: Lakehouse
    poster: Poster
    policy: RetryPolicy
    jitter: Callable[[], float]
    credentials: dict[str, dict[str, SecretValue] | IpaiError] = field(default_factory=dict)
    broken: set[str] = field(default_factory=set)


def deliver_due(
    lh: Lakehouse,
    *,
    now: datetime | None = None,
    limit: int = 500,
    budget_s: float = 45.0,
    jitter: Callable[[], float] = random.random,
) -> DeliveryReport:
    """Send the attempts due at `now` (default: the database's clock), at most `limit`, and
    stop claiming more after `budget_s` seconds."""
    settings = lh.settings
    policy = RetryPolicy(
        max_attempts=settings.alert_max_attempts,
        base_delay=timedelta(seconds=settings.alert_retry_base_s),
        max_delay=timedelta(minutes=30),
    )
    report = DeliveryReport()
    deadline = time.monotonic() + budget_s
    with Poster(settings.alert_http_timeout_s) as poster:
        run = _Pass(lh, poster, policy, jitter)
        while report.delivered + report.retrying + report.failed < limit:
            claimed = _claim(lh, now, min(BATCH, limit))
            if not claimed:
                break
            report += _send_batch(run, claimed, now)
            if time.monotonic() >= deadline:
                break
    return report


def send_test(lh: Lakehouse, name: str) -> Attempt:
    """Send one test message to destination `name` now (nothing queued; the try is audited)."""
    with lh.session(Principal.service(f"alerts: test destination {name}")) as s:
        destination = get_destination(s, name)
    event = OutgoingEvent(
        "alert.firing",
        "warn",
        f"Test message from IPAI Databricks: destination `{name}` receives alerts.",
        alert={"key": "test", "source": "ipai alerts test", "severity": "warn"},
    )
    with Poster(lh.settings.alert_http_timeout_s) as poster:
        credentials = _resolve(lh, destination)
        if isinstance(credentials, IpaiError):
            attempt = Attempt(False, True, error=str(credentials))
        else:
            attempt = send(poster, destination, event.payload(), credentials)
    with lh.session(Principal.service(f"alerts: test destination {name}")) as s:
        s.execute(
            "SELECT public.ipai_audit('alert', 'destination', %s::uuid, 'tested', %s)",
            [
                destination.id,
                json.dumps({"delivered": attempt.delivered, "http_status": attempt.http_status}),
            ],
        )
    return attempt


def send(
    poster: Poster,
    destination: Destination,
    payload: Mapping[str, Any],
    credentials: Mapping[str, SecretValue],
) -> Attempt:
    """POST `payload` in the destination's format once; never raises for HTTP trouble."""
    url = _url(destination, credentials)
    body = json.dumps(render(destination.format, payload), separators=(",", ":")).encode()
    headers = _headers(destination, payload, body, credentials)
    scrub = _scrubber(destination, credentials)
    started = time.monotonic()
    try:
        status, text = poster.post(url, body, headers)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        error = scrub(f"{type(exc).__name__}: {exc}")
        return Attempt(False, True, error=error, duration_ms=_ms(started))
    elapsed = _ms(started)
    if 200 <= status < 300:
        return Attempt(True, False, status, duration_ms=elapsed)
    retryable = status >= 500 or status in _RETRYABLE
    text = " ".join(text[:_BODY_IN_ERROR].split())
    error = scrub(f"HTTP {status}" + (f": {text}" if text else ""))
    return Attempt(False, retryable, status, error, elapsed)


class Poster:
    """POSTs JSON through an httpx transport, reusing connections. Not through `httpx.Client`:
    the client logs every request's URL, and a Slack-style webhook URL is a credential. No
    redirect is followed (a moved webhook should be updated, not chased)."""

    def __init__(self, timeout_s: float) -> None:
        self._transport = httpx.HTTPTransport()
        self._timeout = httpx.Timeout(timeout_s).as_dict()

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, str]:
        """The status and (the start of) the body of the answer."""
        request = httpx.Request(
            "POST", url, content=body, headers=headers, extensions={"timeout": self._timeout}
        )
        response = self._transport.handle_request(request)
        try:
            response.read()
            return response.status_code, response.text
        finally:
            response.close()

    def __enter__(self) -> Poster:
        return self

    def __exit__(self, *exc: object) -> None:
        self._transport.close()


# --- one batch ------------------------------------------------------------------------------


_CLAIM = """
WITH claimed AS (
  UPDATE public.ipai_alert_delivery d SET status = 'sending', attempted_at = %(now)s
   WHERE d.id IN (SELECT q.id FROM public.ipai_alert_delivery q
                   WHERE (q.status = 'pending' AND q.due_at <= %(now)s)
                      OR (q.status = 'sending' AND q.attempted_at < %(now)s - %(lease)s)
                   ORDER BY q.due_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED)
  RETURNING d.id, d.event_id, d.destination_id, d.attempt, d.due_at, d.attempted_at)
SELECT c.id::text, c.attempt, c.attempted_at, e.payload, t.id::text, t.name, t.format, t.url,
       t.url_secret_ref, t.auth, t.secret_ref, t.event_types, t.min_severity, t.enabled,
       t.created_at
  FROM claimed c
  JOIN public.ipai_alert_event e ON e.id = c.event_id
  JOIN public.ipai_alert_destination t ON t.id = c.destination_id
 ORDER BY c.due_at, c.id
"""


def _claim(lh: Lakehouse, now: datetime | None, limit: int) -> list[_Claimed]:
    with lh.session(Principal.service("alerts: claim due deliveries")) as s:
        at = now or s.scalar("SELECT now()")
        rows = s.query(_CLAIM, {"now": at, "lease": LEASE, "limit": limit}).rows()
    return [
        _Claimed(
            id=r[0],
            attempt=int(r[1]),
            claimed_at=r[2],
            payload=json.loads(r[3]),
            destination=Destination(
                r[4], r[5], r[6], r[7], r[8], r[9], r[10], tuple(r[11]), r[12], bool(r[13]), r[14]
            ),
        )
        for r in rows
    ]


def _send_batch(run: _Pass, claimed: list[_Claimed], now: datetime | None) -> DeliveryReport:
    outcomes: list[tuple[_Claimed, Attempt | None]] = []
    for item in claimed:
        destination = item.destination
        if destination.id in run.broken:
            outcomes.append((item, None))
            continue
        attempt = _attempt(run, item)
        if not attempt.delivered and attempt.retryable:
            run.broken.add(destination.id)
        level = logging.INFO if attempt.delivered else logging.WARNING
        log.log(
            level,
            "%s to %s, attempt %s: %s",
            item.payload.get("type"),
            destination.name,
            item.attempt,
            "delivered" if attempt.delivered else attempt.error,
        )
        outcomes.append((item, attempt))
    with run.lh.session(Principal.service("alerts: record deliveries")) as s:
        at = now or s.scalar("SELECT now()")
        return _record(s, run, outcomes, at)


def _attempt(run: _Pass, item: _Claimed) -> Attempt:
    destination = item.destination
    if not destination.enabled:
        return Attempt(False, False, error="the destination was disabled before delivery")
    if destination.id not in run.credentials:
        run.credentials[destination.id] = _resolve(run.lh, destination)
    credentials = run.credentials[destination.id]
    if isinstance(credentials, IpaiError):
        return Attempt(False, True, error=str(credentials))
    return send(run.poster, destination, item.payload, credentials)


def _record(
    s: ScopedSession,
    run: _Pass,
    outcomes: Iterable[tuple[_Claimed, Attempt | None]],
    now: datetime,
) -> DeliveryReport:
    report = DeliveryReport()
    for item, attempt in outcomes:
        delay = run.policy.delay(item.attempt, run.jitter())
        if attempt is None:
            _defer(s, item, now + delay)
            report += DeliveryReport(deferred=1)
            continue
        last = item.attempt >= run.policy.max_attempts
        status = (
            "delivered"
            if attempt.delivered
            else ("retrying" if attempt.retryable and not last else "failed")
        )
        _finish(s, item, attempt, status)
        if status == "retrying":
            _queue_next(s, item, now + delay)
        report += DeliveryReport(
            delivered=int(status == "delivered"),
            retrying=int(status == "retrying"),
            failed=int(status == "failed"),
        )
    return report


def _finish(s: ScopedSession, item: _Claimed, attempt: Attempt, status: str) -> None:
    s.execute(
        "UPDATE public.ipai_alert_delivery SET status = %s, http_status = %s, error = %s,"
        " duration_ms = %s WHERE id = %s AND status = 'sending' AND attempted_at = %s",
        [status, attempt.http_status, attempt.error, attempt.duration_ms, item.id, item.claimed_at],
    )


def _queue_next(s: ScopedSession, item: _Claimed, due_at: datetime) -> None:
    s.execute(
        "INSERT INTO public.ipai_alert_delivery (event_id, destination_id, attempt, due_at)"
        " SELECT event_id, destination_id, attempt + 1, %s FROM public.ipai_alert_delivery"
        " WHERE id = %s ON CONFLICT (event_id, destination_id, attempt) DO NOTHING",
        [due_at, item.id],
    )


def _defer(s: ScopedSession, item: _Claimed, due_at: datetime) -> None:
    """Not tried (its destination failed earlier in this pass): pending again, attempt unspent."""
    s.execute(
        "UPDATE public.ipai_alert_delivery SET status = 'pending', attempted_at = NULL,"
        " due_at = %s WHERE id = %s AND status = 'sending' AND attempted_at = %s",
        [due_at, item.id, item.claimed_at],
    )


# --- one request ----------------------------------------------------------------------------


def _resolve(lh: Lakehouse, destination: Destination) -> dict[str, SecretValue] | IpaiError:
    """The destination's secrets, or the error to record (a missing secret may be added later)."""
    if not destination.secret_refs:
        return {}
    try:
        return open_vault(lh).resolve(destination.secret_refs)
    except IpaiError as exc:
        return exc


def _url(destination: Destination, credentials: Mapping[str, SecretValue]) -> str:
    if destination.url_secret_ref is not None:
        return credentials[destination.url_secret_ref].reveal()
    return str(destination.url)


def _headers(
    destination: Destination,
    payload: Mapping[str, Any],
    body: bytes,
    credentials: Mapping[str, SecretValue],
) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-IPAI-Event": str(payload.get("type", "")),
        "X-IPAI-Delivery": str(payload.get("id", "")),
    }
    if destination.secret_ref is None:
        return headers
    secret = credentials[destination.secret_ref].reveal()
    if destination.auth == "bearer":
        headers["Authorization"] = f"Bearer {secret}"
    else:  # hmac: the scheme `ipai_core.events` verifies (Stripe's: timestamp + body)
        timestamp = int(time.time())
        headers[TIMESTAMP_HEADER] = str(timestamp)
        headers[SIGNATURE_HEADER] = sign_hmac(secret, body, timestamp)
    return headers


def _scrubber(
    destination: Destination, credentials: Mapping[str, SecretValue]
) -> Callable[[str], str]:
    """Masks every secret this destination uses — and, for a URL kept in the vault, the URL
    and its path and query, which carry the credential of Slack-style webhooks."""
    hidden: list[str] = [v.reveal() for v in credentials.values()]
    if destination.url_secret_ref is not None:
        parts = urlsplit(credentials[destination.url_secret_ref].reveal())
        hidden += [parts.path, parts.query, parts.password or ""]
    hidden = sorted((h for h in hidden if len(h) > 1 and h != "/"), key=len, reverse=True)

    def scrub(text: str) -> str:
        for value in hidden:
            text = text.replace(value, "***")
        return text

    return scrub


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
