"""The fan-out's reindex: start and wait in ONE task instance, so that its pool slot is held for as
long as the reindex runs in Elasticsearch.

`embedding_backfill` caps concurrent reindexes per cluster with a pool that counts deferred tasks
(`include_deferred`); a start task and a separate deferred wait would free the slot in between, and
another index's reindex could start in that gap. `PooledReindexOperator` calls the same starter as
`start_reindex` (es_embedding.index.start.ReindexStarter), sized for its `share` of the deployment's
queues, then waits as `wait_reindex` does (es_embedding.index.wait.ReindexTaskSensor).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from es_embedding.base import TaskMemory
from es_embedding.index.backend import backend_for
from es_embedding.index.start import ReindexStarter
from es_embedding.index.wait import ReindexTaskSensor
from es_embedding.settings import ReindexSettings


class PooledReindexOperator(ReindexTaskSensor):
    """Starts the reindex (idempotently, ReindexStarter) and follows it (deferrable) in one task
    instance. Pushes es_task_id (and batch_size, slices when it sized a new reindex) and source_stamp
    (as start_reindex does); returns the result counts as ReindexTaskSensor does."""

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
        self.share = max(int(share), 1)

    def execute(self, context: Any) -> Any:
        starter = ReindexStarter(
            stage=self,
            source_index=self.source_index,
            dest_index=self.dest_index,
            query=self.query,
            deployment_id=self.deployment_id,
            backend=backend_for(self.run_settings, self.pipeline_id),
            settings=self.run_settings[ReindexSettings],
            share=self.share,
        )
        started = starter.start(TaskMemory(context))
        self.publish(context, source_stamp=starter.stamp or {}, **started.xcom())
        self.es_task_id = started.es_task_id
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict | None = None) -> Any:
        # A resumed task instance is a fresh operator: the task id comes back with the event.
        if isinstance(event, dict) and event.get("es_task_id"):
            self.es_task_id = event["es_task_id"]
        return super().execute_complete(context, event)
