"""The `_cat` listing and the tables about indices and nodes: indices, count, health, nodes, tasks,
aliases and ml/trained_models, each built from the same state as its JSON API (the other tables:
cluster_tables.py, ml_tables.py)."""

from __future__ import annotations

import fnmatch
import os
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from es_sandbox import host
from es_sandbox.cat import columns
from es_sandbox.cat.table import ByteSize, Duration, Table, respond
from es_sandbox.cluster_api import health
from es_sandbox.errors import illegal_argument
from es_sandbox.http import PRODUCT_HEADERS, Router, bool_param, int_param
from es_sandbox.node_info import heap_max_bytes, node_processors
from es_sandbox.tasks.manager import parse_task_id

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster, Node
    from es_sandbox.indices import Index

router = Router()

# RestCatAction: "=^.^=", then each cat action's documentation in the order Elasticsearch registers
# them (the component templates' own text ends without a newline, so the next one follows on its line).
_DOCUMENTATION = (
    "/_cat/allocation\n",
    "/_cat/shards\n/_cat/shards/{index}\n",
    "/_cat/master\n",
    "/_cat/nodes\n",
    "/_cat/tasks\n",
    "/_cat/indices\n/_cat/indices/{index}\n",
    "/_cat/segments\n/_cat/segments/{index}\n",
    "/_cat/count\n/_cat/count/{index}\n",
    "/_cat/recovery\n/_cat/recovery/{index}\n",
    "/_cat/health\n",
    "/_cat/pending_tasks\n",
    "/_cat/aliases\n/_cat/aliases/{alias}\n",
    "/_cat/thread_pool\n/_cat/thread_pool/{thread_pools}\n",
    "/_cat/plugins\n",
    "/_cat/fielddata\n/_cat/fielddata/{fields}\n",
    "/_cat/nodeattrs\n",
    "/_cat/repositories\n",
    "/_cat/snapshots/{repository}\n",
    "/_cat/templates\n",
    "/_cat/component_templates",
    "/_cat/circuit_breaker\n/_cat/circuit_breaker/{circuit_breaker_patterns}\n",
    "/_cat/ml/anomaly_detectors\n/_cat/ml/anomaly_detectors/{job_id}\n",
    "/_cat/ml/datafeeds\n/_cat/ml/datafeeds/{datafeed_id}\n",
    "/_cat/ml/trained_models\n/_cat/ml/trained_models/{model_id}\n",
    "/_cat/ml/data_frame/analytics\n/_cat/ml/data_frame/analytics/{id}\n",
    "/_cat/transforms\n/_cat/transforms/{transform_id}\n",
)


@router.route("/_cat", "GET")
async def cat_listing(request: Request, cluster: Cluster):
    text = "=^.^=\n" + "".join(_DOCUMENTATION)
    return Response(text, media_type="text/plain; charset=UTF-8", headers=PRODUCT_HEADERS)


# --- indices -------------------------------------------------------------------------------------


def _strict_date_time(millis: int) -> str:
    moment = datetime.fromtimestamp(millis / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis % 1000:03d}Z"


def _vector_values(index: Index, field_type: str) -> int:
    """Indexed values of the fields of this type (dense_vector.value_count, sparse_vector.value_count)."""
    paths = [path for path, spec in _mapped_fields(index.mappings) if spec.get("type") == field_type]
    if not paths:
        return 0
    return sum(1 for doc in index.docs.values() for path in paths if _lookup(doc.source, path) is not None)


def _mapped_fields(mappings: dict[str, Any], prefix: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = []
    for name, spec in (mappings.get("properties") or {}).items():
        path = f"{prefix}{name}"
        found.append((path, spec))
        found += _mapped_fields(spec, f"{path}.")
    return found


def _lookup(source: dict[str, Any], path: str) -> Any:
    if path in source:
        return source[path]
    head, _, rest = path.partition(".")
    value = source.get(head)
    return _lookup(value, rest) if rest and isinstance(value, dict) else None


def index_stats(index: Index) -> dict[str, Any]:
    """The statistics of one index as cat indices shows them, over all copies (with one data node
    only primaries are assigned, so `pri.` columns equal them). Operation counters (indexing, get,
    search, refresh, merges, caches) are 0: the index store keeps none yet (issue 13, class 2)."""
    size = ByteSize(index.store_size_in_bytes())
    stats: dict[str, Any] = {name: columns.zero(name) for name, _, _ in columns.INDEX_STATS}
    stats["dense_vector.value_count"] = _vector_values(index, "dense_vector")
    stats["sparse_vector.value_count"] = _vector_values(index, "sparse_vector")
    stats.update({"store.size": size, "dataset.size": size})
    return stats


def _index_row(index: Index) -> dict[str, Any]:
    stats = index_stats(index)
    row: dict[str, Any] = {
        "health": index.health,
        "status": "open",
        "index": index.name,
        "uuid": index.uuid,
        "pri": index.number_of_shards,
        "rep": index.number_of_replicas,
        "docs.count": len(index),
        "docs.deleted": index.deleted_docs,
        "creation.date": index.creation_date,
        "creation.date.string": _strict_date_time(index.creation_date),
    }
    for name, value in stats.items():
        row[name] = value
        row[f"pri.{name}"] = value
    return row


def _cat_indices(request: Request, cluster: Cluster) -> list[Index]:
    expression = request.path_params.get("index")
    expand = (request.query_params.get("expand_wildcards") or "open").split(",")
    chosen = {i.name: i for i in cluster.indices.resolve(expression or "*")}
    if "all" in expand or "hidden" in expand:
        patterns = [p for p in (expression or "*").split(",") if "*" in p or p == "_all"]
        for index in cluster.indices.indices.values():
            if any(fnmatch.fnmatchcase(index.name, "*" if p == "_all" else p) for p in patterns):
                chosen.setdefault(index.name, index)
    return sorted(chosen.values(), key=lambda i: i.name)


@router.route("/_cat/indices", "GET")
@router.route("/_cat/indices/{index}", "GET")
async def cat_indices(request: Request, cluster: Cluster):
    wanted = request.query_params.get("health")
    if wanted is not None and wanted not in ("green", "yellow", "red"):
        raise illegal_argument(f"unknown cluster health status [{wanted}]")
    table = Table(columns.INDICES)
    for index in _cat_indices(request, cluster):
        if wanted is None or index.health == wanted:
            table.add_row(_index_row(index))
    return respond(table, request)


# --- count and health ----------------------------------------------------------------------------


@router.route("/_cat/count", "GET", "POST")
@router.route("/_cat/count/{index}", "GET", "POST")
async def cat_count(request: Request, cluster: Cluster):
    from es_sandbox.search.api import count  # the count API decides query, body and indices

    table = Table(columns.COUNT, timestamped=True)
    table.add_row({"count": (await count(request, cluster))["count"]})
    return respond(table, request)


@router.route("/_cat/health", "GET")
async def cat_health(request: Request, cluster: Cluster):
    state = health(cluster, list(cluster.indices.indices.values()))
    waiting = state["task_max_waiting_in_queue_millis"]
    table = Table(columns.HEALTH, timestamped=True)
    table.add_row(
        {
            "cluster": state["cluster_name"],
            "status": state["status"],
            "node.total": state["number_of_nodes"],
            "node.data": state["number_of_data_nodes"],
            "shards": state["active_shards"],
            "pri": state["active_primary_shards"],
            "relo": state["relocating_shards"],
            "init": state["initializing_shards"],
            "unassign": state["unassigned_shards"],
            "unassign.pri": state.get("unassigned_primary_shards", 0),
            "pending_tasks": state["number_of_pending_tasks"],
            "max_task_wait_time": "-" if waiting == 0 else Duration.millis(waiting),
            "active_shards_percent": f"{state['active_shards_percent_as_number']:.1f}%",
        }
    )
    return respond(table, request)


# --- aliases -------------------------------------------------------------------------------------


@router.route("/_cat/aliases", "GET")
@router.route("/_cat/aliases/{name}", "GET")
async def cat_aliases(request: Request, cluster: Cluster):
    patterns = (request.path_params.get("name") or "*").split(",")
    table = Table(columns.ALIASES)
    for index in sorted(cluster.indices.indices.values(), key=lambda i: i.name):
        for alias, props in sorted(index.aliases.items()):
            if not any(fnmatch.fnmatchcase(alias, "*" if p == "_all" else p) for p in patterns):
                continue
            writes = props.get("is_write_index")
            table.add_row(
                {
                    "alias": alias,
                    "index": index.name,
                    "filter": "*" if "filter" in props else "-",
                    "routing.index": props.get("index_routing") or "-",
                    "routing.search": props.get("search_routing") or "-",
                    "is_write_index": "-" if writes is None else str(bool(writes)).lower(),
                }
            )
    return respond(table, request)


# --- nodes ---------------------------------------------------------------------------------------

# DiscoveryNodeRole.roleNameAbbreviation
_ROLE_LETTERS = {
    "data": "d",
    "data_cold": "c",
    "data_content": "s",
    "data_frozen": "f",
    "data_hot": "h",
    "data_warm": "w",
    "index": "I",
    "ingest": "i",
    "master": "m",
    "ml": "l",
    "remote_cluster_client": "r",
    "search": "S",
    "transform": "t",
    "voting_only": "v",
}


def role_letters(node: Node) -> str:
    return "".join(sorted(_ROLE_LETTERS[r] for r in node.roles if r in _ROLE_LETTERS)) or "-"


def _node_stats(cluster: Cluster, node: Node) -> dict[str, Any]:
    """The node-level sum of cat indices' statistics for the indices it holds (the data node)."""
    held = list(cluster.indices.indices.values()) if "data" in node.roles else []
    totals: dict[str, Any] = {name: columns.zero(name) for name, _, _ in columns.NODE_STATS}
    for index in held:
        for name, value in index_stats(index).items():
            if name in totals:
                totals[name] = _add(totals[name], value)
    fields = sum(len(_mapped_fields(i.mappings)) for i in held)
    totals["shard_stats.total_count"] = sum(i.number_of_shards for i in held)
    totals["mappings.total_count"] = fields
    # NodeMappingStats: Elasticsearch estimates 1 KiB of heap per mapped field.
    totals["mappings.total_estimated_overhead_in_bytes"] = ByteSize(fields * 1024)
    return totals


def _add(a: Any, b: Any) -> Any:
    if isinstance(a, ByteSize) and isinstance(b, ByteSize):
        return ByteSize(a.bytes + b.bytes)
    if isinstance(a, Duration) and isinstance(b, Duration):
        return Duration(a.nanos + b.nanos)
    return a + b


def _node_row(request: Request, cluster: Cluster, node: Node) -> dict[str, Any]:
    build = cluster.config.build
    ip, _, port = node.transport_address.partition(":")
    server = request.scope.get("server") or ("127.0.0.1", cluster.config.port)
    heap_max = heap_max_bytes(cluster, node)
    heap_used = host.process_resident_bytes()
    ram = host.machine_memory()
    disk = host.disk(cluster.config.data_dir)
    fds, fd_max = host.open_file_descriptors(), host.max_file_descriptors()
    load = host.load_average()
    row: dict[str, Any] = {
        "id": node.id if bool_param(request, "full_id", False) else node.id[:4],
        "pid": os.getpid(),
        "ip": ip,
        "port": int(port),
        "http_address": f"{server[0]}:{server[1]}",
        "version": build.number,
        "type": "tar",
        "build": build.build_hash,
        "jdk": build.jdk_version,
        "disk.total": ByteSize(disk.total),
        "disk.used": ByteSize(disk.total - disk.available),
        "disk.avail": ByteSize(disk.available),
        "disk.used_percent": f"{(disk.total - disk.available) * 100 / disk.total:.2f}"
        if disk.total
        else None,
        "heap.current": ByteSize(heap_used),
        "heap.percent": min(100, round(heap_used * 100 / heap_max)),
        "heap.max": ByteSize(heap_max),
        "ram.current": ByteSize(ram.used),
        "ram.percent": ram.used_percent,
        "ram.max": ByteSize(ram.total),
        "file_desc.current": fds,
        "file_desc.percent": round(fds * 100 / fd_max) if fd_max > 0 else -1,
        "file_desc.max": fd_max,
        "cpu": host.cpu_percent(),
        "load_1m": f"{load[0]:.2f}" if load else None,
        "load_5m": f"{load[1]:.2f}" if load else None,
        "load_15m": f"{load[2]:.2f}" if load else None,
        "available_processors": node_processors(node),
        "uptime": Duration.millis((time.time() - cluster.started_at) * 1000),
        "node.role": role_letters(node),
        "master": "*" if node is cluster.master else "-",
        "name": node.name,
    }
    row.update(_node_stats(cluster, node))
    return row


@router.route("/_cat/nodes", "GET")
async def cat_nodes(request: Request, cluster: Cluster):
    table = Table(columns.NODES)
    for node in cluster.nodes:
        table.add_row(_node_row(request, cluster, node))
    return respond(table, request)


# --- tasks ---------------------------------------------------------------------------------------


@router.route("/_cat/tasks", "GET")
async def cat_tasks(request: Request, cluster: Cluster):
    detailed = bool_param(request, "detailed", False)
    full_id = bool_param(request, "full_id", False)
    parent = request.query_params.get("parent_task_id")
    if parent is not None:
        parse_task_id(parent)
    actions = [a for a in (request.query_params.get("actions") or "").split(",") if a] or None
    nodes = [n for n in (request.query_params.get("nodes") or "").split(",") if n] or None
    with cluster.tasks.listing():
        tasks = cluster.tasks.find(actions, parent, nodes)
        table = Table([*columns.TASKS, columns.TASK_DESCRIPTION] if detailed else columns.TASKS)
        for task in _grouped(tasks):
            table.add_row(_task_row(cluster, task, full_id=full_id, detailed=detailed))
    return respond(table, request)


def _grouped(tasks: list[Any]) -> list[Any]:
    """TaskGroup order: parents by start time, each followed by its children."""
    chosen = set(map(id, tasks))
    ordered: list[Any] = []

    def walk(level: list[Any]) -> None:
        for task in sorted(level, key=lambda t: (t.start_millis, t.id)):
            ordered.append(task)
            walk([t for t in tasks if t.parent is task])

    walk([t for t in tasks if t.parent is None or id(t.parent) not in chosen])
    return ordered


def _task_row(cluster: Cluster, task: Any, *, full_id: bool, detailed: bool) -> dict[str, Any]:
    info = task.info(detailed=True)
    node = task.node
    ip, _, port = node.transport_address.partition(":")
    row = {
        "id": task.id,
        "action": task.action,
        "task_id": task.full_id,
        "parent_task_id": task.parent.full_id if task.parent is not None else "-",
        "type": info["type"],
        "start_time": task.start_millis,
        "timestamp": datetime.fromtimestamp(task.start_millis / 1000, UTC).strftime("%H:%M:%S"),
        "running_time_ns": info["running_time_in_nanos"],
        "running_time": Duration(info["running_time_in_nanos"]),
        "node_id": node.id if full_id else node.id[:4],
        "ip": ip,
        "port": int(port),
        "node": node.name,
        "version": cluster.config.version,
        "x_opaque_id": "-",
    }
    if detailed:
        row["description"] = info.get("description", "")
    return row


# --- ml/trained_models ---------------------------------------------------------------------------


def _instant(millis: int) -> str:
    """java.time.Instant.toString: milliseconds only when there are some."""
    moment = datetime.fromtimestamp(millis / 1000, UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{millis % 1000:03d}Z" if millis % 1000 else f"{text}Z"


@router.route("/_cat/ml/trained_models", "GET")
@router.route("/_cat/ml/trained_models/{model_id}", "GET")
async def cat_trained_models(request: Request, cluster: Cluster):
    from es_sandbox.ml.stats import trained_model_stats

    service = cluster.ml
    expression = request.path_params.get("model_id") or "_all"
    start, size = int_param(request, "from", 0) or 0, int_param(request, "size", 100)
    models = service.expand_models(expression, allow_no_match=bool_param(request, "allow_no_match", True))
    stats = {
        s["model_id"]: s
        for s in trained_model_stats(service, expression, allow_no_match=True, start=0, size=10_000)[
            "trained_model_stats"
        ]
    }
    table = Table(columns.TRAINED_MODELS)
    for model in models[start : start + (size if size is not None else 100)]:
        entry = stats.get(model.model_id, {})
        ingest = (entry.get("ingest") or {}).get("total") or {}
        table.add_row(
            {
                "id": model.model_id,
                "created_by": model.created_by,
                "heap_size": ByteSize(entry.get("model_size_stats", {}).get("model_size_bytes", 0)),
                "operations": model.estimated_operations,
                "license": model.license_level.upper(),
                "create_time": _instant(model.create_time),
                "version": model.version,
                "description": model.description,
                "type": model.model_type,
                "ingest.pipelines": entry.get("pipeline_count", 0),
                "ingest.count": ingest.get("count", 0),
                "ingest.time": Duration.millis(ingest.get("time_in_millis", 0)),
                "ingest.current": ingest.get("current", 0),
                "ingest.failed": ingest.get("failed", 0),
                "data_frame.id": "__none__",
            }
        )
    return respond(table, request)
