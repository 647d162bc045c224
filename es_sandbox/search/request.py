"""The search request: body keys and URI parameters parsed and checked as RestSearchAction does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from es_sandbox.errors import illegal_argument, parse_error
from es_sandbox.http import bool_param, int_param
from es_sandbox.search.highlight import HighlightRequest
from es_sandbox.search.queries.vectors import parse_knn_search
from es_sandbox.search.source import SourceFilter
from es_sandbox.search.source_builder import read_search_body

DEFAULT_TRACK_TOTAL_HITS = 10000
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
_UNSUPPORTED = {"aggs", "aggregations", "retriever", "rank", "collapse", "rescore", "suggest", "slice"}


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
    highlight: HighlightRequest | None = None
    knn: list[dict[str, Any]] | None = None
    total_as_int: bool = False  # rest_total_hits_as_int
    fields: list[tuple[str, str | None]] | None = None  # the `fields` option: (pattern, format)

    @classmethod
    def parse(cls, body: dict[str, Any], request: Request, raw: bytes | str = b"") -> SearchRequest:
        """`body` is the parsed JSON of `raw`, the body as sent (its scalars are read from the text,
        where ES's errors locate them)."""
        scalars = read_search_body(raw) if raw else {}
        for key in body:
            if key not in _BODY_KEYS:
                raise parse_error(f"Unknown key for a START_OBJECT in [{key}].")
            if key in _UNSUPPORTED:
                raise illegal_argument(f"[{key}] is not supported by es_sandbox")
        params = request.query_params
        size = int_param(request, "size", scalars.get("size", 10))
        from_ = int_param(request, "from", scalars.get("from", 0))
        if from_ < 0:
            raise illegal_argument(f"[from] parameter cannot be negative but was [{from_}]")
        if size < 0:
            raise illegal_argument(f"[size] parameter cannot be negative, found [{size}]")
        terminate_after = int_param(request, "terminate_after", scalars.get("terminate_after"))
        if terminate_after is not None and terminate_after < 0:
            raise illegal_argument("terminateAfter must be > 0")
        tth: Any = scalars.get("track_total_hits", DEFAULT_TRACK_TOTAL_HITS)
        if "track_total_hits" in params:
            raw_tth = params["track_total_hits"]
            tth = (
                raw_tth == "true" if raw_tth in ("true", "false") else int_param(request, "track_total_hits")
            )
        if tth is not True and tth is not False and tth < -1:
            raise illegal_argument(
                f"[track_total_hits] parameter must be positive or equals to -1, got {tth}"
            )
        total_as_int = bool_param(request, "rest_total_hits_as_int")
        if total_as_int:  # RestSearchAction.checkRestTotalHits
            if "track_total_hits" not in body and "track_total_hits" not in params:
                tth = True
            elif tth is not True and tth is not False and tth not in (-1, 2147483647):
                raise illegal_argument(
                    f"[rest_total_hits_as_int] cannot be used if the tracking of total hits is not accurate, got {tth}"
                )
        sort = body.get("sort")
        if "sort" in params:
            sort = [
                {part.split(":")[0]: part.split(":")[1]} if ":" in part else part
                for part in params["sort"].split(",")
            ]
        query = body.get("query")
        if "q" in params:
            query = q_param(params)
        return cls(
            query=query,
            size=size,
            from_=from_,
            sort=sort,
            source=SourceFilter.parse(body.get("_source"), request),
            track_total_hits=tth,
            search_after=body.get("search_after"),
            track_scores=scalars.get("track_scores", False),
            min_score=scalars.get("min_score"),
            post_filter=body.get("post_filter"),
            version=bool_param(request, "version", scalars.get("version", False)),
            seq_no_primary_term=bool_param(
                request, "seq_no_primary_term", scalars.get("seq_no_primary_term", False)
            ),
            terminate_after=terminate_after,
            highlight=HighlightRequest.parse(body.get("highlight")),
            knn=_parse_knn(body, request),
            total_as_int=total_as_int,
            fields=_parse_fields(body.get("fields")),
        )


def _parse_knn(body: dict[str, Any], request: Request) -> list[dict[str, Any]] | None:
    if body.get("knn") is None:
        return None
    if "search_type" in request.query_params:
        raise illegal_argument(
            "cannot set [search_type] when using [knn] search, since the search type is determined automatically"
        )
    return parse_knn_search(body["knn"])


def _parse_fields(value: Any) -> list[tuple[str, str | None]] | None:
    if value is None:
        return None
    entries = value if isinstance(value, list) else [value]
    out = []
    for entry in entries:
        if isinstance(entry, str):
            out.append((entry, None))
        elif isinstance(entry, dict) and isinstance(entry.get("field"), str):
            out.append((entry["field"], entry.get("format")))
        else:
            raise parse_error("[fields] must be an array of field names or objects with a [field]")
    return out


def q_param(params: Any) -> dict[str, Any]:
    """The `q` URI parameter: a query_string query (RestSearchAction.parseSearchSource)."""
    body: dict[str, Any] = {"query": params["q"]}
    for name, key in (
        ("df", "default_field"),
        ("default_operator", "default_operator"),
        ("analyzer", "analyzer"),
    ):
        if name in params:
            body[key] = params[name]
    if "lenient" in params:
        body["lenient"] = params["lenient"] != "false"
    return {"query_string": body}
