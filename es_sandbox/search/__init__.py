"""Search: the query DSL, `_search` / `_count`, sorting, `_source` filtering, totals, and paging over
a snapshot (point in time + search_after, scroll).

Layout (state, then routes, as in `ml/`):
    service.py   SearchService, the subsystem at `cluster.search`: open points in time and scrolls
                 (node memory: reset and node restarts drop them, persistence keeps none)
    api.py       the search endpoints: _search, _msearch, _count, scroll, point in time
    discovery.py _field_caps, _mapping/field, _resolve/index;  analyze.py  _analyze
    introspect.py _validate/query and _explain
    request.py   the search request as RestSearchAction parses it; source_builder.py  what of its
                 body is read token by token as SearchSourceBuilder reads it (scalars, _source,
                 search_after, sort); scroll_request.py  the scroll and clear-scroll requests
    hits.py      matching, ordering and paging hits; the response's shape
    sorting.py   sort specs and sort values;  source.py  `_source` filtering
    highlight.py the `highlight` section and the registry of highlighters (HIGHLIGHTERS; its contract
                 is in that module's docstring: a highlighter by name, a default per field type)
    fields.py    the analyzer, values at a path, and each field's mapping;  dates.py  date math
    queries/     the query DSL: `registry.py` (the one registry), the built-in query types
                 (compound, term_level, full_text, sparse), and query-time inference (`inference.py`)

Used by other subsystems:
    compile_query(query, cluster, index=, docs=) -> (doc_id, source) -> score | None
    await prepare_query(query, cluster, indices)  the pre-search steps (query-time inference)
    SourceFilter                                  `_source` includes / excludes

Query type registry (`es_sandbox.search.queries.registry.QUERIES`)
------------------------------------------------------------------
Every query type, built in or not, is an entry in ONE registry, name -> compiler. A subsystem adds
its query types by registering them when its package is imported (the cluster's wiring point imports
every subsystem package), never by editing the compiler:

    from es_sandbox.search import QUERIES, QueryContext, PrepareContext, Matcher

    @QUERIES.query("semantic", prepare=resolve_semantic, field_of=lambda body: body.get("field"))
    def compile_semantic(ctx: QueryContext, body: dict) -> Matcher: ...

- **Compiler** `compile(ctx, body) -> Matcher`, called once per searched index with the query's body
  (what follows the query name). A Matcher is `(doc_id, source) -> float | None`: the score, or None
  when the document does not match; `source` is the stored `_source`. Raise EsError for bad input
  (`parsing_exception` answers as is; other errors are wrapped as a shard failure,
  `search_phase_execution_exception` "all shards failed", as the coordinator wraps them).
- **Field mapping information** comes from the context: `ctx.field(name)` returns a `Field` with
  `.type` (the mapped type, e.g. `semantic_text`; None when unmapped), `.spec` (the field's mapping as
  stored: `inference_id`, `dims`, `similarity`...), `.kind` and `.values(source)`. `ctx.index` is the
  index searched, `ctx.documents()` the documents this search reads (a point in time reads its
  snapshot; for types that must rank the whole index first, such as knn's top k), `ctx.cluster` the
  other subsystems, `ctx.compile(query)` / `ctx.compile_clauses(value)` compile nested queries.
- **Nested queries** are declared with `children=("filter", ...)`: the body keys holding a query or
  a list of queries, so the pre-search steps reach the queries inside (bool clauses, knn filters).
- **Pre-search step** `prepare=async (body, pctx) -> body`: runs once per search, before any index is
  compiled, on the coordinating side as ES's query rewrite does; this is where query-time inference
  happens (`queries.inference.infer_query_text`). It returns the body to compile, typically with the
  model's result added under a private key (the sparse queries use `_resolved_tokens`). `pctx` is a
  `PrepareContext`: `.cluster`, `.indices` (every index searched), `.field_types(name)` (the type of a
  field in each of them) and `.overridden(query, name)`. Steps run children first, then field-type
  overrides' steps (below), then the query type's own.
- **Field-type overrides.** A query registered with `field_of=` (body -> the targeted field's name)
  can be given another behaviour for fields of one mapped type, without touching its compiler:

      @QUERIES.field_type("match", "semantic_text", prepare=infer_for_match)
      def match_semantic_text(ctx: QueryContext, field: Field, body: dict) -> Matcher: ...

  When the field is mapped with that type in the index being compiled, the override's compiler
  replaces the query's own, and its `prepare=async (body, pctx, field_name) -> body` runs if any
  index searched maps the field with that type. Built-in types with `field_of`: match, match_phrase,
  term, terms, prefix, wildcard, range, exists, weighted_tokens, text_expansion, sparse_vector.
- **Model resolution for query-time inference**: `queries.inference.register_query_model_provider`
  adds a provider asked before the ML subsystem (which resolves trained-model ids, deployment ids and
  model aliases); an inference subsystem registers one that answers for its endpoint ids.
"""

from es_sandbox.http import Router
from es_sandbox.search import analyze, api, discovery, introspect
from es_sandbox.search.fields import Field
from es_sandbox.search.highlight import HIGHLIGHTERS, HighlightContext
from es_sandbox.search.queries import (
    QUERIES,
    Matcher,
    PrepareContext,
    QueryContext,
    compile_query,
    prepare_query,
)
from es_sandbox.search.service import SearchService
from es_sandbox.search.source import SourceFilter

router = Router()  # the package's endpoints: search, discovery, _analyze, _validate and _explain
router.entries = [
    *api.router.entries,
    *discovery.router.entries,
    *analyze.router.entries,
    *introspect.router.entries,
]

__all__ = [
    "HIGHLIGHTERS",
    "QUERIES",
    "Field",
    "HighlightContext",
    "Matcher",
    "PrepareContext",
    "QueryContext",
    "SearchService",
    "SourceFilter",
    "compile_query",
    "prepare_query",
    "router",
]
