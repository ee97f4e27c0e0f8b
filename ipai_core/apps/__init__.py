"""IPAI Apps: the runtime contract every app under `apps/<slug>/` is written against.

- `manifest` — `app.toml`, validated, and discovery of the apps folder.
- `registry` — `public.ipai_app_registry`: register, list, switch on/off, may-this-user-open.
- `flags` — feature flags per app and role (`public.ipai_feature_flag`) and their resolution.
- `context` — `AppContext`, what a page gets: user, RLS-scoped queries, logging, flags, audit.
- `runtime` — `open_app(slug)` for pages: the only module here that imports Streamlit, so it is
  never imported by this package; apps reach it as `from ipai_core import open_app`.
"""
