"""HTTP endpoints for n8n and other orchestrators (PRD 4.1.6), served beside the workspace.

    POST /api/connectors/{name}/runs               start a connector run
    POST /api/transformations/runs                 refresh views; optional JSON {"select": [...]}
    GET  /api/connectors/{name}/runs/{run_id}      poll a connector run
    GET  /api/transformations/runs/{run_id}        poll a transformation run

Every request carries `Authorization: Bearer <token>`: an agent token whose agent has the
`schedule` operation (`ipai agents token CODE`), or a user token (`POST /auth/token`) of a data
engineer or admin. The database makes that decision (`ipai_orchestration_request`).

    202  {"run_id", "status": "queued", "status_url", …}   accepted; poll status_url
    200  the run: status queued | running | success | failed, result, error
    400  a malformed body or run id       401  no token, or a bad one
    403  the caller may not trigger runs  404  unknown connector or run
    503  the database is unreachable
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ipai_core.db.principal import Principal
from ipai_core.errors import AccessDenied, AuthError, DatabaseError, IpaiError, NotFound
from ipai_core.lakehouse import Lakehouse
from ipai_core.orchestration.runner import Orchestrator
from ipai_core.orchestration.runs import TRANSFORMATIONS, Kind, OrchestrationRun

LakehouseProvider = Callable[[], Lakehouse]

_NO_STORE = {"Cache-Control": "no-store"}
_MAX_BODY = 64 * 1024
_REFUSALS: tuple[tuple[type[IpaiError], int, str], ...] = (
    (AuthError, 401, "invalid_token"),
    (AccessDenied, 403, "forbidden"),
    (NotFound, 404, "not_found"),
    (DatabaseError, 503, "unavailable"),
)


def build_orchestration_routes(
    lakehouse_provider: LakehouseProvider, orchestrator: Orchestrator | None = None
) -> list[Route]:
    """The orchestration routes; runs start in `orchestrator` (one per process by default)."""
    api = _Api(lakehouse_provider, orchestrator or Orchestrator(lakehouse_provider))
    return [
        Route("/api/connectors/{name}/runs", api.start_connector, methods=["POST"]),
        Route("/api/transformations/runs", api.start_transformations, methods=["POST"]),
        Route("/api/connectors/{name}/runs/{run_id}", api.poll, methods=["GET"]),
        Route("/api/transformations/runs/{run_id}", api.poll, methods=["GET"]),
    ]


class _Api:
    def __init__(self, lakehouse: LakehouseProvider, orchestrator: Orchestrator) -> None:
        self._lakehouse = lakehouse
        self._orchestrator = orchestrator

    async def start_connector(self, request: Request) -> JSONResponse:
        name = request.path_params["name"]
        return await self._answer(request, lambda p: self._start(p, "connector", name, ()))

    async def start_transformations(self, request: Request) -> JSONResponse:
        body = await request.body()
        selectors = _selectors(body)
        if selectors is None:
            return _error(400, "bad_request", 'send no body, or JSON {"select": ["view", …]}')
        return await self._answer(
            request, lambda p: self._start(p, "transformation", TRANSFORMATIONS, selectors)
        )

    async def poll(self, request: Request) -> JSONResponse:
        run_id = request.path_params["run_id"]
        target = request.path_params.get("name", TRANSFORMATIONS)

        def read(principal: Principal) -> JSONResponse:
            run = self._orchestrator.status(principal, run_id)
            if run.target != target:
                raise NotFound(f"run `{run_id}` is not a run of `{target}`", name=run_id)
            return JSONResponse(run.as_json(), headers=_NO_STORE)

        return await self._answer(request, read)

    def _start(
        self, principal: Principal, kind: Kind, target: str, selectors: tuple[str, ...]
    ) -> JSONResponse:
        run = self._orchestrator.submit(principal, kind, target, selectors=selectors, via="http")
        return JSONResponse(
            {**run.as_json(), "status_url": _status_url(run)}, status_code=202, headers=_NO_STORE
        )

    async def _answer(
        self, request: Request, respond: Callable[[Principal], JSONResponse]
    ) -> JSONResponse:
        token = _bearer(request)
        if token is None:
            return _error(401, "missing_token", "send `Authorization: Bearer <token>`")
        try:
            return await run_in_threadpool(lambda: respond(self._lakehouse().authenticate(token)))
        except IpaiError as exc:
            for error_type, status, code in _REFUSALS:
                if isinstance(exc, error_type):
                    return _error(status, code, str(exc))
            return _error(400, "bad_request", str(exc))


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _selectors(body: bytes) -> tuple[str, ...] | None:
    if not body.strip():
        return ()
    if len(body) > _MAX_BODY:
        return None
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    select = parsed.get("select", []) if isinstance(parsed, dict) else None
    if not isinstance(select, list) or not all(isinstance(s, str) and s for s in select):
        return None
    return tuple(select)


def _status_url(run: OrchestrationRun) -> str:
    if run.kind == "connector":
        return f"/api/connectors/{run.target}/runs/{run.id}"
    return f"/api/transformations/runs/{run.id}"


def _error(status: int, error: str, description: str) -> JSONResponse:
    headers = dict(_NO_STORE)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="ipai"'
    return JSONResponse(
        {"error": error, "error_description": description}, status_code=status, headers=headers
    )
