"""Index statistics endpoints: `GET [/{index}]/_stats[/{metric}]` (RestIndicesStatsAction,
IndicesStatsResponse), at every level: `cluster`, `indices` and `shards` (each started shard copy's
ShardStats: its routing, CommonStats, last commit, sequence numbers, retention leases, path and
search-idle state, es_sandbox.indices.shards); `_refresh` and `_flush`, which move the refresh and
flush counters (a flush commits each shard with operations not yet committed)."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from es_sandbox.errors import illegal_argument
from es_sandbox.http import Router, bool_param, parse_time
from es_sandbox.indices.api import resolve_param
from es_sandbox.indices.shards import PEER_RECOVERY_LEASE_SOURCE, docs_per_shard
from es_sandbox.indices.stats import METRICS, Part, View, render, render_parts
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
    return level.lower()


DEFAULT_SEARCH_IDLE_AFTER = "30s"  # index.search.idle.after


def shard_stats(cluster: Cluster, index: Index, number: int, part: Part, view: View) -> dict[str, Any]:
    """ShardStats.toXContent of the started primary `number` of `index` (replicas are never assigned)."""
    shard = index.shards[number]
    node = cluster.master  # the one data node holds every primary
    out: dict[str, Any] = {
        "routing": {"state": "STARTED", "primary": True, "node": node.id, "relocating_node": None}
    }
    out.update(render_parts([part], view))
    commit = shard.commit
    out["commit"] = {
        "id": commit.id,
        "generation": commit.generation,
        "user_data": {
            "translog_uuid": shard.translog_uuid,
            "history_uuid": shard.history_uuid,
            "local_checkpoint": str(commit.local_checkpoint),
            "max_seq_no": str(commit.max_seq_no),
            "max_unsafe_auto_id_timestamp": "-1",
            "min_retained_seq_no": str(commit.local_checkpoint + 1),
            "es_version": index.setting("version.created"),
        },
        "num_docs": commit.num_docs,
    }
    # Every write is executed on the one copy before it answers: processed, persisted and in sync.
    checkpoint = shard.max_seq_no
    out["seq_no"] = {
        "max_seq_no": checkpoint,
        "local_checkpoint": checkpoint,
        "global_checkpoint": checkpoint,
    }
    lease = shard.current_lease(int(time.time() * 1000))
    out["retention_leases"] = {
        "primary_term": lease.primary_term,
        "version": lease.version,
        "leases": [
            {
                "id": f"peer_recovery/{node.id}",
                "retaining_seq_no": lease.retaining_seq_no,
                "timestamp": lease.timestamp,
                "source": PEER_RECOVERY_LEASE_SOURCE,
            }
        ],
    }
    root = str(cluster.config.data_dir or os.getcwd())  # ShardPath's root: the node's data path
    out["shard_path"] = {"state_path": root, "data_path": root, "is_custom_data_path": False}
    idle_ms = (time.monotonic_ns() - index.stats.last_search_ns) // 1_000_000
    idle_after = parse_time(
        index.setting("search.idle.after", DEFAULT_SEARCH_IDLE_AFTER), "index.search.idle.after"
    )
    out["search_idle"] = idle_ms >= idle_after * 1000
    out["search_idle_time"] = idle_ms
    return out


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
            if level == "shards":
                parts = Part.of_shards(index)
                body["indices"][index.name]["shards"] = {
                    str(n): [shard_stats(cluster, index, n, part, view)] for n, part in enumerate(parts)
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
    """Commits each shard that executed operations since its last commit; the translog's operations
    count drops to zero."""
    found = resolve_param(request, cluster, request.path_params.get("index"))
    for index in found:
        started = time.monotonic_ns()
        docs = docs_per_shard(index)
        if any([shard.commit_if_changed(n) for shard, n in zip(index.shards, docs, strict=True)]):
            index.mutations += 1
        index.stats.flushed(time.monotonic_ns() - started)
    return {"_shards": shards_header(found)}
