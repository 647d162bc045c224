"""A node's circuit breakers as Elasticsearch 9 configures them by default (HierarchyCircuitBreakerService
and the ML and EQL plugins' breakers), for `GET _nodes/stats/breaker` and `GET _cat/circuit_breaker`.

The limits are the default shares of the node's heap; the sandbox accounts no request memory, so each
child breaker estimates 0 bytes and none ever trips, and the parent breaker (real memory) estimates the
memory this process uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from es_sandbox import host
from es_sandbox.node_info import heap_max_bytes

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster, Node

# (name, limit as a share of the heap, overhead), the parent last as ES lists it.
_DEFAULTS = (
    ("request", 0.60, 1.0),
    ("fielddata", 0.40, 1.03),
    ("inflight_requests", 1.00, 2.0),
    ("model_inference", 0.50, 1.0),
    ("eql_sequence", 0.50, 1.0),
    ("parent", 0.95, 1.0),
)


@dataclass(frozen=True)
class BreakerStats:
    name: str
    limit: int
    estimated: int
    overhead: float
    tripped: int = 0

    def to_xcontent(self) -> dict[str, Any]:
        """CircuitBreakerStats.toXContent (the sizes always twice: in bytes and for humans)."""
        from es_sandbox.cat.table import ByteSize

        return {
            "limit_size_in_bytes": self.limit,
            "limit_size": ByteSize(self.limit).render(None),
            "estimated_size_in_bytes": self.estimated,
            "estimated_size": ByteSize(self.estimated).render(None),
            "overhead": self.overhead,
            "tripped": self.tripped,
        }


def node_breakers(cluster: Cluster, node: Node) -> list[BreakerStats]:
    heap = heap_max_bytes(cluster, node)
    used = host.process_resident_bytes()
    return [
        BreakerStats(name, int(heap * share), used if name == "parent" else 0, overhead)
        for name, share, overhead in _DEFAULTS
    ]
