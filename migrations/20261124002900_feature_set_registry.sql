-- AI feature sets (PRD 2.1, platinum): the catalog of platinum feature tables and embedding
-- sets — what each is computed from, its entity key, who owns it, and when it was last refreshed
-- with how many rows. Everyone signed in may read the catalog; only the service role (migrations,
-- transformations, `ipai features refresh`) writes it, because the refresh reads `text_view` and
-- writes `relation` as the service role: a row here is a privilege, so users cannot add one.

CREATE TABLE IF NOT EXISTS public.ipai_feature_set (
    name TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    relation TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    source TEXT[] NOT NULL DEFAULT '{}',
    entity_key TEXT[] NOT NULL,
    materialized_view TEXT,
    text_view TEXT,
    owner TEXT NOT NULL,
    model TEXT,
    refreshed_at TIMESTAMPTZ,
    row_count BIGINT,
    last_status TEXT,
    last_error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT feature_set_name_format CHECK (name ~ '^[a-z][a-z0-9_]*$'),
    CONSTRAINT feature_set_kind CHECK (kind IN ('features', 'embeddings')),
    CONSTRAINT feature_set_relation_platinum
      CHECK (relation ~ '^ipai_platinum_[a-z0-9_]+\.[a-z_][a-z0-9_]*$'),
    CONSTRAINT feature_set_matview_platinum
      CHECK (materialized_view ~ '^ipai_platinum_[a-z0-9_]+\.[a-z_][a-z0-9_]*$'),
    CONSTRAINT feature_set_text_view_platinum
      CHECK (text_view ~ '^ipai_platinum_[a-z0-9_]+\.[a-z_][a-z0-9_]*$'),
    CONSTRAINT feature_set_store_matches_kind
      CHECK ((kind = 'features') = (materialized_view IS NOT NULL)
             AND (kind = 'embeddings') = (text_view IS NOT NULL)),
    CONSTRAINT feature_set_entity_key CHECK (cardinality(entity_key) > 0),
    CONSTRAINT feature_set_last_status CHECK (last_status IN ('success', 'failed', 'skipped'))
);
COMMENT ON TABLE public.ipai_feature_set IS
  'AI feature sets: platinum feature tables and embedding sets with their source, entity key, owner, refresh time and row count.';
COMMENT ON COLUMN public.ipai_feature_set.relation IS 'What users query (a guarded view or an RLS table).';
COMMENT ON COLUMN public.ipai_feature_set.source IS 'Silver/gold relations the set is computed from.';
COMMENT ON COLUMN public.ipai_feature_set.materialized_view IS
  'Features: the private materialized view the transformations refresh.';
COMMENT ON COLUMN public.ipai_feature_set.text_view IS
  'Embeddings: the view giving each entity''s key, attributes and text to embed.';
COMMENT ON COLUMN public.ipai_feature_set.model IS 'Embeddings: the model of the stored vectors.';

DROP TRIGGER IF EXISTS touch_updated_at ON public.ipai_feature_set;
CREATE TRIGGER touch_updated_at BEFORE UPDATE ON public.ipai_feature_set
  FOR EACH ROW EXECUTE FUNCTION public.ipai_touch_updated_at();

ALTER TABLE public.ipai_feature_set ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.ipai_feature_set FROM PUBLIC, anon, authenticated;
GRANT SELECT ON public.ipai_feature_set TO authenticated;
GRANT ALL ON public.ipai_feature_set TO service_role;

CREATE POLICY feature_set_read ON public.ipai_feature_set FOR SELECT TO authenticated
  USING (true);
CREATE POLICY feature_set_service ON public.ipai_feature_set FOR ALL TO service_role
  USING (true) WITH CHECK (true);
