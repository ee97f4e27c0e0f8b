"""The load methods the benchmark compares; each runs alone in its own process.

    python -m benchmarks.methods METHOD '{"url": ..., "rows": ..., ...}'

prints one JSON line: rows loaded, wall-clock seconds of the load (and of the 10k-row incremental
sync where the method has one), and the process's peak memory. Heavy libraries are imported
inside the method that needs them, so each process holds only what its method uses.

| method              | what loads                                                           |
|---------------------|----------------------------------------------------------------------|
| psql_copy           | `psql \\copy` of the CSV into a table of the bronze shape (PK + system  |
|                     | columns); then Postgres's own MERGE of the 10k changed rows           |
| psql_copy_nopk      | the same without the primary key                                      |
| arrow_copy          | Parquet → Arrow batches → `ipai_core.sync.copy.copy_batch` (COPY csv)  |
| connector_csv       | our file connector (`run_connector`), CSV, into bronze; then the 10k   |
| connector_parquet   | the same from Parquet                                                 |
| dlt                 | dlt, Arrow tables with its parquet loader (ADBC COPY), plain append   |
| dlt_unique          | the same with a unique index on `id` (dlt makes no primary key)       |
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.shape import COLUMN_TYPES, COLUMNS, PG_COLUMNS

Spec = dict[str, Any]
Result = dict[str, Any]

BENCH_SCHEMA = "bench"
RELOAD_MAX_ROWS = 1_000_000  # the full reload is the 1M-row reference; not timed at 10M
BRONZE_SCHEMA = "ipai_bronze_retail"
SYSTEM_COLUMNS_DDL = (
    "_ipai_synced_at timestamptz NOT NULL DEFAULT now()",
    "_ipai_deleted boolean NOT NULL DEFAULT false",
)


# -- psql: the physical limit ------------------------------------------------------------------


def psql_copy(spec: Spec) -> Result:
    return _psql(spec, primary_key=True)


def psql_copy_nopk(spec: Spec) -> Result:
    return _psql(spec, primary_key=False)


def _psql(spec: Spec, *, primary_key: bool) -> Result:
    table = f"{BENCH_SCHEMA}.{spec['table']}"
    _run_psql(spec, _bronze_shape_ddl(table, primary_key=primary_key, run_id=str(uuid.uuid4())))
    columns = ", ".join(COLUMNS)
    started = time.perf_counter()
    _run_psql(spec, f"\\copy {table} ({columns}) FROM '{spec['csv']}' WITH (FORMAT csv, HEADER)")
    seconds = time.perf_counter() - started
    result: Result = {"rows": _count_psql(spec, table), "seconds": seconds}
    if primary_key:
        _run_psql(spec, "CHECKPOINT;")  # as `_checkpoint`, without importing psycopg here
        started = time.perf_counter()
        _run_psql(spec, _merge_script(table, spec["changes_csv"]))
        result["incremental_seconds"] = time.perf_counter() - started
    return result


def _checkpoint(spec: Spec) -> None:
    """Untimed, before an incremental sync: it then runs as it would some time after the full
    load, not while the server still writes out the load's dirty buffers."""
    import psycopg

    with psycopg.connect(spec["url"], autocommit=True) as conn:
        conn.execute("CHECKPOINT")


def _bronze_shape_ddl(table: str, *, primary_key: bool, run_id: str) -> str:
    """A table shaped like a bronze table (its columns, the three system columns, the key); the
    run id, which bronze gets per COPY, comes from a column default here."""
    columns = [f"{name} {pg_type}" for name, pg_type in PG_COLUMNS.items()]
    columns += [*SYSTEM_COLUMNS_DDL, f"_ipai_run_id uuid DEFAULT '{run_id}'"]
    if primary_key:
        columns.append("PRIMARY KEY (id)")
    return (
        f"CREATE SCHEMA IF NOT EXISTS {BENCH_SCHEMA}; DROP TABLE IF EXISTS {table};"
        f" CREATE TABLE {table} ({', '.join(columns)});"
    )


def _merge_script(table: str, changes_csv: str) -> str:
    """Postgres's own upsert of the changed rows: stage them, then one MERGE (one transaction).
    Every name in it is ours (`table` is built by the runner), none comes from input."""
    names = ", ".join(COLUMNS)
    updates = ", ".join(f"{c} = s.{c}" for c in COLUMNS if c != "id")
    values = ", ".join(f"s.{c}" for c in COLUMNS)
    stage = f"CREATE TEMP TABLE stage ON COMMIT DROP AS SELECT {names} FROM {table} WITH NO DATA"  # noqa: S608
    merge = (
        f"MERGE INTO {table} t USING stage s ON t.id = s.id WHEN MATCHED THEN UPDATE SET"  # noqa: S608
        f" {updates}, _ipai_synced_at = now(), _ipai_run_id = '{uuid.uuid4()}',"
        f" _ipai_deleted = false WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({values})"
    )
    copy = f"\\copy stage FROM '{changes_csv}' WITH (FORMAT csv, HEADER)"
    return f"BEGIN;\n{stage};\n{copy}\n{merge};\nCOMMIT;\n"


def _run_psql(spec: Spec, script: str) -> str:
    completed = subprocess.run(
        [spec["psql"], spec["url"], "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-f", "-"],
        input=script,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"psql failed ({completed.returncode}): {completed.stderr.strip()}")
    return completed.stdout


def _count_psql(spec: Spec, table: str) -> int:
    return int(_run_psql(spec, f"SELECT count(*) FROM {table};").strip())  # noqa: S608


# -- Arrow batches through our COPY (no typing, no bronze): the floor of the Python path -------


def arrow_copy(spec: Spec) -> Result:
    import psycopg
    import pyarrow.parquet as pq
    from psycopg import sql

    from ipai_core.sync.copy import copy_batch

    table = f"{BENCH_SCHEMA}.{spec['table']}"
    run_id = str(uuid.uuid4())
    with psycopg.connect(spec["url"], autocommit=True) as conn:
        conn.execute(_bronze_shape_ddl(table, primary_key=True, run_id=run_id))
        started = time.perf_counter()
        target = sql.SQL("{}.{}").format(
            sql.Identifier(BENCH_SCHEMA), sql.Identifier(spec["table"])
        )
        with conn.transaction():
            for batch in pq.ParquetFile(spec["parquet"]).iter_batches(batch_size=50_000):
                copy_batch(conn, target, batch, extra=[("_ipai_run_id", run_id)])
        seconds = time.perf_counter() - started
        rows = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(target)).fetchone()
    return {"rows": int(rows[0]) if rows else 0, "seconds": seconds}


# -- our file connector ------------------------------------------------------------------------


def connector_csv(spec: Spec) -> Result:
    return _connector(spec, "csv")


def connector_parquet(spec: Spec) -> Result:
    return _connector(spec, "parquet")


def _connector(spec: Spec, fmt: str) -> Result:
    """A full load of the file into an empty bronze table, then an incremental sync that reads
    only a second file holding the changed rows, then a full reload (`full_refresh`: both files
    read again, staged, upserted, missing rows looked for)."""
    from psycopg import sql

    from ipai_core import Lakehouse, Principal, Settings
    from ipai_core.connectors import store
    from ipai_core.sync.engine import run_connector

    folder = Path(spec["workdir"]) / f"in_{spec['table']}"
    shutil.rmtree(folder, ignore_errors=True)  # a kept workdir's earlier files would be read too
    folder.mkdir(parents=True)
    _place(Path(spec[fmt]), folder / f"part-0000.{fmt}")
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=spec["url"],
        data_dir=Path(spec["workdir"]) / "ipai",
        jwt_secret="x" * 40,
        statement_timeout_ms=0,
    )
    config = {
        "target_schema": BRONZE_SCHEMA,
        "url": f"{folder}/*.{fmt}",
        "stream": spec["table"],
        "primary_key": ["id"],
        "columns": COLUMN_TYPES,
        "mode": "incremental",
        **({"batch_rows": spec["batch_rows"]} if spec.get("batch_rows") else {}),
    }
    with Lakehouse.open(settings) as lh:
        with lh.session(Principal.service("benchmark")) as s:
            store.add_connector(
                s, name=spec["table"], connector_type="file", config=config, replace=True
            )
        with PEAKS.phase("load"):
            full = _timed_run(lambda: run_connector(lh, spec["table"]), spec["table"])
        _place(Path(spec[f"changes_{fmt}"]), folder / f"part-0001.{fmt}")
        _checkpoint(spec)
        with PEAKS.phase("incremental"):
            incremental = _timed_run(lambda: run_connector(lh, spec["table"]), spec["table"])
        reload = {}
        if spec["rows"] <= RELOAD_MAX_ROWS:
            with PEAKS.phase("reload"):
                reload = _reload(lh, spec["table"], config)
        rows = lh.query(
            Principal.service("benchmark count"),
            sql.SQL("SELECT count(*) AS n FROM {}.{}").format(
                sql.Identifier(BRONZE_SCHEMA), sql.Identifier(spec["table"])
            ),
        )["n"][0]
    return {
        "rows": int(rows),
        "seconds": full["seconds"],
        "rows_written": full["rows_written"],
        "incremental_seconds": incremental["seconds"],
        "incremental_rows_read": incremental["rows_read"],
        "incremental_rows_written": incremental["rows_written"],
        **({"reload_seconds": reload["seconds"]} if reload else {}),
    }


def _reload(lh: Any, name: str, config: dict[str, Any]) -> dict[str, Any]:
    """The same files again in `full_refresh`: the reference the incremental sync is held to."""
    from ipai_core import Principal
    from ipai_core.connectors import store
    from ipai_core.sync.engine import run_connector

    with lh.session(Principal.service("benchmark")) as s:
        reload = {**config, "mode": "full_refresh"}
        store.add_connector(s, name=name, connector_type="file", config=reload, replace=True)
    return _timed_run(lambda: run_connector(lh, name), name)


def _timed_run(run: Callable[[], Any], stream: str) -> dict[str, Any]:
    started = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - started
    if not result.ok:
        raise RuntimeError(f"connector run failed: {result.error}")
    stats = result.streams[stream]
    return {"seconds": seconds, "rows_read": stats.rows_read, "rows_written": stats.rows_written}


def _place(source: Path, target: Path) -> None:
    """A hard link (no copy of a large file), a copy across file systems."""
    if target.exists():
        target.unlink()
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


# -- dlt: the Python peer ----------------------------------------------------------------------


def dlt(spec: Spec) -> Result:
    return _dlt(spec, unique=False)


def dlt_unique(spec: Spec) -> Result:
    return _dlt(spec, unique=True)


def _dlt(spec: Spec, *, unique: bool) -> Result:
    """dlt's fastest route into Postgres: Arrow tables, its parquet loader (ADBC COPY)."""
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    os.environ.setdefault("DLT_DATA_DIR", str(Path(spec["workdir"]) / "dlt"))
    import dlt as dlt_lib
    import psycopg
    import pyarrow.parquet as pq
    from psycopg import sql

    def lines():  # type: ignore[no-untyped-def]
        parquet = pq.ParquetFile(spec["parquet"])
        for group in range(parquet.num_row_groups):
            yield parquet.read_row_group(group)

    hints = {"id": {"unique": True, "nullable": False}} if unique else None
    resource = dlt_lib.resource(
        lines, name=spec["table"], write_disposition="append", columns=hints
    )
    pipeline = dlt_lib.pipeline(
        pipeline_name=spec["table"],
        destination=dlt_lib.destinations.postgres(credentials=spec["url"]),
        dataset_name="bench_dlt",
        pipelines_dir=str(Path(spec["workdir"]) / "dlt" / "pipelines"),
    )
    started = time.perf_counter()
    info = pipeline.run(resource(), loader_file_format="parquet")
    seconds = time.perf_counter() - started
    formats = {
        job.job_file_info.file_format
        for package in info.load_packages
        for job in package.jobs["completed_jobs"]
        if job.job_file_info.table_name == spec["table"]
    }
    if formats != {"parquet"}:  # dlt falls back to csv quietly when the ADBC driver is missing
        raise RuntimeError(
            f"dlt loaded with {sorted(formats)}, not its parquet loader; "
            "install adbc-driver-postgresql"
        )
    with psycopg.connect(spec["url"]) as conn:
        count = sql.SQL("SELECT count(*) FROM bench_dlt.{}").format(sql.Identifier(spec["table"]))
        row = conn.execute(count).fetchone()
    return {"rows": int(row[0]) if row else 0, "seconds": seconds}


METHODS: dict[str, Callable[[Spec], Result]] = {
    "psql_copy": psql_copy,
    "psql_copy_nopk": psql_copy_nopk,
    "arrow_copy": arrow_copy,
    "connector_csv": connector_csv,
    "connector_parquet": connector_parquet,
    "dlt": dlt,
    "dlt_unique": dlt_unique,
}
# Whose memory a method's figure is: psql's own process, or this Python process (and children).
CLIENT_IS_CHILD = frozenset({"psql_copy", "psql_copy_nopk"})


class PhasePeaks:
    """This process's peak resident memory per phase (the kernel's high-water mark, VmHWM, reset
    between phases through /proc/self/clear_refs), and the overall peak across the resets.
    Where the kernel offers neither (not Linux), no phase is reported."""

    def __init__(self) -> None:
        self.overall_kib = 0
        self.phases: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        if not self._reset():
            yield
            return
        yield
        high = _high_water_kib()
        self.overall_kib = max(self.overall_kib, high)
        self.phases[name] = round(high / 1024, 1)

    def _reset(self) -> bool:
        self.overall_kib = max(self.overall_kib, _high_water_kib())
        try:
            Path("/proc/self/clear_refs").write_text("5")  # 5: reset the high-water mark
        except OSError:
            return False
        return True


def _high_water_kib() -> int:
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return 0
    line = next((x for x in status.splitlines() if x.startswith("VmHWM:")), "VmHWM: 0 kB")
    return int(line.split()[1])


PEAKS = PhasePeaks()


def peak_mib(method: str) -> float:
    """Peak resident memory (Linux reports KiB) of the method's client.

    This process's own is its VmHWM: `getrusage`'s figure of a process started by fork and exec
    begins at its parent's peak (Linux carries the pre-exec high-water mark over), so it would
    report the runner's data generation instead of the method. A child's (psql's) figure has
    that floor too: this small process's peak, about 13 MiB."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if method in CLIENT_IS_CHILD:
        return children / 1024
    own = max(PEAKS.overall_kib, _high_water_kib())
    if not own:  # no /proc: the kernel's other figure, with its inherited floor
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return max(children, own) / 1024


def main(argv: list[str]) -> None:
    method, spec = argv[0], json.loads(argv[1])
    result = METHODS[method](spec)
    result["peak_mib"] = round(peak_mib(method), 1)
    if PEAKS.phases:
        result["peak_mib_by_phase"] = PEAKS.phases
    result["rows_per_s"] = round(result["rows"] / result["seconds"]) if result["seconds"] else 0
    print(json.dumps({"method": method, **result}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
