"""IPAI Databricks core library: what apps and services may use.

from ipai_core import Lakehouse, Principal
with Lakehouse.open() as lh:
    me = lh.authenticate(token)
    df = lh.query(me, "SELECT * FROM ipai_gold_erp.profit_and_loss")
"""

from ipai_core.db.principal import Principal
from ipai_core.db.scoped import ScopedSession
from ipai_core.errors import (
    AccessDenied,
    AuthError,
    CheckFailed,
    ConfigError,
    DatabaseError,
    InvalidCredentials,
    InvalidToken,
    IpaiError,
    NotFound,
)
from ipai_core.lakehouse import Lakehouse
from ipai_core.settings import Settings, get_settings

__all__ = [
    "AccessDenied",
    "AuthError",
    "CheckFailed",
    "ConfigError",
    "DatabaseError",
    "InvalidCredentials",
    "InvalidToken",
    "IpaiError",
    "Lakehouse",
    "NotFound",
    "Principal",
    "ScopedSession",
    "Settings",
    "get_settings",
]
