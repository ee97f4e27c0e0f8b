"""The catalog: which schemas, tables, views and materialized views exist, what they are for,
whether RLS guards them, and how many rows the asking user can see."""
