"""`ipai migrate check` (PRD R6.2): apply every migration to a scratch database, apply again to
prove it is a no-op, then require full RLS coverage. The scratch database is always dropped."""

from __future__ import annotations

import secrets
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from ipai_core.db.bootstrap import prepare_database
from ipai_core.errors import CheckFailed
from ipai_core.governance.rls_check import RlsCoverage, rls_coverage
from ipai_core.migrate.runner import MigrationReport, migrate


@dataclass(frozen=True)
class CheckReport:
    scratch_database: str
    first: MigrationReport
    second: MigrationReport
    gold_platinum: RlsCoverage
    every_schema: RlsCoverage


def check_migrations(
    server_url: str, directory: Path, *, superuser_url: str | None = None
) -> CheckReport:
    """Run the check on a scratch database of the server at `server_url` (as that role, the
    owner); with `superuser_url` (the embedded server) the superuser prepares the scratch
    database and applies the privileged pieces, as `ipai migrate` does. Raises `CheckFailed`."""
    scratch = f"ipai_check_{secrets.token_hex(4)}"
    admin_url = _with_database(server_url, "postgres")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
    su_scratch = _with_database(superuser_url, scratch) if superuser_url else None
    try:
        if su_scratch:
            prepare_database(su_scratch)
        with (
            psycopg.connect(_with_database(server_url, scratch), autocommit=True) as conn,
            psycopg.connect(su_scratch, autocommit=True) if su_scratch else nullcontext() as su,
        ):
            first = migrate(conn, directory, privileged=su)
            second = migrate(conn, directory, privileged=su)
            report = CheckReport(
                scratch, first, second, rls_coverage(conn), rls_coverage(conn, every_schema=True)
            )
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch))
            )
    failures = _failures(report)
    if failures:
        raise CheckFailed(f"migration check failed: {len(failures)} problem(s)", failures=failures)
    return report


def _failures(report: CheckReport) -> list[str]:
    failures = []
    if report.second.applied or report.second.shim_applied:
        names = [m.filename for m in report.second.applied]
        failures.append(
            f"a second run applied something again ({names or 'the shim'}); "
            "migrations must be recorded once"
        )
    failures += report.gold_platinum.failures
    failures += [f for f in report.every_schema.failures if f not in failures]
    return failures


def _with_database(url: str, database: str) -> str:
    params = conninfo_to_dict(url)
    params["dbname"] = database
    return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})
