"""Compound queries: bool, constant_score, dis_max, boosting, and match_all / match_none."""

from __future__ import annotations

from typing import Any

from es_sandbox.errors import parse_error
from es_sandbox.search.queries.common import boost_of, minimum_should_match
from es_sandbox.search.queries.registry import QUERIES, Matcher, QueryContext

_BOOL_KEYS = (
    "must",
    "filter",
    "should",
    "must_not",
    "minimum_should_match",
    "boost",
    "_name",
    "adjust_pure_negative",
)


@QUERIES.query("match_all")
def match_all(ctx: QueryContext, body: dict[str, Any]) -> Matcher:
    boost = boost_of(body)
    return lambda doc_id, source: boost


@QUERIES.query("match_none")
def match_none(ctx: QueryContext, body: dict[str, Any]) -> Matcher:
    return lambda doc_id, source: None


@QUERIES.query("bool", children=("must", "filter", "should", "must_not"))
def bool_query(ctx: QueryContext, body: dict[str, Any]) -> Matcher:
    for key in body:
        if key not in _BOOL_KEYS:
            raise parse_error(f"[bool] query does not support [{key}]")
    must, filters = ctx.compile_clauses(body.get("must")), ctx.compile_clauses(body.get("filter"))
    should, must_not = ctx.compile_clauses(body.get("should")), ctx.compile_clauses(body.get("must_not"))
    boost = boost_of(body)
    default_msm = 0 if (must or filters) else (1 if should else 0)
    msm = minimum_should_match(body.get("minimum_should_match"), len(should), default_msm)

    def match(doc_id: str, source: dict[str, Any]) -> float | None:
        score = 0.0
        for clause in filters:
            if clause(doc_id, source) is None:
                return None
        for clause in must_not:
            if clause(doc_id, source) is not None:
                return None
        for clause in must:
            s = clause(doc_id, source)
            if s is None:
                return None
            score += s
        matched = 0
        for clause in should:
            s = clause(doc_id, source)
            if s is not None:
                matched += 1
                score += s
        if matched < msm:
            return None
        return score * boost

    return match


@QUERIES.query("constant_score", children=("filter",))
def constant_score(ctx: QueryContext, body: dict[str, Any]) -> Matcher:
    if "filter" not in body:
        raise parse_error("[constant_score] requires a 'filter' element")
    inner, boost = ctx.compile(body["filter"]), boost_of(body)
    return lambda doc_id, source: None if inner(doc_id, source) is None else boost


@QUERIES.query("dis_max", children=("queries",))
def dis_max(ctx: QueryContext, body: dict[str, Any]) -> Matcher:
    queries, tie = ctx.compile_clauses(body.get("queries")), float(body.get("tie_breaker", 0.0))

    def match(doc_id: str, source: dict[str, Any]) -> float | None:
        scores = [s for q in queries if (s := q(doc_id, source)) is not None]
        if not scores:
            return None
        best = max(scores)
        return best + tie * (sum(scores) - best)

    return match


@QUERIES.query("boosting", children=("positive", "negative"))
def boosting(ctx: QueryContext, body: dict[str, Any]) -> Matcher:
    positive, negative = ctx.compile(body["positive"]), ctx.compile(body["negative"])
    factor = float(body.get("negative_boost", 0.5))

    def match(doc_id: str, source: dict[str, Any]) -> float | None:
        s = positive(doc_id, source)
        if s is None:
            return None
        return s * factor if negative(doc_id, source) is not None else s

    return match
