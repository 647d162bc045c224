"""The model-import task, registered with the cluster's TaskManager (tasks.py) per the shared contract.
Until that module provides `register`, a local stand-in keeps downloads working (not listed in _tasks)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster
    from es_sandbox.errors import EsError

MODEL_IMPORT_ACTION = "xpack/ml/model_import[n]"
_local_ids = itertools.count(1)


@dataclass
class LocalTask:
    full_id: str
    status: dict[str, Any] | None = None
    cancelled: bool = False
    cancel_reason: str | None = None
    on_cancel: list = field(default_factory=list)


def register_import_task(cluster: Cluster, model_id: str) -> Any:
    register = getattr(cluster.tasks, "register", None)
    description = f"model_id-{model_id}"
    if register is None:
        return LocalTask(full_id=f"{cluster.master.id}:{next(_local_ids)}")
    return register(MODEL_IMPORT_ACTION, description, cancellable=True, node=cluster.master)


def finish_task(cluster: Cluster, task: Any, error: EsError | None = None) -> None:
    finish = getattr(cluster.tasks, "finish", None)
    if finish is not None and not isinstance(task, LocalTask):
        finish(task, error=error)
