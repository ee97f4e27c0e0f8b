-- Revocation that takes effect (issue 16, point 6): what makes a still-unexpired token useless.
--
--   * ipai_revoked_token: the deny list of signed-out tokens, keyed by the token's `jti` (or, for
--     a token without one, its `session_id`), kept until the token would have expired anyway;
--   * ipai_user_token_generation: a counter per user that `ipai users sign-out` (and a new
--     password) moves on; a token carrying an older `ipai_generation` is refused.
--
-- Both are read at every verification by `public.ipai_token_state()`
-- (20261206002300_token_state.sql) and written only through SECURITY DEFINER functions.

CREATE TABLE IF NOT EXISTS public.ipai_revoked_token (
    jti text PRIMARY KEY,
    user_id uuid,
    reason text NOT NULL,
    revoked_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_revoked_token_expires ON public.ipai_revoked_token(expires_at);
COMMENT ON TABLE public.ipai_revoked_token IS
  'Deny list of signed-out tokens (by jti); a row is pruned once its token has expired.';
COMMENT ON COLUMN public.ipai_revoked_token.jti IS 'The token''s `jti` claim (its `session_id` when it has no jti).';
COMMENT ON COLUMN public.ipai_revoked_token.user_id IS 'The token''s subject: a user, or an agent''s id.';
COMMENT ON COLUMN public.ipai_revoked_token.expires_at IS 'The token''s `exp`: after it the row is not needed.';

ALTER TABLE public.ipai_revoked_token ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.ipai_revoked_token FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON public.ipai_revoked_token TO authenticated, service_role;
DROP POLICY IF EXISTS revoked_token_read_admin ON public.ipai_revoked_token;
CREATE POLICY revoked_token_read_admin ON public.ipai_revoked_token
  FOR SELECT TO authenticated USING (public.ipai_has_role('admin'));
DROP POLICY IF EXISTS revoked_token_service_read ON public.ipai_revoked_token;
CREATE POLICY revoked_token_service_read ON public.ipai_revoked_token
  FOR SELECT TO service_role USING (true);

CREATE TABLE IF NOT EXISTS public.ipai_user_token_generation (
    user_id uuid PRIMARY KEY REFERENCES auth.users(id) ON DELETE CASCADE,
    generation bigint NOT NULL DEFAULT 0,
    changed_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE public.ipai_user_token_generation IS
  'Token generation per user (no row: 0). `ipai users sign-out` and a new password move it on, '
  'which ends every session of that user at its next request.';
COMMENT ON COLUMN public.ipai_user_token_generation.changed_at IS
  'When it last moved: a token without `ipai_generation` (e.g. from Supabase Auth) issued '
  'before this is refused.';

ALTER TABLE public.ipai_user_token_generation ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.ipai_user_token_generation FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON public.ipai_user_token_generation TO authenticated, service_role;
DROP POLICY IF EXISTS token_generation_read_own_or_admin ON public.ipai_user_token_generation;
CREATE POLICY token_generation_read_own_or_admin ON public.ipai_user_token_generation
  FOR SELECT TO authenticated
  USING (user_id = auth.uid() OR public.ipai_has_role('admin'));
DROP POLICY IF EXISTS token_generation_service_read ON public.ipai_user_token_generation;
CREATE POLICY token_generation_service_read ON public.ipai_user_token_generation
  FOR SELECT TO service_role USING (true);
