-- The access helpers, made safe for BI sessions. A BI tool holds a direct SQL session, so it can
-- `SET request.jwt.claims = '…'` itself: for it, claims are forgeable. The helpers therefore read
-- the claims of the request from one function, `ipai_request_claims()`:
--
--   * an ordinary session (a request's login role, the service login, the owner, a superuser)
--     gets the claims of `auth.jwt()` exactly as before — at the cost of two cached role-membership tests;
--   * a BI session — its `session_user`, which a non-superuser cannot change, is a member of
--     `ipai_bi` without being one of its admins — gets claims built from the tables instead: the
--     credential's person, that person's CURRENT roles (`auth.users.raw_app_meta_data.roles`)
--     and company scope, read live on each query, so role changes and revocation apply at once.
--
-- Same signatures as 20261124000200 and 20261124002300 (CREATE OR REPLACE); same answers for
-- ordinary sessions. `ipai_company_allowed` now reads the claims once per call instead of four
-- times.

-- True when this session signed in as a BI login (a superuser or the owner is an admin of
-- ipai_bi, so neither counts, although pg_has_role calls a superuser a member of every role).
CREATE OR REPLACE FUNCTION public.ipai_is_bi_session() RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT pg_has_role(session_user, 'ipai_bi', 'MEMBER')
     AND NOT pg_has_role(session_user, 'ipai_bi', 'MEMBER WITH ADMIN OPTION')
$$;
COMMENT ON FUNCTION public.ipai_is_bi_session() IS
  'True when session_user is a BI login (member of ipai_bi, not an admin of it).';

-- The claims a BI session runs under: its credential's person as a token of that person would
-- carry them now (`ipai_user_claims`, 20261206002200: current roles, company scope from
-- ipai_user_company else app_metadata, absent = every company). A revoked credential, a deleted
-- or banned person, or no credential at all: no roles.
CREATE OR REPLACE FUNCTION public.ipai_bi_claims() RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
  SELECT coalesce(
    (SELECT jsonb_build_object(
              'sub', u ->> 'id', 'email', u ->> 'email', 'role', 'authenticated',
              'aud', 'authenticated', 'ipai_bi_credential', c.name,
              'app_metadata',
                jsonb_build_object('roles', u -> 'roles')
                || CASE WHEN jsonb_typeof(u -> 'company_ids') = 'array'
                        THEN jsonb_build_object('company_ids', u -> 'company_ids')
                        ELSE '{}'::jsonb END)
       FROM public.ipai_bi_credential c
      CROSS JOIN LATERAL public.ipai_user_claims(c.user_id) AS u
      WHERE c.login_role = session_user AND c.revoked_at IS NULL
        AND coalesce((u ->> 'active')::boolean, false)),
    jsonb_build_object('role', 'ipai_bi', 'app_metadata', jsonb_build_object('roles', '[]'::jsonb)))
$$;
COMMENT ON FUNCTION public.ipai_bi_claims() IS
  'Claims of the calling BI login: its person''s id, email, current roles and company scope (no roles when revoked).';

-- For ordinary sessions this is auth.jwt() as Supabase (and our shim) define it, written out with
-- pg_catalog functions only: a BI login has no USAGE on schema `auth`, and an inlined SQL body is
-- resolved with the caller's rights.
CREATE OR REPLACE FUNCTION public.ipai_request_claims() RETURNS jsonb
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN public.ipai_is_bi_session() THEN public.ipai_bi_claims()
              ELSE coalesce(nullif(pg_catalog.current_setting('request.jwt.claim', true), ''),
                            nullif(pg_catalog.current_setting('request.jwt.claims', true), ''))::jsonb
         END
$$;
COMMENT ON FUNCTION public.ipai_request_claims() IS
  'Claims the access helpers test: those of auth.jwt(), or for a BI session its credential''s (request.jwt.claims ignored).';

CREATE OR REPLACE FUNCTION public.ipai_roles_of(claims jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(
    ARRAY(SELECT jsonb_array_elements_text(claims -> 'app_metadata' -> 'roles')),
    ARRAY[]::text[]
  )
$$;
COMMENT ON FUNCTION public.ipai_roles_of(jsonb) IS 'Application roles in a claims document (app_metadata.roles).';

CREATE OR REPLACE FUNCTION public.ipai_app_roles() RETURNS text[]
LANGUAGE sql STABLE AS $$
  SELECT public.ipai_roles_of(public.ipai_request_claims())
$$;
COMMENT ON FUNCTION public.ipai_app_roles() IS
  'Application roles of the current request (JWT app_metadata.roles; for a BI login, its person''s current roles).';

CREATE OR REPLACE FUNCTION public.ipai_company_allowed(p_company bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT 'admin' = ANY (r.roles)
      OR (r.roles && ARRAY['finance', 'auditor']
          AND (NOT coalesce(c.claims -> 'app_metadata' ? 'company_ids', false)
               OR p_company IN (SELECT jsonb_array_elements_text(
                                  c.claims -> 'app_metadata' -> 'company_ids')::bigint)))
    FROM (SELECT public.ipai_request_claims() AS claims) c
   CROSS JOIN LATERAL (SELECT public.ipai_roles_of(c.claims) AS roles) r
$$;
COMMENT ON FUNCTION public.ipai_company_allowed(bigint) IS
  'True when the request may see this company''s finance data (admin; finance/auditor, optionally limited by app_metadata.company_ids). For a BI login, from its person''s current record.';

-- Every role that may call the helpers must be able to execute what they call (Postgres checks
-- EXECUTE on each function of an expression, even a branch not taken), so these stay executable
-- by PUBLIC: none reveals more than the caller's own claims.
GRANT EXECUTE ON FUNCTION public.ipai_is_bi_session(), public.ipai_bi_claims(),
  public.ipai_request_claims(), public.ipai_roles_of(jsonb) TO PUBLIC;
