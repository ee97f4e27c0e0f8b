-- Semantic models (PRD 4.1.3): named datasets over gold views with grain, measures and dimensions.
-- Everyone signed in may read the definitions; the rows behind them stay under the views' RLS.

CREATE TABLE IF NOT EXISTS public.ipai_semantic_model (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    dataset TEXT NOT NULL UNIQUE,
    source_view TEXT NOT NULL,
    description TEXT,
    grain TEXT NOT NULL,
    measures JSONB NOT NULL DEFAULT '[]',
    dimensions JSONB NOT NULL DEFAULT '[]',
    synonyms TEXT[] NOT NULL DEFAULT '{}',
    default_filters JSONB NOT NULL DEFAULT '[]',
    rls_policy_refs TEXT[] NOT NULL DEFAULT '{}',
    is_active BOOLEAN NOT NULL DEFAULT true,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT semantic_dataset_format CHECK (dataset ~ '^[a-z][a-z0-9_]*$'),
    CONSTRAINT semantic_source_qualified CHECK (source_view ~ '^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$'),
    CONSTRAINT semantic_measures_array CHECK (jsonb_typeof(measures) = 'array'),
    CONSTRAINT semantic_dimensions_array CHECK (jsonb_typeof(dimensions) = 'array')
);
COMMENT ON TABLE public.ipai_semantic_model IS
  'Semantic models: dataset, source view, grain, measures, dimensions, synonyms, default filters, RLS policy references.';

DROP TRIGGER IF EXISTS touch_updated_at ON public.ipai_semantic_model;
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON public.ipai_semantic_model
  FOR EACH ROW EXECUTE FUNCTION public.ipai_touch_updated_at();

ALTER TABLE public.ipai_semantic_model ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.ipai_semantic_model FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.ipai_semantic_model TO authenticated;
GRANT ALL ON public.ipai_semantic_model TO service_role;

CREATE POLICY semantic_model_read ON public.ipai_semantic_model FOR SELECT TO authenticated
  USING (is_active OR public.ipai_has_role('data_engineer'));
CREATE POLICY semantic_model_write ON public.ipai_semantic_model FOR ALL TO authenticated
  USING (public.ipai_has_role('data_engineer')) WITH CHECK (public.ipai_has_role('data_engineer'));
CREATE POLICY semantic_model_service ON public.ipai_semantic_model FOR ALL TO service_role
  USING (true) WITH CHECK (true);
