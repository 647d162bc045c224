"""The state of one sandbox cluster: its nodes and the subsystems that hold indices, pipelines,
models and tasks. Endpoints receive the Cluster and reach every subsystem through it.

Subsystem contract (each owned by its module):
    __init__(cluster)          build empty state
    async start() / stop()     background work (downloads, allocation, reindex workers)
    reset()                    drop everything (POST /_sandbox/reset)
    snapshot() -> dict         persistable state for --data-dir (running work excluded)
    restore(dict)              the inverse, at start-up
    on_node_restart()          what a node restart does to it (running tasks are lost)
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

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


class Cluster:
    def __init__(self, config: SandboxConfig) -> None:
        # Imported here: the subsystem modules import Cluster for typing only.
        from es_sandbox.faults import Faults
        from es_sandbox.indices import IndexStore
        from es_sandbox.ingest import IngestService
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
        self.indices = IndexStore(self)
        self.tasks = TaskManager(self)
        self.ingest = IngestService(self)
        self.ml = MlService(self)
        self.search = SearchService(self)

    @property
    def subsystems(self) -> list:
        return [self.indices, self.tasks, self.ingest, self.ml, self.search]

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

    async def stop(self) -> None:
        from es_sandbox import persistence

        for sub in reversed(self.subsystems):
            await sub.stop()
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
