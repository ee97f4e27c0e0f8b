"""The local vault: AES-256-GCM in the client, ciphertext in `public.ipai_vault_secret`.

The key is `IPAI_VAULT_KEY` (base64 of 32 bytes) or, when unset, a key generated once into
`<data dir>/vault.key` with mode 0600. Each write draws a new 96-bit nonce, and the secret's name
is the associated data, so a ciphertext copied onto another name does not decrypt. Rows record
the key's fingerprint (`key_id`), so a key mismatch is named as such.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ipai_core.db.scoped import ScopedSession
from ipai_core.errors import ConfigError
from ipai_core.private_file import create_once
from ipai_core.settings import Settings
from ipai_core.vault.secret import SecretValue
from ipai_core.vault.store import SecretInfo, Vault, info_rows

if TYPE_CHECKING:
    from ipai_core.lakehouse import Lakehouse

KEY_FILE = "vault.key"
KEY_BYTES = 32
NONCE_BYTES = 12
_NEW_KEY_HINT = (
    'generate one with `python -c "import base64, os; print(base64.b64encode(os.urandom(32))'
    '.decode())"`'
)

_UPSERT = """
INSERT INTO public.ipai_vault_secret (name, description, nonce, ciphertext, key_id)
VALUES (%(name)s, coalesce(%(description)s, ''), %(nonce)s, %(ciphertext)s, %(key_id)s)
ON CONFLICT (name) DO UPDATE
   SET description = coalesce(%(description)s, ipai_vault_secret.description),
       nonce = excluded.nonce, ciphertext = excluded.ciphertext, key_id = excluded.key_id
"""
_READ = "SELECT name, nonce, ciphertext, key_id FROM public.ipai_vault_secret WHERE name = ANY(%s)"
_LIST = (
    "SELECT name, description, created_at, updated_at FROM public.ipai_vault_secret ORDER BY name"
)


def resolve_vault_key(settings: Settings) -> bytes:
    """`IPAI_VAULT_KEY` if set; else the key in `<data dir>/vault.key`, generated on first use."""
    if settings.vault_key is not None:
        return _decode_key(settings.vault_key.get_secret_value(), source="IPAI_VAULT_KEY")
    return _load_or_create_key(settings.data_dir / KEY_FILE)


def key_fingerprint(key: bytes) -> str:
    """A short, one-way name for a key, stored beside each ciphertext."""
    return hashlib.sha256(b"ipai-vault-key-id\x00" + key).hexdigest()[:16]


class LocalVault(Vault):
    """Secrets encrypted here with AES-256-GCM and stored as ciphertext in the database."""

    backend = "local"

    def __init__(self, lakehouse: Lakehouse, *, key: bytes | None = None) -> None:
        super().__init__(lakehouse)
        key = resolve_vault_key(lakehouse.settings) if key is None else key
        if len(key) != KEY_BYTES:
            raise ConfigError(f"the vault key must be {KEY_BYTES} bytes, not {len(key)}")
        self._aead = AESGCM(key)
        self.key_id = key_fingerprint(key)

    def _write(self, s: ScopedSession, name: str, value: str, description: str | None) -> None:
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = self._aead.encrypt(nonce, value.encode("utf-8"), name.encode("utf-8"))
        s.execute(
            _UPSERT,
            {
                "name": name,
                "description": description,
                "nonce": nonce,
                "ciphertext": ciphertext,
                "key_id": self.key_id,
            },
        )

    def _read(self, s: ScopedSession, names: Sequence[str]) -> dict[str, SecretValue]:
        rows = s.query(_READ, [list(names)]).iter_rows(named=True)
        return {
            r["name"]: self._decrypt(r["name"], r["nonce"], r["ciphertext"], r["key_id"])
            for r in rows
        }

    def _list(self, s: ScopedSession) -> list[SecretInfo]:
        return info_rows(s, _LIST)

    def _remove(self, s: ScopedSession, name: str) -> bool:
        return s.execute("DELETE FROM public.ipai_vault_secret WHERE name = %s", [name]) > 0

    def _decrypt(self, name: str, nonce: bytes, ciphertext: bytes, key_id: str) -> SecretValue:
        try:
            plaintext = self._aead.decrypt(nonce, ciphertext, name.encode("utf-8"))
        except InvalidTag:
            raise _mismatch(name, key_id, self.key_id) from None
        return SecretValue(plaintext.decode("utf-8"))


def _mismatch(name: str, stored_key_id: str, key_id: str) -> ConfigError:
    if stored_key_id != key_id:
        why = f"the vault key (id {key_id}) does not match the one that encrypted `{name}` " + (
            f"(id {stored_key_id})"
        )
    else:
        why = (
            f"the vault key does not match the one that encrypted `{name}`, or its row was "
            "altered (the key id matches but the ciphertext does not authenticate)"
        )
    return ConfigError(
        f"cannot decrypt secret `{name}`: {why}. Set IPAI_VAULT_KEY to the key it was stored "
        f"with, or store it again with `ipai secrets set {name}`."
    )


def _decode_key(text: str, *, source: str) -> bytes:
    try:
        key = base64.b64decode(text.strip().replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != KEY_BYTES:
        raise ConfigError(f"{source} is not base64 of {KEY_BYTES} bytes; {_NEW_KEY_HINT}")
    return key


def _load_or_create_key(path: Path) -> bytes:
    # Created once, atomically: concurrent first runs agree on one key and never read half of it.
    key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
    if create_once(path, base64.b64encode(key).decode("ascii") + "\n"):
        return key
    return _read_key_file(path)


def _read_key_file(path: Path) -> bytes:
    mode = stat.S_IMODE(path.stat().st_mode)
    if os.name == "posix" and mode & 0o077:
        raise ConfigError(
            f"vault key file `{path}` has mode {mode:04o}, so other users can read it: "
            f"run `chmod 600 {path}` (and re-encrypt the secrets if the machine is shared)."
        )
    text = path.read_bytes().decode("ascii", errors="replace")
    return _decode_key(text, source=f"vault key file `{path}`")
