"""Highlighting: the `highlight` section of a search, and the registry of highlighters by type.

A highlighter is `(HighlightContext) -> list[str] | None`: the fragments of one field of one hit, or
None / [] for none. The type comes from the field's options (`type`), else the global `type`, else
the default of the field's mapped type (`HIGHLIGHTERS.set_default(field_type, name)`), else
`unified`. A subsystem registers its own, e.g. the `semantic` highlighter of `semantic_text`:

    HIGHLIGHTERS.register("semantic", highlight_chunks)
    HIGHLIGHTERS.set_default("semantic_text", "semantic")

The built-in `unified` / `plain` highlighter re-analyses the field's value with the standard analyzer,
breaks it into sentences (split at a word boundary past `fragment_size`), keeps the passages that
hold a query term (scored by the terms they hold), and wraps each term in `pre_tags`/`post_tags`.
"""

from __future__ import annotations

import fnmatch
import html
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from es_sandbox.errors import EsError, illegal_argument, parse_error
from es_sandbox.search.fields import Field, FieldResolver, analyze, mapped_paths
from es_sandbox.xcontent import XContentParser, value_parser

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster
    from es_sandbox.indices import Index

_OPTION_KEYS = {
    "type",
    "pre_tags",
    "post_tags",
    "fragment_size",
    "number_of_fragments",
    "require_field_match",
    "order",
    "no_match_size",
    "highlight_query",
    "encoder",
    "boundary_scanner",
    "boundary_chars",
    "boundary_max_scan",
    "boundary_scanner_locale",
    "fragmenter",
    "fragment_offset",
    "matched_fields",
    "phrase_limit",
    "max_analyzed_offset",
    "force_source",
    "tags_schema",
}


def _texts(parser: XContentParser) -> list[str]:
    if parser.token != "START_ARRAY":
        return [parser.text()]
    out = []
    while parser.next_token() != "END_ARRAY":
        out.append(parser.text())
    return out


_SCALARS = ("VALUE_STRING", "VALUE_NUMBER", "VALUE_BOOLEAN")
# How HighlightBuilder's ObjectParser declares each option: the tokens it takes, and how it reads
# them (None: the value as it is).
_OPTION_TYPES: dict[str, tuple[tuple[str, ...], Callable[[XContentParser], Any] | None]] = {
    **dict.fromkeys(
        ("fragment_size", "number_of_fragments", "no_match_size", "boundary_max_scan", "fragment_offset")
        + ("phrase_limit", "max_analyzed_offset"),
        (("VALUE_NUMBER", "VALUE_STRING"), XContentParser.int_value),
    ),
    **dict.fromkeys(
        ("require_field_match", "force_source"),
        (("VALUE_BOOLEAN", "VALUE_STRING"), XContentParser.boolean_value),
    ),
    **dict.fromkeys(
        ("type", "order", "encoder", "boundary_scanner", "boundary_chars", "boundary_scanner_locale")
        + ("fragmenter", "tags_schema"),
        (("VALUE_STRING",), XContentParser.text),
    ),
    **dict.fromkeys(("pre_tags", "post_tags", "matched_fields"), ((*_SCALARS, "START_ARRAY"), _texts)),
    "highlight_query": (("START_OBJECT",), None),
}


def _typed(owner: str, options: dict[str, Any]) -> dict[str, Any]:
    """The options read as their declared types (a number in a string, one tag for a list of it), or
    ObjectParser's errors for a value of another kind."""
    out = dict(options)
    for key, value in options.items():
        tokens, read = _OPTION_TYPES.get(key, ((), None))
        if not tokens:
            continue
        parser = value_parser(value)
        if parser.token not in tokens:
            raise EsError(
                400,
                "x_content_parse_exception",
                f"[{owner}] {key} doesn't support values of type: {parser.token}",
            )
        try:
            out[key] = value if read is None else read(parser)
        except EsError as err:
            raise EsError(
                400,
                "x_content_parse_exception",
                f"[{owner}] failed to parse field [{key}]",
                caused_by=err.to_xcontent(),
            ) from None
    return out


def _field_options(options: Any) -> dict[str, Any]:
    if not isinstance(options, dict):
        raise EsError(
            400,
            "x_content_parse_exception",
            f"[highlight_field] Expected START_OBJECT but was: {value_parser(options).token}",
        )
    return _typed("highlight_field", options)


def _field_error(cause: EsError) -> EsError:
    return EsError(
        400,
        "x_content_parse_exception",
        "[highlight] failed to parse field [fields]",
        caused_by=cause.to_xcontent(),
    )


_DEFAULTS: dict[str, Any] = {
    "pre_tags": ["<em>"],
    "post_tags": ["</em>"],
    "fragment_size": 100,
    "number_of_fragments": 5,
    "require_field_match": True,
    "order": "none",
    "no_match_size": 0,
    "encoder": "default",
}
_STYLED = [f'<em class="hlt{i}">' for i in range(1, 11)]
# Wildcard field names only pick these types, as HighlightPhase does.
_WILDCARD_TYPES = {"text", "match_only_text", "keyword"}


@dataclass
class HighlightContext:
    """One field of one hit to highlight: the field (its mapping in `field.spec`), the merged options,
    the query to highlight (the search's, prepared: query-time inference results included, or the
    `highlight_query`), the hit, and the cluster for highlighters that need another subsystem."""

    field: Field
    options: dict[str, Any]
    query: dict[str, Any] | None
    doc_id: str
    source: dict[str, Any]
    index: Index
    cluster: Cluster | None = None

    def values(self) -> list[Any]:
        return self.field.values(self.source)


Highlighter = Callable[[HighlightContext], list[str] | None]


class HighlighterRegistry:
    def __init__(self) -> None:
        self._by_name: dict[str, Highlighter] = {}
        self._defaults: dict[str, str] = {}

    def register(self, name: str, highlighter: Highlighter) -> None:
        if name in self._by_name:
            raise ValueError(f"highlighter [{name}] is already registered")
        self._by_name[name] = highlighter

    def unregister(self, name: str) -> None:
        self._by_name.pop(name, None)
        for field_type in [t for t, n in self._defaults.items() if n == name]:
            del self._defaults[field_type]

    def set_default(self, field_type: str, name: str) -> None:
        """The highlighter used for fields of `field_type` when the request names none."""
        self._defaults[field_type] = name

    def choose(self, requested: str | None, f: Field) -> Highlighter:
        name = requested or self._defaults.get(f.type or "", "unified")
        found = self._by_name.get(name)
        if found is None:
            raise illegal_argument(f"unknown highlighter type [{name}] for the field [{f.name}]")
        return found


HIGHLIGHTERS = HighlighterRegistry()


@dataclass
class HighlightRequest:
    """The parsed `highlight` section: global options and the requested fields (in order)."""

    options: dict[str, Any]
    fields: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @classmethod
    def parse(cls, spec: Any) -> HighlightRequest | None:
        if spec is None:
            return None
        if not isinstance(spec, dict):
            raise parse_error("[highlight] expected an object")
        options = {k: v for k, v in spec.items() if k != "fields"}  # a copy: prepare() replaces queries
        for key in options:
            if key not in _OPTION_KEYS:
                raise parse_error(f"[highlight] unknown field [{key}]")
        options = _typed("highlight", options)
        raw = spec.get("fields") or {}
        if not isinstance(raw, dict | list):
            token = value_parser(raw).token
            raise EsError(
                400,
                "x_content_parse_exception",
                f"[highlight] fields doesn't support values of type: {token}",
            )
        pairs: list[tuple[str, dict[str, Any]]] = []
        entries = raw if isinstance(raw, list) else [raw]
        for entry in entries:
            if not isinstance(entry, dict) or (isinstance(raw, list) and len(entry) != 1):
                raise _field_error(
                    EsError(
                        400,
                        "x_content_parse_exception",
                        "[fields] can be a single object with any number of fields or an array where each entry "
                        "is an object with a single field",
                    )
                )
            for name, field_options in entry.items():
                field_options = {} if field_options is None else field_options
                for key in field_options if isinstance(field_options, dict) else ():
                    if key not in _OPTION_KEYS:
                        raise parse_error(f"[highlight_field] unknown field [{key}]")
                try:
                    pairs.append((name, _field_options(field_options)))
                except EsError as err:
                    raise _field_error(
                        EsError(
                            400,
                            "x_content_parse_exception",
                            f"[fields] failed to parse field [{name}]",
                            caused_by=err.to_xcontent(),
                        )
                    ) from None
        return cls(options, pairs)

    async def prepare(self, prepare: Callable[[Any], Awaitable[Any]]) -> None:
        """Run the pre-search steps (query-time inference) of the highlight queries."""
        for options in [self.options, *(o for _, o in self.fields)]:
            if options.get("highlight_query"):
                options["highlight_query"] = await prepare(options["highlight_query"])

    def highlight(
        self,
        index: Index,
        doc_id: str,
        source: dict[str, Any],
        query: dict[str, Any] | None,
        cluster: Cluster | None,
    ) -> dict[str, list[str]]:
        """The `highlight` object of one hit (empty when no field has a fragment)."""
        resolver = FieldResolver(index.mappings)
        out: dict[str, list[str]] = {}
        for pattern, field_options in self.fields:
            options = {**_DEFAULTS, **self.options, **field_options}
            if options.get("tags_schema") == "styled" and "pre_tags" not in field_options:
                options["pre_tags"] = _STYLED
            target = field_options.get("highlight_query") or self.options.get("highlight_query") or query
            for name in _field_names(pattern, resolver):
                f = resolver(name)
                if f.spec is None:
                    continue  # unmapped: nothing to highlight
                highlighter = HIGHLIGHTERS.choose(options.get("type"), f)
                fragments = highlighter(HighlightContext(f, options, target, doc_id, source, index, cluster))
                if fragments:
                    out[name] = fragments
        return out


def _field_names(pattern: str, resolver: FieldResolver) -> list[str]:
    if "*" not in pattern:
        return [pattern]
    paths = mapped_paths(resolver.mappings.get("properties", {}))
    return [p for p in paths if fnmatch.fnmatchcase(p, pattern) and resolver(p).type in _WILDCARD_TYPES]


# --- the unified / plain highlighter -------------------------------------------------------------

_TERM_QUERIES = {"term", "terms", "prefix", "wildcard", "match_phrase_prefix", "match_bool_prefix"}
_TEXT_QUERIES = {"match", "match_phrase"}


def query_terms(query: Any, field_name: str, require_field_match: bool) -> set[str]:
    """The analysed terms a query looks for in `field_name` (every field's when not required)."""
    out: set[str] = set()
    _walk_terms(query, field_name, require_field_match, out)
    return out


def _walk_terms(query: Any, field_name: str, strict: bool, out: set[str]) -> None:
    if isinstance(query, list):
        for q in query:
            _walk_terms(q, field_name, strict, out)
        return
    if not isinstance(query, dict) or len(query) != 1:
        return
    ((name, body),) = query.items()
    if not isinstance(body, dict):
        return
    if name in _TEXT_QUERIES or name in _TERM_QUERIES:
        for target, spec in body.items():
            if target in ("boost", "_name") or (strict and target != field_name):
                continue
            value = spec.get("query", spec.get("value")) if isinstance(spec, dict) else spec
            values = value if isinstance(value, list) else [value]
            for v in values:
                if v is not None:
                    out.update(analyze(v) if name in _TEXT_QUERIES else [str(v).lower()])
        return
    if name in ("multi_match", "query_string", "simple_query_string"):
        fields = [f.split("^")[0] for f in body.get("fields") or ["*"]]
        if not strict or any(fnmatch.fnmatchcase(field_name, f) for f in fields):
            out.update(analyze(body.get("query", "")))
        return
    for value in body.values():
        if isinstance(value, dict | list):
            _walk_terms(value, field_name, strict, out)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _passages(text: str, size: int) -> list[tuple[int, int]]:
    """Sentence spans, each split at the first word boundary past `size` characters (0: never)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        spans.append((start, m.end()))
        start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    if size <= 0:
        return spans
    out = []
    for s, e in spans:
        while e - s > size:
            cut = text.find(" ", s + size)
            if cut == -1 or cut >= e:
                break
            out.append((s, cut + 1))
            s = cut + 1
        out.append((s, e))
    return out


def _mark(text: str, terms: set[str], options: dict[str, Any]) -> tuple[str, int]:
    pre, post = options["pre_tags"][0], options["post_tags"][0]
    escape = options.get("encoder") == "html"
    pieces, last, hits = [], 0, 0
    for m in re.finditer(r"\w+", text):
        if m.group(0).lower() in terms or any(
            t.endswith("*") and m.group(0).lower().startswith(t[:-1]) for t in terms
        ):
            pieces.append(_enc(text[last : m.start()], escape) + pre + _enc(m.group(0), escape) + post)
            last = m.end()
            hits += 1
    pieces.append(_enc(text[last:], escape))
    return "".join(pieces), hits


def _enc(text: str, escape: bool) -> str:
    return html.escape(text, quote=True) if escape else text


def unified(ctx: HighlightContext) -> list[str] | None:
    options = ctx.options
    if ctx.field.kind not in ("text", "keyword", "auto"):
        return None
    terms = query_terms(ctx.query, ctx.field.name, bool(options.get("require_field_match", True)))
    values = [v if isinstance(v, str) else str(v) for v in ctx.values()]
    count = int(options.get("number_of_fragments", 5))
    size = int(options.get("fragment_size", 100))
    scored: list[tuple[int, int, str]] = []  # (-hits, position, fragment)
    position = 0
    for value in values:
        spans = [(0, len(value))] if count == 0 or ctx.field.kind == "keyword" else _passages(value, size)
        for s, e in spans:
            fragment, hits = _mark(value[s:e].strip() if count else value[s:e], terms, options)
            if hits:
                scored.append((-hits, position, fragment))
            position += 1
    if not scored:
        no_match = int(options.get("no_match_size", 0))
        if no_match > 0 and values:
            return [_enc(_cut_at_word(values[0], no_match), options.get("encoder") == "html")]
        return None
    if count == 0:
        return [f for _, _, f in sorted(scored, key=lambda x: x[1])]
    best = sorted(scored)[:count]
    if options.get("order") != "score":
        best.sort(key=lambda x: x[1])
    return [f for _, _, f in best]


def _cut_at_word(text: str, size: int) -> str:
    if len(text) <= size:
        return text
    cut = text.rfind(" ", 0, size + 1)
    return text[: cut if cut > 0 else size]


def fast_vector(ctx: HighlightContext) -> list[str] | None:
    spec = ctx.field.spec or {}
    if spec.get("term_vector") != "with_positions_offsets":
        raise illegal_argument(
            f"the field [{ctx.field.name}] should be indexed with term vector with position offsets to be used with "
            "fast vector highlighter"
        )
    return unified(ctx)


HIGHLIGHTERS.register("unified", unified)
HIGHLIGHTERS.register("plain", unified)
HIGHLIGHTERS.register("fvh", fast_vector)
