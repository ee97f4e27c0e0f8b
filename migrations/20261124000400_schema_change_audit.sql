-- ipai:replaces-checksum d145b604b56b613e5c28b870858bd8f560dd9ba76f8bb2601a4f8d3bce8b9a9a
-- Every DDL statement is audited as a `schema_change` (PRD R5.4), by an event trigger, so nothing
-- depends on the tool that ran it: migrations, connectors adding a drifted column, or a human in psql.

CREATE OR REPLACE FUNCTION public.ipai_audit_ddl() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  cmd record;
BEGIN
  FOR cmd IN SELECT * FROM pg_event_trigger_ddl_commands()
  LOOP
    -- Temporary objects are session scratch space, not schema changes.
    CONTINUE WHEN cmd.schema_name IS NOT NULL AND cmd.schema_name LIKE 'pg_temp%';
    PERFORM public.ipai_audit(
      'schema_change', lower(cmd.object_type), NULL, cmd.command_tag,
      jsonb_build_object(
        'object_identity', cmd.object_identity,
        'schema', cmd.schema_name,
        'in_extension', cmd.in_extension,
        'session_user', session_user
      )
    );
  END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION public.ipai_audit_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  obj record;
BEGIN
  FOR obj IN SELECT * FROM pg_event_trigger_dropped_objects()
  LOOP
    CONTINUE WHEN NOT obj.original OR obj.is_temporary;
    PERFORM public.ipai_audit(
      'schema_change', lower(obj.object_type), NULL, tg_tag,
      jsonb_build_object(
        'object_identity', obj.object_identity,
        'schema', obj.schema_name,
        'session_user', session_user
      )
    );
  END LOOP;
END
$$;

-- The event triggers that call these are created by `ipai_core/migrate/privileged.sql`, applied
-- after the migrations by a role allowed to (a superuser): Supabase's `postgres` and other
-- non-superuser owners may not create event triggers, and a migration must apply there whole.

COMMENT ON FUNCTION public.ipai_audit_ddl() IS 'Event trigger: records each DDL command in ipai_audit_log.';
COMMENT ON FUNCTION public.ipai_audit_drop() IS 'Event trigger: records each dropped object in ipai_audit_log.';
