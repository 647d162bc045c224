"""Running a search over indices: the hits a query matches, their order, paging checks, and the
response as Elasticsearch shapes it."""

from __future__ import annotations

import heapq
import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from es_sandbox.errors import EsError, illegal_argument
from es_sandbox.indices.stats import record_search
from es_sandbox.search.errors import all_shards_failed
from es_sandbox.search.fetch_fields import fetch_fields
from es_sandbox.search.queries import Matcher, compile_query

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster
    from es_sandbox.indices import Doc, Index
    from es_sandbox.search.request import SearchRequest
    from es_sandbox.search.sorting import SortField


@dataclass
class Hit:
    index: Index
    doc_id: str
    doc: Doc
    score: float
    shard: int
    key: tuple = ()

    @property
    def shard_doc(self) -> int:
        return (self.shard << 32) | self.doc.seq_no


def collect_hits(
    indices: list[Index],
    docs_of: list[Mapping[str, Doc]],
    req: SearchRequest,
    cluster: Cluster,
    knn_scores: dict[tuple[str, str], float] | None = None,
) -> list[Hit]:
    """The hits of a search: documents its query matches, or the top-level knn found (scores add
    up, as their disjunction does), that pass post_filter and min_score."""
    hits: list[Hit] = []
    for shard, (index, docs) in enumerate(zip(indices, docs_of, strict=True)):
        try:
            matcher = None
            if req.query is not None or knn_scores is None:
                matcher = compile_query(req.query, cluster, index=index, docs=docs, size=req.size)
            post = (
                compile_query(req.post_filter, cluster, index=index, docs=docs) if req.post_filter else None
            )
        except EsError as err:
            if err.type in ("parsing_exception", "x_content_parse_exception"):
                raise
            raise all_shards_failed(err, [index], cluster) from None
        try:
            matched = list(_matches(index, docs, matcher, post, req, knn_scores))
        except EsError as err:
            raise all_shards_failed(err, [index], cluster) from None
        hits.extend(Hit(index, doc_id, doc, score, shard) for doc_id, doc, score in matched)
    return hits


def _matches(
    index: Index,
    docs: Mapping[str, Doc],
    matcher: Matcher | None,
    post: Matcher | None,
    req: SearchRequest,
    knn_scores: dict[tuple[str, str], float] | None,
) -> Iterator[tuple[str, Doc, float]]:
    """(doc id, doc, score) of the documents of one shard the search keeps."""
    for doc_id, doc in docs.items():
        score = matcher(doc_id, doc.source) if matcher is not None else None
        if knn_scores:
            near = knn_scores.get((index.name, doc_id))
            if near is not None:
                score = near if score is None else score + near
        if score is None or (req.min_score is not None and score < req.min_score):
            continue
        if post is not None and post(doc_id, doc.source) is None:
            continue
        yield doc_id, doc, score


def order(hits: list[Hit], sort: list[SortField], limit: int | None = None) -> list[Hit]:
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


def total_hits(count: int, track: bool | int) -> dict[str, Any] | None:
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


def render_hit(
    hit: Hit, req: SearchRequest, sort: list[SortField], scored: bool, cluster: Cluster
) -> dict[str, Any]:
    out: dict[str, Any] = {"_index": hit.index.name, "_id": hit.doc_id}
    if req.version:
        out["_version"] = hit.doc.version
    if req.seq_no_primary_term:
        out["_seq_no"] = hit.doc.seq_no
        out["_primary_term"] = hit.doc.primary_term
    out["_score"] = hit.score if scored else None
    if req.source.enabled:
        out["_source"] = req.source.render(hit.doc.source, hit.index)
    if req.fields:
        try:
            fetched = fetch_fields(hit.doc.source, hit.index.mappings, req.fields)
        except EsError as err:
            raise all_shards_failed(err, [hit.index], cluster, phase="fetch") from None
        if fetched:
            out["fields"] = fetched
    if req.highlight is not None:
        try:
            highlight = req.highlight.highlight(hit.index, hit.doc_id, hit.doc.source, req.query, cluster)
        except EsError as err:
            raise all_shards_failed(err, [hit.index], cluster, phase="fetch") from None
        if highlight:
            out["highlight"] = highlight
    if sort:
        out["sort"] = [s.shown(hit) for s in sort]
    return out


def shards(indices: list[Index]) -> dict[str, int]:
    total = sum(i.number_of_shards for i in indices)
    return {"total": total, "successful": total, "skipped": 0, "failed": 0}


def response(
    cluster: Cluster,
    started: float,
    indices: list[Index],
    page: list[Hit],
    total: int,
    req: SearchRequest,
    sort: list[SortField],
    extra_head: dict[str, Any] | None = None,
) -> dict[str, Any]:
    scored = not sort or req.track_scores or any(s.name == "_score" for s in sort)
    hits_obj: dict[str, Any] = {}
    total_obj = total_hits(total, req.track_total_hits)
    if req.total_as_int:
        hits_obj["total"] = total_obj["value"] if total_obj is not None else -1
    elif total_obj is not None:
        hits_obj["total"] = total_obj
    hits_obj["max_score"] = max((h.score for h in page), default=None) if scored else None
    if scored and total and not page and not sort:
        hits_obj["max_score"] = None
    hits_obj["hits"] = [render_hit(h, req, sort, scored, cluster) for h in page]
    record_search(indices, [h.index for h in page], int((time.monotonic() - started) * 1e9))
    body: dict[str, Any] = dict(extra_head or {})
    body.update(
        {
            "took": int((time.monotonic() - started) * 1000),
            "timed_out": False,
            "_shards": shards(indices),
            "hits": hits_obj,
        }
    )
    return body


def check_window(req: SearchRequest, indices: list[Index], cluster: Cluster, scroll: bool) -> None:
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


def signature(req: SearchRequest) -> str:
    """What decides a PIT search's ordering (knn's default k is the size)."""
    knn = [req.knn, req.size] if req.knn else None
    return json.dumps([req.query, req.sort, req.post_filter, req.min_score, knn], sort_keys=True, default=str)


def check_search_after(
    req: SearchRequest, sort: list[SortField], indices: list[Index], cluster: Cluster
) -> None:
    if not sort:
        raise all_shards_failed(
            illegal_argument("Sort must contain at least one field."),
            indices,
            cluster,  # SearchAfterBuilder
        )
    if len(req.search_after) != len(sort):
        raise all_shards_failed(
            illegal_argument(f"search_after has {len(req.search_after)} value(s) but sort has {len(sort)}."),
            indices,
            cluster,
        )
    if req.from_ not in (0, -1):
        raise illegal_argument("[from] parameter must be set to 0 when [search_after] is used")


def bisect_after(ordered: list[Hit], after: tuple, width: int) -> int:
    lo, hi = 0, len(ordered)
    while lo < hi:
        mid = (lo + hi) // 2
        if after < ordered[mid].key[:width]:
            hi = mid
        else:
            lo = mid + 1
    return lo
