"""What a blob store is: keys relative to a root, a listing by glob, streamed reads and writes.

Keys are `/`-separated paths relative to the store's root (`invoices/2024/jan.csv`); a key never
starts with `/` and has no empty, `.` or `..` segment. Patterns are keys with glob wildcards:

    *       any characters except `/`              `invoices/*.csv`
    **      any characters, `/` included           `**/*.parquet` (root included), `a/**`
    ?       one character except `/`
    [abc]   one of the characters ([!abc]: none of them)
"""

from __future__ import annotations

import functools
import re
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from ipai_core.errors import ConfigError, NotFound

GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class BlobInfo:
    """One stored object. `fingerprint` changes whenever the content changes."""

    key: str
    size: int
    fingerprint: str
    modified: datetime  # timezone-aware, UTC


class BlobStore(ABC):
    """A flat namespace of byte objects under one root: a local directory or an S3 prefix."""

    @abstractmethod
    def list(self, pattern: str) -> list[BlobInfo]:
        """Objects whose key matches the glob `pattern`, sorted by key (never directories)."""

    @abstractmethod
    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        """A readable, seekable handle on the object; `NotFound` when there is none."""

    @abstractmethod
    def put_stream(self, key: str, source: BinaryIO) -> BlobInfo:
        """Store what `source` reads from its position to its end under `key` (streamed,
        replacing any previous object)."""

    def put_file(self, key: str, path: Path) -> BlobInfo:
        """Store the local file `path` under `key` (streamed, replacing any previous object)."""
        with open_source(path) as source:
            return self.put_stream(key, source)

    @abstractmethod
    def put_bytes(self, key: str, data: bytes) -> BlobInfo:
        """Store `data` under `key`, replacing any previous object."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object is stored under `key`."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object under `key`; `NotFound` when there is none."""

    @abstractmethod
    def describe(self) -> str:
        """Where the store lives, for messages and logs (`file:///…`, `s3://…`); no secrets."""


def check_key(key: str, *, what: str = "blob key") -> str:
    """`key` if it is a relative `/`-separated path inside the root; otherwise `ConfigError`."""
    segments = key.split("/")
    if not key or "\0" in key or any(s in ("", ".", "..") for s in segments):
        raise ConfigError(
            f"{what} `{key}` is not a path inside the store: use `/`-separated names relative "
            "to the store root, without a leading `/`, empty segments, `.` or `..`"
        )
    return key


def open_source(path: Path) -> BinaryIO:
    """The local file `path` opened for reading; `NotFound` when it is not a file."""
    try:
        return path.open("rb")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        message = f"file `{path}` does not exist; nothing was stored"
        raise NotFound(message, name=str(path)) from None


def has_glob(text: str) -> bool:
    return any(c in GLOB_CHARS for c in text)


def literal_prefix(pattern: str) -> str:
    """The part of `pattern` before its first wildcard (all of it when there is none)."""
    cut = next((i for i, c in enumerate(pattern) if c in GLOB_CHARS), len(pattern))
    return pattern[:cut]


def glob_match(pattern: str, key: str) -> bool:
    """Whether `key` matches `pattern`: `*` and `?` stay within a segment, `**` crosses `/`."""
    return _compile(pattern).fullmatch(key) is not None


@functools.lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        token, i = _translate_at(pattern, i)
        parts.append(token)
    return re.compile("".join(parts), re.DOTALL)


def _translate_at(pattern: str, i: int) -> tuple[str, int]:
    """The regex for the glob token starting at `pattern[i]`, and the index after it."""
    if pattern.startswith("**/", i):
        return "(?:.*/)?", i + 3  # zero or more whole directories
    if pattern.startswith("**", i):
        return ".*", i + 2
    char = pattern[i]
    if char == "*":
        return "[^/]*", i + 1
    if char == "?":
        return "[^/]", i + 1
    if char == "[":
        end = pattern.find("]", i + 2)  # `[]…]` holds a literal `]`
        if end != -1:
            body = pattern[i + 1 : end]
            negate = body.startswith("!")
            body = re.escape(body[1:] if negate else body).replace(r"\-", "-")
            return (f"[^/{body}]" if negate else f"[{body}]"), end + 1
    return re.escape(char), i + 1
