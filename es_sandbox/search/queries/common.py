"""Helpers the built-in query types share: leaf-query parsing, value comparison per field kind,
minimum_should_match, and the scoring approximations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from es_sandbox.errors import EsError, parse_error
from es_sandbox.search.dates import date_or_none, parse_date
from es_sandbox.search.fields import Field, analyze


def single(query: Any, name: str) -> tuple[str, Any]:
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


def single_field(body: dict[str, Any]) -> str | None:
    """field_of for `{field: spec}` queries (term, match...): None when malformed."""
    names = [k for k in body if k not in ("boost", "_name")]
    return names[0] if len(names) == 1 else None


def named_field(body: dict[str, Any]) -> str | None:
    """field_of for `{"field": name, ...}` queries (exists, knn, sparse_vector)."""
    name = body.get("field")
    return name if isinstance(name, str) else None


def boost_of(body: Any, default: float = 1.0) -> float:
    return float(body.get("boost", default)) if isinstance(body, dict) else default


def bm25(tf: int, length: int) -> float:
    """BM25's term-frequency saturation and length norm (k1 1.2, b 0.75, a nominal average length)."""
    return tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * length / 8.0))


def phrase_hits(tokens: list[str], phrase: list[str], slop: int) -> int:
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


def to_number(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(value)
    return float(value)


def num(v: Any) -> float | None:
    try:
        return float(v) if not isinstance(v, bool) else None
    except (TypeError, ValueError):
        return None


def bool_str(v: Any) -> str:
    return "true" if v in (True, "true") else "false" if v in (False, "false", "") else str(v)


def keyword_str(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _norm_auto(v: Any) -> Any:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return float(v)
    return v


def term_test(f: Field, values: list[Any], insensitive: bool) -> Callable[[dict[str, Any]], bool]:
    """Whether a source holds one of `values` in field `f`, compared as the field's kind compares."""
    kind = f.kind
    if kind == "numeric":
        wanted = set()
        for v in values:
            try:
                wanted.add(float(v))
            except (TypeError, ValueError):
                raise query_shard(f'For input string: "{v}"') from None
        return lambda source: any(num(v) in wanted for v in f.values(source))
    if kind == "date":
        wanted = {date_value(v) for v in values}
        return lambda source: any(date_or_none(v) in wanted for v in f.values(source))
    if kind == "boolean":
        for v in values:
            if bool_str(v) not in ("true", "false"):
                raise query_shard(f"Can't parse boolean value [{v}], expected [true] or [false]")
        wanted_b = {bool_str(v) for v in values}
        return lambda source: any(bool_str(v) in wanted_b for v in f.values(source))
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
    wanted_k = {keyword_str(v).lower() if insensitive else keyword_str(v) for v in values}
    if insensitive:
        return lambda source: any(keyword_str(v).lower() in wanted_k for v in f.values(source))
    return lambda source: any(keyword_str(v) in wanted_k for v in f.values(source))


def query_shard(reason: str) -> EsError:
    """A query that cannot be built for a field's type (SearchExecutionContext.toQuery's wrapping)."""
    return EsError(400, "query_shard_exception", f"failed to create query: {reason}")


def date_value(value: Any, **kwargs: Any) -> float:
    """A date a query compares with, or ES's failure to parse it with the default format."""
    try:
        return parse_date(value, **kwargs)
    except (TypeError, ValueError, OverflowError):
        problem = (
            f"failed to parse date field [{value}] with format [strict_date_optional_time||epoch_millis]"
        )
        raise query_shard(f"{problem}: [{problem}]") from None


def minimum_should_match(spec: Any, optional: int, default: int) -> int:
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
