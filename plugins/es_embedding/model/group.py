"""The stages every DAG of this package opens with, built in one place: the model, its download, the
deployment, its allocation and the ingest pipeline, in that order; and the deployment's teardown.

Call `model_stages(settings)` inside a `with DAG(...)` block, with the run's settings snapshot (a
templated argument: es_embedding.settings.snapshot_from). It only creates tasks (no Variable, no
cluster at parse time); the DAG wires what comes before `ensure_model` and after `put_pipeline`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from es_embedding.model.deployment import DeploymentStateSensor, StartDeploymentOperator
from es_embedding.model.pipeline import PutPipelineOperator
from es_embedding.model.teardown import StopDeploymentOperator
from es_embedding.model.trained_model import EnsureModelOperator, ModelDownloadSensor

if TYPE_CHECKING:
    from airflow.sdk import XComArg


@dataclass(frozen=True)
class ModelStages:
    """The first and last of the stages, the deployment's start (the teardown's setup), and the
    XComs later stages take: model_id, deployment_id, pipeline_id."""

    ensure_model: EnsureModelOperator
    start_deployment: StartDeploymentOperator
    put_pipeline: PutPipelineOperator
    model_id: XComArg
    deployment_id: XComArg
    pipeline_id: XComArg
    settings: str

    def stop_deployment(self) -> StopDeploymentOperator:
        """Task `stop_deployment`, a teardown of `start_deployment` (Variable
        `embedding_deployment.stop_after_run`); the DAG sets what else it follows."""
        stop = StopDeploymentOperator(
            task_id="stop_deployment", deployment_id=self.deployment_id, settings=self.settings
        )
        return stop.as_teardown(setups=self.start_deployment)


def model_stages(settings: str) -> ModelStages:
    """ensure_model >> wait_model_download >> start_deployment >> wait_deployment >> put_pipeline."""
    ensure_model = EnsureModelOperator(task_id="ensure_model", settings=settings)
    model_id = ensure_model.output["model_id"]
    wait_model = ModelDownloadSensor(
        task_id="wait_model_download", model_id=model_id, settings=settings, deferrable=True
    )
    start_deployment = StartDeploymentOperator(
        task_id="start_deployment", model_id=model_id, settings=settings
    )
    deployment_id = start_deployment.output["deployment_id"]
    wait_deployment = DeploymentStateSensor(
        task_id="wait_deployment", deployment_id=deployment_id, settings=settings, deferrable=True
    )
    put_pipeline = PutPipelineOperator(
        task_id="put_pipeline", model_id=model_id, deployment_id=deployment_id, settings=settings
    )
    ensure_model >> wait_model >> start_deployment >> wait_deployment >> put_pipeline
    return ModelStages(
        ensure_model=ensure_model,
        start_deployment=start_deployment,
        put_pipeline=put_pipeline,
        model_id=model_id,
        deployment_id=deployment_id,
        pipeline_id=put_pipeline.output["pipeline_id"],
        settings=settings,
    )
