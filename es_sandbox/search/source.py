"""`_source` filtering as search, get and reindex apply it: includes, excludes, wildcards."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from es_sandbox import mappings as mp

if TYPE_CHECKING:
    from es_sandbox.indices import Index


# Field types whose values 9.2+ leaves out of `_source` unless asked (exclude_vectors: false).
VECTOR_TYPES = frozenset({"dense_vector", "sparse_vector", "rank_vectors"})
# Top-level keys of a stored source that are metadata shown only with exclude_vectors: false (the
# inference subsystem adds `_inference_fields` here).
HIDDEN_SOURCE_KEYS: set[str] = set()


def created_on_or_after_9_2(index: Index) -> bool:
    return mp.release_of(index.setting("version.created")) >= (9, 2, 0)


def excludes_vectors_by_default(index: Index) -> bool:
    """`index.mapping.exclude_source_vectors`: true by default for indices created on 9.2 or later."""
    setting = index.setting("mapping.exclude_source_vectors")
    if setting is not None:
        return str(setting).lower() == "true"
    return created_on_or_after_9_2(index)


def without_vectors(source: dict[str, Any], mappings: dict[str, Any]) -> dict[str, Any]:
    """The source without the values of vector fields and the hidden metadata keys."""
    out = {k: v for k, v in source.items() if k not in HIDDEN_SOURCE_KEYS}
    return _strip(out, mappings.get("properties", {}))


def _strip(node: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    out = dict(node)
    for name, spec in props.items():
        if name not in out:
            continue
        if spec.get("type") in VECTOR_TYPES:
            del out[name]
        elif "properties" in spec:
            value = out[name]
            if isinstance(value, dict):
                out[name] = _strip(value, spec["properties"])
            elif isinstance(value, list):
                out[name] = [_strip(v, spec["properties"]) if isinstance(v, dict) else v for v in value]
    return out


@dataclass(frozen=True)
class SourceFilter:
    enabled: bool = True
    includes: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    exclude_vectors: bool | None = None  # None: the index's default

    def drops_vectors(self, index: Index) -> bool:
        return (
            self.exclude_vectors if self.exclude_vectors is not None else excludes_vectors_by_default(index)
        )

    def render(self, source: dict[str, Any], index: Index) -> dict[str, Any]:
        """The `_source` of a hit or a document of `index` as this filter shows it."""
        if self.drops_vectors(index):
            source = without_vectors(source, index.mappings)
        elif not created_on_or_after_9_2(index):
            # Before 9.2 the metadata kept in the stored source is never part of `_source`.
            source = {k: v for k, v in source.items() if k not in HIDDEN_SOURCE_KEYS}
        return self.apply(source)

    @classmethod
    def parse(cls, body_value: Any, request: Request | None = None) -> SourceFilter:
        includes: list[str] = []
        excludes: list[str] = []
        enabled = True
        exclude_vectors = None
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
            if "exclude_vectors" in value:
                exclude_vectors = value["exclude_vectors"] in (True, "true")
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
        if "_source_exclude_vectors" in params:
            exclude_vectors = params["_source_exclude_vectors"] != "false"
        return cls(enabled, tuple(includes), tuple(excludes), exclude_vectors)

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
