"""Arithmetic of ML capacity and reindex rounds: pure functions over ES responses, no I/O."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ReindexPlan:
    batch_size: int
    slices: int
    note: str | None = None  # why the requested values were changed, if they were


def plan_reindex(batch_size: int, slices: int, allocations: int, queue_capacity: int) -> ReindexPlan:
    """Batch size and slices such that one round of batches fits the deployment's queues.

    Each slice sends one batch at a time through the pipeline; every document of a batch waits in
    the inference queue. So slices x batch_size must stay <= allocations x queue_capacity, or the
    queue overflows (429 "inference process queue is full") and documents fail.
    """
    capacity = max(allocations, 1) * queue_capacity
    if slices * batch_size <= capacity:
        return ReindexPlan(batch_size, slices)
    new_slices = min(slices, capacity)
    new_batch = max(1, capacity // new_slices)
    return ReindexPlan(
        new_batch,
        new_slices,
        f"slices x batch_size = {slices} x {batch_size} = {slices * batch_size} exceeds the deployment's "
        f"queues ({allocations} allocation(s) x queue_capacity {queue_capacity} = {capacity}); "
        f"using slices {new_slices}, batch_size {new_batch}",
    )


def ml_node_processors(nodes_info: dict) -> dict[str, int]:
    """Processors of each ML node, from `GET _nodes` attributes (ES's planner rounds up)."""
    processors = {}
    for node_id, node in (nodes_info.get("nodes") or {}).items():
        if "ml" not in (node.get("roles") or []):
            continue
        attrs = node.get("attributes") or {}
        raw = attrs.get("ml.allocated_processors_double") or attrs.get("ml.allocated_processors") or 0
        processors[node_id] = math.ceil(float(raw))
    return processors


def used_processors(model_stats: list[dict], *, exclude_deployment: str | None = None) -> dict[str, int]:
    """Processors each node gives to existing deployments (allocations x threads per route).

    Low-priority deployments do not count: ES's planner does not reserve processors for them.
    """
    used: dict[str, int] = {}
    for stats in model_stats:
        deployment = stats.get("deployment_stats")
        if not deployment or deployment.get("deployment_id") == exclude_deployment:
            continue
        if deployment.get("priority") == "low" or deployment.get("state") in ("stopping", "failed"):
            continue
        threads = deployment.get("threads_per_allocation") or 1
        for route in deployment.get("nodes") or []:
            state = (route.get("routing_state") or {}).get("routing_state")
            if state not in ("starting", "started"):
                continue
            for node_id in route.get("node") or {}:
                used[node_id] = used.get(node_id, 0) + (route.get("number_of_allocations") or 0) * threads
    return used


@dataclass(frozen=True)
class Capacity:
    free: dict[str, int]
    total: dict[str, int]
    placeable: int  # allocations of the requested size that fit

    def describe(self) -> str:
        if not self.total:
            return "the cluster has no ML nodes"
        return ", ".join(
            f"node {node}: {self.free[node]} free of {self.total[node]}" for node in sorted(self.total)
        )


def capacity_for(
    nodes_info: dict, model_stats: list[dict], threads: int, exclude_deployment: str | None
) -> Capacity:
    total = ml_node_processors(nodes_info)
    used = used_processors(model_stats, exclude_deployment=exclude_deployment)
    free = {node: max(total[node] - used.get(node, 0), 0) for node in total}
    # An allocation's threads must all sit on one node.
    placeable = sum(processors // threads for processors in free.values())
    return Capacity(free=free, total=total, placeable=placeable)


def capacity_problem(capacity: Capacity, deployment_id: str, allocations: int, threads: int) -> str | None:
    """None when `allocations` x `threads` fit the free processors; else what is short and what to change."""
    if allocations <= capacity.placeable:
        return None
    largest = max(capacity.free.values(), default=0)
    fits_threads = max((t for t in (1, 2, 4, 8, 16, 32) if t <= largest), default=0)
    advice = [f"lower number_of_allocations to {capacity.placeable}" if capacity.placeable else None]
    if fits_threads and fits_threads < threads:
        advice.append(f"lower threads_per_allocation to {fits_threads}")
    advice.append("stop other deployments, or add ML nodes/processors")
    return (
        f"deployment [{deployment_id}] needs {allocations} allocation(s) x {threads} thread(s) = "
        f"{allocations * threads} ML processors, each allocation's {threads} on one node; "
        f"free ML processors: {capacity.describe()}; {capacity.placeable} allocation(s) of {threads} "
        f"thread(s) fit. In Variable 'embedding_deployment': {'; or '.join(a for a in advice if a)}."
    )
