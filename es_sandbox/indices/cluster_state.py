"""`GET _cluster/state[/{metric}[/{indices}]]` (RestClusterStateAction, ClusterState.toXContentChunked
in the API context): the state's version, master, blocks, nodes, metadata (indices with settings,
mappings and aliases; the index graveyard; ingest pipelines, asked of the ingest service), routing
table and routing nodes, as one node holding every primary and no replica answers them.

Unknown metrics are ignored, as Elasticsearch ignores them. Missing indices are ignored unless
`ignore_unavailable=false` (the request's default options are lenient).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from es_sandbox.dotted import nest_dotted
from es_sandbox.http import Router, bool_param, int_param, time_param
from es_sandbox.indices.blocks import active as blocks_of
from es_sandbox.indices.shards import routing_num_shards
from es_sandbox.ml.units import iso_millis
from es_sandbox.node_info import node_attributes

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster, Node
    from es_sandbox.indices.index import Index

router = Router()

METRICS = (
    "version",
    "master_node",
    "blocks",
    "nodes",
    "metadata",
    "routing_table",
    "routing_nodes",
    "customs",
)


def _stable_id(*parts: object, length: int = 22) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return "".join(alphabet[b % 64] for b in digest[:length])


def allocation_id(index: Index, shard: int) -> str:
    return _stable_id(index.uuid, "allocation", shard)


def _node(cluster: Cluster, node: Node) -> dict[str, Any]:
    """DiscoveryNode.toXContent."""
    build = cluster.config.build
    return {
        "name": node.name,
        "ephemeral_id": node.ephemeral_id,
        "transport_address": node.transport_address,
        "external_id": node.name,
        "attributes": node_attributes(cluster, node),
        "roles": node.roles,
        "version": cluster.config.version,
        "min_index_version": int(f"{build.major - 1}000099"),
        "max_index_version": build.index_version,
    }


def _blocks(indices: list[Index]) -> dict[str, Any]:
    by_index: dict[str, Any] = {}
    for index in indices:
        blocks = {}
        for block in blocks_of(index):
            blocks[str(block.id)] = {
                "description": block.description,
                "retryable": False,
                "levels": list(block.levels),
            }
        if blocks:
            by_index[index.name] = blocks
    return {"indices": by_index} if by_index else {}


def _index_metadata(cluster: Cluster, index: Index, flat_settings: bool) -> dict[str, Any]:
    """IndexMetadata.toXContent in the API context."""
    settings = (
        dict(sorted(index.flat_settings.items())) if flat_settings else nest_dotted(index.flat_settings)
    )
    shards = range(index.number_of_shards)
    return {
        "version": index.versions["version"],
        "mapping_version": index.versions["mapping"],
        "settings_version": index.versions["settings"],
        "aliases_version": index.versions["aliases"],
        "routing_num_shards": routing_num_shards(index),
        "state": "close" if index.closed else "open",
        "settings": settings,
        "mappings": {"_doc": index.mappings} if index.mappings else {},
        "aliases": sorted(index.aliases),
        "primary_terms": {str(s): index.shards[s].primary_term for s in shards},
        "in_sync_allocations": {str(s): [allocation_id(index, s)] for s in shards},
        "rollover_info": {},
        "mappings_updated_version": int(index.setting("version.created")),
        "system": False,
        "timestamp_range": {"unknown": True},  # regular indices report no @timestamp range
        "event_ingested_range": {"unknown": True},
    }


def _metadata(cluster: Cluster, indices: list[Index], flat_settings: bool, filtered: bool) -> dict[str, Any]:
    master = cluster.master.id
    metadata: dict[str, Any] = {
        "cluster_uuid": cluster.cluster_uuid,
        "cluster_uuid_committed": True,
        "cluster_coordination": {
            "term": 1,
            "last_committed_config": [master],
            "last_accepted_config": [master],
            "voting_config_exclusions": [],
        },
        "templates": {},
        "indices": {index.name: _index_metadata(cluster, index, flat_settings) for index in indices},
        # A request filtered by index gets a metadata of those indices only (TransportClusterStateAction).
        "index-graveyard": {"tombstones": [] if filtered else list(cluster.indices.tombstones)},
    }
    pipelines = {} if filtered else cluster.ingest.get([])
    if pipelines:
        metadata["ingest"] = {
            "pipeline": [{"id": pid, "config": config} for pid, config in pipelines.items()]
        }
    metadata["reserved_state"] = {}
    return metadata


def _shard_routing(index: Index, shard: int, node: Node | None, created: str) -> dict[str, Any]:
    """ShardRouting.toXContent: the started primary, or an unassigned replica."""
    out: dict[str, Any] = {
        "state": "STARTED" if node is not None else "UNASSIGNED",
        "primary": node is not None,
        "node": node.id if node is not None else None,
        "relocating_node": None,
        "shard": shard,
        "index": index.name,
    }
    if node is not None:
        out["allocation_id"] = {"id": allocation_id(index, shard)}
    else:
        out["recovery_source"] = {"type": "PEER"}
        out["unassigned_info"] = {
            "reason": "INDEX_CREATED",
            "at": created,
            "delayed": False,
            "allocation_status": "no_attempt",
        }
    out["relocation_failure_info"] = {"failed_attempts": 0}
    return out


def _routing(
    cluster: Cluster, indices: list[Index]
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """The routing table, the unassigned copies and the started ones (all on the data node)."""
    table: dict[str, Any] = {}
    unassigned, started = [], []
    data_node = cluster.master
    for index in indices:
        created = iso_millis(index.creation_date)
        shards: dict[str, Any] = {}
        for shard in range(index.number_of_shards):
            primary = _shard_routing(index, shard, data_node, created)
            replicas = [_shard_routing(index, shard, None, created) for _ in range(index.number_of_replicas)]
            shards[str(shard)] = [primary, *replicas]
            started.append(primary)
            unassigned += replicas
        table[index.name] = {"shards": shards}
    return table, unassigned, started


def cluster_state(
    cluster: Cluster, metrics: set[str], indices: list[Index], *, flat_settings: bool, filtered: bool
) -> dict[str, Any]:
    version = cluster.indices.state_version
    body: dict[str, Any] = {"cluster_name": cluster.config.cluster_name, "cluster_uuid": cluster.cluster_uuid}
    if "version" in metrics:
        body["version"] = version
        body["state_uuid"] = _stable_id(cluster.cluster_uuid, "state", version, cluster.started_at)
    if "master_node" in metrics:
        body["master_node"] = cluster.master.id
    if "blocks" in metrics:
        body["blocks"] = _blocks(indices)
    if "nodes" in metrics:
        body["nodes"] = {node.id: _node(cluster, node) for node in cluster.nodes}
        transport = str(cluster.config.build.transport_version)
        body["nodes_versions"] = [
            {"node_id": n.id, "transport_version": transport, "mappings_versions": {}} for n in cluster.nodes
        ]
        body["nodes_features"] = [{"node_id": n.id, "features": []} for n in cluster.nodes]
    if "metadata" in metrics:
        body["metadata"] = _metadata(cluster, indices, flat_settings, filtered)
    if "routing_table" in metrics or "routing_nodes" in metrics:
        table, unassigned, started = _routing(cluster, indices)
        if "routing_table" in metrics:
            body["routing_table"] = {"indices": table}
        if "routing_nodes" in metrics:
            nodes = {node.id: [s for s in started if s["node"] == node.id] for node in cluster.nodes}
            body["routing_nodes"] = {"unassigned": unassigned, "nodes": nodes}
    return body


def _metrics(request: Request) -> set[str]:
    """ClusterState.Metric.parseString(ignoreUnknown=true)."""
    wanted = request.path_params.get("metric")
    if wanted is None:
        return set(METRICS)
    names = [m for m in wanted.split(",") if m]
    if "_all" in names:
        return set(METRICS)
    return set(names) & set(METRICS)


DEFAULT_WAIT_FOR_TIMEOUT = 60.0


async def _wait_for_version(cluster: Cluster, wanted: int, timeout: float) -> bool:
    """Whether waiting for the state version `wanted` timed out."""
    deadline = time.monotonic() + timeout
    while cluster.indices.state_version < wanted:
        if time.monotonic() >= deadline:
            return True
        await asyncio.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
    return False


@router.route("/_cluster/state", "GET")
@router.route("/_cluster/state/{metric}", "GET")
@router.route("/_cluster/state/{metric}/{indices}", "GET")
async def get_cluster_state(request: Request, cluster: Cluster):
    wanted_version = int_param(request, "wait_for_metadata_version")
    timed_out = None
    if wanted_version is not None:
        timeout = time_param(request, "wait_for_timeout", DEFAULT_WAIT_FOR_TIMEOUT)
        timed_out = await _wait_for_version(cluster, wanted_version, timeout)
    expression = request.path_params.get("indices")
    filtered = expression is not None and expression != "_all"
    indices = cluster.indices.resolve(
        expression if filtered else None,
        ignore_unavailable=bool_param(request, "ignore_unavailable", True),
        allow_no_indices=bool_param(request, "allow_no_indices", True),
    )
    body = cluster_state(
        cluster,
        _metrics(request),
        sorted(indices, key=lambda i: i.name),
        flat_settings=bool_param(request, "flat_settings"),
        filtered=filtered,
    )
    if timed_out is not None:
        body = {"wait_for_timed_out": timed_out, **body}
    return body
