"""Search: the query DSL compiled to Python predicates, `_search` / `_count`, sorting, `_source`
filtering, `track_total_hits`, and paging over a snapshot (point in time + search_after, scroll).

Contract used by other modules:
    await prepare_query(query, cluster) -> query   resolves model_text / inference_id through the model
    compile_query(query, cluster, index=None)      -> (doc_id, source) -> score | None
"""

from __future__ import annotations

import base64
import bisect
import fnmatch
import heapq
import json
import re
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from es_sandbox import mappings as mp
from es_sandbox.errors import EsError, illegal_argument, parse_error
from es_sandbox.http import Router, bool_param, int_param, json_body, parse_time

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster
    from es_sandbox.indices import Doc, Index

router = Router()

Matcher = Callable[[str, dict[str, Any]], float | None]
LONG_MAX = 9223372036854775807
LONG_MIN = -9223372036854775808
DEFAULT_TRACK_TOTAL_HITS = 10000

# Query names a default distribution knows: the candidates of "did you mean" suggestions.
KNOWN_QUERIES = (
    "bool",
    "boosting",
    "combined_fields",
    "constant_score",
    "dis_max",
    "distance_feature",
    "exists",
    "function_score",
    "fuzzy",
    "geo_bounding_box",
    "geo_distance",
    "geo_shape",
    "has_child",
    "has_parent",
    "ids",
    "intervals",
    "knn",
    "match",
    "match_all",
    "match_bool_prefix",
    "match_none",
    "match_phrase",
    "match_phrase_prefix",
    "more_like_this",
    "multi_match",
    "nested",
    "parent_id",
    "percolate",
    "pinned",
    "prefix",
    "query_string",
    "range",
    "rank_feature",
    "regexp",
    "rule",
    "script",
    "script_score",
    "semantic",
    "shape",
    "simple_query_string",
    "span_containing",
    "span_field_masking",
    "span_first",
    "span_multi",
    "span_near",
    "span_not",
    "span_or",
    "span_term",
    "span_within",
    "sparse_vector",
    "term",
    "terms",
    "terms_set",
    "text_expansion",
    "weighted_tokens",
    "wildcard",
    "wrapper",
)
_TOKEN_RE = re.compile(r"\w+", re.UNICODE)


# --- analysis and field access -------------------------------------------------------------------------


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


@dataclass(frozen=True)
class Field:
    """How a queried field behaves: its kind and where its values live in _source."""

    name: str
    kind: str  # text | keyword | numeric | date | boolean | sparse | dense | object | auto
    source_path: str
    spec: dict[str, Any] | None = None

    def values(self, source: dict[str, Any]) -> list[Any]:
        values = extract(source, self.source_path)
        if self.kind == "keyword" and self.spec:
            limit = self.spec.get("ignore_above")
            if limit is not None:
                values = [v for v in values if not isinstance(v, str) or len(v) <= limit]
        return values


def _kind_of(ftype: str | None) -> str:
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
                return Field(name, _kind_of(sub.get("type")), parent, sub)
        spec = mp.lookup(self.mappings, name)
        if spec is not None:
            return Field(name, _kind_of(mp.field_type_of(spec)), name, spec)
        if parent and leaf == "keyword" and mp.lookup(self.mappings, parent) is None:
            # What dynamic mapping would have made of an unseen string field.
            return Field(name, "keyword", parent, {"type": "keyword", "ignore_above": 256})
        return Field(name, "auto", name, None)

    def mapped(self, name: str) -> bool:
        return self(name).spec is not None


# --- dates -------------------------------------------------------------------------------------------------

_MATH_RE = re.compile(r"([+-]\d+|/)([yMwdhHms])")
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "H": 3600, "m": 60, "s": 1}


def parse_date(value: Any, *, now: datetime | None = None, round_up: bool = False) -> float:
    """Epoch milliseconds of a date value: epoch numbers, ISO dates, and date math (now-1d/d, x||+1M)."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip()
    if text.startswith("now"):
        anchor, math_part = now or datetime.now(UTC), text[3:]
    elif "||" in text:
        base, _, math_part = text.partition("||")
        anchor = datetime.fromtimestamp(parse_date(base) / 1000, UTC)
    else:
        try:  # strict_date_optional_time first, then epoch_millis, as the default date format does
            moment = _parse_iso(text)
        except ValueError:
            if re.fullmatch(r"-?\d+(\.\d+)?", text):
                return float(text)
            raise
        if round_up:  # missing fields of an upper bound are filled with their largest value
            unit = {4: "y", 7: "M", 10: "d"}.get(len(text))
            if unit:
                moment = _round(moment, unit, True)
        return moment.timestamp() * 1000
    pos = 0
    moment = anchor
    while pos < len(math_part):
        m = _MATH_RE.match(math_part, pos)
        if not m:
            raise ValueError(f"invalid date math [{text}]")
        op, unit = m.group(1), m.group(2)
        moment = _round(moment, unit, round_up) if op == "/" else _shift(moment, int(op), unit)
        pos = m.end()
    return moment.timestamp() * 1000


def _parse_iso(text: str) -> datetime:
    normalized = text.replace(" ", "T").replace("Z", "+00:00")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", normalized):
        normalized += "T00:00:00"
    if re.fullmatch(r"\d{4}", normalized):
        normalized += "-01-01T00:00:00"
    if re.fullmatch(r"\d{4}-\d{2}", normalized):
        normalized += "-01T00:00:00"
    moment = datetime.fromisoformat(normalized)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _shift(moment: datetime, amount: int, unit: str) -> datetime:
    if unit == "y":
        return moment.replace(year=moment.year + amount)
    if unit == "M":
        month = moment.month - 1 + amount
        return moment.replace(year=moment.year + month // 12, month=month % 12 + 1)
    return moment + timedelta(seconds=amount * _UNIT_SECONDS[unit])


def _round(moment: datetime, unit: str, up: bool) -> datetime:
    if unit == "y":
        start = moment.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
        nxt = start.replace(year=start.year + 1)
    elif unit == "M":
        start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        nxt = _shift(start, 1, "M")
    elif unit == "w":
        start = (moment - timedelta(days=moment.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
        nxt = start + timedelta(weeks=1)
    else:
        seconds = _UNIT_SECONDS[unit]
        epoch = moment.timestamp()
        start = datetime.fromtimestamp(epoch - epoch % seconds, UTC)
        nxt = start + timedelta(seconds=seconds)
    return nxt - timedelta(milliseconds=1) if up else start


# --- query compilation ---------------------------------------------------------------------------------


def compile_query(
    query: dict[str, Any] | None, cluster: Cluster | None = None, *, index: Index | None = None
) -> Matcher:
    """A predicate for one query: None for no match, else the score. The query must be prepared
    (prepare_query) if it contains sparse queries that need the model."""
    if not query:
        return lambda doc_id, source: 1.0
    return _Compiler(FieldResolver(index.mappings if index is not None else None)).compile(query)


def _single(query: Any, name: str) -> tuple[str, Any]:
    """The one `{field: spec}` pair of a leaf query."""
    if not isinstance(query, dict) or not query:
        raise parse_error(f"[{name}] query malformed, no start_object after query name")
    items = [(k, v) for k, v in query.items() if k not in ("boost", "_name")]
    if len(items) != 1:
        raise parse_error(
            f"[{name}] query doesn't support multiple fields, found [{items[0][0]}] and [{items[1][0]}]"
            if len(items) > 1
            else f"[{name}] query malformed, no field specified"
        )
    return items[0]


class _Compiler:
    def __init__(self, fields: FieldResolver) -> None:
        self.fields = fields

    def compile(self, query: dict[str, Any]) -> Matcher:
        if not isinstance(query, dict) or len(query) != 1:
            if isinstance(query, dict) and len(query) > 1:
                keys = list(query)
                raise parse_error(
                    f"[{keys[0]}] malformed query, expected [END_OBJECT] but found [FIELD_NAME]"
                )
            raise parse_error("query malformed, must start with start_object")
        ((name, body),) = query.items()
        compiler = getattr(self, f"q_{name}", None)
        if compiler is None:
            raise parse_error(f"unknown query [{name}]{suggest(name, KNOWN_QUERIES)}")
        if not isinstance(body, dict):
            raise parse_error(f"[{name}] query malformed, no start_object after query name")
        return compiler(body)

    # -- compound --
    def q_match_all(self, body: dict[str, Any]) -> Matcher:
        boost = float(body.get("boost", 1.0))
        return lambda doc_id, source: boost

    def q_match_none(self, body: dict[str, Any]) -> Matcher:
        return lambda doc_id, source: None

    def _clauses(self, value: Any) -> list[Matcher]:
        if value is None:
            return []
        return [self.compile(q) for q in (value if isinstance(value, list) else [value])]

    def q_bool(self, body: dict[str, Any]) -> Matcher:
        for key in body:
            if key not in (
                "must",
                "filter",
                "should",
                "must_not",
                "minimum_should_match",
                "boost",
                "_name",
                "adjust_pure_negative",
            ):
                raise parse_error(f"[bool] query does not support [{key}]")
        must, filters = self._clauses(body.get("must")), self._clauses(body.get("filter"))
        should, must_not = self._clauses(body.get("should")), self._clauses(body.get("must_not"))
        boost = float(body.get("boost", 1.0))
        default_msm = 0 if (must or filters) else (1 if should else 0)
        msm = _minimum_should_match(body.get("minimum_should_match"), len(should), default_msm)

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

    def q_constant_score(self, body: dict[str, Any]) -> Matcher:
        if "filter" not in body:
            raise parse_error("[constant_score] requires a 'filter' element")
        inner, boost = self.compile(body["filter"]), float(body.get("boost", 1.0))
        return lambda doc_id, source: None if inner(doc_id, source) is None else boost

    def q_dis_max(self, body: dict[str, Any]) -> Matcher:
        queries, tie = self._clauses(body.get("queries")), float(body.get("tie_breaker", 0.0))

        def match(doc_id: str, source: dict[str, Any]) -> float | None:
            scores = [s for q in queries if (s := q(doc_id, source)) is not None]
            if not scores:
                return None
            best = max(scores)
            return best + tie * (sum(scores) - best)

        return match

    def q_boosting(self, body: dict[str, Any]) -> Matcher:
        positive, negative = self.compile(body["positive"]), self.compile(body["negative"])
        factor = float(body.get("negative_boost", 0.5))

        def match(doc_id: str, source: dict[str, Any]) -> float | None:
            s = positive(doc_id, source)
            if s is None:
                return None
            return s * factor if negative(doc_id, source) is not None else s

        return match

    # -- term level --
    def q_ids(self, body: dict[str, Any]) -> Matcher:
        ids = {str(v) for v in body.get("values", [])}
        boost = float(body.get("boost", 1.0))
        return lambda doc_id, source: boost if doc_id in ids else None

    def q_exists(self, body: dict[str, Any]) -> Matcher:
        if "field" not in body:
            raise parse_error("[exists] must be provided with a [field]")
        f, boost = self.fields(body["field"]), float(body.get("boost", 1.0))
        return lambda doc_id, source: boost if f.values(source) else None

    def q_term(self, body: dict[str, Any]) -> Matcher:
        name, spec = _single(body, "term")
        value = spec.get("value") if isinstance(spec, dict) else spec
        boost = float(spec.get("boost", body.get("boost", 1.0))) if isinstance(spec, dict) else 1.0
        insensitive = isinstance(spec, dict) and spec.get("case_insensitive") is True
        if name == "_id":
            return lambda doc_id, source: boost if doc_id == str(value) else None
        test = _term_test(self.fields(name), [value], insensitive)
        return lambda doc_id, source: boost if test(source) else None

    def q_terms(self, body: dict[str, Any]) -> Matcher:
        boost = float(body.get("boost", 1.0))
        name, values = _single(body, "terms")
        if not isinstance(values, list):
            raise parse_error(f"[terms] query does not support [{name}]")
        if name == "_id":
            wanted = {str(v) for v in values}
            return lambda doc_id, source: boost if doc_id in wanted else None
        test = _term_test(self.fields(name), values, False)
        return lambda doc_id, source: boost if test(source) else None

    def q_prefix(self, body: dict[str, Any]) -> Matcher:
        name, spec = _single(body, "prefix")
        value = str(spec.get("value") if isinstance(spec, dict) else spec)
        f = self.fields(name)

        def match(doc_id: str, source: dict[str, Any]) -> float | None:
            for v in f.values(source):
                candidates = analyze(v) if f.kind == "text" else [str(v)]
                if any(c.startswith(value) for c in candidates):
                    return 1.0
            return None

        return match

    def q_wildcard(self, body: dict[str, Any]) -> Matcher:
        name, spec = _single(body, "wildcard")
        pattern = str(spec.get("value", spec.get("wildcard")) if isinstance(spec, dict) else spec)
        insensitive = isinstance(spec, dict) and spec.get("case_insensitive") is True
        f = self.fields(name)
        pattern = pattern.lower() if insensitive else pattern

        def match(doc_id: str, source: dict[str, Any]) -> float | None:
            for v in f.values(source):
                candidates = analyze(v) if f.kind == "text" else [str(v)]
                if any(fnmatch.fnmatchcase(c.lower() if insensitive else c, pattern) for c in candidates):
                    return 1.0
            return None

        return match

    def q_range(self, body: dict[str, Any]) -> Matcher:
        name, spec = _single(body, "range")
        if not isinstance(spec, dict):
            raise parse_error("[range] query malformed, no start_object after query name")
        f = self.fields(name)
        boost = float(spec.get("boost", 1.0))
        bounds = []
        for op in ("gt", "gte", "lt", "lte", "from", "to"):
            if op in spec and spec[op] is not None:
                bounds.append((op, spec[op]))
        kind = f.kind
        if kind == "auto":
            sample = next((v for _, v in bounds), None)
            kind = (
                "numeric"
                if isinstance(sample, int | float)
                else "date"
                if _looks_like_date(sample)
                else "keyword"
            )
        convert = _range_converter(kind)
        now = datetime.now(UTC)
        checks = []
        for op, raw in bounds:
            if kind == "date":
                up = op in ("gt", "lte", "to")  # date math rounding rounds these bounds up
                bound = parse_date(raw, now=now, round_up=up)
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

    # -- full text --
    def q_match(self, body: dict[str, Any]) -> Matcher:
        name, spec = _single(body, "match")
        if not isinstance(spec, dict):
            spec = {"query": spec}
        if "query" not in spec:
            raise parse_error("[match] requires query value")
        return self._match(self.fields(name), spec)

    def _match(self, f: Field, spec: dict[str, Any]) -> Matcher:
        text = spec["query"]
        boost = float(spec.get("boost", 1.0))
        if f.kind not in ("text", "auto") or not isinstance(text, str):
            test = _term_test(f, [text], False)
            return lambda doc_id, source: boost if test(source) else None
        terms = analyze(text)
        if not terms:
            zero = spec.get("zero_terms_query", "none")
            return (lambda doc_id, source: boost) if zero == "all" else (lambda doc_id, source: None)
        operator = str(spec.get("operator", "or")).lower()
        needed = (
            len(terms)
            if operator == "and"
            else _minimum_should_match(spec.get("minimum_should_match"), len(terms), 1)
        )

        def match(doc_id: str, source: dict[str, Any]) -> float | None:
            tokens = [t for v in f.values(source) for t in analyze(v)]
            if not tokens:
                return None
            counts: dict[str, int] = {}
            for t in tokens:
                counts[t] = counts.get(t, 0) + 1
            matched = [counts[t] for t in terms if t in counts]
            if len(matched) < needed or not matched:
                return None
            return boost * sum(_bm25(tf, len(tokens)) for tf in matched)

        return match

    def q_match_phrase(self, body: dict[str, Any]) -> Matcher:
        name, spec = _single(body, "match_phrase")
        text = spec.get("query") if isinstance(spec, dict) else spec
        boost = float(spec.get("boost", 1.0)) if isinstance(spec, dict) else 1.0
        slop = int(spec.get("slop", 0)) if isinstance(spec, dict) else 0
        f, phrase = self.fields(name), analyze(text)
        if not phrase:
            return lambda doc_id, source: None

        def match(doc_id: str, source: dict[str, Any]) -> float | None:
            hits, length = 0, 0
            for v in f.values(source):
                tokens = analyze(v)
                length += len(tokens)
                hits += _phrase_hits(tokens, phrase, slop)
            return boost * _bm25(hits, length) * len(phrase) if hits else None

        return match

    def q_multi_match(self, body: dict[str, Any]) -> Matcher:
        if "query" not in body:
            raise parse_error("[multi_match] requires query value")
        names = body.get("fields") or ["*"]
        spec = {k: v for k, v in body.items() if k in ("query", "operator", "minimum_should_match", "boost")}
        per_field = [self._match(self.fields(n), spec) for n in names if "*" not in n]
        patterns = [n.split("^")[0] for n in names if "*" in n]

        def match(doc_id: str, source: dict[str, Any]) -> float | None:
            scores = [s for m in per_field if (s := m(doc_id, source)) is not None]
            for pattern in patterns:
                for key in _leaf_paths(source):
                    if fnmatch.fnmatchcase(key, pattern):
                        s = self._match(self.fields(key), spec)(doc_id, source)
                        if s is not None:
                            scores.append(s)
            return max(scores) if scores else None

        return match

    # -- sparse vectors --
    def q_weighted_tokens(self, body: dict[str, Any]) -> Matcher:
        name, spec = _single(body, "weighted_tokens")
        if not isinstance(spec, dict) or "tokens" not in spec:
            raise parse_error("[weighted_tokens] requires a [tokens] field")
        return self._sparse(name, _token_weights(spec["tokens"]), float(spec.get("boost", 1.0)))

    def q_text_expansion(self, body: dict[str, Any]) -> Matcher:
        name, spec = _single(body, "text_expansion")
        if not isinstance(spec, dict):
            raise parse_error("[text_expansion] query malformed")
        if "_resolved_tokens" not in spec:
            # Not prepared: only prepare_query can run the model.
            raise illegal_argument("text_expansion query must be rewritten with the model before it runs")
        return self._sparse(name, spec["_resolved_tokens"], float(spec.get("boost", 1.0)))

    def q_sparse_vector(self, body: dict[str, Any]) -> Matcher:
        if "field" not in body:
            raise parse_error("[sparse_vector] requires a [field]")
        if "query_vector" in body:
            tokens = _token_weights(body["query_vector"])
        elif "_resolved_tokens" in body:
            tokens = body["_resolved_tokens"]
        elif "inference_id" in body:
            raise illegal_argument("sparse_vector query with inference_id must be rewritten before it runs")
        else:
            raise illegal_argument("[sparse_vector] requires one of [query_vector] or [inference_id]")
        return self._sparse(body["field"], tokens, float(body.get("boost", 1.0)))

    def _sparse(self, name: str, tokens: dict[str, float], boost: float) -> Matcher:
        f = self.fields(name)
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


def _bm25(tf: int, length: int) -> float:
    """BM25's term-frequency saturation and length norm (k1 1.2, b 0.75, a nominal average length)."""
    return tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * length / 8.0))


def _phrase_hits(tokens: list[str], phrase: list[str], slop: int) -> int:
    hits = 0
    for start in range(len(tokens)):
        if tokens[start] != phrase[0]:
            continue
        pos, ok = start, True
        for term in phrase[1:]:
            window = tokens[pos + 1 : pos + 2 + slop]
            if term not in window:
                ok = False
                break
            pos = pos + 1 + window.index(term)
        hits += ok
    return hits


def _leaf_paths(source: dict[str, Any], prefix: str = "") -> Iterable[str]:
    for key, value in source.items():
        if isinstance(value, dict):
            yield from _leaf_paths(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def _token_weights(tokens: Any) -> dict[str, float]:
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


def _looks_like_date(value: Any) -> bool:
    return isinstance(value, str) and (value.startswith("now") or bool(re.match(r"^\d{4}-\d{2}", value)))


def _to_number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(value)
    return float(value)


def _range_converter(kind: str) -> Callable[[Any], Any]:
    if kind == "numeric":
        return _to_number
    if kind == "date":
        return parse_date
    return str


def _term_test(f: Field, values: list[Any], insensitive: bool) -> Callable[[dict[str, Any]], bool]:
    kind = f.kind
    if kind == "numeric":
        wanted = set()
        for v in values:
            try:
                wanted.add(float(v))
            except (TypeError, ValueError):
                raise EsError(
                    400, "query_shard_exception", f'failed to create query: For input string: "{v}"'
                ) from None
        return lambda source: any(_num(v) in wanted for v in f.values(source))
    if kind == "date":
        wanted = {parse_date(v) for v in values}
        return lambda source: any(_date_or_none(v) in wanted for v in f.values(source))
    if kind == "boolean":
        wanted_b = {_bool_str(v) for v in values}
        return lambda source: any(_bool_str(v) in wanted_b for v in f.values(source))
    if kind == "text":
        wanted_t = {str(v).lower() if insensitive else str(v) for v in values}
        return lambda source: any(t in wanted_t for v in f.values(source) for t in analyze(v))
    if kind == "auto":
        wanted_a = {_norm_auto(v) for v in values}

        def test_auto(source: dict[str, Any]) -> bool:
            for v in f.values(source):
                if _norm_auto(v) in wanted_a:
                    return True
                if isinstance(v, str) and any(t in wanted_a for t in analyze(v)):
                    return True
            return False

        return test_auto
    wanted_k = {_keyword_str(v).lower() if insensitive else _keyword_str(v) for v in values}
    if insensitive:
        return lambda source: any(_keyword_str(v).lower() in wanted_k for v in f.values(source))
    return lambda source: any(_keyword_str(v) in wanted_k for v in f.values(source))


def _num(v: Any) -> float | None:
    try:
        return float(v) if not isinstance(v, bool) else None
    except (TypeError, ValueError):
        return None


def _date_or_none(v: Any) -> float | None:
    try:
        return parse_date(v)
    except (TypeError, ValueError):
        return None


def _bool_str(v: Any) -> str:
    return "true" if v in (True, "true") else "false" if v in (False, "false", "") else str(v)


def _keyword_str(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _norm_auto(v: Any) -> Any:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return float(v)
    return v


def _minimum_should_match(spec: Any, optional: int, default: int) -> int:
    if spec is None:
        return default
    text = str(spec).strip()
    if text.endswith("%"):
        pct = int(text[:-1])
        n = int(optional * abs(pct) / 100)
        result = n if pct >= 0 else optional - n
    else:
        n = int(text)
        result = n if n >= 0 else optional + n
    return max(0, min(result, optional)) if optional else result


def suggest(name: str, candidates: Iterable[str]) -> str:
    """SuggestingErrorOnUnknown.suggest: candidates with a Levenshtein similarity above 0.5."""
    scored = []
    for candidate in candidates:
        similarity = 1.0 - _levenshtein(name, candidate) / max(len(name), len(candidate))
        if similarity > 0.5:
            scored.append((-similarity, candidate))
    if not scored:
        return ""
    scored.sort()
    names = [c for _, c in scored]
    return (
        f" did you mean [{names[0]}]?" if len(names) == 1 else f" did you mean any of [{', '.join(names)}]?"
    )


def _levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


# --- prepare: sparse queries that need the model -----------------------------------------------------


_COMPOUND_LISTS = {"bool": ("must", "filter", "should", "must_not"), "dis_max": ("queries",)}
_COMPOUND_SINGLE = {
    "constant_score": ("filter",),
    "boosting": ("positive", "negative"),
    "function_score": ("query",),
    "nested": ("query",),
    "script_score": ("query",),
}


async def prepare_query(query: dict[str, Any] | None, cluster: Cluster) -> dict[str, Any] | None:
    """Resolve `text_expansion.model_text` and `sparse_vector.inference_id/query` to token weights,
    running the model ONCE per query, before compile_query runs it over documents."""
    if not isinstance(query, dict) or len(query) != 1:
        return query
    ((name, body),) = query.items()
    if not isinstance(body, dict):
        return query
    if name in _COMPOUND_LISTS or name in _COMPOUND_SINGLE:
        out = dict(body)
        for key in _COMPOUND_LISTS.get(name, ()):
            value = body.get(key)
            if isinstance(value, list):
                out[key] = [await prepare_query(q, cluster) for q in value]
            elif isinstance(value, dict):
                out[key] = await prepare_query(value, cluster)
        for key in _COMPOUND_SINGLE.get(name, ()):
            if isinstance(body.get(key), dict):
                out[key] = await prepare_query(body[key], cluster)
        return {name: out}
    if name == "text_expansion":
        field_name, spec = _single(body, "text_expansion")
        if not isinstance(spec, dict) or "model_id" not in spec or "model_text" not in spec:
            raise parse_error("[text_expansion] requires [model_id] and [model_text]")
        tokens = await _expand(cluster, spec["model_id"], spec["model_text"])
        return {name: {field_name: {**spec, "_resolved_tokens": tokens}}}
    if name == "sparse_vector" and "query_vector" not in body and "inference_id" in body:
        if "query" not in body:
            raise illegal_argument("[sparse_vector] requires [query] when [inference_id] is set")
        tokens = await _expand(cluster, body["inference_id"], body["query"])
        return {name: {**body, "_resolved_tokens": tokens}}
    return query


async def _expand(cluster: Cluster, model_id: str, text: str) -> dict[str, float]:
    input_field = "text_field"
    field_of = getattr(cluster.ml, "input_field", None)
    if callable(field_of):
        try:
            input_field = field_of(model_id)
        except EsError:
            input_field = "text_field"
    infer = getattr(cluster.ml, "infer", None)
    if infer is None:
        raise EsError(404, "resource_not_found_exception", f"Could not find trained model [{model_id}]")
    results = await infer(model_id, [{input_field: text}])
    predicted = results[0].get("predicted_value") if results else None
    if not isinstance(predicted, dict):
        raise illegal_argument(
            f"model [{model_id}] must be a sparse embedding (text_expansion) model to be used by this query"
        )
    return {str(k): float(v) for k, v in predicted.items()}


# --- sorting -------------------------------------------------------------------------------------------


class _Rev:
    """Reverses the order of one sort component (desc on strings)."""

    __slots__ = ("v",)

    def __init__(self, v: Any) -> None:
        self.v = v

    def __lt__(self, other: _Rev) -> bool:
        return other.v < self.v

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Rev) and self.v == other.v

    def __hash__(self) -> int:
        return hash(self.v)


@dataclass
class SortField:
    name: str  # a field, or _score / _doc / _shard_doc
    desc: bool
    missing: Any = "_last"
    field: Field | None = None
    numeric_kind: str | None = None  # "long" | "double" for the shown sort values

    def component(self, hit: _Hit) -> tuple:
        if self.name == "_score":
            value: Any = hit.score
        elif self.name == "_doc":
            value = hit.doc.seq_no
        elif self.name == "_shard_doc":
            value = hit.shard_doc
        else:
            values = [self._convert(v) for v in self.field.values(hit.doc.source)] if self.field else []
            values = [v for v in values if v is not None]
            if not values:
                return self._missing_component()
            value = max(values) if self.desc else min(values)
        return (0, _Rev(value) if self.desc else value)

    def _missing_component(self) -> tuple:
        if self.missing == "_first":
            return (-1, 0)
        if self.missing in ("_last", None):
            return (1, 0)
        value = self._convert(self.missing)
        return (0, _Rev(value) if self.desc else value)

    def _convert(self, value: Any) -> Any:
        kind = self.field.kind if self.field else "auto"
        if kind == "numeric":
            return _num(value)
        if kind == "date":
            return _date_or_none(value)
        if kind == "boolean":
            return 1 if value in (True, "true") else 0
        if kind == "auto":
            return value if isinstance(value, int | float | str) and not isinstance(value, bool) else None
        return _keyword_str(value)

    def shown(self, hit: _Hit) -> Any:
        """The value shown in the hit's `sort` array (Long.MAX/MIN_VALUE stand for missing numbers)."""
        if self.name == "_score":
            return hit.score
        if self.name == "_doc":
            return hit.doc.seq_no
        if self.name == "_shard_doc":
            return hit.shard_doc
        values = (
            [v for v in (self._convert(v) for v in self.field.values(hit.doc.source)) if v is not None]
            if self.field
            else []
        )
        if values:
            value = max(values) if self.desc else min(values)
        elif self.missing not in ("_last", "_first", None):
            value = self._convert(self.missing)
        elif self.field is not None and self.field.kind in ("numeric", "date", "boolean"):
            high = (self.missing == "_first") == self.desc
            if self.numeric_kind == "double":
                return "Infinity" if high else "-Infinity"
            return LONG_MAX if high else LONG_MIN
        else:
            return None
        if value is not None and (
            self.numeric_kind == "long" or (self.field and self.field.kind in ("date", "boolean"))
        ):
            return int(value)
        return value

    def after_component(self, value: Any) -> tuple:
        """The sort component of a search_after value."""
        if self.name in ("_score", "_doc", "_shard_doc"):
            return (0, _Rev(value) if self.desc else value)
        if value is None or value in (LONG_MAX, LONG_MIN, "Infinity", "-Infinity"):
            return self._missing_component()
        converted = self._convert(value)
        return (0, _Rev(converted) if self.desc else converted)


@dataclass
class _Hit:
    index: Index
    doc_id: str
    doc: Doc
    score: float
    shard: int
    key: tuple = ()

    @property
    def shard_doc(self) -> int:
        return (self.shard << 32) | self.doc.seq_no


def parse_sort(
    spec: Any, resolvers: list[tuple[Index, FieldResolver]], indices: list[Index], cluster: Cluster
) -> list[SortField]:
    if spec is None:
        return []
    items = spec if isinstance(spec, list) else [spec]
    out = []
    for item in items:
        if isinstance(item, str):
            name, options = item, {}
        elif isinstance(item, dict) and len(item) == 1:
            ((name, options),) = item.items()
            options = {"order": options} if isinstance(options, str) else dict(options)
        else:
            raise parse_error("[sort] malformed")
        order = str(options.get("order", "desc" if name == "_score" else "asc")).lower()
        if order not in ("asc", "desc"):
            raise illegal_argument(f"Unknown SortOrder [{order}]")
        sort = SortField(name, order == "desc", options.get("missing", "_last"))
        if name not in ("_score", "_doc", "_shard_doc"):
            _bind_sort_field(sort, options, resolvers, cluster)
        out.append(sort)
    return out


def _bind_sort_field(
    sort: SortField, options: dict[str, Any], resolvers: list[tuple[Index, FieldResolver]], cluster: Cluster
) -> None:
    for index, resolver in resolvers:
        f = resolver(sort.name)
        if f.spec is None:
            continue
        if f.kind == "text" and not f.spec.get("fielddata"):
            raise all_shards_failed(
                illegal_argument(
                    f"Fielddata is disabled on [{sort.name}] in [{index.name}]. Text fields are not optimised for "
                    "operations that require per-document field data like aggregations and sorting, so these "
                    "operations are disabled by default. Please use a keyword field instead. Alternatively, set "
                    f"fielddata=true on [{sort.name}] in order to load field data by uninverting the inverted index. "
                    "Note that this can use significant memory."
                ),
                [index],
                cluster,
            )
        sort.field = f
        ftype = f.spec.get("type")
        sort.numeric_kind = (
            "long"
            if ftype in mp.INTEGER_TYPES or ftype in ("date", "boolean")
            else ("double" if ftype in mp.NUMERIC_TYPES else None)
        )
        return
    unmapped = options.get("unmapped_type")
    if unmapped:
        sort.field = Field(sort.name, _kind_of(unmapped), sort.name, {"type": unmapped})
        return
    index = resolvers[0][0] if resolvers else None
    if index is None:
        return
    raise all_shards_failed(
        EsError(
            400,
            "query_shard_exception",
            f"No mapping found for [{sort.name}] in order to sort on",
            extra={"index_uuid": index.uuid, "index": index.name},
        ),
        [index],
        cluster,
    )


def all_shards_failed(cause: EsError, indices: list[Index], cluster: Cluster) -> EsError:
    """A shard-level failure on every shard, as the search coordinator reports it."""
    failed = [
        {"shard": 0, "index": i.name, "node": cluster.master.id, "reason": cause.to_xcontent()}
        for i in indices[:1]
    ]
    return EsError(
        cause.status,
        "search_phase_execution_exception",
        "all shards failed",
        extra={"phase": "query", "grouped": True, "failed_shards": failed},
        caused_by=cause.to_xcontent(),
        root_cause=[{"type": cause.type, "reason": cause.reason, **cause.extra}],
    )


def context_missing(context_id: str) -> EsError:
    cause = EsError(404, "search_context_missing_exception", f"No search context found for id [{context_id}]")
    return EsError(
        404,
        "search_phase_execution_exception",
        "all shards failed",
        extra={"phase": "query", "grouped": True, "failed_shards": []},
        caused_by=cause.to_xcontent(),
        root_cause=[cause.to_xcontent()],
    )


# --- _source filtering ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceFilter:
    enabled: bool = True
    includes: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()

    @classmethod
    def parse(cls, body_value: Any, request: Request | None = None) -> SourceFilter:
        includes: list[str] = []
        excludes: list[str] = []
        enabled = True
        params = request.query_params if request is not None else {}
        value = body_value
        if "_source" in params:
            raw = params["_source"]
            value = raw == "true" if raw in ("true", "false") else raw.split(",")
        if value is False:
            enabled = False
        elif isinstance(value, str):
            includes = [value]
        elif isinstance(value, list):
            includes = [str(v) for v in value]
        elif isinstance(value, dict):
            inc, exc = (
                value.get("includes", value.get("include", [])),
                value.get("excludes", value.get("exclude", [])),
            )
            includes = [inc] if isinstance(inc, str) else list(inc)
            excludes = [exc] if isinstance(exc, str) else list(exc)
        if "_source_includes" in params:
            includes = params["_source_includes"].split(",")
            enabled = True
        if "_source_excludes" in params:
            excludes = params["_source_excludes"].split(",")
            enabled = True
        return cls(enabled, tuple(includes), tuple(excludes))

    def apply(self, source: dict[str, Any]) -> dict[str, Any]:
        if not self.includes and not self.excludes:
            return source
        return self._walk(source, "")

    def _walk(self, obj: dict[str, Any], prefix: str, included: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in obj.items():
            path = f"{prefix}{key}"
            if any(fnmatch.fnmatchcase(path, p) for p in self.excludes):
                continue
            hit = (
                included
                or not self.includes
                or any(
                    fnmatch.fnmatchcase(path, p) or (p.endswith(".*") and path == p[:-2])
                    for p in self.includes
                )
            )
            if isinstance(value, dict):
                if hit or self._may_include_below(path):
                    sub = self._walk(value, f"{path}.", hit)
                    if sub or (hit and not value):
                        out[key] = sub
            elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
                if hit or self._may_include_below(path):
                    items = [self._walk(v, f"{path}.", hit) if isinstance(v, dict) else v for v in value]
                    items = [v for v in items if v != {} or hit]
                    if items or hit:
                        out[key] = items
            elif hit:
                out[key] = value
        return out

    def _may_include_below(self, path: str) -> bool:
        return any(p.startswith(f"{path}.") or "*" in p for p in self.includes)


# --- search contexts: points in time and scrolls ---------------------------------------------------------


@dataclass
class _Snapshot:
    """The documents of some indices as they were when the context opened (references, not copies)."""

    indices: list[Index]
    docs: list[dict[str, Doc]]

    @classmethod
    def take(cls, indices: list[Index]) -> _Snapshot:
        return cls(indices, [dict(i.docs) for i in indices])


@dataclass
class PointInTime:
    id: str
    snapshot: _Snapshot
    keep_alive: float
    expires: float
    orderings: dict[str, list[_Hit]] = field(default_factory=dict)  # request signature -> sorted hits


@dataclass
class Scroll:
    id: str
    hits: list[_Hit]
    position: int
    size: int
    keep_alive: float
    expires: float
    total: int
    request: dict[str, Any]


class SearchContexts:
    def __init__(self) -> None:
        self.pits: dict[str, PointInTime] = {}
        self.scrolls: dict[str, Scroll] = {}

    def clear(self) -> None:
        self.pits.clear()
        self.scrolls.clear()

    def expire(self) -> None:
        now = time.monotonic()
        for table in (self.pits, self.scrolls):
            for key in [k for k, c in table.items() if c.expires <= now]:
                del table[key]


_CONTEXTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def contexts(cluster: Cluster) -> SearchContexts:
    found = _CONTEXTS.get(cluster)
    if found is None:
        found = _CONTEXTS[cluster] = SearchContexts()
    return found


def _context_id(kind: str) -> str:
    from es_sandbox.indices import random_id

    return base64.urlsafe_b64encode(f"{kind}:{random_id(24)}".encode()).decode().rstrip("=")


def _keep_alive(value: Any, setting: str) -> float:
    seconds = parse_time(value, setting) if isinstance(value, str) else parse_time(str(value), setting)
    if seconds > 24 * 3600:
        raise illegal_argument(
            f"Keep alive for request ({_fmt_time(seconds)}) is too large. It must be less than (1d). This limit can be "
            "set by changing the [search.max_keep_alive] cluster level setting."
        )
    return seconds


def _fmt_time(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds * 1000)}ms"


# --- the search itself ---------------------------------------------------------------------------------

_BODY_KEYS = {
    "query",
    "size",
    "from",
    "sort",
    "_source",
    "track_total_hits",
    "search_after",
    "pit",
    "track_scores",
    "timeout",
    "terminate_after",
    "min_score",
    "post_filter",
    "version",
    "seq_no_primary_term",
    "explain",
    "stored_fields",
    "docvalue_fields",
    "fields",
    "highlight",
    "runtime_mappings",
    "indices_boost",
    "stats",
    "profile",
    "ext",
    "collapse",
    "rescore",
    "suggest",
    "slice",
    "knn",
    "aggs",
    "aggregations",
    "retriever",
    "rank",
}
_UNSUPPORTED = {"aggs", "aggregations", "knn", "retriever", "rank", "collapse", "rescore", "suggest", "slice"}


@dataclass
class SearchRequest:
    query: dict[str, Any] | None
    size: int
    from_: int
    sort: Any
    source: SourceFilter
    track_total_hits: bool | int
    search_after: list[Any] | None
    track_scores: bool
    min_score: float | None
    post_filter: dict[str, Any] | None
    version: bool
    seq_no_primary_term: bool
    terminate_after: int | None

    @classmethod
    def parse(cls, body: dict[str, Any], request: Request) -> SearchRequest:
        for key in body:
            if key not in _BODY_KEYS:
                raise parse_error(f"Unknown key for a START_OBJECT in [{key}].")
            if key in _UNSUPPORTED:
                raise illegal_argument(f"[{key}] is not supported by es_sandbox")
        params = request.query_params
        size = int_param(request, "size", body.get("size", 10))
        from_ = int_param(request, "from", body.get("from", 0))
        if from_ < 0:
            raise illegal_argument(f"[from] parameter cannot be negative but was [{from_}]")
        if size < 0:
            raise illegal_argument(f"[size] parameter cannot be negative, found [{size}]")
        tth: Any = body.get("track_total_hits", DEFAULT_TRACK_TOTAL_HITS)
        if "track_total_hits" in params:
            raw = params["track_total_hits"]
            tth = raw == "true" if raw in ("true", "false") else int(raw)
        if tth is True:
            tth = True
        sort = body.get("sort")
        if "sort" in params:
            sort = [
                {part.split(":")[0]: part.split(":")[1]} if ":" in part else part
                for part in params["sort"].split(",")
            ]
        query = body.get("query")
        if "q" in params:
            query = _q_param(params["q"], params.get("df"), params.get("default_operator", "OR"))
        return cls(
            query=query,
            size=size,
            from_=from_,
            sort=sort,
            source=SourceFilter.parse(body.get("_source"), request),
            track_total_hits=tth,
            search_after=body.get("search_after"),
            track_scores=bool(body.get("track_scores", False)),
            min_score=body.get("min_score"),
            post_filter=body.get("post_filter"),
            version=bool(body.get("version", bool_param(request, "version"))),
            seq_no_primary_term=bool(
                body.get("seq_no_primary_term", bool_param(request, "seq_no_primary_term"))
            ),
            terminate_after=body.get("terminate_after", int_param(request, "terminate_after")),
        )


def _q_param(q: str, default_field: str | None, operator: str) -> dict[str, Any]:
    """The `q` URI parameter, for the simple forms `field:value` and free text."""
    clauses = []
    for part in q.split():
        if part in ("AND", "OR"):
            operator = part
            continue
        name, sep, value = part.partition(":")
        if sep:
            clauses.append({"match": {name: value}})
        else:
            clauses.append({"multi_match": {"query": part, "fields": [default_field or "*"]}})
    key = "must" if operator.upper() == "AND" else "should"
    return {"bool": {key: clauses}} if clauses else {"match_all": {}}


def _collect_hits(
    indices: list[Index],
    docs_of: list[dict[str, Doc]],
    query: dict[str, Any] | None,
    post_filter: dict[str, Any] | None,
    min_score: float | None,
    cluster: Cluster,
) -> list[_Hit]:
    hits: list[_Hit] = []
    for shard, (index, docs) in enumerate(zip(indices, docs_of, strict=True)):
        try:
            matcher = compile_query(query, cluster, index=index)
            post = compile_query(post_filter, cluster, index=index) if post_filter else None
        except EsError as err:
            if err.type == "parsing_exception":
                raise
            raise all_shards_failed(err, [index], cluster) from None
        for doc_id, doc in docs.items():
            score = matcher(doc_id, doc.source)
            if score is None or (min_score is not None and score < min_score):
                continue
            if post is not None and post(doc_id, doc.source) is None:
                continue
            hits.append(_Hit(index, doc_id, doc, score, shard))
    return hits


def _order(hits: list[_Hit], sort: list[SortField], limit: int | None = None) -> list[_Hit]:
    """Sort hits (score desc then index order when no sort is given); top `limit` when known."""
    if sort:
        for hit in hits:
            hit.key = tuple(s.component(hit) for s in sort) + ((hit.shard, hit.doc.seq_no),)
    else:
        for hit in hits:
            hit.key = (-hit.score, hit.shard, hit.doc.seq_no)
    if limit is not None and limit < len(hits) // 4:
        return heapq.nsmallest(limit, hits, key=lambda h: h.key)
    return sorted(hits, key=lambda h: h.key)


def _total(count: int, track: bool | int) -> dict[str, Any] | None:
    if track is False:
        return None
    if track is True:
        return {"value": count, "relation": "eq"}
    limit = int(track)
    if limit < 0 and limit != -1:
        raise illegal_argument(f"[track_total_hits] parameter must be positive or equals to -1, got {limit}")
    if count > limit >= 0:
        return {"value": limit, "relation": "gte"}
    return {"value": count, "relation": "eq"}


def _render_hit(hit: _Hit, req: SearchRequest, sort: list[SortField], scored: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"_index": hit.index.name, "_id": hit.doc_id}
    if req.version:
        out["_version"] = hit.doc.version
    if req.seq_no_primary_term:
        out["_seq_no"] = hit.doc.seq_no
        out["_primary_term"] = hit.doc.primary_term
    out["_score"] = hit.score if scored else None
    if req.source.enabled:
        out["_source"] = req.source.apply(hit.doc.source)
    if sort:
        out["sort"] = [s.shown(hit) for s in sort]
    return out


def _shards(indices: list[Index]) -> dict[str, int]:
    total = sum(i.number_of_shards for i in indices)
    return {"total": total, "successful": total, "skipped": 0, "failed": 0}


def _response(
    started: float,
    indices: list[Index],
    page: list[_Hit],
    total: int,
    req: SearchRequest,
    sort: list[SortField],
    extra_head: dict[str, Any] | None = None,
) -> dict[str, Any]:
    scored = not sort or req.track_scores or any(s.name == "_score" for s in sort)
    hits_obj: dict[str, Any] = {}
    total_obj = _total(total, req.track_total_hits)
    if total_obj is not None:
        hits_obj["total"] = total_obj
    hits_obj["max_score"] = max((h.score for h in page), default=None) if scored else None
    if scored and total and not page and not sort:
        hits_obj["max_score"] = None
    hits_obj["hits"] = [_render_hit(h, req, sort, scored) for h in page]
    body: dict[str, Any] = dict(extra_head or {})
    body.update(
        {
            "took": int((time.monotonic() - started) * 1000),
            "timed_out": False,
            "_shards": _shards(indices),
            "hits": hits_obj,
        }
    )
    return body


def _check_window(req: SearchRequest, indices: list[Index], cluster: Cluster, scroll: bool) -> None:
    if scroll:
        window = req.size
    else:
        window = req.from_ + req.size
    for index in indices:
        if window > index.max_result_window:
            if scroll:
                reason = (
                    f"Batch size is too large, size must be less than or equal to: [{index.max_result_window}] but "
                    f"was [{window}]. Scroll batch sizes cost as much memory as result windows so they are "
                    "controlled by the [index.max_result_window] index level setting."
                )
            else:
                reason = (
                    f"Result window is too large, from + size must be less than or equal to: "
                    f"[{index.max_result_window}] but was [{window}]. See the scroll api for a more efficient way "
                    "to request large data sets. This limit can be set by changing the [index.max_result_window] "
                    "index level setting."
                )
            raise all_shards_failed(illegal_argument(reason), [index], cluster)


def _signature(req: SearchRequest) -> str:
    return json.dumps([req.query, req.sort, req.post_filter, req.min_score], sort_keys=True, default=str)


@router.route("/_search", "GET", "POST")
@router.route("/{index}/_search", "GET", "POST")
async def search(request: Request, cluster: Cluster):
    started = time.monotonic()
    body = await json_body(request)
    req = SearchRequest.parse(body, request)
    req.query = await prepare_query(req.query, cluster)
    req.post_filter = await prepare_query(req.post_filter, cluster)
    ctx = contexts(cluster)
    ctx.expire()
    expression = request.path_params.get("index")
    if "pit" in body:
        return _search_pit(request, cluster, body, req, started, expression)
    indices = cluster.indices.resolve(
        expression,
        ignore_unavailable=bool_param(request, "ignore_unavailable"),
        allow_no_indices=bool_param(request, "allow_no_indices", True),
    )
    indices = sorted(indices, key=lambda i: i.name)
    scroll_param = request.query_params.get("scroll")
    _check_window(req, indices, cluster, scroll=scroll_param is not None)
    resolvers = [(i, FieldResolver(i.mappings)) for i in indices]
    sort = parse_sort(req.sort, resolvers, indices, cluster)
    if req.search_after is not None:
        _check_search_after(req, sort, indices, cluster)
    hits = _collect_hits(
        indices, [i.docs for i in indices], req.query, req.post_filter, req.min_score, cluster
    )
    total = len(hits)
    if req.terminate_after:
        hits = hits[: req.terminate_after]
    if scroll_param is not None:
        keep = _keep_alive(scroll_param, "scroll")
        ordered = _order(hits, sort)
        scroll = Scroll(
            _context_id("scroll"),
            ordered,
            req.size,
            req.size,
            keep,
            time.monotonic() + keep,
            total,
            {"req": req, "sort": sort, "indices": indices},
        )
        ctx.scrolls[scroll.id] = scroll
        return _response(started, indices, ordered[: req.size], total, req, sort, {"_scroll_id": scroll.id})
    if req.search_after is not None:
        ordered = _order(hits, sort)
        after = tuple(s.after_component(v) for s, v in zip(sort, req.search_after, strict=True))
        start = bisect.bisect_right([h.key[: len(sort)] for h in ordered], after)
        page = ordered[start : start + req.size]
    else:
        page = _order(hits, sort, req.from_ + req.size)[req.from_ : req.from_ + req.size]
    return _response(started, indices, page, total, req, sort)


def _check_search_after(
    req: SearchRequest, sort: list[SortField], indices: list[Index], cluster: Cluster
) -> None:
    if not sort:
        raise all_shards_failed(
            EsError(500, "search_exception", "Sort must contain at least one field."), indices, cluster
        )
    if len(req.search_after) != len(sort):
        raise all_shards_failed(
            illegal_argument(f"search_after has {len(req.search_after)} value(s) but sort has {len(sort)}."),
            indices,
            cluster,
        )
    if req.from_ not in (0, -1):
        raise illegal_argument("[from] parameter must be set to 0 when [search_after] is used")


def _search_pit(
    request: Request,
    cluster: Cluster,
    body: dict[str, Any],
    req: SearchRequest,
    started: float,
    expression: str | None,
) -> dict[str, Any]:
    if expression:
        raise EsError(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: [indices] cannot be used with point in time. Do not specify any index with point "
            "in time.;",
        )
    if "scroll" in request.query_params:
        raise EsError(
            400,
            "action_request_validation_exception",
            "Validation Failed: 1: using [point in time] is not allowed in a scroll context;",
        )
    spec = body["pit"]
    pit_id = spec.get("id") if isinstance(spec, dict) else None
    if not pit_id:
        raise parse_error("[pit] requires an [id]")
    ctx = contexts(cluster)
    pit = ctx.pits.get(pit_id)
    if pit is None:
        raise context_missing(pit_id)
    if "keep_alive" in spec:
        pit.keep_alive = _keep_alive(spec["keep_alive"], "keep_alive")
    pit.expires = time.monotonic() + pit.keep_alive
    indices = pit.snapshot.indices
    _check_window(req, indices, cluster, scroll=False)
    resolvers = [(i, FieldResolver(i.mappings)) for i in indices]
    sort = parse_sort(req.sort, resolvers, indices, cluster)
    if not any(s.name == "_shard_doc" for s in sort):
        sort.append(SortField("_shard_doc", False))  # the implicit tiebreaker of every PIT search
    if req.search_after is not None:
        _check_search_after(req, sort, indices, cluster)
    signature = _signature(req)
    ordered = pit.orderings.get(signature)
    if ordered is None:
        hits = _collect_hits(indices, pit.snapshot.docs, req.query, req.post_filter, req.min_score, cluster)
        ordered = pit.orderings[signature] = _order(hits, sort)
        if len(pit.orderings) > 8:  # a PIT serves one paging loop at a time in practice
            pit.orderings.pop(next(iter(pit.orderings)))
    if req.search_after is not None:
        after = tuple(s.after_component(v) for s, v in zip(sort, req.search_after, strict=True))
        start = _bisect_after(ordered, after, len(sort))
        page = ordered[start : start + req.size]
    else:
        page = ordered[req.from_ : req.from_ + req.size]
    return _response(started, indices, page, len(ordered), req, sort, {"pit_id": pit.id})


def _bisect_after(ordered: list[_Hit], after: tuple, width: int) -> int:
    lo, hi = 0, len(ordered)
    while lo < hi:
        mid = (lo + hi) // 2
        if after < ordered[mid].key[:width]:
            hi = mid
        else:
            lo = mid + 1
    return lo


@router.route("/_search/scroll", "GET", "POST")
@router.route("/_search/scroll/{scroll_id}", "GET", "POST")
async def scroll_next(request: Request, cluster: Cluster):
    started = time.monotonic()
    body = await json_body(request)
    scroll_id = (
        request.path_params.get("scroll_id") or request.query_params.get("scroll_id") or body.get("scroll_id")
    )
    if not scroll_id:
        raise EsError(
            400, "action_request_validation_exception", "Validation Failed: 1: scrollId is missing;"
        )
    ctx = contexts(cluster)
    ctx.expire()
    scroll = ctx.scrolls.get(scroll_id)
    if scroll is None:
        raise context_missing(scroll_id)
    keep = request.query_params.get("scroll") or body.get("scroll")
    if keep is not None:
        scroll.keep_alive = _keep_alive(keep, "scroll")
    scroll.expires = time.monotonic() + scroll.keep_alive
    page = scroll.hits[scroll.position : scroll.position + scroll.size]
    scroll.position += len(page)
    state = scroll.request
    return _response(
        started, state["indices"], page, scroll.total, state["req"], state["sort"], {"_scroll_id": scroll.id}
    )


@router.route("/_search/scroll", "DELETE")
@router.route("/_search/scroll/{scroll_id}", "DELETE")
async def clear_scroll(request: Request, cluster: Cluster):
    body = await json_body(request)
    ids = request.path_params.get("scroll_id") or body.get("scroll_id")
    if ids is None:
        raise EsError(
            400, "action_request_validation_exception", "Validation Failed: 1: no scroll ids specified;"
        )
    ids = ids.split(",") if isinstance(ids, str) else list(ids)
    ctx = contexts(cluster)
    freed = 0
    for scroll_id in ids:
        if scroll_id == "_all":
            freed += len(ctx.scrolls)
            ctx.scrolls.clear()
        elif ctx.scrolls.pop(scroll_id, None) is not None:
            freed += 1
    return (200 if freed else 404), {"succeeded": True, "num_freed": freed}


@router.route("/{index}/_pit", "POST")
async def open_pit(request: Request, cluster: Cluster):
    keep = request.query_params.get("keep_alive")
    if keep is None:
        raise EsError(
            400, "action_request_validation_exception", "Validation Failed: 1: [keep_alive] is not specified;"
        )
    seconds = _keep_alive(keep, "keep_alive")
    indices = cluster.indices.resolve(
        request.path_params["index"],
        ignore_unavailable=bool_param(request, "ignore_unavailable"),
        allow_no_indices=bool_param(request, "allow_no_indices", True),
    )
    indices = sorted(indices, key=lambda i: i.name)
    pit = PointInTime(_context_id("pit"), _Snapshot.take(indices), seconds, time.monotonic() + seconds)
    contexts(cluster).pits[pit.id] = pit
    total = sum(i.number_of_shards for i in indices)
    return {"id": pit.id, "_shards": {"total": total, "successful": total, "skipped": 0, "failed": 0}}


@router.route("/_pit", "DELETE")
async def close_pit(request: Request, cluster: Cluster):
    body = await json_body(request, required=True)
    pit_id = body.get("id")
    if not pit_id:
        raise EsError(400, "action_request_validation_exception", "Validation Failed: 1: [id] is required;")
    freed = 1 if contexts(cluster).pits.pop(pit_id, None) is not None else 0
    return (200 if freed else 404), {"succeeded": True, "num_freed": freed}


@router.route("/_count", "GET", "POST")
@router.route("/{index}/_count", "GET", "POST")
async def count(request: Request, cluster: Cluster):
    body = await json_body(request)
    for key in body:
        if key != "query":
            raise parse_error(f"request does not support [{key}]")
    query = body.get("query")
    if "q" in request.query_params:
        p = request.query_params
        query = _q_param(p["q"], p.get("df"), p.get("default_operator", "OR"))
    query = await prepare_query(query, cluster)
    indices = cluster.indices.resolve(
        request.path_params.get("index"),
        ignore_unavailable=bool_param(request, "ignore_unavailable"),
        allow_no_indices=bool_param(request, "allow_no_indices", True),
    )
    total = 0
    for index in indices:
        matcher = compile_query(query, cluster, index=index)
        total += sum(1 for doc_id, doc in index.docs.items() if matcher(doc_id, doc.source) is not None)
    return {"count": total, "_shards": _shards(indices)}
