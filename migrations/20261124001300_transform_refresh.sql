-- Materialized views are owned by the migration role; the transformation runner (service_role)
-- refreshes them through this function, which accepts only materialized views of the lakehouse.

CREATE OR REPLACE FUNCTION public.ipai_refresh_materialized_view(p_view regclass, p_concurrently boolean)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  v_schema text;
BEGIN
  SELECT n.nspname INTO v_schema
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.oid = p_view AND c.relkind = 'm';
  IF v_schema IS NULL OR v_schema !~ '^ipai_(silver|gold|platinum)_' THEN
    RAISE EXCEPTION 'ipai_refresh_materialized_view: % is not a lakehouse materialized view', p_view
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF p_concurrently THEN
    EXECUTE format('REFRESH MATERIALIZED VIEW CONCURRENTLY %s', p_view);
  ELSE
    EXECUTE format('REFRESH MATERIALIZED VIEW %s', p_view);
  END IF;
END
$$;
COMMENT ON FUNCTION public.ipai_refresh_materialized_view(regclass, boolean) IS
  'Refresh one silver/gold/platinum materialized view (concurrently when it has a unique index).';
REVOKE ALL ON FUNCTION public.ipai_refresh_materialized_view(regclass, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.ipai_refresh_materialized_view(regclass, boolean) TO service_role;
