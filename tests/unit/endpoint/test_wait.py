"""wait_endpoint: what one poll of an endpoint's deployment means (checks.endpoint_allocation), the
wake request the trigger sends to an endpoint scaled to zero, and the sensor's trigger and its
no-wait case for endpoints outside the ML nodes."""

from __future__ import annotations

import asyncio

import pytest

from es_embedding import checks
from es_embedding.endpoint import EndpointAllocatedSensor
from es_embedding.triggers import EndpointAllocationTrigger
from tests.unit.fakes import FakeAsyncEs, api_error, context, settings


def stats(count: int, target: int, state: str = "fully_allocated", adaptive: bool = False) -> dict:
    deployment = {
        "deployment_id": "ep",
        "state": "started",
        "allocation_status": {"allocation_count": count, "target_allocation_count": target, "state": state},
        "threads_per_allocation": 1,
        "queue_capacity": 10000,
        "nodes": [],
    }
    if adaptive:
        deployment["adaptive_allocations"] = {"enabled": True, "min_number_of_allocations": 0}
    return {"trained_model_stats": [{"model_id": "m", "deployment_stats": deployment}]}


def decide(resp: dict, preconfigured: bool = False):
    return checks.endpoint_allocation(resp, "ep", "ep", "fully_allocated", preconfigured)


def test_an_allocated_endpoint_is_ready():
    poll, wake = decide(stats(2, 2))
    assert not wake
    assert poll.event["status"] == "success" and poll.event["inference_id"] == "ep"
    assert poll.event["allocation_count"] == 2


def test_scaled_to_zero_is_not_ready_but_woken():
    # Elasticsearch reports a deployment scaled to zero as 0 of 0, fully_allocated.
    poll, wake = decide(stats(0, 0, adaptive=True))
    assert wake and poll.event is None
    assert "scaled to zero" in poll.message


def test_a_preconfigured_endpoint_without_deployment_is_woken_any_other_fails():
    poll, wake = decide({"trained_model_stats": []}, preconfigured=True)
    assert wake and poll.event is None
    poll, wake = decide({"trained_model_stats": []})
    assert not wake and poll.event["status"] == "error"
    assert poll.message.startswith(
        "deployment [ep] of endpoint [ep] is not running (stopped?): start it again"
    )


def test_a_starting_deployment_is_waited_for_without_waking():
    poll, wake = decide(stats(0, 2, state="starting"))
    assert not wake and poll.event is None


def run_poll(trigger: EndpointAllocationTrigger, fake: FakeAsyncEs):
    return asyncio.run(trigger.poll(fake))


def test_the_trigger_wakes_with_one_small_inference_and_tolerates_its_timeout():
    trigger = EndpointAllocationTrigger(inference_id="ep", deployment_id="ep", task_type="sparse_embedding")
    fake = FakeAsyncEs(
        **{
            "ml.get_trained_models_stats": [stats(0, 0, adaptive=True)],
            "inference.inference": [
                api_error(
                    408,
                    "status_exception",
                    "Timed out after [1s] waiting for trained model deployment [ep] to start.",
                )
            ],
        }
    )
    result = run_poll(trigger, fake)
    assert result.event is None
    assert fake.called("inference.inference") == [
        {"inference_id": "ep", "task_type": "sparse_embedding", "input": ["wake up"], "timeout": "1s"}
    ]


def test_a_wake_refused_for_another_reason_is_an_error():
    trigger = EndpointAllocationTrigger(inference_id="ep", deployment_id="ep", task_type="sparse_embedding")
    fake = FakeAsyncEs(
        **{
            "ml.get_trained_models_stats": [stats(0, 0, adaptive=True)],
            "inference.inference": [
                api_error(403, "security_exception", "current license is non-compliant for [inference]")
            ],
        }
    )
    with pytest.raises(Exception, match="security_exception"):
        run_poll(trigger, fake)


def test_the_trigger_round_trips_and_carries_no_task_id():
    trigger = EndpointAllocationTrigger(
        inference_id="ep",
        deployment_id="d",
        task_type="text_embedding",
        preconfigured=True,
        conn_id="es",
        poll_interval=2.0,
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "es_embedding.triggers.EndpointAllocationTrigger"
    assert "task_id" not in kwargs
    assert EndpointAllocationTrigger(**kwargs).serialize() == (classpath, kwargs)


def test_the_sensor_builds_its_trigger_from_the_settings_and_skips_endpoints_outside_ml_nodes():
    sensor = EndpointAllocatedSensor(
        task_id="wait_endpoint",
        inference_id="ep",
        deployment_id="ep",
        endpoint_task_type="sparse_embedding",
        settings=settings(
            embedding_deployment={"wanted_state": "started", "wait_timeout": "5m", "poll_interval": "2s"}
        ),
    )
    assert sensor.wait_bounds() == (300.0, 2.0)
    trigger = sensor.make_trigger(2.0)
    assert (trigger.wanted_state, trigger.deployment_id, trigger.poll_interval) == ("started", "ep", 2.0)

    outside = EndpointAllocatedSensor(
        task_id="wait_endpoint", inference_id=".elser-2-elastic", deployment_id=None, endpoint_task_type="sparse_embedding",
        settings=settings(),
    )  # fmt: skip
    assert outside.execute(context()) == {"inference_id": ".elser-2-elastic", "deployment_id": None}
