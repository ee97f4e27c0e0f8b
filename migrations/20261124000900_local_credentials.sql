-- Passwords of local users (signed in by ipai itself, not by Supabase Auth). Identities stay in
-- auth.users, exactly where Supabase keeps them; this table only holds the scrypt hash, and only
-- the service role can touch it.

CREATE TABLE IF NOT EXISTS public.ipai_local_credential (
    user_id UUID PRIMARY KEY REFERENCES auth.users(id) ON DELETE CASCADE,
    password_hash TEXT NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until TIMESTAMPTZ,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT password_hash_is_scrypt CHECK (password_hash LIKE 'scrypt$%')
);
COMMENT ON TABLE public.ipai_local_credential IS 'Password hashes (scrypt) of local users; service role only.';

DROP TRIGGER IF EXISTS touch_updated_at ON public.ipai_local_credential;
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON public.ipai_local_credential
  FOR EACH ROW EXECUTE FUNCTION public.ipai_touch_updated_at();

ALTER TABLE public.ipai_local_credential ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.ipai_local_credential FROM PUBLIC, anon, authenticated;
GRANT ALL ON public.ipai_local_credential TO service_role;
CREATE POLICY local_credential_service ON public.ipai_local_credential FOR ALL TO service_role
  USING (true) WITH CHECK (true);
