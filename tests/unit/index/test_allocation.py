"""Waiting out a deployment allocated again after a node restart (es_embedding.index.allocation)."""

from __future__ import annotations

import pytest

from es_embedding.errors import DeploymentFailedError
from es_embedding.index.allocation import being_allocated, resumed


def stats(state: str, count: int, target: int) -> dict:
    return {
        "state": state,
        "allocation_status": {"allocation_count": count, "target_allocation_count": target},
    }


def test_allocations_wanted_and_none_started_is_a_deployment_being_allocated():
    assert being_allocated(stats("started", 0, 2)), "after a node restart: inference answers 409"
    assert being_allocated(stats("starting", 0, 1))
    assert not being_allocated(stats("started", 1, 2)), "one allocation serves"
    assert not being_allocated(stats("started", 0, 0)), "scaled to zero: inference wakes it"
    assert not being_allocated(stats("failed", 0, 1)), "a failed deployment is not waited for"
    assert not being_allocated(None)


def test_the_wait_s_end():
    resumed({"status": "success", "deployment_id": "d"})
    with pytest.raises(DeploymentFailedError, match="gave up waiting after 20 s"):
        resumed({"status": "error", "message": "gave up waiting after 20 s; last state: starting"})
    with pytest.raises(DeploymentFailedError, match="unexpected trigger event"):
        resumed(None)
