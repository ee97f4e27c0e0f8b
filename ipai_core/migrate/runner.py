"""Discovers `migrations/<YYYYMMDDHHMMSS>_<name>.sql`, applies pending ones in order, and keeps
their checksummed history in `ipai_migrations.applied`.

Each file runs in its own transaction together with its history row, so a failing migration
leaves nothing behind. An applied file whose content changed is refused by name, unless the file
names the old checksum in a `-- ipai:replaces-checksum <sha256>` line (an edit reviewed to be
equivalent for databases that applied the old text, such as moving a superuser-only statement
out); the record then takes the new checksum. A dry run only reads: it creates neither the
history table nor the shim. After the files, the privileged pieces (`privileged`) are applied.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from ipai_core.errors import MigrationChecksumError, MigrationError
from ipai_core.migrate.privileged import apply_privileged
from ipai_core.migrate.shim import apply_shim, shim_needed

REPLACES = re.compile(r"^-- ipai:replaces-checksum ([0-9a-f]{64})\s*$", re.MULTILINE)
FILENAME = re.compile(r"^(?P<version>\d{14})_(?P<name>[a-z0-9_]+)\.sql$")
LOCK_KEY = "ipai_migrations"

HISTORY_DDL = """
CREATE SCHEMA IF NOT EXISTS ipai_migrations;
COMMENT ON SCHEMA ipai_migrations IS 'History of applied ipai migrations (version, checksum).';
CREATE TABLE IF NOT EXISTS ipai_migrations.applied (
    version text PRIMARY KEY,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    execution_ms integer NOT NULL
);
REVOKE ALL ON SCHEMA ipai_migrations FROM PUBLIC;
"""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path
    checksum: str
    replaces: frozenset[str] = frozenset()  # earlier checksums this file stands for

    @property
    def filename(self) -> str:
        return self.path.name


@dataclass(frozen=True)
class MigrationReport:
    """What a `migrate` call did (or, with dry_run, would do)."""

    shim_applied: bool
    shim_pending: bool
    applied: tuple[Migration, ...]
    pending: tuple[Migration, ...]
    dry_run: bool
    warnings: tuple[str, ...] = ()  # what could not be applied with this role, and what it costs


def discover(directory: Path) -> list[Migration]:
    """All migration files, ordered by version; a misnamed `.sql` file is an error."""
    if not directory.is_dir():
        raise MigrationError(
            f"migrations folder `{directory}` does not exist; set IPAI_MIGRATIONS_DIR"
        )
    found: dict[str, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = FILENAME.match(path.name)
        if match is None:
            raise MigrationError(
                f"`{path.name}` is not named `<YYYYMMDDHHMMSS>_<lower_snake_name>.sql`; rename it"
            )
        version = match["version"]
        if version in found:
            raise MigrationError(
                f"`{path.name}` and `{found[version].filename}` share version {version}; "
                "give one a later timestamp",
                version=version,
            )
        text = path.read_bytes()
        checksum = hashlib.sha256(text).hexdigest()
        replaces = frozenset(REPLACES.findall(text.decode(errors="replace")))
        found[version] = Migration(version, match["name"], path, checksum, replaces)
    return [found[v] for v in sorted(found)]


def migrate(
    conn: psycopg.Connection,
    directory: Path,
    *,
    dry_run: bool = False,
    privileged: psycopg.Connection | None = None,
) -> MigrationReport:
    """Bring the database to the latest migration as `conn`'s role (the owner), then apply the
    privileged pieces with `privileged` (the embedded server's superuser), or else try them with
    `conn` and report a warning where its role may not."""
    migrations = discover(directory)
    if dry_run:
        return _plan(conn, migrations)
    shim_applied = apply_shim(conn)
    with conn.transaction():
        conn.execute(HISTORY_DDL)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [LOCK_KEY])
        recorded = _recorded(conn)
        _adopt_replaced_checksums(conn, migrations, recorded)
        pending = _pending(migrations, recorded)
    applied = []
    for migration in pending:
        _apply(conn, migration)
        applied.append(migration)
    warning = apply_privileged(privileged or conn)
    return MigrationReport(
        shim_applied=shim_applied,
        shim_pending=False,
        applied=tuple(applied),
        pending=(),
        dry_run=False,
        warnings=(warning,) if warning else (),
    )


def _adopt_replaced_checksums(
    conn: psycopg.Connection, migrations: list[Migration], recorded: dict[str, str]
) -> None:
    """Record the new checksum of a file that declares it replaces the recorded one."""
    for migration in migrations:
        old = recorded.get(migration.version)
        if old is not None and old != migration.checksum and old in migration.replaces:
            conn.execute(
                "UPDATE ipai_migrations.applied SET checksum = %s WHERE version = %s",
                [migration.checksum, migration.version],
            )
            recorded[migration.version] = migration.checksum


def _plan(conn: psycopg.Connection, migrations: list[Migration]) -> MigrationReport:
    """The dry run: what `migrate` would do, from reads only."""
    with conn.transaction():
        conn.execute("SET TRANSACTION READ ONLY")
        shim_pending = shim_needed(conn)
        has_history = conn.execute(
            "SELECT to_regclass('ipai_migrations.applied') IS NOT NULL"
        ).fetchone()
        recorded = _recorded(conn) if has_history and has_history[0] else {}
    pending = _pending(migrations, recorded)
    return MigrationReport(
        shim_applied=False,
        shim_pending=shim_pending,
        applied=(),
        pending=tuple(pending),
        dry_run=True,
    )


def _recorded(conn: psycopg.Connection) -> dict[str, str]:
    """Version → checksum of every applied migration."""
    rows = conn.execute("SELECT version, checksum FROM ipai_migrations.applied").fetchall()
    return {str(version): str(checksum) for version, checksum in rows}


def _pending(migrations: list[Migration], recorded: dict[str, str]) -> list[Migration]:
    """The migrations not yet recorded; refuses a recorded one whose file is gone or edited."""
    by_version = {m.version: m for m in migrations}
    for version, checksum in recorded.items():
        migration = by_version.get(version)
        if migration is None:
            raise MigrationError(
                f"migration {version} is recorded as applied but its file is missing from the "
                "migrations folder; restore it (applied migrations are never deleted)",
                version=version,
            )
        if migration.checksum != checksum and checksum not in migration.replaces:
            raise MigrationChecksumError(
                version=version,
                filename=migration.filename,
                recorded=checksum,
                actual=migration.checksum,
            )
    return [m for m in migrations if m.version not in recorded]


def _apply(conn: psycopg.Connection, migration: Migration) -> None:
    started = time.monotonic()
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [LOCK_KEY])
            already = conn.execute(
                "SELECT 1 FROM ipai_migrations.applied WHERE version = %s", [migration.version]
            ).fetchone()
            if already:  # another process applied it while we waited for the lock
                return
            conn.execute(migration.path.read_text())  # reviewed SQL file
            conn.execute(
                "INSERT INTO ipai_migrations.applied (version, name, checksum, execution_ms)"
                " VALUES (%s, %s, %s, %s)",
                [
                    migration.version,
                    migration.name,
                    migration.checksum,
                    int((time.monotonic() - started) * 1000),
                ],
            )
    except psycopg.Error as exc:
        raise MigrationError(
            f"migration `{migration.filename}` failed and was rolled back: {exc}".strip(),
            version=migration.version,
        ) from exc
