"""`ipai rls check` and `ipai spec check`: governance gates that exit non-zero on failure."""

from __future__ import annotations

from pathlib import Path

import typer

from ipai_core.cli.output import JSON_OPTION, emit_json
from ipai_core.db.location import admin_connection
from ipai_core.errors import CheckFailed
from ipai_core.governance.rls_check import rls_coverage
from ipai_core.governance.spec_check import REQUIRED_SPEC_FILES, check_spec
from ipai_core.settings import PROJECT_ROOT, get_settings

rls_app = typer.Typer(help="Row Level Security coverage.", no_args_is_help=True)
spec_app = typer.Typer(help="Spec Kit presence (PRD R6.1).", no_args_is_help=True)


@rls_app.command("check")
def rls_check(
    every_schema: bool = typer.Option(
        False, "--all", help="Also cover bronze/silver schemas and the public.ipai_* control plane."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Every gold and platinum table has RLS on and a policy; fails under 100%."""
    with admin_connection(get_settings()) as conn:
        coverage = rls_coverage(conn, every_schema=every_schema)
    if as_json:
        emit_json(
            {
                "percent": coverage.percent,
                "covered": coverage.covered,
                "total": coverage.total,
                "failures": coverage.failures,
            }
        )
    else:
        scope = "every ipai schema" if every_schema else "gold and platinum"
        typer.echo(
            f"RLS coverage ({scope}): {coverage.percent:.1f}% "
            f"({coverage.covered}/{coverage.total} objects)"
        )
        if coverage.total == 0:
            kind = "ipai" if every_schema else "gold/platinum"
            typer.echo(f"note: no {kind} tables or views exist yet, so there is nothing to cover")
    if coverage.failures:
        raise CheckFailed("RLS coverage is below 100%", failures=coverage.failures)


SPEC_DIR_OPTION = typer.Option(PROJECT_ROOT / "spec" / "ipai-databricks", "--dir")


@spec_app.command("check")
def spec_check(
    spec_dir: Path = SPEC_DIR_OPTION,
) -> None:
    """The Spec Kit files exist and are not empty."""
    failures = check_spec(spec_dir)
    if failures:
        raise CheckFailed("the Spec Kit is incomplete", failures=failures)
    typer.echo(f"spec kit complete: {', '.join(REQUIRED_SPEC_FILES)} in {spec_dir}")
