"""What an agent run row keeps of a call's input and output: small, and without secrets.

Values under secret-looking keys are replaced, tokens and URL passwords inside strings are
masked, strings are cut at `MAX_TEXT` characters, lists and objects at `MAX_ITEMS` entries and
nesting at `MAX_DEPTH` levels.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

MAX_TEXT = 500
MAX_ITEMS = 20
MAX_DEPTH = 4
REDACTED = "[redacted]"

_SECRET_KEY = re.compile(
    r"pass(word|phrase)?|secret|token|api[_-]?key|authorization|credential|private[_-]?key", re.I
)
_JWT = re.compile(r"eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*")
_URL_PASSWORD = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s]+@", re.I)
_BEARER = re.compile(r"(bearer\s+)\S+", re.I)


def summarize(value: Any, *, depth: int = 0) -> Any:
    """A JSON-able, bounded, secret-free copy of `value`."""
    if isinstance(value, Mapping):
        return _mapping(value, depth)
    if isinstance(value, list | tuple | set | frozenset):
        return _sequence(list(value), depth)
    if isinstance(value, str):
        return scrub_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Decimal):
        return float(value)
    return scrub_text(str(value))


def scrub_text(text: str, *, limit: int = MAX_TEXT) -> str:
    """Mask tokens, bearer credentials and URL passwords; cut to `limit` characters."""
    text = _JWT.sub(REDACTED, text)
    text = _BEARER.sub(rf"\1{REDACTED}", text)
    text = _URL_PASSWORD.sub(rf"\1{REDACTED}@", text)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} characters)"


def _mapping(value: Mapping[Any, Any], depth: int) -> Any:
    if depth >= MAX_DEPTH:
        return f"{{… {len(value)} keys}}"
    out: dict[str, Any] = {}
    for i, (key, item) in enumerate(value.items()):
        if i == MAX_ITEMS:
            out["…"] = f"{len(value) - MAX_ITEMS} more keys"
            break
        name = str(key)
        out[name] = REDACTED if _SECRET_KEY.search(name) else summarize(item, depth=depth + 1)
    return out


def _sequence(items: list[Any], depth: int) -> Any:
    if depth >= MAX_DEPTH:
        return f"[… {len(items)} items]"
    kept = [summarize(item, depth=depth + 1) for item in items[:MAX_ITEMS]]
    if len(items) > MAX_ITEMS:
        kept.append(f"… {len(items) - MAX_ITEMS} more items")
    return kept
