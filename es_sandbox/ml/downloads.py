"""Downloads of packaged models: a background `xpack/ml/model_import[n]` task that fetches the
definition part by part for --download-seconds (TransportLoadTrainedModelPackage / ModelImporter).

The task is not stored: once it ends, GET _tasks/<id> no longer knows it (404), as in ES. A failed
import is reported the ES way: the PUT with wait_for_completion=true fails with the error, an audit
notification "Model importing failed due to [...]" is written, and the model is left with
fully_defined false and no running task, so starting a deployment answers "Model definition
truncated".
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import time
from typing import TYPE_CHECKING

from es_sandbox.errors import EsError
from es_sandbox.ml import catalog

if TYPE_CHECKING:
    from es_sandbox.ml.models import TrainedModel
    from es_sandbox.ml.service import MlService
    from es_sandbox.tasks import Task

log = logging.getLogger("es_sandbox.ml")
TICK_SECONDS = 0.05
MODEL_IMPORT_ACTION = "xpack/ml/model_import[n]"


class Download:
    def __init__(self, model_id: str, task: Task) -> None:
        self.model_id = model_id
        self.task = task
        self.done = asyncio.Event()
        self.error: EsError | None = None
        self.runner: asyncio.Task[None] | None = None
        self.cancelled_because: str | None = None

    def cancel(self, reason: str | None) -> None:
        """Cancelled on purpose (task cancel API, model delete): the import ends with an error."""
        self.cancelled_because = reason or "by user request"
        if self.runner is not None:
            self.runner.cancel()


def import_failed(reason: str) -> EsError:
    """recordError for an IOException: status 503, the cause rendered as Java prints it."""
    return EsError(
        503,
        "status_exception",
        f"Model importing failed due to an IOException [java.io.IOException: {reason}]",
    )


def task_cancelled(reason: str | None) -> EsError:
    return EsError(400, "task_cancelled_exception", f"task cancelled [{reason or 'by user request'}]")


class Downloader:
    def __init__(self, service: MlService) -> None:
        self.service = service
        self.running: dict[str, Download] = {}

    def start(self, model: TrainedModel, package: catalog.Package) -> Download:
        cluster = self.service.cluster
        task = cluster.tasks.register(
            MODEL_IMPORT_ACTION, f"model_id-{model.model_id}", cancellable=True, node=cluster.master
        )
        task.status = {"total_parts": package.total_parts, "downloaded_parts": 0}
        download = Download(model.model_id, task)
        self.running[model.model_id] = download
        download.runner = self.service.spawn(self._run(model, package, download))
        task.on_cancel.append(lambda *_: self._on_task_cancel(download))
        return download

    def _on_task_cancel(self, download: Download) -> None:
        """The _tasks cancel API, or the task lost with its node (then nobody is told)."""
        if download.task.lost:
            if download.runner is not None:
                download.runner.cancel()
        else:
            download.cancel(download.task.cancel_reason)

    def _fault(self, model_id: str):
        fault = self.service.cluster.faults.spec.model_download
        return fault if fault is not None and fnmatch.fnmatchcase(model_id, fault.model_id) else None

    async def _run(self, model: TrainedModel, package: catalog.Package, download: Download) -> None:
        assert model.definition is not None
        started = time.monotonic()
        total = package.total_parts
        self.service.audit(model.model_id, "starting model import")
        lost = False
        try:
            downloaded = 0
            seconds = self.service.cluster.config.download_seconds
            while downloaded < total:
                fault = self._fault(model.model_id)
                if fault is not None and fault.mode == "fail" and downloaded >= total // 3:
                    raise import_failed(fault.reason)
                elapsed = time.monotonic() - started
                target = total if seconds <= 0 else min(total, int(total * elapsed / seconds))
                if fault is not None:  # a failing download breaks, a stalled one hangs, a third of the way in
                    target = min(target, total // 3)
                if target > downloaded:
                    for part in range(downloaded, target):
                        model.definition.part_lengths[part] = min(
                            catalog.PART_SIZE, package.size - part * catalog.PART_SIZE
                        )
                    downloaded = target
                    download.task.status = {"total_parts": total, "downloaded_parts": downloaded}
                if downloaded < total:
                    await asyncio.sleep(TICK_SECONDS)
            self.service.audit(
                model.model_id, f"finished model import after [{int(time.monotonic() - started)}] seconds"
            )
        except EsError as err:
            download.error = err
            self.service.audit(model.model_id, err.reason, level="error")
        except asyncio.CancelledError:
            if download.cancelled_because is not None:
                download.error = task_cancelled(download.cancelled_because)
                self.service.audit(
                    model.model_id,
                    "Model importing failed due to "
                    f"[org.elasticsearch.tasks.TaskCancelledException: {download.error.reason}]",
                    level="warning",
                )
            else:
                lost = True  # node restart or reset: nobody is told, as when a node dies
                raise
        finally:
            if self.running.get(model.model_id) is download:
                del self.running[model.model_id]
            if not lost:
                self.service.cluster.tasks.finish(download.task, error=download.error)
            download.done.set()

    def cancel(self, model_id: str, reason: str | None) -> None:
        download = self.running.pop(model_id, None)
        if download is not None:
            download.cancel(reason)

    def cancel_all(self) -> None:
        for download in list(self.running.values()):
            if download.runner is not None:
                download.runner.cancel()
        self.running.clear()
