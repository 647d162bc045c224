"""Searching semantic_text fields: the `semantic` query, `match` / `sparse_vector` / `exists` on
semantic_text fields, query-time inference with inference endpoints, and the `semantic` highlighter.

Query-time inference runs once per search in the pre-search step, with the field's
`search_inference_id` (else `inference_id`), input type SEARCH and a 10 s timeout
(`xpack.inference.query_timeout`); the results are kept in the query body per endpoint, so indices
whose fields use different endpoints each get theirs. A document scores as its best chunk: the dot
product of token weights (sparse) or (1 + cosine) / 2 (dense).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from es_sandbox.errors import EsError, illegal_argument, parse_error
from es_sandbox.inference import semantic_text as st
from es_sandbox.search import (
    HIGHLIGHTERS,
    QUERIES,
    Field,
    HighlightContext,
    Matcher,
    PrepareContext,
    QueryContext,
)
from es_sandbox.search.queries.common import boost_of, single
from es_sandbox.search.queries.inference import register_query_model_provider
from es_sandbox.search.queries.sparse import token_weights
from es_sandbox.search.queries.vectors import RESOLVED as RESOLVED_VECTOR
from es_sandbox.search.queries.vectors import parse_knn

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster

QUERY_TIMEOUT = 10.0  # xpack.inference.query_timeout
RESOLVED = "_resolved_embeddings"  # {inference_id: query embedding}, left by the pre-search step


async def _embed_query(cluster: Cluster, inference_id: str, text: str) -> Any:
    endpoint = cluster.inference.endpoint(inference_id)
    (result,) = await cluster.inference.embed(
        endpoint, [text], input_type="internal_search", timeout=QUERY_TIMEOUT
    )
    return result["embedding"]


async def _resolve(
    pctx: PrepareContext, field_name: str, text: Any, resolved: dict[str, Any]
) -> dict[str, Any]:
    """The query text's embedding for each endpoint the field uses in the indices searched."""
    out = dict(resolved)
    for index in pctx.indices:
        spec = _semantic_spec(index.mappings, field_name)
        if spec is None:
            continue
        inference_id = st.search_inference_id_of(spec)
        if inference_id not in out:
            out[inference_id] = await _embed_query(pctx.cluster, inference_id, str(text))
    return out


def _semantic_spec(mappings: dict[str, Any], field_name: str) -> dict[str, Any] | None:
    return dict(st.semantic_fields(mappings)).get(field_name)


def chunk_score(query: Any, embedding: Any) -> float | None:
    """A chunk's score: sparse dot product (None when no token is shared), dense (1 + cosine) / 2."""
    if isinstance(query, dict):
        if not isinstance(embedding, dict):
            return None
        shared = [t for t in query if t in embedding]
        return sum(query[t] * float(embedding[t]) for t in shared) if shared else None
    if not isinstance(embedding, list) or len(embedding) != len(query):
        return None
    dot = sum(a * b for a, b in zip(query, embedding, strict=True))
    norms = math.sqrt(sum(a * a for a in query)) * math.sqrt(sum(b * b for b in embedding))
    return (1.0 + (dot / norms if norms else 0.0)) / 2.0


def semantic_matcher(ctx: QueryContext, f: Field, embeddings: dict[str, Any], boost: float) -> Matcher:
    """Best chunk of the field, against the query embedding of the field's search endpoint."""
    assert f.spec is not None
    query = embeddings.get(st.search_inference_id_of(f.spec))

    def match(doc_id: str, source: dict[str, Any]) -> float | None:
        if query is None:
            return None
        scores = [chunk_score(query, c.get("embeddings")) for c in st.stored_chunks(source, f.name)]
        scores = [s for s in scores if s is not None]
        return max(scores) * boost if scores else None

    return match


# --- semantic ---------------------------------------------------------------------------------------


def _semantic_body(body: dict[str, Any]) -> tuple[str, Any]:
    for key in body:
        if key not in ("field", "query", "boost", "_name", "lenient", RESOLVED):
            raise parse_error(f"[semantic] unknown field [{key}]")
    if not isinstance(body.get("field"), str):
        raise illegal_argument("[semantic] query must have a [field] specified")
    if body.get("query") is None:
        raise illegal_argument("[semantic] query must have a [query] specified")
    return body["field"], body["query"]


async def _prepare_semantic(body: dict[str, Any], pctx: PrepareContext) -> dict[str, Any]:
    field_name, text = _semantic_body(body)
    return {**body, RESOLVED: await _resolve(pctx, field_name, text, body.get(RESOLVED) or {})}


@QUERIES.query("semantic", prepare=_prepare_semantic)
def semantic(ctx: QueryContext, body: dict[str, Any]) -> Matcher:
    field_name, _ = _semantic_body(body)
    f = ctx.field(field_name)
    if f.spec is None:
        return lambda doc_id, source: None  # an unmapped field matches nothing
    if f.type != st.TYPE:
        raise illegal_argument(f"Field [{field_name}] of type [{f.type}] does not support semantic queries")
    return semantic_matcher(ctx, f, body.get(RESOLVED) or {}, boost_of(body))


# --- match, sparse_vector and exists on semantic_text -------------------------------------------------


def _match_text(body: dict[str, Any]) -> tuple[str, Any, dict[str, Any]]:
    name, spec = single(body, "match")
    if isinstance(spec, dict):
        return name, spec.get("query"), spec
    return name, spec, {}


async def _prepare_match(body: dict[str, Any], pctx: PrepareContext, field_name: str) -> dict[str, Any]:
    name, text, spec = _match_text(body)
    resolved = await _resolve(pctx, field_name, text, spec.get(RESOLVED) or {})
    return {name: {**spec, "query": text, RESOLVED: resolved}}


@QUERIES.field_type("match", st.TYPE, prepare=_prepare_match)
def match_semantic_text(ctx: QueryContext, f: Field, body: dict[str, Any]) -> Matcher:
    _, _, spec = _match_text(body)
    return semantic_matcher(ctx, f, spec.get(RESOLVED) or {}, boost_of(spec))


async def _prepare_sparse_vector(
    body: dict[str, Any], pctx: PrepareContext, field_name: str
) -> dict[str, Any]:
    if "query_vector" in body or body.get("query") is None:
        return body
    if body.get("inference_id"):
        embedding = await _embed_query(pctx.cluster, body["inference_id"], str(body["query"]))
        return {**body, RESOLVED: {"*": embedding}}
    return {**body, RESOLVED: await _resolve(pctx, field_name, body["query"], body.get(RESOLVED) or {})}


@QUERIES.field_type("sparse_vector", st.TYPE, prepare=_prepare_sparse_vector)
def sparse_vector_semantic_text(ctx: QueryContext, f: Field, body: dict[str, Any]) -> Matcher:
    assert f.spec is not None
    resolved = dict(body.get(RESOLVED) or {})
    if "query_vector" in body:
        resolved = {st.search_inference_id_of(f.spec): token_weights(body["query_vector"])}
    elif "*" in resolved:
        resolved = {st.search_inference_id_of(f.spec): resolved["*"]}
    return semantic_matcher(ctx, f, resolved, boost_of(body))


@QUERIES.field_type("exists", st.TYPE)
def exists_semantic_text(ctx: QueryContext, f: Field, body: dict[str, Any]) -> Matcher:
    """A semantic_text field exists where it has chunks: null, absent and blank values have none."""
    boost = boost_of(body)
    return lambda doc_id, source: boost if st.stored_chunks(source, f.name) else None


async def _prepare_knn(body: dict[str, Any], pctx: PrepareContext, field_name: str) -> dict[str, Any]:
    """knn on semantic_text (8.18+): the builder's `model_id` may be left out, the field's endpoint
    embeds `model_text`; an index mapping the name as a plain dense_vector still needs it (the knn
    query's own step then refuses the builder without it)."""
    builder = (body.get("query_vector_builder") or {}).get("text_embedding")
    if not isinstance(builder, dict) or builder.get("model_id") is not None or RESOLVED_VECTOR in body:
        return body
    if pctx.field_types(field_name) != {st.TYPE}:
        return body
    resolved = await _resolve(pctx, field_name, builder.get("model_text"), {})
    return {**body, RESOLVED_VECTOR: next(iter(resolved.values()))} if resolved else body


@QUERIES.field_type("knn", st.TYPE, prepare=_prepare_knn)
def knn_semantic_text(ctx: QueryContext, f: Field, body: dict[str, Any]) -> Matcher:
    """The k documents whose best chunk is nearest to the query vector, scored (1 + cosine) / 2."""
    assert f.spec is not None
    if (f.spec.get("model_settings") or {}).get("task_type") == "sparse_embedding":
        raise illegal_argument(
            f"Field [{f.name}] of type [{st.TYPE}] does not support knn queries: its inference endpoint "
            "produces sparse embeddings"
        )
    spec = parse_knn(body, top_level=False)
    if spec.vector is None:
        raise illegal_argument("knn query with a query_vector_builder must be rewritten before it runs")
    best_chunk = semantic_matcher(ctx, f, {st.search_inference_id_of(f.spec): spec.vector}, spec.boost)
    filters = [ctx.compile(q) for q in spec.filters]
    k, candidates = spec.sizes(ctx.request_size)
    scored = []
    for doc_id, doc in ctx.documents().items():
        if any(flt(doc_id, doc.source) is None for flt in filters):
            continue
        score = best_chunk(doc_id, doc.source)
        if score is not None and (spec.similarity is None or 2 * score / spec.boost - 1 >= spec.similarity):
            scored.append((score, -doc.seq_no, doc_id))
    nearest = {doc_id: score for score, _, doc_id in sorted(scored, reverse=True)[: min(k, candidates)]}
    return lambda doc_id, source: nearest.get(doc_id)


# --- query-time inference for other query types -------------------------------------------------------


async def endpoint_query_model(cluster: Cluster, model_id: str, text: str, task: str) -> Any:
    """Query model provider: inference endpoint ids (text_expansion, sparse_vector, knn builders)."""
    try:
        endpoint = cluster.inference.endpoint(model_id)
    except EsError:
        return None  # not an endpoint: the ML subsystem answers
    if endpoint.task_type != task:
        if task == "text_embedding":
            received = (
                "text_expansion_result" if endpoint.task_type == "sparse_embedding" else "text_similarity"
            )
            raise EsError(
                500,
                "illegal_state_exception",
                f"expected a result of type [text_embedding_result] received [{received}]. "
                f"Is [{model_id}] a text embedding model?",
            )
        raise illegal_argument(
            f"model [{model_id}] must be a sparse embedding (text_expansion) model to be used by this query"
        )
    return await _embed_query(cluster, model_id, text)


register_query_model_provider(endpoint_query_model)


# --- highlighting -------------------------------------------------------------------------------------


def _query_embeddings(query: Any, field_name: str) -> dict[str, Any]:
    """The resolved query embeddings of the queries on `field_name` anywhere in a prepared query."""
    found: dict[str, Any] = {}

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            targets = node.get("field") == field_name or field_name in node
            if targets and isinstance(node.get(RESOLVED), dict):
                found.update(node[RESOLVED])
            if targets and isinstance(node.get(RESOLVED_VECTOR), list):
                found.setdefault("*", node[RESOLVED_VECTOR])  # a knn's query vector
            for value in node.values():
                walk(value)

    walk(query)
    return found


def highlight_chunks(ctx: HighlightContext) -> list[str] | None:
    """SemanticTextHighlighter: the best `number_of_fragments` chunks as their texts (offset
    substrings of the field's values), in document order unless `order` is `score`."""
    f = ctx.field
    if f.type != st.TYPE or f.spec is None:
        return None
    embeddings = _query_embeddings(ctx.query, f.name)
    query = embeddings.get(st.search_inference_id_of(f.spec)) or embeddings.get("*")
    if query is None:
        return None
    scored = []
    for position, (_, chunk, text) in enumerate(st.chunk_texts(ctx.source, f.name)):
        score = chunk_score(query, chunk.get("embeddings"))
        if score is not None:
            scored.append((score, position, text))
    scored.sort(key=lambda s: -s[0])
    best = scored[: int(ctx.options.get("number_of_fragments") or 5)]
    if ctx.options.get("order") != "score":
        best.sort(key=lambda s: s[1])
    return [chunk_text for _, _, chunk_text in best]


HIGHLIGHTERS.register("semantic", highlight_chunks)
HIGHLIGHTERS.set_default(st.TYPE, "semantic")
