"""The fan-out of `embedding_backfill`: resolve a list or pattern of source indices at run time, then
one chain per index into its own destination and alias, all sharing one deployment.

Concurrency is capped per cluster by a pool that counts deferred tasks (`include_deferred`), so the
cap must hold a slot for as long as a reindex runs in Elasticsearch: `PooledReindexOperator` starts
the reindex and waits for it in ONE task instance (a start task and a separate deferred wait would
free the slot in between, and another index's reindex could start in that gap). Each of the `share`
concurrent reindexes is sized for its share of the deployment's queues.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from airflow.sdk.bases.operator import ExecutorSafeguard

from es_embedding import bodies
from es_embedding.errors import SettingsError
from es_embedding.naming import default_alias, dest_index_name, index_name_problem
from es_embedding.operators import EsStageOperator, StartReindexOperator, query_problem
from es_embedding.sensors import ReindexTaskSensor
from es_embedding.settings import SNAPSHOT_KEY, ModelSettings, PipelineSettings, RunSettings
from es_embedding.sizing import Queues

WILDCARDS = "*?"


def pick_sources(found: dict[str, dict], items: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """(source indices, {skipped index: why}) from `GET <items>` entries: hidden and system indices
    (a leading dot) and indices this package created (destinations) are never sources."""
    sources, skipped = [], {}
    for name in sorted(found):
        if name.startswith("."):
            skipped[name] = "hidden or system index"
        elif bodies.managed_meta((found[name] or {}).get("mappings") or {}):
            skipped[name] = "created by es_embedding (a destination index)"
        else:
            sources.append(name)
    return sources, skipped


class ResolveSourcesOperator(EsStageOperator):
    """First task of the fan-out: validates the four Variables and the Params, resolves Param
    `source_indices` (names and `*` patterns) to concrete indices, and names each one's destination
    and alias. Reads only. Returns [{source_index, dest_index, alias}]; pushes query, es_version and
    settings (the run's snapshot of the Variables, see es_embedding.settings)."""

    def execute(self, context: Any) -> list[dict[str, str]]:
        settings = RunSettings.read()
        params = context["params"]
        items = [str(item).strip() for item in params.get("source_indices") or []]
        query = params.get("query") or {"match_all": {}}
        problems = []
        if not items or not all(items):
            problems.append(
                f"Param 'source_indices' has value {items!r}: a non-empty list of names or patterns"
            )
        for item in items:
            if problem := index_name_problem(item.replace("*", "x").replace("?", "x")):
                problems.append(f"Param 'source_indices' has item {item!r}: {problem}")
        if problem := query_problem(query):
            problems.append(problem)
        if problems:
            raise SettingsError("\n".join(problems))
        version = self.check_cluster(settings)

        found: dict[str, dict] = {}
        for item in items:
            entries = self.get_or_none(
                f"resolving [{item}]",
                self.es.indices.get,
                index=item,
                expand_wildcards="open",
                allow_no_indices=True,
            )
            if not entries and not any(c in item for c in WILDCARDS):
                raise SettingsError(f"Param 'source_indices': index [{item}] does not exist")
            found.update(dict(entries or {}))
        sources, skipped = pick_sources(found, items)
        for name, why in skipped.items():
            self.log.info("Not a source: [%s] (%s)", name, why)
        if not sources:
            raise SettingsError(
                f"Param 'source_indices' has value {items!r}: it matches no index to embed "
                f"(skipped: {', '.join(skipped) or 'none'})"
            )
        field = settings[PipelineSettings].input_field
        unmapped = [s for s in sources if not bodies.field_mapping_at(found[s].get("mappings") or {}, field)]
        if unmapped:
            raise SettingsError(
                f"Variable 'embedding_pipeline': key 'input_field' has value \"{field}\"; allowed: a field "
                f"mapped in every source index (not mapped in {', '.join(unmapped)}); narrow "
                "Param 'source_indices'"
            )
        run_after = context["dag_run"].run_after
        indices = [
            {
                "source_index": source,
                "dest_index": dest_index_name(source, settings[ModelSettings].model_id, run_after),
                "alias": default_alias(source),
            }
            for source in sources
        ]
        self.log.info("Fan-out over %d indices: %s", len(indices), indices)
        self.publish(context, query=query, es_version=version, **{SNAPSHOT_KEY: settings.to_json()})
        return indices  # the return value: dynamic task mapping expands over it


class _SharedStartReindex(StartReindexOperator):
    """StartReindexOperator sized for 1/`share` of the deployment's queues."""

    def __init__(self, *, share: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.share = max(int(share), 1)

    def deployment_queues(self) -> Queues:
        queues = super().deployment_queues()
        if self.share == 1:
            return queues
        return dataclasses.replace(queues, queue_capacity=max(1, queues.queue_capacity // self.share))


class PooledReindexOperator(ReindexTaskSensor):
    """Starts the reindex (StartReindexOperator's idempotent start) and follows it (ReindexTaskSensor's
    deferrable wait) in one task instance, so its pool slot is held from start to end."""

    template_fields: Sequence[str] = (
        *ReindexTaskSensor.template_fields,
        "source_index",
        "dest_index",
        "query",
        "deployment_id",
        "pipeline_id",
    )

    def __init__(
        self,
        *,
        source_index: str,
        dest_index: str,
        deployment_id: str,
        pipeline_id: str,
        query: dict | str | None = None,
        share: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(es_task_id="", **kwargs)
        self.source_index = source_index
        self.dest_index = dest_index
        self.deployment_id = deployment_id
        self.pipeline_id = pipeline_id
        self.query = query
        self.share = share

    def execute(self, context: Any) -> Any:
        starter = _SharedStartReindex(
            task_id=self.task_id,
            source_index=self.source_index,
            dest_index=self.dest_index,
            deployment_id=self.deployment_id,
            pipeline_id=self.pipeline_id,
            query=self.query,
            share=self.share,
            es_conn_id=self.es_conn_id,
            settings=self.run_settings,
        )
        # Run inside this task instance on purpose: the sentinel tells Airflow's executor safeguard so.
        sentinel = {f"{type(starter).__name__}__sentinel": ExecutorSafeguard.sentinel_value}
        self.es_task_id = starter.execute(context, **sentinel)["es_task_id"]
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict | None = None) -> Any:
        # A resumed task instance is a fresh operator: the task id comes back with the event.
        if isinstance(event, dict) and event.get("es_task_id"):
            self.es_task_id = event["es_task_id"]
        return super().execute_complete(context, event)
