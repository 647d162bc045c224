"""Batch/slice sizing against the deployment's queues, and free ML processors."""

from __future__ import annotations

import itertools

import pytest

from es_embedding.sizing import (
    capacity_for,
    capacity_problem,
    ml_node_processors,
    plan_reindex,
    used_processors,
)


def test_plan_that_fits_is_kept():
    plan = plan_reindex(batch_size=100, slices=4, allocations=1, queue_capacity=10_000)
    assert (plan.batch_size, plan.slices, plan.note) == (100, 4, None)


def test_plan_that_overflows_the_queue_shrinks_the_batch():
    plan = plan_reindex(batch_size=1000, slices=4, allocations=2, queue_capacity=1024)
    assert (plan.batch_size, plan.slices) == (512, 4)
    assert plan.note == (
        "slices x batch_size = 4 x 1000 = 4000 exceeds the deployment's queues (2 allocation(s) x "
        "queue_capacity 1024 = 2048); using slices 4, batch_size 512"
    )


def test_more_slices_than_queue_slots():
    plan = plan_reindex(batch_size=10, slices=8, allocations=1, queue_capacity=3)
    assert (plan.batch_size, plan.slices) == (1, 3)


@pytest.mark.parametrize(
    ("batch", "slices", "allocations", "queue"),
    list(itertools.product([1, 7, 100, 10_000], [1, 3, 16], [0, 1, 4], [1, 5, 1024, 100_000])),
)
def test_one_round_always_fits(batch, slices, allocations, queue):
    plan = plan_reindex(batch, slices, allocations, queue)
    assert plan.batch_size >= 1 and plan.slices >= 1
    assert plan.batch_size <= batch and plan.slices <= slices
    assert plan.batch_size * plan.slices <= max(allocations, 1) * queue


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
