"""The search REST endpoints: `_search`, `_count`, scroll and point in time."""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from es_sandbox.errors import EsError, illegal_argument, parse_error, validation_failed
from es_sandbox.http import Router, bool_param, int_param, json_body
from es_sandbox.indices.api import resolve_param, resolve_sorted
from es_sandbox.java import java_str
from es_sandbox.search.errors import all_shards_failed
from es_sandbox.search.fields import FieldResolver
from es_sandbox.search.hits import (
    bisect_after,
    check_search_after,
    check_window,
    collect_hits,
    order,
    response,
    shards,
    signature,
)
from es_sandbox.search.queries import PrepareContext, compile_query, prepare_query
from es_sandbox.search.queries.vectors import knn_search_scores, prepare_knn_search
from es_sandbox.search.request import SearchRequest, q_param
from es_sandbox.search.scroll_request import clear_scroll_ids, scroll_request
from es_sandbox.search.service import keep_alive
from es_sandbox.search.sorting import SortField, parse_sort
from es_sandbox.xcontent import read_json

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster
    from es_sandbox.indices import Index

router = Router()


async def _prepare(req: SearchRequest, cluster: Cluster, indices: list[Index]) -> None:
    """The pre-search steps of every query the search runs (query-time inference, once)."""
    req.query = await prepare_query(req.query, cluster, indices)
    req.post_filter = await prepare_query(req.post_filter, cluster, indices)
    if req.knn is not None:
        req.knn = await prepare_knn_search(req.knn, PrepareContext(cluster, indices))
    if req.highlight is not None:
        await req.highlight.prepare(lambda q: prepare_query(q, cluster, indices))


def _hits(req: SearchRequest, indices: list[Index], docs_of: list, cluster: Cluster) -> list:
    knn_scores = knn_search_scores(req.knn, indices, docs_of, req.size, cluster) if req.knn else None
    return collect_hits(indices, docs_of, req, cluster, knn_scores)


@router.route("/_search", "GET", "POST")
@router.route("/{index}/_search", "GET", "POST")
async def search(request: Request, cluster: Cluster):
    body = await json_body(request)
    return await execute_search(
        cluster, body, request, request.path_params.get("index"), await request.body()
    )


async def execute_search(
    cluster: Cluster, body: dict[str, Any], request: Any, expression: str | None, raw: bytes = b""
) -> dict[str, Any]:
    """One search: `request` gives its URI parameters (`query_params`), as `_search` and each search
    of `_msearch` (whose header lines become parameters) pass them; `body` is `raw` parsed."""
    started = time.monotonic()
    req = SearchRequest.parse(body, request, raw)
    cluster.search.expire()
    if "pit" in body:
        return await _search_pit(request, cluster, body, req, started, expression)
    indices = resolve_sorted(request, cluster, expression, level="read")
    await _prepare(req, cluster, indices)
    scroll_param = request.query_params.get("scroll")
    check_window(req, indices, cluster, scroll=scroll_param is not None)
    resolvers = [(i, FieldResolver(i.mappings)) for i in indices]
    sort = parse_sort(req.sort, resolvers, indices, cluster)
    if req.search_after is not None:
        check_search_after(req, sort, indices, cluster)
    hits = _hits(req, indices, [i.docs for i in indices], cluster)
    total = len(hits)
    if req.terminate_after:
        hits = hits[: req.terminate_after]
    if scroll_param is not None:
        ordered = order(hits, sort)
        scroll = cluster.search.open_scroll(
            ordered,
            req.size,
            keep_alive(scroll_param, "scroll"),
            total,
            {"req": req, "sort": sort, "indices": indices},
        )
        return response(
            cluster, started, indices, ordered[: req.size], total, req, sort, {"_scroll_id": scroll.id}
        )
    if req.search_after is not None:
        ordered = order(hits, sort)
        after = tuple(s.after_component(v) for s, v in zip(sort, req.search_after, strict=True))
        start = bisect.bisect_right([h.key[: len(sort)] for h in ordered], after)
        page = ordered[start : start + req.size]
    else:
        page = order(hits, sort, req.from_ + req.size)[req.from_ : req.from_ + req.size]
    return response(cluster, started, indices, page, total, req, sort)


async def _search_pit(
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
    renewed = keep_alive(spec["keep_alive"], "keep_alive") if "keep_alive" in spec else None
    pit = cluster.search.pit(pit_id, renewed)
    indices = pit.snapshot.indices
    await _prepare(req, cluster, indices)
    check_window(req, indices, cluster, scroll=False)
    resolvers = [(i, FieldResolver(i.mappings)) for i in indices]
    sort = parse_sort(req.sort, resolvers, indices, cluster)
    if not any(s.name == "_shard_doc" for s in sort):
        sort.append(SortField("_shard_doc", False))  # the implicit tiebreaker of every PIT search
    if req.search_after is not None:
        check_search_after(req, sort, indices, cluster)
    key = signature(req)
    ordered = pit.orderings.get(key)
    if ordered is None:
        hits = _hits(req, indices, pit.snapshot.docs, cluster)
        ordered = pit.orderings[key] = order(hits, sort)
        if len(pit.orderings) > 8:  # a PIT serves one paging loop at a time in practice
            pit.orderings.pop(next(iter(pit.orderings)))
    if req.search_after is not None:
        after = tuple(s.after_component(v) for s, v in zip(sort, req.search_after, strict=True))
        start = bisect_after(ordered, after, len(sort))
        page = ordered[start : start + req.size]
    else:
        page = ordered[req.from_ : req.from_ + req.size]
    return response(cluster, started, indices, page, len(ordered), req, sort, {"pit_id": pit.id})


# --- _msearch ---------------------------------------------------------------------------------------

_MSEARCH_HEADER_KEYS = {
    "index",
    "indices",
    "expand_wildcards",
    "ignore_unavailable",
    "allow_no_indices",
    "ignore_throttled",
    "search_type",
    "ccs_minimize_roundtrips",
    "request_cache",
    "preference",
    "routing",
    "allow_partial_search_results",
}


@dataclass
class _SearchParams:
    """The URI parameters one search of an _msearch runs with: the request's, then its header's."""

    query_params: dict[str, str]
    path_params: dict[str, str] = field(default_factory=dict)


@router.route("/_msearch", "GET", "POST")
@router.route("/{index}/_msearch", "GET", "POST")
async def msearch(request: Request, cluster: Cluster):
    """MultiSearchRequest.readMultiLineFormat: header and body lines, each search answered in order
    with its own status; a failed search is an error item, not a failed request."""
    started = time.monotonic()
    raw = await request.body()
    if not raw.strip():
        raise validation_failed("no requests added")
    if not raw.endswith(b"\n"):
        raise illegal_argument("The msearch request must be terminated by a newline [\n]")
    lines = raw.split(b"\n")[:-1]
    searches = []
    for i in range(0, len(lines), 2):
        header = _json_line(lines[i]) if lines[i].strip() else {}
        if i + 1 >= len(lines):
            break
        for key in header:
            if key not in _MSEARCH_HEADER_KEYS:
                raise illegal_argument(f"key [{key}] is not supported in the metadata section")
        body_line = lines[i + 1]
        searches.append((header, _json_line(body_line) if body_line.strip() else {}, body_line))
    if not searches:
        raise validation_failed("no requests added")
    if bool_param(request, "rest_total_hits_as_int"):  # RestMultiSearchAction checks every search first
        for _, body, _ in searches:
            tracked = body.get("track_total_hits", True)
            if tracked not in (True, False, -1, 2147483647):
                raise illegal_argument(
                    "[rest_total_hits_as_int] cannot be used if the tracking of total hits is not accurate, "
                    f"got {tracked}"
                )
    planned = []
    for header, body, body_line in searches:
        params = {**request.query_params}
        params.update({k: _param_text(v) for k, v in header.items() if k not in ("index", "indices")})
        SearchRequest.parse(body, _SearchParams(params), body_line)  # a body ES cannot parse fails them all
        planned.append((_header_indices(header, request.path_params.get("index")), body, params, body_line))
    responses = []
    for expression, body, params, body_line in planned:
        try:
            result = await execute_search(cluster, body, _SearchParams(params), expression, body_line)
            responses.append({**result, "status": 200})
        except EsError as err:
            responses.append(err.body())
    return {"took": int((time.monotonic() - started) * 1000), "responses": responses}


def _json_line(line: bytes) -> dict[str, Any]:
    value = read_json(line)
    if not isinstance(value, dict):
        raise EsError(400, "x_content_parse_exception", "msearch lines must be JSON objects")
    return value


def _header_indices(header: dict[str, Any], path_index: str | None) -> str | None:
    """The indices a header names (nodeStringArrayValue: an array's elements, or a value's text split
    at commas), as an index expression; the path's without `index` or `indices`."""
    key = "index" if "index" in header else "indices" if "indices" in header else None
    if key is None:
        return path_index
    names = header[key]
    if isinstance(names, list):
        if any(name is None for name in names):  # SearchRequest.indices refuses a null name
            raise EsError(500, "null_pointer_exception", "index must not be null")
        return ",".join(java_str(name) for name in names)
    return None if names is None else java_str(names)


def _param_text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(java_str(v) for v in value)
    return java_str(value)


@router.route("/_search/scroll", "GET", "POST")
@router.route("/_search/scroll/{scroll_id}", "GET", "POST")
async def scroll_next(request: Request, cluster: Cluster):
    started = time.monotonic()
    scroll_id, renew = await scroll_request(request)
    if scroll_id is None:
        raise validation_failed("scrollId is missing")
    scroll, page = cluster.search.next_page(scroll_id, None if renew is None else keep_alive(renew, "scroll"))
    state = scroll.request
    return response(
        cluster,
        started,
        state["indices"],
        page,
        scroll.total,
        state["req"],
        state["sort"],
        {"_scroll_id": scroll.id},
    )


@router.route("/_search/scroll", "DELETE")
@router.route("/_search/scroll/{scroll_id}", "DELETE")
async def clear_scroll(request: Request, cluster: Cluster):
    ids = await clear_scroll_ids(request)
    if not ids:
        raise validation_failed("no scroll ids specified")
    freed = cluster.search.clear_scrolls(ids)
    if set(ids) == {"_all"}:
        # ClearScrollController.cleanAllScrolls: every node that answers counts as one freed context
        return {"succeeded": True, "num_freed": len(cluster.nodes)}
    return (200 if freed else 404), {"succeeded": True, "num_freed": freed}


@router.route("/{index}/_pit", "POST")
async def open_pit(request: Request, cluster: Cluster):
    keep = request.query_params.get("keep_alive")
    if keep is None:
        raise EsError(
            400, "action_request_validation_exception", "Validation Failed: 1: [keep_alive] is not specified;"
        )
    seconds = keep_alive(keep, "keep_alive")
    indices = resolve_sorted(request, cluster, request.path_params["index"], level="read")
    pit = cluster.search.open_pit(indices, seconds)
    return {"id": pit.id, "_shards": shards(indices)}


@router.route("/_pit", "DELETE")
async def close_pit(request: Request, cluster: Cluster):
    body = await json_body(request, required=True)
    pit_id = body.get("id")
    if not pit_id:
        raise EsError(400, "action_request_validation_exception", "Validation Failed: 1: [id] is required;")
    freed = cluster.search.close_pit(pit_id)
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
        query = q_param(request.query_params)
    terminate_after = int_param(request, "terminate_after", 0)
    if terminate_after < 0:  # RestCountAction, before the indices are resolved
        raise illegal_argument("terminateAfter must be > 0")
    indices = resolve_param(request, cluster, request.path_params.get("index"), level="read")
    query = await prepare_query(query, cluster, indices)
    total = 0
    for index in indices:
        started = time.monotonic_ns()
        try:
            matcher = compile_query(query, cluster, index=index, docs=index.docs)
            total += sum(1 for doc_id, doc in index.docs.items() if matcher(doc_id, doc.source) is not None)
        except EsError as err:
            if err.type in ("parsing_exception", "x_content_parse_exception"):
                raise
            raise all_shards_failed(err, [index], cluster) from None
        index.stats.record_query(time.monotonic_ns() - started)
    if terminate_after:
        return {
            "count": min(total, terminate_after),
            "terminated_early": total >= terminate_after,
            "_shards": shards(indices),
        }
    return {"count": total, "_shards": shards(indices)}
