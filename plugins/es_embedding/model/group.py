"""The task group every DAG of this package opens with, built in one place: `model`, holding the
model, its download, the deployment, its allocation and the ingest pipeline, in that order; and the
deployment's teardown.

Call `model_group(settings)` inside a `with DAG(...)` block, with the run's settings snapshot (a
templated argument: es_embedding.settings.snapshot_from). It only creates tasks (no Variable, no
cluster at parse time); the DAG wires what comes before `ensure_model` and after `put_pipeline`. The
group does not prefix its tasks' ids: they stay `ensure_model`, `wait_deployment`, ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow.sdk import TaskGroup

from es_embedding.embedder import ChooseBackendOperator, from_backend
from es_embedding.model.deployment import DeploymentStateSensor, StartDeploymentOperator
from es_embedding.model.pipeline import PutPipelineOperator
from es_embedding.model.teardown import StopDeploymentOperator
from es_embedding.model.trained_model import EnsureModelOperator, ModelDownloadSensor

if TYPE_CHECKING:
    from airflow.sdk import XComArg


@dataclass(frozen=True)
class ModelStages:
    """The group, its first and last stages, the deployment's start (the teardown's setup), and the
    XComs later stages take: model_id, deployment_id, pipeline_id."""

    group: TaskGroup
    ensure_model: EnsureModelOperator
    choose_backend: ChooseBackendOperator
    start_deployment: StartDeploymentOperator
    put_pipeline: PutPipelineOperator
    model_id: XComArg
    deployment_id: XComArg
    pipeline_id: XComArg
    settings: str

    def stop_deployment(self) -> StopDeploymentOperator:
        """Task `stop_deployment` (Variable `embedding_deployment.stop_after_run`), in the group the DAG
        builds it in; the DAG sets what else it follows. A teardown whose setup is `choose_backend`,
        after which a deployment may start: a skipped setup would skip every task in its scope, and
        `start_deployment` is skipped on the semantic_text backend."""
        stop = StopDeploymentOperator(
            task_id="stop_deployment", deployment_id=from_backend("deployment_id"), settings=self.settings
        )
        return stop.as_teardown(setups=self.choose_backend)


def model_group(settings: str) -> ModelStages:
    """Group `model`: ensure_model >> wait_model_download >> choose_backend >> start_deployment >>
    wait_deployment >> put_pipeline. `choose_backend` continues here on the ingest_pipeline backend,
    with the endpoint group (es_embedding.endpoint.group) on semantic_text (es_embedding.embedder)."""
    with TaskGroup(
        "model", prefix_group_id=False, tooltip="the model, its deployment and the pipeline"
    ) as group:
        ensure_model = EnsureModelOperator(task_id="ensure_model", settings=settings)
        model_id = ensure_model.output["model_id"]
        wait_model = ModelDownloadSensor(
            task_id="wait_model_download", model_id=model_id, settings=settings, deferrable=True
        )
        choose_backend = ChooseBackendOperator(task_id="choose_backend", settings=settings)
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
        ensure_model >> wait_model >> choose_backend >> start_deployment >> wait_deployment >> put_pipeline
    return ModelStages(
        group=group,
        ensure_model=ensure_model,
        choose_backend=choose_backend,
        start_deployment=start_deployment,
        put_pipeline=put_pipeline,
        model_id=model_id,
        deployment_id=deployment_id,
        pipeline_id=put_pipeline.output["pipeline_id"],
        settings=settings,
    )
