-- User management through functions, so it works on `auth.users` as Supabase defines it: there
-- `service_role` has no grant on the table and `id` has no default, and older versions lack
-- `deleted_at`, `banned_until`, `is_anonymous` (our shim has them all). These functions run as
-- their owner (the migration role: `postgres` on Supabase, which has ALL on the auth tables),
-- generate ids with gen_random_uuid(), read optional columns through to_jsonb(row) and write
-- only the columns the table has. Only `service_role` may call them (`ipai users …` and the
-- Users admin page, whose sessions carry the admin's id, so audit entries name who acted).
-- Each change is audited here, where it cannot be skipped.

-- Helpers (callable by their owner only).

CREATE OR REPLACE FUNCTION public.ipai_auth_user_is_active(p_user jsonb) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, public AS $$
  SELECT p_user IS NOT NULL
     AND (p_user ->> 'deleted_at') IS NULL
     AND coalesce((p_user ->> 'banned_until')::timestamptz < now(), true)
$$;
COMMENT ON FUNCTION public.ipai_auth_user_is_active(jsonb) IS
  'An auth.users row (as jsonb) that may sign in: not soft-deleted, not banned (columns optional).';

CREATE OR REPLACE FUNCTION public.ipai_user_claims(p_user uuid) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, public AS $$
  SELECT jsonb_build_object(
           'id', u.id,
           'email', u.email,
           'roles', CASE WHEN jsonb_typeof(u.raw_app_meta_data -> 'roles') = 'array'
                         THEN u.raw_app_meta_data -> 'roles' ELSE '[]'::jsonb END,
           'company_ids', coalesce(
             (SELECT jsonb_agg(c.company_id ORDER BY c.company_id)
                FROM public.ipai_user_company c WHERE c.user_id = u.id),
             CASE WHEN jsonb_typeof(u.raw_app_meta_data -> 'company_ids') = 'array'
                  THEN u.raw_app_meta_data -> 'company_ids' END,
             'null'::jsonb),
           'generation', coalesce((SELECT g.generation FROM public.ipai_user_token_generation g
                                    WHERE g.user_id = u.id), 0),
           'generation_changed_at', (SELECT extract(epoch FROM g.changed_at)
                                       FROM public.ipai_user_token_generation g
                                      WHERE g.user_id = u.id),
           'active', public.ipai_auth_user_is_active(to_jsonb(u)))
    FROM auth.users u WHERE u.id = p_user
$$;
COMMENT ON FUNCTION public.ipai_user_claims(uuid) IS
  'What a token of this user carries now: e-mail, roles, company_ids (table rows, else '
  'app_metadata; null = every company), token generation, and whether the account is active.';

CREATE OR REPLACE FUNCTION public.ipai_user_locked(p_user uuid) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
  PERFORM 1 FROM auth.users u WHERE u.id = p_user FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no user with id `%`', p_user
      USING ERRCODE = 'no_data_found', HINT = 'List users with `ipai users list`.';
  END IF;
  RETURN public.ipai_user_claims(p_user);
END
$$;
COMMENT ON FUNCTION public.ipai_user_locked(uuid) IS
  'Locks a user''s row for a change and returns its claims; raises no_data_found when absent.';

CREATE OR REPLACE FUNCTION public.ipai_user_set_app_metadata(p_user uuid, p_key text, p_value jsonb)
RETURNS void
LANGUAGE sql SET search_path = pg_catalog, public AS $$
  UPDATE auth.users
     SET raw_app_meta_data = CASE WHEN p_value IS NULL OR p_value = 'null'::jsonb
                                  THEN coalesce(raw_app_meta_data, '{}'::jsonb) - p_key
                                  ELSE coalesce(raw_app_meta_data, '{}'::jsonb)
                                       || jsonb_build_object(p_key, p_value) END,
         updated_at = now()
   WHERE id = p_user
$$;
COMMENT ON FUNCTION public.ipai_user_set_app_metadata(uuid, text, jsonb) IS
  'Sets (or with NULL removes) one key of a user''s app_metadata, as Supabase Auth keeps it.';

CREATE OR REPLACE FUNCTION public.ipai_check_role_names(p_roles text[]) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, public AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM unnest(p_roles) r WHERE r IS NULL OR r !~ '^[a-z][a-z0-9_]{0,62}$') THEN
    RAISE EXCEPTION 'role names must be lower_snake_case (got `%`)', array_to_string(p_roles, ', ')
      USING ERRCODE = 'invalid_parameter_value', HINT = 'For example finance or admin.';
  END IF;
  RETURN ARRAY(SELECT DISTINCT r FROM unnest(p_roles) r ORDER BY 1);
END
$$;
COMMENT ON FUNCTION public.ipai_check_role_names(text[]) IS
  'Application role names, checked (lower_snake_case), de-duplicated and sorted.';

-- Reads.

CREATE OR REPLACE FUNCTION public.ipai_users(p_email text DEFAULT NULL)
RETURNS TABLE (id uuid, email text, roles jsonb, company_ids jsonb, created_at timestamptz,
               last_sign_in_at timestamptz, has_password boolean, active boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  SELECT u.id, u.email::text, c -> 'roles', c -> 'company_ids', u.created_at, u.last_sign_in_at,
         EXISTS (SELECT 1 FROM public.ipai_local_credential l WHERE l.user_id = u.id),
         (c ->> 'active')::boolean
    FROM auth.users u CROSS JOIN LATERAL public.ipai_user_claims(u.id) c
   WHERE p_email IS NULL OR lower(u.email) = lower(btrim(p_email))
   ORDER BY u.email, u.id
$$;
COMMENT ON FUNCTION public.ipai_users(text) IS
  'Users with roles, company scope, password and status (all, or the one with this e-mail).';

CREATE OR REPLACE FUNCTION public.ipai_user_for_sign_in(p_email text) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  SELECT c FROM auth.users u CROSS JOIN LATERAL public.ipai_user_claims(u.id) c
   WHERE lower(u.email) = lower(btrim(p_email)) AND (c ->> 'active')::boolean
   ORDER BY u.created_at NULLS LAST, u.id
   LIMIT 1
$$;
COMMENT ON FUNCTION public.ipai_user_for_sign_in(text) IS
  'Claims of the active account with this e-mail, or NULL (deleted, banned or unknown).';

CREATE OR REPLACE FUNCTION public.ipai_user_signed_in(p_user uuid, p_details jsonb DEFAULT '{}')
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
  UPDATE auth.users SET last_sign_in_at = now() WHERE id = p_user;
  PERFORM public.ipai_audit('auth', 'user', p_user, 'sign_in', coalesce(p_details, '{}'::jsonb));
  RETURN public.ipai_user_claims(p_user);
END
$$;
COMMENT ON FUNCTION public.ipai_user_signed_in(uuid, jsonb) IS
  'Records a sign-in (last_sign_in_at, audit entry) and returns what the new token carries.';

-- Changes.

CREATE OR REPLACE FUNCTION public.ipai_user_create(p_email text, p_roles text[]) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  v_id uuid := gen_random_uuid();
  v_email text := lower(btrim(p_email));
  v_roles text[] := public.ipai_check_role_names(coalesce(p_roles, '{}'));
  v_row jsonb;
  v_columns text;
  v_values text;
BEGIN
  IF v_email !~ '^[^@\s]+@[^@\s]+$' THEN
    RAISE EXCEPTION '`%` is not an email address', v_email USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM pg_advisory_xact_lock(hashtext('ipai_user_email'), hashtext(v_email));
  IF EXISTS (SELECT 1 FROM auth.users u WHERE lower(u.email) = v_email) THEN
    RAISE EXCEPTION 'a user `%` already exists', v_email
      USING ERRCODE = 'unique_violation',
            HINT = 'Use `ipai users grant` or `ipai users passwd` to change it.';
  END IF;
  -- Every column Supabase Auth (GoTrue) reads as a string is set, so its dashboard and admin API
  -- can list the account; keys naming a column this auth.users lacks are left out below.
  v_row := jsonb_build_object(
    'id', v_id, 'instance_id', '00000000-0000-0000-0000-000000000000',
    'aud', 'authenticated', 'role', 'authenticated', 'email', v_email,
    'raw_app_meta_data', jsonb_build_object('provider', 'ipai', 'providers', jsonb_build_array('ipai'),
                                            'roles', to_jsonb(v_roles)),
    'raw_user_meta_data', '{}'::jsonb,
    'email_confirmed_at', now(), 'created_at', now(), 'updated_at', now(),
    'confirmation_token', '', 'recovery_token', '', 'email_change', '',
    'email_change_token_new', '', 'email_change_token_current', '', 'phone_change', '',
    'phone_change_token', '', 'reauthentication_token', '',
    'is_sso_user', false, 'is_anonymous', false);
  SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum),
         string_agg('r.' || quote_ident(a.attname), ', ' ORDER BY a.attnum)
    INTO v_columns, v_values
    FROM pg_attribute a
   WHERE a.attrelid = 'auth.users'::regclass AND a.attnum > 0 AND NOT a.attisdropped
     AND a.attgenerated = '' AND v_row ? a.attname::text;
  EXECUTE format('INSERT INTO auth.users (%s) SELECT %s FROM jsonb_populate_record(NULL::auth.users, $1) r',
                 v_columns, v_values)
    USING v_row;
  PERFORM public.ipai_audit('auth', 'user', v_id, 'user_created',
                            jsonb_build_object('email', v_email, 'roles', to_jsonb(v_roles)));
  RETURN v_id;
END
$$;
COMMENT ON FUNCTION public.ipai_user_create(text, text[]) IS
  'Creates a user in auth.users with an explicit id and these application roles; refuses an '
  'e-mail that exists (unique_violation).';

CREATE OR REPLACE FUNCTION public.ipai_user_grant_roles(p_user uuid, p_roles text[]) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  v_user jsonb := public.ipai_user_locked(p_user);
  v_changed text[] := public.ipai_check_role_names(coalesce(p_roles, '{}'));
  v_now text[];
BEGIN
  v_now := ARRAY(SELECT DISTINCT r FROM (
                   SELECT jsonb_array_elements_text(v_user -> 'roles') UNION ALL
                   SELECT unnest(v_changed)) x(r) ORDER BY 1);
  PERFORM public.ipai_user_set_app_metadata(p_user, 'roles', to_jsonb(v_now));
  PERFORM public.ipai_audit('auth', 'user', p_user, 'roles_granted',
    jsonb_build_object('email', v_user ->> 'email', 'roles', to_jsonb(v_changed), 'now', to_jsonb(v_now)));
  RETURN public.ipai_user_claims(p_user);
END
$$;
COMMENT ON FUNCTION public.ipai_user_grant_roles(uuid, text[]) IS
  'Adds application roles to a user (effective at the user''s next request); audited.';

CREATE OR REPLACE FUNCTION public.ipai_user_revoke_roles(p_user uuid, p_roles text[]) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  v_user jsonb := public.ipai_user_locked(p_user);
  v_changed text[] := public.ipai_check_role_names(coalesce(p_roles, '{}'));
  v_now text[];
BEGIN
  v_now := ARRAY(SELECT r FROM jsonb_array_elements_text(v_user -> 'roles') r
                  WHERE r <> ALL (v_changed) ORDER BY 1);
  PERFORM public.ipai_user_set_app_metadata(p_user, 'roles', to_jsonb(v_now));
  PERFORM public.ipai_audit('auth', 'user', p_user, 'roles_revoked',
    jsonb_build_object('email', v_user ->> 'email', 'roles', to_jsonb(v_changed), 'now', to_jsonb(v_now)));
  RETURN public.ipai_user_claims(p_user);
END
$$;
COMMENT ON FUNCTION public.ipai_user_revoke_roles(uuid, text[]) IS
  'Removes application roles from a user (effective at the user''s next request); audited.';

-- The company scope is written as a whole: rows (with who granted them) and the app_metadata copy.
CREATE OR REPLACE FUNCTION public.ipai_user_store_companies(p_user uuid, p_companies bigint[])
RETURNS void
LANGUAGE sql SET search_path = pg_catalog, public AS $$
  DELETE FROM public.ipai_user_company
   WHERE user_id = p_user AND company_id <> ALL (coalesce(p_companies, '{}'));
  INSERT INTO public.ipai_user_company (user_id, company_id, granted_by)
  SELECT p_user, c, auth.uid() FROM unnest(p_companies) c
  ON CONFLICT (user_id, company_id) DO NOTHING;
  SELECT public.ipai_user_set_app_metadata(
    p_user, 'company_ids',
    CASE WHEN cardinality(p_companies) > 0 THEN to_jsonb(p_companies) END);
$$;
COMMENT ON FUNCTION public.ipai_user_store_companies(uuid, bigint[]) IS
  'Makes a user''s company rows (and app_metadata.company_ids) exactly this list; empty: no scope.';

CREATE OR REPLACE FUNCTION public.ipai_user_grant_companies(p_user uuid, p_companies bigint[])
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  v_user jsonb := public.ipai_user_locked(p_user);
  v_unknown bigint[];
  v_now bigint[];
BEGIN
  IF coalesce(cardinality(p_companies), 0) = 0 THEN
    RAISE EXCEPTION 'name at least one company id to grant' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  v_unknown := ARRAY(SELECT DISTINCT c FROM unnest(p_companies) c
                      WHERE c IS NULL OR NOT EXISTS (
                        SELECT 1 FROM ipai_bronze_erp.res_company r
                         WHERE r.id = c AND NOT r._ipai_deleted)
                      ORDER BY 1);
  IF cardinality(v_unknown) > 0 THEN
    RAISE EXCEPTION 'no ERP company `%`; known companies: %', array_to_string(v_unknown, ', ', 'NULL'),
      coalesce((SELECT string_agg(format('%s (%s)', r.id, r.name), ', ' ORDER BY r.id)
                  FROM ipai_bronze_erp.res_company r WHERE NOT r._ipai_deleted), 'none yet')
      USING ERRCODE = 'no_data_found',
            HINT = 'Companies appear once the ERP connector has synced them (`ipai connectors run`).';
  END IF;
  v_now := ARRAY(SELECT DISTINCT c FROM (
                   SELECT (jsonb_array_elements_text(CASE WHEN jsonb_typeof(v_user -> 'company_ids') = 'array'
                                                          THEN v_user -> 'company_ids' ELSE '[]' END))::bigint
                   UNION ALL SELECT unnest(p_companies)) x(c) ORDER BY 1);
  PERFORM public.ipai_user_store_companies(p_user, v_now);
  PERFORM public.ipai_audit('auth', 'user', p_user, 'companies_granted',
    jsonb_build_object('email', v_user ->> 'email', 'company_ids', to_jsonb(p_companies),
                       'now', to_jsonb(v_now)));
  RETURN public.ipai_user_claims(p_user);
END
$$;
COMMENT ON FUNCTION public.ipai_user_grant_companies(uuid, bigint[]) IS
  'Adds ERP companies to a user''s scope (a user without a scope is limited to them from now on); '
  'refuses unknown company ids; audited.';

CREATE OR REPLACE FUNCTION public.ipai_user_revoke_companies(p_user uuid, p_companies bigint[])
RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  v_user jsonb := public.ipai_user_locked(p_user);
  v_had bigint[];
  v_now bigint[];
BEGIN
  IF jsonb_typeof(v_user -> 'company_ids') <> 'array' THEN
    RAISE EXCEPTION 'user `%` has no company scope: they see every company their roles allow',
      v_user ->> 'email'
      USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Limit them with `ipai users grant-company EMAIL COMPANY_ID`, or revoke the finance role.';
  END IF;
  v_had := ARRAY(SELECT (jsonb_array_elements_text(v_user -> 'company_ids'))::bigint);
  IF p_companies IS NULL THEN
    v_now := '{}';  -- the whole scope is lifted, on purpose
  ELSE
    v_now := ARRAY(SELECT c FROM unnest(v_had) c WHERE c <> ALL (p_companies) ORDER BY 1);
    IF cardinality(v_now) = 0 THEN
      RAISE EXCEPTION 'revoking the last company of `%` would let them see every company their roles allow',
        v_user ->> 'email'
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Grant the company they should see first, revoke the finance role instead, '
                     'or lift the scope on purpose with `ipai users revoke-company EMAIL --all`.';
    END IF;
  END IF;
  PERFORM public.ipai_user_store_companies(p_user, v_now);
  PERFORM public.ipai_audit('auth', 'user', p_user, 'companies_revoked',
    jsonb_build_object('email', v_user ->> 'email',
                       'company_ids', coalesce(to_jsonb(p_companies), to_jsonb(v_had)),
                       'now', CASE WHEN cardinality(v_now) > 0 THEN to_jsonb(v_now) END));
  RETURN public.ipai_user_claims(p_user);
END
$$;
COMMENT ON FUNCTION public.ipai_user_revoke_companies(uuid, bigint[]) IS
  'Removes ERP companies from a user''s scope (NULL: lifts the whole scope); refuses to remove '
  'the last one implicitly, which would widen access; audited.';

CREATE OR REPLACE FUNCTION public.ipai_user_revoke_sessions(p_user uuid, p_reason text DEFAULT 'sign_out_everywhere')
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  v_user jsonb := public.ipai_user_locked(p_user);
  v_generation bigint;
BEGIN
  INSERT INTO public.ipai_user_token_generation AS g (user_id, generation, changed_at)
  VALUES (p_user, 1, now())
  ON CONFLICT (user_id) DO UPDATE SET generation = g.generation + 1, changed_at = now()
  RETURNING g.generation INTO v_generation;
  PERFORM public.ipai_audit('auth', 'user', p_user, 'sessions_revoked',
    jsonb_build_object('email', v_user ->> 'email', 'reason', p_reason, 'generation', v_generation));
  RETURN v_generation;
END
$$;
COMMENT ON FUNCTION public.ipai_user_revoke_sessions(uuid, text) IS
  'Ends every session of a user: tokens issued before are refused at their next request; audited.';

CREATE OR REPLACE FUNCTION public.ipai_user_delete(p_user uuid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
  v_user jsonb := public.ipai_user_locked(p_user);
BEGIN
  PERFORM public.ipai_audit('auth', 'user', p_user, 'user_deleted',
    jsonb_build_object('email', v_user ->> 'email', 'roles', v_user -> 'roles',
                       'company_ids', v_user -> 'company_ids'));
  DELETE FROM auth.users WHERE id = p_user;  -- credentials, scopes, generation: ON DELETE CASCADE
END
$$;
COMMENT ON FUNCTION public.ipai_user_delete(uuid) IS
  'Deletes a user from auth.users (their tokens are refused from the next request on); audited.';

DO $$
DECLARE
  fn text;
BEGIN
  FOREACH fn IN ARRAY ARRAY[
    'public.ipai_auth_user_is_active(jsonb)', 'public.ipai_user_claims(uuid)',
    'public.ipai_user_locked(uuid)', 'public.ipai_user_set_app_metadata(uuid, text, jsonb)',
    'public.ipai_check_role_names(text[])', 'public.ipai_user_store_companies(uuid, bigint[])']
  LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', fn);
  END LOOP;
  FOREACH fn IN ARRAY ARRAY[
    'public.ipai_users(text)', 'public.ipai_user_for_sign_in(text)',
    'public.ipai_user_signed_in(uuid, jsonb)', 'public.ipai_user_create(text, text[])',
    'public.ipai_user_grant_roles(uuid, text[])', 'public.ipai_user_revoke_roles(uuid, text[])',
    'public.ipai_user_grant_companies(uuid, bigint[])',
    'public.ipai_user_revoke_companies(uuid, bigint[])',
    'public.ipai_user_revoke_sessions(uuid, text)', 'public.ipai_user_delete(uuid)']
  LOOP
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC, anon, authenticated', fn);
    EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO service_role', fn);
  END LOOP;
END
$$;
