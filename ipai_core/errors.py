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
    │   └── IdentityChangeRefused  a statement tried to change its session's role or claims
    ├── NotFound                 a named object does not exist
    ├── CheckFailed              a governance check (RLS coverage, spec kit) did not pass
    └── SyncError                a connector run failed
        ├── SourceError          the source refused or failed (unreachable, bad query, bad file)
        ├── SchemaDriftError     a source column changed type in a way that cannot be widened
        ├── TooManyBadRows       more rows were quarantined than the stream allows
        └── ConnectorBusy        the connector is already running elsewhere
    LlmError                     the LLM endpoint failed, timed out or answered unusable output
    SemanticQueryError           a semantic query does not fit its model (bad operator, grain, …)
    └── UnknownField             it names a dataset, measure or dimension the model lacks
    UnsafeSql                    free SQL refused: not one SELECT, a schema outside scope, …
    └── UnsafeExpression         a semantic model expression refused: an unlisted function, …
    InvalidPeriod                a finance period ends before it starts
    ReconciliationConflict       a bank line or open item is already matched by another decision
    EmbeddingsUnavailable        embeddings are off, or the configured model cannot be used
    EmbeddingError               the embedding model answered unusable vectors
    AgentRefused                 governance (or the tool) refused an agent's call
    BudgetExceeded               an agent's call was cut off at its latency or cost budget
    DeliveryFailed               a webhook destination did not accept a message
"""

from __future__ import annotations

from collections.abc import Sequence
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


class IdentityChangeRefused(AccessDenied):
    """A statement inside a scoped session tried to change its role, authorization or claims
    (`SET ROLE`, `RESET ALL`, `set_config('request.jwt.claims', …)`, …); nothing ran."""

    def __init__(self, message: str, *, principal: str, statement: str) -> None:
        self.statement = statement
        super().__init__(message, principal=principal, sqlstate="42501")


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


class LlmError(IpaiError):
    """The LLM endpoint failed, timed out, or answered something that cannot be used."""

    def __init__(self, message: str, *, model: str, reason: str) -> None:
        self.model = model
        self.reason = reason
        super().__init__(message)


class SemanticQueryError(IpaiError):
    """A semantic query does not fit its model (operator, grain, limit, value type, …)."""

    def __init__(self, message: str, *, dataset: str | None) -> None:
        self.dataset = dataset
        super().__init__(message)


class UnknownField(SemanticQueryError):
    """A semantic query names a dataset, measure or dimension that is not declared."""

    def __init__(self, *, dataset: str | None, field: str, kind: str, known: Sequence[str]) -> None:
        self.field = field
        self.kind = kind
        self.known = tuple(known)
        where = f" in `{dataset}`" if dataset else ""
        super().__init__(
            f"unknown {kind} `{field}`{where}; use one of: {', '.join(sorted(known)) or 'none'}",
            dataset=dataset,
        )


class UnsafeSql(IpaiError):
    """Free SQL was refused before it ran (not exactly one SELECT, a schema out of scope, a
    function off the allowlist, …)."""

    def __init__(
        self,
        reason: str,
        *,
        sql: str = "",
        advice: str = "Write one SELECT that reads only the allowed schemas (gold and platinum "
        "by default) and calls only allowlisted functions",
    ) -> None:
        self.reason = reason
        self.sql = sql
        super().__init__(f"refused SQL: {reason}. {advice}")


class UnsafeExpression(UnsafeSql):
    """A semantic model's measure or dimension expression was refused — when the model was built,
    saved or compiled — because it calls a function off the allowlist, is qualified or quoted,
    holds a subquery, `;` or a comment, …; `where` names the model field, `problem` is why."""

    def __init__(self, problem: str, *, where: str, expression: str) -> None:
        self.where = where
        self.problem = problem
        super().__init__(
            f"{where} `{expression}`: {problem}",
            sql=expression,
            advice="Write one expression over the view's columns that calls only the functions "
            "in public.ipai_sql_function_allowlist, by their plain names",
        )


class InvalidPeriod(IpaiError):
    """A finance period ends before it starts."""

    def __init__(self, *, start: object, end: object) -> None:
        self.start = start
        self.end = end
        super().__init__(
            f"the period from `{start}` to `{end}` ends before it starts; pick an end date on or "
            "after the start date"
        )


class ReconciliationConflict(IpaiError):
    """A reconciliation decision contradicts the current ones: the bank line, or one of the open
    items, is already matched by an accepted decision."""

    def __init__(
        self, message: str, *, statement_line_id: int, move_line_ids: Sequence[int]
    ) -> None:
        self.statement_line_id = statement_line_id
        self.move_line_ids = tuple(move_line_ids)
        super().__init__(message)


class EmbeddingsUnavailable(IpaiError):
    """Embeddings are needed but off (`IPAI_EMBEDDINGS`), or the chosen model cannot be loaded."""

    def __init__(self, message: str, *, mode: str) -> None:
        self.mode = mode
        super().__init__(message)


class EmbeddingError(IpaiError):
    """The embedding model answered vectors that cannot be stored (wrong count or dimensions)."""

    def __init__(self, message: str, *, model: str) -> None:
        self.model = model
        super().__init__(message)


class AgentRefused(IpaiError):
    """Governance refused an agent's call before it ran (`reason`: unknown_agent, inactive,
    unknown_tool, tool_not_allowed, operation_not_allowed, cost_per_day), or the tool itself
    declined it (`declined`, e.g. Genie refusing an unsafe plan)."""

    def __init__(self, message: str, *, agent: str, tool: str, reason: str) -> None:
        self.agent = agent
        self.tool = tool
        self.reason = reason
        super().__init__(message)


class BudgetExceeded(IpaiError):
    """An agent's call ran into a budget while it ran and was cut off. `budget` is `latency`
    (ms) or `cost_per_call` / `cost_per_day` (USD); `limit` is the budget's value."""

    def __init__(self, message: str, *, agent: str, budget: str, limit: float) -> None:
        self.agent = agent
        self.budget = budget
        self.limit = limit
        super().__init__(message)


class DeliveryFailed(IpaiError):
    """A webhook destination did not accept a message (`http_status` None: no answer)."""

    def __init__(self, message: str, *, destination: str, http_status: int | None) -> None:
        self.destination = destination
        self.http_status = http_status
        super().__init__(message)
