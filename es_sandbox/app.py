"""The ASGI application: every module's routes, one Cluster, and ES's answers for unknown routes."""

from __future__ import annotations

import contextlib
import importlib
import logging

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from es_sandbox.cluster import Cluster
from es_sandbox.config import SandboxConfig
from es_sandbox.errors import ConnectionDropped, EsError
from es_sandbox.http import build_routes, error_response

log = logging.getLogger("es_sandbox")

# Every module that declares endpoints on a module-level `router`.
ENDPOINT_MODULES = [
    "es_sandbox.faults",
    "es_sandbox.cluster_api",
    "es_sandbox.indices",
    "es_sandbox.documents",
    "es_sandbox.search",
    "es_sandbox.ingest",
    "es_sandbox.tasks",
    "es_sandbox.reindex",
    "es_sandbox.ml.api",
]


class _DropConnection:
    """Turns ConnectionDropped into a connection closed mid-response, as a crashed node would."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except ConnectionDropped:
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]})
            raise


async def _no_handler(request: Request, exc: Exception):
    path, method = request.url.path, request.method
    if getattr(exc, "status_code", 404) == 405:
        return error_response(
            EsError(405, "method_not_allowed", f"Incorrect HTTP method for uri [{path}] and method [{method}]")
        )
    return error_response(
        EsError(400, "illegal_argument_exception", f"no handler found for uri [{path}] and method [{method}]")
    )


def create_app(config: SandboxConfig) -> Starlette:
    cluster = Cluster(config)
    routers = [importlib.import_module(name).router for name in ENDPOINT_MODULES]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        await cluster.start()
        try:
            yield
        finally:
            await cluster.stop()

    app = Starlette(
        routes=build_routes(routers),
        lifespan=lifespan,
        exception_handlers={404: _no_handler, 405: _no_handler},
    )
    app.state.cluster = cluster
    app.add_middleware(_DropConnection)
    return app
