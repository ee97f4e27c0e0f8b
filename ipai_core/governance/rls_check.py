"""RLS coverage (PRD success metric: 100% for gold and platinum).

A table passes when RLS is enabled and at least one policy exists. A view passes when it runs with
the caller's rights (`security_invoker`), so the RLS of what it reads applies — or when it is a
guarded view: `security_barrier`, with the caller's identity checked in its own definition through
one of the access functions (`ipai_has_role`, `ipai_has_any_role`, `ipai_company_allowed`). That is
how gold serves materialized views, which cannot carry RLS: a materialized view passes only when
anon and authenticated cannot read it directly.

A database without any gold or platinum schema has not been migrated: the check refuses it rather
than report a vacuous 100%.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

from ipai_core.errors import CheckFailed

GOLD_AND_PLATINUM = r"^ipai_(gold|platinum)_"
EVERY_IPAI_SCHEMA = r"^ipai_(bronze|silver|gold|platinum)_"
ACCESS_FUNCTIONS = ("ipai_has_role", "ipai_has_any_role", "ipai_company_allowed")


@dataclass(frozen=True)
class RlsFinding:
    schema: str
    name: str
    kind: str
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class RlsCoverage:
    findings: tuple[RlsFinding, ...]

    @property
    def total(self) -> int:
        return len(self.findings)

    @property
    def covered(self) -> int:
        return sum(f.ok for f in self.findings)

    @property
    def percent(self) -> float:
        return 100.0 if not self.findings else 100.0 * self.covered / self.total

    @property
    def failures(self) -> list[str]:
        return [f"{f.schema}.{f.name} ({f.kind}): {f.problem}" for f in self.findings if not f.ok]


_QUERY = """
SELECT n.nspname, c.relname, c.relkind::text, c.relrowsecurity,
       EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid),
       coalesce('security_invoker=true' = ANY (c.reloptions)
                OR 'security_invoker=on' = ANY (c.reloptions), false),
       coalesce('security_barrier=true' = ANY (c.reloptions)
                OR 'security_barrier=on' = ANY (c.reloptions), false)
         AND EXISTS (SELECT 1 FROM pg_rewrite r
                       JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                                       AND d.refclassid = 'pg_proc'::regclass
                       JOIN pg_proc f ON f.oid = d.refobjid
                      WHERE r.ev_class = c.oid AND f.proname = ANY (%(guards)s)),
       has_table_privilege('anon', c.oid, 'SELECT')
         OR has_table_privilege('authenticated', c.oid, 'SELECT')
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition
   AND (n.nspname ~ %(pattern)s
        OR (%(control)s AND n.nspname = 'public' AND c.relname LIKE 'ipai\\_%%'))
 ORDER BY 1, 2
"""


def rls_coverage(conn: psycopg.Connection, *, every_schema: bool = False) -> RlsCoverage:
    """Coverage of gold and platinum objects, or (`every_schema`) of all lakehouse schemas and
    the `public.ipai_*` control plane. Raises `CheckFailed` on an unmigrated database."""
    _require_lakehouse_schemas(conn)
    rows = conn.execute(
        _QUERY,
        {
            "pattern": EVERY_IPAI_SCHEMA if every_schema else GOLD_AND_PLATINUM,
            "control": every_schema,
            "guards": list(ACCESS_FUNCTIONS),
        },
    ).fetchall()
    return RlsCoverage(tuple(_finding(*row) for row in rows))


def _require_lakehouse_schemas(conn: psycopg.Connection) -> None:
    row = conn.execute(
        "SELECT count(*) FROM pg_namespace WHERE nspname ~ %s", [GOLD_AND_PLATINUM]
    ).fetchone()
    if row is None or row[0] == 0:
        raise CheckFailed(
            "this database has no `ipai_gold_*` or `ipai_platinum_*` schema, so there is nothing "
            "to check; run `ipai migrate` first",
            failures=[f"no schema matches `{GOLD_AND_PLATINUM}`"],
        )


def _finding(
    schema: str,
    name: str,
    relkind: str,
    rls: bool,
    has_policy: bool,
    invoker: bool,
    guarded: bool,
    client_readable: bool,
) -> RlsFinding:
    if relkind in ("r", "p"):
        problem = None
        if not rls:
            problem = "row level security is off"
        elif not has_policy:
            problem = "RLS is on but no policy exists (nobody can read it)"
        return RlsFinding(schema, name, "table", problem)
    if relkind == "v":
        problem = (
            None
            if invoker or guarded
            else "view neither runs as the caller (security_invoker) nor guards its rows with an "
            "access function under security_barrier"
        )
        return RlsFinding(schema, name, "view", problem)
    return RlsFinding(
        schema,
        name,
        "materialized view",
        "readable by anon/authenticated without RLS" if client_readable else None,
    )
