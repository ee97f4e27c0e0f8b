"""The workspace: the Streamlit UI and the HTTP routes served beside it from one process.

- `server` — builds the ASGI app (`st.App` with our routes) and serves it with uvicorn.
- `routes` — `/healthz`, the sign-in form and its cookie, sign-out, and `/auth/token` for API
  clients (plain Starlette; testable without Streamlit).
- `identity` — the Lakehouse the UI shares, and the signed-in principal of a script run.
- `main` and `views/` — the Streamlit entry point and its pages, which only lay out widgets and
  call `ipai_core`.

This package is the only place in `ipai_core` allowed to import `streamlit`. Importing it has no
side effects; nothing runs until `server.serve()` or `streamlit` executes `main.py`.
"""
