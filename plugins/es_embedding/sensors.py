"""The waits: model download, deployment allocation, reindex task. Deferrable by default (no worker
slot while waiting), bounded by the timeout in the run's settings snapshot; `deferrable=False` polls
in the worker with the same checks (es_embedding.checks) the triggers use.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import Any

import elastic_transport
from airflow.sdk import BaseSensorOperator, PokeReturnValue
from elasticsearch import ApiError, NotFoundError

from es_embedding import checks
from es_embedding.errors import (
    DeploymentFailedError,
    EmbeddingError,
    ModelDownloadError,
    ReindexFailedError,
    cluster_call,
)
from es_embedding.hooks import DEFAULT_CONN_ID, ElasticsearchEmbeddingHook
from es_embedding.reports import failure_text
from es_embedding.settings import DeploymentSettings, ModelSettings, ReindexSettings, RunSettings
from es_embedding.triggers import DeploymentStateTrigger, ModelDownloadTrigger, ReindexTaskTrigger

# Seconds Airflow's own timeout waits beyond a wait's deadline before it steps in (backstop only).
BACKSTOP_MARGIN = 60.0


class EsWaitSensor(BaseSensorOperator):
    """Checks once at once (a re-run finds the work done and does not defer), then defers to the
    trigger or pokes. Subclasses give the Variable, the trigger, the sync check and the outcome."""

    template_fields: Sequence[str] = ("settings",)
    ui_color = "#e4f0e8"
    failure = EmbeddingError

    def __init__(
        self,
        *,
        es_conn_id: str = DEFAULT_CONN_ID,
        settings: RunSettings | dict | str | None = None,
        deferrable: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.es_conn_id = es_conn_id
        self.settings = settings
        self.deferrable = deferrable

    @cached_property
    def run_settings(self) -> RunSettings:
        return RunSettings.of(self.settings)

    @cached_property
    def hook(self) -> ElasticsearchEmbeddingHook:
        return ElasticsearchEmbeddingHook(self.es_conn_id)

    def wait_bounds(self) -> tuple[float, float]:
        """(timeout, poll interval) in seconds, from the Variable."""
        raise NotImplementedError

    def make_trigger(self, poll_interval: float):
        raise NotImplementedError

    def check(self) -> checks.Poll:
        raise NotImplementedError

    def succeeded(self, context: Any, event: dict) -> Any:
        return event

    def at_deadline(self) -> str:
        """What the wait does when it gives up, besides failing: a note for the message."""
        return ""

    def checked(self) -> checks.Poll:
        with cluster_call(self.waiting_for, self.hook.secrets, self.hook.es_conn_id):
            result = self.check()
        if result.message:
            self.log.info(result.message)
        return result

    @property
    def waiting_for(self) -> str:
        return f"task {self.task_id}"

    # The setting that bounds the wait, named in the error when the bound is reached.
    bound_setting = "the wait's timeout"

    def execute(self, context: Any) -> Any:
        timeout, poll_interval = self.wait_bounds()
        result = self.checked()
        if result.event is not None:
            return self.execute_complete(context, result.event)
        # The wait ends itself at the deadline with the last state it saw (per-node reasons,
        # progress); Airflow's timeout, a little later, is only the backstop.
        self._deadline = time.time() + timeout
        self._bound = f"{timeout:g} s ({self.bound_setting})"
        backstop = timeout + poll_interval + BACKSTOP_MARGIN
        if self.deferrable:
            trigger = self.make_trigger(poll_interval)
            trigger.deadline, trigger.bound = self._deadline, self._bound
            self.defer(trigger=trigger, method_name="execute_complete", timeout=timedelta(seconds=backstop))
        self.timeout, self.poke_interval = backstop, poll_interval
        return super().execute(context)

    def poke(self, context: Any) -> PokeReturnValue:
        result = self.checked()
        if result.event is None:
            deadline = getattr(self, "_deadline", None)
            if deadline is not None and time.time() >= deadline:
                raise self.failure(checks.gave_up(self._bound, result.message) + self.at_deadline())
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(is_done=True, xcom_value=self.execute_complete(context, result.event))

    def execute_complete(self, context: Any, event: dict | None = None) -> Any:
        if not isinstance(event, dict) or event.get("status") not in ("success", "error"):
            raise EmbeddingError(f"{self.task_id}: unexpected trigger event {event!r}")
        if event["status"] == "error":
            raise self.failure(event.get("message") or "the wait failed without a message")
        return self.succeeded(context, event)


class ModelDownloadSensor(EsWaitSensor):
    """Stage 2: waits until the model is fully_defined (its download finished)."""

    template_fields: Sequence[str] = (*EsWaitSensor.template_fields, "model_id")
    failure = ModelDownloadError
    bound_setting = "Variable 'embedding_model': key 'timeout'"

    def __init__(self, *, model_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model_id = model_id
        self._seen_task: str | None = None
        self._quiet_polls = 0

    @property
    def waiting_for(self) -> str:
        return f"waiting for the download of model [{self.model_id}]"

    def wait_bounds(self) -> tuple[float, float]:
        settings = self.run_settings[ModelSettings]
        return settings.timeout, settings.poll_interval

    def make_trigger(self, poll_interval: float) -> ModelDownloadTrigger:
        return ModelDownloadTrigger(
            model_id=self.model_id, conn_id=self.es_conn_id, poll_interval=poll_interval
        )

    def check(self) -> checks.Poll:
        es = self.hook.client
        running = checks.import_task_id(
            dict(es.tasks.list(actions=checks.MODEL_IMPORT_ACTIONS, detailed=True)), self.model_id
        )
        self._seen_task = running or self._seen_task
        self._quiet_polls = 0 if running else self._quiet_polls + 1
        models = dict(es.ml.get_trained_models(model_id=self.model_id, include="definition_status"))
        result = checks.download(models, self.model_id, running, self._seen_task, self._quiet_polls)
        if result.event and result.event["status"] == "error":
            stored = _or_none(es.tasks.get, task_id=self._seen_task) if self._seen_task else None
            notes = _or_none(es.search, **checks.download_failure_query(self.model_id))
            return checks.error(f"{result.message}{checks.download_failure_reason(stored, notes)}")
        return result

    def succeeded(self, context: Any, event: dict) -> str:
        return event["model_id"]

    def at_deadline(self) -> str:
        """Cancels the download it gave up on (see ModelDownloadTrigger.at_deadline)."""
        if not self._seen_task:
            return ""
        with cluster_call(
            f"cancelling download task {self._seen_task}", self.hook.secrets, self.hook.es_conn_id
        ):
            self.hook.client.tasks.cancel(task_id=self._seen_task)
        return checks.download_cancelled(self._seen_task)


def _or_none(call, **kwargs) -> dict | None:
    """A best-effort read for an error message: None when the cluster cannot answer it."""
    try:
        return dict(call(**kwargs))
    except (ApiError, elastic_transport.TransportError):
        return None


class DeploymentStateSensor(EsWaitSensor):
    """Stage 4: waits until the deployment is `started` or `fully_allocated` (Variable
    `embedding_deployment.wanted_state`), logging per-node routing reasons; fails on `failed`.
    Returns the deployment's allocation_count, threads_per_allocation and queue_capacity."""

    template_fields: Sequence[str] = (*EsWaitSensor.template_fields, "deployment_id")
    failure = DeploymentFailedError
    bound_setting = "Variable 'embedding_deployment': key 'wait_timeout'"

    def __init__(self, *, deployment_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deployment_id = deployment_id

    @property
    def deployment(self) -> DeploymentSettings:
        return self.run_settings[DeploymentSettings]

    @property
    def waiting_for(self) -> str:
        return f"waiting for deployment [{self.deployment_id}]"

    def wait_bounds(self) -> tuple[float, float]:
        return self.deployment.wait_timeout, self.deployment.poll_interval

    def make_trigger(self, poll_interval: float) -> DeploymentStateTrigger:
        return DeploymentStateTrigger(
            deployment_id=self.deployment_id,
            wanted_state=self.deployment.wanted_state,
            conn_id=self.es_conn_id,
            poll_interval=poll_interval,
        )

    def check(self) -> checks.Poll:
        stats = dict(self.hook.client.ml.get_trained_models_stats())
        return checks.deployment(stats, self.deployment_id, self.deployment.wanted_state)


class ReindexTaskSensor(EsWaitSensor):
    """Stage 8: follows the reindex task (created/total, docs/s, ETA), then fails on `error` or
    cancellation and applies the failure policy to `failures`. Returns the result counts."""

    template_fields: Sequence[str] = (*EsWaitSensor.template_fields, "es_task_id")
    failure = ReindexFailedError
    bound_setting = "Variable 'embedding_reindex': key 'timeout'"

    def __init__(self, *, es_task_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.es_task_id = es_task_id

    @property
    def reindex(self) -> ReindexSettings:
        return self.run_settings[ReindexSettings]

    @property
    def waiting_for(self) -> str:
        return f"polling reindex task {self.es_task_id}"

    def wait_bounds(self) -> tuple[float, float]:
        return self.reindex.timeout, self.reindex.poll_interval

    def make_trigger(self, poll_interval: float) -> ReindexTaskTrigger:
        return ReindexTaskTrigger(
            es_task_id=self.es_task_id, conn_id=self.es_conn_id, poll_interval=poll_interval
        )

    def check(self) -> checks.Poll:
        try:
            found = dict(self.hook.client.tasks.get(task_id=self.es_task_id))
        except NotFoundError as exc:
            return checks.lost(self.es_task_id, str(exc.message))
        if checks.running_slices_missing(found):
            slices = self.hook.client.tasks.list(parent_task_id=self.es_task_id, detailed=True)
            found = checks.with_running_slices(found, dict(slices))
        return checks.reindex(found, self.es_task_id)

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
        if failures["count"]:
            tolerated = (
                self.reindex.failure_policy == "tolerate" and failures["count"] <= self.reindex.max_failures
            )
            text = f"reindex {self.es_task_id}: {failure_text(failures)}"
            if not tolerated:
                raise ReindexFailedError(
                    f"{text}. A failure stops the reindex; with failure_policy 'tolerate' and max_failures "
                    f">= {failures['count']} in Variable 'embedding_reindex' the run would continue to verify"
                )
            self.log.warning(
                "%s (tolerated: failure_policy 'tolerate', max_failures %d)", text, self.reindex.max_failures
            )
        context["ti"].xcom_push(key="reindex_result", value=result)
        return result

    def on_kill(self) -> None:
        # Worker-side kill while poking (deferred waits are cancelled by the trigger's on_kill).
        if self.es_task_id:
            self.log.info("Cancelling reindex task %s", self.es_task_id)
            with cluster_call(
                f"cancelling reindex task {self.es_task_id}", self.hook.secrets, self.hook.es_conn_id
            ):
                self.hook.client.tasks.cancel(task_id=self.es_task_id)
