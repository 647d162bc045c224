"""The ASGI application: every module's routes, one Cluster, and ES's answers for unknown routes."""

from __future__ import annotations

import contextlib
import importlib
import logging

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from es_sandbox.cluster import ROUTE_MODULES, Cluster
from es_sandbox.config import SandboxConfig
from es_sandbox.errors import ConnectionDropped
from es_sandbox.http import PRODUCT_HEADERS, build_table, json_response
from es_sandbox.routing import EsRouter, Refusal
from es_sandbox.usage import RestUsage

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


def request_uri(scope: Scope) -> str:
    """The raw request URI, query string included, as Elasticsearch quotes it in errors."""
    raw = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string") or b""
    return raw.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")


def no_handler_response(request: Request) -> Response:
    """RestController.handleBadRequest: a bare string error and no status field."""
    return _no_handler(request.scope)


def _no_handler(scope: Scope) -> Response:
    reason = f"no handler found for uri [{request_uri(scope)}] and method [{scope['method']}]"
    return json_response({"error": reason}, 400)


async def _refuse(refusal: Refusal, scope: Scope, receive: Receive, send: Send) -> None:
    """RestController's own answers: OPTIONS, a wrong method (405, with `Allow`), no handler (400)."""
    allow = {"Allow": ",".join(refusal.allowed)} if refusal.allowed else {}
    if refusal.status == 200:
        response: Response = Response(
            b"", media_type="text/plain; charset=UTF-8", headers={**PRODUCT_HEADERS, **allow}
        )
    elif refusal.status == 405:
        reason = (
            refusal.reason
            or f"Incorrect HTTP method for uri [{request_uri(scope)}] and method [{scope['method']}]"
        )
        if refusal.allowed:
            reason += f", allowed: [{', '.join(refusal.allowed)}]"
        response = json_response({"error": reason, "status": 405}, 405, allow)
    else:
        response = _no_handler(scope)
    await response(scope, receive, send)


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

    app = Starlette()
    app.state.usage = RestUsage()
    # Elasticsearch's dispatch (routing.py) in place of Starlette's path matching.
    app.router = EsRouter(build_table(routers), _refuse, app.state.usage, lifespan=lifespan)
    app.state.cluster = cluster
    app.add_middleware(_DropConnection)
    return app
