"""Fault injection: `POST /_sandbox/faults` (and the matching CLI flags) arm faults that the
subsystems consult at the point where the real failure would happen. `POST /_sandbox/reset` clears
everything. The HTTP-level faults (latency, error answers, dropped connections) act here, before any
endpoint runs; the others are read by the module that owns the behaviour:

    model_download      ml: a download fails with `reason`, or stalls (never finishes)
    deployment_stuck    ml: a deployment stays `starting` with `reason` on every route
    inference_rejection ml: a fraction of inference requests, or a burst of the next N, rejected (429)
    pipeline_drop       reindex: bulk items rejected with 429 are retried WITHOUT the pipeline
                        (elastic/elasticsearch#78792), so they land without embeddings, failures empty
    node_restart        cluster: an action, not a state: running tasks are lost at once
    latency             http: added delay on matching endpoints
    http_error          http: the next `count` matching requests answer `status` or drop the connection,
                        before the endpoint runs, or after it (`after_processing`: the answer is lost)
"""

from __future__ import annotations

import asyncio
import random
import re
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request

from es_sandbox.errors import ConnectionDropped, EsError
from es_sandbox.http import Router, json_body

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster

router = Router()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelDownloadFault(_Strict):
    model_id: str = "*"
    mode: Literal["fail", "stall"] = "fail"
    reason: str = "Failed to download model: connection reset while fetching model definition part [3]"


class DeploymentStuckFault(_Strict):
    deployment_id: str = "*"
    reason: str = "Could not load model: native process failed to start in time"


class InferenceRejectionFault(_Strict):
    fraction: float = Field(default=0.0, ge=0.0, le=1.0)
    burst: int = Field(default=0, ge=0)  # reject the next N requests, then stop


class PipelineDropFault(_Strict):
    enabled: bool = True


class LatencyFault(_Strict):
    ms: float = Field(ge=0)
    path: str = ".*"  # regex on the request path


class HttpErrorFault(_Strict):
    path: str = ".*"  # regex on the request path
    method: str | None = None
    status: int = Field(default=503, ge=500, le=599)
    drop_connection: bool = False
    count: int = Field(default=1, ge=1)
    # The request is carried out first and only its answer is lost (a proxy or a network failure
    # on the way back): what it started (a task, a write) has happened, the client cannot know.
    after_processing: bool = False


class FaultSpec(_Strict):
    model_download: ModelDownloadFault | None = None
    deployment_stuck: DeploymentStuckFault | None = None
    inference_rejection: InferenceRejectionFault | None = None
    pipeline_drop: PipelineDropFault | None = None
    latency: list[LatencyFault] = []
    http_error: list[HttpErrorFault] = []
    node_restart: bool = False


class Faults:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.spec = FaultSpec()
        self.rng = random.Random(0)

    def reset(self) -> None:
        self.spec = FaultSpec()
        self.rng = random.Random(0)

    def arm(self, spec: FaultSpec) -> None:
        """Merge: fields given replace the armed ones; lists are appended."""
        for name in spec.model_fields_set:
            value = getattr(spec, name)
            if name == "node_restart":
                if value:
                    self.cluster.restart_nodes()
            elif isinstance(value, list):
                getattr(self.spec, name).extend(value)
            else:
                setattr(self.spec, name, value)

    def inference_rejected(self) -> bool:
        fault = self.spec.inference_rejection
        if fault is None:
            return False
        if fault.burst > 0:
            fault.burst -= 1
            return True
        return fault.fraction > 0 and self.rng.random() < fault.fraction

    async def before_request(self, request: Request) -> None:
        path = request.url.path
        if path.startswith("/_sandbox"):
            return
        for lat in self.spec.latency:
            if re.search(lat.path, path):
                await asyncio.sleep(lat.ms / 1000.0)
        self._http_error(request, after_processing=False)

    def after_request(self, request: Request) -> None:
        """After the endpoint ran: the faults whose answer is lost once the work is done."""
        if not request.url.path.startswith("/_sandbox"):
            self._http_error(request, after_processing=True)

    def _http_error(self, request: Request, *, after_processing: bool) -> None:
        path = request.url.path
        for err in self.spec.http_error:
            if (
                err.after_processing is after_processing
                and err.count > 0
                and re.search(err.path, path)
                and err.method in (None, request.method)
            ):
                err.count -= 1
                self.spec.http_error = [e for e in self.spec.http_error if e.count > 0]
                if err.drop_connection:
                    raise ConnectionDropped(path)
                raise EsError(err.status, "sandbox_injected_fault", f"injected HTTP {err.status} on [{path}]")


@router.route("/_sandbox/faults", "POST", "PUT")
async def arm_faults(request: Request, cluster: Cluster):
    try:
        spec = FaultSpec.model_validate(await json_body(request))
    except ValidationError as exc:
        raise EsError(400, "illegal_argument_exception", f"invalid fault spec: {exc}") from None
    cluster.faults.arm(spec)
    return {"acknowledged": True, "faults": cluster.faults.spec.model_dump(exclude_defaults=True)}


@router.route("/_sandbox/faults", "GET")
async def get_faults(request: Request, cluster: Cluster):
    return cluster.faults.spec.model_dump(exclude_defaults=True)


@router.route("/_sandbox/reset", "POST")
async def reset(request: Request, cluster: Cluster):
    cluster.reset()
    return {"acknowledged": True}
