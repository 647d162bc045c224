"""The query DSL: query types registered in one registry (`QUERIES`), compiled per index into
matchers, after an optional pre-search step. Importing this package registers the built-in types."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from es_sandbox.search.fields import FieldResolver
from es_sandbox.search.queries import (  # noqa: F401  (registration)
    compound,
    full_text,
    query_string,
    script_score,
    sparse,
    term_level,
    vectors,
)
from es_sandbox.search.queries.registry import QUERIES, Matcher, PrepareContext, QueryContext

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster
    from es_sandbox.indices import Doc, Index


def compile_query(
    query: dict[str, Any] | None,
    cluster: Cluster | None = None,
    *,
    index: Index | None = None,
    docs: Mapping[str, Doc] | None = None,
    size: int | None = None,
) -> Matcher:
    """A matcher for one query on one index: None for no match, else the score. The query must have
    been through prepare_query if it holds parts that need a model."""
    if not query:
        return lambda doc_id, source: 1.0
    resolver = FieldResolver(index.mappings if index is not None else None)
    return QueryContext(resolver, index, docs, cluster, request_size=size).compile(query)


async def prepare_query(
    query: dict[str, Any] | None, cluster: Cluster, indices: list[Index] | None = None
) -> dict[str, Any] | None:
    """Run the pre-search steps of every query type in `query` (query-time inference), once per
    search, before compile_query runs it over documents. `indices` are the indices searched (field
    types decide field-type overrides' steps; without them only the query types' own steps run)."""
    return await PrepareContext(cluster, list(indices or [])).prepare(query)


__all__ = ["QUERIES", "Matcher", "PrepareContext", "QueryContext", "compile_query", "prepare_query"]
