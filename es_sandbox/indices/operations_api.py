"""Endpoints of whole-index operations: `_close`/`_open`, `_block/{block}`, `_clone`/`_shrink`/`_split`,
`_rollover`, and the maintenance calls a single node answers at once (`_forcemerge`, `_cache/clear`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request

from es_sandbox.http import Router, bool_param, json_body
from es_sandbox.indices import operations
from es_sandbox.indices.api import resolve_sorted
from es_sandbox.indices.stats_api import shards_header

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster

router = Router()


@router.route("/{index}/_close", "POST")
async def close_index(request: Request, cluster: Cluster):
    found = resolve_sorted(request, cluster, request.path_params["index"])
    operations.set_closed(cluster.indices, found, True)
    return {
        "acknowledged": True,
        "shards_acknowledged": True,
        "indices": {index.name: {"closed": True} for index in found},
    }


@router.route("/{index}/_open", "POST")
async def open_index(request: Request, cluster: Cluster):
    found = resolve_sorted(request, cluster, request.path_params["index"])
    operations.set_closed(cluster.indices, found, False)
    return {"acknowledged": True, "shards_acknowledged": True}


@router.route("/{index}/_block/{block}", "PUT")
async def add_block(request: Request, cluster: Cluster):
    found = resolve_sorted(request, cluster, request.path_params["index"])
    operations.set_block(found, request.path_params["block"], True)
    return {
        "acknowledged": True,
        "shards_acknowledged": True,
        "indices": [{"name": index.name, "blocked": True} for index in found],
    }


@router.route("/{index}/_block/{block}", "DELETE")
async def remove_block(request: Request, cluster: Cluster):
    found = resolve_sorted(request, cluster, request.path_params["index"])
    operations.set_block(found, request.path_params["block"], False)
    return {"acknowledged": True, "indices": [{"name": index.name, "unblocked": True} for index in found]}


async def _resize(request: Request, cluster: Cluster, kind: str):
    source = cluster.indices.get(request.path_params["index"])
    target = operations.resize(
        cluster.indices, kind, source, request.path_params["target"], await json_body(request)
    )
    return {"acknowledged": True, "shards_acknowledged": True, "index": target.name}


@router.route("/{index}/_clone/{target}", "PUT", "POST")
async def clone_index(request: Request, cluster: Cluster):
    return await _resize(request, cluster, "clone")


@router.route("/{index}/_shrink/{target}", "PUT", "POST")
async def shrink_index(request: Request, cluster: Cluster):
    return await _resize(request, cluster, "shrink")


@router.route("/{index}/_split/{target}", "PUT", "POST")
async def split_index(request: Request, cluster: Cluster):
    return await _resize(request, cluster, "split")


@router.route("/{alias}/_rollover", "POST")
@router.route("/{alias}/_rollover/{new_index}", "POST")
async def rollover(request: Request, cluster: Cluster):
    return operations.rollover(
        cluster.indices,
        request.path_params["alias"],
        request.path_params.get("new_index"),
        await json_body(request),
        dry_run=bool_param(request, "dry_run"),
    )


@router.route("/_forcemerge", "POST")
@router.route("/{index}/_forcemerge", "POST")
@router.route("/_cache/clear", "POST")
@router.route("/{index}/_cache/clear", "POST")
async def broadcast_maintenance(request: Request, cluster: Cluster):
    """Merging segments and dropping caches change nothing a single in-memory node keeps: every
    started shard answers at once."""
    return {"_shards": shards_header(resolve_sorted(request, cluster, request.path_params.get("index")))}
