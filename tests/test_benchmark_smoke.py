"""The ingest benchmark stays runnable: its data is deterministic, and a tiny run of the file
connector ends with the JSON line the README describes. (The benchmark itself is not a test.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import datagen
from ipai_core.settings import PROJECT_ROOT


def test_generated_files_are_the_same_bytes_every_time(tmp_path: Path) -> None:
    first = datagen.generate(tmp_path / "a", 2_000, chunk=700)
    second = datagen.generate(tmp_path / "b", 2_000, chunk=700)
    for name in ("csv", "parquet", "changes_csv", "changes_parquet"):
        a, b = getattr(first, name), getattr(second, name)
        assert datagen.file_digest(a) == datagen.file_digest(b), name
    lines = first.csv.read_text().splitlines()
    assert lines[0] == ",".join(datagen.SCHEMA.names)
    assert len(lines) == 2_001


def test_rows_depend_only_on_their_ids() -> None:
    whole = datagen.rows_for(datagen.changed_ids(5_000, 50))
    again = datagen.rows_for(datagen.changed_ids(5_000, 50)[10:20])
    assert whole.slice(10, 10).equals(again)
    changed = datagen.changed_rows(5_000, changed=50)
    assert changed.num_rows == 50
    assert changed["quantity"].to_pylist() != whole["quantity"].to_pylist()


@pytest.mark.slow
def test_connector_run_ends_with_the_json_report(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.ingest", "--rows", "2000", "--methods", "connector"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    assert {"rows", "methods", "ratios", "incremental", "targets"} <= report.keys()
    assert report["rows"] == 2_000
    for method in ("connector_csv", "connector_parquet"):
        result = report["methods"][method]
        assert "error" not in result, result
        assert result["rows"] == 2_000
        assert result["rows_per_s"] > 0 and result["peak_mib"] > 0
        assert result["incremental_rows_written"] == 2_000  # every row changed at this size
    assert {"connector_vs_psql_copy", "connector_vs_dlt"} <= report["ratios"].keys()
