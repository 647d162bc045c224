"""The nodes APIs: `GET _nodes` (info), `_nodes/stats` and `_nodes/usage`, with their node selectors
and the `_nodes` envelope every nodes response shares."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from es_sandbox import host
from es_sandbox.breakers import node_breakers
from es_sandbox.dotted import flatten_dotted
from es_sandbox.errors import EsError, illegal_argument
from es_sandbox.http import Router, bool_param
from es_sandbox.indices.stats import METRICS as INDEX_METRICS
from es_sandbox.indices.stats import View, render
from es_sandbox.node_info import INFO_METRICS, node_attributes, node_header, node_info
from es_sandbox.suggestions import unrecognized

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster, Node

router = Router()


def nodes_envelope(cluster: Cluster, nodes: dict[str, Any]) -> dict[str, Any]:
    return {
        "_nodes": {"total": len(nodes), "successful": len(nodes), "failed": 0},
        "cluster_name": cluster.config.cluster_name,
        "nodes": nodes,
    }


def select_nodes(cluster: Cluster, selector: str | None) -> list[Node]:
    """Node ids, names, _all, _master, _local and role filters such as `ml:true`."""
    if selector in (None, "_all", "*", ""):
        return list(cluster.nodes)
    chosen: list[Node] = []
    for part in selector.split(","):
        role, _, flag = part.partition(":")
        for node in cluster.nodes:
            if part in (node.id, node.name) or (part in ("_master", "_local") and node is cluster.master):
                chosen.append(node)
            elif flag in ("true", "false") and (role in node.roles) == (flag == "true"):
                chosen.append(node)
    return [n for n in cluster.nodes if any(c is n for c in chosen)]


def _http_address(request: Request, cluster: Cluster) -> str:
    server = request.scope.get("server") or (cluster.config.host, cluster.config.port)
    return f"{server[0]}:{server[1]}"


# --- info ----------------------------------------------------------------------------------------


@router.route("/_nodes", "GET")
@router.route("/_nodes/{node_id}", "GET")
@router.route("/_nodes/{node_id}/{metric}", "GET")
@router.route("/_nodes/{node_id}/info/{metric}", "GET")
async def nodes_info(request: Request, cluster: Cluster):
    """RestNodesInfoAction: `/_nodes/{x}` is a metric list when every item is a metric, else node
    ids; unknown metrics are disregarded; `flat_settings` flattens the settings."""
    node_id = request.path_params.get("node_id")
    metric = request.path_params.get("metric")
    if node_id is not None and metric is None and set(node_id.split(",")) <= set(INFO_METRICS):
        node_id, metric = None, node_id
    requested = set((metric or "_all").split(","))
    metrics = set(INFO_METRICS) if requested == {"_all"} else requested & set(INFO_METRICS)
    flat = bool_param(request, "flat_settings", False)
    address = _http_address(request, cluster)
    nodes = {}
    for node in select_nodes(cluster, node_id):
        info = node_info(cluster, node, metrics, http_address=address)
        if flat and "settings" in info:
            info["settings"] = flatten_dotted(info["settings"])
        nodes[node.id] = info
    return nodes_envelope(cluster, nodes)


# --- stats ---------------------------------------------------------------------------------------

STATS_METRICS = (
    "indices",
    "os",
    "process",
    "jvm",
    "thread_pool",
    "fs",
    "transport",
    "http",
    "breaker",
    "script",
    "discovery",
    "ingest",
    "adaptive_selection",
    "script_cache",
    "indexing_pressure",
)


def _ingest_stats(cluster: Cluster, node: Node) -> dict[str, Any]:
    if "ingest" not in node.roles:
        return {"total": {"count": 0, "time_in_millis": 0, "current": 0, "failed": 0}, "pipelines": {}}
    return cluster.ingest.node_stats()


def _node_stats(cluster: Cluster, node: Node, metrics: set[str], indices_view: View) -> dict[str, Any]:
    now = int(time.time() * 1000)
    stats: dict[str, Any] = {"timestamp": now, **node_header(cluster, node)}
    stats.pop("version")
    stats["roles"] = list(node.roles)
    stats["attributes"] = node_attributes(cluster, node)
    if "indices" in metrics:
        # NodeIndicesStats: the CommonStats of the shards this node holds, as the index stats render them.
        held = [i for i in cluster.indices.indices.values() if not i.closed] if "data" in node.roles else []
        stats["indices"] = render(held, indices_view)
    if "os" in metrics:
        memory, swap = host.machine_memory(), host.swap()
        stats["os"] = {
            "timestamp": now,
            "cpu": {"percent": host.cpu_percent()},
            "mem": {
                "total_in_bytes": memory.total,
                "adjusted_total_in_bytes": memory.total,
                "free_in_bytes": memory.free,
                "used_in_bytes": memory.used,
                "free_percent": 100 - memory.used_percent,
                "used_percent": memory.used_percent,
            },
            "swap": {"total_in_bytes": swap.total, "free_in_bytes": swap.free, "used_in_bytes": swap.used},
        }
    if "process" in metrics:
        stats["process"] = {
            "timestamp": now,
            "open_file_descriptors": host.open_file_descriptors(),
            "max_file_descriptors": host.max_file_descriptors(),
            "cpu": {"percent": 0, "total_in_millis": host.process_cpu_millis()},
            "mem": {"total_virtual_in_bytes": host.process_resident_bytes()},
        }
    if "jvm" in metrics:
        stats["jvm"] = {"timestamp": now, "uptime_in_millis": int((time.time() - cluster.started_at) * 1000)}
    if "ingest" in metrics:
        stats["ingest"] = _ingest_stats(cluster, node)
    if "breaker" in metrics:
        stats["breakers"] = {b.name: b.to_xcontent() for b in node_breakers(cluster, node)}
    return stats


@router.route("/_nodes/stats", "GET")
@router.route("/_nodes/stats/{metric}", "GET")
@router.route("/_nodes/{node_id}/stats", "GET")
@router.route("/_nodes/{node_id}/stats/{metric}", "GET")
@router.route("/_nodes/stats/{metric}/{index_metric}", "GET")
@router.route("/_nodes/{node_id}/stats/{metric}/{index_metric}", "GET")
async def nodes_stats(request: Request, cluster: Cluster):
    metric = request.path_params.get("metric")
    index_metric = request.path_params.get("index_metric")
    index_metrics = set(INDEX_METRICS) if index_metric in (None, "_all") else set(index_metric.split(","))
    if index_metrics - set(INDEX_METRICS):
        raise illegal_argument(
            unrecognized(request.url.path, index_metrics - set(INDEX_METRICS), INDEX_METRICS, "index metric")
        )
    view = View(index_metrics, human=bool_param(request, "human"), open_contexts=cluster.search.open_contexts)
    metrics = set(STATS_METRICS) if metric in (None, "_all") else set(metric.split(","))
    unknown = sorted(metrics - set(STATS_METRICS))
    if unknown:
        raise EsError(
            400,
            "illegal_argument_exception",
            f"request [{request.url.path}] contains unrecognized metric: [{unknown[0]}]",
        )
    nodes = {
        n.id: _node_stats(cluster, n, metrics, view)
        for n in select_nodes(cluster, request.path_params.get("node_id"))
    }
    return nodes_envelope(cluster, nodes)


# --- usage ---------------------------------------------------------------------------------------


@router.route("/_nodes/usage", "GET")
@router.route("/_nodes/usage/{metric}", "GET")
@router.route("/_nodes/{node_id}/usage", "GET")
@router.route("/_nodes/{node_id}/usage/{metric}", "GET")
async def nodes_usage(request: Request, cluster: Cluster):
    """RestNodesUsageAction and NodeUsage: the receiving node (the sandbox's HTTP node) counts every
    request; the other nodes have served none."""
    metric = request.path_params.get("metric") or "_all"
    metrics = set(metric.split(","))
    if "_all" in metrics and len(metrics) > 1:
        raise illegal_argument(
            f"request [{request.url.path}] contains _all and individual metrics [{metric}]"
        )
    wants_all = metrics == {"_all"}
    usage = request.app.state.usage
    now = int(time.time() * 1000)
    nodes = {}
    for node in select_nodes(cluster, request.path_params.get("node_id")):
        entry: dict[str, Any] = {"timestamp": now, "since": usage.since}
        receiving = node is cluster.master
        if wants_all or "rest_actions" in metrics:
            entry["rest_actions"] = usage.rest_actions() if receiving else {}
        if wants_all or "aggregations" in metrics:
            entry["aggregations"] = {}
        nodes[node.id] = entry
    return nodes_envelope(cluster, nodes)
