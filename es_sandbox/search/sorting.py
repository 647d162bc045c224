"""Sorting: sort specs parsed against the searched indices' mappings, and each hit's sort key and
shown `sort` values (missing values, Long.MIN/MAX_VALUE, search_after)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from es_sandbox import mappings as mp
from es_sandbox.errors import EsError, illegal_argument, parse_error
from es_sandbox.search.dates import date_or_none
from es_sandbox.search.errors import all_shards_failed
from es_sandbox.search.fields import Field, FieldResolver, kind_of
from es_sandbox.search.queries.common import keyword_str, num
from es_sandbox.xcontent import text

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster
    from es_sandbox.indices import Index
    from es_sandbox.search.hits import Hit

LONG_MAX = 9223372036854775807
LONG_MIN = -9223372036854775808


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

    def component(self, hit: Hit) -> tuple:
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
            return num(value)
        if kind == "date":
            return date_or_none(value)
        if kind == "boolean":
            return 1 if value in (True, "true") else 0
        if kind == "auto":
            return value if isinstance(value, int | float | str) and not isinstance(value, bool) else None
        return keyword_str(value)

    def shown(self, hit: Hit) -> Any:
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


def parse_sort(
    spec: Any, resolvers: list[tuple[Index, FieldResolver]], indices: list[Index], cluster: Cluster
) -> list[SortField]:
    if spec is None:
        return []
    if isinstance(spec, bool | int | float):
        spec = text(spec)  # a scalar `sort` is a field name, as SearchSourceBuilder reads its text
    entries: list[tuple[str, Any]] = []
    for item in spec if isinstance(spec, list) else [spec]:
        if isinstance(item, str):
            entries.append((item, {}))
        elif isinstance(item, dict):
            entries.extend(item.items())  # an object holds one sort per field, in order
        else:
            raise parse_error("[sort] malformed")
    out = []
    for name, options in entries:
        if not isinstance(options, str | dict):  # refused with ES's texts while reading the body
            raise parse_error("[sort] malformed")
        options = {"order": options} if isinstance(options, str) else dict(options)
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
        sort.field = Field(sort.name, kind_of(unmapped), sort.name, {"type": unmapped})
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
