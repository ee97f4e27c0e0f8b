"""`ipai explore PATTERN [--sql …]`: query files in the blob store with DuckDB (read-only)."""

from __future__ import annotations

import polars as pl
import typer

from ipai_core.cli.output import JSON_OPTION, emit_json
from ipai_core.explore import explore as run_explore
from ipai_core.settings import get_settings
from ipai_core.storage.locate import default_blob_store

SQL_OPTION = typer.Option(None, "--sql", help="One SELECT over the table `data`.")
LIMIT_OPTION = typer.Option(20, "--limit", help="Rows to print.")


def explore(
    pattern: str,
    sql: str | None = SQL_OPTION,
    limit: int = LIMIT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Preview or query blob-store files, e.g. `ipai explore 'archive/sales/**/*.csv'
    --sql 'SELECT region, sum(amount) FROM data GROUP BY 1'`."""
    store = default_blob_store(get_settings())
    result = run_explore(store, pattern, sql, limit=limit)
    if as_json:
        emit_json(
            {
                "files": [f.key for f in result.files],
                "query": result.query,
                "columns": result.frame.columns,
                "rows": result.frame.rows(),
                "rows_loaded": result.rows_loaded,
                "truncated": result.truncated,
            }
        )
        return
    typer.echo(
        f"{len(result.files)} file(s) in {store.describe()}, {result.rows_loaded} rows"
        + (" (truncated)" if result.truncated else "")
    )
    with pl.Config(tbl_rows=limit, tbl_cols=-1, fmt_str_lengths=40):
        typer.echo(str(result.frame))
