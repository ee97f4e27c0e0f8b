"""The dependency graph of lakehouse relations, read from `pg_depend` / `pg_rewrite`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ipai_core.db.scoped import ScopedSession


@dataclass(frozen=True)
class Relation:
    name: str  # schema.name
    kind: str  # table, view, materialized view
    unique_index: bool = False  # a plain unique index: REFRESH … CONCURRENTLY is possible
    populated: bool = True


@dataclass(frozen=True)
class Graph:
    """Relations and, for each, the relations its definition reads."""

    relations: dict[str, Relation]
    reads: dict[str, frozenset[str]] = field(default_factory=dict)

    def upstream_views(self, name: str) -> set[str]:
        """Materialized views `name` reads, directly or through plain views."""
        found: set[str] = set()
        stack = list(self.reads.get(name, ()))
        seen: set[str] = set()
        while stack:
            current = stack.pop()
            if current in seen:
                continue
            seen.add(current)
            relation = self.relations.get(current)
            if relation is None:
                continue
            if relation.kind == "materialized view":
                found.add(current)
            elif relation.kind == "view":
                stack.extend(self.reads.get(current, ()))
        return found

    def fed_by(self, tables: Iterable[str]) -> set[str]:
        """Materialized views that read any of `tables`, directly or downstream of them."""
        wanted = set(tables)
        result: set[str] = set()
        changed = True
        while changed:
            changed = False
            for name, relation in self.relations.items():
                if relation.kind != "materialized view" or name in result:
                    continue
                sources = self._sources(name)
                if sources & (wanted | result):
                    result.add(name)
                    changed = True
        return result

    def _sources(self, name: str) -> set[str]:
        """Every relation `name` reads, looking through plain views."""
        found: set[str] = set()
        stack = list(self.reads.get(name, ()))
        while stack:
            current = stack.pop()
            if current in found:
                continue
            found.add(current)
            if self.relations.get(current, Relation(current, "table")).kind == "view":
                stack.extend(self.reads.get(current, ()))
        return found


_RELATIONS = """
SELECT n.nspname || '.' || c.relname,
       CASE c.relkind WHEN 'm' THEN 'materialized view' WHEN 'v' THEN 'view' ELSE 'table' END,
       EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisunique
                 AND i.indpred IS NULL AND i.indexprs IS NULL),
       c.relkind <> 'm' OR c.relispopulated
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname ~ '^ipai_'
"""

_READS = """
SELECT DISTINCT vn.nspname || '.' || v.relname, rn.nspname || '.' || ref.relname
  FROM pg_rewrite r
  JOIN pg_class v ON v.oid = r.ev_class
  JOIN pg_namespace vn ON vn.oid = v.relnamespace
  JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                  AND d.refclassid = 'pg_class'::regclass
  JOIN pg_class ref ON ref.oid = d.refobjid
  JOIN pg_namespace rn ON rn.oid = ref.relnamespace
 WHERE ref.oid <> v.oid AND vn.nspname ~ '^ipai_' AND rn.nspname ~ '^ipai_'
"""


def read_graph(s: ScopedSession) -> Graph:
    relations = {
        str(name): Relation(str(name), str(kind), bool(unique), bool(populated))
        for name, kind, unique, populated in s.query(_RELATIONS).rows()
    }
    reads: dict[str, set[str]] = {}
    for view, referenced in s.query(_READS).rows():
        reads.setdefault(str(view), set()).add(str(referenced))
    return Graph(relations, {k: frozenset(v) for k, v in reads.items()})
