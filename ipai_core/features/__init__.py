"""AI feature sets (platinum): feature tables computed by the transformations (e.g. partner
payment behaviour) and embedding sets filled from text views by an embedding model that runs
offline (or an OpenAI-compatible endpoint), all registered in `public.ipai_feature_set` with
their source, refresh time and row count, and searched by cosine distance under the caller's RLS.

    registry.py    the feature-set catalog
    embeddings.py  the `Embedder` protocol, the offline MiniLM model, the endpoint, the choice
    vectors.py     pgvector or real[]: what differs between servers
    store.py       the SQL of one embedding table (pending rows, upsert, deletions)
    refresh.py     incremental embedding refresh; the transformations' hook
    search.py      `similar(session, set, text, k)`
    ranker.py      `EmbeddingDatasetRanker`: Genie's dataset choice by meaning
"""
