"""Supabase Vault as the secret store, through the extension's own SQL API.

Writes call `vault.create_secret(new_secret, new_name, new_description)` and
`vault.update_secret(secret_id, new_secret, new_name, new_description)`; reads select
`decrypted_secret` from `vault.decrypted_secrets`. Supabase grants exactly these (plus SELECT and
DELETE on `vault.secrets`) to `service_role`, the role every vault session runs as. The extension
encrypts inside the database with its own root key, so no key is configured here.
"""

from __future__ import annotations

from collections.abc import Sequence

from ipai_core.db.scoped import ScopedSession
from ipai_core.errors import ConfigError
from ipai_core.vault.secret import SecretValue
from ipai_core.vault.store import SecretInfo, Vault, info_rows

_LOCK = "SELECT pg_advisory_xact_lock(hashtext('ipai_vault:' || %s))"
_FIND = "SELECT id FROM vault.secrets WHERE name = %s"
_CREATE = (
    "SELECT vault.create_secret(new_secret => %(value)s::text, new_name => %(name)s::text,"
    " new_description => coalesce(%(description)s::text, ''))"
)
_UPDATE = (
    "SELECT vault.update_secret(secret_id => %(id)s::uuid, new_secret => %(value)s::text,"
    " new_description => %(description)s::text)"
)
_READ = "SELECT name, decrypted_secret FROM vault.decrypted_secrets WHERE name = ANY(%s)"
_LIST = (
    "SELECT name, description, created_at, updated_at FROM vault.secrets"
    " WHERE name IS NOT NULL ORDER BY name"
)


class SupabaseVault(Vault):
    """Secrets in Supabase Vault (`vault.secrets`, encrypted by the extension)."""

    backend = "supabase"

    def _write(self, s: ScopedSession, name: str, value: str, description: str | None) -> None:
        # Serialise writers of one name, so two first writes cannot both call create_secret.
        s.execute(_LOCK, [name])
        params = {"name": name, "value": value, "description": description}
        secret_id = s.scalar(_FIND, [name])
        if secret_id is None:
            s.execute(_CREATE, params)
        else:
            s.execute(_UPDATE, params | {"id": secret_id})

    def _read(self, s: ScopedSession, names: Sequence[str]) -> dict[str, SecretValue]:
        rows = s.query(_READ, [list(names)]).iter_rows()
        return {name: _value(name, value) for name, value in rows}

    def _list(self, s: ScopedSession) -> list[SecretInfo]:
        return info_rows(s, _LIST)

    def _remove(self, s: ScopedSession, name: str) -> bool:
        return s.execute("DELETE FROM vault.secrets WHERE name = %s", [name]) > 0


def _value(name: str, decrypted: str | None) -> SecretValue:
    if decrypted is None:
        raise ConfigError(
            f"Supabase Vault returned no plaintext for secret `{name}`: its root key does not "
            f"match the one that encrypted it. Store it again with `ipai secrets set {name}`."
        )
    return SecretValue(decrypted)
