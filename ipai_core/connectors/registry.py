"""The connector registry: `connector_type` → connector class. Refuses duplicates; an unknown
type lists the known ones."""

from __future__ import annotations

import importlib
from typing import Any

from ipai_core.connectors.base import Connector
from ipai_core.errors import ConfigError

# Built-in connectors, imported on first lookup so that importing ipai_core stays cheap.
BUILTIN_MODULES = (
    "ipai_core.connectors.files",
    "ipai_core.connectors.postgres",
    "ipai_core.connectors.postgres_fdw",
    "ipai_core.connectors.mysql",
    "ipai_core.connectors.github",
    "ipai_core.connectors.events",
    "ipai_core.connectors.odoo",
)

_registry: dict[str, type[Connector[Any]]] = {}
_builtins_loaded = False


def register(cls: type[Connector[Any]]) -> type[Connector[Any]]:
    """Class decorator: `@register` on a Connector subclass with a unique `connector_type`."""
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise TypeError(f"`{cls!r}` is not a Connector subclass")
    name = getattr(cls, "connector_type", None)
    if not name:
        raise TypeError(f"`{cls.__name__}` must set `connector_type`")
    existing = _registry.get(name)
    if existing is not None and existing is not cls:
        raise ConfigError(
            f"connector type `{name}` is already registered by `{existing.__module__}."
            f"{existing.__name__}`; choose another connector_type"
        )
    _registry[name] = cls
    return cls


def connector_class(connector_type: str) -> type[Connector[Any]]:
    _load_builtins()
    try:
        return _registry[connector_type]
    except KeyError:
        raise ConfigError(
            f"unknown connector type `{connector_type}`; known types: {', '.join(known_types())}"
        ) from None


def known_types() -> list[str]:
    _load_builtins()
    return sorted(_registry)


def _load_builtins() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    for module in BUILTIN_MODULES:
        importlib.import_module(module)
    _builtins_loaded = True
