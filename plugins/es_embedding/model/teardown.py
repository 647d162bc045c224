"""The deployment's teardown, `stop_deployment`: stops it after the run (Variable
`embedding_deployment.stop_after_run`) when no other run and no pipeline of someone else uses it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from elasticsearch import NotFoundError

from es_embedding import bodies
from es_embedding.base import EsStage
from es_embedding.settings import DeploymentSettings

# The DAGs of this package: each one starts the deployment named in Variable `embedding_deployment`.
PACKAGE_DAG_IDS = ("embedding_reindex", "embedding_backfill")
ACTIVE_RUN_STATES = ["queued", "running"]


def inference_users(pipelines: dict[str, dict], deployment_id: str) -> dict[str, bool]:
    """{pipeline id: created by this package} of the ingest pipelines whose inference processors
    (at any depth: on_failure, foreach) name `deployment_id`."""

    def names_it(node: Any) -> bool:
        if isinstance(node, list):
            return any(names_it(item) for item in node)
        if not isinstance(node, dict):
            return False
        inference = node.get("inference")
        if isinstance(inference, dict) and inference.get("model_id") == deployment_id:
            return True
        return any(names_it(value) for value in node.values())

    return {
        pipeline_id: bodies.managed_meta(body) is not None
        for pipeline_id, body in pipelines.items()
        if names_it([body.get("processors"), body.get("on_failure")])
    }


class StopDeploymentOperator(EsStage):
    """Teardown: stops the deployment when Variable `embedding_deployment.stop_after_run` says so,
    unless another queued or running run of this package's DAGs (they all start the deployment the
    Variable names) still uses it, or an ingest pipeline this package did not create names it.
    Elasticsearch refuses to stop a deployment that pipelines reference unless forced: it is forced
    only when every such pipeline is this package's. Pushes stopped, reason."""

    template_fields: Sequence[str] = (*EsStage.template_fields, "deployment_id")

    def __init__(
        self, *, deployment_id: str, dag_ids: Sequence[str] = PACKAGE_DAG_IDS, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.deployment_id = deployment_id
        self.dag_ids = tuple(dag_ids)

    def execute(self, context: Any) -> dict[str, Any]:
        settings = self.run_settings[DeploymentSettings]
        if not settings.stop_after_run:
            return self.leave(context, "Variable 'embedding_deployment': key 'stop_after_run' is false")
        others = self.other_active_runs(context)
        if others:
            users = ", ".join(f"{count} of {dag_id}" for dag_id, count in others.items())
            return self.leave(context, f"other runs still use it ({users})")
        pipelines = self.get_or_none("reading ingest pipelines", self.es.ingest.get_pipeline) or {}
        users = inference_users(dict(pipelines), self.deployment_id)
        if foreign := sorted(p for p, ours in users.items() if not ours):
            return self.leave(
                context, f"ingest pipelines not created by es_embedding use it: {', '.join(foreign)}"
            )
        self.log.info(
            "Stopping deployment [%s] (stop_after_run; no other run uses it; pipelines naming it: %s)",
            self.deployment_id,
            ", ".join(sorted(users)) or "none",
        )
        with self.calling(f"stopping deployment [{self.deployment_id}]"):
            try:
                self.es.ml.stop_trained_model_deployment(model_id=self.deployment_id, force=bool(users))
            except NotFoundError:
                return self.leave(context, "it is not running")
        return self.publish(context, stopped=True, reason="stop_after_run; no other run uses it")

    def leave(self, context: Any, reason: str) -> dict[str, Any]:
        self.log.info("Deployment [%s] left as it is: %s", self.deployment_id, reason)
        return self.publish(context, stopped=False, reason=reason)

    def other_active_runs(self, context: Any) -> dict[str, int]:
        """{dag_id: queued or running runs other than this one}, from the metadata DB (Execution API)."""
        ti, own_dag = context["ti"], context["dag_run"].dag_id
        counts = {}
        for dag_id in dict.fromkeys((own_dag, *self.dag_ids)):
            count = ti.get_dr_count(dag_id=dag_id, states=ACTIVE_RUN_STATES) - (dag_id == own_dag)
            if count > 0:
                counts[dag_id] = count
        return counts
