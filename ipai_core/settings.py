"""Settings: every knob is an `IPAI_*` environment variable (or a line in `.env`).

Unset `IPAI_DATABASE_URL` means "use the embedded PostgreSQL in `IPAI_DATA_DIR`".
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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

    @field_validator("data_dir", "migrations_dir")
    @classmethod
    def _absolute(cls, path: Path) -> Path:
        """`~/x` and `./x` name the same folder whatever the current directory is later."""
        return path.expanduser().resolve()

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
