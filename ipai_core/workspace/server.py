"""Serve the workspace: Streamlit's UI and our routes from one process and one port (`st.App`).

`build_app(settings)` is the ASGI app; `serve(settings)` runs it with uvicorn on
`workspace_host:workspace_port`. The UI and the routes share one `Lakehouse` (one pool), opened
on the first request that needs it and closed when the server stops.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import streamlit as st
import uvicorn
from streamlit import config as streamlit_config

from ipai_core.settings import Settings
from ipai_core.workspace import identity
from ipai_core.workspace.routes import build_routes

MAIN_SCRIPT = Path(__file__).resolve().with_name("main.py")

# A headless production server that never reaches the network: no browser to open, no usage
# statistics, no e-mail prompt, no file watcher or rerun-on-save, no developer toolbar, and
# exception types without tracebacks in the page (the traceback still goes to the log).
STREAMLIT_OPTIONS: Mapping[str, Any] = {
    "server.headless": True,
    "browser.gatherUsageStats": False,
    "server.showEmailPrompt": False,
    "server.fileWatcherType": "none",
    "server.runOnSave": False,
    "global.developmentMode": False,
    "client.toolbarMode": "viewer",
    "client.showErrorDetails": "type",
}


def configure_streamlit(settings: Settings) -> None:
    """Apply `STREAMLIT_OPTIONS` (over any `config.toml` or `STREAMLIT_*` variable) and the
    workspace address. Must run before the app is built: Streamlit reads some options then."""
    options = {
        **STREAMLIT_OPTIONS,
        "server.address": settings.workspace_host,
        "server.port": settings.workspace_port,
    }
    # Applied as `streamlit run --flag` values are: above config files and environment variables.
    streamlit_config.get_config_options(force_reparse=True, options_from_flags=options)


def build_app(settings: Settings) -> st.App:
    """The workspace as an ASGI app: `main.py` with `/healthz` and `/auth/*` beside it."""
    configure_streamlit(settings)
    identity.use_settings(settings)
    return st.App(MAIN_SCRIPT, routes=build_routes(identity.get_lakehouse), lifespan=_lifespan)


def serve(settings: Settings) -> None:
    """Run the workspace until interrupted (Ctrl-C or SIGTERM)."""
    uvicorn.run(
        build_app(settings),
        host=settings.workspace_host,
        port=settings.workspace_port,
        log_level="warning",
        access_log=False,
        server_header=False,
        ws_max_size=int(streamlit_config.get_option("server.maxMessageSize")) * 1024 * 1024,
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=5,
    )


@asynccontextmanager
async def _lifespan(_app: st.App) -> AsyncIterator[None]:
    yield None
    identity.get_lakehouse.clear()  # closes the pool
