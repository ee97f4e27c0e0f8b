"""Password hashing: scrypt round trip, refusal of bad input, self-describing encoding."""

from __future__ import annotations

import base64
import hashlib

import pytest

from ipai_core.auth.passwords import hash_password, needs_rehash, verify_password
from ipai_core.errors import ConfigError

PASSWORD = "correct horse battery staple"


def _encode(*, n: int, r: int, p: int, salt: bytes = b"s" * 32, password: str = PASSWORD) -> str:
    key = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=2**26)
    b64 = base64.b64encode
    return f"scrypt${n}${r}${p}${b64(salt).decode()}${b64(key).decode()}"


def test_round_trip() -> None:
    encoded = hash_password(PASSWORD)
    assert verify_password(PASSWORD, encoded)


def test_encoding_is_self_describing() -> None:
    scheme, n, r, p, salt, key = hash_password(PASSWORD).split("$")
    assert (scheme, n, r, p) == ("scrypt", str(2**15), "8", "1")
    assert len(base64.b64decode(salt)) == 32
    assert len(base64.b64decode(key)) == 32


def test_wrong_password_is_refused() -> None:
    encoded = hash_password(PASSWORD)
    assert not verify_password(PASSWORD + "!", encoded)
    assert not verify_password("", encoded)


def test_two_hashes_of_the_same_password_differ() -> None:
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second
    assert verify_password(PASSWORD, first)
    assert verify_password(PASSWORD, second)


def test_a_hash_made_with_other_parameters_still_verifies_and_needs_rehash() -> None:
    older = _encode(n=2**14, r=8, p=1)
    assert verify_password(PASSWORD, older)
    assert needs_rehash(older)
    assert not needs_rehash(hash_password(PASSWORD))


@pytest.mark.parametrize(
    "encoded",
    [
        "",
        "scrypt$",
        "scrypt$32768$8$1$c2FsdA==",
        "$2b$12$abcdefghijklmnopqrstuuJ7k6yEnXq8ZtXy0oXj7sK3C4l8Pp2iS",  # a bcrypt hash
        "pbkdf2$32768$8$1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5",
        "scrypt$32768$8$1$not*base64$a2V5a2V5a2V5a2V5a2V5a2V5",
        "scrypt$32768$8$1$c2FsdA=$a2V5a2V5a2V5a2V5a2V5a2V5",  # bad padding
        "scrypt$1000$8$1$c2FsdHNhbHQ=$a2V5a2V5a2V5a2V5a2V5a2V5",  # n not a power of two
        "scrypt$0$8$1$c2FsdHNhbHQ=$a2V5a2V5a2V5a2V5a2V5a2V5",
        "scrypt$67108864$8$1$c2FsdHNhbHQ=$a2V5a2V5a2V5a2V5a2V5a2V5",  # 64 GiB of memory
        "scrypt$32768$8$999$c2FsdHNhbHQ=$a2V5a2V5a2V5a2V5a2V5a2V5",  # minutes of CPU
        "scrypt$32768$8$1$$a2V5a2V5a2V5a2V5a2V5a2V5",  # no salt
        "scrypt$32768$8$1$c2FsdHNhbHQ=$a2V5",  # key too short
        " scrypt$32768$8$1$c2FsdHNhbHQ=$a2V5a2V5a2V5a2V5a2V5a2V5",
    ],
)
def test_malformed_encoding_returns_false_and_needs_rehash(encoded: str) -> None:
    assert verify_password(PASSWORD, encoded) is False
    assert needs_rehash(encoded)


def test_truncated_real_hash_returns_false() -> None:
    encoded = hash_password(PASSWORD)
    assert verify_password(PASSWORD, encoded[:-6]) is False


@pytest.mark.parametrize("password", ["", "short", "7chars!"])
def test_short_password_is_refused(password: str) -> None:
    with pytest.raises(ConfigError, match="8"):
        hash_password(password)


def test_eight_characters_is_enough() -> None:
    assert verify_password("8chars!!", hash_password("8chars!!"))
