"""The explorer: read-only DuckDB over blob-store files, with access decided by Postgres."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from conftest import UserMaker

from ipai_core import AccessDenied, ConfigError, Lakehouse, NotFound, Principal
from ipai_core.connectors import store as connectors
from ipai_core.explore import check_access, explore, file_connector_draft
from ipai_core.storage.local import LocalBlobStore
from ipai_core.sync.engine import run_connector


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobStore:
    store = LocalBlobStore(tmp_path / "blobs")
    store.put_bytes("landing/sales/2025-01.csv", b"id,region,amount\n1,north,10\n2,south,5\n")
    store.put_bytes("landing/sales/2025-02.csv", b"id,region,amount\n3,north,7\n")
    buffer = tmp_path / "x.parquet"
    pl.DataFrame({"id": [1, 2], "v": [0.5, 1.5]}).write_parquet(buffer)
    store.put_file("landing/metrics/x.parquet", buffer)
    return store


def test_queries_csv_across_files(blobs: LocalBlobStore) -> None:
    result = explore(
        blobs,
        "landing/sales/*.csv",
        "SELECT region, sum(amount) AS total FROM data GROUP BY 1 ORDER BY 1",
    )
    assert result.frame.rows() == [("north", 17), ("south", 5)]
    assert result.rows_loaded == 3 and not result.truncated


def test_previews_parquet_and_truncates_large_inputs(blobs: LocalBlobStore) -> None:
    result = explore(blobs, "landing/metrics/x.parquet", max_rows=1)
    assert result.truncated and result.frame.height == 1


@pytest.mark.parametrize(
    "query",
    [
        "DROP TABLE data",
        "SELECT 1; SELECT 2",
        "COPY data TO '/tmp/out.csv'",
    ],
)
def test_only_a_single_select_runs(blobs: LocalBlobStore, query: str) -> None:
    with pytest.raises(ConfigError):
        explore(blobs, "landing/sales/*.csv", query)


def test_a_query_cannot_read_other_files(blobs: LocalBlobStore) -> None:
    with pytest.raises(ConfigError, match=r"(?i)permission|access"):
        explore(blobs, "landing/sales/*.csv", "SELECT * FROM read_csv('/etc/passwd')")


def test_no_match_is_a_clear_error(blobs: LocalBlobStore) -> None:
    with pytest.raises(NotFound):
        explore(blobs, "landing/nothing/*.csv")


def test_access_follows_the_database(lakehouse: Lakehouse, make_user: UserMaker) -> None:
    _, _, engineer = make_user(["data_engineer"])
    _, _, analyst = make_user(["analyst"])
    _, _, nobody = make_user([])
    with lakehouse.session(lakehouse.authenticate(engineer)) as s:
        check_access(s, "landing/sales/*.csv")
    with lakehouse.session(lakehouse.authenticate(analyst)) as s, pytest.raises(AccessDenied):
        check_access(s, "landing/sales/*.csv")
    with lakehouse.session(Principal.service("test: connector")) as s:
        connectors.add_connector(
            s,
            name="explored_src",
            connector_type="file",
            replace=True,
            config={
                "target_schema": "ipai_bronze_core",
                "url": "/x/*.csv",
                "stream": "x",
                "primary_key": ["id"],
            },
        )
    with lakehouse.session(lakehouse.authenticate(analyst)) as s:
        check_access(s, "archive/explored_src/**/*.csv")  # analysts may see connectors
    with lakehouse.session(lakehouse.authenticate(nobody)) as s, pytest.raises(AccessDenied):
        check_access(s, "archive/explored_src/**/*.csv")


def test_a_draft_connector_loads_what_was_explored(
    lakehouse: Lakehouse, blobs: LocalBlobStore
) -> None:
    draft = file_connector_draft(
        blobs,
        "landing/sales/*.csv",
        stream="explored_sales",
        primary_key=["id"],
        target_schema="ipai_bronze_retail",
    )
    with lakehouse.session(Principal.service("test: draft")) as s:
        connectors.add_connector(
            s, name="explored_sales", connector_type="file", config=draft, replace=True
        )
    result = run_connector(lakehouse, "explored_sales")
    assert result.ok and result.streams["explored_sales"].rows_written == 3
