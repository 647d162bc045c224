"""The task group `endpoint`: ensure_endpoint >> wait_endpoint, after the model group's
`choose_backend` chose the semantic_text backend. Call `endpoint_group(settings, model)` inside a
`with DAG(...)` block after `model_group`; it only creates tasks (nothing is read at parse time). The
group does not prefix its tasks' ids."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow.sdk import TaskGroup

from es_embedding.endpoint.ensure import EnsureEndpointOperator
from es_embedding.endpoint.wait import EndpointAllocatedSensor

if TYPE_CHECKING:
    from es_embedding.model.group import ModelStages


@dataclass(frozen=True)
class EndpointStages:
    group: TaskGroup
    ensure_endpoint: EnsureEndpointOperator
    wait_endpoint: EndpointAllocatedSensor


def endpoint_group(settings: str, model: ModelStages) -> EndpointStages:
    """Group `endpoint`: the endpoint for the model `ensure_model` made ready, then its allocation."""
    with TaskGroup(
        "endpoint", prefix_group_id=False, tooltip="the inference endpoint (backend semantic_text)"
    ) as group:
        ensure = EnsureEndpointOperator(task_id="ensure_endpoint", model_id=model.model_id, settings=settings)
        wait = EndpointAllocatedSensor(
            task_id="wait_endpoint",
            inference_id=ensure.output["inference_id"],
            deployment_id=ensure.output["deployment_id"],
            endpoint_task_type=ensure.output["task_type"],
            preconfigured=ensure.output["preconfigured"],
            settings=settings,
            deferrable=True,
        )
        ensure >> wait
    model.choose_backend >> ensure
    return EndpointStages(group=group, ensure_endpoint=ensure, wait_endpoint=wait)
