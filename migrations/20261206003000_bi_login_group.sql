-- BI credentials (issue 16, point 5): a BI tool (Superset, Metabase, …) signs in to Postgres
-- directly with a login role of its own, `ipai_bi_<name>`, one per credential and so one per
-- person. Every such login is an INHERIT member of the group role created here, `ipai_bi`, which
-- holds what all of them may do and nothing more:
--
--   * USAGE on the `ipai_gold_*` / `ipai_platinum_*` schemas, SELECT there on what signed-in users
--     may read (so the private materialized views behind guarded gold views stay private), and
--     EXECUTE on the non-volatile functions there that users may call — derived by
--     `public.ipai_bi_sync()` (20261206003030); no table in `public` (the control plane), nothing
--     in `auth`, bronze or silver;
--   * EXECUTE on the access helpers the guarded views and policies call (below).
--
-- Rows are filtered as that person: for a BI session the helpers ignore `request.jwt.claims`
-- (a BI session can set it itself) and read the person's current roles from `auth.users`
-- through `public.ipai_bi_credential` keyed by `session_user` (20261206003020).
--
-- The owner (who runs migrations, CREATEROLE) creates the group, so it holds ADMIN OPTION on it
-- and can grant it to the login roles it creates; being an admin of the group is also what tells
-- an owner's (or a superuser's) session apart from a BI login's.

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'ipai_bi') THEN
    CREATE ROLE ipai_bi NOLOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
  END IF;
  -- PostgreSQL 15 gives a role's creator no ADMIN OPTION on it: take it explicitly.
  IF NOT pg_has_role(current_user, 'ipai_bi', 'MEMBER WITH ADMIN OPTION') THEN
    BEGIN
      EXECUTE format('GRANT ipai_bi TO %I WITH ADMIN OPTION', current_user);
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE WARNING 'role % has no ADMIN OPTION on ipai_bi: `ipai bi credentials add` will fail '
        'until a superuser runs GRANT ipai_bi TO % WITH ADMIN OPTION', current_user, current_user;
    END;
  END IF;
END
$$;
COMMENT ON ROLE ipai_bi IS
  'Group of the ipai_bi_<name> BI logins: read-only gold and platinum, rows as the credential''s person.';

-- What guarded gold views and RLS policies call while a BI login reads them; USAGE on `public`
-- to name them (an inlined SQL helper is resolved with the caller's rights), which gives no table
-- there. Nothing in schema `auth`: a BI session cannot call auth.uid() or auth.jwt(), whose
-- answers it could forge, so an object that trusted them directly would fail loudly for it.
GRANT USAGE ON SCHEMA public TO ipai_bi;
GRANT EXECUTE ON FUNCTION public.ipai_app_roles(), public.ipai_has_role(text),
  public.ipai_has_any_role(text[]), public.ipai_company_allowed(bigint) TO ipai_bi;
