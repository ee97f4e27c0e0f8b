"""What every vault does, whichever backend holds the values.

`Vault` owns the parts both backends share: name checks, one audited service-role session per
operation, the `secret_set` / `secret_deleted` audit entries, `NotFound` for unknown names, and
database errors reduced to their primary message (a DETAIL line can quote a row, and a row can
hold a secret). A backend implements four small steps on an open session. `open_vault` picks
Supabase Vault when the database has it, else the local AES-GCM vault.
"""

from __future__ import annotations

import builtins
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

import psycopg

from ipai_core.db.principal import Principal
from ipai_core.db.scoped import ScopedSession
from ipai_core.errors import ConfigError, DatabaseError, NotFound
from ipai_core.vault.secret import SecretValue

if TYPE_CHECKING:
    from ipai_core.lakehouse import Lakehouse

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.:/-]*")
MAX_NAME_LENGTH = 200

_AUDIT = "SELECT public.ipai_audit('vault', 'secret', NULL, %s, %s)"
_HAS_SUPABASE_VAULT = """
SELECT EXISTS (
  SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = 'vault' AND c.relname = 'decrypted_secrets')
"""


@dataclass(frozen=True)
class SecretInfo:
    """What `Vault.list()` shows of a secret: never its value."""

    name: str
    description: str
    created_at: datetime
    updated_at: datetime


def check_name(name: str) -> str:
    """`name` if it is a valid secret reference; otherwise `ConfigError`."""
    if not NAME_PATTERN.fullmatch(name) or len(name) > MAX_NAME_LENGTH:
        raise ConfigError(
            f"secret name `{name}` is invalid: use lower-case letters, digits and `_ . : / -`, "
            f"starting with a letter or digit, at most {MAX_NAME_LENGTH} characters "
            "(e.g. `erp_postgres/password`)"
        )
    return name


class Vault(ABC):
    """Secrets by name. Values go in as `str` and come out as `SecretValue`; nothing else shows
    them. Every operation runs in one audited service-role session."""

    backend: ClassVar[str]

    def __init__(self, lakehouse: Lakehouse) -> None:
        self._lakehouse = lakehouse

    def put(self, name: str, value: str, *, description: str | None = None) -> None:
        """Create or replace `name`. `description=None` keeps the current one ('' when new)."""
        check_name(name)
        if not isinstance(value, str) or not value:
            raise ConfigError(f"the value for secret `{name}` is empty; nothing was stored")
        with self._session("put", name) as s:
            self._write(s, name, value, description)
            s.execute(_AUDIT, ["secret_set", json.dumps({"name": name})])

    def get(self, name: str) -> SecretValue:
        """The value of `name`; `NotFound` when there is no such secret."""
        return self.resolve([name])[name]

    def resolve(self, refs: Sequence[str]) -> dict[str, SecretValue]:
        """Values of the named secrets (a connector's `vault_secret_refs`), in one session."""
        names = list(dict.fromkeys(check_name(ref) for ref in refs))
        if not names:
            return {}
        with self._session("resolve", " ".join(names)) as s:
            found = self._read(s, names)
        missing = [n for n in names if n not in found]
        if missing:
            raise NotFound(
                f"vault secret {', '.join(f'`{n}`' for n in missing)} does not exist: create it "
                f"with `ipai secrets set {missing[0]}`",
                name=missing[0],
            )
        return {n: found[n] for n in names}

    def list(self) -> list[SecretInfo]:
        """Every secret's name, description and timestamps, ordered by name."""
        with self._session("list", "*") as s:
            return self._list(s)

    def delete(self, name: str) -> None:
        """Remove `name`; `NotFound` when there is no such secret."""
        check_name(name)
        with self._session("delete", name) as s:
            if not self._remove(s, name):
                raise NotFound(
                    f"vault secret `{name}` does not exist; `ipai secrets list` shows the "
                    "stored ones",
                    name=name,
                )
            s.execute(_AUDIT, ["secret_deleted", json.dumps({"name": name})])

    @contextmanager
    def _session(self, op: str, subject: str) -> Iterator[ScopedSession]:
        principal = Principal.service(f"vault: {op} {subject}")
        try:
            with self._lakehouse.session(principal) as s:
                yield s
        except psycopg.Error as exc:
            # Only the primary message: DETAIL may quote a failing row, which may hold a value.
            primary = exc.diag.message_primary or type(exc).__name__
            raise DatabaseError(
                f"vault {op} of `{subject}` ({self.backend}) failed: {primary}"
            ) from None

    @abstractmethod
    def _write(self, s: ScopedSession, name: str, value: str, description: str | None) -> None:
        """Insert or update one secret."""

    @abstractmethod
    def _read(self, s: ScopedSession, names: Sequence[str]) -> dict[str, SecretValue]:
        """The values of those of `names` that exist."""

    @abstractmethod
    def _list(self, s: ScopedSession) -> builtins.list[SecretInfo]:
        """All secrets, without values, ordered by name."""

    @abstractmethod
    def _remove(self, s: ScopedSession, name: str) -> bool:
        """Delete one secret; False when it did not exist."""


def open_vault(lakehouse: Lakehouse) -> Vault:
    """Supabase Vault when the database has `vault.decrypted_secrets`, else the local vault."""
    # Imported here: both backends subclass `Vault` from this module.
    from ipai_core.vault.local import LocalVault
    from ipai_core.vault.supabase import SupabaseVault

    with lakehouse.session(Principal.service("vault: detect backend")) as s:
        has_supabase_vault = bool(s.scalar(_HAS_SUPABASE_VAULT))
    return SupabaseVault(lakehouse) if has_supabase_vault else LocalVault(lakehouse)


def info_rows(s: ScopedSession, statement: str) -> list[SecretInfo]:
    """`SecretInfo`s from a query returning name, description, created_at, updated_at."""
    return [
        SecretInfo(r["name"], r["description"] or "", r["created_at"], r["updated_at"])
        for r in s.query(statement).iter_rows(named=True)
    ]
