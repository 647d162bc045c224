"""Arithmetic of ML capacity and reindex rounds: pure functions over ES responses, no I/O."""

from __future__ import annotations

import math
from dataclasses import dataclass

# Share of the queues a reindex may fill: room for search requests and for ES routing each inference
# request to a node at random (weighted by its allocations), which fills one route more than its share.
QUEUE_SAFETY = 0.8
# `auto` slices: at least two, so that one slice's documents keep the allocations busy while another
# is between batches (scroll page, bulk request, the tail of its last round).
MIN_SLICES = 2
# `auto` batch size: rounds of the allocations per batch. With a measured inference time, enough rounds
# for a batch to take about TARGET_BATCH_SECONDS (per-batch overhead then costs next to nothing);
# without one (a new deployment), DEFAULT_ROUNDS per thread of an allocation.
TARGET_BATCH_SECONDS = 2.0
MIN_ROUNDS = 4
DEFAULT_ROUNDS = 25
MAX_BATCH_SIZE = 10_000


@dataclass(frozen=True)
class Queues:
    """What the reindex sizing needs to know about a running deployment (from its stats)."""

    routes: tuple[int, ...]  # allocations of each started route (one route per ML node)
    queue_capacity: int  # per route: ES gives every node's process a queue of this size
    inference_ms: float | None = None  # measured average per inference; None before the first one
    threads: int = 1  # threads_per_allocation: they speed up each inference, not run several at once

    @property
    def allocations(self) -> int:
        return max(sum(self.routes), 1)

    @property
    def in_flight_limit(self) -> int:
        """Documents a reindex may have in the deployment at once without a queue overflowing.

        A route holds its allocations' requests in service plus `queue_capacity` waiting; requests
        reach a route in proportion to its allocations, so the fullest route bounds the total."""
        routes = [a for a in self.routes if a > 0] or [1]
        total = sum(routes)
        fits = min((self.queue_capacity + a) * total / a for a in routes)
        return max(1, int(QUEUE_SAFETY * fits))

    @classmethod
    def of(cls, deployment_stats: dict) -> Queues:
        """From one `deployment_stats` entry of `GET _ml/trained_models/_stats`."""
        routes, times, counts = [], 0.0, 0
        for route in deployment_stats.get("nodes") or []:
            if (route.get("routing_state") or {}).get("routing_state") != "started":
                continue
            routes.append(int(route.get("number_of_allocations") or 0))
            count = route.get("inference_count") or 0
            if count and route.get("average_inference_time_ms") is not None:
                times += route["average_inference_time_ms"] * count
                counts += count
        if not routes:
            allocation = deployment_stats.get("allocation_status") or {}
            routes = [
                allocation.get("allocation_count") or deployment_stats.get("number_of_allocations") or 1
            ]
        return cls(
            routes=tuple(routes),
            queue_capacity=int(deployment_stats.get("queue_capacity") or 1024),
            inference_ms=times / counts if counts else None,
            threads=max(1, int(deployment_stats.get("threads_per_allocation") or 1)),
        )


@dataclass(frozen=True)
class ReindexPlan:
    batch_size: int
    slices: int
    requests_per_second: float = -1
    note: str | None = None  # how the values were chosen or why requested ones were changed
    resized: bool = False  # the requested (or derived) values did not fit the queues


def auto_slices(shards: int, allocations: int) -> int:
    """One slice per shard (ES's `auto`), at least MIN_SLICES, at most one per allocation beyond that."""
    return max(MIN_SLICES, min(shards, allocations))


def auto_batch_size(queues: Queues, slices: int) -> int:
    """Rounds of the allocations per slice's batch: each slice alone can keep every allocation busy."""
    allocations = queues.allocations
    if queues.inference_ms:
        # A batch of `rounds` x allocations, shared with the other slices, takes about
        # slices x rounds x inference time.
        rounds = max(MIN_ROUNDS, math.ceil(TARGET_BATCH_SECONDS * 1000 / (slices * queues.inference_ms)))
    else:
        # Not measured yet: more threads make each inference (so each round) up to that many times
        # faster; scale the rounds alike so a batch still lasts (the queues' limit caps it).
        rounds = DEFAULT_ROUNDS * queues.threads
    return allocations * rounds


def plan_reindex(
    batch_size: int | str, slices: int, queues: Queues, requests_per_second: float = -1
) -> ReindexPlan:
    """Batch size and slices such that the slices' batches in flight together never overflow the
    deployment's queues (429 "inference process queue is full"), and, with `auto`, never let them
    run dry.

    Each slice sends one batch at a time through the pipeline and waits for all of it; every
    document of a batch waits in the inference queue. So slices x batch_size must stay within
    `queues.in_flight_limit`. `batch_size="auto"` picks rounds of the allocations (see
    auto_batch_size). `requests_per_second` is kept: -1 (unthrottled) is what the derived sizing
    wants, because the slices' closed loop already bounds the queues, and ES 9 adds batch/rps of
    waiting after every batch on top of the batch's own time (throttling to the deployment's rate
    would halve throughput).
    """
    limit = queues.in_flight_limit
    derived = batch_size == "auto"
    batch = min(auto_batch_size(queues, slices), MAX_BATCH_SIZE) if derived else int(batch_size)
    how = (
        f"batch_size auto: {batch} = {queues.allocations} allocation(s) x "
        f"{batch // queues.allocations} round(s)"
        + (f" at {queues.inference_ms:.1f} ms per inference" if queues.inference_ms else "")
        if derived
        else None
    )
    if slices * batch <= limit:
        return ReindexPlan(batch, slices, requests_per_second, how)
    new_slices = min(slices, limit)
    new_batch = max(1, limit // new_slices)
    why = (
        f"slices x batch_size = {slices} x {batch} = {slices * batch} exceeds what the deployment's "
        f"queues hold ({limit}: {QUEUE_SAFETY:.0%} of queue_capacity {queues.queue_capacity} plus "
        f"allocations {'+'.join(map(str, queues.routes))} per route); using slices {new_slices}, "
        f"batch_size {new_batch}"
    )
    return ReindexPlan(
        new_batch, new_slices, requests_per_second, f"{how}; {why}" if how else why, resized=True
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


def choose_deployment(
    free: dict[str, int],
    allocations: int | str | None,
    threads: int | str,
    max_processors: int | None = None,
    thread_choices: tuple[int, ...] = (1, 2, 4, 8, 16, 32),
) -> tuple[int | None, int, str | None]:
    """(number_of_allocations, threads_per_allocation, how) with `auto` resolved from free processors.

    Allocations serve requests in parallel, so they give ingest throughput; threads speed up one
    request (less than linearly), so they give search latency. Hence:
    - both `auto`: 1 thread and one allocation per free processor (the most docs/s per processor);
    - allocations `auto`, threads set: as many allocations of that size as fit, each on one node;
    - threads `auto`, allocations set (or adaptive, None): the most threads per allocation such that
      that many allocations still fit.
    `max_processors` caps allocations x threads. At least 1 of each: when nothing fits, the capacity
    check reports what is short. `how` says what was chosen and from what, or None without `auto`.
    """
    if allocations != "auto" and threads != "auto":
        return allocations, int(threads), None
    cap = max_processors or sum(free.values())
    described = ", ".join(f"{node}: {free[node]}" for node in sorted(free)) or "no ML nodes"
    if allocations == "auto":
        size = 1 if threads == "auto" else int(threads)
        fitting = sum(processors // size for processors in free.values())
        chosen = max(1, min(fitting, cap // size))
        chosen_threads = size
    else:
        wanted = allocations or 1
        chosen = allocations
        chosen_threads = 1
        for size in thread_choices:
            if wanted * size <= cap and sum(p // size for p in free.values()) >= wanted:
                chosen_threads = size
    bound = f", at most {max_processors} processor(s)" if max_processors else ""
    how = (
        f"auto: {chosen if chosen is not None else 'adaptive'} allocation(s) x {chosen_threads} "
        f"thread(s) from free ML processors ({described}{bound})"
    )
    return chosen, chosen_threads, how
