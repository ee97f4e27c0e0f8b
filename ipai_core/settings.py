"""Settings: every knob is an `IPAI_*` environment variable (or a line in `.env`).

Unset `IPAI_DATABASE_URL` means "use the embedded PostgreSQL in `IPAI_DATA_DIR`".
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Runtime configuration, read from `IPAI_*` variables and an optional `.env` file."""

    model_config = SettingsConfigDict(env_prefix="IPAI_", env_file=".env", extra="ignore")

    database_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL to use instead of the embedded server (Supabase, managed PG).",
    )
    data_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_data_dir("ipai-databricks")),
        description="Where the embedded server's data, the generated JWT secret and keys live.",
    )
    embedded_port: int = Field(
        default=54329, description="Preferred TCP port of the embedded server (next free if busy)."
    )
    migrations_dir: Path = Field(
        default=PROJECT_ROOT / "migrations", description="Folder of `<timestamp>_<name>.sql` files."
    )
    jwt_secret: SecretStr | None = Field(
        default=None,
        description="HS256 secret for tokens (Supabase: the project's JWT secret). "
        "Unset: a random one is generated once into the data dir.",
    )
    jwt_jwks_url: str | None = Field(
        default=None, description="JWKS URL of Supabase Auth, to verify its asymmetric tokens."
    )
    vault_key: SecretStr | None = Field(
        default=None,
        description="Base64 of a 32-byte AES key for the local vault. "
        "Unset: generated once into the data dir (0600).",
    )
    blob_url: str | None = Field(
        default=None,
        description="Blob store for archived source files and extracts: file:///dir or "
        "s3://bucket/prefix. Unset: <data dir>/blobs.",
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint (DigitalOcean Spaces, Supabase Storage)."
    )
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    jwt_audience: str = "authenticated"
    jwt_issuer: str | None = None
    token_ttl_seconds: int = Field(default=8 * 3600, ge=60)
    workspace_host: str = "127.0.0.1"
    workspace_port: int = 8501
    pool_max_size: int = Field(default=8, ge=1)
    statement_timeout_ms: int = Field(default=60_000, ge=0)
    # --- apps
    apps_dir: Path = Field(
        default=PROJECT_ROOT / "apps",
        description="Folder of IPAI Apps, one `<slug>/app.toml` + entry point per app.",
    )
    trusted_proxy_ips: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Comma-separated addresses or CIDR networks of the reverse proxies whose "
        "X-Forwarded-Access-Token (and, when enabled, X-Forwarded-Email) identify the user. "
        "Empty: forwarded identity headers are ignored.",
    )
    trusted_proxy_email_sign_in: bool = Field(
        default=False,
        description="Sign a trusted proxy's X-Forwarded-Email in as the local account with that "
        "e-mail (only when the proxy authenticated the user itself).",
    )

    # --- llm & genie
    llm_base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible endpoint (OpenAI, Vercel AI Gateway, vLLM, Ollama: "
        "`http://127.0.0.1:11434/v1`). Unset with no key: no LLM, Genie plans offline.",
    )
    llm_api_key: SecretStr | None = Field(
        default=None, description="API key of the endpoint (a local vLLM/Ollama needs none)."
    )
    llm_model: str = Field(default="gpt-4o-mini", description="Chat model name.")
    llm_embedding_model: str = Field(
        default="text-embedding-3-small", description="Embedding model name."
    )
    llm_price_prompt_per_1k: float = Field(
        default=0.0, ge=0, description="USD per 1,000 prompt tokens, for cost accounting."
    )
    llm_price_completion_per_1k: float = Field(
        default=0.0, ge=0, description="USD per 1,000 completion tokens, for cost accounting."
    )
    llm_timeout_s: float = Field(default=30.0, gt=0, description="Deadline of one LLM call.")
    llm_max_retries: int = Field(
        default=1, ge=0, description="Retries of a failed LLM call (connection errors, 429, 5xx)."
    )
    llm_structured_output: Literal["json_schema", "text"] = Field(
        default="json_schema",
        description="`json_schema`: response_format with a JSON schema (falls back to `text` by "
        "itself when the endpoint refuses it); `text`: ask for JSON in the reply.",
    )
    genie_row_limit: int = Field(
        default=5000, ge=1, le=100_000, description="Most rows one Genie answer returns."
    )
    genie_statement_timeout_ms: int = Field(
        default=15_000, ge=100, description="Statement timeout of a Genie query."
    )
    genie_allowed_schemas: str = Field(
        default="ipai_gold_*,ipai_platinum_*",
        description="Comma-separated schema patterns free-SQL mode may read.",
    )
    genie_llm_sql: bool = Field(
        default=True,
        description="Let the LLM planner answer with a SELECT (checked like free SQL) when the "
        "semantic models cannot express a question.",
    )

    # --- features
    embeddings: Literal["local", "openai", "off"] | None = Field(
        default=None,
        description="Embedding model of the platinum embedding sets: `local` (all-MiniLM-L6-v2 "
        "from the `ai` extra, offline), `openai` (the LLM endpoint's embedding model; it must "
        "return 384 dimensions) or `off`. Unset: local when the model package is installed, "
        "else openai when an LLM endpoint is configured, else off.",
    )
    embeddings_batch_size: int = Field(
        default=64, ge=1, le=2048, description="Texts embedded per batch during a refresh."
    )

    # --- agents & mcp
    agent_token_ttl_seconds: int = Field(
        default=7 * 24 * 3600, ge=60, description="Lifetime of tokens from `ipai agents token`."
    )
    agent_row_limit: int = Field(
        default=1000, ge=1, le=100_000, description="Most rows one agent tool call returns."
    )
    orchestration_workers: int = Field(
        default=2, ge=1, description="Runs requested over HTTP/MCP that one process runs at once."
    )

    # --- observability
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] | None = Field(
        default=None,
        description="Level of the JSON log lines every process writes to stderr. Unset: INFO for "
        "the servers (workspace, scheduler, MCP over HTTP), WARNING for commands a person types.",
    )
    telemetry_to_postgres: bool = Field(
        default=True,
        description="Roll spans and metric points up into `ipai_span` / `ipai_metric_point` "
        "(the workspace's Observability page charts them). OTLP export, when "
        "OTEL_EXPORTER_OTLP_ENDPOINT is set, happens either way.",
    )
    metric_export_interval_s: float = Field(
        default=60.0, ge=1, description="Seconds between metric exports (points are per minute)."
    )
    span_retention_days: int = Field(
        default=14, ge=1, description="Days of spans kept in `ipai_span`."
    )
    metric_retention_days: int = Field(
        default=90, ge=1, description="Days of per-minute points kept in `ipai_metric_point`."
    )
    uptime_retention_days: int = Field(
        default=90, ge=31, description="Days of uptime probes kept (the availability SLO reads 30)."
    )
    uptime_url: str | None = Field(
        default=None,
        description="URL the scheduler probes every minute for the availability SLO. "
        "Unset: http://<workspace host>:<workspace port>/healthz.",
    )
    readiness_scheduler_grace_s: float = Field(
        default=30.0,
        ge=0,
        description="/readyz needs a scheduler heartbeat within twice its interval plus this.",
    )

    # --- data quality & alerts
    dq_statement_timeout_ms: int = Field(
        default=30_000, ge=1, description="Statement timeout of each data quality check's SQL."
    )
    alert_http_timeout_s: float = Field(
        default=5.0, gt=0, description="Timeout of one webhook delivery attempt."
    )
    alert_max_attempts: int = Field(
        default=6, ge=1, description="Delivery attempts per event and destination."
    )
    alert_retry_base_s: float = Field(
        default=30.0,
        gt=0,
        description="Wait after a failed delivery attempt; doubles per attempt (30 min at most).",
    )

    @field_validator("data_dir", "migrations_dir", "apps_dir")
    @classmethod
    def _absolute(cls, path: Path) -> Path:
        """`~/x` and `./x` name the same folder whatever the current directory is later."""
        return path.expanduser().resolve()

    @field_validator("trusted_proxy_ips", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        """`10.0.0.5, 10.1.0.0/16` (the variable) or a list; each entry must parse as a network."""
        entries = value.split(",") if isinstance(value, str) else value
        if not isinstance(entries, list):
            return entries  # pydantic reports the wrong type
        cleaned = [str(e).strip() for e in entries if str(e).strip()]
        for entry in cleaned:
            ipaddress.ip_network(entry, strict=False)  # ValueError names the bad entry
        return cleaned

    @property
    def uses_embedded(self) -> bool:
        return self.database_url is None

    @property
    def embedded_dir(self) -> Path:
        return self.data_dir / "postgres"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once; tests build their own `Settings`)."""
    return Settings()
