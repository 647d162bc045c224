"""Deployments (trained model assignments): their routes on ML nodes, the allocation planner, and the
shapes ES gives them in `_start`/`_update` answers (TrainedModelAssignment) and in stats
(AssignmentStats)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from es_sandbox.errors import EsError
from es_sandbox.ml.inference import RouteWorker
from es_sandbox.ml.units import byte_size_str, iso_millis

if TYPE_CHECKING:
    from es_sandbox.cluster import Node

STARTING, STARTED, STOPPING, FAILED = "starting", "started", "stopping", "failed"


@dataclass
class Route:
    """One node's share of a deployment (RoutingInfo) and its process (RouteWorker)."""

    node: Node
    target_allocations: int
    worker: RouteWorker
    current_allocations: int = 0
    state: str = STARTING
    reason: str | None = None
    start_time: int = field(default_factory=lambda: int(time.time() * 1000))
    generation: int = 0  # bumped when the process restarts, so in-flight work notices

    def routing_info(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "current_allocations": self.current_allocations,
            "target_allocations": self.target_allocations,
            "routing_state": self.state,
        }
        if self.reason is not None:
            body["reason"] = self.reason
        return body


@dataclass
class Deployment:
    model_id: str
    deployment_id: str
    model_bytes: int
    threads_per_allocation: int
    number_of_allocations: int
    queue_capacity: int
    cache_size: int
    priority: str
    adaptive_allocations: dict[str, Any] | None = None
    per_deployment_memory_bytes: int = 0
    per_allocation_memory_bytes: int = 0
    start_time: int = field(default_factory=lambda: int(time.time() * 1000))
    routes: dict[str, Route] = field(default_factory=dict)
    stopping: bool = False
    reason: str | None = None
    max_assigned_allocations: int = 0
    _changed: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    # --- state ---------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """AssignmentState: started once any route serves (or when scaled to zero allocations),
        failed when all routes failed."""
        if self.stopping:
            return STOPPING
        if any(r.state == STARTED for r in self.routes.values()) or self.number_of_allocations == 0:
            return STARTED
        if self.routes and all(r.state == FAILED for r in self.routes.values()):
            return FAILED
        return STARTING

    @property
    def allocation_count(self) -> int:
        return sum(r.current_allocations for r in self.routes.values() if r.state == STARTED)

    def allocation_status(self) -> dict[str, Any] | None:
        if self.stopping:
            return None
        count, target = self.allocation_count, self.number_of_allocations
        # AllocationStatus.calculateState: a deployment scaled to zero is 0/0 fully_allocated.
        if count == 0 and target > 0:
            state = "starting"
        else:
            state = "started" if count < target else "fully_allocated"
        return {"allocation_count": count, "target_allocation_count": target, "state": state}

    def reached(self, wait_for: str) -> bool:
        """DeploymentStartedPredicate: the wanted state, or nothing left that is still starting."""
        order = ["starting", "started", "fully_allocated"]
        status = self.allocation_status()
        if status is None or order.index(status["state"]) >= order.index(wait_for):
            return True
        return not any(r.state == STARTING for r in self.routes.values())

    def notify(self) -> None:
        self.max_assigned_allocations = max(
            self.max_assigned_allocations, sum(r.current_allocations for r in self.routes.values())
        )
        self._changed.set()
        self._changed = asyncio.Event()

    async def changed(self) -> None:
        await self._changed.wait()

    def new_worker(self, allocations: int) -> RouteWorker:
        """A fresh process for one of its routes (queue, counters and cache start empty)."""
        return RouteWorker(allocations, self.threads_per_allocation, self.queue_capacity, self.cache_size)

    def started_routes(self) -> list[Route]:
        return [r for r in self.routes.values() if r.state == STARTED]

    def routable_routes(self) -> list[Route]:
        """RoutingInfo.isRoutable: started with at least one allocation in its process."""
        return [r for r in self.started_routes() if r.current_allocations > 0]

    @property
    def adaptive(self) -> bool:
        return bool(self.adaptive_allocations and self.adaptive_allocations.get("enabled") is True)

    @property
    def scales_to_zero(self) -> bool:
        """Adaptive with no minimum, or a minimum of 0 (the only deployments woken by inference)."""
        return self.adaptive and not (self.adaptive_allocations or {}).get("min_number_of_allocations")

    # --- shapes --------------------------------------------------------------------------------

    def task_parameters(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "deployment_id": self.deployment_id,
            "model_bytes": self.model_bytes,
            "threads_per_allocation": self.threads_per_allocation,
            "number_of_allocations": self.number_of_allocations,
            "queue_capacity": self.queue_capacity,
            "cache_size": byte_size_str(self.cache_size),
            "priority": self.priority,
            "per_deployment_memory_bytes": self.per_deployment_memory_bytes,
            "per_allocation_memory_bytes": self.per_allocation_memory_bytes,
        }

    def assignment(self) -> dict[str, Any]:
        """TrainedModelAssignment.toXContent."""
        body: dict[str, Any] = {
            "task_parameters": self.task_parameters(),
            "routing_table": {node_id: r.routing_info() for node_id, r in self.routes.items()},
            "assignment_state": self.state,
        }
        if self.reason is not None:
            body["reason"] = self.reason
        body["start_time"] = iso_millis(self.start_time)
        body["max_assigned_allocations"] = self.max_assigned_allocations
        if self.adaptive_allocations is not None:
            body["adaptive_allocations"] = adaptive_xcontent(self.adaptive_allocations)
        return body

    def stats(self, node_xcontent: dict[str, dict[str, Any]]) -> dict[str, Any]:
        """AssignmentStats.toXContent: counters only when > 0, nodes keyed by node id."""
        workers = [r.worker for r in self.routes.values()]
        body: dict[str, Any] = {
            "deployment_id": self.deployment_id,
            "model_id": self.model_id,
            "threads_per_allocation": self.threads_per_allocation,
            "number_of_allocations": self.number_of_allocations,
        }
        if self.adaptive_allocations is not None:
            body["adaptive_allocations"] = adaptive_xcontent(self.adaptive_allocations)
        body["queue_capacity"] = self.queue_capacity
        body["state"] = self.state
        if self.reason is not None:
            body["reason"] = self.reason
        status = self.allocation_status()
        if status is not None:
            body["allocation_status"] = status
        body["cache_size"] = byte_size_str(self.cache_size)
        body["priority"] = self.priority
        body["start_time"] = self.start_time
        for name in ("error_count", "rejected_execution_count", "timeout_count", "inference_count"):
            total = sum(getattr(w, name) for w in workers)
            if total > 0:
                body[name] = total
        body["peak_throughput_per_minute"] = sum(w.window.peak for w in workers)
        body["nodes"] = [route_stats(r, node_xcontent[node_id]) for node_id, r in self.routes.items()]
        return body

    # --- persistence ---------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The fields `Deployment(**state)` takes back, and each route's target allocations."""
        state = {name: getattr(self, name) for name in PERSISTED_FIELDS}
        state["routes"] = {node_id: r.target_allocations for node_id, r in self.routes.items()}
        return state


# What a --data-dir keeps of a deployment besides its routes; the other fields start from their defaults.
PERSISTED_FIELDS = (
    "model_id",
    "deployment_id",
    "model_bytes",
    "threads_per_allocation",
    "number_of_allocations",
    "queue_capacity",
    "cache_size",
    "priority",
    "adaptive_allocations",
    "start_time",
    "max_assigned_allocations",
)


def adaptive_xcontent(settings: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"enabled": bool(settings.get("enabled"))}
    for name in ("min_number_of_allocations", "max_number_of_allocations"):
        if settings.get(name) is not None:
            body[name] = settings[name]
    return body


def route_stats(route: Route, node: dict[str, Any]) -> dict[str, Any]:
    """AssignmentStats.NodeStats: only started routes carry the inference counters."""
    routing_state: dict[str, Any] = {"routing_state": route.state}
    if route.reason is not None:
        routing_state["reason"] = route.reason
    body: dict[str, Any] = {"node": node, "routing_state": routing_state}
    w = route.worker
    if route.state != STARTED:
        body["peak_throughput_per_minute"] = 0
        body["throughput_last_minute"] = 0
        return body
    now = time.time()
    last_count, last_time = w.window.last_minute(now)
    body["inference_count"] = w.inference_count
    if w.inference_count > 0:
        body["average_inference_time_ms"] = w.inference_time_ms / w.inference_count
        misses = w.inference_count - w.cache_hit_count
        body["average_inference_time_ms_excluding_cache_hits"] = (
            w.inference_time_ms / misses if misses else 0.0
        )
    body["inference_cache_hit_count"] = w.cache_hit_count
    if w.last_access is not None:
        body["last_access"] = w.last_access
    body["number_of_pending_requests"] = w.pending
    for name in ("error_count", "rejected_execution_count", "timeout_count"):
        if getattr(w, name) > 0:
            body[name] = getattr(w, name)
    body["start_time"] = route.start_time
    body["threads_per_allocation"] = w.threads
    body["number_of_allocations"] = route.current_allocations
    body["peak_throughput_per_minute"] = w.window.peak
    body["throughput_last_minute"] = last_count
    body["average_inference_time_ms_last_minute"] = last_time / last_count if last_count else 0.0
    body["inference_cache_hit_count_last_minute"] = w.hit_window.last_minute(now)[0]
    return body


# --- the planner -------------------------------------------------------------------------------


def used_processors(deployments: list[Deployment], node_id: str) -> int:
    """Processors reserved on a node by normal-priority routes (low priority ones take none)."""
    return sum(
        d.routes[node_id].target_allocations * d.threads_per_allocation
        for d in deployments
        if d.priority == "normal" and node_id in d.routes
    )


def plan_allocations(
    ml_nodes: list[Node], others: list[Deployment], allocations: int, threads: int, priority: str
) -> tuple[dict[str, int], str]:
    """Places allocations on nodes with free processors (an allocation needs `threads` processors on
    one node); returns {node_id: allocations} and the AssignmentPlan explanation for what did not fit."""
    if not ml_nodes:
        return {}, "No ML nodes exist in the cluster"
    free = {n.id: n.ml_processors - used_processors(others, n.id) for n in ml_nodes}
    if priority == "low":
        node = max(ml_nodes, key=lambda n: free[n.id])
        return {node.id: 1}, ""
    placed: dict[str, int] = {}
    for _ in range(allocations):
        candidates = [n for n in ml_nodes if free[n.id] >= threads]
        if not candidates:
            break
        node = max(candidates, key=lambda n: (free[n.id], -n.index))
        placed[node.id] = placed.get(node.id, 0) + 1
        free[node.id] -= threads
    reasons = [
        f"Could not assign (more) allocations on node [{n.id}]. Reason: This node has insufficient allocated "
        f"processors. Available processors [{n.ml_processors}], free processors [{free[n.id]}], processors "
        f"required for each allocation of this model [{threads}]"
        for n in ml_nodes
        if free[n.id] < threads
    ]
    return placed, "|".join(reasons)


def no_capacity(explanation: str) -> EsError:
    return EsError(
        429,
        "status_exception",
        "Could not start deployment because no ML nodes with sufficient capacity were found",
        caused_by={
            "type": "illegal_state_exception",
            "reason": "Could not start deployment because no suitable nodes were found, allocation explanation "
            f"[{explanation or 'none'}]",
        },
    )
