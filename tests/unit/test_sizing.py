"""Batch/slice sizing against the deployment's queues, and free ML processors."""

from __future__ import annotations

import itertools

import pytest

from es_embedding.sizing import (
    Queues,
    auto_slices,
    capacity_for,
    capacity_problem,
    choose_deployment,
    ml_node_processors,
    plan_reindex,
    used_processors,
)


def test_plan_that_fits_is_kept():
    plan = plan_reindex(batch_size=100, slices=4, queues=Queues((1,), 10_000))
    assert (plan.batch_size, plan.slices, plan.note, plan.resized) == (100, 4, None, False)


def test_plan_that_overflows_the_queue_shrinks_the_batch():
    # One node: its one queue holds 1024 waiting + 2 in service, whatever the allocations.
    plan = plan_reindex(batch_size=1000, slices=4, queues=Queues((2,), 1024))
    assert (plan.batch_size, plan.slices, plan.resized) == (205, 4, True)
    assert plan.note == (
        "slices x batch_size = 4 x 1000 = 4000 exceeds what the deployment's queues hold (820: 80% of "
        "queue_capacity 1024 plus allocations 2 per route); using slices 4, batch_size 205"
    )


def test_queues_are_per_node_not_per_allocation():
    assert Queues((8,), 1024).in_flight_limit == int(0.8 * 1032)
    # Two nodes share the requests by their allocations: the fuller route bounds the total.
    assert Queues((4, 4), 1000).in_flight_limit == int(0.8 * 2 * 1004)
    assert Queues((6, 2), 1000).in_flight_limit == int(0.8 * 1006 * 8 / 6)


def test_more_slices_than_queue_slots():
    plan = plan_reindex(batch_size=10, slices=8, queues=Queues((1,), 3))
    assert (plan.batch_size, plan.slices) == (1, 3)


@pytest.mark.parametrize(
    ("batch", "slices", "routes", "queue"),
    list(
        itertools.product(
            [1, 7, 100, 10_000, "auto"], [1, 3, 16], [(0,), (1,), (4,), (3, 1)], [1, 5, 1024, 100_000]
        )
    ),
)
def test_one_round_always_fits(batch, slices, routes, queue):
    queues = Queues(routes, queue)
    plan = plan_reindex(batch, slices, queues)
    assert plan.batch_size >= 1 and plan.slices >= 1 and plan.slices <= slices
    assert batch == "auto" or plan.batch_size <= batch
    assert plan.batch_size * plan.slices <= queues.in_flight_limit
    assert plan.batch_size <= 10_000


def test_auto_batch_is_rounds_of_the_allocations():
    plan = plan_reindex("auto", 2, Queues((8,), 10_000))
    assert (plan.batch_size, plan.slices, plan.requests_per_second) == (8 * 25, 2, -1)
    assert plan.note == "batch_size auto: 200 = 8 allocation(s) x 25 round(s)"
    # With a measured inference time: about 2 s of work per batch, at least 4 rounds.
    timed = plan_reindex("auto", 2, Queues((4,), 10_000, inference_ms=10.0))
    assert timed.batch_size == 4 * 100
    slow = plan_reindex("auto", 2, Queues((1,), 10_000, inference_ms=500.0))
    assert slow.batch_size == 4


def test_auto_batch_of_a_new_deployment_scales_its_rounds_with_the_threads():
    # More threads make each inference faster: without a measured time, more rounds per batch.
    stats = _deployment("d", 4, {"ml-1": 2})["deployment_stats"]
    queues = Queues.of(stats)
    assert (queues.routes, queues.threads, queues.inference_ms) == ((2,), 4, None)
    plan = plan_reindex("auto", 2, queues)
    assert plan.batch_size == 2 * 25 * 4
    assert plan.note == "batch_size auto: 200 = 2 allocation(s) x 100 round(s)"
    # A measured inference time already includes the threads' speed-up: it alone decides.
    measured = plan_reindex("auto", 2, Queues((2,), 10_000, inference_ms=10.0, threads=4))
    assert measured.batch_size == 2 * 100


def test_auto_batch_shrinks_to_the_queue_and_says_so():
    plan = plan_reindex("auto", 2, Queues((8,), 100))
    assert plan.batch_size * plan.slices <= int(0.8 * 108) and plan.resized
    assert plan.note.startswith("batch_size auto: 200 = 8 allocation(s) x 25 round(s); slices x batch_size")


def test_requested_throttle_is_kept():
    assert plan_reindex(50, 1, Queues((1,), 1000), requests_per_second=20.0).requests_per_second == 20.0


def test_auto_slices_at_least_two_at_most_one_per_allocation():
    assert auto_slices(shards=1, allocations=1) == 2
    assert auto_slices(shards=1, allocations=8) == 2
    assert auto_slices(shards=6, allocations=4) == 4
    assert auto_slices(shards=3, allocations=8) == 3


def test_queues_from_deployment_stats():
    stats = {
        "queue_capacity": 500,
        "nodes": [
            {
                "routing_state": {"routing_state": "started"},
                "number_of_allocations": 3,
                "inference_count": 30,
                "average_inference_time_ms": 10.0,
            },
            {
                "routing_state": {"routing_state": "started"},
                "number_of_allocations": 1,
                "inference_count": 10,
                "average_inference_time_ms": 30.0,
            },
            {"routing_state": {"routing_state": "starting"}, "number_of_allocations": 2},
        ],
    }
    assert Queues.of(stats) == Queues((3, 1), 500, inference_ms=15.0)
    fresh = {"allocation_status": {"allocation_count": 2}, "queue_capacity": 10}
    assert Queues.of(fresh) == Queues((2,), 10, None)


@pytest.mark.parametrize(
    ("free", "allocations", "threads", "cap", "expected"),
    [
        ({"a": 8, "b": 4}, "auto", "auto", None, (12, 1)),  # throughput: one thread each
        ({"a": 8, "b": 4}, "auto", "auto", 6, (6, 1)),  # max_processors bounds it
        ({"a": 8, "b": 3}, "auto", 4, None, (2, 4)),  # allocations of 4 threads on one node each
        ({"a": 8, "b": 4}, 2, "auto", None, (2, 4)),  # latency: the most threads that still fit
        ({"a": 8, "b": 4}, 3, "auto", None, (3, 4)),
        ({"a": 8}, 2, "auto", 4, (2, 2)),
        ({"a": 0}, "auto", "auto", None, (1, 1)),  # nothing free: 1, and the capacity check says why
        ({"a": 4}, None, "auto", None, (None, 4)),  # adaptive allocations: threads only
        ({"a": 4}, 2, 1, None, (2, 1)),  # nothing auto: unchanged
    ],
)
def test_choose_deployment(free, allocations, threads, cap, expected):
    chosen, chosen_threads, how = choose_deployment(free, allocations, threads, cap)
    assert (chosen, chosen_threads) == expected
    assert (how is None) == ("auto" not in (allocations, threads))


def _node(roles, processors):
    return {"roles": roles, "attributes": {"ml.allocated_processors_double": str(processors)}}


NODES = {
    "nodes": {"ml-1": _node(["ml", "data"], 8.0), "ml-2": _node(["ml"], 3.5), "data-1": _node(["data"], 16)}
}


def _deployment(deployment_id, threads, per_node, priority="normal", state="started"):
    return {
        "deployment_stats": {
            "deployment_id": deployment_id,
            "threads_per_allocation": threads,
            "priority": priority,
            "state": state,
            "nodes": [
                {
                    "node": {node: {}},
                    "routing_state": {"routing_state": "started"},
                    "number_of_allocations": n,
                }
                for node, n in per_node.items()
            ],
        }
    }


def test_ml_node_processors_round_up_and_skip_non_ml_nodes():
    assert ml_node_processors(NODES) == {"ml-1": 8, "ml-2": 4}


def test_used_processors_skip_low_priority_and_the_deployment_being_replaced():
    stats = [
        _deployment("a", 2, {"ml-1": 2}),
        _deployment("b", 1, {"ml-1": 1, "ml-2": 1}),
        _deployment("low", 1, {"ml-2": 1}, priority="low"),
        {"model_id": "not deployed"},
    ]
    assert used_processors(stats) == {"ml-1": 5, "ml-2": 1}
    assert used_processors(stats, exclude_deployment="a") == {"ml-1": 1, "ml-2": 1}


def test_capacity_counts_allocations_that_fit_on_one_node():
    capacity = capacity_for(NODES, [_deployment("a", 2, {"ml-1": 2})], threads=4, exclude_deployment=None)
    assert capacity.free == {"ml-1": 4, "ml-2": 4}
    assert capacity.placeable == 2
    assert capacity_problem(capacity, "mine", allocations=2, threads=4) is None


def test_capacity_problem_gives_numbers_and_what_to_change():
    capacity = capacity_for(NODES, [_deployment("a", 2, {"ml-1": 3})], threads=4, exclude_deployment=None)
    assert capacity_problem(capacity, "mine", allocations=2, threads=4) == (
        "deployment [mine] needs 2 allocation(s) x 4 thread(s) = 8 ML processors, each allocation's 4 on one "
        "node; free ML processors: node ml-1: 2 free of 8, node ml-2: 4 free of 4; 1 allocation(s) of 4 "
        "thread(s) fit. In Variable 'embedding_deployment': lower number_of_allocations to 1; or stop other "
        "deployments, or add ML nodes/processors."
    )


def test_no_ml_nodes():
    capacity = capacity_for({"nodes": {}}, [], threads=1, exclude_deployment=None)
    assert "the cluster has no ML nodes" in capacity_problem(capacity, "d", 1, 1)
