"""IPAI Databricks core library: what apps and services may use.

from ipai_core import Lakehouse, Principal
with Lakehouse.open() as lh:
    me = lh.authenticate(token)
    df = lh.query(me, "SELECT * FROM ipai_gold_erp.profit_and_loss")

Apps (`apps/<slug>/app.py`) import only from here: `from ipai_core import open_app`. Names whose
modules import Streamlit or heavy libraries are loaded on first use (`_LAZY`), so importing
`ipai_core` never imports Streamlit.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from ipai_core import finance
    from ipai_core.apps.context import AppContext
    from ipai_core.apps.runtime import open_app
    from ipai_core.devops import health as devops_health
    from ipai_core.features.embeddings import embedder_from_settings
    from ipai_core.features.search import similar
    from ipai_core.genie.answer import GenieAnswer
    from ipai_core.genie.service import Genie
    from ipai_core.quality import board as data_quality

# name -> module that defines it, imported on first access (PEP 562)
_LAZY: dict[str, str] = {
    "AppContext": "ipai_core.apps.context",
    "open_app": "ipai_core.apps.runtime",
    "Genie": "ipai_core.genie.service",
    "GenieAnswer": "ipai_core.genie.answer",
    "embedder_from_settings": "ipai_core.features.embeddings",
    "similar": "ipai_core.features.search",
}
# name -> module exported whole: read functions pages call, e.g. `devops_health.ci_status`
_LAZY_MODULES: dict[str, str] = {
    "devops_health": "ipai_core.devops.health",
    "data_quality": "ipai_core.quality.board",
    "finance": "ipai_core.finance",
}

__all__ = [
    "AccessDenied",
    "AppContext",
    "AuthError",
    "CheckFailed",
    "ConfigError",
    "DatabaseError",
    "Genie",
    "GenieAnswer",
    "InvalidCredentials",
    "InvalidToken",
    "IpaiError",
    "Lakehouse",
    "NotFound",
    "Principal",
    "ScopedSession",
    "Settings",
    "data_quality",
    "devops_health",
    "embedder_from_settings",
    "finance",
    "get_settings",
    "open_app",
    "similar",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        value: Any = importlib.import_module(_LAZY_MODULES[name])
    elif name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    else:
        raise AttributeError(f"module 'ipai_core' has no attribute {name!r}")
    globals()[name] = value
    return value
