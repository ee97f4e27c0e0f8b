"""Secrets for connectors and services: stored by name, resolved only when a run needs them.

Connector configs hold references (`vault_secret_refs`); `open_vault(lakehouse)` returns the
store that resolves them — Supabase Vault when the database has it, otherwise the local vault
(AES-256-GCM in the client, key from `IPAI_VAULT_KEY` or a 0600 key file). Values come back as
`SecretValue`, which prints as `SecretValue('***')` until `reveal()` is called.

    vault = open_vault(lakehouse)
    vault.put("erp_postgres/password", value, description="ERP read replica")
    secrets = vault.resolve(config.vault_secret_refs)   # {name: SecretValue}
    connect(password=secrets["erp_postgres/password"].reveal())
"""

from ipai_core.vault.local import LocalVault, resolve_vault_key
from ipai_core.vault.secret import SecretValue
from ipai_core.vault.store import SecretInfo, Vault, check_name, open_vault
from ipai_core.vault.supabase import SupabaseVault

__all__ = [
    "LocalVault",
    "SecretInfo",
    "SecretValue",
    "SupabaseVault",
    "Vault",
    "check_name",
    "open_vault",
    "resolve_vault_key",
]
