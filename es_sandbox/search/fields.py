"""How queries, sorts and highlighters see a document's fields: the analyzer, values at a dotted
path, and each field's mapping (its type, kind and where its values live in `_source`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from es_sandbox import mappings as mp

_TOKEN_RE = re.compile(r"\w+", re.UNICODE)


def analyze(text: Any) -> list[str]:
    """The standard analyzer, near enough: lower-cased word tokens."""
    return _TOKEN_RE.findall(str(text).lower())


def extract(source: Any, path: str) -> list[Any]:
    """Values at a dotted path, arrays flattened, nulls dropped; literal dotted keys are found too."""
    out: list[Any] = []
    _collect(source, path.split("."), out)
    return out


def _collect(node: Any, parts: list[str], out: list[Any]) -> None:
    if isinstance(node, list):
        for item in node:
            _collect(item, parts, out)
        return
    if not parts:
        if node is not None:
            out.append(node)
        return
    if not isinstance(node, dict):
        return
    for i in range(1, len(parts) + 1):
        key = ".".join(parts[:i]) if i > 1 else parts[0]
        if key in node:
            _collect(node[key], parts[i:], out)


def leaf_paths(source: dict[str, Any], prefix: str = "") -> Iterable[str]:
    """Dotted paths of the non-object values of a source."""
    for key, value in source.items():
        if isinstance(value, dict):
            yield from leaf_paths(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


@dataclass(frozen=True)
class Field:
    """How a queried field behaves: its kind and where its values live in _source.

    `spec` is the field's mapping as stored (None when the field is not mapped), so a query type
    reads any mapping parameter it needs from it (`inference_id`, `dims`, `similarity`...)."""

    name: str
    kind: str  # text | keyword | numeric | date | boolean | sparse | dense | object | auto
    source_path: str
    spec: dict[str, Any] | None = None

    @property
    def type(self) -> str | None:
        """The mapped type (`text`, `dense_vector`, `semantic_text`...), None when unmapped."""
        return None if self.spec is None else mp.field_type_of(self.spec)

    def values(self, source: dict[str, Any]) -> list[Any]:
        values = extract(source, self.source_path)
        if self.kind == "keyword" and self.spec:
            limit = self.spec.get("ignore_above")
            if limit is not None:
                values = [v for v in values if not isinstance(v, str) or len(v) <= limit]
        return values


def kind_of(ftype: str | None) -> str:
    if ftype is None:
        return "auto"
    if ftype in ("text", "match_only_text", "semantic_text"):
        return "text"
    if ftype in ("keyword", "wildcard", "constant_keyword", "version", "ip"):
        return "keyword"
    if ftype in mp.NUMERIC_TYPES:
        return "numeric"
    if ftype in ("date", "date_nanos"):
        return "date"
    if ftype == "boolean":
        return "boolean"
    if ftype in ("sparse_vector", "rank_features"):
        return "sparse"
    if ftype == "dense_vector":
        return "dense"
    if ftype in mp.OBJECT_TYPES:
        return "object"
    return "keyword"


class FieldResolver:
    """Field lookups against one index's mapping (or the dynamic defaults when there is none)."""

    def __init__(self, mappings: dict[str, Any] | None) -> None:
        self.mappings = mappings or {}
        self._cache: dict[str, Field] = {}

    def __call__(self, name: str) -> Field:
        found = self._cache.get(name)
        if found is None:
            found = self._cache[name] = self._resolve(name)
        return found

    def _resolve(self, name: str) -> Field:
        parent, _, leaf = name.rpartition(".")
        if parent:
            parent_spec = mp.lookup(self.mappings, parent)
            if parent_spec is not None and leaf in parent_spec.get("fields", {}):
                sub = parent_spec["fields"][leaf]
                return Field(name, kind_of(sub.get("type")), parent, sub)
        spec = mp.lookup(self.mappings, name)
        if spec is not None:
            return Field(name, kind_of(mp.field_type_of(spec)), name, spec)
        if parent and leaf == "keyword" and mp.lookup(self.mappings, parent) is None:
            # What dynamic mapping would have made of an unseen string field.
            return Field(name, "keyword", parent, {"type": "keyword", "ignore_above": 256})
        return Field(name, "auto", name, None)

    def mapped(self, name: str) -> bool:
        return self(name).spec is not None


def mapped_paths(properties: dict[str, Any], prefix: str = "") -> list[str]:
    """Every mapped field's full name, objects and multi-fields included, in mapping order."""
    out = []
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        out.append(path)
        out += mapped_paths(spec.get("properties", {}), f"{path}.")
        out += [f"{path}.{sub}" for sub in spec.get("fields", {})]
    return out
