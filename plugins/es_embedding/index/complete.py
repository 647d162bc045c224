"""Completing the destination without waste, `complete_index`: after the first reindex, copy what is
missing, then embed only what lacks an embedding.

The first reindex (es_embedding.index.start) embeds while it copies: one write per document on
the happy path. When the destination already holds documents (an earlier attempt or run), it
copies without the pipeline instead (`bodies.copy_request`). After it, the destination is completed
in two kinds of passes, both Elasticsearch bulk-by-scroll tasks:

- copy: `_reindex` source -> destination WITHOUT the pipeline, `op_type: create`,
  `conflicts: proceed`. No inference runs, so it is cheap; documents already in the destination
  are version conflicts and are left alone (with their embeddings). Re-running it copies exactly the
  documents a lost or failed copy did not.
- embed: `_update_by_query?pipeline=<embedding pipeline>` on the destination over the documents
  that still lack the output field (`bodies.missing_query`). A document embedded once is never
  selected again, so neither a retry nor a re-run of the DAG pays its inference twice. A document whose
  inference failed carries a failure record (the pipeline's on_failure) and is selected again by
  the next pass, which uses half the batch of the previous one so the deployment's queue is not
  overflowed again.

`CompleteIndexOperator` runs these passes until the destination holds every document of the
source query with its embedding, or `max_embed_passes` embed passes have run; the verify step
then checks the result and the alias only moves after it. Every pass's ES task id is kept in the
task's `task_state_store` as soon as the cluster returns it, so a retry after a worker crash
re-attaches to the running task instead of starting a second one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from es_embedding import bodies, checks
from es_embedding.base import TaskMemory
from es_embedding.errors import EmbeddingError, ReindexFailedError
from es_embedding.index.start import ReindexStage, copy_missing, deployment_queues
from es_embedding.settings import PipelineSettings, ReindexSettings
from es_embedding.triggers import ReindexTaskTrigger

TASK_KEY = "es_task_id"  # task_state_store key of the pass running now
PASS_KEY = "resume_pass"  # task_state_store key of {"kind", "number", "batch_size"} of that pass
HISTORY_KEY = "resume_history"  # task_state_store key of the finished passes


# Share of the deployment's queues one embed batch may fill (the rest: search and routing skew).
QUEUE_SHARE = 0.8
DEFAULT_EMBED_BATCH = 100


def embed_batch_size(setting: int | str, allocations: int, queue_capacity: int) -> int:
    """The first embed pass's batch: the Variable's batch_size (a number, else DEFAULT_EMBED_BATCH),
    at most what the deployment holds at once (its allocations plus QUEUE_SHARE of its queue)."""
    wanted = setting if isinstance(setting, int) else DEFAULT_EMBED_BATCH
    return max(1, min(wanted, int(QUEUE_SHARE * (queue_capacity + allocations))))


def next_batch_size(previous: int | None, planned: int, failed_before: bool) -> int:
    """The embed pass's batch: the planned size first; half of the previous one after a pass whose
    documents failed (a queue overflow is not repeated at the same rate)."""
    if previous is None:
        return planned
    return max(1, previous // 2) if failed_before else previous


class CompleteIndexOperator(ReindexStage):
    """`complete_index`: copies what the destination lacks and embeds what lacks an embedding, pass after
    pass (each one an ES task the operator defers on), until nothing is missing or
    `max_embed_passes` embed passes ran. Pushes `resume` ({passes, copied, embedded, failed,
    still_missing})."""

    ui_color = "#fff2d6"

    # --- the loop: execute -> (defer -> execute_complete)* ------------------------------------

    def execute(self, context: Any) -> Any:
        memory = TaskMemory(context)
        running = memory.get(TASK_KEY)
        if running:
            state = self.task_state(running)
            if state == "running":
                self.log.info("Re-attaching to pass %s, ES task %s", memory.get(PASS_KEY), running)
                return self.wait_for(running)
            if state == "completed":
                self.log.info("ES task %s of pass %s completed meanwhile", running, memory.get(PASS_KEY))
                return self.execute_complete(context, self.completed_event(running))
            self.log.warning("ES task %s of pass %s is gone (node restart?)", running, memory.get(PASS_KEY))
            self.record(memory, {"lost": True})
        return self.next_pass(context, memory)

    def execute_complete(self, context: Any, event: dict | None = None) -> Any:
        memory = TaskMemory(context)
        if not isinstance(event, dict) or event.get("status") not in ("success", "error", "lost"):
            raise EmbeddingError(f"{self.task_id}: unexpected trigger event {event!r}")
        if event["status"] == "error":
            raise ReindexFailedError(event.get("message") or "the pass failed without a message")
        if event["status"] == "lost":
            self.log.warning("%s: the remaining documents are taken up by the next pass", event["message"])
            self.record(memory, {"lost": True})
        else:
            result = event["result"]
            if result.get("canceled"):
                raise ReindexFailedError(f"ES task {event['es_task_id']} was cancelled: {result['canceled']}")
            self.record(memory, result)
        return self.next_pass(context, memory)

    # --- one decision ---------------------------------------------------------------------------

    def next_pass(self, context: Any, memory: TaskMemory) -> Any:
        pipeline = self.run_settings[PipelineSettings]
        reindex = self.run_settings[ReindexSettings]
        history: list[dict] = memory.get(HISTORY_KEY, [])
        expected, present, missing = self.counts(pipeline, reindex)
        embed_passes = [p for p in history if p["kind"] == "embed"]
        copy_passes = [p for p in history if p["kind"] == "copy"]
        self.log.info(
            "[%s]: %d of %d documents present, %d lack [%s] (%d copy and %d embed passes so far)",
            self.dest_index,
            present,
            expected,
            missing,
            pipeline.output_field,
            len(copy_passes),
            len(embed_passes),
        )
        if present < expected and len(copy_passes) < reindex.max_embed_passes:
            return self.start_copy(memory, reindex, len(copy_passes) + 1)
        if missing and len(embed_passes) < reindex.max_embed_passes:
            previous = embed_passes[-1] if embed_passes else None
            return self.start_embed(memory, reindex, pipeline, previous, len(embed_passes) + 1)
        summary = {
            "passes": len(history),
            "copied": sum(p.get("created") or 0 for p in copy_passes),
            "embedded": sum(p.get("updated") or 0 for p in embed_passes),
            "lost_tasks": sum(1 for p in history if p.get("lost")),
            "expected": expected,
            "present": present,
            "still_missing": missing,
        }
        if missing or present < expected:
            self.log.warning("Passes exhausted, the verify step reports what is missing: %s", summary)
        else:
            self.log.info("Destination complete: %s", summary)
        memory.delete(TASK_KEY)
        return self.publish(context, resume=summary)

    def counts(self, pipeline: PipelineSettings, reindex: ReindexSettings) -> tuple[int, int, int]:
        query = self.query or {"match_all": {}}
        with self.calling(f"counting [{self.source_index}] and [{self.dest_index}]"):
            self.es.indices.refresh(index=self.dest_index)
            expected = self.es.count(index=self.source_index, query=query)["count"]
            if reindex.max_docs:
                expected = min(expected, reindex.max_docs)
            present = self.es.count(index=self.dest_index)["count"]
            missing = self.es.count(index=self.dest_index, query=bodies.missing_query(pipeline.output_field))[
                "count"
            ]
        return expected, present, missing

    def start_copy(self, memory: TaskMemory, reindex: ReindexSettings, number: int) -> None:
        running = self.find_running(f"reindex from [{self.source_index}] to [{self.dest_index}]")
        if running:
            self.log.info("A copy into [%s] is already running as %s: following it", self.dest_index, running)
            es_task_id = running
        else:
            es_task_id = copy_missing(self, self.source_index, self.dest_index, self.query, reindex)
        self.remember(memory, es_task_id, {"kind": "copy", "number": number})
        self.log.info(
            "Copy pass %d: ES task %s copies the documents [%s] lacks", number, es_task_id, self.dest_index
        )
        return self.wait_for(es_task_id)

    def start_embed(
        self,
        memory: TaskMemory,
        reindex: ReindexSettings,
        pipeline: PipelineSettings,
        previous: dict | None,
        number: int,
    ) -> None:
        running = self.find_running(f"update-by-query [{self.dest_index}]")
        if running:
            self.log.info(
                "An embed pass on [%s] is already running as %s: following it", self.dest_index, running
            )
            self.remember(
                memory, running, {"kind": "embed", "number": number, "batch_size": reindex.batch_size}
            )
            return self.wait_for(running)
        queues = deployment_queues(self, self.deployment_id, "nothing could be embedded")
        planned = embed_batch_size(reindex.batch_size, queues.allocations, queues.queue_capacity)
        failed_before = bool(previous and (previous.get("lost") or previous.get("failed_docs")))
        batch = next_batch_size(previous and previous.get("batch_size"), planned, failed_before)
        with self.calling(
            f"embedding the documents of [{self.dest_index}] lacking [{pipeline.output_field}]"
        ):
            es_task_id = self.hook.once().update_by_query(
                index=self.dest_index,
                query=bodies.missing_query(pipeline.output_field),
                pipeline=self.pipeline_id,
                scroll_size=batch,
                conflicts="proceed",
                requests_per_second=reindex.requests_per_second,
                wait_for_completion=False,
            )["task"]
        self.remember(memory, es_task_id, {"kind": "embed", "number": number, "batch_size": batch})
        self.log.info(
            "Embed pass %d: ES task %s embeds what lacks [%s] in batches of %d",
            number,
            es_task_id,
            pipeline.output_field,
            batch,
        )
        return self.wait_for(es_task_id)

    # --- helpers --------------------------------------------------------------------------------

    def wait_for(self, es_task_id: str) -> None:
        reindex = self.run_settings[ReindexSettings]
        self.defer(
            trigger=ReindexTaskTrigger(
                es_task_id=es_task_id, conn_id=self.es_conn_id, poll_interval=reindex.poll_interval
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=reindex.timeout),
        )

    def remember(self, memory: TaskMemory, es_task_id: str, current: dict) -> None:
        memory.set(TASK_KEY, es_task_id)
        memory.set(PASS_KEY, current)

    def record(self, memory: TaskMemory, result: dict) -> None:
        """The finished pass (counts, or lost) appended to the history; the next pass reads it."""
        current = memory.get(PASS_KEY) or {"kind": "embed", "number": 0}
        pipeline = self.run_settings[PipelineSettings]
        entry = {**current, **{k: result.get(k) for k in ("created", "updated", "version_conflicts", "lost")}}
        if current.get("kind") == "embed" and not result.get("lost"):
            with self.calling(f"counting recorded failures in [{self.dest_index}]"):
                self.es.indices.refresh(index=self.dest_index)
                entry["failed_docs"] = self.es.count(
                    index=self.dest_index, query={"exists": {"field": pipeline.failure_field}}
                )["count"]
        memory.set(HISTORY_KEY, [*memory.get(HISTORY_KEY, []), entry])
        memory.delete(TASK_KEY)
        self.log.info("Pass finished: %s", entry)

    def task_state(self, es_task_id: str) -> str:
        """running | completed | gone."""
        found = self.get_or_none(f"reading ES task {es_task_id}", self.es.tasks.get, task_id=es_task_id)
        if found is None:
            return "gone"
        return "completed" if found.get("completed") else "running"

    def completed_event(self, es_task_id: str) -> dict:
        with self.calling(f"reading ES task {es_task_id}"):
            result = checks.reindex(dict(self.es.tasks.get(task_id=es_task_id)), es_task_id)
        return result.event

    def find_running(self, description: str) -> str | None:
        with self.calling("listing running bulk-by-scroll tasks"):
            tasks = dict(self.es.tasks.list(actions="*byquery,*reindex", detailed=True))
        return checks.running_task(tasks, description)
