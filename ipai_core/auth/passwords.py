"""Password hashing with scrypt from the standard library.

A hash is stored as a self-describing string, `scrypt$<n>$<r>$<p>$<salt b64>$<hash b64>`, so a
stored hash keeps verifying after the defaults below change; `needs_rehash` tells sign-in when a
user's hash should be recomputed with the current parameters.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from typing import NamedTuple

from ipai_core.errors import ConfigError

MIN_PASSWORD_LENGTH = 8

_SCHEME = "scrypt"
_N = 2**15
_R = 8
_P = 1
_SALT_BYTES = 32
_KEY_BYTES = 32
# A stored string is data, not trusted code: refuse costs far above the defaults, so a corrupted
# or planted hash cannot make one sign-in attempt allocate gigabytes or spin for minutes.
_MAX_MEMORY = 256 * 1024 * 1024
_MAX_WORK = 16 * _N * _R * _P

_ENCODED = re.compile(
    r"scrypt\$(\d{1,8})\$(\d{1,3})\$(\d{1,3})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})",
    re.ASCII,
)


class _Scrypt(NamedTuple):
    n: int
    r: int
    p: int
    salt: bytes
    key: bytes


def hash_password(password: str) -> str:
    """Hash `password` with fresh random salt; raise ConfigError if it is too short."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ConfigError(
            f"password is too short ({len(password)} characters): "
            f"use at least {MIN_PASSWORD_LENGTH} characters."
        )
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _derive(password, salt, n=_N, r=_R, p=_P, length=_KEY_BYTES)
    return "$".join((_SCHEME, str(_N), str(_R), str(_P), _b64(salt), _b64(key)))


def verify_password(password: str, encoded: str) -> bool:
    """True if `password` matches `encoded`; False for a wrong password or a malformed hash."""
    parsed = _parse(encoded)
    if parsed is None:
        return False
    try:
        candidate = _derive(
            password, parsed.salt, n=parsed.n, r=parsed.r, p=parsed.p, length=len(parsed.key)
        )
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(candidate, parsed.key)


def needs_rehash(encoded: str) -> bool:
    """True if `encoded` is malformed or was made with parameters other than the current ones."""
    parsed = _parse(encoded)
    if parsed is None:
        return True
    current = (_N, _R, _P, _SALT_BYTES, _KEY_BYTES)
    return (parsed.n, parsed.r, parsed.p, len(parsed.salt), len(parsed.key)) != current


def _derive(password: str, salt: bytes, *, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_memory(n, r, p), dklen=length
    )


def _memory(n: int, r: int, p: int) -> int:
    """Bytes scrypt needs for these parameters (OpenSSL's formula) plus 1 MiB of slack."""
    return 128 * r * (n + p + 2) + 1024 * 1024


def _parse(encoded: str) -> _Scrypt | None:
    match = _ENCODED.fullmatch(encoded) if isinstance(encoded, str) else None
    if match is None:
        return None
    n, r, p = (int(group) for group in match.group(1, 2, 3))
    try:
        salt = base64.b64decode(match.group(4), validate=True)
        key = base64.b64decode(match.group(5), validate=True)
    except binascii.Error:
        return None
    valid_cost = n > 1 and n & (n - 1) == 0 and r >= 1 and p >= 1
    too_costly = _memory(n, r, p) > _MAX_MEMORY or n * r * p > _MAX_WORK
    if not valid_cost or too_costly or not salt or len(key) < 16:
        return None
    return _Scrypt(n, r, p, salt, key)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")
