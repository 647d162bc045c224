"""The `fields` option of a search: values of mapped fields, read from `_source` and returned as
arrays whatever `_source` filtering (and vector exclusion) does to the hit's `_source`.

A field type may fetch its own values (MappedFieldType.valueFetcher), in the format the request asks
for: `register_value_fetcher(type, fetch)` with `fetch(source, path, spec, format) -> values`; it may
raise an EsError for a format it does not know (a failure of the fetch phase).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import Any

from es_sandbox import mappings as mp
from es_sandbox.search.fields import FieldResolver, mapped_paths

ValueFetcher = Callable[[dict[str, Any], str, dict[str, Any], str | None], list[Any]]
VALUE_FETCHERS: dict[str, ValueFetcher] = {}


def register_value_fetcher(field_type: str, fetch: ValueFetcher) -> None:
    VALUE_FETCHERS[field_type] = fetch


def fetch_fields(
    source: dict[str, Any], mappings: dict[str, Any], patterns: list[tuple[str, str | None]]
) -> dict[str, list[Any]]:
    resolver = FieldResolver(mappings)
    paths = mapped_paths(mappings.get("properties", {}))
    out: dict[str, list[Any]] = {}
    for pattern, value_format in patterns:
        for path in paths if "*" in pattern else [pattern]:
            if path in out or not fnmatch.fnmatchcase(path, pattern):
                continue
            f = resolver(path)
            if f.spec is None or f.type in mp.OBJECT_TYPES:
                continue
            fetch = VALUE_FETCHERS.get(f.type or "")
            values = fetch(source, path, f.spec, value_format) if fetch else f.values(source)
            if f.type == "dense_vector":
                values = [float(v) for v in values]
            elif f.type in ("sparse_vector", "rank_features"):
                values = [v for v in values if isinstance(v, dict)]
            elif f.type in mp.NUMERIC_TYPES:
                values = [_number(v, f.type) for v in values]
            if values:
                out[path] = values
    return out


def _number(value: Any, ftype: str) -> Any:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value
    return int(number) if ftype in mp.INTEGER_TYPES else number
