"""Full-text queries: match, match_phrase, multi_match (the standard analyzer, BM25-like scores)."""

from __future__ import annotations

import fnmatch
from typing import Any

from es_sandbox.errors import illegal_argument, parse_error
from es_sandbox.search.fields import Field, analyze, leaf_paths
from es_sandbox.search.queries.common import (
    bm25,
    boost_of,
    minimum_should_match,
    phrase_hits,
    single,
    single_field,
    term_test,
)
from es_sandbox.search.queries.registry import QUERIES, Matcher, QueryContext
from es_sandbox.xcontent import token


@QUERIES.query("match", field_of=single_field)
def match(ctx: QueryContext, body: dict[str, Any]) -> Matcher:
    name, spec = single(body, "match")
    if not isinstance(spec, dict):
        if isinstance(spec, list):  # ES reads the text with objectText(), which an array has none of
            raise illegal_argument(f"Expected text but found {token(spec)}")
        spec = {"query": spec}
    if "query" not in spec:
        raise parse_error("[match] requires query value")
    if isinstance(spec["query"], list | dict) or spec["query"] is None:
        raise parse_error(f"[match] unknown token [{token(spec['query'])}] after [query]")
    return match_field(ctx.field(name), spec)


def match_field(f: Field, spec: dict[str, Any]) -> Matcher:
    """A match query's spec (`query`, `operator`, `minimum_should_match`, `boost`...) on one field."""
    text = spec["query"]
    boost = boost_of(spec)
    if f.kind not in ("text", "auto") or not isinstance(text, str):
        test = term_test(f, [text], False)
        return lambda doc_id, source: boost if test(source) else None
    terms = analyze(text)
    if not terms:
        zero = spec.get("zero_terms_query", "none")
        return (lambda doc_id, source: boost) if zero == "all" else (lambda doc_id, source: None)
    operator = str(spec.get("operator", "or")).lower()
    needed = (
        len(terms)
        if operator == "and"
        else minimum_should_match(spec.get("minimum_should_match"), len(terms), 1)
    )

    def matcher(doc_id: str, source: dict[str, Any]) -> float | None:
        tokens = [t for v in f.values(source) for t in analyze(v)]
        if not tokens:
            return None
        counts: dict[str, int] = {}
        for t in tokens:
            counts[t] = counts.get(t, 0) + 1
        matched = [counts[t] for t in terms if t in counts]
        if len(matched) < needed or not matched:
            return None
        return boost * sum(bm25(tf, len(tokens)) for tf in matched)

    return matcher


@QUERIES.query("match_phrase", field_of=single_field)
def match_phrase(ctx: QueryContext, body: dict[str, Any]) -> Matcher:
    name, spec = single(body, "match_phrase")
    text = spec.get("query") if isinstance(spec, dict) else spec
    boost = boost_of(spec)
    slop = int(spec.get("slop", 0)) if isinstance(spec, dict) else 0
    f, phrase = ctx.field(name), analyze(text)
    if not phrase:
        return lambda doc_id, source: None

    def matcher(doc_id: str, source: dict[str, Any]) -> float | None:
        hits, length = 0, 0
        for v in f.values(source):
            tokens = analyze(v)
            length += len(tokens)
            hits += phrase_hits(tokens, phrase, slop)
        return boost * bm25(hits, length) * len(phrase) if hits else None

    return matcher


@QUERIES.query("multi_match")
def multi_match(ctx: QueryContext, body: dict[str, Any]) -> Matcher:
    if "query" not in body:
        raise parse_error("[multi_match] requires query value")
    names = body.get("fields") or ["*"]
    spec = {k: v for k, v in body.items() if k in ("query", "operator", "minimum_should_match", "boost")}
    per_field = [match_field(ctx.field(n), spec) for n in names if "*" not in n]
    patterns = [n.split("^")[0] for n in names if "*" in n]

    def matcher(doc_id: str, source: dict[str, Any]) -> float | None:
        scores = [s for m in per_field if (s := m(doc_id, source)) is not None]
        for pattern in patterns:
            for key in leaf_paths(source):
                if fnmatch.fnmatchcase(key, pattern):
                    s = match_field(ctx.field(key), spec)(doc_id, source)
                    if s is not None:
                        scores.append(s)
        return max(scores) if scores else None

    return matcher
