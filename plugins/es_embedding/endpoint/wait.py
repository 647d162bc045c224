"""The endpoint's wait, `wait_endpoint`: until its deployment has an allocation and reaches
`embedding_deployment.wanted_state`, waking it when it is scaled to zero (EndpointAllocationTrigger).
Deferrable: no worker slot while the deployment starts or scales up."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from es_embedding.errors import DeploymentFailedError
from es_embedding.settings import DeploymentSettings
from es_embedding.triggers import EndpointAllocationTrigger
from es_embedding.waits import EsWait


class EndpointAllocatedSensor(EsWait):
    """`wait_endpoint`: waits for the endpoint's deployment (the ids `ensure_endpoint` pushed); an
    endpoint of a service outside the cluster's ML nodes has none and needs no wait. Returns the
    deployment's allocations, threads and queue."""

    template_fields: Sequence[str] = (
        *EsWait.template_fields,
        "inference_id",
        "deployment_id",
        "endpoint_task_type",
        "preconfigured",
    )
    failure = DeploymentFailedError
    bound_setting = "Variable 'embedding_deployment': key 'wait_timeout'"

    def __init__(
        self,
        *,
        inference_id: str,
        deployment_id: str | None,
        endpoint_task_type: str,
        preconfigured: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.inference_id = inference_id
        self.deployment_id = deployment_id
        self.endpoint_task_type = endpoint_task_type
        self.preconfigured = preconfigured

    @property
    def deployment(self) -> DeploymentSettings:
        return self.run_settings[DeploymentSettings]

    def execute(self, context: Any) -> Any:
        if not self.deployment_id:
            self.log.info(
                "Endpoint [%s] infers outside the cluster's ML nodes: no deployment to wait for",
                self.inference_id,
            )
            return {"inference_id": self.inference_id, "deployment_id": None}
        return super().execute(context)

    def wait_bounds(self) -> tuple[float, float]:
        return self.deployment.wait_timeout, self.deployment.poll_interval

    def make_trigger(self, poll_interval: float) -> EndpointAllocationTrigger:
        return EndpointAllocationTrigger(
            inference_id=self.inference_id,
            deployment_id=self.deployment_id,
            task_type=self.endpoint_task_type,
            wanted_state=self.deployment.wanted_state,
            preconfigured=bool(self.preconfigured),
            conn_id=self.es_conn_id,
            poll_interval=poll_interval,
        )
