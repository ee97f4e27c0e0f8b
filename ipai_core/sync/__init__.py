"""The sync engine: turns a connector's Arrow batches into bronze rows — typing and quarantine,
COPY into Postgres, upserts and soft deletes, cursors committed with their data, run records."""
