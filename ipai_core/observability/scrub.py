"""Scrubbing: what must never reach a log line, a span attribute or an error report.

`scrub(text)` replaces, in this order:

- the values of every secret this process has held (`ipai_core.vault.secret.held_values()`:
  each vault secret read and each secret setting wrapped in a `SecretValue`) — the same values the
  sync engine already removes from recorded run errors, now removed from everything else too;
- JSON Web Tokens (`eyJ….eyJ….sig`);
- bearer tokens and `Authorization:` header values (`Bearer …`, `Basic …`);
- the value after `password=`, `secret:`, `token=`, `api_key=`, `key=` and the like (also in
  JSON and connection strings);
- the password of a URL (`postgresql://user:pw@host` → `postgresql://user:***@host`).

Scrubbing is deliberately greedy: a false positive hides a harmless value, a false negative leaks
a credential into every log sink downstream.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ipai_core.vault.secret import held_values

MASK = "***"

_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)\b(bearer)(\s+)[A-Za-z0-9._~+/=-]{8,}")
_AUTHORIZATION = re.compile(
    r"(?i)(\bauthorization[\"']?\s*[:=]\s*[\"']?)(?:(?:bearer|basic|token)\s+)?[^\s\"',;]+"
)
_ASSIGNMENT = re.compile(
    r"(?i)\b([a-z0-9_.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|"
    r"private[_-]?key|credentials?|key))"
    r"(\"?'?\s*[:=]\s*\"?'?)"
    r"([^\s\"'&,;}]+)"
)
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]+:)([^\s@/]+)(@)")
_SECRET_NAME = re.compile(  # a key that *ends* in one of these: `access_token`, not `tokens_used`
    r"(?i)(?:^|[_.-])(password|passwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|"
    r"credentials?|authorization|cookie)$"
)


def scrub(text: str) -> str:
    """`text` with secrets, tokens and passwords replaced by `***`."""
    for value in held_values():
        if value in text:
            text = text.replace(value, MASK)
    text = _JWT.sub(MASK, text)
    text = _AUTHORIZATION.sub(rf"\1{MASK}", text)
    text = _BEARER.sub(rf"\1\2{MASK}", text)
    text = _URL_PASSWORD.sub(rf"\1{MASK}\3", text)
    return _ASSIGNMENT.sub(rf"\1\2{MASK}", text)


def scrub_value(value: Any) -> Any:
    """Strings scrubbed, mappings and lists scrubbed item by item (the whole value of a key that
    names a secret, such as `password` or `api_key`), anything else unchanged."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {
            str(k): MASK if _SECRET_NAME.search(str(k)) else scrub_value(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub_value(v) for v in value]
    return value
