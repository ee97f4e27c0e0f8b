"""Who may explore which files. Archived source files (`archive/<connector>/…`) are visible to
whoever may see that connector's configuration (RLS decides); anything else in the blob store
needs the `data_engineer` role. Both questions are asked of Postgres as the user."""

from __future__ import annotations

from ipai_core.db.scoped import ScopedSession
from ipai_core.errors import AccessDenied

ARCHIVE_PREFIX = "archive/"


def check_access(s: ScopedSession, pattern: str) -> None:
    """Raise `AccessDenied` unless the session's principal may read files matching `pattern`."""
    parts = pattern.split("/")
    if pattern.startswith(ARCHIVE_PREFIX) and len(parts) > 2 and not _has_glob(parts[1]):
        visible = s.scalar(
            "SELECT EXISTS (SELECT 1 FROM public.ipai_connector_config WHERE name = %s)",
            [parts[1]],
        )
        if visible:
            return
        raise AccessDenied(
            f"you cannot see connector `{parts[1]}`, so not its archived files; ask an admin "
            "for the data_engineer or analyst role",
            principal=s.principal.label,
        )
    if not s.scalar("SELECT public.ipai_has_role('data_engineer')"):
        raise AccessDenied(
            f"exploring `{pattern}` needs the data_engineer role; ask an admin "
            "(`ipai users grant EMAIL data_engineer`)",
            principal=s.principal.label,
        )


def _has_glob(segment: str) -> bool:
    return any(ch in segment for ch in "*?[")
