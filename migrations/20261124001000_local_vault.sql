-- The local vault (PRD R2.4): connector secrets encrypted by ipai itself with AES-256-GCM, for
-- databases without Supabase Vault. The key never reaches the database (IPAI_VAULT_KEY or a 0600
-- key file next to the embedded server); rows hold only a nonce, the ciphertext and the key's
-- fingerprint. On Supabase the table exists too but stays empty: ipai_core.vault then uses
-- vault.create_secret / vault.decrypted_secrets instead. Only the service role can touch it.

CREATE TABLE IF NOT EXISTS public.ipai_vault_secret (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    nonce BYTEA NOT NULL,
    ciphertext BYTEA NOT NULL,
    key_id TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT vault_secret_name_format
      CHECK (name ~ '^[a-z0-9][a-z0-9_.:/-]*$' AND char_length(name) <= 200),
    CONSTRAINT vault_secret_nonce_is_96_bits CHECK (octet_length(nonce) = 12),
    CONSTRAINT vault_secret_ciphertext_has_tag CHECK (octet_length(ciphertext) > 16)
);
COMMENT ON TABLE public.ipai_vault_secret IS
  'Local vault: secret values as AES-256-GCM ciphertext (never plaintext), encrypted outside the database; service role only.';
COMMENT ON COLUMN public.ipai_vault_secret.name IS
  'Reference used in connector configs (vault_secret_refs); also the AES-GCM associated data, so a ciphertext only decrypts under its own name.';
COMMENT ON COLUMN public.ipai_vault_secret.nonce IS 'Random 96-bit AES-GCM nonce, new for every write.';
COMMENT ON COLUMN public.ipai_vault_secret.ciphertext IS 'AES-256-GCM ciphertext followed by its 128-bit tag.';
COMMENT ON COLUMN public.ipai_vault_secret.key_id IS
  'Fingerprint of the key that encrypted the value (not the key), to name a key mismatch.';

DROP TRIGGER IF EXISTS touch_updated_at ON public.ipai_vault_secret;
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON public.ipai_vault_secret
  FOR EACH ROW EXECUTE FUNCTION public.ipai_touch_updated_at();

ALTER TABLE public.ipai_vault_secret ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.ipai_vault_secret FROM PUBLIC, anon, authenticated;
GRANT ALL ON public.ipai_vault_secret TO service_role;
DROP POLICY IF EXISTS vault_secret_service ON public.ipai_vault_secret;
CREATE POLICY vault_secret_service ON public.ipai_vault_secret FOR ALL TO service_role
  USING (true) WITH CHECK (true);
