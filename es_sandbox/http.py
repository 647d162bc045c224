"""The HTTP layer every endpoint module uses: routing, request parsing, and ES-shaped responses.

Each module declares its endpoints on a module-level `Router` with `@router.route(path, *methods)`.
An endpoint is `async def handler(request: Request, cluster: Cluster) -> body` where body is a dict
or list (200), a `(status, body)` tuple, or a starlette Response. Raising EsError answers with
Elasticsearch's error envelope. Cross-cutting checks (injected faults, compatible-with media types,
authentication) run in `_endpoint` before the handler.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import request_response

from es_sandbox.errors import ConnectionDropped, EsError, illegal_argument
from es_sandbox.routing import RouteTable, es_routes
from es_sandbox.xcontent import read_json

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster

log = logging.getLogger("es_sandbox")

PRODUCT_HEADERS = {"X-Elastic-Product": "Elasticsearch"}
JSON_MEDIA = "application/json"

Handler = Callable[[Request, "Cluster"], Awaitable[Any]]


class Router:
    """Collects one module's routes."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, Handler, tuple[str, ...]]] = []

    def route(self, path: str, *methods: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.entries.append((path, handler, methods or ("GET",)))
            return handler

        return register

    def include(self, *others: Router) -> Router:
        """This router with the routes of others (a package that splits its endpoints over modules)."""
        for other in others:
            self.entries.extend(other.entries)
        return self


def build_table(routers: list[Router]) -> RouteTable:
    """Every module's routes, merged with Elasticsearch's own endpoint list (see routing.py)."""
    table = RouteTable(es_routes())
    for router in routers:
        for path, handler, methods in router.entries:
            table.add(path, methods, request_response(_endpoint(handler)))
    return table


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status_code=status,
        media_type=JSON_MEDIA,
        headers={**PRODUCT_HEADERS, **(headers or {})},
    )


def error_response(err: EsError) -> Response:
    return json_response(err.body(), err.status, err.headers)


def _endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        cluster: Cluster = request.app.state.cluster
        try:
            await cluster.faults.before_request(request)
            check_compatible_with(request, cluster.config.major)
            cluster.security.authenticate(request)
            result = await handler(request, cluster)
            cluster.faults.after_request(request)
        except EsError as err:
            return error_response(err)
        except ConnectionDropped:
            raise
        except Exception:  # an unexpected bug must still answer like a node, and be visible
            log.exception("unhandled error on %s %s", request.method, request.url.path)
            return error_response(EsError(500, "exception", "internal sandbox error, see the sandbox log"))
        if isinstance(result, Response):
            result.headers.update(PRODUCT_HEADERS)
            return result
        if isinstance(result, tuple):
            status, body = result
            return json_response(body, status)
        return json_response(result)

    endpoint.__name__ = handler.__name__
    return endpoint


# --- compatible-with media types ---------------------------------------------------------------

_COMPAT_RE = re.compile(r"compatible-with\s*=\s*(\d+)")


def _compat_version(header: str | None) -> int | None:
    if not header:
        return None
    m = _COMPAT_RE.search(header)
    return int(m.group(1)) if m else None


def _has_content(request: Request) -> bool:
    length = request.headers.get("content-length")
    if length is not None:
        return length.strip() not in ("", "0")
    return "transfer-encoding" in request.headers


def check_compatible_with(request: Request, major: int) -> None:
    """RestCompatibleVersionHelper: a node accepts its own major and the previous one; the
    Content-Type is only checked when the request has a body, and must then agree with Accept.
    The sandbox's own /_sandbox endpoints are not Elasticsearch APIs and are not checked."""
    if request.url.path.startswith("/_sandbox"):
        return
    accept = request.headers.get("accept")
    content_type = request.headers.get("content-type")
    accept_given, content_given = _compat_version(accept), _compat_version(content_type)
    accept_v = major if accept_given is None else accept_given
    content_v = major if content_given is None else content_given
    problem = None
    if accept_v not in (major, major - 1):
        problem = f"Accept version must be either version {major} or {major - 1}, but found {accept_v}. Accept={accept}"
    elif _has_content(request):
        if content_v not in (major, major - 1):
            problem = (
                f"Content-Type version must be either version {major} or {major - 1}, but found {content_v}. "
                f"Content-Type={content_type}"
            )
        elif content_v != accept_v:
            problem = (
                "A compatible version is required on both Content-Type and Accept headers if either one has "
                "requested a compatible version and the compatible versions must match. "
                f"Accept={accept}, Content-Type={content_type}"
            )
        elif (accept_given is None) != (content_given is None):
            problem = (
                "A compatible version is required on both Content-Type and Accept headers if either one has "
                f"requested a compatible version. Accept={accept}, Content-Type={content_type}"
            )
    if problem:
        raise EsError(
            400,
            "media_type_header_exception",
            "Invalid media-type value on headers [Accept, Content-Type]",
            caused_by={"type": "status_exception", "reason": problem},
        )


# --- request parsing ---------------------------------------------------------------------------


async def json_body(request: Request, *, required: bool = False) -> dict[str, Any]:
    """The request's body as an object, read as ES reads one (es_sandbox/xcontent.read_json)."""
    raw = await request.body()
    if not raw.strip():
        if required:
            raise EsError(400, "parse_exception", "request body is required")
        return {}
    body = read_json(raw, include_source=source_on_error(request))
    if body is None:  # comments only: no token, an empty map
        return {}
    if not isinstance(body, dict):
        raise EsError(400, "x_content_parse_exception", "request body must be a JSON object")
    return body


def source_on_error(request: Request) -> bool:
    """`include_source_on_error`: whether Jackson's messages quote the body (true unless asked not to)."""
    return bool_param(request, "include_source_on_error", True)


def bool_param(request: Request, name: str, default: bool = False) -> bool:
    value = request.query_params.get(name)
    if value is None:
        return default
    if value in ("", "true"):
        return True
    if value == "false":
        return False
    raise illegal_argument(f"Failed to parse value [{value}] as only [true] or [false] are allowed.")


def int_param(request: Request, name: str, default: int | None = None) -> int | None:
    value = request.query_params.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise illegal_argument(f"Failed to parse int parameter [{name}] with value [{value}]") from None


_TIME_UNITS = {"nanos": 1e-9, "micros": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_TIME_RE = re.compile(r"^(-?\d+(?:\.\d+)?)(nanos|micros|ms|s|m|h|d)$")


def parse_time(value: str | int | float, setting: str) -> float:
    """An ES time value ('30s', '5m', '500ms', or -1) in seconds."""
    if isinstance(value, int | float):
        return float(value) / 1000.0  # numbers are milliseconds
    if value == "-1":
        return -1.0
    m = _TIME_RE.match(value.strip())
    if not m:
        raise EsError(
            400,
            "parse_exception",
            f"failed to parse setting [{setting}] with value [{value}] as a time value: "
            "unit is missing or unrecognized",
        )
    return float(m.group(1)) * _TIME_UNITS[m.group(2)]


def time_param(request: Request, name: str, default: float | None = None) -> float | None:
    value = request.query_params.get(name)
    return default if value is None else parse_time(value, name)


def param(request: Request, body: dict[str, Any], name: str, default: Any = None) -> Any:
    """A parameter that may come in the query string or the body (ES accepts both for several APIs)."""
    if name in request.query_params:
        return request.query_params[name]
    return body.get(name, default)
