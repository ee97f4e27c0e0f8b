-- The privileged pieces of the schema: event triggers, which only a superuser may create. Applied
-- after every migration by `ipai migrate` with the embedded server's superuser, or tried with the
-- configured role elsewhere (skipped with one warning where it may not). Each trigger calls a
-- function its migration defines; creating them again is harmless.

DROP EVENT TRIGGER IF EXISTS ipai_audit_ddl;
CREATE EVENT TRIGGER ipai_audit_ddl ON ddl_command_end EXECUTE FUNCTION public.ipai_audit_ddl();

DROP EVENT TRIGGER IF EXISTS ipai_audit_drop;
CREATE EVENT TRIGGER ipai_audit_drop ON sql_drop EXECUTE FUNCTION public.ipai_audit_drop();

DROP EVENT TRIGGER IF EXISTS ipai_agent_sync_after_ddl;
CREATE EVENT TRIGGER ipai_agent_sync_after_ddl ON ddl_command_end
  WHEN TAG IN ('CREATE SCHEMA', 'CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO', 'CREATE VIEW',
               'CREATE MATERIALIZED VIEW', 'CREATE FOREIGN TABLE', 'CREATE SEQUENCE',
               'CREATE FUNCTION', 'CREATE PROCEDURE', 'ALTER TABLE', 'ALTER VIEW',
               'ALTER MATERIALIZED VIEW', 'ALTER FUNCTION', 'CREATE POLICY', 'ALTER POLICY',
               'GRANT', 'REVOKE')
  EXECUTE FUNCTION public.ipai_agent_sync_after_ddl();

DROP EVENT TRIGGER IF EXISTS ipai_bi_sync_after_ddl;
CREATE EVENT TRIGGER ipai_bi_sync_after_ddl ON ddl_command_end
  WHEN TAG IN ('CREATE SCHEMA', 'CREATE TABLE', 'CREATE TABLE AS', 'CREATE VIEW',
               'CREATE MATERIALIZED VIEW', 'CREATE FOREIGN TABLE', 'CREATE FUNCTION',
               'ALTER TABLE', 'ALTER VIEW', 'ALTER MATERIALIZED VIEW', 'ALTER FUNCTION',
               'CREATE POLICY', 'ALTER POLICY', 'GRANT', 'REVOKE')
  EXECUTE FUNCTION public.ipai_bi_sync_after_ddl();
