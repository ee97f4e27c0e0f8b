"""Test-only sources and servers (real implementations of our seams, never mocks of Postgres)."""
