"""Keeping the cluster tidy after a run: retention of an alias's versioned indices, and teardown of
the deployment (Variable `embedding_deployment.stop_after_run`) when no other run uses it.

Retention deletes only what it may: indices this package created for that alias (mapping
`_meta.managed_by` and `_meta.alias`), older than the index the alias points at, carrying no alias
at all, beyond the `keep_indices` newest (the alias's own index counts as one). Newer indices of
that alias are left alone: they belong to a run in progress, or to a failed one worth a look.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from elasticsearch import NotFoundError

from es_embedding import bodies
from es_embedding.operators import EsStageOperator
from es_embedding.settings import DeploymentSettings, ReindexSettings

# The DAGs of this package: each one starts the deployment named in Variable `embedding_deployment`.
PACKAGE_DAG_IDS = ("embedding_reindex", "embedding_backfill")
ACTIVE_RUN_STATES = ["queued", "running"]


class RetentionPlan(NamedTuple):
    delete: list[str]
    keep: list[str]
    reasons: dict[str, str]


def retention_plan(indices: dict[str, dict], alias: str, keep: int | None) -> RetentionPlan:
    """Which indices to delete, from `GET <indices>` entries ({name: {aliases, mappings, settings}})."""
    current = sorted(name for name, entry in indices.items() if alias in (entry.get("aliases") or {}))
    reasons: dict[str, str] = {}
    if not current:
        return RetentionPlan([], [], {"*": f"alias [{alias}] points at no index: nothing is deleted"})

    def created(name: str) -> int:
        return int(((indices[name].get("settings") or {}).get("index") or {}).get("creation_date") or 0)

    newest_current = max(created(name) for name in current)
    older = []
    for name, entry in indices.items():
        meta = bodies.managed_meta(entry.get("mappings") or {})
        if name in current or not meta or meta.get("alias") != alias:
            continue
        if entry.get("aliases"):
            reasons[name] = f"kept: it carries aliases {sorted(entry['aliases'])}"
        elif created(name) >= newest_current:
            reasons[name] = f"kept: newer than [{current[0]}] (a run in progress, or a failed one)"
        else:
            older.append(name)
    older.sort(key=lambda name: (created(name), name), reverse=True)
    room = len(older) if keep is None else max(keep - len(current), 0)
    kept, deleted = older[:room], older[room:]
    for name in kept:
        reasons[name] = (
            f"kept: among the {keep} newest of alias [{alias}]" if keep else "kept: keep_indices is null"
        )
    for name in deleted:
        reasons[name] = f"deleted: older than the {keep} newest of alias [{alias}]"
    return RetentionPlan(deleted, current + kept, reasons)


class ApplyRetentionOperator(EsStageOperator):
    """After the swap: deletes the alias's versioned indices beyond Variable
    `embedding_reindex.keep_indices` (see the module's rules). Pushes deleted, kept."""

    template_fields: Sequence[str] = (*EsStageOperator.template_fields, "alias")

    def __init__(self, *, alias: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alias = alias

    def execute(self, context: Any) -> dict[str, Any]:
        settings = self.run_settings[ReindexSettings]
        with self.calling("reading indices for retention"):
            indices = dict(self.es.indices.get(index="*", expand_wildcards="open"))
        plan = retention_plan(indices, self.alias, settings.keep_indices)
        for name, reason in sorted(plan.reasons.items()):
            self.log.info("Retention of alias [%s]: [%s] %s", self.alias, name, reason)
        for name in plan.delete:
            with self.calling(f"deleting index [{name}] (retention of alias [{self.alias}])"):
                try:
                    self.es.indices.delete(index=name)
                except NotFoundError:
                    self.log.info("[%s] was deleted meanwhile", name)
        return self.publish(context, deleted=plan.delete, kept=plan.keep)


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


class StopDeploymentOperator(EsStageOperator):
    """Teardown: stops the deployment when Variable `embedding_deployment.stop_after_run` says so,
    unless another queued or running run of this package's DAGs (they all start the deployment the
    Variable names) still uses it, or an ingest pipeline this package did not create names it.
    Elasticsearch refuses to stop a deployment that pipelines reference unless forced: it is forced
    only when every such pipeline is this package's. Pushes stopped, reason."""

    template_fields: Sequence[str] = (*EsStageOperator.template_fields, "deployment_id")

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
