"""What a connector is: a config model, the streams it can read, and a generator of Arrow batches.

The framework (`ipai_core.sync`) owns everything else — bronze tables, typing, quarantine, state,
runs, COPY — so a new connector is one small module: declare streams, yield batches.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeAlias, TypeVar

import pyarrow as pa
from psycopg import sql
from pydantic import BaseModel, ConfigDict, Field

from ipai_core.storage.base import BlobStore
from ipai_core.vault.secret import SecretValue

# A batch may name where its rows came from: schema metadata `ipai.source` (e.g. a file key) and
# `ipai.first_row` (the line or row number of its first row), used for quarantine records.
SOURCE_KEY = b"ipai.source"
FIRST_ROW_KEY = b"ipai.first_row"


def with_source(batch: pa.RecordBatch, source: str, first_row: int) -> pa.RecordBatch:
    """Tag a batch with its origin for quarantine messages (`file.csv#17`)."""
    return batch.replace_schema_metadata(
        {SOURCE_KEY: source.encode(), FIRST_ROW_KEY: str(first_row).encode()}
    )


class SyncMode(enum.StrEnum):
    """How a stream is synced.

    full_refresh: read everything; rows gone from the source become soft-deleted in bronze.
    incremental: read rows past the stored cursor; upsert them by primary key.
    cdc: read the source's change log (inserts, updates, deletes) from a stored position.
    """

    FULL_REFRESH = "full_refresh"
    INCREMENTAL = "incremental"
    CDC = "cdc"


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    nullable: bool = True


@dataclass(frozen=True)
class StreamSchema:
    """A stream as the connector declares it: columns with Arrow types, key and cursor."""

    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    cursor_field: str | None = None
    modes: frozenset[SyncMode] = frozenset({SyncMode.FULL_REFRESH})
    # True when batches carry source strings that the framework must parse into `columns`' types
    # (files); False when the connector already yields typed Arrow data (databases, APIs).
    raw_text: bool = False

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.type, c.nullable) for c in self.columns])


@dataclass(frozen=True)
class Deletes:
    """Primary keys of rows the source deleted (CDC and reconciliations yield these)."""

    keys: pa.RecordBatch


@dataclass(frozen=True)
class Checkpoint:
    """A cursor position the connector reached; committed together with the data before it."""

    value: Mapping[str, Any]


@dataclass(frozen=True)
class BadRecord:
    """A record the connector itself could not parse (a malformed CSV line, invalid JSON)."""

    source: str
    raw: str
    reason: str


@dataclass(frozen=True)
class ServerSideLoad:
    """Rows the workspace database fetches itself (postgres_fdw): no row passes through Python.

    `query` is a SELECT, runnable as the sync's service role, whose output columns are named like
    the stream's columns and already have their bronze types. The engine runs
    `INSERT INTO <stage or empty bronze table> (<columns>) SELECT <columns> FROM (<query>)` in the
    stream's transaction, so upserts, soft deletes and the cursor go through the same merge path as
    batches. Rows are not validated one by one: the query must leave out rows without a key.
    """

    query: sql.Composable
    params: tuple[Any, ...] = ()


Item: TypeAlias = pa.RecordBatch | Deletes | Checkpoint | BadRecord | ServerSideLoad


@dataclass(frozen=True)
class ReadRequest:
    """What the engine asks of one stream in one run."""

    stream: StreamSchema
    mode: SyncMode
    cursor: Mapping[str, Any] | None = None
    batch_rows: int = 10_000
    extra: Mapping[str, Any] = field(default_factory=dict)


class SyncOptions(BaseModel):
    """Options every connector config carries, whatever its source."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target_schema: str = Field(
        pattern=r"^ipai_bronze_[a-z0-9_]+$", description="Bronze schema the streams land in."
    )
    mode: SyncMode = SyncMode.INCREMENTAL
    streams: list[str] | None = Field(
        default=None, description="Streams to sync; all discovered streams when omitted."
    )
    table_prefix: str = Field(default="", pattern=r"^[a-z0-9_]*$")
    max_bad_row_share: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description="Fail the stream when more rows than this share are quarantined.",
    )
    batch_rows: int = Field(
        default=10_000,
        ge=100,
        le=1_000_000,
        description="Rows per batch: what a load holds in memory at a time (times the depth of "
        "the COPY pipeline). Larger batches buy little once the COPY is pipelined.",
    )


class DatabaseSourceOptions(SyncOptions):
    """Where a database source is and which of its tables to read (Postgres, MySQL, …)."""

    host: str
    database: str
    user: str
    password_secret: str | None = Field(
        default=None, description="Name of the vault secret holding the password."
    )
    tables: list[str] | None = Field(
        default=None, description="Tables to read; every base table of the schema when omitted."
    )
    cursor_fields: dict[str, str] = Field(
        default_factory=dict,
        description="table → cursor column for incremental syncs; other tables are refreshed.",
    )
    connect_timeout_s: int = Field(default=10, ge=1, le=300)


ConfigT = TypeVar("ConfigT", bound=SyncOptions)


@dataclass(frozen=True)
class RunContext:
    """What the engine tells a connector about the run it is part of."""

    connector_name: str
    run_id: str
    archive: BlobStore | None = None  # where source files are archived so bronze can be rebuilt
    # The committed cursor of every stream of this connector when the run started (CDC sources
    # sharing one replication slot release it only up to the oldest of them).
    cursors: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # The workspace database as its owner, for connectors that set up server-side objects
    # (postgres_fdw servers, user mappings, foreign tables) the service role may not create.
    owner_url: str | None = None


class Connector(ABC, Generic[ConfigT]):
    """Base of every connector. Subclasses set `connector_type` and `config_model`."""

    connector_type: ClassVar[str]
    config_model: ClassVar[type[SyncOptions]]

    def __init__(
        self,
        config: ConfigT,
        secrets: Mapping[str, SecretValue],
        context: RunContext | None = None,
    ) -> None:
        self.config = config
        self.secrets = secrets
        self.context = context

    @abstractmethod
    def discover(self) -> list[StreamSchema]:
        """The streams this source offers, with their current columns."""

    @abstractmethod
    def read(self, request: ReadRequest) -> Iterator[Item]:
        """Yield Arrow batches (and Deletes, Checkpoints, BadRecords, ServerSideLoads) for one
        stream."""

    def close(self) -> None:
        """Release connections; called once after the run, also on failure."""
