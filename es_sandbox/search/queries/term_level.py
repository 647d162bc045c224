"""Term-level queries: ids, exists, term, terms, prefix, wildcard, range."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from es_sandbox.errors import EsError, parse_error
from es_sandbox.search.dates import looks_like_date, parse_date
from es_sandbox.search.fields import Field, analyze
from es_sandbox.search.queries.common import (
    boost_of,
    date_value,
    named_field,
    query_shard,
    single,
    single_field,
    term_test,
    to_number,
)
from es_sandbox.search.queries.registry import QUERIES, Matcher, QueryContext
from es_sandbox.xcontent import text, token


@QUERIES.query("ids")
def ids(ctx: QueryContext, body: dict[str, Any]) -> Matcher:
    wanted = set(_id_values(body.get("values", [])))
    boost = boost_of(body)
    return lambda doc_id, source: boost if doc_id in wanted else None


def _id_values(values: Any) -> list[str]:
    """IdsQueryBuilder's `values`, a string array to its ObjectParser: a single value stands for a
    list of it, and each value is read as text."""
    if not isinstance(values, list):
        if values is None or isinstance(values, dict):
            raise EsError(
                400,
                "x_content_parse_exception",
                f"[ids] values doesn't support values of type: {token(values)}",
            )
        values = [values]
    if any(value is None or isinstance(value, dict | list) for value in values):
        raise EsError(400, "x_content_parse_exception", "[ids] failed to parse field [values]")
    return [text(value) for value in values]


@QUERIES.query("exists", field_of=named_field)
def exists(ctx: QueryContext, body: dict[str, Any]) -> Matcher:
    if "field" not in body:
        raise parse_error("[exists] must be provided with a [field]")
    f, boost = ctx.field(body["field"]), boost_of(body)
    return lambda doc_id, source: boost if f.values(source) else None


@QUERIES.query("term", field_of=single_field)
def term(ctx: QueryContext, body: dict[str, Any]) -> Matcher:
    name, spec = single(body, "term")
    value = spec.get("value") if isinstance(spec, dict) else spec
    if isinstance(value, list):
        raise parse_error("[term] query does not support array of values")
    boost = float(spec.get("boost", body.get("boost", 1.0))) if isinstance(spec, dict) else 1.0
    insensitive = isinstance(spec, dict) and spec.get("case_insensitive") is True
    if name == "_id":
        return lambda doc_id, source: boost if doc_id == str(value) else None
    test = term_test(ctx.field(name), [value], insensitive)
    return lambda doc_id, source: boost if test(source) else None


@QUERIES.query("terms", field_of=single_field)
def terms(ctx: QueryContext, body: dict[str, Any]) -> Matcher:
    boost = boost_of(body)
    name, values = single(body, "terms")
    if not isinstance(values, list):
        raise parse_error(f"[terms] query does not support [{name}]")
    if None in values:
        raise parse_error("No value specified for terms query")
    if name == "_id":
        wanted = {str(v) for v in values}
        return lambda doc_id, source: boost if doc_id in wanted else None
    test = term_test(ctx.field(name), values, False)
    return lambda doc_id, source: boost if test(source) else None


@QUERIES.query("prefix", field_of=single_field)
def prefix(ctx: QueryContext, body: dict[str, Any]) -> Matcher:
    name, spec = single(body, "prefix")
    value = str(spec.get("value") if isinstance(spec, dict) else spec)
    f = ctx.field(name)

    def match(doc_id: str, source: dict[str, Any]) -> float | None:
        for v in f.values(source):
            candidates = analyze(v) if f.kind == "text" else [str(v)]
            if any(c.startswith(value) for c in candidates):
                return 1.0
        return None

    return match


@QUERIES.query("wildcard", field_of=single_field)
def wildcard(ctx: QueryContext, body: dict[str, Any]) -> Matcher:
    name, spec = single(body, "wildcard")
    pattern = str(spec.get("value", spec.get("wildcard")) if isinstance(spec, dict) else spec)
    insensitive = isinstance(spec, dict) and spec.get("case_insensitive") is True
    f = ctx.field(name)
    pattern = pattern.lower() if insensitive else pattern

    def match(doc_id: str, source: dict[str, Any]) -> float | None:
        for v in f.values(source):
            candidates = analyze(v) if f.kind == "text" else [str(v)]
            if any(fnmatch.fnmatchcase(c.lower() if insensitive else c, pattern) for c in candidates):
                return 1.0
        return None

    return match


def _range_converter(kind: str) -> Callable[[Any], Any]:
    if kind == "numeric":
        return to_number
    if kind == "date":
        return parse_date
    return str


@QUERIES.query("range", field_of=single_field)
def range_query(ctx: QueryContext, body: dict[str, Any]) -> Matcher:
    name, spec = single(body, "range")
    if not isinstance(spec, dict):
        raise parse_error("[range] query malformed, no start_object after query name")
    f = ctx.field(name)
    boost = boost_of(spec)
    bounds = [(op, spec[op]) for op in ("gt", "gte", "lt", "lte", "from", "to") if spec.get(op) is not None]
    kind = f.kind
    if kind == "auto":
        sample = next((v for _, v in bounds), None)
        kind = (
            "numeric" if isinstance(sample, int | float) else "date" if looks_like_date(sample) else "keyword"
        )
    convert = _range_converter(kind)
    now = datetime.now(UTC)
    checks = []
    for op, raw in bounds:
        if kind == "date":
            up = op in ("gt", "lte", "to")  # date math rounding rounds these bounds up
            bound = date_value(raw, now=now, round_up=up)
        elif kind == "numeric":
            try:
                bound = convert(raw)
            except (TypeError, ValueError):
                raise query_shard(f'For input string: "{raw}"') from None
        else:
            bound = convert(raw)
        checks.append((op, bound))
    include_lower = spec.get("include_lower", True)
    include_upper = spec.get("include_upper", True)

    def in_range(v: Any) -> bool:
        for op, bound in checks:
            if (op == "gt" and not v > bound) or (op == "gte" and not v >= bound):
                return False
            if (op == "lt" and not v < bound) or (op == "lte" and not v <= bound):
                return False
            if op == "from" and not (v >= bound if include_lower else v > bound):
                return False
            if op == "to" and not (v <= bound if include_upper else v < bound):
                return False
        return True

    def match(doc_id: str, source: dict[str, Any]) -> float | None:
        for raw in f.values(source):
            candidates = analyze(raw) if kind == "text" else [raw]
            for candidate in candidates:
                try:
                    value = convert(candidate)
                except (TypeError, ValueError):
                    continue
                if in_range(value):
                    return boost
        return None

    return match


# `term` and `terms` on a sparse_vector field (SparseVectorFieldType.termQuery): a token is a term;
# `term` scores the document's weight for it (FeatureField's linear query) times boost, `terms` is
# the default terms query over term queries, a constant score (boost) for any token present.


@QUERIES.field_type("term", "sparse_vector")
def term_on_sparse_vector(ctx: QueryContext, field: Field, body: dict[str, Any]) -> Matcher:
    _, spec = single(body, "term")
    token = str(spec.get("value") if isinstance(spec, dict) else spec)
    boost = float(spec.get("boost", body.get("boost", 1.0))) if isinstance(spec, dict) else boost_of(body)

    def match(doc_id: str, source: dict[str, Any]) -> float | None:
        weights = [float(v[token]) for v in field.values(source) if isinstance(v, dict) and token in v]
        return max(weights) * boost if weights else None

    return match


@QUERIES.field_type("terms", "sparse_vector")
def terms_on_sparse_vector(ctx: QueryContext, field: Field, body: dict[str, Any]) -> Matcher:
    name, values = single(body, "terms")
    if not isinstance(values, list):
        raise parse_error(f"[terms] query does not support [{name}]")
    tokens, boost = {str(v) for v in values}, boost_of(body)

    def match(doc_id: str, source: dict[str, Any]) -> float | None:
        present = any(isinstance(v, dict) and tokens.intersection(v) for v in field.values(source))
        return boost if present else None

    return match
