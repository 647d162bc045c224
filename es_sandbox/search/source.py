"""`_source` filtering as search, get and reindex apply it: includes, excludes, wildcards."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request


@dataclass(frozen=True)
class SourceFilter:
    enabled: bool = True
    includes: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()

    @classmethod
    def parse(cls, body_value: Any, request: Request | None = None) -> SourceFilter:
        includes: list[str] = []
        excludes: list[str] = []
        enabled = True
        params = request.query_params if request is not None else {}
        value = body_value
        if "_source" in params:
            raw = params["_source"]
            value = raw == "true" if raw in ("true", "false") else raw.split(",")
        if value is False:
            enabled = False
        elif isinstance(value, str):
            includes = [value]
        elif isinstance(value, list):
            includes = [str(v) for v in value]
        elif isinstance(value, dict):
            inc, exc = (
                value.get("includes", value.get("include", [])),
                value.get("excludes", value.get("exclude", [])),
            )
            includes = [inc] if isinstance(inc, str) else list(inc)
            excludes = [exc] if isinstance(exc, str) else list(exc)
        if "_source_includes" in params:
            includes = params["_source_includes"].split(",")
            enabled = True
        if "_source_excludes" in params:
            excludes = params["_source_excludes"].split(",")
            enabled = True
        return cls(enabled, tuple(includes), tuple(excludes))

    def apply(self, source: dict[str, Any]) -> dict[str, Any]:
        if not self.includes and not self.excludes:
            return source
        return self._walk(source, "")

    def _walk(self, obj: dict[str, Any], prefix: str, included: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in obj.items():
            path = f"{prefix}{key}"
            if any(fnmatch.fnmatchcase(path, p) for p in self.excludes):
                continue
            hit = (
                included
                or not self.includes
                or any(
                    fnmatch.fnmatchcase(path, p) or (p.endswith(".*") and path == p[:-2])
                    for p in self.includes
                )
            )
            if isinstance(value, dict):
                if hit or self._may_include_below(path):
                    sub = self._walk(value, f"{path}.", hit)
                    if sub or (hit and not value):
                        out[key] = sub
            elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
                if hit or self._may_include_below(path):
                    items = [self._walk(v, f"{path}.", hit) if isinstance(v, dict) else v for v in value]
                    items = [v for v in items if v != {} or hit]
                    if items or hit:
                        out[key] = items
            elif hit:
                out[key] = value
        return out

    def _may_include_below(self, path: str) -> bool:
        return any(p.startswith(f"{path}.") or "*" in p for p in self.includes)
