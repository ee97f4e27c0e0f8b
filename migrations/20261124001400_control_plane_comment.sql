-- The control plane lives in `public`, as Supabase expects; say so in the catalog.
COMMENT ON SCHEMA public IS
  'Control plane: connectors and runs, apps, agents, semantic models, vault, audit log.';
