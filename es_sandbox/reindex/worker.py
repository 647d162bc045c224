"""Running a bulk-by-scroll request as Elasticsearch does (AbstractAsyncBulkByScrollAction,
WorkerBulkByScrollTaskState, LeaderBulkByScrollTaskState):

- the matching documents are a snapshot of references taken at the start (a scroll context), read
  in batches of `size`; each batch is ONE bulk request whose items run concurrently, so inference
  queue limits bite as on a real cluster;
- before every batch after the first (and before finishing) the worker waits lastBatchSize / rps
  (capped at one hour; ES 9 does not subtract the batch's own time, elastic/elasticsearch#67932);
  a rethrottle to a faster rate reschedules that wait at once, a slower rate applies to the next;
- a failed bulk item ends the request with `failures`; version conflicts are counted and end it
  only with conflicts=abort; cancellation ends it after the current batch with `canceled`;
- with the `pipeline_drop` fault, items rejected with 429 are retried after a backoff without the
  pipeline (elastic/elasticsearch#78792): they land without embeddings and `failures` stays empty;
- `slices` > 1 runs one child task per slice under a leader whose status only counts finished slices.
"""

from __future__ import annotations

import asyncio
import math
import time
import zlib
from typing import TYPE_CHECKING, Any

from es_sandbox import documents, search
from es_sandbox.documents import scripted
from es_sandbox.errors import illegal_argument
from es_sandbox.ingest.document import clone
from es_sandbox.reindex.job import UNLIMITED, Job

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster
    from es_sandbox.tasks import Task

MAX_THROTTLE_WAIT = 3600.0
RETRY_BACKOFF_INITIAL = 0.5
MAX_BULK_RETRIES = 11


def backoff(attempt: int) -> float:
    """BackoffPolicy.exponentialBackoff(500ms): start + 10 * ((int) e^(0.8 * n) - 1) ms."""
    return RETRY_BACKOFF_INITIAL + 10 * (int(math.exp(0.8 * attempt)) - 1) / 1000.0


def rps_value(rps: float) -> float | int:
    return -1 if rps == UNLIMITED else rps


class _Wait:
    """One scheduled delay before the next batch (DelayedPrepareBulkRequest)."""

    def __init__(self, delay: float, rps: float) -> None:
        self.delay = delay
        self.rps = rps
        self.deadline = time.monotonic() + delay

    @property
    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


class Worker:
    """One worker: the whole request, or one slice of it."""

    def __init__(self, cluster: Cluster, task: Task, job: Job, slice_id: int | None = None) -> None:
        self.cluster = cluster
        self.task = task
        self.job = job
        self.slice_id = slice_id
        self.rps = job.requests_per_second
        self.total = self.updated = self.created = self.deleted = 0
        self.batches = self.version_conflicts = self.noops = 0
        self.bulk_retries = self.search_retries = 0
        self.throttled = 0.0
        self.failures: list[dict[str, Any]] = []
        self._wait: _Wait | None = None
        self._wake = asyncio.Event()
        task.status_fn = self.status
        task.rethrottle = self.rethrottle
        task.on_cancel.append(self._on_cancel)

    # --- status ----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """BulkByScrollTask.Status.innerXContent (include_created / include_updated by kind)."""
        status: dict[str, Any] = {}
        if self.slice_id is not None:
            status["slice_id"] = self.slice_id
        status["total"] = self.total
        if self.job.include_updated:
            status["updated"] = self.updated
        if self.job.include_created:
            status["created"] = self.created
        status.update(
            deleted=self.deleted,
            batches=self.batches,
            version_conflicts=self.version_conflicts,
            noops=self.noops,
            retries={"bulk": self.bulk_retries, "search": self.search_retries},
            throttled_millis=int(self.throttled * 1000),
            requests_per_second=rps_value(self.rps),
        )
        if self.task.cancel_reason is not None:
            status["canceled"] = self.task.cancel_reason
        status["throttled_until_millis"] = int(self._wait.remaining * 1000) if self._wait else 0
        return status

    @property
    def processed(self) -> int:
        return self.created + self.updated + self.deleted

    # --- throttling and cancellation -------------------------------------------------------

    def rethrottle(self, rps: float) -> None:
        """WorkerBulkByScrollTaskState.rethrottle: faster now, slower from the next batch. A rescheduled
        wait keeps the rate it was scheduled with and scales what remains of it."""
        wait = self._wait
        self.rps = rps
        if wait is None or rps < wait.rps:
            return
        delay = 0.0 if rps == UNLIMITED else round(wait.remaining * wait.rps / rps, 9)
        self._wait = _Wait(delay, wait.rps)
        self._wake.set()

    def _on_cancel(self) -> None:
        if not self.task.lost:
            self.rethrottle(UNLIMITED)  # handleCancel: wake any throttle wait so the worker stops

    async def _throttle(self, last_batch_size: int) -> None:
        if self.rps == UNLIMITED or last_batch_size == 0:
            return
        self._wait = _Wait(min(MAX_THROTTLE_WAIT, last_batch_size / self.rps), self.rps)
        while True:
            wait = self._wait
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), wait.remaining)
            except TimeoutError:
                pass
            if self._wait is wait and wait.remaining <= 0:
                break
        # Only the delay that ran to its end counts, as in DelayedPrepareBulkRequest.
        self.throttled += self._wait.delay
        self._wait = None

    # --- the work --------------------------------------------------------------------------

    def snapshot(self, query: dict[str, Any] | None) -> list[tuple[str, str, dict[str, Any], Any]]:
        """The matching documents now: references to their current versions, never copies."""
        store = self.cluster.indices
        sliced = self.job.slice_filter
        hits = []
        for index_name, doc_id, source in store.scan(self.job.source, query):
            if sliced is not None and zlib.crc32(doc_id.encode()) % sliced[1] != sliced[0]:
                continue
            hits.append((index_name, doc_id, source, store.get(index_name).docs.get(doc_id)))
        return hits

    async def run(self, hits: list[tuple[str, str, dict[str, Any], Any]]) -> dict[str, Any]:
        start = time.monotonic()
        job = self.job
        self.total = len(hits) if job.max_docs is None else min(len(hits), job.max_docs)
        source_filter = (
            search.SourceFilter.parse(job.source_filter) if job.source_filter not in (None, True) else None
        )
        position, last_batch_size = 0, 0
        while not self.task.cancelled:
            await self._throttle(last_batch_size)
            if self.task.cancelled:
                break
            size = job.batch_size
            if job.max_docs is not None:
                size = min(size, job.max_docs - self.processed)
            batch = hits[position : position + size] if size > 0 else []
            if not batch:
                break
            self.batches += 1
            actions = [self._action(hit, source_filter) for hit in batch]
            self.noops += sum(1 for a in actions if a is None)  # the script set ctx.op to noop
            wanted = [a for a in actions if a is not None]
            items = await self._bulk(wanted) if wanted else []
            self._count(items)
            if self.failures:
                break
            position += len(batch)
            if job.max_docs is not None and self.processed >= job.max_docs:
                break
            last_batch_size = len(items)
        return self.response(time.monotonic() - start)

    def response(self, took: float) -> dict[str, Any]:
        return {"took": int(took * 1000), "timed_out": False, **self.status(), "failures": self.failures}

    def _action(
        self, hit: tuple[str, str, dict[str, Any], Any], source_filter: search.SourceFilter | None
    ) -> documents.BulkAction | None:
        index_name, doc_id, source, doc = hit
        job = self.job
        if job.kind == "delete_by_query":
            return documents.BulkAction(
                op="delete",
                index=index_name,
                id=doc_id,
                source=None,
                pipeline=None,
                if_seq_no=doc.seq_no,
                if_primary_term=doc.primary_term,
            )
        if source_filter is None or source_filter.exclude_vectors is not False:
            # Metadata kept in the stored source (semantic_text's `_inference_fields`) is not part of the
            # `_source` a reindex reads unless exclude_vectors is false: the destination embeds again.
            source = {k: v for k, v in source.items() if k not in search.source.HIDDEN_SOURCE_KEYS}
        body = source_filter.apply(source) if source_filter is not None else source
        dest_index = index_name if job.kind == "update_by_query" else job.dest_index
        dest_id, op = doc_id, "index"
        if job.script is not None:
            op, changed_index, dest_id, body = self._apply_script(index_name, doc_id, doc, body)
            dest_index = changed_index or dest_index
            if op == "noop":
                return None
        if op == "delete":
            versioned = (
                {"if_seq_no": doc.seq_no, "if_primary_term": doc.primary_term}
                if job.kind == "update_by_query"
                else {}
            )
            return documents.BulkAction(
                op="delete", index=dest_index, id=dest_id, source=None, pipeline=None, **versioned
            )
        if job.kind == "update_by_query":
            return documents.BulkAction(
                op="index",
                index=index_name,
                id=doc_id,
                source=clone(body),
                pipeline=None,
                if_seq_no=doc.seq_no,
                if_primary_term=doc.primary_term,
            )
        return documents.BulkAction(
            op=job.op_type, index=dest_index, id=dest_id, source=clone(body), pipeline=None
        )

    def _apply_script(
        self, index_name: str, doc_id: str, doc: Any, body: dict[str, Any]
    ) -> tuple[str, str | None, str, dict[str, Any]]:
        """ScriptApplier: the script runs over ctx; returns the operation, the index it moved the
        document to (reindex only), its id and its source."""
        ctx = {
            "_index": index_name,
            "_id": doc_id,
            "_version": doc.version,
            "_routing": None,
            "_source": clone(body),
            "op": "index",
            "_now": int(time.time() * 1000),
        }
        op = scripted.run(self.job.script, ctx)
        if self.job.kind == "update_by_query":
            for key, was in (("_index", index_name), ("_id", doc_id)):
                if ctx.get(key) != was:
                    raise illegal_argument(f"Modifying [{key}] not allowed")
        moved = ctx.get("_index") if ctx.get("_index") != index_name else None
        return op, moved, ctx.get("_id") or doc_id, ctx["_source"]

    async def _bulk(self, actions: list[documents.BulkAction]) -> list[tuple[str, dict[str, Any]]]:
        """One bulk request; with the pipeline_drop fault, 429-rejected items are retried without the
        pipeline (Retry with the request rebuilt, elastic/elasticsearch#78792)."""
        response = await self.cluster.documents.bulk(actions, pipeline=self.job.pipeline)
        items = [next(iter(item.items())) for item in response["items"]]
        attempt = 0
        while self._drops_pipeline() and attempt < MAX_BULK_RETRIES:
            rejected = [i for i, (_, r) in enumerate(items) if r.get("status") == 429 and "error" in r]
            if not rejected:
                break
            await asyncio.sleep(backoff(attempt))
            attempt += 1
            self.bulk_retries += 1
            retry = await self.cluster.documents.bulk([actions[i] for i in rejected], pipeline="_none")
            for i, item in zip(rejected, retry["items"], strict=True):
                items[i] = next(iter(item.items()))
        return items

    def _drops_pipeline(self) -> bool:
        fault = self.cluster.faults.spec.pipeline_drop
        return fault is not None and fault.enabled

    def _count(self, items: list[tuple[str, dict[str, Any]]]) -> None:
        """onBulkResponse / recordFailure."""
        for op, result in items:
            if "error" in result:
                status = result.get("status", 500)
                if status == 409:
                    self.version_conflicts += 1
                    if not self.job.abort_on_conflict:
                        continue
                failure = {
                    "index": result.get("_index"),
                    "id": result.get("_id"),
                    "cause": result["error"],
                    "status": status,
                }
                self.failures.append(failure)
                continue
            if op in ("index", "create"):
                if result.get("result") == "created":
                    self.created += 1
                else:
                    self.updated += 1
            elif op == "update":
                self.updated += 1
            elif op == "delete":
                self.deleted += 1


class Leader:
    """The parent of sliced workers: its status merges the slices that have finished."""

    def __init__(self, task: Task, job: Job, slices: int) -> None:
        self.task = task
        self.job = job
        self.results: list[dict[str, Any] | None] = [None] * slices
        self.workers: list[Worker] = []
        task.status_fn = self.status
        task.rethrottle = self.rethrottle

    def status(self, *, with_running: bool = False) -> dict[str, Any]:
        """Finished slices only (LeaderBulkByScrollTaskState.getStatus); a rethrottle answer also shows
        the running ones (taskInfoGivenSubtaskInfo)."""
        statuses: list[dict[str, Any] | None] = []
        for i, result in enumerate(self.results):
            if result is not None:
                statuses.append(
                    {k: v for k, v in result.items() if k not in ("took", "timed_out", "failures")}
                )
            elif with_running and i < len(self.workers):
                statuses.append(self.workers[i].status())
            else:
                statuses.append(None)
        return merge_statuses(statuses, self.task.cancel_reason, self.job)

    def response(self) -> dict[str, Any]:
        finished = [r for r in self.results if r is not None]
        status = self.status()
        return {
            "took": max((r["took"] for r in finished), default=0),
            "timed_out": any(r["timed_out"] for r in finished),
            **status,
            "failures": [f for r in finished for f in r["failures"]],
        }

    def rethrottle(self, rps: float) -> None:
        """TransportRethrottleAction: the new rate is shared by the slices still running."""
        running = [w for w in self.workers if w.task.full_id in w.task.manager.running]
        for worker in running:
            worker.rethrottle(rps / len(running) if rps != UNLIMITED else UNLIMITED)


def merge_statuses(statuses: list[dict[str, Any] | None], canceled: str | None, job: Job) -> dict[str, Any]:
    """BulkByScrollTask.Status(List<StatusOrException>, reasonCancelled)."""
    done = [s for s in statuses if s is not None]
    merged: dict[str, Any] = {"total": sum(s["total"] for s in done)}
    if job.include_updated:
        merged["updated"] = sum(s.get("updated", 0) for s in done)
    if job.include_created:
        merged["created"] = sum(s.get("created", 0) for s in done)
    rps = sum(-1 if s["requests_per_second"] == -1 else s["requests_per_second"] for s in done)
    merged.update(
        deleted=sum(s["deleted"] for s in done),
        batches=sum(s["batches"] for s in done),
        version_conflicts=sum(s["version_conflicts"] for s in done),
        noops=sum(s["noops"] for s in done),
        retries={
            "bulk": sum(s["retries"]["bulk"] for s in done),
            "search": sum(s["retries"]["search"] for s in done),
        },
        throttled_millis=sum(s["throttled_millis"] for s in done),
        requests_per_second=-1 if any(s["requests_per_second"] == -1 for s in done) else rps,
    )
    if canceled is not None:
        merged["canceled"] = canceled
    merged["throttled_until_millis"] = min((s["throttled_until_millis"] for s in done), default=0)
    merged["slices"] = statuses
    return merged
