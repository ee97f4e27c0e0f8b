-- Every edit of a semantic model leaves an audit entry (issue 16): an INSERT, UPDATE or DELETE on
-- public.ipai_semantic_model writes one row through public.ipai_audit, which stamps who did it
-- (auth.uid() and the JWT role, or the database user when there is no JWT). The details say what
-- changed: the new row, the old and new value of each changed column, or the deleted row. An
-- UPDATE that changes nothing but updated_at writes nothing. TRUNCATE (the service role may) is
-- recorded too. Event type `schema_change`, entity type `semantic_model`, entity id the model's id.

CREATE OR REPLACE FUNCTION public.ipai_semantic_model_audit() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $fn$
DECLARE
  before jsonb;
  after jsonb;
  changed jsonb := '{}'::jsonb;
  column_name text;
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    PERFORM public.ipai_audit('schema_change', 'semantic_model', NULL, 'truncated', '{}'::jsonb);
  ELSIF TG_OP = 'INSERT' THEN
    PERFORM public.ipai_audit('schema_change', 'semantic_model', NEW.id, 'created',
      jsonb_build_object('dataset', NEW.dataset,
                         'new', to_jsonb(NEW) - 'created_at' - 'updated_at'));
  ELSIF TG_OP = 'UPDATE' THEN
    before := to_jsonb(OLD) - 'updated_at';
    after := to_jsonb(NEW) - 'updated_at';
    FOR column_name IN SELECT jsonb_object_keys(after) LOOP
      IF before -> column_name IS DISTINCT FROM after -> column_name THEN
        changed := changed || jsonb_build_object(column_name, jsonb_build_object(
          'old', before -> column_name, 'new', after -> column_name));
      END IF;
    END LOOP;
    IF changed <> '{}'::jsonb THEN
      PERFORM public.ipai_audit('schema_change', 'semantic_model', NEW.id, 'updated',
        jsonb_build_object('dataset', NEW.dataset, 'changed', changed));
    END IF;
  ELSE
    PERFORM public.ipai_audit('schema_change', 'semantic_model', OLD.id, 'deleted',
      jsonb_build_object('dataset', OLD.dataset,
                         'old', to_jsonb(OLD) - 'created_at' - 'updated_at'));
  END IF;
  RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION public.ipai_semantic_model_audit() IS
  'AFTER trigger of ipai_semantic_model: one ipai_audit entry (schema_change / semantic_model) '
  'per created, updated or deleted model, with what changed; one per TRUNCATE.';

DROP TRIGGER IF EXISTS semantic_model_audit ON public.ipai_semantic_model;
CREATE TRIGGER semantic_model_audit AFTER INSERT OR UPDATE OR DELETE ON public.ipai_semantic_model
  FOR EACH ROW EXECUTE FUNCTION public.ipai_semantic_model_audit();
DROP TRIGGER IF EXISTS semantic_model_audit_truncate ON public.ipai_semantic_model;
CREATE TRIGGER semantic_model_audit_truncate AFTER TRUNCATE ON public.ipai_semantic_model
  FOR EACH STATEMENT EXECUTE FUNCTION public.ipai_semantic_model_audit();
