"""`AppContext`: everything an app page gets from `open_app`, in one object and without Streamlit —
the verified user, RLS-scoped reads as that user, a logger tagged with app and user, feature
flags, audited actions and the key that per-user caches must use."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import polars as pl
from psycopg import sql

from ipai_core.apps import flags
from ipai_core.apps.manifest import AppManifest
from ipai_core.auth.claims import company_scope
from ipai_core.db.location import location_label
from ipai_core.db.principal import Principal
from ipai_core.db.scoped import Params, ScopedSession
from ipai_core.errors import ConfigError
from ipai_core.lakehouse import Lakehouse

AUDIT_EVENT_TYPE = "app"

AppCacheKey = tuple[str, str, tuple[str, ...], str, tuple[int, ...] | None]


@dataclass(frozen=True, eq=False)
class AppContext:
    """An app's view of one signed-in user. Build it with `open_app(slug)` in a page (which asks
    the database first whether the user may open the app), or directly in services and tests."""

    app: AppManifest
    principal: Principal
    lakehouse: Lakehouse = field(repr=False)

    def session(self) -> AbstractContextManager[ScopedSession]:
        """One transaction as the user, under the user's grants and RLS."""
        return self.lakehouse.session(self.principal)

    def query(self, statement: str | sql.Composable, params: Params = None) -> pl.DataFrame:
        """One read as the user; rows come back as a Polars DataFrame."""
        return self.lakehouse.query(self.principal, statement, params)

    @cached_property
    def log(self) -> logging.LoggerAdapter[logging.Logger]:
        """Logger `ipai.apps.<slug>`; every record carries `app` and `user` attributes."""
        logger = logging.getLogger(f"ipai.apps.{self.app.slug}")
        return logging.LoggerAdapter(logger, {"app": self.app.slug, "user": self.principal.label})

    def flag(self, name: str) -> bool:
        """The feature flag `name` for this user: a row for one of the user's roles, else the row
        for everyone, else the manifest's default. A name the manifest lacks is a ConfigError."""
        spec = self.app.flags.get(name)
        if spec is None:
            known = ", ".join(sorted(self.app.flags)) or "none"
            raise ConfigError(
                f"app `{self.app.slug}` reads flag `{name}`, which its app.toml does not declare "
                f"(declared: {known}); add it under [flags] with a default"
            )
        with self.session() as s:
            rows = flags.read_rows(s, self.app.slug, name)
        return flags.resolve(rows, self.principal.roles, spec.default)

    def audit_action(
        self,
        action: str,
        *,
        target_type: str,
        target_id: uuid.UUID | str | int | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> uuid.UUID:
        """Record a critical action as the user (`public.ipai_audit`, event type `app`) and return
        the entry's id. A target id that is not a UUID is kept as `details.target_id`."""
        entity_id, extra = _entity(target_id)
        document = {"app": self.app.slug, **extra, **(details or {})}
        with self.session() as s:
            entry = s.scalar(
                "SELECT public.ipai_audit(%s, %s, %s, %s, %s::jsonb)",
                [
                    AUDIT_EVENT_TYPE,
                    target_type,
                    entity_id,
                    action,
                    json.dumps(document, default=str),
                ],
            )
        return uuid.UUID(str(entry))

    def has_role(self, role: str) -> bool:
        """True when the user holds `role`, or is an admin (as `public.ipai_has_role` decides)."""
        return role in self.principal.roles or "admin" in self.principal.roles

    @property
    def cache_key(self) -> AppCacheKey:
        """(database, user id, roles, app slug, company scope): the first argument of every
        `st.cache_data` function that returns user data, so one user's rows are never served to
        another, and a change of roles or companies misses the cache."""
        user = self.principal.user_id or self.principal.label
        return (
            location_label(self.lakehouse.db.url),
            user,
            tuple(sorted(self.principal.roles)),
            self.app.slug,
            company_scope(self.principal.claims),
        )


def _entity(target_id: uuid.UUID | str | int | None) -> tuple[str | None, dict[str, str]]:
    if target_id is None:
        return None, {}
    try:
        return str(uuid.UUID(str(target_id))), {}
    except ValueError:
        return None, {"target_id": str(target_id)}
