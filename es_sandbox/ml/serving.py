"""Inference against trained models and their deployments (TransportInternalInferModelAction,
InferenceWaitForAllocation, the deployment's native process): which deployment answers, the wait
for an allocation of a deployment scaled to zero, and one request's path through a route's queue.

Every caller goes through `Serving.infer`: the `_infer` API, the ingest `inference` processor, the
sparse/knn query builders and the `_inference` endpoints (through `MlService.infer_texts`), so the
cost model (allocations x threads, queue capacity), the injected faults, the timeouts and the
adaptive scaler's view of the load are the same for all of them.
"""

from __future__ import annotations

import asyncio
import copy
import json
from typing import TYPE_CHECKING, Any

from es_sandbox.errors import EsError, status_exception
from es_sandbox.ml import definitions, encoders
from es_sandbox.ml.deployments import FAILED, STOPPING, Deployment
from es_sandbox.ml.errors import (
    bad_request,
    conflict,
    license_non_compliant,
    process_stopping,
    queue_full,
)
from es_sandbox.ml.units import time_value_str

if TYPE_CHECKING:
    from es_sandbox.ml.models import TrainedModel
    from es_sandbox.ml.runners import Infer
    from es_sandbox.ml.service import MlService

API_INFER_TIMEOUT = 10.0  # InferModelAction.DEFAULT_TIMEOUT_FOR_API
MAX_PARKED_REQUESTS = 100  # InferenceWaitForAllocation.MAX_PENDING_REQUEST_COUNT
PREFIX_TYPES = ("search", "ingest")


def not_allocated(target_id: str) -> EsError:
    return conflict(f"Trained model deployment [{target_id}] is not allocated to any nodes")


class Serving:
    def __init__(self, service: MlService) -> None:
        self.service = service
        self.parked = 0  # requests waiting for an allocation, on this (the only) coordinating node

    def target(self, target_id: str) -> tuple[TrainedModel, Deployment | None]:
        """Alias -> model id; a deployment by that id, else the model's deployments (started first)."""
        svc = self.service
        concrete = svc.aliases.get(target_id, target_id)
        deployments = svc.assignments.deployments
        deployment = deployments.get(concrete)
        if deployment is not None:
            return svc.model(deployment.model_id), deployment
        model = svc.model(concrete)
        using = svc.assignments.using_model(model.model_id)
        if not using:
            return model, None
        ranked = sorted(using, key=lambda d: ["started", "starting", "stopping", "failed"].index(d.state))
        return model, ranked[0]

    async def infer(
        self,
        target_id: str,
        docs: list[dict[str, Any]],
        *,
        inference_config: dict[str, Any] | None = None,
        timeout: float | None = None,
        prefix_type: str | None = None,
        high_priority: bool = False,
    ) -> list[dict[str, Any]]:
        model, deployment = self.target(target_id)
        if not self.service.licensed(model):
            raise license_non_compliant()
        task_type, config = effective_config(model, inference_config)
        field = model.input_field
        prefix = (model.prefix_strings or {}).get(prefix_type or "", "")
        if deployment is None:
            if model.model_type == "pytorch":
                raise conflict(
                    f"Model [{target_id}] must be deployed to use. Please deploy with the start trained model deployment API."
                )
            if model.inline is not None:
                return [definitions.infer(model.inline, task_type, config, doc) for doc in docs]
            return [encoders.infer(task_type, config, input_text(doc, field)) for doc in docs]
        if deployment.state in (STOPPING, FAILED):
            raise conflict(f"Trained model [{deployment.deployment_id}] is [{deployment.state}]")
        if not deployment.routable_routes():
            if not self.service.adaptive.wake(deployment):
                raise not_allocated(target_id)
            deployment = await self.wait_for_allocation(deployment.deployment_id, timeout)

        runner = self.service.runners.runner(model)

        async def one(doc: dict[str, Any]) -> dict[str, Any]:
            return await self._infer_one(
                deployment, runner, task_type, config, doc, field, prefix, timeout, high_priority
            )

        if len(docs) == 1:
            return [await one(docs[0])]
        outcomes = await asyncio.gather(*(one(doc) for doc in docs), return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return list(outcomes)  # type: ignore[arg-type]

    async def wait_for_allocation(self, deployment_id: str, timeout: float | None) -> Deployment:
        """InferenceWaitForAllocation: park the request until one route is routable."""
        if self.parked + 1 >= MAX_PARKED_REQUESTS:
            raise status_exception(
                429,
                f"Rejected inference request waiting for an allocation of deployment [{deployment_id}]. "
                "Too many pending requests",
            )
        self.parked += 1
        try:
            async with asyncio.timeout(timeout):
                while True:
                    deployment = self.service.assignments.deployments.get(deployment_id)
                    if deployment is None:
                        raise conflict(
                            f"[{deployment_id}] Error waiting for a model allocation, model assignment has been removed"
                        )
                    if deployment.routable_routes():
                        return deployment
                    await deployment.changed()
        except TimeoutError:
            raise EsError(
                408,
                "model_deployment_timeout_exception",
                f"Timed out after [{time_value_str(timeout or 0)}] waiting for trained model deployment "
                f"[{deployment_id}] to start. Use the trained model stats API to track the state of the "
                "deployment and try again once it has started.",
            ) from None
        finally:
            self.parked -= 1

    async def _infer_one(
        self,
        deployment: Deployment,
        runner: tuple[Infer, bool],
        task_type: str,
        config: dict[str, Any],
        doc: dict[str, Any],
        field: str,
        prefix: str,
        timeout: float | None,
        high_priority: bool,
    ) -> dict[str, Any]:
        routes = deployment.routable_routes()
        if not routes:
            raise not_allocated(deployment.deployment_id)
        route = min(routes, key=lambda r: r.worker.load) if len(routes) > 1 else routes[0]
        worker, generation = route.worker, route.generation
        if self.service.cluster.faults.inference_rejected() or not worker.can_accept():
            worker.rejected_execution_count += 1
            raise queue_full()
        text = prefix + input_text(doc, field)
        key = (task_type, json.dumps(config, sort_keys=True), text)
        cached = worker.cache.get(key) if worker.cache is not None else None
        seconds = 0.0 if cached is not None else self.service.config.inference_ms / 1000.0
        try:
            async with asyncio.timeout(timeout):
                await worker.run(seconds, high_priority=high_priority)
        except TimeoutError:
            worker.timeout_count += 1
            raise status_exception(
                408, f"timeout [{time_value_str(timeout or 0)}] waiting for inference result"
            ) from None
        if route.generation != generation or deployment.stopping:
            raise process_stopping()
        if cached is not None:
            worker.count_cache_hit()
            return cached
        compute, real = runner
        try:
            # a real model computes off the event loop (torch releases the GIL while it works)
            if real:
                result = await asyncio.to_thread(compute, task_type, config, text)
            else:
                result = compute(task_type, config, text)
        except encoders.BadInput as bad:
            worker.error_count += 1
            raise EsError(400, bad.es_type, bad.reason) from None
        if worker.cache is not None:
            worker.cache.put(key, result)
        return result


def effective_config(model: TrainedModel, update: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """The model's inference config with the request's update applied (same task type only)."""
    task_type = model.task_type or "classification"
    config = dict((model.inference_config or {}).get(task_type) or {})
    if update:
        ((update_type, settings),) = update.items()
        if update_type != task_type:
            raise bad_request(
                f"Inference config of type [{task_type}] can not be updated with a inference request of type "
                f"[{update_type}]"
            )
        config.update(copy.deepcopy(settings or {}))
    return task_type, config


def input_text(doc: dict[str, Any], field: str) -> str:
    value: Any = doc
    for part in field.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        value = doc.get(field)
    if value is None:
        raise bad_request(f"Input field [{field}] does not exist in the source document")
    if not isinstance(value, str):
        raise bad_request(f"Input value [{value}] for field [{field}] must be a string")
    return value
