"""When a fault bites: armed before the run ("start"), as a task's first try starts ("task:<id>"), or
in the middle of the run's reindex ("reindex:<fraction>", once the reindex task has written that
share of its documents).

`TaskHooks` wraps the in-process runner of dag.test() (airflow.sdk.execution_time.supervisor.
run_task_in_process): it records the exception each task try ended with (dag.test() writes no task
log files) and calls the moment's action before the task's first try. The task itself is not
touched. `ReindexWatcher` polls the tasks API from a thread of its own.
"""

from __future__ import annotations

import contextlib
import threading
import time
import warnings
from collections.abc import Callable, Generator
from dataclasses import dataclass, field

from elasticsearch import Elasticsearch
from elasticsearch.exceptions import GeneralAvailabilityWarning

# GET _tasks is "technical preview" to the client; the watcher polls it on purpose.
warnings.filterwarnings("ignore", category=GeneralAvailabilityWarning)


def bare_task_id(task_id: str) -> str:
    """A task's id without its task group's prefix."""
    return task_id.rsplit(".", 1)[-1]


@dataclass
class TaskTry:
    task_id: str
    try_number: int
    error: str | None


@dataclass
class TaskHooks:
    """The tries of one run's tasks, and actions to take as a task first starts."""

    on_start: dict[str, Callable[[], None]] = field(default_factory=dict)
    tries: list[TaskTry] = field(default_factory=list)

    def errors(self, task_id: str) -> list[str]:
        return [t.error for t in self.tries if t.task_id == task_id and t.error]

    @contextlib.contextmanager
    def installed(self) -> Generator[TaskHooks, None, None]:
        from airflow.sdk.execution_time import supervisor

        real = supervisor.run_task_in_process

        def run(ti, task, client=None):
            name = bare_task_id(ti.task_id)
            if action := self.on_start.pop(name, None):
                action()
            result = real(ti=ti, task=task, client=client)
            error = f"{type(result.error).__name__}: {result.error}" if result.error is not None else None
            self.tries.append(TaskTry(name, ti.try_number, error))
            return result

        supervisor.run_task_in_process = run
        try:
            yield self
        finally:
            supervisor.run_task_in_process = real


def reindex_progress(es: Elasticsearch, dest: str) -> tuple[str, int, int] | None:
    """(task id, documents written, total) of the running reindex into `dest` (a parent task whose
    description names it), or None when none runs."""
    listed = es.tasks.list(actions="*reindex", detailed=True)["nodes"]
    for node in listed.values():
        for task_id, task in node["tasks"].items():
            if task.get("parent_task_id") or f" to [{dest}]" not in (task.get("description") or ""):
                continue
            status = task.get("status") or {}
            written = sum(status.get(k) or 0 for k in ("created", "updated", "noops", "version_conflicts"))
            return task_id, written, status.get("total") or 0
    return None


def describe(progress: tuple[str, int, int] | None) -> str:
    if progress is None:
        return "no reindex running"
    task_id, written, total = progress
    return f"reindex task {task_id} running, {written} of {total} documents written"


class ReindexWatcher(threading.Thread):
    """Calls `action` once the first reindex into `dest` has written `fraction` of its documents
    (0: as soon as it runs); `seen` says what it found then."""

    def __init__(self, url: str, dest: str, fraction: float, action: Callable[[], None]) -> None:
        super().__init__(daemon=True, name=f"reindex-watcher-{dest}")
        self.url, self.dest, self.fraction, self.action = url, dest, fraction, action
        self.done = threading.Event()
        self.seen: str | None = None

    def run(self) -> None:
        es = Elasticsearch(self.url, request_timeout=10, max_retries=0)
        try:
            while not self.done.is_set():
                try:
                    progress = reindex_progress(es, self.dest)
                except Exception:  # noqa: BLE001 - the cluster may be faulty on purpose; poll again
                    progress = None
                # A share of the documents needs the total, which the first batch reports.
                if progress is not None and (
                    self.fraction == 0 or (progress[2] and progress[1] >= self.fraction * progress[2])
                ):
                    self.action()
                    self.seen = describe(progress)
                    return
                time.sleep(0.01)
        finally:
            es.close()

    def stop(self) -> None:
        self.done.set()
        self.join(timeout=10)


@dataclass
class Moment:
    """Arms `action` at `moment` for one run (see the module's docstring); `fired` says when it did."""

    moment: str
    action: Callable[[], None]
    url: str
    dest: str
    fired: str | None = None
    context: str | None = None  # what the action found, for `fired` (set by the action)
    watcher: ReindexWatcher | None = None

    @contextlib.contextmanager
    def armed(self, hooks: TaskHooks) -> Generator[Moment, None, None]:
        kind, _, arg = self.moment.partition(":")
        if kind == "start":
            self.action()
            self.fired = "at the run's start"
        elif kind == "task":

            def at_task() -> None:
                self.action()
                self.fired = f"as {arg} started" + (f" ({self.context})" if self.context else "")

            hooks.on_start[arg] = at_task
        elif kind == "reindex":
            self.watcher = ReindexWatcher(self.url, self.dest, float(arg), self.action)
            self.watcher.start()
        else:
            raise ValueError(f"unknown moment {self.moment!r}")
        try:
            yield self
        finally:
            if self.watcher is not None:
                self.watcher.stop()
                self.fired = self.watcher.seen and f"mid-reindex: {self.watcher.seen}"
