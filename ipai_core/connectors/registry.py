"""The connector registry: `connector_type` → connector class. Refuses duplicates; an unknown
type lists the known ones."""

from __future__ import annotations

import importlib
from typing import Any

from ipai_core.connectors.base import Connector
from ipai_core.errors import ConfigError

# Built-in connector types and the module defining each, imported when that type is first used:
# a run of one connector does not pay for the others' imports (httpx, source drivers).
BUILTIN_MODULES = {
    "file": "ipai_core.connectors.files",
    "postgres": "ipai_core.connectors.postgres",
    "postgres_fdw": "ipai_core.connectors.postgres_fdw",
    "mysql": "ipai_core.connectors.mysql",
    "github": "ipai_core.connectors.github",
    "events": "ipai_core.connectors.events",
    "odoo": "ipai_core.connectors.odoo",
}

_registry: dict[str, type[Connector[Any]]] = {}


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
    builtin = BUILTIN_MODULES.get(name)
    if builtin is not None and cls.__module__ != builtin:
        raise ConfigError(
            f"connector type `{name}` is the built-in one of `{builtin}`; choose another "
            "connector_type"
        )
    _registry[name] = cls
    return cls


def connector_class(connector_type: str) -> type[Connector[Any]]:
    if connector_type not in _registry and connector_type in BUILTIN_MODULES:
        importlib.import_module(BUILTIN_MODULES[connector_type])
    try:
        return _registry[connector_type]
    except KeyError:
        raise ConfigError(
            f"unknown connector type `{connector_type}`; known types: {', '.join(known_types())}"
        ) from None


def known_types() -> list[str]:
    return sorted({*BUILTIN_MODULES, *_registry})
