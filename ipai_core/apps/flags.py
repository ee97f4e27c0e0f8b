"""Feature flags of apps: rows of `public.ipai_feature_flag` per app, flag and role, and the one
rule that turns them into on or off for a user.

    a row for any of the user's roles  → on when any of those rows is on
    else the row for everyone (role NULL)
    else the default in the app's manifest

`resolve` is that rule, pure; the rest reads and writes rows under the session's RLS (everyone
who can see the app reads its flags; only admins write, and a trigger audits each change).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ipai_core.db.scoped import ScopedSession
from ipai_core.errors import AccessDenied


@dataclass(frozen=True)
class FlagRow:
    """One override: `role` None applies to everyone without a row of their own."""

    app_slug: str
    flag: str
    role: str | None
    enabled: bool
    description: str = ""
    updated_by: str | None = None
    updated_at: datetime | None = None


def resolve(rows: Iterable[FlagRow], roles: Sequence[str], default: bool) -> bool:
    """The flag's value for a user holding `roles`, from the rows of that one app and flag."""
    rows = list(rows)
    for_roles = [r.enabled for r in rows if r.role is not None and r.role in roles]
    if for_roles:
        return any(for_roles)
    for_everyone = [r.enabled for r in rows if r.role is None]
    return for_everyone[0] if for_everyone else default


_SELECT = """
SELECT app_slug, flag, role, enabled, coalesce(description, ''), updated_by::text, updated_at
  FROM public.ipai_feature_flag
"""


def read_rows(s: ScopedSession, app_slug: str, flag: str | None = None) -> list[FlagRow]:
    """The rows of one app (or of one of its flags) that the principal may read."""
    if flag is None:
        rows = s.query(_SELECT + " WHERE app_slug = %s ORDER BY flag, role NULLS FIRST", [app_slug])
    else:
        rows = s.query(
            _SELECT + " WHERE app_slug = %s AND flag = %s ORDER BY role NULLS FIRST",
            [app_slug, flag],
        )
    return [FlagRow(*row) for row in rows.rows()]


def set_flag(
    s: ScopedSession,
    app_slug: str,
    flag: str,
    *,
    role: str | None,
    enabled: bool,
    description: str = "",
) -> None:
    """Create or change the row for (`app_slug`, `flag`, `role`); admins only."""
    _require_admin(s, f"set flag `{flag}` of `{app_slug}`")
    s.execute(
        "INSERT INTO public.ipai_feature_flag (app_slug, flag, role, enabled, description)"
        " VALUES (%s, %s, %s, %s, nullif(%s, ''))"
        " ON CONFLICT (app_slug, flag, coalesce(role, ''))"
        " DO UPDATE SET enabled = EXCLUDED.enabled, description = EXCLUDED.description",
        [app_slug, flag, role, enabled, description],
    )


def clear_flag(s: ScopedSession, app_slug: str, flag: str, *, role: str | None) -> bool:
    """Remove the row for (`app_slug`, `flag`, `role`); admins only. False when none existed."""
    _require_admin(s, f"clear flag `{flag}` of `{app_slug}`")
    removed = s.execute(
        "DELETE FROM public.ipai_feature_flag"
        " WHERE app_slug = %s AND flag = %s AND role IS NOT DISTINCT FROM %s",
        [app_slug, flag, role],
    )
    return removed > 0


def _require_admin(s: ScopedSession, what: str) -> None:
    """RLS would refuse the write anyway (a policy violation on INSERT, nothing on DELETE); this
    says so in words before trying."""
    if not s.scalar("SELECT public.ipai_has_role('admin')"):
        raise AccessDenied(
            f"`{s.principal.label}` may not {what}: only admins change feature flags",
            principal=s.principal.label,
        )
