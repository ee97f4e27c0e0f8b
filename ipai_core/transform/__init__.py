"""Transformations: materialized views refreshed in dependency order (read from the database's
own catalog), concurrently where a unique index allows, after the connector runs that feed them."""
