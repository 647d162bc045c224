"""The wait every sensor of this package is (`EsWait`): poll once at once, so a re-run finds the work
done and does not wait; then defer to the trigger (no worker slot while waiting), or, with
`deferrable=False`, poke from the worker. Either way a wait ends at its own deadline, from the run's
settings, with the last state it saw; Airflow's timeout, a little later, is only the backstop.

One I/O implementation per wait: the trigger's `poll` (es_embedding.triggers). The triggerer runs it
while the task is deferred; the worker runs the very same coroutine, in an event loop of its own
(`ElasticsearchEmbeddingHook.run_async`), for the first poll and for every poke. The sensor adds
only what the event means for the task (`succeeded`).

`deferrable` defaults to Airflow's `[operators] default_deferrable`, as Airflow's own sensors do;
this package's DAGs defer always (deferrable=True).
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue
from airflow.sdk.configuration import conf

from es_embedding import checks
from es_embedding.base import EsStage
from es_embedding.errors import EmbeddingError
from es_embedding.triggers import PollingTrigger

# Seconds Airflow's own timeout waits beyond a wait's deadline before it steps in (backstop only).
BACKSTOP_MARGIN = 60.0


class EsWait(EsStage, BaseSensorOperator):
    """A wait on the cluster. Subclasses give its bounds (from the settings), its trigger, the error
    class of a failed wait, and what a successful event returns."""

    ui_color = "#e4f0e8"
    failure: type[EmbeddingError] = EmbeddingError
    # The setting that bounds the wait, named in the error when the bound is reached.
    bound_setting = "the wait's timeout"

    def __init__(
        self,
        *,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.deferrable = deferrable

    # --- what a wait defines ------------------------------------------------------------------------

    def wait_bounds(self) -> tuple[float, float]:
        """(timeout, poll interval) in seconds, from the run's settings."""
        raise NotImplementedError

    def make_trigger(self, poll_interval: float) -> PollingTrigger:
        raise NotImplementedError

    def succeeded(self, context: Any, event: dict) -> Any:
        return event

    # --- the wait ---------------------------------------------------------------------------------

    def execute(self, context: Any) -> Any:
        timeout, poll_interval = self.wait_bounds()
        self.poller = self.make_trigger(poll_interval)
        result = self.poll()
        if result.event is not None:
            return self.execute_complete(context, result.event)
        self.poller.deadline = time.time() + timeout
        self.poller.bound = f"{timeout:g} s ({self.bound_setting})"
        backstop = timeout + poll_interval + BACKSTOP_MARGIN
        if self.deferrable:
            # The trigger that polled first defers: what it saw (a download task) goes with it.
            self.defer(
                trigger=self.poller, method_name="execute_complete", timeout=timedelta(seconds=backstop)
            )
        self.timeout, self.poke_interval = backstop, poll_interval
        return super().execute(context)

    def poll(self) -> checks.Poll:
        """One poll, here in the worker: the trigger's own `poll`, errors translated."""
        with self.calling(self.poller.action):
            result = self.hook.run_async(self.poller.poll)
        if result.message:
            self.log.info(result.message)
        return result

    def poke(self, context: Any) -> PokeReturnValue:
        result = self.poll()
        if result.event is not None:
            return PokeReturnValue(is_done=True, xcom_value=self.execute_complete(context, result.event))
        if time.time() >= self.poller.deadline:
            secrets = self.hook.secrets
            note = self.hook.run_async(lambda client: self.poller.at_deadline(client, secrets))
            raise self.failure(checks.gave_up(self.poller.bound, result.message) + note)
        return PokeReturnValue(is_done=False)

    def execute_complete(self, context: Any, event: dict | None = None) -> Any:
        if not isinstance(event, dict) or event.get("status") not in ("success", "error"):
            raise EmbeddingError(f"{self.task_id}: unexpected trigger event {event!r}")
        if event["status"] == "error":
            raise self.failure(event.get("message") or "the wait failed without a message")
        return self.succeeded(context, event)
