"""`public.ipai_app_registry`: registering manifests, listing apps as a user sees them, turning
an app on or off, and asking the database whether a user may open one.

Every function takes a `ScopedSession`, so it runs under whoever opened it: `ipai apps register`
uses the service role, the workspace the signed-in user — the registry's RLS decides what each
sees and may change, and a trigger audits every change.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, cast

import psycopg

from ipai_core.apps.manifest import AppManifest
from ipai_core.db.scoped import ScopedSession
from ipai_core.errors import AccessDenied, ConfigError, NotFound

Registration = Literal["registered", "updated", "unchanged"]


@dataclass(frozen=True)
class RegisteredApp:
    """One registry row as the reading user sees it."""

    id: str
    slug: str
    name: str
    description: str
    icon: str | None
    entry_point: str
    required_roles: tuple[str, ...]
    flags: dict[str, dict[str, object]]
    is_active: bool


_UPSERT = """
INSERT INTO public.ipai_app_registry AS r
       (slug, name, description, required_roles, entry_point, config)
VALUES (%(slug)s, %(name)s, %(description)s, %(roles)s, %(entry_point)s, %(config)s::jsonb)
ON CONFLICT (slug) DO UPDATE
   SET name = EXCLUDED.name, description = EXCLUDED.description,
       required_roles = EXCLUDED.required_roles, entry_point = EXCLUDED.entry_point,
       config = EXCLUDED.config
 WHERE (r.name, r.description, r.required_roles, r.entry_point, r.config)
       IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.description, EXCLUDED.required_roles,
                         EXCLUDED.entry_point, EXCLUDED.config)
RETURNING (xmax = 0) AS inserted
"""

_SELECT = """
SELECT id::text, slug, name, coalesce(description, ''), config ->> 'icon',
       coalesce(entry_point, 'app.py'), required_roles, coalesce(config -> 'flags', '{}'),
       is_active
  FROM public.ipai_app_registry
"""


def register(s: ScopedSession, manifests: Sequence[AppManifest]) -> dict[str, Registration]:
    """Upsert each manifest (an admin's on/off switch is kept); returns what happened per slug.
    Registering the same manifests again changes nothing and writes no audit entry."""
    slugs = [m.slug for m in manifests]
    duplicates = sorted({slug for slug in slugs if slugs.count(slug) > 1})
    if duplicates:
        raise ConfigError(f"app slug(s) `{', '.join(duplicates)}` given more than once")
    return {m.slug: _register_one(s, m) for m in manifests}


def _register_one(s: ScopedSession, manifest: AppManifest) -> Registration:
    inserted = s.scalar(
        _UPSERT,
        {
            "slug": manifest.slug,
            "name": manifest.name,
            "description": manifest.description,
            "roles": list(manifest.required_roles),
            "entry_point": manifest.entry_point,
            "config": json.dumps(manifest.registry_config()),
        },
    )
    if inserted is None:
        return "unchanged"
    return "registered" if inserted else "updated"


def list_apps(s: ScopedSession, *, active_only: bool = False) -> list[RegisteredApp]:
    """The apps the session's principal may see (admins: every app), by name."""
    where = " WHERE is_active" if active_only else ""
    rows = s.query(_SELECT + where + " ORDER BY name, slug").rows()
    return [_app(row) for row in rows]


def get_app(s: ScopedSession, slug: str) -> RegisteredApp:
    rows = s.query(_SELECT + " WHERE slug = %s", [slug]).rows()
    if not rows:
        raise NotFound(
            f"no registered app `{slug}` visible to you; see `ipai apps list`", name=slug
        )
    return _app(rows[0])


def set_active(s: ScopedSession, slug: str, active: bool) -> None:
    """Turn an app on or off (admins only: the registry's RLS refuses anyone else)."""
    changed = s.execute(
        "UPDATE public.ipai_app_registry SET is_active = %s"
        " WHERE slug = %s AND is_active IS DISTINCT FROM %s",
        [active, slug, active],
    )
    if changed == 0 and not s.scalar(
        "SELECT 1 FROM public.ipai_app_registry WHERE slug = %s AND public.ipai_has_role('admin')",
        [slug],
    ):
        raise AccessDenied(
            f"`{s.principal.label}` may not change app `{slug}` (or it is not registered); "
            "only admins turn apps on and off",
            principal=s.principal.label,
        )


def check_open(s: ScopedSession, slug: str) -> str:
    """The app's registry id when the database lets the principal open it (`ipai_open_app`);
    raises `AccessDenied` when refused, `NotFound` when an admin opens an unregistered app."""
    try:
        return str(s.scalar("SELECT public.ipai_open_app(%s)", [slug]))
    except psycopg.errors.NoDataFound as exc:
        raise NotFound(
            f"app `{slug}` is not registered; run `ipai apps register {slug}`", name=slug
        ) from exc


def _app(row: tuple[object, ...]) -> RegisteredApp:
    app_id, slug, name, description, icon, entry_point, roles, flags, active = row
    return RegisteredApp(
        id=str(app_id),
        slug=str(slug),
        name=str(name),
        description=str(description),
        icon=None if icon is None else str(icon),
        entry_point=str(entry_point),
        required_roles=tuple(str(r) for r in cast("list[object] | None", roles) or ()),
        flags=json.loads(str(flags)),
        is_active=bool(active),
    )
