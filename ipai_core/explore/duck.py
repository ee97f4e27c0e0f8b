"""DuckDB over blob-store files, read-only.

The matching files are loaded (up to `max_rows`) into an in-memory table `data`; then DuckDB's
file access is switched off and its configuration locked before the user's single SELECT runs,
so a query cannot reach any other file (`read_csv('/etc/passwd')` is refused).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import duckdb
import polars as pl

from ipai_core.errors import ConfigError, NotFound
from ipai_core.storage.base import BlobInfo, BlobStore
from ipai_core.storage.local import LocalBlobStore

DEFAULT_QUERY = "SELECT * FROM data"
_READERS = {
    ".csv": "read_csv_auto({files}, union_by_name = true, filename = true)",
    ".tsv": "read_csv_auto({files}, union_by_name = true, filename = true)",
    ".parquet": "read_parquet({files}, union_by_name = true, filename = true)",
    ".json": "read_json_auto({files}, union_by_name = true, filename = true)",
    ".jsonl": "read_json_auto({files}, union_by_name = true, filename = true)",
    ".ndjson": "read_json_auto({files}, union_by_name = true, filename = true)",
}


@dataclass(frozen=True)
class ExploreResult:
    files: tuple[BlobInfo, ...]
    query: str
    frame: pl.DataFrame
    rows_loaded: int
    truncated: bool  # more rows exist in the files than were loaded into `data`


def explore(
    store: BlobStore,
    pattern: str,
    query: str | None = None,
    *,
    limit: int = 1000,
    max_rows: int = 1_000_000,
) -> ExploreResult:
    """Run `query` (a SELECT over the table `data`) against the files matching `pattern`."""
    sql = (query or DEFAULT_QUERY).strip().rstrip(";")
    _require_single_select(sql)
    files = store.list(pattern)
    if not files:
        raise NotFound(f"no file matches `{pattern}` in {store.describe()}", name=pattern)
    reader = _reader(files)
    with _local_paths(store, files) as paths, duckdb.connect(":memory:") as con:
        listing = "[" + ", ".join(_quote(p) for p in paths) + "]"
        # Paths are quoted literals and numbers are ints: nothing user-typed is spliced here.
        con.execute(
            f"CREATE TABLE data AS SELECT * FROM {reader.format(files=listing)} "  # noqa: S608
            f"LIMIT {int(max_rows) + 1}"
        )
        loaded = _count(con)
        if loaded > max_rows:
            con.execute(f"DELETE FROM data WHERE rowid >= {int(max_rows)}")  # noqa: S608
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        try:
            # The user's SELECT runs by design, in a sandbox: file access off, config locked.
            frame = con.sql(f"SELECT * FROM ({sql}) LIMIT {int(limit)}").pl()  # noqa: S608
        except duckdb.Error as exc:
            raise ConfigError(f"the query failed: {exc}") from exc
    return ExploreResult(tuple(files), sql, frame, min(loaded, max_rows), loaded > max_rows)


def file_connector_draft(
    store: BlobStore,
    pattern: str,
    *,
    stream: str,
    primary_key: list[str],
    target_schema: str = "ipai_bronze_core",
) -> dict[str, Any]:
    """A file connector config reading the explored files (for `ipai connectors add`)."""
    location = store.describe().split(" @ ")[0].rstrip("/")
    return {
        "target_schema": target_schema,
        "url": f"{location}/{pattern}",
        "stream": stream,
        "primary_key": primary_key,
    }


def _require_single_select(sql: str) -> None:
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise ConfigError(f"the query does not parse: {exc}") from exc
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise ConfigError("the explorer runs exactly one SELECT over the table `data`")


def _reader(files: list[BlobInfo]) -> str:
    suffixes = {PurePosixPath(f.key).suffix.lower() for f in files}
    readers = {_READERS.get(s) for s in suffixes}
    if None in readers or len(readers) != 1:
        raise ConfigError(
            f"the matching files mix or lack known formats ({', '.join(suffixes)});"
            " narrow the pattern to one of .csv, .parquet, .json, .jsonl"
        )
    return str(readers.pop())


@contextmanager
def _local_paths(store: BlobStore, files: list[BlobInfo]) -> Iterator[list[str]]:
    """Local files are read in place; remote ones are copied to a temporary folder first."""
    if isinstance(store, LocalBlobStore):
        yield [str(store.root / f.key) for f in files]
        return
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ipai-explore-")))
        paths = []
        for n, info in enumerate(files):
            target = folder / f"{n}{PurePosixPath(info.key).suffix}"
            with store.open(info.key) as source, target.open("wb") as sink:
                shutil.copyfileobj(source, sink)
            paths.append(str(target))
        yield paths


def _count(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT count(*) FROM data").fetchone()
    return int(row[0]) if row else 0


def _quote(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"
