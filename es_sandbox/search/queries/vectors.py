"""Dense vectors: the `knn` query, the top-level `knn` search, and the similarity functions they and
`script_score` share. Search is exact (every candidate is compared); scores are Elasticsearch's.

`_score` per similarity (VectorSimilarity.score): cosine (1 + cos) / 2; dot_product (1 + dot) / 2
(byte vectors 0.5 + dot / (dims * 2^15)); l2_norm 1 / (1 + d^2); max_inner_product 1 / (1 - ip) when
ip < 0, else ip + 1; times `boost`. The `similarity` parameter thresholds the raw similarity (for
l2_norm: the largest distance)."""

from __future__ import annotations

import base64
import binascii
import heapq
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from es_sandbox import mappings as mp
from es_sandbox.errors import EsError, illegal_argument
from es_sandbox.search.fields import Field, FieldResolver
from es_sandbox.search.queries.common import boost_of, named_field
from es_sandbox.search.queries.inference import infer_dense
from es_sandbox.search.queries.registry import QUERIES, Matcher, PrepareContext, QueryContext

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster
    from es_sandbox.indices import Doc, Index

NUM_CANDS_LIMIT = 10_000
DEFAULT_SIZE = 10
RESOLVED = "_resolved_vector"  # where the pre-search step leaves the query_vector_builder's vector
_KNN_QUERY_KEYS = {
    "field",
    "query_vector",
    "query_vector_base64",
    "query_vector_builder",
    "k",
    "num_candidates",
    "visit_percentage",
    "similarity",
    "filter",
    "rescore_vector",
    "boost",
    "_name",
    RESOLVED,
}
_KNN_SEARCH_KEYS = (_KNN_QUERY_KEYS - {"query_vector_base64"}) | {"inner_hits", "optimized_rescoring"}


# --- similarity ------------------------------------------------------------------------------------


def raw_similarity(similarity: str, query: list[float], doc: list[float]) -> float:
    """The similarity before it becomes a score: the cosine, the dot product, or the l2 distance."""
    if similarity == "l2_norm":
        return math.sqrt(sum((a - b) * (a - b) for a, b in zip(query, doc, strict=True)))
    dot = sum(a * b for a, b in zip(query, doc, strict=True))
    if similarity == "cosine":
        norms = math.sqrt(sum(a * a for a in query)) * math.sqrt(sum(b * b for b in doc))
        return dot / norms if norms else 0.0
    return dot


def score_of(similarity: str, raw: float, element_type: str = "float", dims: int = 0) -> float:
    if similarity == "l2_norm":
        return 1.0 / (1.0 + raw * raw)
    if similarity == "cosine":
        return (1.0 + raw) / 2.0
    if similarity == "dot_product":
        if element_type == "byte":
            return 0.5 + raw / (dims * (1 << 15))
        return (1.0 + raw) / 2.0
    return 1.0 / (1.0 - raw) if raw < 0 else raw + 1.0  # max_inner_product


def passes_threshold(similarity: str, raw: float, threshold: float | None) -> bool:
    if threshold is None:
        return True
    return raw <= threshold if similarity == "l2_norm" else raw >= threshold


# --- parsing ---------------------------------------------------------------------------------------


@dataclass
class KnnSpec:
    """One knn request (query or top-level) once parsed; `vector` is None until known."""

    field: str
    k: int | None
    num_candidates: int | None
    vector: list[float] | None
    base64: str | None
    similarity: float | None
    boost: float
    filters: list[Any] = field(default_factory=list)

    def sizes(self, request_size: int | None) -> tuple[int, int]:
        """(k, num_candidates) as KnnVectorQueryBuilder.doToQuery defaults them."""
        k = self.k
        if k is None:
            k = DEFAULT_SIZE if request_size is None or request_size < 0 else request_size
            if self.num_candidates is not None:
                k = min(k, self.num_candidates)
        cands = self.num_candidates
        if cands is None:
            cands = _java_round(min(1.5 * k, NUM_CANDS_LIMIT))
        return k, cands


def _java_round(value: float) -> int:
    return math.floor(value + 0.5)


def _int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _xcontent(f"[knn] {key} doesn't support values of type: {_token(value)}")
    try:
        return int(value)
    except ValueError:
        raise _xcontent(f"[knn] failed to parse field [{key}]") from None


def _float(body: dict[str, Any], key: str) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _xcontent(f"[knn] failed to parse field [{key}]") from None


def _xcontent(reason: str, cause: EsError | None = None) -> EsError:
    return EsError(400, "x_content_parse_exception", reason, caused_by=cause.to_xcontent() if cause else None)


def _token(value: Any) -> str:
    if isinstance(value, dict):
        return "START_OBJECT"
    if isinstance(value, list):
        return "START_ARRAY"
    return "VALUE_BOOLEAN" if isinstance(value, bool) else "VALUE_STRING"


def _vector(value: Any, key: str) -> list[float]:
    if isinstance(value, str):  # a hex-encoded byte vector
        try:
            return [float(b if b < 128 else b - 256) for b in bytes.fromhex(value)]
        except ValueError:
            raise _xcontent(f"[knn] failed to parse field [{key}]") from None
    if not isinstance(value, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value
    ):
        raise _xcontent(f"[knn] failed to parse field [{key}]")
    return [float(v) for v in value]


def parse_knn(body: Any, *, top_level: bool) -> KnnSpec:
    """KnnVectorQueryBuilder's parser (query) or KnnSearchBuilder's (top-level `knn`), their checks
    and texts: a query's checks fail its construction (x_content_parse_exception "Failed to build
    [knn] after last required field arrived"), a top-level knn's fail the request."""
    if not isinstance(body, dict):
        raise _xcontent("[knn] query malformed, no start_object after query name")
    allowed = _KNN_SEARCH_KEYS if top_level else _KNN_QUERY_KEYS
    for key in body:
        if key not in allowed:
            raise _xcontent(f"[knn] unknown field [{key}]")
    if not isinstance(body.get("field"), str):
        raise illegal_argument("Required [field]")
    spec = KnnSpec(
        field=body["field"],
        k=_int(body, "k"),
        num_candidates=_int(body, "num_candidates"),
        vector=_vector(body["query_vector"], "query_vector")
        if body.get("query_vector") is not None
        else None,
        base64=body.get("query_vector_base64"),
        similarity=_float(body, "similarity"),
        boost=boost_of(body),
        filters=[
            f for f in (body["filter"] if isinstance(body.get("filter"), list) else [body.get("filter")]) if f
        ],
    )
    if RESOLVED in body:
        spec.vector = [float(v) for v in body[RESOLVED]]
    if body.get("query_vector_builder") is not None:
        _check_builder(body["query_vector_builder"])
    problem = _problem(spec, body, top_level)
    if problem is not None:
        if top_level:
            raise illegal_argument(problem)
        raise _xcontent("Failed to build [knn] after last required field arrived", illegal_argument(problem))
    return spec


def _problem(spec: KnnSpec, body: dict[str, Any], top_level: bool) -> str | None:
    k, cands = spec.k, spec.num_candidates
    builder = body.get("query_vector_builder")
    if top_level:
        if k is not None and k < 1:
            return "[k] must be greater than 0"
        if k is not None and cands is not None and cands < k:
            return "[num_candidates] cannot be less than [k]"
        if cands is not None and cands > NUM_CANDS_LIMIT:
            return f"[num_candidates] cannot exceed [{NUM_CANDS_LIMIT}]"
        if body.get("query_vector") is None and builder is None:
            return "either [query_vector_builder] or [query_vector] must be provided"
        if body.get("query_vector") is not None and builder is not None:
            return "cannot provide both [query_vector_builder] and [query_vector]"
        return None
    if k is not None and k < 1:
        return "[k] must be greater than 0"
    if cands is not None and cands > NUM_CANDS_LIMIT:
        return f"[num_candidates] cannot exceed [{NUM_CANDS_LIMIT}]"
    if k is not None and cands is not None and cands < k:
        return "[num_candidates] cannot be less than [k]"
    sources = sum(
        body.get(key) is not None for key in ("query_vector", "query_vector_base64", "query_vector_builder")
    )
    if sources == 0:
        return "either [query_vector], [query_vector_base64], or [query_vector_builder] must be provided"
    if sources > 1:
        return (
            "only one of [query_vector], [query_vector_base64], and [query_vector_builder] must be provided"
        )
    return None


def check_top_level_sizes(spec: KnnSpec, size: int) -> tuple[int, int]:
    """KnnSearchBuilder.Builder.build(size): k defaults to the request's size, num_candidates to
    1.5 k (at most 10000), then the constructor's checks."""
    k = spec.k if spec.k is not None else (size if size >= 0 else DEFAULT_SIZE)
    cands = (
        spec.num_candidates if spec.num_candidates is not None else _java_round(min(1.5 * k, NUM_CANDS_LIMIT))
    )
    if k < 1:
        raise illegal_argument("[k] must be greater than 0")
    if cands < k:
        raise illegal_argument("[num_candidates] cannot be less than [k]")
    if cands > NUM_CANDS_LIMIT:
        raise illegal_argument(f"[num_candidates] cannot exceed [{NUM_CANDS_LIMIT}]")
    return k, cands


# --- query vector builders -------------------------------------------------------------------------


def _check_builder(builder: Any) -> None:
    """The query vector builders a default distribution knows: text_embedding (model_text required)."""
    if not isinstance(builder, dict) or len(builder) != 1:
        raise _xcontent("[knn] failed to parse field [query_vector_builder]")
    ((kind, settings),) = builder.items()
    if kind != "text_embedding":
        raise EsError(
            400,
            "x_content_parse_exception",
            "[knn] failed to parse field [query_vector_builder]",
            caused_by={"type": "named_object_not_found_exception", "reason": f"unknown field [{kind}]"},
        )
    if not isinstance(settings, dict) or not isinstance(settings.get("model_text"), str):
        raise _xcontent(
            "[knn] failed to parse field [query_vector_builder]", illegal_argument("Required [model_text]")
        )


async def resolve_vector(body: dict[str, Any], pctx: PrepareContext) -> dict[str, Any]:
    """The `query_vector_builder` of a knn (query or top-level) turned into a vector, once per search:
    `text_embedding.model_id` is resolved by queries.inference.infer_query_text (an inference endpoint
    id, a trained model id, a deployment id or a model alias) with `model_text` as input."""
    builder = body.get("query_vector_builder")
    if builder is None or RESOLVED in body:
        return body
    _check_builder(builder)
    settings = builder["text_embedding"]
    model_id = settings.get("model_id")
    if model_id is None:
        raise illegal_argument("[model_id] must not be null.")
    vector = await infer_dense(pctx.cluster, str(model_id), settings["model_text"])
    return {**body, RESOLVED: vector}


# --- the knn query ---------------------------------------------------------------------------------


def _shard_error(ctx: QueryContext, reason: str) -> EsError:
    """SearchExecutionContext.toQuery's wrapping of an exception raised while building a query."""
    extra = {"index_uuid": ctx.index.uuid, "index": ctx.index.name} if ctx.index is not None else {}
    return EsError(
        400,
        "query_shard_exception",
        f"failed to create query: {reason}",
        extra=extra,
        caused_by={"type": "illegal_argument_exception", "reason": reason},
    )


def query_vector(ctx: QueryContext, spec: KnnSpec, f: Field) -> list[float]:
    if spec.vector is not None:
        vector = spec.vector
    else:
        vector = _decode_base64(ctx, spec.base64 or "", (f.spec or {}).get("element_type", "float"))
    dims = (f.spec or {}).get("dims")
    if dims is not None and len(vector) != dims:
        raise _shard_error(
            ctx,
            f"The query vector has a different number of dimensions [{len(vector)}] than the document vectors [{dims}].",
        )
    problem = mp.vector_problem(
        vector, (f.spec or {}).get("similarity"), (f.spec or {}).get("element_type", "float")
    )
    if problem:
        raise _shard_error(ctx, problem)
    return vector


def _decode_base64(ctx: QueryContext, text: str, element_type: str) -> list[float]:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise _shard_error(ctx, f"[query_vector_base64] must be a valid base64 string: {err}") from None
    if element_type in ("byte", "bit"):
        return [float(b if b < 128 else b - 256) for b in raw]
    if len(raw) % 4:
        raise _shard_error(
            ctx,
            "[query_vector_base64] must contain a valid Base64-encoded float vector, but the decoded bytes length "
            f"[{len(raw)}] is not a multiple of 4",
        )
    return list(struct.unpack(f">{len(raw) // 4}f", raw))


def nearest(ctx: QueryContext, spec: KnnSpec, k: int, num_candidates: int) -> dict[str, float]:
    """doc id -> score of the k nearest documents of one index (exact search over its candidates)."""
    f = ctx.field(spec.field)
    if f.spec is None:
        return {}  # an unmapped field matches nothing
    if f.type != "dense_vector":
        raise _shard_error(ctx, "[knn] queries are only supported on [dense_vector] fields")
    vector = query_vector(ctx, spec, f)
    filters = [ctx.compile(q) for q in spec.filters]
    similarity = f.spec.get("similarity") or "cosine"
    element_type = f.spec.get("element_type", "float")
    scored: list[tuple[float, str]] = []
    for doc_id, doc in ctx.documents().items():
        values = f.values(doc.source)
        if len(values) != len(vector) or not all(isinstance(v, int | float) for v in values):
            continue
        if any(flt(doc_id, doc.source) is None for flt in filters):
            continue
        raw = raw_similarity(similarity, vector, [float(v) for v in values])
        if not passes_threshold(similarity, raw, spec.similarity):
            continue
        scored.append((score_of(similarity, raw, element_type, len(vector)) * spec.boost, doc_id))
    best = heapq.nlargest(min(k, num_candidates), scored, key=lambda s: (s[0], _neg(s[1], ctx)))
    return {doc_id: score for score, doc_id in best}


def _neg(doc_id: str, ctx: QueryContext) -> int:
    """Ties go to the document indexed first, as Lucene's doc order breaks them."""
    doc = ctx.documents().get(doc_id)
    return -doc.seq_no if doc is not None else 0


async def _prepare_knn(body: dict[str, Any], pctx: PrepareContext) -> dict[str, Any]:
    parse_knn(body, top_level=False)  # refuse a malformed query before running a model for it
    return await resolve_vector(body, pctx)


@QUERIES.query("knn", prepare=_prepare_knn, children=("filter",), field_of=named_field)
def knn_query(ctx: QueryContext, body: dict[str, Any]) -> Matcher:
    spec = parse_knn(body, top_level=False)
    if spec.vector is None and spec.base64 is None:
        raise illegal_argument("knn query with a query_vector_builder must be rewritten before it runs")
    k, cands = spec.sizes(ctx.request_size)
    scores = nearest(ctx, spec, k, cands)
    return lambda doc_id, source: scores.get(doc_id)


# --- the top-level knn search ----------------------------------------------------------------------


def parse_knn_search(value: Any) -> list[dict[str, Any]]:
    entries = value if isinstance(value, list) else [value]
    for entry in entries:
        parse_knn(entry, top_level=True)
    return entries


async def prepare_knn_search(entries: list[dict[str, Any]], pctx: PrepareContext) -> list[dict[str, Any]]:
    """Each top-level knn's pre-search steps, run as the knn query's (field-type overrides included)."""
    prepared = []
    for entry in entries:
        query = await pctx.prepare({"knn": _as_query(entry)})
        prepared.append({**entry, **query["knn"]})
    return prepared


def _as_query(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if k not in ("inner_hits", "optimized_rescoring")}


def knn_search_scores(
    entries: list[dict[str, Any]],
    indices: list[Index],
    docs_of: list[Mapping[str, Doc]],
    size: int,
    cluster: Cluster,
) -> dict[tuple[str, str], float]:
    """(index, doc id) -> summed score of the top-level knn searches: each runs as a knn query with
    its k and num_candidates on every shard, then the global k nearest are kept (the DFS merge)."""
    from es_sandbox.search.errors import all_shards_failed

    total: dict[tuple[str, str], float] = {}
    for entry in entries:
        spec = parse_knn(entry, top_level=True)
        k, cands = check_top_level_sizes(spec, size)
        query = {"knn": {**_as_query(entry), "k": k, "num_candidates": cands}}
        found: list[tuple[float, int, int, str, str]] = []
        for shard, (index, docs) in enumerate(zip(indices, docs_of, strict=True)):
            ctx = QueryContext(FieldResolver(index.mappings), index, docs, cluster, request_size=size)
            try:
                matcher = ctx.compile(query)
            except EsError as err:
                if err.type in ("parsing_exception", "x_content_parse_exception"):
                    raise
                raise all_shards_failed(err, [index], cluster) from None
            for doc_id, doc in docs.items():
                score = matcher(doc_id, doc.source)
                if score is not None:
                    found.append((score, -shard, -doc.seq_no, index.name, doc_id))
        for score, _, _, index_name, doc_id in heapq.nlargest(k, found):
            total[(index_name, doc_id)] = total.get((index_name, doc_id), 0.0) + score
    return total
