"""How commands print: human tables by default, one JSON document with `--json`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import typer

JSON_OPTION = typer.Option(False, "--json", help="Print JSON instead of a table.")


def emit_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


def emit_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(h) for h in headers], *[["" if v is None else str(v) for v in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        typer.echo("  ".join(value.ljust(widths[i]) for i, value in enumerate(row)).rstrip())
        if n == 0:
            typer.echo("  ".join("-" * w for w in widths))
