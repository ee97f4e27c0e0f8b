"""BI credentials: Postgres logins for BI tools (Superset, Metabase, …) that read gold and
platinum as one person, under that person's current roles and company scope, read-only.

`model` names the types; `plan` decides the statements that make a login role; `password`
generates passwords and their SCRAM verifiers; `address` builds the connection strings a tool
needs; `credentials` runs it all on the owner's connection (`add`, `list`, `rotate`, `revoke`).
What a BI login may read is enforced by Postgres: the group role `ipai_bi`'s grants and the access
helpers (migrations `20261206003000`…`20261206003030`). See `docs/bi.md`.
"""

from ipai_core.bi.address import ConnectionAddress, address_of
from ipai_core.bi.credentials import (
    add_credential,
    get_credential,
    list_credentials,
    revoke_credential,
    rotate_credential,
    sync_grants,
)
from ipai_core.bi.model import (
    AUTH_METHODS,
    GROUP_ROLE,
    AuthMethod,
    BiCredential,
    IssuedCredential,
    LoginLimits,
    auth_method,
    login_role,
)

__all__ = [
    "AUTH_METHODS",
    "GROUP_ROLE",
    "AuthMethod",
    "BiCredential",
    "ConnectionAddress",
    "IssuedCredential",
    "LoginLimits",
    "add_credential",
    "address_of",
    "auth_method",
    "get_credential",
    "list_credentials",
    "login_role",
    "revoke_credential",
    "rotate_credential",
    "sync_grants",
]
