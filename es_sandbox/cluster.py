"""The state of one sandbox cluster, and the one place that wires it: its nodes, its subsystems
(the stores behind the APIs) and the modules that serve their routes. Endpoints receive the Cluster
and reach every subsystem through it (cluster.indices, cluster.documents, cluster.tasks, ...).

Subsystem contract (each owned by its package: a state module and a routes module):
    __init__(cluster)          build empty state (a subsystem may register itself with one built
                               before it, e.g. cluster.documents.register_write_step)
    async start() / stop()     background work (downloads, allocation, reindex workers)
    reset()                    drop everything (POST /_sandbox/reset)
    snapshot() -> dict | None  persistable state for --data-dir (running work excluded; None: nothing)
    restore(dict)              the inverse, at start-up
    on_node_restart()          what a node restart does to it (running tasks are lost)
Reset and restart reach every subsystem through this contract and nothing else: no subsystem
reaches into another's state to clear it.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

from es_sandbox.config import SandboxConfig


def _stable_id(seed: str, length: int = 22) -> str:
    """Base64-like ids that stay the same for the same seed, so node ids survive restarts."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(alphabet[b % 64] for b in digest[:length])


@dataclass
class Node:
    index: int
    id: str
    name: str
    ephemeral_id: str
    roles: list[str]
    ml_processors: int
    transport_address: str
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def is_ml(self) -> bool:
        return "ml" in self.roles


def make_nodes(config: SandboxConfig) -> list[Node]:
    """`--ml-nodes N` ML nodes (node 0 also holds data); with N == 0 one data node without ML."""
    count = max(1, config.ml_nodes)
    nodes = []
    for i in range(count):
        roles = ["data", "data_content", "data_hot", "ingest", "master", "transform"] if i == 0 else []
        if i < config.ml_nodes:
            roles.append("ml")
        nodes.append(
            Node(
                index=i,
                id=_stable_id(f"{config.cluster_name}/node/{i}"),
                name=f"{config.cluster_name}-node-{i}",
                ephemeral_id=_stable_id(f"{config.cluster_name}/node/{i}/{time.time_ns()}"),
                roles=sorted(roles),
                ml_processors=config.ml_processors if i < config.ml_nodes else 0,
                transport_address=f"127.0.0.1:{9300 + i}",
            )
        )
    return nodes


# The subsystems' attributes on Cluster, in start order (stopped in reverse); each name is also the
# name of the subsystem's file in --data-dir.
SUBSYSTEMS = ("settings", "license", "indices", "documents", "tasks", "ingest", "ml", "search", "inference")

# Every module that declares endpoints on a module-level `router` (served by es_sandbox.app).
ROUTE_MODULES = (
    "es_sandbox.faults",
    "es_sandbox.cluster_api",
    "es_sandbox.licensing",
    "es_sandbox.cluster_settings",
    "es_sandbox.capabilities",
    "es_sandbox.data_streams",
    "es_sandbox.cat",
    "es_sandbox.nodes_api",
    "es_sandbox.indices.api",
    "es_sandbox.indices.stats_api",
    "es_sandbox.indices.operations_api",
    "es_sandbox.indices.templates_api",
    "es_sandbox.indices.cluster_state",
    "es_sandbox.documents.api",
    "es_sandbox.search",
    "es_sandbox.ingest.api",
    "es_sandbox.tasks.api",
    "es_sandbox.reindex.api",
    "es_sandbox.ml.api",
    "es_sandbox.inference.api",
)


class Cluster:
    def __init__(self, config: SandboxConfig) -> None:
        # Imported here: the subsystem modules import Cluster for typing only.
        from es_sandbox.cluster_settings import ClusterSettings
        from es_sandbox.documents import DocumentService
        from es_sandbox.faults import Faults
        from es_sandbox.indices import IndexStore
        from es_sandbox.inference import InferenceService
        from es_sandbox.ingest import IngestService
        from es_sandbox.licensing import Licensing
        from es_sandbox.ml.service import MlService
        from es_sandbox.search import SearchService
        from es_sandbox.security import Security
        from es_sandbox.tasks import TaskManager

        self.config = config
        self.cluster_uuid = _stable_id(f"{config.cluster_name}/uuid")
        self.nodes = make_nodes(config)
        self.started_at = time.time()
        self.faults = Faults(self)
        self.security = Security(config)
        # SUBSYSTEMS, in order: a later one may register itself with an earlier one (write steps).
        self.settings = ClusterSettings(self)
        self.license = Licensing(self)
        self.indices = IndexStore(self)
        self.documents = DocumentService(self)
        self.tasks = TaskManager(self)
        self.ingest = IngestService(self)
        self.ml = MlService(self)
        self.search = SearchService(self)
        self.inference = InferenceService(self)
        self._flusher = None

    @property
    def named_subsystems(self) -> list[tuple[str, Any]]:
        return [(name, getattr(self, name)) for name in SUBSYSTEMS]

    @property
    def subsystems(self) -> list:
        return [sub for _, sub in self.named_subsystems]

    @property
    def master(self) -> Node:
        return self.nodes[0]

    def node(self, node_id: str) -> Node | None:
        return next((n for n in self.nodes if n.id == node_id), None)

    async def start(self) -> None:
        from es_sandbox import persistence

        persistence.load(self)
        for sub in self.subsystems:
            await sub.start()
        self._flusher = persistence.start_flusher(self)

    async def stop(self) -> None:
        from es_sandbox import persistence

        for sub in reversed(self.subsystems):
            await sub.stop()
        if self._flusher is not None:
            await self._flusher.stop()
            self._flusher = None
        persistence.save(self)

    def reset(self) -> None:
        self.faults.reset()
        for sub in self.subsystems:
            sub.reset()

    def restart_nodes(self) -> None:
        """A simulated full restart: running work is lost, stored state stays."""
        for node in self.nodes:
            node.ephemeral_id = _stable_id(f"{node.id}/{time.time_ns()}")
        for sub in self.subsystems:
            sub.on_node_restart()
