"""Async pollers behind the sensors. They run in the triggerer, so they hold only ids, the connection
id and intervals (never a client or a secret), build their client from the connection, and end with
one event: {"status": "success", ...} or {"status": "error", "message": ...}.

A trigger's `poll` is the only code that asks the cluster how a wait stands: a sensor's first poll
and its pokes run the same coroutine in the worker (es_embedding.waits). Their classpaths
(`es_embedding.triggers.<Class>`) are stored with every deferred task: they do not move.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import elastic_transport
from airflow.triggers.base import BaseTrigger, TriggerEvent
from elasticsearch import ApiError, AsyncElasticsearch, NotFoundError

from es_embedding import checks
from es_embedding.errors import TransientClusterError, translate
from es_embedding.hooks import DEFAULT_CONN_ID, ElasticsearchEmbeddingHook

# Polls in a row that may fail on connection trouble/429/5xx before the wait gives up.
MAX_TRANSIENT_ERRORS = 5


class PollingTrigger(BaseTrigger):
    """Polls until `poll` returns an event, tolerating a few transient errors in a row, and ends at
    its deadline with the last state it saw. Subclasses name their serialized fields and poll."""

    serialized_fields: ClassVar[tuple[str, ...]]

    def __init__(
        self,
        *,
        conn_id: str = DEFAULT_CONN_ID,
        poll_interval: float = 10.0,
        deadline: float | None = None,
        bound: str = "",
    ) -> None:
        super().__init__()
        self.conn_id = conn_id
        self.poll_interval = float(poll_interval)
        # Epoch seconds after which the wait ends with an error that carries the last state seen
        # (per-node reasons, progress), and `bound`, the setting that set it. Airflow's own defer
        # timeout stays behind it as a backstop, but its error says only that time ran out.
        self.deadline = deadline
        self.bound = bound

    def serialize(self) -> tuple[str, dict[str, Any]]:
        common = ("conn_id", "poll_interval", "deadline", "bound")
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {name: getattr(self, name) for name in (*self.serialized_fields, *common)},
        )

    @property
    def action(self) -> str:
        raise NotImplementedError

    async def at_deadline(self, client: AsyncElasticsearch, secrets: tuple[str, ...]) -> str:
        """What the wait does when it gives up, besides failing: a note for the message."""
        return ""

    async def poll(self, client: AsyncElasticsearch) -> checks.Poll:
        raise NotImplementedError

    async def run(self) -> AsyncIterator[TriggerEvent]:
        client, spec = await ElasticsearchEmbeddingHook.async_client(self.conn_id)
        failures_in_a_row = 0
        last_message = None
        try:
            while True:
                try:
                    result = await self.poll(client)
                    failures_in_a_row = 0
                except (ApiError, elastic_transport.TransportError) as exc:
                    problem = translate(exc, self.action, spec.secrets, self.conn_id)
                    failures_in_a_row += 1
                    if (
                        not isinstance(problem, TransientClusterError)
                        or failures_in_a_row > MAX_TRANSIENT_ERRORS
                    ):
                        yield TriggerEvent({"status": "error", "message": str(problem)})
                        return
                    result = checks.Poll(
                        None, f"{problem} (poll {failures_in_a_row} of {MAX_TRANSIENT_ERRORS})"
                    )
                if result.message and (result.message != last_message or result.event is not None):
                    self.log.info(result.message)
                    last_message = result.message
                if result.event is not None:
                    yield TriggerEvent(result.event)
                    return
                if self.deadline is not None and time.time() >= self.deadline:
                    note = await self.at_deadline(client, spec.secrets)
                    message = checks.gave_up(self.bound, last_message) + note
                    yield TriggerEvent({"status": "error", "message": message})
                    return
                await asyncio.sleep(self.poll_interval)
        finally:
            await client.close()


class ModelDownloadTrigger(PollingTrigger):
    """Waits until the model is `fully_defined`; reports a download that ended without it."""

    serialized_fields = ("model_id", "import_task_id")

    def __init__(self, model_id: str, import_task_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model_id = model_id
        self.import_task_id = import_task_id  # the download task the sensor saw before deferring
        self._quiet_polls = 0

    @property
    def action(self) -> str:
        return f"waiting for the download of model [{self.model_id}]"

    async def poll(self, client: AsyncElasticsearch) -> checks.Poll:
        tasks = await client.tasks.list(actions=checks.MODEL_IMPORT_ACTIONS, detailed=True)
        running = checks.import_task_id(dict(tasks), self.model_id)
        self.import_task_id = running or self.import_task_id
        self._quiet_polls = 0 if running else self._quiet_polls + 1
        models = await client.ml.get_trained_models(model_id=self.model_id, include="definition_status")
        result = checks.download(dict(models), self.model_id, running, self.import_task_id, self._quiet_polls)
        if result.event and result.event["status"] == "error":
            stored = (
                await _or_none(client.tasks.get(task_id=self.import_task_id)) if self.import_task_id else None
            )
            notes = await _or_none(client.search(**checks.download_failure_query(self.model_id)))
            return checks.error(f"{result.message}{checks.download_failure_reason(stored, notes)}")
        return result

    async def at_deadline(self, client: AsyncElasticsearch, secrets: tuple[str, ...]) -> str:
        """A download still running at the bound is stalled (or too slow for it): cancelled, so the
        model is left not fully defined without a task and the next run's ensure_model downloads
        it again (Elasticsearch cannot resume a download)."""
        if not self.import_task_id:
            return ""
        try:
            await client.tasks.cancel(task_id=self.import_task_id)
        except (ApiError, elastic_transport.TransportError) as exc:
            problem = translate(exc, f"cancelling download task {self.import_task_id}", secrets, self.conn_id)
            return f"; {problem}"
        return checks.download_cancelled(self.import_task_id)


async def _or_none(call) -> dict | None:
    """A best-effort read for an error message: None when the cluster cannot answer it."""
    try:
        return dict(await call)
    except (ApiError, elastic_transport.TransportError):
        return None


class DeploymentStateTrigger(PollingTrigger):
    """Waits until the deployment reaches `wanted_state`, logging each node's routing state and
    reason when they change; fails when the deployment fails or vanishes."""

    serialized_fields = ("deployment_id", "wanted_state")

    def __init__(self, deployment_id: str, wanted_state: str = "fully_allocated", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deployment_id = deployment_id
        self.wanted_state = wanted_state

    @property
    def action(self) -> str:
        return f"waiting for deployment [{self.deployment_id}]"

    async def poll(self, client: AsyncElasticsearch) -> checks.Poll:
        stats = await client.ml.get_trained_models_stats()
        return checks.deployment(dict(stats), self.deployment_id, self.wanted_state)


# The server-side wait of the request that wakes an endpoint: Elasticsearch parks it and scales up;
# the answer (often 408 after this wait) does not matter, the allocation does.
WAKE_TIMEOUT = "1s"
WAKE_INPUT = "wake up"
# What a wake request may meet while the deployment scales up: timed out waiting for an allocation
# (408), too many requests parked (429), the assignment changing under it (409), not ready (503).
WAKE_ANSWERS = frozenset({408, 409, 429, 503})


class EndpointAllocationTrigger(PollingTrigger):
    """Waits until an inference endpoint's deployment has an allocation and reaches `wanted_state`;
    wakes an endpoint scaled to zero (or a preconfigured one not deployed yet) with one small
    inference request per poll until it has one."""

    serialized_fields = ("inference_id", "deployment_id", "task_type", "wanted_state", "preconfigured")

    def __init__(
        self,
        inference_id: str,
        deployment_id: str,
        task_type: str,
        wanted_state: str = "fully_allocated",
        preconfigured: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.inference_id = inference_id
        self.deployment_id = deployment_id
        self.task_type = task_type
        self.wanted_state = wanted_state
        self.preconfigured = preconfigured

    @property
    def action(self) -> str:
        return f"waiting for endpoint [{self.inference_id}]"

    async def poll(self, client: AsyncElasticsearch) -> checks.Poll:
        stats = await client.ml.get_trained_models_stats()
        result, wake = checks.endpoint_allocation(
            dict(stats), self.deployment_id, self.inference_id, self.wanted_state, self.preconfigured
        )
        if wake:
            await self.wake(client)
        return result

    async def wake(self, client: AsyncElasticsearch) -> None:
        try:
            await client.inference.inference(
                inference_id=self.inference_id,
                task_type=self.task_type,
                input=[WAKE_INPUT],
                timeout=WAKE_TIMEOUT,
            )
        except ApiError as exc:
            if exc.status_code not in WAKE_ANSWERS:
                raise
        except elastic_transport.ConnectionTimeout:
            pass  # parked longer than the client waits: the scale-up is under way all the same


class ReindexTaskTrigger(PollingTrigger):
    """Polls the reindex task, logging created/total, docs/s and ETA; cancels it when the Airflow
    task is killed by a user (mark failed/success, clear)."""

    serialized_fields = ("es_task_id",)

    def __init__(self, es_task_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.es_task_id = es_task_id

    @property
    def action(self) -> str:
        return f"polling reindex task {self.es_task_id}"

    async def poll(self, client: AsyncElasticsearch) -> checks.Poll:
        try:
            found = dict(await client.tasks.get(task_id=self.es_task_id))
        except NotFoundError as exc:
            return checks.lost(self.es_task_id, str(exc.message))
        if checks.running_slices_missing(found):
            slices = await client.tasks.list(parent_task_id=self.es_task_id, detailed=True)
            found = checks.with_running_slices(found, dict(slices))
        return checks.reindex(found, self.es_task_id)

    async def on_kill(self) -> None:
        client, spec = await ElasticsearchEmbeddingHook.async_client(self.conn_id)
        try:
            await client.tasks.cancel(task_id=self.es_task_id)
            self.log.info("cancelled reindex task %s", self.es_task_id)
        except (ApiError, elastic_transport.TransportError) as exc:
            self.log.warning(
                "could not cancel reindex task: %s", translate(exc, self.action, spec.secrets, self.conn_id)
            )
        finally:
            await client.close()
