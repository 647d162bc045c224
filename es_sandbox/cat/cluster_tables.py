"""The `_cat` tables about where things are and what the nodes have: shards, allocation, recovery,
master, nodeattrs, pending_tasks, plugins, thread_pool, circuit_breaker, fielddata, segments,
templates, component_templates, repositories and snapshots, each built from the state its JSON API
reads, with the columns of Elasticsearch 9.5's cat action.

One node holds every shard: primaries are STARTED on the data node, replicas UNASSIGNED
(INDEX_CREATED) as on a one-node cluster. Documents are spread over the shards as ES routes them
(murmur3 of the id). What the sandbox does not have is empty, as ES's table is when there is none:
pending cluster tasks, plugins, loaded fielddata, Lucene segments, snapshot repositories."""

from __future__ import annotations

import fnmatch
import os
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from es_sandbox import host
from es_sandbox.breakers import node_breakers
from es_sandbox.cat import columns
from es_sandbox.cat.api import index_stats, role_letters
from es_sandbox.cat.table import ByteSize, Duration, Table, respond
from es_sandbox.errors import EsError
from es_sandbox.http import Router, bool_param
from es_sandbox.indices.shards import docs_per_shard, store_per_shard
from es_sandbox.indices.stats import EMPTY_SHARD_BYTES
from es_sandbox.node_info import node_attributes, node_processors, thread_pools

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster, Node
    from es_sandbox.indices import Index

router = Router()


def _ip(node: Node) -> str:
    return node.transport_address.partition(":")[0]


def _data_node(cluster: Cluster) -> Node:
    return next(n for n in cluster.nodes if "data" in n.roles)


def _iso_millis(millis: int) -> str:
    """strict_date_optional_time, as ES prints an instant in a cat table."""
    moment = datetime.fromtimestamp(millis / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis % 1000:03d}Z"


def _matches(patterns: str | None, name: str) -> bool:
    """Regex.simpleMatch over a comma-separated list (none: everything)."""
    if not patterns:
        return True
    return any(fnmatch.fnmatchcase(name, p) for p in patterns.split(",") if p)


def _indices(request: Request, cluster: Cluster) -> list[Index]:
    """The indices a cat request names (every one, closed ones too, without a name)."""
    expression = request.path_params.get("index")
    if not expression:
        return sorted(cluster.indices.indices.values(), key=lambda i: i.name)
    return sorted(cluster.indices.resolve(expression), key=lambda i: i.name)


# --- where documents live ------------------------------------------------------------------------


# --- shards --------------------------------------------------------------------------------------


@router.route("/_cat/shards", "GET")
@router.route("/_cat/shards/{index}", "GET")
async def cat_shards(request: Request, cluster: Cluster):
    node = _data_node(cluster)
    now = int(time.time() * 1000)
    table = Table(columns.SHARDS)
    for index in _indices(request, cluster):
        docs = docs_per_shard(index)
        stores = [ByteSize(n) for n in store_per_shard(index, docs, EMPTY_SHARD_BYTES)]
        stats = index_stats(index) if index.number_of_shards == 1 and not index.closed else {}
        for shard in range(index.number_of_shards):
            row: dict[str, Any] = {
                "index": index.name,
                "shard": shard,
                "prirep": "p",
                "state": "STARTED",
                "ip": _ip(node),
                "id": node.id,
                "node": node.name,
            }
            if not index.closed:
                row.update({"docs": docs[shard], "store": stores[shard], "dataset": stores[shard]})
                row.update({name: stats.get(name, columns.zero(name)) for name, _, _ in columns.SHARD_STATS})
                row["path.data"] = row["path.state"] = None
            table.add_row(row)
            for _ in range(index.number_of_replicas):
                table.add_row(
                    {
                        "index": index.name,
                        "shard": shard,
                        "prirep": "r",
                        "state": "UNASSIGNED",
                        "unassigned.reason": "INDEX_CREATED",
                        "unassigned.at": _iso_millis(index.creation_date),
                        "unassigned.for": Duration.millis(now - index.creation_date),
                        "recoverysource.type": "peer",
                    }
                )
    return respond(table, request)


# --- allocation ----------------------------------------------------------------------------------


def _node_selected(node: Node, selector: str) -> bool:
    """The node filters cat allocation takes: ids, names, `_all`, `_local`, `_master`, role:true."""
    for part in selector.split(","):
        if part in ("_all", "*", node.id, node.name) or part == "_local" and node.index == 0:
            return True
        role, _, value = part.partition(":")
        if value in ("true", "false") and (role in node.roles) == (value == "true"):
            return True
        if fnmatch.fnmatchcase(node.name, part) or fnmatch.fnmatchcase(node.id, part):
            return True
    return False


@router.route("/_cat/allocation", "GET")
@router.route("/_cat/allocation/{nodes}", "GET")
async def cat_allocation(request: Request, cluster: Cluster):
    selector = request.path_params.get("nodes") or "data:true"
    held = list(cluster.indices.indices.values())
    table = Table(columns.ALLOCATION)
    disk = host.disk(cluster.config.data_dir)
    for node in cluster.nodes:
        if not _node_selected(node, selector):
            continue
        mine = held if "data" in node.roles else []
        stored = ByteSize(sum(i.store_size_in_bytes() for i in mine if not i.closed))
        used = disk.total - disk.available
        table.add_row(
            {
                "shards": sum(i.number_of_shards for i in mine),
                "shards.undesired": 0,
                "write_load.forecast": 0.0,
                "disk.indices.forecast": stored,
                "disk.indices": stored,
                "disk.used": ByteSize(used),
                "disk.avail": ByteSize(disk.available),
                "disk.total": ByteSize(disk.total),
                "disk.percent": used * 100 // disk.total if disk.total else None,
                "host": _ip(node),
                "ip": _ip(node),
                "node": node.name,
                "node.role": role_letters(node),
            }
        )
    unassigned = sum(i.number_of_shards * i.number_of_replicas for i in held)
    if unassigned:
        table.add_row({"shards": unassigned, "node": "UNASSIGNED"})
    return respond(table, request)


# --- recovery ------------------------------------------------------------------------------------


@router.route("/_cat/recovery", "GET")
@router.route("/_cat/recovery/{index}", "GET")
async def cat_recovery(request: Request, cluster: Cluster):
    """Each started primary's recovery: from an empty store when the index was created, done at once."""
    node = _data_node(cluster)
    table = Table(columns.RECOVERY)
    active_only = bool_param(request, "active_only", False)
    for index in _indices(request, cluster):
        if index.closed or active_only:
            continue
        started = index.creation_date
        for shard in range(index.number_of_shards):
            table.add_row(
                {
                    "index": index.name,
                    "shard": shard,
                    "start_time": _iso_millis(started),
                    "start_time_millis": started,
                    "stop_time": _iso_millis(started),
                    "stop_time_millis": started,
                    "time": Duration(0),
                    "type": "empty_store",
                    "stage": "done",
                    "source_host": "n/a",
                    "source_node": "n/a",
                    "target_host": _ip(node),
                    "target_node": node.name,
                    "repository": "n/a",
                    "snapshot": "n/a",
                    "files": 0,
                    "files_recovered": 0,
                    "files_percent": "0.0%",
                    "files_total": 0,
                    "bytes": ByteSize(0),
                    "bytes_recovered": ByteSize(0),
                    "bytes_percent": "0.0%",
                    "bytes_total": ByteSize(0),
                    "translog_ops": 0,
                    "translog_ops_recovered": 0,
                    "translog_ops_percent": "100.0%",
                }
            )
    return respond(table, request)


# --- nodes: master, attributes, thread pools, circuit breakers -----------------------------------


@router.route("/_cat/master", "GET")
async def cat_master(request: Request, cluster: Cluster):
    master = cluster.master
    table = Table(columns.MASTER)
    table.add_row({"id": master.id, "host": _ip(master), "ip": _ip(master), "node": master.name})
    return respond(table, request)


@router.route("/_cat/nodeattrs", "GET")
async def cat_nodeattrs(request: Request, cluster: Cluster):
    full_id = bool_param(request, "full_id", False)
    table = Table(columns.NODEATTRS)
    for node in cluster.nodes:
        for attr, value in node_attributes(cluster, node).items():
            table.add_row(
                {
                    "node": node.name,
                    "id": node.id if full_id else node.id[:4],
                    "pid": os.getpid(),
                    "host": _ip(node),
                    "ip": _ip(node),
                    "port": int(node.transport_address.partition(":")[2]),
                    "attr": attr,
                    "value": value,
                }
            )
    return respond(table, request)


@router.route("/_cat/thread_pool", "GET")
@router.route("/_cat/thread_pool/{thread_pool_patterns}", "GET")
async def cat_thread_pool(request: Request, cluster: Cluster):
    """Each node's pools, by name; the sandbox runs no work on them, so every counter is 0."""
    patterns = request.path_params.get("thread_pool_patterns") or request.query_params.get(
        "thread_pool_patterns"
    )
    table = Table(columns.THREAD_POOL)
    for node in cluster.nodes:
        for name, pool in sorted(thread_pools(node_processors(node)).items()):
            if not _matches(patterns, name):
                continue
            scaling = pool["type"] == "scaling"
            table.add_row(
                {
                    "node_name": node.name,
                    "node_id": node.id,
                    "ephemeral_node_id": node.ephemeral_id,
                    "pid": os.getpid(),
                    "host": _ip(node),
                    "ip": _ip(node),
                    "port": int(node.transport_address.partition(":")[2]),
                    "name": name,
                    "type": pool["type"],
                    "active": 0,
                    "pool_size": 0,
                    "queue": 0,
                    "queue_size": pool["queue_size"],
                    "rejected": 0,
                    "largest": 0,
                    "completed": 0,
                    "core": pool["core"] if scaling else None,
                    "max": pool["max"] if scaling else None,
                    "size": None if scaling else pool["size"],
                    "keep_alive": pool.get("keep_alive"),
                }
            )
    return respond(table, request)


@router.route("/_cat/circuit_breaker", "GET")
@router.route("/_cat/circuit_breaker/{circuit_breaker_patterns}", "GET")
async def cat_circuit_breaker(request: Request, cluster: Cluster):
    patterns = request.path_params.get("circuit_breaker_patterns")
    table = Table(columns.CIRCUIT_BREAKER)
    for node in cluster.nodes:
        for breaker in node_breakers(cluster, node):
            if _matches(patterns, breaker.name):
                table.add_row(
                    {
                        "node_id": node.id,
                        "node_name": node.name,
                        "breaker": breaker.name,
                        "limit": ByteSize(breaker.limit),
                        "limit_bytes": breaker.limit,
                        "estimated": ByteSize(breaker.estimated),
                        "estimated_bytes": breaker.estimated,
                        "tripped": breaker.tripped,
                        "overhead": breaker.overhead,
                    }
                )
    return respond(table, request)


# --- what the sandbox has none of ----------------------------------------------------------------


@router.route("/_cat/pending_tasks", "GET")
async def cat_pending_tasks(request: Request, cluster: Cluster):
    """The master applies every change at once: no cluster task ever waits."""
    return respond(Table(columns.PENDING_TASKS), request)


@router.route("/_cat/plugins", "GET")
async def cat_plugins(request: Request, cluster: Cluster):
    return respond(Table(columns.PLUGINS), request)


@router.route("/_cat/fielddata", "GET")
@router.route("/_cat/fielddata/{fields}", "GET")
async def cat_fielddata(request: Request, cluster: Cluster):
    """One row per node and field with fielddata in memory: the sandbox loads none."""
    return respond(Table(columns.FIELDDATA), request)


@router.route("/_cat/segments", "GET")
@router.route("/_cat/segments/{index}", "GET")
async def cat_segments(request: Request, cluster: Cluster):
    """One row per Lucene segment: the sandbox keeps documents without segments."""
    _indices(request, cluster)  # a missing index is still index_not_found
    return respond(Table(columns.SEGMENTS), request)


@router.route("/_cat/repositories", "GET")
async def cat_repositories(request: Request, cluster: Cluster):
    return respond(Table(columns.REPOSITORIES), request)


@router.route("/_cat/snapshots", "GET")
@router.route("/_cat/snapshots/{repository}", "GET")
async def cat_snapshots(request: Request, cluster: Cluster):
    repositories = request.path_params.get("repository") or request.query_params.get("repository")
    for name in (repositories or "").split(","):
        if name and name not in ("_all", "*") and "*" not in name:
            raise EsError(404, "repository_missing_exception", f"[{name}] missing")
    return respond(Table(columns.SNAPSHOTS), request)


# --- templates -----------------------------------------------------------------------------------


def _java_list(items: Any) -> str:
    return "[" + ", ".join(items) + "]"


@router.route("/_cat/templates", "GET")
@router.route("/_cat/templates/{name}", "GET")
async def cat_templates(request: Request, cluster: Cluster):
    """Legacy templates, then composable ones."""
    pattern = request.path_params.get("name")
    templates = cluster.indices.templates
    table = Table(columns.TEMPLATES)
    for name, template in sorted(templates.legacy.items()):
        if _matches(pattern, name):
            table.add_row(
                {
                    "name": name,
                    "index_patterns": _java_list(template.get("index_patterns", [])),
                    "order": template.get("order", 0),
                    "version": template.get("version"),
                    "composed_of": "",
                }
            )
    for name, template in sorted(templates.composable.items()):
        if _matches(pattern, name):
            table.add_row(
                {
                    "name": name,
                    "index_patterns": _java_list(template.get("index_patterns", [])),
                    "order": template.get("priority") or 0,
                    "version": template.get("version"),
                    "composed_of": _java_list(template.get("composed_of", [])),
                }
            )
    return respond(table, request)


def _mapping_count(mappings: dict[str, Any] | None) -> int:
    """countMappingInTemplate: the entries of each top-level part of the mapping (a leaf counts one)."""
    if not mappings:
        return 0
    return sum(
        len(v) if isinstance(v, dict) else len(v) if isinstance(v, list) else 1 for v in mappings.values()
    )


def _settings_count(settings: dict[str, Any] | None, prefix: str = "") -> int:
    """The template's settings as flat keys."""
    count = 0
    for key, value in (settings or {}).items():
        count += _settings_count(value, f"{prefix}{key}.") if isinstance(value, dict) else 1
    return count


@router.route("/_cat/component_templates", "GET")
@router.route("/_cat/component_templates/{name}", "GET")
async def cat_component_templates(request: Request, cluster: Cluster):
    pattern = request.path_params.get("name")
    templates = cluster.indices.templates
    used_by: dict[str, set[str]] = {}
    for name, template in templates.composable.items():
        for component in template.get("composed_of", []):
            used_by.setdefault(component, set()).add(name)
    table = Table(columns.COMPONENT_TEMPLATES)
    for name, component in sorted(templates.components.items()):
        if pattern is not None and not fnmatch.fnmatchcase(name, pattern):
            continue
        part = component.get("template") or {}
        table.add_row(
            {
                "name": name,
                "version": component.get("version"),
                "alias_count": len(part.get("aliases") or {}),
                "mapping_count": _mapping_count(part.get("mappings")),
                "settings_count": _settings_count(part.get("settings")),
                "metadata_count": len(component.get("_meta") or {}),
                "included_in": _java_list(sorted(used_by.get(name, set()))),
            }
        )
    return respond(table, request)
