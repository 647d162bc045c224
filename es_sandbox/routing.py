"""Which endpoint serves a request, decided as Elasticsearch's RestController decides it.

Elasticsearch matches the raw path against its registered path templates, literal segments before
`{param}` ones, and takes the first candidate with a handler for the method. When none has one, the
union of the candidates' methods decides: OPTIONS answers 200 with `Allow`, a method outside the
union 405 with the methods in RestRequest.Method's order, anything else 400 `no handler found`.

The candidates come from Elasticsearch's own endpoint list (es_rest_routes.txt, what the
elasticsearch client calls) merged with the sandbox's routes, so a path Elasticsearch serves under a
literal name (`/_cat`, `/_xpack`, `/_data_stream/x`) is never taken for an index by a `/{index}`
route, and a path Elasticsearch serves but the sandbox does not answers `no handler found`.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from starlette.routing import Router
from starlette.types import ASGIApp, Receive, Scope, Send

from es_sandbox.usage import RestUsage

# RestRequest.Method, in declaration order (an EnumSet prints them in this order).
METHODS = ("GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE", "CONNECT")
ES_ROUTES_FILE = Path(__file__).with_name("es_rest_routes.txt")


def split_path(path: str) -> tuple[str, ...]:
    """PathTrie's tokens: the leading separator dropped, trailing empty tokens dropped (Java's split)."""
    tokens = path.split("/")[1:] if path.startswith("/") else path.split("/")
    while tokens and tokens[-1] == "":
        tokens.pop()
    return tuple(tokens)


def _template_tokens(template: str) -> tuple[str | None, ...]:
    """A template's literal tokens, None where a `{param}` is."""
    return tuple(None if t.startswith("{") else t for t in split_path(template))


@dataclass
class _Template:
    tokens: tuple[str | None, ...]
    es_methods: set[str] = field(default_factory=set)
    # method -> (the sandbox's template, its param names, its ASGI endpoint)
    served: dict[str, tuple[str, tuple[str, ...], ASGIApp]] = field(default_factory=dict)

    def matches(self, tokens: tuple[str, ...]) -> bool:
        return len(tokens) == len(self.tokens) and all(
            t is None or t == s for t, s in zip(self.tokens, tokens, strict=True)
        )

    @property
    def precedence(self) -> tuple[bool, ...]:
        return tuple(t is None for t in self.tokens)


@dataclass(frozen=True)
class Dispatch:
    endpoint: ASGIApp
    template: str
    path_params: dict[str, str]


@dataclass(frozen=True)
class Refusal:
    """What RestController answers itself: OPTIONS (200), a wrong method (405) or no handler (400)."""

    status: int
    allowed: tuple[str, ...] = ()
    reason: str | None = None  # 405: the cause when it is not simply the method (an unknown method)


class RouteTable:
    def __init__(self, es_routes: Iterable[tuple[str, str]]) -> None:
        self._templates: dict[tuple[str | None, ...], _Template] = {}
        for method, path in es_routes:
            self._template(path).es_methods.add(method)

    def _template(self, path: str) -> _Template:
        tokens = _template_tokens(path)
        return self._templates.setdefault(tokens, _Template(tokens))

    def add(self, path: str, methods: Iterable[str], endpoint: ASGIApp) -> None:
        template = self._template(path)
        names = tuple(t[1:-1] for t in split_path(path) if t.startswith("{"))
        for method in methods:
            template.es_methods.add(method)
            template.served[method] = (path, names, endpoint)

    def resolve(self, method: str, raw_path: str) -> Dispatch | Refusal:
        tokens = split_path(raw_path)
        candidates = sorted(
            (t for t in self._templates.values() if t.matches(tokens)), key=lambda t: t.precedence
        )
        union = {m for t in candidates for m in t.es_methods}
        allowed = tuple(m for m in METHODS if m in union)
        if method not in METHODS:
            return Refusal(405, allowed, reason=f"Unexpected http method: {method}")
        for template in candidates:
            if method not in template.es_methods:
                continue
            if method not in template.served:
                return Refusal(400)  # Elasticsearch serves it; the sandbox does not
            path, names, endpoint = template.served[method]
            values = [unquote(tok) for tok, lit in zip(tokens, template.tokens, strict=True) if lit is None]
            return Dispatch(endpoint, path, dict(zip(names, values, strict=True)))
        if method == "OPTIONS":
            return Refusal(200, allowed)
        return Refusal(405, allowed) if allowed else Refusal(400)

    def served_routes(self) -> Iterator[tuple[str, str]]:
        """(method, path template) of every endpoint the sandbox serves, for tests that walk them all."""
        for template in self._templates.values():
            for method, (path, _, _) in template.served.items():
                yield method, path


def es_routes() -> list[tuple[str, str]]:
    lines = ES_ROUTES_FILE.read_text().splitlines()
    return [tuple(line.split(" ", 1)) for line in lines if line and not line.startswith("#")]  # type: ignore[misc]


class EsRouter(Router):
    """Starlette's router with Elasticsearch's dispatch; `refuse` writes RestController's own answers
    and `usage` counts what reaches a handler (UsageService)."""

    def __init__(self, table: RouteTable, refuse: Any, usage: RestUsage, **kwargs: Any) -> None:
        super().__init__(routes=[], **kwargs)
        self.table = table
        self.refuse = refuse
        self.usage = usage

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().app(scope, receive, send)
            return
        scope.setdefault("router", self)
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        decision = self.table.resolve(scope["method"], raw_path)
        if isinstance(decision, Dispatch):
            scope["path_params"] = decision.path_params
            self.usage.count(scope["method"], decision.template)
            await decision.endpoint(scope, receive, send)
        else:
            await self.refuse(decision, scope, receive, send)


def routes_of_client() -> list[tuple[str, str]]:
    """(method, path template) of every endpoint the installed elasticsearch client calls, read from its
    generated source: each API function assigns `__path` (one per URL form) and passes the method
    to perform_request."""
    import elasticsearch

    pairs: set[tuple[str, str]] = set()
    for source in sorted((Path(elasticsearch.__file__).parent / "_sync" / "client").glob("*.py")):
        for function in ast.walk(ast.parse(source.read_text())):
            if isinstance(function, ast.FunctionDef):
                paths, methods = _paths_and_methods(function)
                pairs.update((m, p) for p in paths for m in methods)
    return sorted(pairs, key=lambda pair: (pair[1], pair[0]))


def _paths_and_methods(function: ast.FunctionDef) -> tuple[list[str], list[str]]:
    paths: list[str] = []
    methods: list[str] = []
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name == "__path":
                paths.append(_template_text(node.value))
            elif name == "__method" and isinstance(node.value, ast.Constant):
                methods.append(node.value.value)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "perform_request":
            if node.args and isinstance(node.args[0], ast.Constant):
                methods.append(node.args[0].value)
    return paths, methods


def _template_text(value: ast.expr) -> str:
    """'/_cat/indices' or f'/{__path_parts["index"]}/_doc' as '/{index}/_doc'."""
    if isinstance(value, ast.Constant):
        return value.value
    assert isinstance(value, ast.JoinedStr)
    text = ""
    for part in value.values:
        if isinstance(part, ast.Constant):
            text += part.value
        else:
            assert isinstance(part, ast.FormattedValue) and isinstance(part.value, ast.Subscript)
            text += "{" + ast.literal_eval(part.value.slice) + "}"
    return text


if __name__ == "__main__":
    sys.stdout.write(
        "# Elasticsearch's REST endpoints (METHOD path) as the elasticsearch client of requirements.txt\n"
        "# calls them. Regenerate: python -m es_sandbox.routing > es_sandbox/es_rest_routes.txt\n"
    )
    sys.stdout.writelines(f"{method} {path}\n" for method, path in routes_of_client())
