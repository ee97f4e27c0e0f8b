"""The fields every log line and span of a unit of work carries, held in a context variable.

`log_context(run_id=..., connector=...)` adds fields for the duration of a `with` block (nested
blocks add to the outer ones; leaving a block restores what was there), and `bind(**fields)`
adds fields to the innermost block for the rest of it — e.g. the run id once the run row exists.
Context variables follow the code that runs, so two scheduler threads or two Streamlit sessions
never see each other's fields. `None` values are left out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType

_EMPTY: Mapping[str, str] = MappingProxyType({})
_FIELDS: ContextVar[Mapping[str, str]] = ContextVar("ipai_log_context", default=_EMPTY)


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Add `fields` to every log line written (and span started) inside the block."""
    token = _FIELDS.set(_merged(fields))
    try:
        yield
    finally:
        _FIELDS.reset(token)


def bind(**fields: object) -> None:
    """Add `fields` to the current context until the enclosing `log_context` ends. Outside any
    `log_context` they stay for the rest of the thread or task, so call it inside one."""
    _FIELDS.set(_merged(fields))


def current_fields() -> Mapping[str, str]:
    """The fields in force here (read-only)."""
    return _FIELDS.get()


def _merged(fields: Mapping[str, object]) -> Mapping[str, str]:
    added = {key: str(value) for key, value in fields.items() if value is not None}
    return MappingProxyType({**_FIELDS.get(), **added})
