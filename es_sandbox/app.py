"""The ASGI application: every module's routes, one Cluster, and ES's answers for unknown routes."""

from __future__ import annotations

import contextlib
import importlib
import logging

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from es_sandbox.cluster import ROUTE_MODULES, Cluster
from es_sandbox.config import SandboxConfig
from es_sandbox.errors import ConnectionDropped
from es_sandbox.http import build_routes, json_response

log = logging.getLogger("es_sandbox")


class _DropConnection:
    """Turns ConnectionDropped into a connection closed mid-response, as a crashed node would."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        except ConnectionDropped:
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"64")]}
            )
            raise


def request_uri(request: Request) -> str:
    """The raw request URI, query string included, as Elasticsearch quotes it in errors."""
    raw = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string") or b""
    return raw.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")


def no_handler_response(request: Request) -> Response:
    """RestController.handleBadRequest: a bare string error and no status field."""
    reason = f"no handler found for uri [{request_uri(request)}] and method [{request.method}]"
    return json_response({"error": reason}, 400)


def _allowed_methods(request: Request) -> list[str]:
    allowed: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "__NONE__"})
        if match is not Match.NONE:
            allowed.update(route.methods or ())
    return sorted(allowed)


async def _no_handler(request: Request, exc: Exception):
    if getattr(exc, "status_code", 404) == 405:
        # RestController.handleUnsupportedHttpMethod: a simple error with the allowed methods.
        allowed = _allowed_methods(request)
        reason = f"Incorrect HTTP method for uri [{request_uri(request)}] and method [{request.method}]"
        if allowed:
            reason += f", allowed: [{', '.join(allowed)}]"
        return json_response({"error": reason, "status": 405}, 405, {"Allow": ",".join(allowed)})
    return no_handler_response(request)


def create_app(config: SandboxConfig) -> Starlette:
    cluster = Cluster(config)
    routers = [importlib.import_module(name).router for name in ROUTE_MODULES]

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
