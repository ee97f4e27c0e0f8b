"""What keeps a load's memory bounded: connector modules imported only for their own type, a
lean Arrow allocator, typing without a copy into polars, bronze pages with room for updates."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import psycopg
import pyarrow as pa
import pytest

from ipai_core import Lakehouse, Principal
from ipai_core.connectors import store
from ipai_core.connectors.base import Column, StreamSchema
from ipai_core.connectors.registry import BUILTIN_MODULES, connector_class, known_types
from ipai_core.errors import ConfigError
from ipai_core.settings import PROJECT_ROOT
from ipai_core.sync.engine import run_connector
from ipai_core.sync.validate import validate


def _python(code: str, **env: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout.strip()


def test_a_connector_type_imports_its_own_module_only() -> None:
    loaded = _python(
        "import sys\n"
        "from ipai_core.connectors.registry import connector_class, known_types\n"
        "names = known_types()\n"
        "connector_class('file')\n"
        "print(sorted(m for m in sys.modules if m.startswith('ipai_core.connectors.')))\n"
        "print(names)"
    ).splitlines()
    assert "ipai_core.connectors.files" in loaded[0]
    for other in ("github", "odoo", "postgres", "mysql", "events"):
        assert f"ipai_core.connectors.{other}'" not in loaded[0], other
    assert loaded[1] == str(sorted(BUILTIN_MODULES))


def test_every_builtin_type_resolves_to_a_class_of_that_type() -> None:
    assert set(BUILTIN_MODULES) <= set(known_types())
    for name in BUILTIN_MODULES:
        assert connector_class(name).connector_type == name
    with pytest.raises(ConfigError, match="known types: events, file"):
        connector_class("nope")


def test_a_builtin_type_name_cannot_be_taken_by_another_module() -> None:
    """Even before the built-in module is imported (a fresh process)."""
    refused = _python(
        "from ipai_core.connectors.base import Connector\n"
        "from ipai_core.connectors.registry import register\n"
        "from ipai_core.errors import ConfigError\n"
        "class Impostor(Connector):\n"
        "    connector_type = 'odoo'\n"
        "try:\n"
        "    register(Impostor)\n"
        "except ConfigError as exc:\n"
        "    print(exc)"
    )
    assert "built-in" in refused and "ipai_core.connectors.odoo" in refused
    assert connector_class("odoo").__module__ == BUILTIN_MODULES["odoo"]


def test_a_run_switches_arrow_to_a_lean_pool_unless_one_was_chosen(tmp_path: Path) -> None:
    code = (
        "import pyarrow as pa\n"
        "from ipai_core.sync.memory import use_lean_arrow_pool\n"
        "before = pa.default_memory_pool().backend_name\n"
        "use_lean_arrow_pool()\n"
        "print(before, pa.default_memory_pool().backend_name)"
    )
    before, after = _python(code).split()
    assert after in ("jemalloc", "system") and (before == after or before == "mimalloc")
    assert _python(code, ARROW_DEFAULT_MEMORY_POOL="mimalloc") == "mimalloc mimalloc"


def _stream(*, raw_text: bool) -> StreamSchema:
    return StreamSchema(
        name="lines",
        columns=(
            Column("id", pa.int64(), nullable=False),
            Column("price", pa.decimal128(12, 2)),
            Column("day", pa.date32()),
            Column("at", pa.timestamp("us", tz="UTC")),
            Column("note", pa.string()),
        ),
        primary_key=("id",),
        raw_text=raw_text,
    )


def test_canonical_text_is_typed_in_arrow_and_anything_else_still_gets_the_lenient_parse() -> None:
    stream = _stream(raw_text=True)
    text = pa.RecordBatch.from_pydict(
        {
            "id": ["1", "2"],
            "price": ["10.50", ""],
            "day": ["2025-01-31", "2025-02-01"],
            "at": ["2025-01-31T10:00:00Z", "2025-02-01 08:30:00+02:00"],
            "note": ["a", ""],
        }
    )
    typed = validate(text, stream, "f.csv")
    assert typed.bad == [] and typed.good.schema == stream.arrow_schema
    assert typed.good.column("price").to_pylist() == [Decimal("10.50"), None]
    assert typed.good.column("note").to_pylist() == ["a", ""]
    assert typed.good.column("at").to_pylist()[1].hour == 6  # 08:30 at +02:00, in UTC

    mixed = text.set_column(3, "at", pa.array(["2025-01-31T10:00:00Z", "2025-02-01 08:30"]))
    assert validate(mixed, stream, "f.csv").good.column("at").to_pylist()[1].hour == 8

    lenient = text.set_column(2, "day", pa.array(["2025-01-31", "31 January"]))
    checked = validate(lenient, stream, "f.csv", first_row=7)
    assert checked.good.num_rows == 1 and [b.source for b in checked.bad] == ["f.csv#8"]
    assert "`day`" in checked.bad[0].reason


def test_typed_batches_with_a_missing_key_or_column_go_through_the_row_checks() -> None:
    stream = _stream(raw_text=False)
    batch = pa.RecordBatch.from_pydict(
        {"id": pa.array([1, None, 3], pa.int32()), "price": pa.array([1.5, 2.0, 3.25])}
    )
    checked = validate(batch, stream, "table")
    assert checked.good.schema == stream.arrow_schema
    assert checked.good.column("id").to_pylist() == [1, 3]
    assert checked.good.column("price").to_pylist() == [Decimal("1.50"), Decimal("3.25")]
    assert checked.good.column("note").null_count == 2
    assert [b.reason for b in checked.bad] == ["missing primary key `id`"]


def test_bronze_tables_leave_room_for_in_place_updates(
    lakehouse: Lakehouse, tmp_path: Path, owner_conn: psycopg.Connection
) -> None:
    (tmp_path / "rows.csv").write_text("id,v\n1,a\n2,b\n")
    config = {
        "target_schema": "ipai_bronze_retail",
        "url": str(tmp_path / "rows.csv"),
        "stream": "roomy_rows",
        "primary_key": ["id"],
    }
    with lakehouse.session(Principal.service("test: fillfactor")) as s:
        store.add_connector(s, name="roomy_rows", connector_type="file", config=config)
    assert run_connector(lakehouse, "roomy_rows").ok
    row = owner_conn.execute(
        "SELECT reloptions FROM pg_class WHERE oid = 'ipai_bronze_retail.roomy_rows'::regclass"
    ).fetchone()
    assert row is not None and row[0] == ["fillfactor=90"]
