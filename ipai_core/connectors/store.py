"""Connector configurations in `ipai_connector_config`: add (validated by the connector's own
pydantic model), look up, list, enable/disable, and read run history."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from croniter import croniter
from pydantic import ValidationError

from ipai_core.connectors.base import SyncOptions
from ipai_core.connectors.registry import connector_class
from ipai_core.db.principal import Principal
from ipai_core.db.scoped import ScopedSession
from ipai_core.errors import ConfigError, NotFound
from ipai_core.lakehouse import Lakehouse

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass(frozen=True)
class ConnectorRecord:
    id: str
    name: str
    connector_type: str
    config: dict[str, Any]
    vault_secret_refs: tuple[str, ...]
    schedule: str | None
    is_enabled: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class RunRecord:
    id: str
    status: str
    started_at: datetime
    ended_at: datetime | None
    rows_read: int
    rows_written: int
    error_message: str | None
    triggered_by: str
    metadata: dict[str, Any]


_SELECT = (
    "SELECT id::text, name, connector_type, config, vault_secret_refs, schedule, is_enabled,"
    " created_at, updated_at FROM public.ipai_connector_config"
)


def validate_config(
    connector_type: str, config: dict[str, Any], *, name: str | None = None
) -> SyncOptions:
    """The config parsed by the connector's own model; `ConfigError` names each bad field (and
    the stored connector, when `name` is given)."""
    cls = connector_class(connector_type)
    try:
        return cls.config_model.model_validate(config)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in exc.errors()
        )
        if name is None:
            raise ConfigError(f"invalid `{connector_type}` config: {problems}") from None
        raise ConfigError(
            f"config of connector `{name}` is invalid: {problems}; "
            "fix it with `ipai connectors add --replace`"
        ) from None


def validate_schedule(schedule: str | None) -> None:
    if schedule is not None and not croniter.is_valid(schedule):
        raise ConfigError(
            f"`{schedule}` is not a cron expression; e.g. `*/15 * * * *` "
            "(every 15 minutes) or `0 2 * * *` (02:00 UTC daily)"
        )


def add_connector(
    s: ScopedSession,
    *,
    name: str,
    connector_type: str,
    config: dict[str, Any],
    schedule: str | None = None,
    secret_refs: Sequence[str] = (),
    replace: bool = False,
) -> ConnectorRecord:
    """Create (or with `replace`, update) a connector, as the session's principal (RLS: data
    engineers and admins)."""
    validate_config(connector_type, config)
    validate_schedule(schedule)
    exists = s.scalar("SELECT 1 FROM public.ipai_connector_config WHERE name = %s", [name])
    if exists and not replace:
        raise ConfigError(f"a connector `{name}` already exists; pass --replace to change it")
    try:
        with s.connection.transaction():  # a savepoint: a conflict leaves the session usable
            s.execute(
                "INSERT INTO public.ipai_connector_config"
                " (name, connector_type, config, vault_secret_refs, schedule)"
                " VALUES (%s, %s, %s, %s, %s)"
                " ON CONFLICT (name) DO UPDATE SET connector_type = EXCLUDED.connector_type,"
                " config = EXCLUDED.config, vault_secret_refs = EXCLUDED.vault_secret_refs,"
                " schedule = EXCLUDED.schedule",
                [name, connector_type, json.dumps(config), list(secret_refs), schedule],
            )
    except psycopg.errors.UniqueViolation as exc:
        raise ConfigError(
            f"connector `{name}` conflicts with another one: {exc.diag.message_primary}"
            f" ({exc.diag.message_detail or 'a unique setting is already taken'})"
        ) from None
    record = _one(s, name)
    s.execute(
        "SELECT public.ipai_audit('connector_config', 'connector', %s, %s, %s)",
        [
            record.id,
            "replaced" if exists else "created",
            json.dumps({"name": name, "type": connector_type, "schedule": schedule}),
        ],
    )
    return record


def find_connector(s: ScopedSession, name_or_id: str) -> ConnectorRecord:
    return _one(s, name_or_id)


def get_connector(lh: Lakehouse, name_or_id: str) -> ConnectorRecord:
    with lh.session(Principal.service(f"connector lookup {name_or_id}")) as s:
        return _one(s, name_or_id)


def list_connectors(s: ScopedSession) -> list[ConnectorRecord]:
    return [_record(r) for r in s.query(_SELECT + " ORDER BY name").rows()]


def set_enabled(s: ScopedSession, name: str, enabled: bool) -> ConnectorRecord:
    record = _one(s, name)
    s.execute(
        "UPDATE public.ipai_connector_config SET is_enabled = %s WHERE id = %s",
        [enabled, record.id],
    )
    s.execute(
        "SELECT public.ipai_audit('connector_config', 'connector', %s, %s, '{}')",
        [record.id, "enabled" if enabled else "disabled"],
    )
    return _one(s, name)


def run_history(s: ScopedSession, name: str, limit: int = 20) -> list[RunRecord]:
    record = _one(s, name)
    rows = s.query(
        "SELECT id::text, status, started_at, ended_at, rows_read, rows_written, error_message,"
        " triggered_by, metadata FROM public.ipai_connector_run WHERE connector_id = %s"
        " ORDER BY started_at DESC LIMIT %s",
        [record.id, limit],
    ).rows()
    return [
        RunRecord(
            str(r[0]),
            str(r[1]),
            r[2],
            r[3],
            int(r[4]),
            int(r[5]),
            r[6],
            str(r[7]),
            json.loads(str(r[8])),
        )
        for r in rows
    ]


def _one(s: ScopedSession, name_or_id: str) -> ConnectorRecord:
    column = "id::text" if _UUID.match(name_or_id) else "name"
    rows = s.query(_SELECT + f" WHERE {column} = %s", [name_or_id]).rows()
    if not rows:
        raise NotFound(
            f"no connector `{name_or_id}`; list them with `ipai connectors list`", name=name_or_id
        )
    return _record(rows[0])


def _record(row: tuple[Any, ...]) -> ConnectorRecord:
    return ConnectorRecord(
        id=str(row[0]),
        name=str(row[1]),
        connector_type=str(row[2]),
        config=json.loads(str(row[3])),
        vault_secret_refs=tuple(row[4] or ()),
        schedule=row[5],
        is_enabled=bool(row[6]),
        created_at=row[7],
        updated_at=row[8],
    )


def quarantined(s: ScopedSession, name: str, limit: int = 50) -> list[dict[str, Any]]:
    record = _one(s, name)
    return s.query(
        "SELECT created_at, stream, source, reason, raw_value, run_id::text AS run_id"
        " FROM public.ipai_connector_quarantine WHERE connector_id = %s"
        " ORDER BY id DESC LIMIT %s",
        [record.id, limit],
    ).to_dicts()


def latest_runs(s: ScopedSession) -> dict[str, RunRecord]:
    """The most recent run of each connector the principal can see, by connector name."""
    rows = s.query(
        "SELECT DISTINCT ON (c.name) c.name, r.id::text, r.status, r.started_at, r.ended_at,"
        " r.rows_read, r.rows_written, r.error_message, r.triggered_by, r.metadata"
        " FROM public.ipai_connector_config c JOIN public.ipai_connector_run r"
        " ON r.connector_id = c.id ORDER BY c.name, r.started_at DESC"
    ).rows()
    return {
        str(r[0]): RunRecord(
            str(r[1]),
            str(r[2]),
            r[3],
            r[4],
            int(r[5]),
            int(r[6]),
            r[7],
            str(r[8]),
            json.loads(str(r[9])),
        )
        for r in rows
    }


def can_operate(s: ScopedSession) -> bool:
    """Whether the session's principal may add and run connectors (asked of Postgres)."""
    return bool(s.scalar("SELECT public.ipai_has_role('data_engineer')"))
