"""Schema migrations: the Supabase shim for plain PostgreSQL, the ordered SQL files in
`migrations/`, their checksummed history, and `migrate check` on a scratch database."""
