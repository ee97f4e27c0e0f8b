"""A blob store in a local directory: keys are relative paths, writes are atomic."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from ipai_core.errors import NotFound, SourceError
from ipai_core.storage.base import (
    BlobInfo,
    BlobStore,
    check_key,
    glob_match,
    has_glob,
    literal_prefix,
)

# Files being written are hidden under this prefix until `os.replace` moves them into place.
TEMP_PREFIX = ".ipai-tmp-"


class LocalBlobStore(BlobStore):
    """Objects as files under `root` (created on first write).

    The fingerprint is `size:mtime_ns:inode`: cheap for huge files, and every write through this
    store makes a new inode, so a rewrite is seen even within one tick of the file-system clock.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(os.path.abspath(root.expanduser()))

    def __repr__(self) -> str:
        return f"LocalBlobStore({str(self.root)!r})"

    def describe(self) -> str:
        return self.root.as_uri()

    def list(self, pattern: str) -> list[BlobInfo]:
        check_key(pattern, what="pattern")
        if not has_glob(pattern):
            return [info] if (info := self._stat(pattern)) is not None else []
        infos = []
        for key in self._candidates(pattern):
            if glob_match(pattern, key) and (info := self._stat(key)) is not None:
                infos.append(info)
        return sorted(infos, key=lambda info: info.key)

    def open(self, key: str) -> contextlib.AbstractContextManager[BinaryIO]:
        path = self._path(key)
        try:
            return path.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise self._missing(key) from None

    def put_stream(self, key: str, source: BinaryIO) -> BlobInfo:
        return self._write(key, lambda out: shutil.copyfileobj(source, out, 1 << 20))

    def put_bytes(self, key: str, data: bytes) -> BlobInfo:
        return self._write(key, lambda out: out.write(data))

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        path = self._path(key)
        if not path.is_file():
            raise self._missing(key)
        path.unlink()

    # -- helpers -------------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def _missing(self, key: str) -> NotFound:
        return NotFound(f"no blob `{key}` in `{self.describe()}`", name=key)

    def _stat(self, key: str) -> BlobInfo | None:
        """The file's info; None when there is no regular file (gone meanwhile, a directory)."""
        try:
            st = self._path(key).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return _info(key, st) if stat.S_ISREG(st.st_mode) else None

    def _candidates(self, pattern: str) -> Iterator[str]:
        """Keys of the files that may match: those under the pattern's literal directory, no
        deeper than the pattern reaches unless it has `**`."""
        base = literal_prefix(pattern).rpartition("/")[0]
        rest = pattern[len(base) + 1 :] if base else pattern
        max_depth = None if "**" in rest else rest.count("/")
        start = self.root.joinpath(*base.split("/")) if base else self.root
        for dirpath, dirnames, filenames in os.walk(start, onerror=self._walk_error):
            here = Path(dirpath)
            if max_depth is not None and len(here.relative_to(start).parts) >= max_depth:
                dirnames.clear()
            rel = here.relative_to(self.root).as_posix()
            prefix = "" if rel == "." else f"{rel}/"
            yield from (prefix + n for n in filenames if not n.startswith(TEMP_PREFIX))

    def _walk_error(self, error: OSError) -> None:
        if isinstance(error, FileNotFoundError | NotADirectoryError):
            return  # a pattern under a directory that does not exist matches nothing
        raise SourceError(
            f"cannot list `{error.filename}` in `{self.describe()}`: {error.strerror}; "
            "check the directory's permissions"
        ) from error

    def _write(self, key: str, fill: Callable[[BinaryIO], object]) -> BlobInfo:
        """Write into a hidden temp file beside the target, then move it into place."""
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                fill(out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
            raise
        return _info(key, target.stat())


def _info(key: str, st: os.stat_result) -> BlobInfo:
    return BlobInfo(
        key=key,
        size=st.st_size,
        fingerprint=f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}",
        modified=datetime.fromtimestamp(st.st_mtime_ns / 1e9, tz=UTC),
    )
