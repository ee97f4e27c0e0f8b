"""Connectors: what a source is (`base`), which ones exist (`registry`), their stored
configurations (`store`) and the built-in ones (`files`, …). Running them is `ipai_core.sync`."""
