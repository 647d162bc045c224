"""The one registry of query types: name -> compiler, with optional pre-search steps and
field-type overrides. The contract is documented in `es_sandbox.search` (package docstring)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from es_sandbox.errors import parse_error
from es_sandbox.search.fields import Field, FieldResolver
from es_sandbox.suggestions import similar

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster
    from es_sandbox.indices import Doc, Index

# (doc_id, stored _source) -> score, or None when the document does not match.
Matcher = Callable[[str, dict[str, Any]], float | None]
Compile = Callable[["QueryContext", dict[str, Any]], Matcher]
FieldCompile = Callable[["QueryContext", Field, dict[str, Any]], Matcher]
Prepare = Callable[[dict[str, Any], "PrepareContext"], Awaitable[dict[str, Any]]]
FieldPrepare = Callable[[dict[str, Any], "PrepareContext", str], Awaitable[dict[str, Any]]]
FieldOf = Callable[[dict[str, Any]], str | None]

# Query names a default distribution knows, registered here or not: the candidates of ES's
# "did you mean" suggestion for an unknown query name.
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


@dataclass(frozen=True)
class QueryType:
    name: str
    compile: Compile
    prepare: Prepare | None = None
    children: tuple[str, ...] = ()
    field_of: FieldOf | None = None


@dataclass(frozen=True)
class FieldTypeOverride:
    query: str
    field_type: str
    compile: FieldCompile
    prepare: FieldPrepare | None = None


class QueryRegistry:
    """Query types by name, and per (query, field type) overrides of a query's behaviour."""

    def __init__(self) -> None:
        self._types: dict[str, QueryType] = {}
        self._overrides: dict[tuple[str, str], FieldTypeOverride] = {}

    def register(
        self,
        name: str,
        compile: Compile,
        *,
        prepare: Prepare | None = None,
        children: Iterable[str] = (),
        field_of: FieldOf | None = None,
    ) -> None:
        if name in self._types:
            raise ValueError(f"query type [{name}] is already registered")
        self._types[name] = QueryType(name, compile, prepare, tuple(children), field_of)

    def query(self, name: str, **options: Any) -> Callable[[Compile], Compile]:
        """Decorator form of register()."""

        def decorate(compile: Compile) -> Compile:
            self.register(name, compile, **options)
            return compile

        return decorate

    def register_field_type(
        self, query: str, field_type: str, compile: FieldCompile, *, prepare: FieldPrepare | None = None
    ) -> None:
        entry = self._types.get(query)
        if entry is None or entry.field_of is None:
            raise ValueError(
                f"query type [{query}] is not registered with a field_of: it cannot be overridden"
            )
        if (query, field_type) in self._overrides:
            raise ValueError(f"[{query}] on [{field_type}] fields is already registered")
        self._overrides[(query, field_type)] = FieldTypeOverride(query, field_type, compile, prepare)

    def field_type(
        self, query: str, field_type: str, **options: Any
    ) -> Callable[[FieldCompile], FieldCompile]:
        """Decorator form of register_field_type()."""

        def decorate(compile: FieldCompile) -> FieldCompile:
            self.register_field_type(query, field_type, compile, **options)
            return compile

        return decorate

    def unregister(self, name: str) -> None:
        """Remove a query type and its field-type overrides (a subsystem unloaded, a test's own type)."""
        self._types.pop(name, None)
        for key in [k for k in self._overrides if k[0] == name]:
            del self._overrides[key]

    def unregister_field_type(self, query: str, field_type: str) -> None:
        self._overrides.pop((query, field_type), None)

    def get(self, name: str) -> QueryType | None:
        return self._types.get(name)

    def override(self, query: str, field_type: str | None) -> FieldTypeOverride | None:
        return None if field_type is None else self._overrides.get((query, field_type))

    def names(self) -> list[str]:
        return sorted(self._types)

    def unknown(self, name: str) -> Exception:
        return parse_error(f"unknown query [{name}]{suggest(name, {*KNOWN_QUERIES, *self._types})}")


QUERIES = QueryRegistry()


def split_query(query: Any) -> tuple[str, dict[str, Any]]:
    """The (name, body) of a query object, with ES's parse errors for malformed ones."""
    if not isinstance(query, dict) or len(query) != 1:
        if isinstance(query, dict) and len(query) > 1:
            keys = list(query)
            raise parse_error(f"[{keys[0]}] malformed query, expected [END_OBJECT] but found [FIELD_NAME]")
        raise parse_error("query malformed, must start with start_object")
    ((name, body),) = query.items()
    return name, body


@dataclass
class QueryContext:
    """What a compiler sees while compiling a query for one index.

    `field(name)` resolves a field name against the index's mapping; `index` is the index searched (None
    for a query compiled without one); `docs` are the documents this search reads (a point in time
    reads its snapshot), for query types that rank the whole index first (knn); `cluster` reaches
    the other subsystems."""

    resolver: FieldResolver
    index: Index | None = None
    docs: Mapping[str, Doc] | None = None
    cluster: Cluster | None = None
    request_size: int | None = None  # the search's `size` (knn's default k)
    registry: QueryRegistry = field(default_factory=lambda: QUERIES)

    def compile(self, query: Any) -> Matcher:
        name, body = split_query(query)
        entry = self.registry.get(name)
        if entry is None:
            raise self.registry.unknown(name)
        if not isinstance(body, dict):
            raise parse_error(f"[{name}] query malformed, no start_object after query name")
        if entry.field_of is not None:
            field_name = entry.field_of(body)
            if field_name is not None:
                target = self.field(field_name)
                override = self.registry.override(name, target.type)
                if override is not None:
                    return override.compile(self, target, body)
        return entry.compile(self, body)

    def compile_clauses(self, value: Any) -> list[Matcher]:
        """One query or a list of queries (bool clauses, dis_max queries, knn filters)."""
        if value is None:
            return []
        return [self.compile(q) for q in (value if isinstance(value, list) else [value])]

    def field(self, name: str) -> Field:
        return self.resolver(name)

    def documents(self) -> Mapping[str, Doc]:
        if self.docs is not None:
            return self.docs
        return self.index.docs if self.index is not None else {}


@dataclass
class PrepareContext:
    """What a pre-search step sees: the cluster and every index the search will read."""

    cluster: Cluster
    indices: list[Index] = field(default_factory=list)
    registry: QueryRegistry = field(default_factory=lambda: QUERIES)

    def field_types(self, name: str) -> set[str | None]:
        """The type `name` is mapped with in each index searched (None where it is unmapped)."""
        return {FieldResolver(index.mappings)(name).type for index in self.indices}

    def overridden(self, query: str, name: str) -> bool:
        """Whether every index searched maps `name` with a type that overrides `query`."""
        types = self.field_types(name)
        return bool(types) and all(self.registry.override(query, t) is not None for t in types)

    async def prepare(self, query: Any) -> Any:
        if not isinstance(query, dict) or len(query) != 1:
            return query
        ((name, body),) = query.items()
        entry = self.registry.get(name)
        if entry is None or not isinstance(body, dict):
            return query  # compile() answers for it
        body = dict(body)
        for key in entry.children:
            value = body.get(key)
            if isinstance(value, list):
                body[key] = [await self.prepare(q) for q in value]
            elif isinstance(value, dict):
                body[key] = await self.prepare(value)
        if entry.field_of is not None:
            field_name = entry.field_of(body)
            if field_name is not None:
                for field_type in sorted(t for t in self.field_types(field_name) if t is not None):
                    override = self.registry.override(name, field_type)
                    if override is not None and override.prepare is not None:
                        body = await override.prepare(body, self, field_name)
        if entry.prepare is not None:
            body = await entry.prepare(body, self)
        return {name: body}


def suggest(name: str, candidates: Iterable[str]) -> str:
    """SuggestingErrorOnUnknown.suggest: candidates with a Levenshtein similarity above 0.5."""
    names = similar(name, candidates)
    if not names:
        return ""
    return (
        f" did you mean [{names[0]}]?" if len(names) == 1 else f" did you mean any of [{', '.join(names)}]?"
    )
