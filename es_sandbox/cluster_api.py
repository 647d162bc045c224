"""Cluster-level endpoints: the root (node info), cluster health, license, nodes info and stats,
`_security/_authenticate`, and the `_cat/indices` / `_cat/aliases` tables."""

from __future__ import annotations

import asyncio
import hashlib
import os
import platform
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from es_sandbox.errors import EsError
from es_sandbox.http import PRODUCT_HEADERS, Router, time_param
from es_sandbox.ingest.registry import PROCESSORS

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster, Node
    from es_sandbox.indices import Index

router = Router()


@router.route("/", "GET")
async def root(request: Request, cluster: Cluster):
    return {
        "name": cluster.master.name,
        "cluster_name": cluster.config.cluster_name,
        "cluster_uuid": cluster.cluster_uuid,
        "version": cluster.config.build.main_response(),
        "tagline": "You Know, for Search",
    }


@router.route("/", "HEAD")
async def root_head(request: Request, cluster: Cluster):
    return Response(status_code=200, headers=PRODUCT_HEADERS)


# --- health ----------------------------------------------------------------------------------------

_STATUS_RANK = {"green": 0, "yellow": 1, "red": 2}


def health(cluster: Cluster, indices: list[Index]) -> dict[str, Any]:
    primaries = sum(i.number_of_shards for i in indices)
    unassigned = sum(i.number_of_shards * i.number_of_replicas for i in indices)
    status = "yellow" if unassigned else "green"
    active = primaries
    percent = 100.0 if active + unassigned == 0 else active * 100.0 / (active + unassigned)
    body = {
        "cluster_name": cluster.config.cluster_name,
        "status": status,
        "timed_out": False,
        "number_of_nodes": len(cluster.nodes),
        "number_of_data_nodes": sum(1 for n in cluster.nodes if "data" in n.roles),
        "active_primary_shards": primaries,
        "active_shards": active,
        "relocating_shards": 0,
        "initializing_shards": 0,
        "unassigned_shards": unassigned,
    }
    if (cluster.config.major, cluster.config.minor) >= (8, 16):
        body["unassigned_primary_shards"] = 0
    body.update(
        {
            "delayed_unassigned_shards": 0,
            "number_of_pending_tasks": 0,
            "number_of_in_flight_fetch": 0,
            "task_max_waiting_in_queue_millis": 0,
            "active_shards_percent_as_number": percent,
        }
    )
    return body


@router.route("/_cluster/health", "GET")
@router.route("/_cluster/health/{index}", "GET")
async def cluster_health(request: Request, cluster: Cluster):
    wanted = request.query_params.get("wait_for_status")
    if wanted is not None and wanted not in _STATUS_RANK:
        raise EsError(400, "illegal_argument_exception", f"unknown cluster health status [{wanted}]")
    timeout = time_param(request, "timeout", 30.0)
    deadline = time.monotonic() + timeout
    expression = request.path_params.get("index")
    while True:
        indices = (
            cluster.indices.resolve(expression, allow_no_indices=True)
            if expression
            else list(cluster.indices.indices.values())
        )
        body = health(cluster, indices)
        if wanted is None or _STATUS_RANK[body["status"]] <= _STATUS_RANK[wanted]:
            break
        if time.monotonic() >= deadline:
            body["timed_out"] = True
            return 408, body
        await asyncio.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
    level = request.query_params.get("level")
    if level in ("indices", "shards"):
        body["indices"] = {
            i.name: {
                "status": i.health,
                "number_of_shards": i.number_of_shards,
                "number_of_replicas": i.number_of_replicas,
                "active_primary_shards": i.number_of_shards,
                "active_shards": i.number_of_shards,
                "relocating_shards": 0,
                "initializing_shards": 0,
                "unassigned_shards": i.number_of_shards * i.number_of_replicas,
            }
            for i in sorted(indices, key=lambda i: i.name)
        }
    return body


# --- license ---------------------------------------------------------------------------------------


@router.route("/_license", "GET")
async def get_license(request: Request, cluster: Cluster):
    issued = datetime.fromtimestamp(int(cluster.started_at), UTC)
    license_type = cluster.config.license
    body: dict[str, Any] = {
        "status": "active",
        "uid": _uuid4_like(cluster.cluster_uuid),
        "type": license_type,
        "issue_date": _iso(issued),
        "issue_date_in_millis": int(issued.timestamp() * 1000),
    }
    if license_type == "trial":
        expiry = issued + timedelta(days=30)
        body["expiry_date"] = _iso(expiry)
        body["expiry_date_in_millis"] = int(expiry.timestamp() * 1000)
    body.update(
        {
            "max_nodes": 1000,
            "max_resource_units": None,
            "issued_to": cluster.config.cluster_name,
            "issuer": "elasticsearch",
            "start_date_in_millis": -1,
        }
    )
    return {"license": body}


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _uuid4_like(seed: str) -> str:
    h = hashlib.sha256(seed.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


# --- nodes -----------------------------------------------------------------------------------------


def node_attributes(cluster: Cluster, node: Node) -> dict[str, str]:
    attributes = {"xpack.installed": "true", "transform.config_version": "10.0.0", **node.attributes}
    ml_attributes = getattr(cluster.ml, "node_attributes", None)
    if callable(ml_attributes):
        attributes.update(ml_attributes(node))
    return dict(sorted(attributes.items()))


def _node_header(cluster: Cluster, node: Node) -> dict[str, Any]:
    host, _, _ = node.transport_address.partition(":")
    return {
        "name": node.name,
        "transport_address": node.transport_address,
        "host": host,
        "ip": host,
        "version": cluster.config.version,
    }


def _nodes_envelope(cluster: Cluster, nodes: dict[str, Any]) -> dict[str, Any]:
    return {
        "_nodes": {"total": len(nodes), "successful": len(nodes), "failed": 0},
        "cluster_name": cluster.config.cluster_name,
        "nodes": nodes,
    }


def _select_nodes(cluster: Cluster, selector: str | None) -> list[Node]:
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


_INFO_METRICS = (
    "settings",
    "os",
    "process",
    "jvm",
    "thread_pool",
    "transport",
    "http",
    "plugins",
    "ingest",
    "aggregations",
    "indices",
)


def _node_info(cluster: Cluster, node: Node, metrics: set[str]) -> dict[str, Any]:
    info = _node_header(cluster, node)
    info.update(
        {
            "build_flavor": "default",
            "build_type": "tar",
            "build_hash": cluster.config.build.build_hash,
            "total_indexing_buffer": 53687091,
            "roles": list(node.roles),
            "attributes": node_attributes(cluster, node),
        }
    )
    processors = node_processors(node)
    if "settings" in metrics:
        info["settings"] = {"cluster": {"name": cluster.config.cluster_name}, "node": {"name": node.name}}
    if "os" in metrics:
        info["os"] = {
            "refresh_interval_in_millis": 1000,
            "name": platform.system(),
            "pretty_name": platform.system(),
            "arch": platform.machine(),
            "version": platform.release(),
            "available_processors": processors,
            "allocated_processors": processors,
        }
    if "process" in metrics:
        info["process"] = {"refresh_interval_in_millis": 1000, "id": os.getpid(), "mlockall": False}
    if "jvm" in metrics:
        info["jvm"] = {
            "pid": os.getpid(),
            "version": "24",
            "vm_name": "OpenJDK 64-Bit Server VM",
            "mem": {"heap_max_in_bytes": 1073741824},
        }
    if "ingest" in metrics:
        info["ingest"] = {"processors": [{"type": t} for t in sorted(PROCESSORS)]}
    return info


@router.route("/_nodes", "GET")
@router.route("/_nodes/{node_id}", "GET")
@router.route("/_nodes/{node_id}/{metric}", "GET")
async def nodes_info(request: Request, cluster: Cluster):
    node_id = request.path_params.get("node_id")
    metric = request.path_params.get("metric")
    if (
        node_id is not None
        and metric is None
        and all(p in _INFO_METRICS or p == "_all" for p in node_id.split(","))
    ):
        node_id, metric = None, node_id  # /_nodes/{metric}
    metrics = set(_INFO_METRICS) if metric in (None, "_all") else set(metric.split(","))
    nodes = {n.id: _node_info(cluster, n, metrics) for n in _select_nodes(cluster, node_id)}
    return _nodes_envelope(cluster, nodes)


_STATS_METRICS = (
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
    empty = {"total": {"count": 0, "time_in_millis": 0, "current": 0, "failed": 0}, "pipelines": {}}
    if "ingest" not in node.roles:
        return empty
    stats = getattr(cluster.ingest, "node_stats", None)
    return stats() if callable(stats) else empty


def _node_stats(cluster: Cluster, node: Node, metrics: set[str]) -> dict[str, Any]:
    stats: dict[str, Any] = {"timestamp": int(time.time() * 1000), **_node_header(cluster, node)}
    stats.pop("version")
    stats["roles"] = list(node.roles)
    stats["attributes"] = node_attributes(cluster, node)
    if "indices" in metrics:
        holds_data = "data" in node.roles
        docs = sum(len(i) for i in cluster.indices.indices.values()) if holds_data else 0
        deleted = sum(i.deleted_docs for i in cluster.indices.indices.values()) if holds_data else 0
        stats["indices"] = {"docs": {"count": docs, "deleted": deleted}}
    if "os" in metrics:
        stats["os"] = {"timestamp": stats["timestamp"], "cpu": {"percent": 1}}
    if "jvm" in metrics:
        stats["jvm"] = {
            "timestamp": stats["timestamp"],
            "uptime_in_millis": int((time.time() - cluster.started_at) * 1000),
        }
    if "ingest" in metrics:
        stats["ingest"] = _ingest_stats(cluster, node)
    return stats


@router.route("/_nodes/stats", "GET")
@router.route("/_nodes/stats/{metric}", "GET")
@router.route("/_nodes/{node_id}/stats", "GET")
@router.route("/_nodes/{node_id}/stats/{metric}", "GET")
async def nodes_stats(request: Request, cluster: Cluster):
    metric = request.path_params.get("metric")
    metrics = set(_STATS_METRICS) if metric in (None, "_all") else set(metric.split(","))
    unknown = sorted(metrics - set(_STATS_METRICS))
    if unknown:
        raise EsError(
            400,
            "illegal_argument_exception",
            f"request [{request.url.path}] contains unrecognized metric: [{unknown[0]}]",
        )
    nodes = {
        n.id: _node_stats(cluster, n, metrics)
        for n in _select_nodes(cluster, request.path_params.get("node_id"))
    }
    return _nodes_envelope(cluster, nodes)


# --- security --------------------------------------------------------------------------------------


@router.route("/_security/_authenticate", "GET")
async def authenticate(request: Request, cluster: Cluster):
    principal = cluster.security.authenticate(request)
    if principal is None:
        # Security off: the security REST handlers are not registered at all.
        from es_sandbox.app import no_handler_response

        return no_handler_response(request)
    is_api_key = principal.get("authentication_type") == "api_key"
    realm = (
        {"name": "_es_api_key", "type": "_es_api_key"}
        if is_api_key
        else {"name": "default_native", "type": "native"}
    )
    body: dict[str, Any] = {
        "username": principal["username"] if not is_api_key else "elastic",
        "roles": ["superuser"],
        "full_name": None,
        "email": None,
        "metadata": {"_reserved": True} if not is_api_key else {},
        "enabled": True,
        "authentication_realm": realm,
        "lookup_realm": realm,
        "authentication_type": "api_key" if is_api_key else "realm",
    }
    if is_api_key:
        body["api_key"] = {
            "id": hashlib.sha1(str(cluster.config.api_key).encode()).hexdigest()[:20],
            "name": principal.get("api_key", {}).get("name", "sandbox"),
        }
    return body


# --- shared with the cat tables ----------------------------------------------------------------


def store_bytes(index: Index) -> int:
    return index.store_size_in_bytes()


def node_processors(node: Node) -> int:
    """Allocated processors: an ML node's configured ones, else the machine's."""
    return node.ml_processors or os.cpu_count() or 1
