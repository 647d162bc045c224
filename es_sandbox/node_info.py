"""What `GET _nodes` says about one node (NodesInfoResponse with NodeInfo's sections): identity,
versions, build, roles and attributes, then per metric its settings, os, process, jvm, thread pools,
transport, http, plugins and modules, ingest processors, aggregations and indexing buffer.

The sandbox is one Python process acting as every node: the os section describes the machine, the
process section this process, and the jvm section the JVM an Elasticsearch of this release would
run (its bundled JDK, with this process standing in for the heap)."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from es_sandbox import host
from es_sandbox.dotted import nest_dotted

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster, Node

# NodesInfoMetrics.Metric
INFO_METRICS = (
    "settings",
    "os",
    "process",
    "jvm",
    "thread_pool",
    "transport",
    "http",
    "remote_cluster_server",
    "plugins",
    "ingest",
    "aggregations",
    "indices",
)

# What TransformConfigVersion and MlConfigVersion ids are in the 9.x line (id = x*1000000 + 99).
TRANSFORM_CONFIG_VERSION = "10.0.0"


def _version_id(version: str) -> int:
    major, minor, patch = (int(p) for p in version.split("."))
    return major * 1_000_000 + minor * 10_000 + patch * 100 + 99


def node_attributes(cluster: Cluster, node: Node) -> dict[str, str]:
    attributes = {
        "xpack.installed": "true",
        "transform.config_version": TRANSFORM_CONFIG_VERSION,
        **node.attributes,
        **cluster.ml.node_attributes(node),
    }
    return dict(sorted(attributes.items()))


def node_processors(node: Node) -> int:
    """Allocated processors: an ML node's configured ones, else the machine's."""
    return node.ml_processors or os.cpu_count() or 1


def node_header(cluster: Cluster, node: Node) -> dict[str, Any]:
    ip, _, _ = node.transport_address.partition(":")
    return {
        "name": node.name,
        "transport_address": node.transport_address,
        "host": ip,
        "ip": ip,
        "version": cluster.config.version,
    }


def heap_max_bytes(cluster: Cluster, node: Node) -> int:
    return int(node_attributes(cluster, node).get("ml.max_jvm_size", "0")) or host.machine_memory().total


def node_info(cluster: Cluster, node: Node, metrics: set[str], *, http_address: str) -> dict[str, Any]:
    build = cluster.config.build
    attributes = node_attributes(cluster, node)
    info = node_header(cluster, node)
    info["transport_version"] = build.transport_version
    info["index_version"] = build.index_version
    info["component_versions"] = {
        "ml_config_version": _version_id(attributes.get("ml.config_version", "12.0.0")),
        "transform_config_version": _version_id(TRANSFORM_CONFIG_VERSION),
    }
    info.update({"build_flavor": "default", "build_type": "tar", "build_hash": build.build_hash})
    if "indices" in metrics:
        # IndexingMemoryController: 10 % of the heap; the raw value under the plain name, as
        # NodesInfoResponse writes it.
        info["total_indexing_buffer"] = heap_max_bytes(cluster, node) // 10
    info["roles"] = list(node.roles)
    info["attributes"] = attributes
    processors = node_processors(node)
    sections = {
        "settings": lambda: _settings(cluster, node, attributes),
        "os": lambda: _os(processors),
        "process": _process,
        "jvm": lambda: _jvm(cluster, node),
        "thread_pool": lambda: thread_pools(processors),
        "transport": lambda: _addresses(node.transport_address, profiles=True),
        "http": lambda: {**_addresses(http_address), "max_content_length_in_bytes": 100 * 1024 * 1024},
        "ingest": lambda: {"processors": [{"type": t} for t in sorted(_processor_types(cluster))]},
        "aggregations": lambda: {},
    }
    for metric, build_section in sections.items():
        if metric in metrics:
            info[metric] = build_section()
        if metric == "http" and "plugins" in metrics:
            info["plugins"] = []
            info["modules"] = _modules(cluster)
    return info


def _processor_types(cluster: Cluster) -> list[str]:
    from es_sandbox.ingest.registry import PROCESSORS

    return list(PROCESSORS)


def _settings(cluster: Cluster, node: Node, attributes: dict[str, str]) -> dict[str, Any]:
    """The node's settings as Settings.toXContent nests them (strings throughout)."""
    single = len(cluster.nodes) == 1
    settings: dict[str, Any] = {
        "cluster": {"name": cluster.config.cluster_name, "election": {"strategy": "supporting_only"}},
        "node": {"attr": nest_dotted(attributes), "name": node.name},
        "path": {"logs": str(cluster.config.data_dir or os.getcwd()), "home": os.getcwd()},
        "client": {"type": "node"},
        "http": {"type": {"default": "netty4"}},
        "transport": {"type": {"default": "netty4"}, "features": {"x-pack": "true"}},
        "xpack": {"security": {"enabled": str(cluster.config.security_enabled).lower()}},
    }
    if single:
        settings["discovery"] = {"type": "single-node"}
    return settings


def _os(processors: int) -> dict[str, Any]:
    return {
        "refresh_interval_in_millis": 1000,
        "name": host.os_name(),
        "pretty_name": host.os_pretty_name(),
        "arch": host.os_arch(),
        "version": host.os_version(),
        "available_processors": processors,
        "allocated_processors": processors,
    }


def _process() -> dict[str, Any]:
    return {"refresh_interval_in_millis": 1000, "id": os.getpid(), "mlockall": False}


def _jvm(cluster: Cluster, node: Node) -> dict[str, Any]:
    jdk = cluster.config.build.jdk_version
    heap = heap_max_bytes(cluster, node)
    return {
        "pid": os.getpid(),
        "version": jdk,
        "vm_name": "OpenJDK 64-Bit Server VM",
        "vm_version": jdk,
        "vm_vendor": "Oracle Corporation",
        "bundled_jdk": True,
        "using_bundled_jdk": True,
        "start_time_in_millis": int(cluster.started_at * 1000),
        "mem": {
            "heap_init_in_bytes": heap,
            "heap_max_in_bytes": heap,
            "non_heap_init_in_bytes": 7667712,
            "non_heap_max_in_bytes": 0,
            "direct_max_in_bytes": 0,
        },
        "gc_collectors": ["G1 Young Generation", "G1 Concurrent GC", "G1 Old Generation"],
        "memory_pools": [
            "CodeHeap 'non-nmethods'",
            "Metaspace",
            "CodeHeap 'profiled nmethods'",
            "Compressed Class Space",
            "G1 Eden Space",
            "G1 Old Gen",
            "G1 Survivor Space",
            "CodeHeap 'non-profiled nmethods'",
        ],
        "using_compressed_ordinary_object_pointers": "true",
        "input_arguments": [f"-Xms{heap // 1024 // 1024}m", f"-Xmx{heap // 1024 // 1024}m"],
    }


def thread_pools(processors: int) -> dict[str, dict[str, Any]]:
    """The main pools with DefaultBuiltInExecutorBuilders' sizes for this many processors."""
    half = (processors + 1) // 2
    search = processors * 3 // 2 + 1

    def fixed(size: int, queue: int) -> dict[str, Any]:
        return {"type": "fixed", "size": size, "queue_size": queue}

    def scaling(core: int, most: int, keep_alive: str) -> dict[str, Any]:
        return {"type": "scaling", "core": core, "max": most, "keep_alive": keep_alive, "queue_size": -1}

    pools = {
        "analyze": fixed(1, 16),
        "fetch_shard_started": scaling(1, 2 * processors, "5m"),
        "fetch_shard_store": scaling(1, 2 * processors, "5m"),
        "flush": scaling(1, min(5, half), "5m"),
        "force_merge": fixed(max(1, processors // 8), -1),
        "generic": scaling(4, max(128, 4 * processors), "30s"),
        "get": fixed(search, 1000),
        "management": scaling(1, min(5, processors), "5m"),
        "ml_native_inference_comms": scaling(0, 3 * processors, "1m"),
        "ml_utility": scaling(1, 2048, "10m"),
        "refresh": scaling(1, min(10, half), "5m"),
        "search": fixed(search, 1000),
        "search_coordination": fixed(half, 1000),
        "snapshot": scaling(1, min(5, half), "5m"),
        "system_critical_read": fixed(min(processors, 5), 2000),
        "system_critical_write": fixed(min(half, 5), 1500),
        "system_read": fixed(min(processors, 5), 2000),
        "system_write": fixed(min(half, 5), 1000),
        "warmer": scaling(1, min(5, half), "5m"),
        "write": fixed(processors, 10000),
    }
    return pools


def _addresses(address: str, *, profiles: bool = False) -> dict[str, Any]:
    section: dict[str, Any] = {"bound_address": [address], "publish_address": address}
    if profiles:
        section["profiles"] = {}
    return section


# The modules of the default distribution that serve what the sandbox serves (PluginDescriptor).
_MODULES = [
    (
        "ingest-common",
        "Module for ingest processors that do not require additional security permissions",
        "org.elasticsearch.ingest.common.IngestCommonPlugin",
        [],
    ),
    (
        "lang-painless",
        "An easy, safe and fast scripting language for Elasticsearch",
        "org.elasticsearch.painless.PainlessPlugin",
        [],
    ),
    (
        "mapper-extras",
        "Adds advanced field mappers",
        "org.elasticsearch.index.mapper.extras.MapperExtrasPlugin",
        ["lang-painless"],
    ),
    (
        "reindex",
        "The Reindex module adds APIs to reindex from one index to another or update documents in place.",
        "org.elasticsearch.reindex.ReindexPlugin",
        [],
    ),
    (
        "transport-netty4",
        "Netty 4 based transport implementation",
        "org.elasticsearch.transport.netty4.Netty4Plugin",
        [],
    ),
    (
        "x-pack-core",
        "Elasticsearch Expanded Pack Plugin - Core",
        "org.elasticsearch.xpack.core.XPackPlugin",
        [],
    ),
    (
        "x-pack-inference",
        "Configuration and evaluation of inference models",
        "org.elasticsearch.xpack.inference.InferencePlugin",
        ["x-pack-core"],
    ),
    (
        "x-pack-ml",
        "Elasticsearch Expanded Pack Plugin - Machine Learning",
        "org.elasticsearch.xpack.ml.MachineLearning",
        ["x-pack-autoscaling", "lang-painless"],
    ),
    (
        "x-pack-security",
        "Elasticsearch Expanded Pack Plugin - Security",
        "org.elasticsearch.xpack.security.Security",
        ["x-pack-core"],
    ),
]


def _modules(cluster: Cluster) -> list[dict[str, Any]]:
    build = cluster.config.build
    return [
        {
            "name": name,
            "version": build.number,
            "elasticsearch_version": build.number,
            "java_version": "21",
            "description": description,
            "classname": classname,
            "extended_plugins": extended,
            "has_native_controller": name == "x-pack-ml",
            "licensed": name.startswith("x-pack"),
            "is_official": True,
        }
        for name, description, classname, extended in _MODULES
    ]


def uptime_millis(cluster: Cluster) -> int:
    return int((time.time() - cluster.started_at) * 1000)
