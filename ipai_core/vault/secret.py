"""`SecretValue`: a secret that does not show itself.

Printing, formatting, logging or putting it in an exception message gives `SecretValue('***')`;
`reveal()` is the only way to the value, so every place that uses a secret is one grep away. It
refuses to be pickled (no copies in caches, queues or crash dumps) and compares in constant time.

Every value a `SecretValue` is made with is also remembered (the latest `_REMEMBERED_MAX`, in
this process only), so log scrubbing can remove it even from text that never saw the object —
a source's own error message that quotes the password, say: see `held_values()`.
"""

from __future__ import annotations

import hmac
import threading
from typing import Any, NoReturn, final

_MASK = "SecretValue('***')"
_REMEMBERED_MAX = 1024
_MIN_REMEMBERED_LENGTH = 4  # shorter values would blank out ordinary words in every log line
_remembered: dict[str, None] = {}  # insertion-ordered set, oldest first
_remembered_lock = threading.Lock()
_longest_first: tuple[str, ...] = ()


def held_values() -> tuple[str, ...]:
    """The secret values this process has held (at least 4 characters), longest first, so a
    secret that contains another is replaced whole. For scrubbing only: never log them."""
    return _longest_first


def _remember(value: str) -> None:
    global _longest_first
    if len(value) < _MIN_REMEMBERED_LENGTH or value in _remembered:
        return
    with _remembered_lock:
        _remembered[value] = None
        while len(_remembered) > _REMEMBERED_MAX:
            del _remembered[next(iter(_remembered))]
        _longest_first = tuple(sorted(_remembered, key=len, reverse=True))


@final
class SecretValue:
    """A secret string; `reveal()` returns it, everything else shows `SecretValue('***')`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"a SecretValue holds a str, not {type(value).__name__}")
        self._value = value
        _remember(value)

    def reveal(self) -> str:
        """The plaintext. Pass it straight to the client that needs it; never log or store it."""
        return self._value

    def __repr__(self) -> str:
        return _MASK

    __str__ = __repr__

    def __format__(self, format_spec: str) -> str:
        return _MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretValue):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    __hash__ = None  # type: ignore[assignment]  # a hash would be a cheap oracle of the value

    def __copy__(self) -> SecretValue:
        return self  # immutable: a copy is the same secret, not a serialised one

    def __deepcopy__(self, memo: dict[int, Any]) -> SecretValue:
        return self

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("a SecretValue cannot be pickled; store its vault name instead")

    def __getstate__(self) -> NoReturn:
        raise TypeError("a SecretValue cannot be pickled; store its vault name instead")
