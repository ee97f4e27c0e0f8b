"""Events connector: the registration of a push source, and the step that files its events.

Senders push; nothing is pulled. `POST /api/events/{source}` (`ipai_core.events`) verifies a
delivery against the events connector whose `source` matches, and stores it in the landing table
`ipai_bronze_core.webhook_events` before answering 2xx. This connector is what that receiver
looks up: the path segment, the signature scheme and the vault secret, the body limit and the
accepted event types.

    ipai secrets set github/webhook
    ipai connectors add gh-hooks --type events --config '{"target_schema": "ipai_bronze_devops",
        "source": "github", "signature": "github", "secret_ref": "github/webhook"}'
        --schedule '*/5 * * * *'

A run (`ipai connectors run gh-hooks`) copies the source's landed events into
`<target_schema>.<table_prefix><source>_events` (delivery_id, line_no, event_type, received_at,
payload). That is more useful than a run that does nothing: the config's `target_schema` means
what it means for every other connector; the events reach their domain's bronze schema with the
standard guard; the run history counts what arrived; and the materialized views fed by that table
are refreshed after a run that changed it, which pushed rows alone never trigger. The receiver's
hot path stays one INSERT into one fixed table — no DDL, no drift, no lock on a request.

The copy runs in the database (`ServerSideLoad`): no event passes through Python. Incremental
runs re-read from `REVISIT` before the previous run started, so a delivery committed just after a
run's snapshot is never skipped; the merge leaves re-read, unchanged rows alone. That holds while
the host's clock and the database's differ by less than `REVISIT` (a delivery's transaction lasts
milliseconds). A full refresh copies everything and soft-deletes rows the landing table no longer
has.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import pyarrow as pa
from psycopg import sql
from pydantic import Field, StringConstraints, model_validator

from ipai_core.connectors.base import (
    Checkpoint,
    Column,
    Connector,
    Item,
    ReadRequest,
    ServerSideLoad,
    StreamSchema,
    SyncMode,
    SyncOptions,
)
from ipai_core.connectors.registry import register

LANDING_TABLE = ("ipai_bronze_core", "webhook_events")
REVISIT = timedelta(minutes=10)
SOURCE_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
MAX_BODY_LIMIT = 64 << 20

SignatureScheme = Literal["github", "hmac-sha256", "none"]
EventType = Annotated[str, StringConstraints(min_length=1, max_length=100)]

# Rows are copied by the database, never through Arrow: these types only shape the bronze table
# (a struct becomes jsonb).
COLUMNS = (
    Column("delivery_id", pa.string(), nullable=False),
    Column("line_no", pa.int32(), nullable=False),
    Column("event_type", pa.string()),
    Column("received_at", pa.timestamp("us", tz="UTC")),
    Column("payload", pa.struct([])),
)


class EventsConfig(SyncOptions):
    """A push source. `signature` decides which headers a delivery must carry:

    - `github`: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>` (GitHub webhooks);
    - `hmac-sha256`: `X-IPAI-Timestamp: <unix seconds>` and `X-IPAI-Signature: sha256=<hex
      HMAC-SHA256 of "<timestamp>.<body>">`, within 5 minutes of the receiver's clock;
    - `none`: nothing — only with `allow_unsigned: true`, for a trusted network.
    """

    source: str = Field(
        pattern=SOURCE_PATTERN,
        description="The `{source}` of POST /api/events/{source}; one events connector each.",
    )
    signature: SignatureScheme
    secret_ref: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9_.:/-]*$",
        max_length=200,
        description="Name of the vault secret that signs deliveries (required unless unsigned).",
    )
    allow_unsigned: bool = False
    max_body_bytes: int = Field(default=1 << 20, ge=1024, le=MAX_BODY_LIMIT)
    event_types: list[EventType] | None = Field(
        default=None,
        min_length=1,
        description="Event types to store; others are answered 2xx and dropped. All when omitted.",
    )

    @model_validator(mode="after")
    def _signature_is_coherent(self) -> EventsConfig:
        if self.signature == "none":
            if not self.allow_unsigned:
                raise ValueError(
                    "`signature: none` accepts anyone's deliveries; set `allow_unsigned: true` "
                    "to confirm, or use `github` / `hmac-sha256` with a `secret_ref`"
                )
            if self.secret_ref is not None:
                raise ValueError("`secret_ref` is unused with `signature: none`; remove it")
        elif self.secret_ref is None:
            raise ValueError(
                f"`signature: {self.signature}` needs `secret_ref`, the vault secret that signs "
                "deliveries (create it with `ipai secrets set NAME`)"
            )
        if (self.target_schema, f"{self.table_prefix}{self.stream_name}") == LANDING_TABLE:
            raise ValueError(
                f"source `{self.source}` would file its events into the landing table "
                f"`{'.'.join(LANDING_TABLE)}` itself; choose another source, schema or prefix"
            )
        return self

    @property
    def stream_name(self) -> str:
        return f"{self.source}_events"


@register
class EventsConnector(Connector[EventsConfig]):
    """Pushed events → `<target_schema>.<source>_events`, copied from the landing table."""

    connector_type = "events"
    config_model = EventsConfig

    def discover(self) -> list[StreamSchema]:
        return [
            StreamSchema(
                name=self.config.stream_name,
                columns=COLUMNS,
                primary_key=("delivery_id", "line_no"),
                cursor_field="received_at",
                modes=frozenset({SyncMode.FULL_REFRESH, SyncMode.INCREMENTAL}),
            )
        ]

    def read(self, request: ReadRequest) -> Iterator[Item]:
        started = datetime.now(UTC)
        since = None
        if request.mode is not SyncMode.FULL_REFRESH and request.cursor:
            since = request.cursor.get("received_from")
        yield promotion(self.config.source, since)
        yield Checkpoint({"received_from": (started - REVISIT).isoformat()})


def promotion(source: str, since: str | None) -> ServerSideLoad:
    """The SELECT that copies `source`'s live landed events (received at or after `since`)."""
    query = sql.SQL(
        "SELECT delivery_id, line_no, event_type, received_at, payload FROM {}"
        " WHERE source = %s AND NOT _ipai_deleted"
    ).format(sql.Identifier(*LANDING_TABLE))
    if since is None:
        return ServerSideLoad(query, (source,))
    return ServerSideLoad(
        sql.SQL("{} AND received_at >= %s::timestamptz").format(query), (source, since)
    )
