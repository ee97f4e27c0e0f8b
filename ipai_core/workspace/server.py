"""Serve the workspace: Streamlit's UI and our routes from one process and one port (`st.App`).

`build_app(settings)` is the ASGI app; `serve(settings)` runs it with uvicorn on
`workspace_host:workspace_port`. The UI and the routes share one `Lakehouse` (one pool), opened
on the first request that needs it and closed when the server stops. Both take another
Streamlit script instead of the workspace's `main.py` to serve one app standalone
(`ipai apps run`), with the same routes and sign-in.

Outermost sits `proxy.TrustedProxyMiddleware`, which sees the real TCP peer before uvicorn's
X-Forwarded-For handling (applied inside it, for `FORWARDED_ALLOW_IPS`) replaces it.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import streamlit as st
import uvicorn
from starlette.types import ASGIApp
from streamlit import config as streamlit_config
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from ipai_core.mcp.http_app import McpHttp
from ipai_core.observability import start as start_observability
from ipai_core.orchestration.routes import build_orchestration_routes
from ipai_core.orchestration.runner import Orchestrator
from ipai_core.settings import Settings
from ipai_core.workspace import identity
from ipai_core.workspace.proxy import TrustedProxyMiddleware
from ipai_core.workspace.routes import build_routes

MAIN_SCRIPT = Path(__file__).resolve().with_name("main.py")
UVICORN_FORWARDED_ALLOW_IPS = "127.0.0.1,::1"  # uvicorn's own default for FORWARDED_ALLOW_IPS

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


def build_app(settings: Settings, script: Path = MAIN_SCRIPT) -> st.App:
    """The workspace (or the app `script`) as an ASGI app, with `/healthz` and `/auth/*`."""
    configure_streamlit(settings)
    identity.use_settings(settings)
    orchestrator = Orchestrator(identity.get_lakehouse)
    mcp = McpHttp(identity.get_lakehouse, orchestrator=orchestrator)
    routes = [
        *build_routes(identity.get_lakehouse),
        *build_orchestration_routes(identity.get_lakehouse, orchestrator),  # /api/.../runs
        mcp.route(),  # /mcp, streamable HTTP for agents
    ]
    return st.App(script, routes=routes, lifespan=partial(_lifespan, mcp))


def edge(app: ASGIApp, settings: Settings) -> ASGIApp:
    """`app` behind uvicorn's proxy-header handling and, outside it, the trusted-proxy check."""
    forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", UVICORN_FORWARDED_ALLOW_IPS)
    inner = ProxyHeadersMiddleware(app, trusted_hosts=forwarded_allow_ips)  # type: ignore[arg-type]
    return TrustedProxyMiddleware(inner, trusted=settings.trusted_proxy_ips)  # type: ignore[arg-type]


def serve(settings: Settings, script: Path = MAIN_SCRIPT) -> None:
    """Run the workspace (or the app `script`) until interrupted (Ctrl-C or SIGTERM)."""
    start_observability("workspace", settings)
    uvicorn.run(
        edge(build_app(settings, script), settings),
        proxy_headers=False,  # applied by `edge`, inside the trusted-proxy check
        host=settings.workspace_host,
        port=settings.workspace_port,
        log_level="warning",
        log_config=None,  # uvicorn's lines reach the root logger: JSON, like everything else
        access_log=False,
        server_header=False,
        ws_max_size=int(streamlit_config.get_option("server.maxMessageSize")) * 1024 * 1024,
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=5,
    )


@asynccontextmanager
async def _lifespan(mcp: McpHttp, _app: st.App) -> AsyncIterator[None]:
    async with mcp.running():
        yield None
    identity.get_lakehouse.clear()  # closes the pool
