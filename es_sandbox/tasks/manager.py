"""TaskManager (cluster.tasks): the tasks subsystem's state.

Every long-running action (reindex and friends, model downloads) registers a Task here. Ids are
"<node_id>:<n>" with n increasing. A finished task that asked to store its result keeps it (the
sandbox's stand-in for the .tasks index) until reset; every other finished task is forgotten, so
GET answers 404 as Elasticsearch does. A node restart drops every running task: its work is
cancelled and it never stores a result.

Contract used by the other subsystems:
    register(action, description, *, cancellable, node=None, parent=None, store_result=False) -> Task
    finish(task, response=None, error=None)
    Task: full_id, status (settable dict, or computed by `status_fn`), cancelled, cancel_reason,
          on_cancel (callbacks run when the task is cancelled or lost), lost
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import time
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from es_sandbox.errors import EsError, illegal_argument, resource_not_found

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster, Node

TASKS_INDEX = ".tasks"
DEFAULT_WAIT_TIMEOUT = 30.0
CANCEL_REASON = "by user request"


class Task:
    def __init__(
        self,
        manager: TaskManager,
        number: int,
        node: Node,
        action: str,
        description: str | None,
        cancellable: bool,
        parent: Task | None,
        store_result: bool,
    ) -> None:
        self.manager = manager
        self.id = number
        self.node = node
        self.action = action
        self.description = description
        self.cancellable = cancellable
        self.parent = parent
        self.store_result = store_result
        self.start_millis = int(time.time() * 1000)
        self.start_nanos = time.monotonic_ns()
        self.end_nanos: int | None = None
        self._status: dict[str, Any] | None = None
        self.status_fn: Callable[[], dict[str, Any]] | None = None
        self.cancelled = False
        self.cancel_reason: str | None = None
        self.on_cancel: list[Callable[[], Any]] = []
        self.rethrottle: Callable[[float], None] | None = None  # set by throttled work (reindex)
        self.lost = False
        self.done = asyncio.Event()

    @property
    def full_id(self) -> str:
        return f"{self.node.id}:{self.id}"

    @property
    def status(self) -> dict[str, Any] | None:
        return self.status_fn() if self.status_fn is not None else self._status

    @status.setter
    def status(self, value: dict[str, Any] | None) -> None:
        self._status = value

    @property
    def children(self) -> list[Task]:
        return [t for t in self.manager.running.values() if t.parent is self]

    def info(self, *, detailed: bool = True, include_cancelled: bool = True) -> dict[str, Any]:
        """TaskInfo.toXContent."""
        end = self.end_nanos if self.end_nanos is not None else time.monotonic_ns()
        info: dict[str, Any] = {
            "node": self.node.id,
            "id": self.id,
            "type": "transport",
            "action": self.action,
        }
        if detailed:
            status = self.status
            if status is not None:
                info["status"] = status
            if self.description is not None:
                info["description"] = self.description
        info["start_time_in_millis"] = self.start_millis
        info["running_time_in_nanos"] = end - self.start_nanos
        info["cancellable"] = self.cancellable
        if include_cancelled and self.cancellable:
            info["cancelled"] = self.cancelled
        if self.parent is not None:
            info["parent_task_id"] = self.parent.full_id
        info["headers"] = {}
        return info

    def cancel(self, reason: str = CANCEL_REASON) -> None:
        """TaskManager.cancelTaskAndDescendants: the task and its children."""
        if not self.cancellable or self.cancelled:
            return
        self.cancelled = True
        self.cancel_reason = reason
        for child in self.children:
            child.cancel(reason)
        for callback in list(self.on_cancel):
            callback()


class TaskManager:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.running: dict[str, Task] = {}
        self.results: dict[str, dict[str, Any]] = {}
        self.tasks_index_exists = False
        self._next = 0

    # --- subsystem contract ----------------------------------------------------------------

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        self._drop_running()

    def reset(self) -> None:
        self._drop_running()
        self.results.clear()
        self.tasks_index_exists = False

    def snapshot(self) -> dict[str, Any]:
        return {"results": self.results, "next": self._next}

    def restore(self, state: dict[str, Any]) -> None:
        self.results = dict(state.get("results", {}))
        self.tasks_index_exists = bool(self.results)
        self._next = max(self._next, int(state.get("next", 0)))

    def on_node_restart(self) -> None:
        self._drop_running()

    def _drop_running(self) -> None:
        """Running tasks vanish with the node: their work is stopped and no result is stored."""
        tasks = list(self.running.values())
        self.running.clear()
        for task in tasks:
            task.lost = True
            task.end_nanos = time.monotonic_ns()
            for callback in list(task.on_cancel):
                callback()
            task.done.set()

    # --- registry --------------------------------------------------------------------------

    def register(
        self,
        action: str,
        description: str | None,
        *,
        cancellable: bool,
        node: Node | None = None,
        parent: Task | None = None,
        store_result: bool = False,
    ) -> Task:
        self._next += 1
        task = Task(
            self,
            self._next,
            node or self.cluster.master,
            action,
            description,
            cancellable,
            parent,
            store_result,
        )
        self.running[task.full_id] = task
        return task

    @contextlib.contextmanager
    def listing(self) -> Generator[list[Task]]:
        """Listing tasks is itself a task, with a child per node, as on a real cluster: they run
        while the block does (the listing sees them) and finish after it; yields them."""
        listing = self.register("cluster:monitor/tasks/lists", None, cancellable=True)
        per_node = [
            self.register("cluster:monitor/tasks/lists[n]", None, cancellable=True, node=n, parent=listing)
            for n in self.cluster.nodes
        ]
        try:
            yield [listing, *per_node]
        finally:
            for task in [*per_node, listing]:
                self.finish(task)

    def finish(
        self, task: Task, response: dict[str, Any] | None = None, error: EsError | None = None
    ) -> None:
        if task.lost or self.running.pop(task.full_id, None) is None:
            return
        task.end_nanos = time.monotonic_ns()
        if task.store_result:
            result: dict[str, Any] = {"completed": True, "task": task.info(include_cancelled=False)}
            if error is not None:
                result["error"] = error.to_xcontent()
            elif response is not None:
                result["response"] = response
            self.results[task.full_id] = result
            self.tasks_index_exists = True
        task.done.set()

    def find(
        self,
        actions: list[str] | None = None,
        parent_task_id: str | None = None,
        nodes: list[str] | None = None,
    ) -> list[Task]:
        tasks = []
        for task in self.running.values():
            if actions and not any(fnmatch.fnmatchcase(task.action, a) for a in actions):
                continue
            if parent_task_id and (task.parent is None or task.parent.full_id != parent_task_id):
                continue
            if nodes and task.node.id not in nodes and task.node.name not in nodes:
                continue
            tasks.append(task)
        return sorted(tasks, key=lambda t: t.id)

    def not_found(self, task_id: str) -> EsError:
        """TransportGetTaskAction: not running and not stored."""
        cause = None
        if not self.tasks_index_exists:
            cause = {
                "type": "index_not_found_exception",
                "reason": f"no such index [{TASKS_INDEX}]",
                "resource.type": "index_expression",
                "resource.id": TASKS_INDEX,
                "index_uuid": "_na_",
                "index": TASKS_INDEX,
            }
        err = resource_not_found(f"task [{task_id}] isn't running and hasn't stored its results")
        err.caused_by = cause
        return err

    async def get(self, task_id: str, *, wait: bool, timeout: float | None) -> dict[str, Any]:
        node_id = parse_task_id(task_id)[0]
        if self.cluster.node(node_id) is None:
            inner = self.not_found(task_id)
            raise EsError(
                404,
                "resource_not_found_exception",
                f"task [{task_id}] belongs to the node [{node_id}] which isn't part of the cluster and there is no "
                "record of the task",
                caused_by=inner.to_xcontent(),
            )
        task = self.running.get(task_id)
        if task is None:
            if task_id in self.results:
                return self.results[task_id]
            raise self.not_found(task_id)
        if not wait:
            return {"completed": False, "task": task.info()}
        try:
            await asyncio.wait_for(task.done.wait(), DEFAULT_WAIT_TIMEOUT if timeout is None else timeout)
        except TimeoutError:
            raise EsError(429, "timeout_exception", "Timed out waiting for completion of task") from None
        if task_id in self.results:
            return self.results[task_id]
        if task.lost:
            raise self.not_found(task_id)
        return {"completed": True, "task": task.info()}


def parse_task_id(task_id: str) -> tuple[str, int]:
    """TaskId(String): 'node:number', or 400 'malformed task id'."""
    parts = task_id.split(":")
    if len(parts) != 2 or not parts[0]:
        raise illegal_argument(f"malformed task id {task_id}")
    try:
        return parts[0], int(parts[1])
    except ValueError:
        raise illegal_argument(f"malformed task id {task_id}") from None
