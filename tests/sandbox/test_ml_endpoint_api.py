"""The Python API the inference endpoints (es_sandbox/inference/) use: `MlService.infer_texts`, and
the ML refusals for deployments an endpoint manages (`MlService.endpoints`).

This API has no HTTP route of its own (the `_inference` endpoints built on it have theirs), so it is
driven in-process: a real Cluster in an event loop, its models, deployments and route queues, only
without the HTTP layer. The endpoint registry below stands in for the inference subsystem's, which
is another module; it answers what the protocol asks (which endpoints use a deployment)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from es_sandbox.cluster import Cluster
from es_sandbox.config import SandboxConfig
from es_sandbox.errors import EsError
from es_sandbox.faults import FaultSpec, InferenceRejectionFault
from es_sandbox.ml.assignments import StartRequest
from es_sandbox.ml.endpoints import EndpointUse

ELSER = ".elser_model_2"
E5 = ".multilingual-e5-small"


class Endpoints:
    """endpoint id -> the deployment it created (its own id) or attached to."""

    def __init__(self, **deployments: str) -> None:
        self.deployments = deployments

    def endpoints_using_deployment(self, deployment_id: str) -> list[EndpointUse]:
        return [
            EndpointUse(endpoint, created_deployment=endpoint == deployment)
            for endpoint, deployment in self.deployments.items()
            if deployment == deployment_id
        ]


def run(scenario: Callable[[Cluster], Awaitable[Any]], **config: Any) -> Any:
    async def main() -> Any:
        cluster = Cluster(SandboxConfig(**{"download_seconds": 0.0, "inference_ms": 1.0, **config}))
        await cluster.start()
        try:
            return await scenario(cluster)
        finally:
            await cluster.stop()

    return asyncio.run(main())


async def deployed(cluster: Cluster, model_id: str, deployment_id: str, **start: Any) -> None:
    await cluster.ml.put_model(model_id, {"input": {"field_names": ["text_field"]}}, wait_for_completion=True)
    await cluster.ml.start_deployment(StartRequest(model_id=model_id, deployment_id=deployment_id, **start))


def es_error(call: Awaitable[Any]) -> Callable[[], Awaitable[EsError]]:
    async def caught() -> EsError:
        with pytest.raises(EsError) as info:
            await call
        return info.value

    return caught


def test_texts_are_inferred_in_order_on_the_deployment_and_counted():
    async def scenario(cluster: Cluster):
        await deployed(cluster, ELSER, "my-elser")
        texts = ["the sky is blue", "a port for ships", "the sky is blue"]
        results = await cluster.ml.infer_texts("my-elser", texts, timeout=30)
        by_infer = await cluster.ml.infer("my-elser", [{"text_field": t} for t in texts])
        stats = cluster.ml.assignments.deployments["my-elser"].stats({n.id: {} for n in cluster.nodes})
        return results, by_infer, stats

    results, by_infer, stats = run(scenario)
    assert results == by_infer  # the same model output as `_infer`
    assert [set(r) for r in results] == [{"predicted_value"}] * 3  # no is_truncated when nothing was cut
    assert "sky" in results[0]["predicted_value"] and "port" in results[1]["predicted_value"]
    assert results[0] == results[2]
    assert stats["inference_count"] == 6


def test_input_type_puts_the_models_prefix_before_each_text():
    async def scenario(cluster: Cluster):
        await deployed(cluster, E5, "e5")
        search = await cluster.ml.infer_texts("e5", ["how to sail"], timeout=30, input_type="search")
        ingest = await cluster.ml.infer_texts("e5", ["how to sail"], timeout=30, input_type="ingest")
        prefixed = await cluster.ml.infer("e5", [{"text_field": "query: how to sail"}])
        plain = await cluster.ml.infer_texts("e5", ["how to sail"], timeout=30)
        return search, ingest, prefixed, plain

    search, ingest, prefixed, plain = run(scenario)
    assert search == prefixed
    assert len({str(search), str(ingest), str(plain)}) == 3
    assert len(search[0]["predicted_value"]) == 384


def test_a_full_queue_and_the_rejection_fault_answer_429():
    async def scenario(cluster: Cluster):
        await deployed(cluster, ELSER, "tiny", queue_capacity=2)
        full = await es_error(cluster.ml.infer_texts("tiny", [f"t{i}" for i in range(10)], timeout=30))()
        cluster.faults.arm(FaultSpec(inference_rejection=InferenceRejectionFault(burst=1)))
        injected = await es_error(cluster.ml.infer_texts("tiny", ["one"], timeout=30))()
        worker = next(iter(cluster.ml.assignments.deployments["tiny"].routes.values())).worker
        return full, injected, worker.rejected_execution_count

    full, injected, rejected = run(scenario, inference_ms=20.0)
    for err in (full, injected):
        assert (err.status, err.type, err.reason) == (
            429,
            "es_rejected_execution_exception",
            "inference process queue is full. Unable to execute command",
        )
    assert rejected == 7 + 1  # one in service, two queued, seven refused; then the injected one


def test_a_timeout_answers_408():
    async def scenario(cluster: Cluster):
        await deployed(cluster, ELSER, "slow")
        return await es_error(cluster.ml.infer_texts("slow", [f"t{i}" for i in range(5)], timeout=0.05))()

    err = run(scenario, inference_ms=40.0)
    assert (err.status, err.type, err.reason) == (
        408,
        "status_exception",
        "timeout [50ms] waiting for inference result",
    )


def test_an_endpoint_deployment_scaled_to_zero_is_woken_by_its_inference():
    async def scenario(cluster: Cluster):
        adaptive = {"enabled": True, "min_number_of_allocations": 0, "max_number_of_allocations": 4}
        await deployed(cluster, ELSER, "sleepy", adaptive_allocations=adaptive)
        deployment = cluster.ml.assignments.deployments["sleepy"]
        while deployment.number_of_allocations:  # the scaler takes it to zero
            await deployment.changed()
        results = await cluster.ml.infer_texts("sleepy", ["wake up"], timeout=None)  # the bulk path waits
        return results, deployment.number_of_allocations, deployment.allocation_status()

    results, allocations, status = run(
        scenario, adaptive_trigger_seconds=0.05, scale_to_zero_seconds=0.1, scale_up_cooldown_seconds=0.1
    )
    assert "wake" in results[0]["predicted_value"]
    assert allocations == 1
    assert status == {"allocation_count": 1, "target_allocation_count": 1, "state": "fully_allocated"}


def test_the_trained_models_api_refuses_to_change_what_an_endpoint_manages():
    async def scenario(cluster: Cluster):
        cluster.ml.endpoints.register(Endpoints(created="created", attached="shared"))
        await deployed(cluster, ELSER, "created")
        await cluster.ml.start_deployment(StartRequest(model_id=ELSER, deployment_id="shared"))
        assignments = cluster.ml.assignments
        update = await es_error(assignments.update("created", 2, None))()
        stop_created = await es_error(assignments.stop("created", force=False, allow_no_match=True))()
        stop_attached = await es_error(assignments.stop("shared", force=False, allow_no_match=True))()
        # the endpoint's own `_update` and DELETE go around the refusals
        await assignments.update("created", 2, None, internal=True)
        allocations = assignments.deployments["created"].number_of_allocations
        await assignments.stop("created", force=True, allow_no_match=True)
        return update, stop_created, stop_attached, allocations, sorted(assignments.deployments)

    update, stop_created, stop_attached, allocations, left = run(scenario)
    assert (update.status, update.type, update.reason) == (
        409,
        "status_exception",
        "Cannot update deployment [created] as it was created by inference endpoint [created]. This model "
        "deployment must be updated through the inference API.",
    )
    assert (stop_created.status, stop_created.reason) == (
        409,
        "Cannot stop deployment [created] as it was created by inference endpoint [created]",
    )
    assert (stop_attached.status, stop_attached.reason) == (
        409,
        "Cannot stop deployment [shared] as it is used by inference endpoint [attached]",
    )
    assert allocations == 2
    assert left == ["shared"]
