"""Following the reindex: `wait_reindex` (ReindexTaskSensor) polls the ES task (created/total, docs/s,
ETA) until it ends, then applies the failure policy. A task lost to a node restart is not a failure
here: complete_index takes up what it did not do."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from es_embedding.errors import ReindexFailedError
from es_embedding.index.backend import backend_for
from es_embedding.reports import failure_text
from es_embedding.settings import ReindexSettings
from es_embedding.triggers import ReindexTaskTrigger
from es_embedding.waits import EsWait


class ReindexTaskSensor(EsWait):
    """`wait_reindex`: follows the reindex task, then fails on `error` or cancellation and applies the
    failure policy to `failures`. Returns the result counts (also pushed as reindex_result)."""

    template_fields: Sequence[str] = (*EsWait.template_fields, "es_task_id")
    failure = ReindexFailedError
    bound_setting = "Variable 'embedding_reindex': key 'timeout'"

    def __init__(self, *, es_task_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.es_task_id = es_task_id

    @property
    def reindex(self) -> ReindexSettings:
        return self.run_settings[ReindexSettings]

    def wait_bounds(self) -> tuple[float, float]:
        return self.reindex.timeout, self.reindex.poll_interval

    def make_trigger(self, poll_interval: float) -> ReindexTaskTrigger:
        return ReindexTaskTrigger(
            es_task_id=self.es_task_id, conn_id=self.es_conn_id, poll_interval=poll_interval
        )

    def execute_complete(self, context: Any, event: dict | None = None) -> Any:
        if isinstance(event, dict) and event.get("status") == "lost":
            # A node restart dropped the task: the resume step (complete_index) copies and embeds
            # what it did not, so the run continues instead of starting over or hanging.
            self.log.warning(event["message"])
            result = {"lost": True, "es_task_id": self.es_task_id}
            context["ti"].xcom_push(key="reindex_result", value=result)
            return result
        return super().execute_complete(context, event)

    def succeeded(self, context: Any, event: dict) -> dict:
        result = event["result"]
        if result.get("canceled"):
            raise ReindexFailedError(f"reindex {self.es_task_id} was cancelled: {result['canceled']}")
        failures = result["failures"]
        later = backend_for(self.run_settings).completed_later(failures)
        if later:
            self.log.warning(
                "reindex %s: %d documents were not written, their inference rejected or timed out; "
                "complete_index embeds them (%s)",
                self.es_task_id,
                later,
                failure_text(failures),
            )
        if failures["count"] > later:
            settings = self.reindex
            count = failures["count"] - later
            tolerated = settings.failure_policy == "tolerate" and count <= settings.max_failures
            text = f"reindex {self.es_task_id}: {failure_text(failures)}"
            if not tolerated:
                raise ReindexFailedError(
                    f"{text}. A failure stops the reindex; with failure_policy 'tolerate' and max_failures "
                    f">= {count} in Variable 'embedding_reindex' the run would continue to verify"
                )
            self.log.warning(
                "%s (tolerated: failure_policy 'tolerate', max_failures %d)", text, settings.max_failures
            )
        context["ti"].xcom_push(key="reindex_result", value=result)
        return result

    def on_kill(self) -> None:
        # Worker-side kill while poking (deferred waits are cancelled by the trigger's on_kill).
        if self.es_task_id:
            self.log.info("Cancelling reindex task %s", self.es_task_id)
            with self.calling(f"cancelling reindex task {self.es_task_id}"):
                self.es.tasks.cancel(task_id=self.es_task_id)
