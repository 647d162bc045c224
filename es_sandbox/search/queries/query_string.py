"""`query_string` and `simple_query_string` (and so the `q=` URI parameter): Lucene's query syntax
in the forms people write — terms, `field:value`, "phrases", `*` wildcards, `+`/`-`, AND / OR / NOT,
parentheses, ranges (`[a TO b]`, `{a TO b}`, `>=5`) — compiled to the built-in queries.

A term without a field searches `default_field` (`*`: every field a text query can search). Over
several fields the query is lenient by default, as QueryStringQueryBuilder is for all-field queries:
a value a field cannot hold (text on a date) matches nothing there instead of failing the search."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Any

from es_sandbox import mappings as mp
from es_sandbox.errors import EsError, parse_error
from es_sandbox.search.fields import mapped_paths
from es_sandbox.search.queries.common import boost_of
from es_sandbox.search.queries.registry import QUERIES, Matcher, QueryContext

# Field types an all-field query searches (QueryParserHelper: fields with text search info).
_SEARCHABLE = {
    "text",
    "match_only_text",
    "keyword",
    "constant_keyword",
    "wildcard",
    "boolean",
    "date",
    "date_nanos",
    "ip",
}
_TOKEN = re.compile(
    r"\s*(?:(?P<lparen>\()|(?P<rparen>\))|(?P<op>AND\b|OR\b|NOT\b|&&|\|\||!)"
    r'|(?P<clause>[+-]?(?:[^\s()":]+:)?(?:"(?:[^"\\]|\\.)*"|[\[{][^\]}]*[\]}]|[<>]=?[^\s()]+|[^\s()]+)))'
)


@dataclass
class _Clause:
    occur: str  # must | should | must_not
    query: dict[str, Any]


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise _failed(text, f"Cannot parse '{text}': Encountered \" <UNKNOWN> \" at position {pos}")
        kind = m.lastgroup or "clause"
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _failed(text: str, reason: str) -> EsError:
    return EsError(
        400,
        "query_shard_exception",
        f"Failed to parse query [{text}]",
        caused_by={"type": "parse_exception", "reason": reason},
    )


class _Parser:
    def __init__(self, text: str, fields: list[str], default_and: bool, lenient: bool) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.pos = 0
        self.fields = fields
        self.default_and = default_and
        self.lenient = lenient

    def parse(self) -> dict[str, Any]:
        query = self._group()
        if self.pos < len(self.tokens):
            raise _failed(self.text, f'Cannot parse \'{self.text}\': Encountered " ")" ") ""')
        return query

    def _group(self) -> dict[str, Any]:
        clauses: list[_Clause] = []
        pending: str | None = None  # the operator before the next clause
        while self.pos < len(self.tokens):
            kind, value = self.tokens[self.pos]
            if kind == "rparen":
                break
            self.pos += 1
            if kind == "op":
                op = {"&&": "AND", "||": "OR", "!": "NOT"}.get(value, value)
                if op == "AND" and clauses and clauses[-1].occur == "should":
                    clauses[-1].occur = "must"
                pending = op
                continue
            if kind == "lparen":
                inner = self._group()
                if self.pos >= len(self.tokens) or self.tokens[self.pos][0] != "rparen":
                    raise _failed(self.text, f"Cannot parse '{self.text}': Encountered \"<EOF>\"")
                self.pos += 1
                clauses.append(_Clause(self._occur(pending, None), inner))
            else:
                prefix = value[0] if value[0] in "+-" else None
                clauses.append(_Clause(self._occur(pending, prefix), self._clause(value.lstrip("+-"))))
            pending = None
        if not clauses:
            return {"match_none": {}}
        if len(clauses) == 1 and clauses[0].occur in ("must", "should"):
            return clauses[0].query
        bool_query: dict[str, list] = {}
        for clause in clauses:
            bool_query.setdefault(clause.occur, []).append(clause.query)
        return {"bool": bool_query}

    def _occur(self, op: str | None, prefix: str | None) -> str:
        if prefix == "-" or op == "NOT":
            return "must_not"
        if prefix == "+" or op == "AND" or (op is None and self.default_and):
            return "must"
        return "should"

    def _clause(self, text: str) -> dict[str, Any]:
        field, sep, value = text.partition(":") if not text.startswith('"') else ("", "", text)
        if not sep:
            field, value = "", text
        fields = [field] if field and "*" not in field else self.fields
        pattern = field if field and "*" in field else None
        return {
            "_query_string_term": {
                "value": value,
                "fields": fields,
                "pattern": pattern,
                "lenient": self.lenient,
            }
        }


def _term_query(field: str, value: str) -> dict[str, Any]:
    """One `field:value` of the syntax as the built-in query that searches it."""
    if value.startswith('"') and value.endswith('"') and len(value) > 1:
        return {"match_phrase": {field: value[1:-1].replace('\\"', '"')}}
    if value[:1] in "[{" and value[-1:] in "]}":
        low, _, high = value[1:-1].partition(" TO ")
        spec: dict[str, Any] = {}
        if low.strip() != "*":
            spec["gte" if value[0] == "[" else "gt"] = low.strip()
        if high.strip() != "*":
            spec["lte" if value[-1] == "]" else "lt"] = high.strip()
        return {"range": {field: spec}}
    for op, key in ((">=", "gte"), ("<=", "lte"), (">", "gt"), ("<", "lt")):
        if value.startswith(op):
            return {"range": {field: {key: value[len(op) :]}}}
    if "*" in value or "?" in value:
        return {"wildcard": {field: {"value": value.lower(), "case_insensitive": True}}}
    return {"match": {field: {"query": value}}}


def _search_fields(ctx: QueryContext, names: list[str]) -> list[str]:
    """Concrete field names for the query's fields, `*` patterns expanded over the mapping."""
    out: list[str] = []
    for name in names:
        field_name = name.split("^")[0]
        if "*" not in field_name:
            out.append(field_name)
            continue
        for path in mapped_paths(ctx.resolver.mappings.get("properties", {})):
            spec = ctx.field(path).spec or {}
            ftype = spec.get("type", "object")
            if fnmatch.fnmatchcase(path, field_name) and (ftype in _SEARCHABLE or ftype in mp.NUMERIC_TYPES):
                out.append(path)
    return list(dict.fromkeys(out))


@QUERIES.query("_query_string_term")
def _query_string_term(ctx: QueryContext, body: dict[str, Any]) -> Matcher:
    """Internal: one clause of a query_string, over its fields (never sent by clients)."""
    names = [body["pattern"]] if body.get("pattern") else body["fields"]
    fields = _search_fields(ctx, names)
    lenient = body["lenient"]
    matchers = []
    for name in fields:
        try:
            matchers.append(ctx.compile(_term_query(name, body["value"])))
        except EsError:
            if not lenient:
                raise
    if not matchers:
        return lambda doc_id, source: None

    def match(doc_id: str, source: dict[str, Any]) -> float | None:
        scores = []
        for m in matchers:
            try:
                s = m(doc_id, source)
            except (ValueError, TypeError):
                s = None
            if s is not None:
                scores.append(s)
        return max(scores) if scores else None

    return match


def query_string_query(body: dict[str, Any], index_default: str = "*") -> dict[str, Any]:
    """A query_string body as the built-in queries it means."""
    if "query" not in body:
        raise parse_error("[query_string] must be provided with a [query]")
    fields = body.get("fields") or [body.get("default_field") or index_default]
    operator = str(body.get("default_operator", "or")).lower()
    if operator not in ("or", "and"):
        raise parse_error(f"[query_string] default_operator [{operator}] is not allowed")
    lenient = body.get("lenient")
    if lenient is None:  # all-field queries are lenient unless told otherwise
        lenient = any("*" in str(f).split("^")[0] for f in fields)
    return _Parser(str(body["query"]), fields, operator == "and", bool(lenient)).parse()


@QUERIES.query("query_string")
def query_string(ctx: QueryContext, body: dict[str, Any]) -> Matcher:
    default = (ctx.index.setting("query.default_field") if ctx.index is not None else None) or "*"
    inner = ctx.compile(query_string_query(body, default))
    boost = boost_of(body)
    return lambda doc_id, source: None if (s := inner(doc_id, source)) is None else s * boost


@QUERIES.query("simple_query_string")
def simple_query_string(ctx: QueryContext, body: dict[str, Any]) -> Matcher:
    """The simple syntax is a subset of the classic one here; it never fails on bad input (lenient)."""
    try:
        return query_string(ctx, {**body, "lenient": body.get("lenient", True)})
    except EsError as err:
        if err.type != "query_shard_exception":
            raise
        return lambda doc_id, source: None
