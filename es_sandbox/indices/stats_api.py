"""Index statistics endpoints: `GET [/{index}]/_stats[/{metric}]` (RestIndicesStatsAction,
IndicesStatsResponse), `_refresh` and `_flush`, which move the refresh and flush counters."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from es_sandbox.errors import illegal_argument
from es_sandbox.http import Router, bool_param
from es_sandbox.indices.api import resolve_param
from es_sandbox.indices.stats import METRICS, View, render
from es_sandbox.suggestions import unrecognized

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster
    from es_sandbox.indices.index import Index

router = Router()

LEVELS = ("cluster", "indices", "shards")


def shards_header(indices: list[Index]) -> dict[str, int]:
    """Broadcast `_shards`: every copy is a target; only the primaries are started on one data node."""
    total = sum(i.number_of_shards * (1 + i.number_of_replicas) for i in indices)
    started = sum(i.number_of_shards for i in indices)
    return {"total": total, "successful": started, "failed": 0}


def _metrics(request: Request) -> set[str]:
    wanted = request.path_params.get("metric")
    names = {m for m in (wanted or "_all").split(",") if m}
    if names == {"_all"}:
        return set(METRICS)
    if "_all" in names:
        raise illegal_argument(
            f"request [{request.url.path}] contains _all and individual metrics [{wanted}]"
        )
    invalid = names - set(METRICS)
    if invalid:
        raise illegal_argument(unrecognized(request.url.path, invalid, METRICS, "metric"))
    return names


def _level(request: Request) -> str:
    level = request.query_params.get("level", "indices")
    if level.lower() not in LEVELS:
        raise illegal_argument(
            f"level parameter must be one of [cluster] or [indices] or [shards] but was [{level}]"
        )
    if level.lower() == "shards":
        raise illegal_argument("es_sandbox does not report shard-level statistics: use [level=indices]")
    return level.lower()


@router.route("/_stats", "GET")
@router.route("/_stats/{metric}", "GET")
@router.route("/{index}/_stats", "GET")
@router.route("/{index}/_stats/{metric}", "GET")
async def index_stats(request: Request, cluster: Cluster):
    metrics = _metrics(request)
    level = _level(request)
    groups = request.query_params.get("groups")
    indices = sorted(resolve_param(request, cluster, request.path_params.get("index")), key=lambda i: i.name)
    view = View(
        metrics,
        human=bool_param(request, "human"),
        groups=[g for g in groups.split(",") if g] if groups else None,
        open_contexts=cluster.search.open_contexts,
    )
    everything = render(indices, view) if indices else {}
    body: dict[str, Any] = {
        "_shards": shards_header(indices),
        "_all": {"primaries": everything, "total": everything},
    }
    if level != "cluster":
        body["indices"] = {}
        for index in indices:
            one = render([index], view)
            body["indices"][index.name] = {
                "uuid": index.uuid,
                "health": index.health,
                "status": "open",
                "primaries": one,
                "total": one,
            }
    return body


@router.route("/_refresh", "POST", "GET")
@router.route("/{index}/_refresh", "POST", "GET")
async def refresh(request: Request, cluster: Cluster):
    """Every write is searchable at once in the sandbox: a refresh only counts as one."""
    found = resolve_param(request, cluster, request.path_params.get("index"))
    for index in found:
        started = time.monotonic_ns()
        index.stats.refreshed(time.monotonic_ns() - started)
    return {"_shards": shards_header(found)}


@router.route("/_flush", "POST", "GET")
@router.route("/{index}/_flush", "POST", "GET")
async def flush(request: Request, cluster: Cluster):
    """Commits the translog: its operations count drops to zero."""
    found = resolve_param(request, cluster, request.path_params.get("index"))
    for index in found:
        started = time.monotonic_ns()
        index.stats.flushed(time.monotonic_ns() - started)
    return {"_shards": shards_header(found)}
