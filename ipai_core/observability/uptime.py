"""Uptime: probe a health URL once and record what was seen in `public.ipai_uptime_probe`.

The scheduler's `uptime_probe` job calls `probe` on the workspace's `/healthz` every minute; the
app availability SLO and the `uptime` alert rules read the rows. A probe is up only on HTTP 200
within the timeout; anything else (refused, timed out, 503 because the database is down) is down
with the reason recorded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from ipai_core.db.scoped import ScopedSession
from ipai_core.observability import metrics
from ipai_core.observability.scrub import scrub
from ipai_core.settings import Settings

PROBE_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ProbeResult:
    target: str
    url: str
    up: bool
    latency_ms: float
    status_code: int | None = None
    error: str | None = None


def health_url(settings: Settings) -> str:
    """`IPAI_UPTIME_URL`, else the workspace's own `/healthz`."""
    if settings.uptime_url:
        return settings.uptime_url
    host = settings.workspace_host
    host = "127.0.0.1" if host in ("0.0.0.0", "") else host  # noqa: S104 - a bind-all address
    return f"http://{host}:{settings.workspace_port}/healthz"


def probe(
    target: str,
    url: str,
    *,
    timeout_s: float = PROBE_TIMEOUT_S,
    transport: httpx.BaseTransport | None = None,
) -> ProbeResult:
    """GET `url` once; never raises (a failure is a down probe)."""
    started = time.monotonic()
    try:
        with httpx.Client(timeout=timeout_s, transport=transport) as client:
            response = client.get(url)
    except httpx.HTTPError as exc:
        elapsed = (time.monotonic() - started) * 1000
        return ProbeResult(target, url, False, elapsed, error=scrub(_describe(exc)))
    elapsed = (time.monotonic() - started) * 1000
    up = response.status_code == 200
    error = None if up else f"HTTP {response.status_code}"
    return ProbeResult(target, url, up, elapsed, response.status_code, error)


def record(s: ScopedSession, result: ProbeResult, *, probed_by: str) -> None:
    s.execute(
        "INSERT INTO public.ipai_uptime_probe (target, url, up, status_code, latency_ms, error,"
        " probed_by) VALUES (%s, %s, %s, %s, %s, %s, %s)",
        [
            result.target,
            scrub(result.url),
            result.up,
            result.status_code,
            round(result.latency_ms, 3),
            result.error,
            probed_by,
        ],
    )
    metrics.uptime_probe(result.target, up=result.up, latency_ms=result.latency_ms)


def _describe(exc: httpx.HTTPError) -> str:
    return f"{type(exc).__name__}: {exc}".strip().rstrip(":")
