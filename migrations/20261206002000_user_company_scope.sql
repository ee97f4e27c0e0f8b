-- Company scopes as data (issue 16, point 4): the ERP companies whose finance data a person may
-- see. A user without rows keeps the old meaning: every company their roles allow
-- (`public.ipai_company_allowed`). The rows are written only by the user-management functions
-- (20261206002200_user_admin_functions.sql), which audit each change, mirror the list into
-- `auth.users.raw_app_meta_data.company_ids` (where Supabase Auth reads app_metadata from) and
-- hand it to every token at sign-in and again at every verification.

CREATE TABLE IF NOT EXISTS public.ipai_user_company (
    user_id uuid NOT NULL REFERENCES auth.users(id) ON DELETE CASCADE,
    company_id bigint NOT NULL,
    granted_by uuid,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, company_id)
);
COMMENT ON TABLE public.ipai_user_company IS
  'Company scope of a user: finance data is limited to these ERP companies (no rows: every '
  'company the user''s roles allow). Changed with `ipai users grant-company|revoke-company` or '
  'the Users admin page; every change is audited.';
COMMENT ON COLUMN public.ipai_user_company.company_id IS 'ERP company id (res.company), as in gold company_id.';
COMMENT ON COLUMN public.ipai_user_company.granted_by IS
  'User id of the admin who granted it on the admin page; NULL when granted from the command line.';

ALTER TABLE public.ipai_user_company ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.ipai_user_company FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON public.ipai_user_company TO authenticated, service_role;

DROP POLICY IF EXISTS user_company_read_own_or_admin ON public.ipai_user_company;
CREATE POLICY user_company_read_own_or_admin ON public.ipai_user_company
  FOR SELECT TO authenticated
  USING (user_id = auth.uid() OR public.ipai_has_role('admin'));
DROP POLICY IF EXISTS user_company_service_read ON public.ipai_user_company;
CREATE POLICY user_company_service_read ON public.ipai_user_company
  FOR SELECT TO service_role USING (true);
