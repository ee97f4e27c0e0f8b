"""Check definitions in `ipai_dq_check`: define (validated by the kind's model), list, remove,
request a run; and the reads a run needs (a check's history, a relation's current columns).

Every function runs in the caller's session, so RLS decides: data engineers define checks and
request runs, auditors only read; the runner and the CLI use the service role.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import psycopg
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from ipai_core.connectors.store import validate_schedule
from ipai_core.db.scoped import ScopedSession
from ipai_core.errors import AccessDenied, ConfigError, NotFound
from ipai_core.quality.checks import CheckRule, RelationName, parse_rule, relation

Severity = Literal["warn", "error"]
CheckName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_.:-]*$", max_length=120)]

_COLUMNS = (
    "id::text, name, target, kind, params, severity, schedule, enabled, description, created_at"
)
_SELECT = (
    "SELECT id::text, name, target, kind, params, severity, schedule, enabled, description,"
    " created_at FROM public.ipai_dq_check"
)
_INSERT_VALUES = (
    "INSERT INTO public.ipai_dq_check (name, target, kind, params, severity, schedule, enabled,"
    " description) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (name) "
)
_INSERT = _INSERT_VALUES + "DO NOTHING RETURNING " + _COLUMNS
_UPSERT = (
    _INSERT_VALUES
    + "DO UPDATE SET target = EXCLUDED.target, kind = EXCLUDED.kind, params = EXCLUDED.params,"
    " severity = EXCLUDED.severity, schedule = EXCLUDED.schedule, enabled = EXCLUDED.enabled,"
    " description = EXCLUDED.description RETURNING " + _COLUMNS
)


class CheckSpec(BaseModel):
    """A check as its author defines it; its params are validated by the kind's model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: CheckName
    target: RelationName
    kind: str
    params: dict[str, Any] = Field(default_factory=dict)
    severity: Severity = "error"
    schedule: str | None = None
    enabled: bool = True
    description: str = ""

    @model_validator(mode="after")
    def _valid(self) -> CheckSpec:
        parse_rule(self.kind, self.params, check=self.name)
        validate_schedule(self.schedule)
        return self


@dataclass(frozen=True)
class StoredCheck:
    """A row of `ipai_dq_check`. Its params are parsed when it runs: a row edited by hand into
    something invalid then records an `error` result instead of stopping the other checks."""

    id: str
    name: str
    target: str
    kind: str
    params: dict[str, Any]
    severity: Severity
    schedule: str | None
    enabled: bool
    description: str
    created_at: datetime

    def rule(self) -> CheckRule:
        return parse_rule(self.kind, self.params, check=self.name)

    def relations(self) -> frozenset[str]:
        """The target and every other relation the rule reads."""
        try:
            return frozenset({self.target}) | self.rule().reads()
        except ConfigError:
            return frozenset({self.target})


def make_spec(**fields: Any) -> CheckSpec:
    """A `CheckSpec` from loose values (CLI options, a JSON document); pydantic's complaints
    become one `ConfigError` naming each bad field."""
    try:
        return CheckSpec(**fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'check'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(
            f"check `{fields.get('name')}` is invalid: {problems}; fix it and save it again"
        ) from None


def save_check(s: ScopedSession, spec: CheckSpec, *, replace: bool = False) -> StoredCheck:
    """Create the check (or, with `replace`, update the one of that name)."""
    row = s.query(
        _UPSERT if replace else _INSERT,
        [
            spec.name,
            spec.target,
            spec.kind,
            json.dumps(spec.params),
            spec.severity,
            spec.schedule,
            spec.enabled,
            spec.description,
        ],
    )
    if row.is_empty():
        raise ConfigError(f"a check `{spec.name}` already exists; pass --replace to change it")
    return _record(row.row(0))


def list_checks(
    s: ScopedSession,
    *,
    names: Sequence[str] | None = None,
    target: str | None = None,
    enabled_only: bool = False,
) -> list[StoredCheck]:
    rows = s.query(
        _SELECT + " WHERE (%(names)s::text[] IS NULL OR name = ANY(%(names)s::text[]))"
        " AND (%(target)s::text IS NULL OR target = %(target)s)"
        " AND (enabled OR NOT %(enabled_only)s) ORDER BY name",
        {
            "names": None if names is None else list(names),
            "target": target,
            "enabled_only": enabled_only,
        },
    ).rows()
    return [_record(r) for r in rows]


def get_check(s: ScopedSession, name: str) -> StoredCheck:
    found = list_checks(s, names=[name])
    if not found:
        raise NotFound(f"no check `{name}`; `ipai quality list` shows them", name=name)
    return found[0]


def remove_check(s: ScopedSession, name: str) -> None:
    if not s.execute("DELETE FROM public.ipai_dq_check WHERE name = %s", [name]):
        raise NotFound(f"no check `{name}` to remove; `ipai quality list` shows them", name=name)


def request_run(s: ScopedSession, names: Sequence[str] | None = None) -> list[str]:
    """Mark enabled checks (all, or `names`) as requested by the session's user, and return
    their names. It is an UPDATE under the user's RLS: only data engineers (and admins) change
    a row, so the database decides who may run checks; anyone else gets `AccessDenied`."""
    done = s.query(
        "UPDATE public.ipai_dq_check SET last_requested_at = now(),"
        " last_requested_by = auth.uid() WHERE enabled"
        " AND (%(names)s::text[] IS NULL OR name = ANY(%(names)s::text[]))"
        " RETURNING name",
        {"names": None if names is None else list(names)},
    )
    requested = sorted(str(n) for n in done["name"])
    if not requested and s.scalar("SELECT NOT public.ipai_has_role('data_engineer')"):
        raise AccessDenied(
            f"`{s.principal.label}` may not run data quality checks; ask an admin for the "
            "`data_engineer` role",
            principal=s.principal.label,
        )
    return requested


def history(s: ScopedSession, check_id: str, window: int) -> list[float]:
    """The numeric `observed.value` of the check's last `window` results, newest first."""
    rows = s.query(
        "SELECT (observed ->> 'value')::float8 AS value FROM public.ipai_dq_result"
        " WHERE check_id = %s AND status <> 'error'"
        " AND jsonb_typeof(observed -> 'value') = 'number'"
        " ORDER BY started_at DESC LIMIT %s",
        [check_id, window],
    )
    return [float(v) for v in rows["value"]]


def current_columns(s: ScopedSession, target: str) -> dict[str, str]:
    """`target`'s columns and types as `format_type` prints them: a schema_drift snapshot."""
    try:
        with s.connection.transaction():
            value = s.scalar(
                "SELECT jsonb_object_agg(a.attname, format_type(a.atttypid, a.atttypmod)"
                " ORDER BY a.attnum) FROM pg_catalog.pg_attribute a"
                " WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped",
                [relation(target).as_string()],
            )
    except psycopg.errors.UndefinedTable:
        raise NotFound(
            f"relation `{target}` does not exist; check the name with `ipai explore` or the "
            "catalog",
            name=target,
        ) from None
    return dict(value or {})


def _record(row: tuple[Any, ...]) -> StoredCheck:
    params = row[4]
    return StoredCheck(
        id=str(row[0]),
        name=str(row[1]),
        target=str(row[2]),
        kind=str(row[3]),
        params=json.loads(params) if isinstance(params, str) else dict(params),
        severity=row[5],
        schedule=row[6],
        enabled=bool(row[7]),
        description=str(row[8]),
        created_at=row[9],
    )
