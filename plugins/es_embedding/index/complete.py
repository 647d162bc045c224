"""Completing the destination without waste, `complete_index`: after the first reindex, everything the
run covers ends up in the destination, current and embedded, and the last comparison proves it.

The first reindex (es_embedding.index.start) embeds while it copies: one write per document on the
happy path. What a fault or a change leaves behind is then made good in passes, each one an
Elasticsearch task the operator defers on, all of them inside the run's scope
(es_embedding.index.scope: the source query and, incremental, the data interval; nothing outside it
is touched):

- copy: what the destination lacks, copied the backend's cheap way (pipeline path: `_reindex`
  WITHOUT the pipeline, `op_type: create`, `conflicts: proceed`, so no inference runs and documents
  already there keep their embeddings). Skipped by a backend that has no such copy.
- embed: the destination's documents that lack their embedding (pipeline path: no output field, or
  a failure record), `_update_by_query` through the pipeline, in batches the deployment's queues
  hold; half the batch after a pass whose documents failed. A document embedded once is not
  selected again, so neither a retry nor a re-run pays its inference twice.
- compare, then re-embed: the scope's source documents are compared with their copies
  (es_embedding.index.currency); the missing and the stale ones (the source changed since they were
  copied, e.g. a re-run into the same index, or an incremental reindex cut short by a lost task)
  are copied again and embedded, by id, with a `_reindex` that embeds what it writes (at most
  ID_LIMIT ids a pass; beyond that, the whole scope in one reindex).
- prune: destination documents of the scope whose source is gone from the scope (deleted, moved
  out of the interval) are deleted, in batches (`_bulk` deletes: a resend finds nothing to delete).

It stops when the last comparison found every covered document present and current and nothing is
left to embed, or when a kind of pass has run `max_embed_passes` times; it pushes `resume`, whose
`currency` is that last comparison, the proof verify_embeddings checks. The comparison is skipped
when the source's write position, recorded by start_reindex before the first copy into a destination
that held nothing, is unchanged (es_embedding.index.stamp): then `currency` records that proof, and
why; otherwise it records why the comparison was needed. Before a pass that infers,
a deployment being allocated again (node restart) is waited for (es_embedding.index.allocation).

Every pass's ES task id is kept in the task's `task_state_store` as soon as the cluster returns it,
so a retry after a worker crash re-attaches to the running task instead of starting a second one;
a pass whose answer was lost is found by its description and followed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from es_embedding import checks
from es_embedding.base import TaskMemory
from es_embedding.errors import EmbeddingError, ReindexFailedError
from es_embedding.index import stamp
from es_embedding.index.allocation import allocated_or_defer, resumed
from es_embedding.index.currency import ID_LIMIT, Comparison, ReEmbed, ScopeReader, re_embed_plan
from es_embedding.index.scope import Scope
from es_embedding.index.start import (
    ReindexStage,
    ReindexStarter,
    copy_missing,
    deployment_queues,
    embed_batch_size,
)
from es_embedding.settings import ReindexSettings
from es_embedding.triggers import ReindexTaskTrigger

TASK_KEY = "es_task_id"  # task_state_store key of the pass running now
PASS_KEY = "resume_pass"  # task_state_store key of {"kind", "number", "batch_size"} of that pass
HISTORY_KEY = "resume_history"  # task_state_store key of the finished passes


def next_batch_size(previous: int | None, planned: int, failed_before: bool) -> int:
    """The embed pass's batch: the planned size first; half of the previous one after a pass whose
    documents failed (a queue overflow is not repeated at the same rate)."""
    if previous is None:
        return planned
    return max(1, previous // 2) if failed_before else previous


class Counts(NamedTuple):
    """The scope's numbers: source documents covered (at most max_docs), destination documents in
    the scope, those of them without their embedding, and the source's documents in the scope."""

    expected: int
    present: int
    unembedded: int
    source: int = 0


class CompleteIndexOperator(ReindexStage):
    """`complete_index`: copies what the destination lacks, embeds what lacks an embedding, re-embeds what is
    stale and removes what left the scope, pass after pass (each one an ES task the operator defers
    on), until the comparison finds everything current or `max_embed_passes` passes of a kind ran.
    Pushes `resume` ({passes, copied, embedded, re_embedded, removed, lost_tasks, expected, present,
    still_missing, currency})."""

    template_fields: Sequence[str] = (*ReindexStage.template_fields, "dest_query", "source_stamp")
    ui_color = "#fff2d6"

    def __init__(
        self, *, dest_query: dict | str | None = None, source_stamp: dict | str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        # The destination's documents this run covers (incremental: its interval); None: all.
        self.dest_query = dest_query
        # start_reindex's record of the source's write position before the first copy (or None).
        self.source_stamp = source_stamp

    @property
    def scope(self) -> Scope:
        return Scope.of(self.query, self.dest_query)

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

    def allocation_complete(self, context: Any, event: dict | None = None) -> Any:
        """Back from waiting for the deployment's allocation: the next decision."""
        resumed(event)
        return self.next_pass(context, TaskMemory(context))

    # --- one decision ---------------------------------------------------------------------------

    def next_pass(self, context: Any, memory: TaskMemory) -> Any:
        reindex = self.run_settings[ReindexSettings]
        backend = self.backend
        history: list[dict] = memory.get(HISTORY_KEY, [])
        done = Counter(p["kind"] for p in history)

        def room(kind: str) -> bool:
            return done[kind] < reindex.max_embed_passes

        counts = self.counts(reindex)
        self.log.info(
            "[%s]: %d of %d documents of the scope present, %d without embedding (passes so far: %s)",
            self.dest_index,
            counts.present,
            counts.expected,
            counts.unembedded,
            dict(done) or "none",
        )
        if counts.present < counts.expected and room("copy") and backend.copies_without_inference:
            return self.start_copy(memory, reindex, done["copy"] + 1)
        if counts.unembedded and room("embed") and backend.embeds_in_place:
            allocated_or_defer(self, self.deployment_id, "allocation_complete")
            previous = next((p for p in reversed(history) if p["kind"] == "embed"), None)
            return self.start_embed(memory, reindex, previous, done["embed"] + 1)

        verdict = self.unchanged_source(counts, history)
        if verdict.proven:
            self.log.info("Currency proven without reading the documents: %s", verdict.reason)
            memory.delete(TASK_KEY)
            return self.publish(
                context, resume=self.summary(history, counts, stamp_proof(counts, verdict), 0)
            )
        self.log.info("Currency: comparing contents, since %s", verdict.reason)
        reader = ScopeReader(self, self.source_index, self.dest_index, self.scope, backend.added_fields())
        comparison = reader.compare(ID_LIMIT)
        self.log.info("[%s] compared with [%s]: %s", self.dest_index, self.source_index, comparison.summary())
        plan = re_embed_plan(comparison, counts.expected)
        if plan and room("re_embed"):
            allocated_or_defer(self, self.deployment_id, "allocation_complete")
            return self.start_re_embed(memory, comparison, plan, done["re_embed"] + 1)

        removed = self.prune(reader, counts, comparison)
        proof = {**comparison.summary(), "proof": "comparison", "why_compared": verdict.reason}
        summary = self.summary(history, counts, proof, removed)
        if comparison.complete and not counts.unembedded:
            self.log.info("Destination complete and current: %s", summary)
        else:
            self.log.warning("Passes exhausted, verify_embeddings reports what is left: %s", summary)
        memory.delete(TASK_KEY)
        return self.publish(context, resume=summary)

    def unchanged_source(self, counts: Counts, history: list[dict]) -> stamp.Verdict:
        """Whether start_reindex's source stamp, unchanged now, proves the destination current
        (es_embedding.index.stamp), and why or why not."""
        facts = stamp.RunFacts(self.scope.source, history, counts.present, counts.expected, counts.unembedded)
        recorded = self.source_stamp if isinstance(self.source_stamp, dict) and self.source_stamp else None
        if recorded is None:
            return stamp.decide(None, None, facts)
        return stamp.decide(recorded, stamp.now(self, self.source_index, self.dest_index), facts)

    def counts(self, reindex: ReindexSettings) -> Counts:
        scope, backend = self.scope, self.backend
        with self.calling(f"counting the scope in [{self.source_index}] and [{self.dest_index}]"):
            self.es.indices.refresh(index=self.dest_index)
            in_source = expected = self.es.count(index=self.source_index, query=scope.source)["count"]
            if reindex.max_docs:
                expected = min(expected, reindex.max_docs)
            present = self.es.count(index=self.dest_index, query=scope.dest)["count"]
            unembedded = self.es.count(index=self.dest_index, query=scope.dest_where(backend.unembedded()))[
                "count"
            ]
        return Counts(expected, present, unembedded, in_source)

    def summary(self, history: list[dict], counts: Counts, proof: dict, removed: int) -> dict:
        def total(kind: str, *keys: str) -> int:
            return sum(p.get(key) or 0 for p in history if p["kind"] == kind for key in keys)

        return {
            "passes": len(history),
            "copied": total("copy", "created"),
            "embedded": total("embed", "updated"),
            "re_embedded": total("re_embed", "created", "updated"),
            "removed": removed,
            "lost_tasks": sum(1 for p in history if p.get("lost")),
            "expected": counts.expected,
            "present": counts.present - removed,
            "still_missing": counts.unembedded,
            # The proof verify_embeddings may take as its own (es_embedding.publish.verify).
            "currency": {
                **proof,
                "dest_index": self.dest_index,
                "present": counts.present - removed,
                "removed": removed,
                "finished": datetime.now(UTC).isoformat(),
            },
        }

    # --- the passes -----------------------------------------------------------------------------

    def start_copy(self, memory: TaskMemory, reindex: ReindexSettings, number: int) -> None:
        es_task_id = self.running_reindex() or copy_missing(
            self, self.source_index, self.dest_index, self.scope.source, reindex, self.backend
        )
        self.remember(memory, es_task_id, {"kind": "copy", "number": number})
        self.log.info(
            "Copy pass %d: ES task %s copies the documents [%s] lacks", number, es_task_id, self.dest_index
        )
        return self.wait_for(es_task_id)

    def start_embed(
        self, memory: TaskMemory, reindex: ReindexSettings, previous: dict | None, number: int
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
        request = self.backend.embed_in_place(
            index=self.dest_index,
            query=self.scope.dest_where(self.backend.unembedded()),
            scroll_size=batch,
            conflicts="proceed",
            requests_per_second=reindex.requests_per_second,
            wait_for_completion=False,
        )
        with self.calling(f"embedding the documents of [{self.dest_index}] without embedding"):
            es_task_id = self.hook.once().update_by_query(**request)["task"]
        self.remember(memory, es_task_id, {"kind": "embed", "number": number, "batch_size": batch})
        self.log.info(
            "Embed pass %d: ES task %s embeds what lacks an embedding in batches of %d",
            number,
            es_task_id,
            batch,
        )
        return self.wait_for(es_task_id)

    def start_re_embed(self, memory: TaskMemory, comparison: Comparison, plan: ReEmbed, number: int) -> None:
        """Copies again and embeds the missing and stale documents: by id, or the whole scope when
        there are more of them than ID_LIMIT."""
        es_task_id = self.running_reindex()
        if es_task_id is None:
            starter = ReindexStarter(
                stage=self,
                source_index=self.source_index,
                dest_index=self.dest_index,
                query=self.scope.source,
                deployment_id=self.deployment_id,
                backend=self.backend,
                settings=self.run_settings[ReindexSettings],
            )
            es_task_id, what = starter.start_re_embed(plan)
            self.log.info(
                "Re-embed pass %d: ES task %s copies again and embeds %s (%d missing, %d stale)",
                number,
                es_task_id,
                what,
                comparison.missing,
                comparison.stale,
            )
        self.remember(memory, es_task_id, {"kind": "re_embed", "number": number})
        return self.wait_for(es_task_id)

    def prune(self, reader: ScopeReader, counts: Counts, comparison: Comparison) -> int:
        """Deletes the destination's scope documents whose source left the scope; returns how many.
        Only once every source document of the scope is present and current: then they all lie in
        the destination's scope too, and what else it holds is exactly what left."""
        if not comparison.complete or counts.present <= comparison.current:
            return 0
        self.log.info(
            "[%s] holds %d documents of the scope, the source %d: removing those the source no longer has there",
            self.dest_index,
            counts.present,
            comparison.current,
        )
        removed = 0
        for batch in reader.orphans():
            operations = [
                {
                    "delete": {
                        "_index": self.dest_index,
                        "_id": h["_id"],
                        **({"routing": h["_routing"]} if h.get("_routing") else {}),
                    }
                }
                for h in batch
            ]
            with self.calling(f"deleting {len(batch)} documents from [{self.dest_index}]"):
                answer = self.es.bulk(operations=operations)
            failed = [
                item["delete"] for item in answer["items"] if item["delete"].get("status") not in (200, 404)
            ]
            if failed:
                raise ReindexFailedError(
                    f"deleting from [{self.dest_index}] the documents that left the scope: {len(failed)} failed, "
                    f"e.g. [{failed[0].get('_id')}] {failed[0].get('error')}"
                )
            removed += sum(1 for item in answer["items"] if item["delete"].get("result") == "deleted")
            self.log.info("Removed from [%s]: %s", self.dest_index, ", ".join(h["_id"] for h in batch[:10]))
        return removed

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
        entry = {**current, **{k: result.get(k) for k in ("created", "updated", "version_conflicts", "lost")}}
        failed = self.backend.failed()
        if current.get("kind") in ("embed", "re_embed") and not result.get("lost") and failed is not None:
            with self.calling(f"counting recorded failures in [{self.dest_index}]"):
                self.es.indices.refresh(index=self.dest_index)
                entry["failed_docs"] = self.es.count(
                    index=self.dest_index, query=self.scope.dest_where(failed)
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

    def running_reindex(self) -> str | None:
        """A copy or re-embed pass into the destination already running (a try whose answer was
        lost started it): followed rather than started twice."""
        running = self.find_running(f"reindex from [{self.source_index}] to [{self.dest_index}]")
        if running:
            self.log.info(
                "A reindex into [%s] is already running as %s: following it", self.dest_index, running
            )
        return running

    def find_running(self, description: str) -> str | None:
        with self.calling("listing running bulk-by-scroll tasks"):
            tasks = dict(self.es.tasks.list(actions="*byquery,*reindex", detailed=True))
        return checks.running_task(tasks, description)


def stamp_proof(counts: Counts, verdict: stamp.Verdict) -> dict[str, Any]:
    """The currency proof of an unchanged source: nothing compared, every covered document current
    as of now (the source's count, for verification to check it is still the one proven)."""
    return {
        "proof": "unchanged_source",
        "cut": datetime.now(UTC).isoformat(timespec="seconds"),
        "compared": 0,
        "current": counts.present,
        "missing": 0,
        "stale": 0,
        "source_count": counts.source,
        "reason": verdict.reason,
    }
