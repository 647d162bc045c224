"""Adaptive allocations: scale up and down by load, to zero when idle, and from zero when inference
arrives (parked requests, 429 when too many wait, 408 on timeout, 409 when the deployment goes).

A sandbox of its own with the scaler's times in fractions of a second (ES: a 10 s tick, 24 h to
zero, 5 min cooldown), so each behaviour is seen within a second or two."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from elasticsearch import ApiError, AsyncElasticsearch, Elasticsearch

from es_sandbox import SandboxConfig, SandboxProcess
from tests.sandbox.ml_support import (
    ELSER,
    api_error,
    arm_faults,
    assert_error,
    client_with_elser,
    deploy,
    deployment_stats,
    notifications,
    poll,
)

TICK = 0.1
TO_ZERO = 0.4
COOLDOWN = 0.3
LOAD = 0.1  # a node loads the model in half the download time
SCALE_TO_ZERO = {"enabled": True, "min_number_of_allocations": 0, "max_number_of_allocations": 2}


@pytest.fixture(scope="module")
def adaptive_sandbox() -> Iterator[SandboxProcess]:
    proc = SandboxProcess(
        SandboxConfig(
            port=0,
            download_seconds=2 * LOAD,
            inference_ms=1.0,
            adaptive_trigger_seconds=TICK,
            scale_to_zero_seconds=TO_ZERO,
            scale_up_cooldown_seconds=COOLDOWN,
        )
    )
    yield proc
    proc.stop()


@pytest.fixture
def es(adaptive_sandbox) -> Iterator[Elasticsearch]:
    client = client_with_elser(adaptive_sandbox.url, request_timeout=30)
    yield client
    client.close()


def scaled_to_zero(es: Elasticsearch, deployment_id: str = ELSER) -> dict:
    return poll(
        lambda: deployment_stats(es, deployment_id),
        lambda s: s["number_of_allocations"] == 0,
        timeout=10,
    )


def test_an_idle_deployment_scales_to_zero_and_reports_0_of_0(es):
    began = time.monotonic()
    assignment = deploy(es, adaptive_allocations=SCALE_TO_ZERO)
    assert assignment["task_parameters"]["number_of_allocations"] == 1  # min 0 starts with one
    stats = scaled_to_zero(es)
    assert time.monotonic() - began > TO_ZERO
    assert stats["state"] == "started"
    assert stats["allocation_status"] == {
        "allocation_count": 0,
        "target_allocation_count": 0,
        "state": "fully_allocated",
    }
    assert stats["adaptive_allocations"] == SCALE_TO_ZERO
    assert stats["nodes"] == []
    assert ("info", f"adaptive allocations scaler: scaled [{ELSER}] to [0] allocations.") in notifications(es)


def test_a_minimum_keeps_allocations(es):
    deploy(es, adaptive_allocations={"enabled": True, "min_number_of_allocations": 1})
    time.sleep(TO_ZERO + 3 * TICK)
    stats = deployment_stats(es, ELSER)
    assert stats["number_of_allocations"] == 1
    assert stats["allocation_status"]["state"] == "fully_allocated"


def test_inference_wakes_a_deployment_scaled_to_zero(es):
    deploy(es, adaptive_allocations=SCALE_TO_ZERO)
    scaled_to_zero(es)

    began = time.monotonic()
    result = es.ml.infer_trained_model(model_id=ELSER, docs=[{"text_field": "wake up"}])
    assert time.monotonic() - began >= LOAD  # parked while a node loads the model
    assert "wake" in result["inference_results"][0]["predicted_value"]
    stats = deployment_stats(es, ELSER)
    assert stats["number_of_allocations"] == 1
    assert stats["allocation_status"] == {
        "allocation_count": 1,
        "target_allocation_count": 1,
        "state": "fully_allocated",
    }
    assert stats["inference_count"] == 1
    messages = [m for _, m in notifications(es)]
    assert messages.index(
        f"adaptive allocations scaler: scaled [{ELSER}] to [1] allocations."
    ) > messages.index(f"adaptive allocations scaler: scaled [{ELSER}] to [0] allocations.")


def test_a_request_that_cannot_wait_long_enough_times_out_and_the_deployment_still_wakes(es):
    deploy(es, adaptive_allocations=SCALE_TO_ZERO)
    scaled_to_zero(es)
    exc = api_error(
        lambda: es.ml.infer_trained_model(model_id=ELSER, docs=[{"text_field": "too soon"}], timeout="50ms")
    )
    assert_error(
        exc,
        408,
        "model_deployment_timeout_exception",
        f"Timed out after [50ms] waiting for trained model deployment [{ELSER}] to start. Use the trained model "
        "stats API to track the state of the deployment and try again once it has started.",
    )
    stats = poll(
        lambda: deployment_stats(es, ELSER),
        lambda s: s["allocation_status"]["allocation_count"] == 1,
        timeout=5,
    )
    assert stats["number_of_allocations"] == 1


def test_a_deployment_without_scale_to_zero_is_not_woken(es):
    deploy(es, wait_for="starting")  # not adaptive: inference before the route started is refused
    exc = api_error(lambda: es.ml.infer_trained_model(model_id=ELSER, docs=[{"text_field": "x"}]))
    assert_error(
        exc, 409, "status_exception", f"Trained model deployment [{ELSER}] is not allocated to any nodes"
    )


def test_too_many_parked_requests_are_refused_and_parked_ones_fail_when_the_deployment_stops(
    es, adaptive_sandbox
):
    deploy(es, deployment_id="parking", adaptive_allocations=SCALE_TO_ZERO)
    scaled_to_zero(es, "parking")
    arm_faults(es, deployment_stuck={"deployment_id": "parking"})  # the woken route never starts

    async def hundred_then_stop() -> list[ApiError]:
        client = AsyncElasticsearch(
            adaptive_sandbox.url, node_class="httpxasync", connections_per_node=110, request_timeout=30
        ).options(max_retries=0, retry_on_status=())
        try:
            calls = [
                asyncio.ensure_future(
                    client.ml.infer_trained_model(
                        model_id="parking", docs=[{"text_field": f"d{i}"}], timeout="20s"
                    )
                )
                for i in range(100)
            ]
            done, _ = await asyncio.wait(calls, return_when=asyncio.FIRST_COMPLETED)
            first = next(iter(done)).exception()  # the hundredth arrival: 99 already wait
            await client.ml.stop_trained_model_deployment(model_id="parking", force=True)
            outcomes = await asyncio.gather(*calls, return_exceptions=True)
            return [first, *(o for o in outcomes if o is not first)]
        finally:
            await client.close()

    refused, *stopped = asyncio.run(hundred_then_stop())
    assert_error(
        refused,
        429,
        "status_exception",
        "Rejected inference request waiting for an allocation of deployment [parking]. Too many pending requests",
    )
    assert len(stopped) == 99
    for exc in stopped:
        assert_error(
            exc,
            409,
            "status_exception",
            "[parking] Error waiting for a model allocation, model assignment has been removed",
        )


def test_load_scales_up_to_the_maximum_then_down_to_the_minimum_after_the_cooldown(es):
    deploy(
        es,
        adaptive_allocations={
            "enabled": True,
            "min_number_of_allocations": 1,
            "max_number_of_allocations": 4,
        },
    )
    time.sleep(3 * TICK)  # the scaler has seen the idle deployment
    # 2,000 documents of 1 ms each: a backlog of seconds on one allocation
    es.ml.infer_trained_model(model_id=ELSER, docs=[{"text_field": f"doc {i}"} for i in range(2000)])
    stats = poll(lambda: deployment_stats(es, ELSER), lambda s: s["number_of_allocations"] == 1, timeout=10)
    assert stats["inference_count"] == 2000
    scaled = [m for _, m in notifications(es) if m.startswith("adaptive allocations scaler")]
    assert scaled[0] == f"adaptive allocations scaler: scaled [{ELSER}] to [4] allocations."
    assert scaled[-1] == f"adaptive allocations scaler: scaled [{ELSER}] to [1] allocations."
    es.indices.refresh(index=".ml-notifications-000002")
    times = {
        h["_source"]["message"]: h["_source"]["timestamp"]
        for h in es.search(index=".ml-notifications-000002", size=100)["hits"]["hits"]
    }
    assert times[scaled[-1]] - times[scaled[0]] >= COOLDOWN * 1000  # no scale-down right after a scale-up


def test_update_may_not_set_allocations_of_an_adaptive_deployment(es):
    deploy(es, adaptive_allocations={"enabled": True, "min_number_of_allocations": 1})
    exc = api_error(lambda: es.ml.update_trained_model_deployment(model_id=ELSER, number_of_allocations=3))
    assert_error(
        exc,
        400,
        "validation_exception",
        "Validation Failed: 1: [number_of_allocations] cannot be set if adaptive allocations is enabled;",
    )
    # switching adaptive allocations off is what allows a fixed number again
    es.ml.update_trained_model_deployment(model_id=ELSER, adaptive_allocations={"enabled": False})
    assignment = es.ml.update_trained_model_deployment(model_id=ELSER, number_of_allocations=3)["assignment"]
    assert assignment["task_parameters"]["number_of_allocations"] == 3
    assert assignment["adaptive_allocations"] == {"enabled": False, "min_number_of_allocations": 1}
