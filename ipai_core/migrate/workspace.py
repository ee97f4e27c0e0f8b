"""`ipai migrate` for the configured workspace: the migrations as the owner, the privileged pieces
with the embedded server's superuser (or tried as the owner elsewhere), then the login roles'
passwords, so the next `Lakehouse.open` signs in at once."""

from __future__ import annotations

from contextlib import nullcontext

import psycopg

from ipai_core.auth.tokens import resolve_jwt_secret
from ipai_core.db.location import admin_connection, superuser_url
from ipai_core.db.logins import provision
from ipai_core.migrate.runner import MigrationReport, migrate
from ipai_core.settings import Settings


def migrate_workspace(settings: Settings, *, dry_run: bool = False) -> MigrationReport:
    with admin_connection(settings) as owner:
        su = None if dry_run else superuser_url(settings)
        with psycopg.connect(su, autocommit=True) if su else nullcontext() as privileged:
            report = migrate(owner, settings.migrations_dir, dry_run=dry_run, privileged=privileged)
        if not dry_run:
            provision(owner, resolve_jwt_secret(settings))
    return report
