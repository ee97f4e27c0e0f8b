"""Webhook signatures: HMAC-SHA256 over the raw body, compared in constant time.

    github       X-Hub-Signature-256: sha256=<hex HMAC(secret, body)>            (GitHub's)
    hmac-sha256  X-IPAI-Timestamp: <unix seconds>
                 X-IPAI-Signature: sha256=<hex HMAC(secret, "<timestamp>." + body)>
                 accepted within `TOLERANCE_S` of the receiver's clock, so a captured request
                 cannot be replayed later (Stripe's scheme)
    none         nothing to check (an events config allows it only with `allow_unsigned`)

`verify` raises `SignatureError`, whose message never quotes the secret or a signature. Senders
(and tests) sign with `sign_github` and `sign_hmac`. GitHub signs the body only: its delivery id
and event headers are not covered, so the delivery id deduplicates honest redeliveries but cannot
stop a replayed body under a fresh id — the timestamped scheme can.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping

from ipai_core.connectors.events import SignatureScheme
from ipai_core.errors import IpaiError
from ipai_core.vault import SecretValue

GITHUB_HEADER = "x-hub-signature-256"
SIGNATURE_HEADER = "x-ipai-signature"
TIMESTAMP_HEADER = "x-ipai-timestamp"
TOLERANCE_S = 300
_SIGNATURE = re.compile(r"sha256=([0-9a-fA-F]{64})")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


class SignatureError(IpaiError):
    """A delivery's signature is missing, malformed, wrong or too old; nothing was stored."""

    def __init__(self, message: str, *, scheme: str) -> None:
        self.scheme = scheme
        super().__init__(message)


def sign_github(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub sends for `body`."""
    return "sha256=" + _hex_hmac(secret, body)


def sign_hmac(secret: str, body: bytes, timestamp: int) -> str:
    """The `X-IPAI-Signature` value for `body` sent with `X-IPAI-Timestamp: <timestamp>`."""
    return "sha256=" + _hex_hmac(secret, f"{timestamp}.".encode() + body)


def verify(
    scheme: SignatureScheme,
    secret: SecretValue | None,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
) -> None:
    """Check `body` against the signature headers (`headers` keyed in lower case)."""
    if scheme == "none":
        return
    if secret is None:
        raise SignatureError(f"no secret to check `{scheme}` signatures with", scheme=scheme)
    if scheme == "github":
        _check(scheme, headers, GITHUB_HEADER, _hex_hmac(secret.reveal(), body))
        return
    timestamp = headers.get(TIMESTAMP_HEADER, "").strip()
    if not _TIMESTAMP.fullmatch(timestamp):
        raise SignatureError(
            "missing or malformed `X-IPAI-Timestamp`; send the signing time in unix seconds",
            scheme=scheme,
        )
    signed = f"{timestamp}.".encode() + body
    _check(scheme, headers, SIGNATURE_HEADER, _hex_hmac(secret.reveal(), signed))
    skew = abs(now - int(timestamp))
    if skew > TOLERANCE_S:
        raise SignatureError(
            f"`X-IPAI-Timestamp` is {skew:.0f} s from the receiver's clock, over the "
            f"{TOLERANCE_S} s allowed; sign each request when sending it",
            scheme=scheme,
        )


def _check(scheme: str, headers: Mapping[str, str], header: str, expected_hex: str) -> None:
    sent = headers.get(header)
    if sent is None:
        raise SignatureError(f"missing `{_title(header)}` header", scheme=scheme)
    match = _SIGNATURE.fullmatch(sent.strip())
    if match is None:
        raise SignatureError(
            f"malformed `{_title(header)}`; expected `sha256=<64 hex digits>`", scheme=scheme
        )
    if not hmac.compare_digest(match[1].lower().encode(), expected_hex.encode()):
        raise SignatureError(
            f"`{_title(header)}` does not match the body; check the shared secret",
            scheme=scheme,
        )


def _hex_hmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def _title(header: str) -> str:
    return "-".join("IPAI" if p == "ipai" else p.capitalize() for p in header.split("-"))
