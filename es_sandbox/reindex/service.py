"""Running _reindex, _update_by_query and _delete_by_query requests as tasks.

A request becomes a task (indices:data/write/reindex, .../update/byquery, .../delete/byquery) whose
work runs in the event loop; wait_for_completion=false answers {"task": id} at once and the task
stores its result, otherwise the HTTP answer is the BulkByScrollResponse, with the status of its
worst failure as Elasticsearch's BulkIndexByScrollResponseContentListener does.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from es_sandbox import search
from es_sandbox.errors import ConnectionDropped, EsError, validation_failed
from es_sandbox.reindex.job import AUTO_SLICES, UNLIMITED, Job
from es_sandbox.reindex.worker import Leader, Worker
from es_sandbox.tasks import Task

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster

log = logging.getLogger("es_sandbox.reindex")


async def submit(cluster: Cluster, job: Job):
    task = cluster.tasks.register(
        job.action, job.description, cancellable=True, store_result=not job.wait_for_completion
    )
    work = asyncio.create_task(execute(cluster, task, job))
    work.add_done_callback(lambda t: t.cancelled() or t.exception())  # the error is in the task's result
    task.on_cancel.append(lambda: work.cancel() if task.lost else None)
    if not job.wait_for_completion:
        return {"task": task.full_id}
    try:
        response = await asyncio.shield(work)
    except asyncio.CancelledError:
        if task.lost:  # the node restarted under the request: the connection dies with it
            raise ConnectionDropped(task.full_id) from None
        raise
    return response_status(response), response


def response_status(response: dict[str, Any]) -> int:
    """BulkIndexByScrollResponseContentListener: the worst failure's status, else 200."""
    status = 408 if response.get("timed_out") else 200
    for failure in response.get("failures", ()):
        status = max(status, failure.get("status", 500))
    return status


async def execute(cluster: Cluster, task: Task, job: Job) -> dict[str, Any]:
    try:
        response = await _run(cluster, task, job)
    except EsError as err:
        cluster.tasks.finish(task, error=err)
        raise
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.exception("bulk-by-scroll task %s failed", task.full_id)
        err = EsError(500, "exception", f"{type(exc).__name__}: {exc}")
        cluster.tasks.finish(task, error=err)
        raise err from None
    cluster.tasks.finish(task, response=response)
    return response


async def _run(cluster: Cluster, task: Task, job: Job) -> dict[str, Any]:
    query = await search.prepare_query(job.query, cluster)
    indices = cluster.indices.resolve(job.source)
    if job.kind == "reindex" and job.dest_index is not None:
        dest = {i.name for i in cluster.indices.resolve(job.dest_index, ignore_unavailable=True)}
        for index in indices:
            if index.name in dest:
                raise validation_failed(f"reindex cannot write into an index its reading from [{index.name}]")
    slices = job.slices
    if slices == AUTO_SLICES:
        slices = min((i.number_of_shards for i in indices), default=1)
    if slices == 1:
        worker = Worker(cluster, task, job)
        return await worker.run(worker.snapshot(query))

    leader = Leader(task, job, slices)
    for slice_id in range(slices):
        child_job = dataclasses.replace(
            job,
            slice_filter=(slice_id, slices),
            max_docs=None
            if job.max_docs is None
            else job.max_docs // slices + (slice_id < job.max_docs % slices),
            requests_per_second=UNLIMITED
            if job.requests_per_second == UNLIMITED
            else job.requests_per_second / slices,
        )
        child = cluster.tasks.register(job.action, job.description, cancellable=True, parent=task)
        leader.workers.append(Worker(cluster, child, child_job, slice_id))
    if task.cancelled:
        for worker in leader.workers:
            worker.task.cancel(task.cancel_reason or "")

    async def run_slice(slice_id: int, worker: Worker) -> None:
        child_work = asyncio.current_task()
        worker.task.on_cancel.append(lambda: child_work.cancel() if worker.task.lost else None)
        try:
            result = await worker.run(worker.snapshot(query))
        except EsError as err:
            cluster.tasks.finish(worker.task, error=err)
            raise
        leader.results[slice_id] = result
        cluster.tasks.finish(worker.task, response=result)

    await asyncio.gather(*(run_slice(i, w) for i, w in enumerate(leader.workers)))
    return leader.response()
