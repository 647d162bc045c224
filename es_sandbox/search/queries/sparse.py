"""Sparse vector queries scored by dot product: weighted_tokens, text_expansion, sparse_vector.
`text_expansion.model_text` and `sparse_vector.query` are expanded by the model before the search."""

from __future__ import annotations

from typing import Any

from es_sandbox.errors import illegal_argument, parse_error
from es_sandbox.search.queries.common import boost_of, named_field, single, single_field
from es_sandbox.search.queries.inference import infer_sparse
from es_sandbox.search.queries.registry import QUERIES, Matcher, PrepareContext, QueryContext
from es_sandbox.xcontent import text
from es_sandbox.xcontent import token as token_of

RESOLVED = "_resolved_tokens"  # where a pre-search step leaves the model's token weights


def token_weights(tokens: Any) -> dict[str, float]:
    if isinstance(tokens, dict):
        return {str(k): float(v) for k, v in tokens.items()}
    if isinstance(tokens, list):
        out: dict[str, float] = {}
        for item in tokens:
            if isinstance(item, dict) and "token" in item and "weight" in item:
                out[str(item["token"])] = float(item["weight"])
            elif isinstance(item, dict):
                out.update({str(k): float(v) for k, v in item.items()})
        return out
    raise parse_error("[tokens] must be an object of token to weight")


def sparse_matcher(ctx: QueryContext, name: str, tokens: dict[str, float], boost: float) -> Matcher:
    """Dot product of the query's token weights with the field's, times boost; no shared token, no hit."""
    f = ctx.field(name)
    items = list(tokens.items())

    def match(doc_id: str, source: dict[str, Any]) -> float | None:
        score, hit = 0.0, False
        for vector in f.values(source):
            if not isinstance(vector, dict):
                continue
            for token, weight in items:
                w = vector.get(token)
                if w is not None:
                    score += weight * float(w)
                    hit = True
        return score * boost if hit else None

    return match


@QUERIES.query("weighted_tokens", field_of=single_field)
def weighted_tokens(ctx: QueryContext, body: dict[str, Any]) -> Matcher:
    name, spec = single(body, "weighted_tokens")
    if not isinstance(spec, dict) or "tokens" not in spec:
        raise parse_error("[weighted_tokens] requires a [tokens] field")
    return sparse_matcher(ctx, name, token_weights(spec["tokens"]), boost_of(spec))


async def _expand_text(body: dict[str, Any], pctx: PrepareContext) -> dict[str, Any]:
    field_name, spec = single(body, "text_expansion")
    if not isinstance(spec, dict) or "model_id" not in spec or "model_text" not in spec:
        raise parse_error("[text_expansion] requires [model_id] and [model_text]")
    for key in ("model_id", "model_text"):
        if spec[key] is None or isinstance(spec[key], list | dict):
            raise parse_error(f"[text_expansion] unknown token [{token_of(spec[key])}] after [{key}]")
    tokens = await infer_sparse(pctx.cluster, text(spec["model_id"]), text(spec["model_text"]))
    return {field_name: {**spec, RESOLVED: tokens}}


@QUERIES.query("text_expansion", prepare=_expand_text, field_of=single_field)
def text_expansion(ctx: QueryContext, body: dict[str, Any]) -> Matcher:
    name, spec = single(body, "text_expansion")
    if not isinstance(spec, dict):
        raise parse_error("[text_expansion] query malformed")
    if RESOLVED not in spec:
        # Not prepared: only the pre-search step can run the model.
        raise illegal_argument("text_expansion query must be rewritten with the model before it runs")
    return sparse_matcher(ctx, name, spec[RESOLVED], boost_of(spec))


async def _expand_sparse_vector(body: dict[str, Any], pctx: PrepareContext) -> dict[str, Any]:
    if "query_vector" in body or "inference_id" not in body or RESOLVED in body:
        return body
    if "query" not in body:
        raise illegal_argument("[sparse_vector] requires [query] when [inference_id] is set")
    tokens = await infer_sparse(pctx.cluster, body["inference_id"], body["query"])
    return {**body, RESOLVED: tokens}


@QUERIES.query("sparse_vector", prepare=_expand_sparse_vector, field_of=named_field)
def sparse_vector(ctx: QueryContext, body: dict[str, Any]) -> Matcher:
    if "field" not in body:
        raise parse_error("[sparse_vector] requires a [field]")
    if "query_vector" in body:
        tokens = token_weights(body["query_vector"])
    elif RESOLVED in body:
        tokens = body[RESOLVED]
    elif "inference_id" in body:
        raise illegal_argument("sparse_vector query with inference_id must be rewritten before it runs")
    else:
        raise illegal_argument("[sparse_vector] requires one of [query_vector] or [inference_id]")
    return sparse_matcher(ctx, body["field"], tokens, boost_of(body))
