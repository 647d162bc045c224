"""Cluster-level endpoints: the root (node info), cluster health and `_security/_authenticate` (the
licence APIs: es_sandbox/licensing.py)."""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from es_sandbox.errors import EsError
from es_sandbox.http import PRODUCT_HEADERS, Router, time_param

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster
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


_LEVEL_ENUM = "org.elasticsearch.action.admin.cluster.health.ClusterHealthRequest.Level"


def _index_health(cluster: Cluster, index: Index, *, shards: bool) -> dict[str, Any]:
    """ClusterIndexHealth: one node holds the primaries, every replica is unassigned."""
    replicas = index.number_of_replicas
    body: dict[str, Any] = {
        "status": index.health,
        "number_of_shards": index.number_of_shards,
        "number_of_replicas": replicas,
        "active_primary_shards": index.number_of_shards,
        "active_shards": index.number_of_shards,
        "relocating_shards": 0,
        "initializing_shards": 0,
        "unassigned_shards": index.number_of_shards * replicas,
    }
    recent = (cluster.config.major, cluster.config.minor) >= (8, 16)
    if recent:
        body["unassigned_primary_shards"] = 0
    if shards:
        body["shards"] = {}
        for shard in range(index.number_of_shards):
            copy: dict[str, Any] = {
                "status": "yellow" if replicas else "green",
                "primary_active": True,
                "active_shards": 1,
                "relocating_shards": 0,
                "initializing_shards": 0,
                "unassigned_shards": replicas,
            }
            if recent:
                copy["unassigned_primary_shards"] = 0
            body["shards"][str(shard)] = copy
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
    level = request.query_params.get("level", "cluster")
    if level not in ("cluster", "indices", "shards"):
        raise EsError(400, "illegal_argument_exception", f"No enum constant {_LEVEL_ENUM}.{level.upper()}")
    if level != "cluster":
        body["indices"] = {
            i.name: _index_health(cluster, i, shards=level == "shards")
            for i in sorted(indices, key=lambda i: i.name)
        }
    return body


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
