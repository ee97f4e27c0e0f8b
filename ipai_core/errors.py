"""The exception tree of IPAI Databricks.

Every error the platform raises on purpose derives from :class:`IpaiError`. Each subclass keeps
the context that caused it as attributes, and its message says what failed, the offending value
in backticks, and what to do next. Callers (CLI, workspace, tests) branch on the type, never on
the text.

    IpaiError
    ├── ConfigError              settings or a config document is invalid
    ├── DatabaseError            the database cannot be reached or started
    │   └── EmbeddedServerError  the embedded PostgreSQL failed to init/start/stop
    ├── MigrationError           a migration failed or the migration history is inconsistent
    │   └── MigrationChecksumError  an applied migration's file was edited afterwards
    ├── AuthError                a credential or token was refused (nothing ran)
    │   ├── InvalidCredentials   wrong email or password
    │   └── InvalidToken         expired, forged, wrong audience, `alg: none`, …
    ├── AccessDenied             the database refused an action under RLS or grants
    ├── NotFound                 a named object does not exist
    ├── CheckFailed              a governance check (RLS coverage, spec kit) did not pass
    └── SyncError                a connector run failed
        ├── SourceError          the source refused or failed (unreachable, bad query, bad file)
        ├── SchemaDriftError     a source column changed type in a way that cannot be widened
        ├── TooManyBadRows       more rows were quarantined than the stream allows
        └── ConnectorBusy        the connector is already running elsewhere
"""

from __future__ import annotations

from pathlib import Path


class IpaiError(Exception):
    """Root of every error IPAI Databricks raises on purpose."""


class ConfigError(IpaiError):
    """A setting or a configuration document is invalid."""


class DatabaseError(IpaiError):
    """The database cannot be reached, or refused the connection."""


class EmbeddedServerError(DatabaseError):
    """The embedded PostgreSQL server could not be initialised, started or stopped."""

    def __init__(self, message: str, *, data_dir: Path, log_tail: str = "") -> None:
        self.data_dir = data_dir
        self.log_tail = log_tail
        detail = f"\n--- last lines of the server log ---\n{log_tail}" if log_tail else ""
        super().__init__(f"{message}{detail}")


class MigrationError(IpaiError):
    """A migration failed to apply, or the recorded history does not match the files."""

    def __init__(self, message: str, *, version: str | None = None) -> None:
        self.version = version
        super().__init__(message)


class MigrationChecksumError(MigrationError):
    """An applied migration's file changed after it was applied."""

    def __init__(self, *, version: str, filename: str, recorded: str, actual: str) -> None:
        self.filename = filename
        self.recorded = recorded
        self.actual = actual
        super().__init__(
            f"migration `{filename}` was edited after it was applied "
            f"(recorded checksum {recorded[:12]}…, file now {actual[:12]}…). "
            "Restore the original file and put the change in a new migration.",
            version=version,
        )


class AuthError(IpaiError):
    """A credential or token was refused; no query was run."""


class InvalidCredentials(AuthError):
    """The email/password pair does not match an active local user."""


class InvalidToken(AuthError):
    """A JWT failed verification (signature, expiry, audience, algorithm or claims)."""

    def __init__(self, message: str, *, reason: str) -> None:
        self.reason = reason
        super().__init__(message)


class AccessDenied(IpaiError):
    """The database refused the statement for the principal that ran it."""

    def __init__(self, message: str, *, principal: str, sqlstate: str | None = None) -> None:
        self.principal = principal
        self.sqlstate = sqlstate
        super().__init__(message)


class NotFound(IpaiError):
    """A named object (user, migration, schema, …) does not exist."""

    def __init__(self, message: str, *, name: str) -> None:
        self.name = name
        super().__init__(message)


class CheckFailed(IpaiError):
    """A governance check did not pass; `failures` lists what failed."""

    def __init__(self, message: str, *, failures: list[str]) -> None:
        self.failures = failures
        super().__init__(message)


class SyncError(IpaiError):
    """A connector run (or one of its streams) failed; bronze keeps its previous state."""

    def __init__(self, message: str, *, connector: str | None = None, stream: str | None = None):
        self.connector = connector
        self.stream = stream
        super().__init__(message)


class SourceError(SyncError):
    """The source system failed or refused a request."""


class SchemaDriftError(SyncError):
    """A column's type changed at the source and cannot be widened safely."""

    def __init__(self, *, table: str, column: str, current: str, incoming: str) -> None:
        self.table = table
        self.column = column
        self.current = current
        self.incoming = incoming
        super().__init__(
            f"column `{column}` of `{table}` is `{current}` in bronze but the source now sends "
            f"`{incoming}`, which cannot be widened safely; cast it in the connector config or "
            "rename the column at the source",
            stream=table,
        )


class TooManyBadRows(SyncError):
    """More rows than `max_bad_row_share` were quarantined."""

    def __init__(self, *, stream: str, bad: int, total: int, allowed_share: float) -> None:
        self.bad = bad
        self.total = total
        self.allowed_share = allowed_share
        super().__init__(
            f"stream `{stream}`: {bad} of {total} rows were quarantined, over the allowed "
            f"{allowed_share:.1%}; nothing was loaded. Inspect them with "
            "`ipai connectors quarantine NAME` and fix the source or raise max_bad_row_share",
            stream=stream,
        )


class ConnectorBusy(SyncError):
    """Another process is running this connector right now."""
