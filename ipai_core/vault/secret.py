"""`SecretValue`: a secret that does not show itself.

Printing, formatting, logging or putting it in an exception message gives `SecretValue('***')`;
`reveal()` is the only way to the value, so every place that uses a secret is one grep away. It
refuses to be pickled (no copies in caches, queues or crash dumps) and compares in constant time.
"""

from __future__ import annotations

import hmac
from typing import Any, NoReturn, final

_MASK = "SecretValue('***')"


@final
class SecretValue:
    """A secret string; `reveal()` returns it, everything else shows `SecretValue('***')`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"a SecretValue holds a str, not {type(value).__name__}")
        self._value = value

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
