"""The soak's fault catalogue: every kind of es_sandbox/faults.py (`POST /_sandbox/faults`), each with
parameters drawn at random, the moment it is armed (chaos.moments), what the cluster needs for the
faulty request to happen at all, and what docs/RELIABILITY.md promises the run does about it.

    model_download      fail or stall a download (the model is deleted first, so the run downloads it)
    deployment_stuck    the deployment stays `starting` (it is stopped first, so the run starts it)
    inference_rejection a burst of the next N inference requests, or a fraction of them, get 429
    pipeline_drop       bulk retries without the pipeline (elastic/elasticsearch#78792), with a burst of
                        rejections to retry
    node_restart        running tasks lost: in the middle of the reindex, or as a task starts
    latency             every request on the index the run writes waits
    http_error          a 5xx or a dropped connection, before the request is carried out or after it
                        (the answer lost), on one of the requests a run makes

Promises (docs/RELIABILITY.md's fault matrix): a run completes despite a burst of inference
rejections (row 1; rejections that go on through every resume pass may fail it, saying so),
dropped pipelines (row 2), a lost task (row 3), 5xx answers and dropped connections (row 6, and
issue 15: every write that can lose its answer is idempotent) and latency; it fails, saying why, on
a failed or stalled download (row 4) and a stuck deployment (row 5), and the plain re-run completes.

The sandbox's fault API only adds: `http_error` and `latency` entries cannot be removed. What a run
did not meet of an `http_error` is consumed after it by requests to a marker path that every entry's
pattern also matches (`consume_leftovers`); a latency entry is limited to the index the run writes,
so it slows later runs only where they touch that index (the run records say so).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

from elasticsearch import Elasticsearch

MARKER_INDEX = "soak-fault-marker"
MARKER_PATH = f"/{MARKER_INDEX}/_doc/1"
JSON = {"accept": "application/json", "content-type": "application/json"}
ROW = {
    "inference_rejection": "row 1",
    "pipeline_drop": "row 2",
    "node_restart": "row 3",
    "model_download": "row 4",
    "deployment_stuck": "row 5",
    "http_error": "row 6",
    "latency": "row 6",
}


@dataclass(frozen=True)
class Fault:
    """One fault of one run.

    `spec` is the body of `POST /_sandbox/faults` (node_restart's is sent at its moment);
    `moment`: "start", "task:<task id>" (as that task's first try starts) or "reindex:<fraction>"
    (when the run's reindex has written that share of its documents); `prepare`: cluster changes that
    make the faulty request happen (stop_deployment, delete_model, delete_pipeline); `survivable`:
    the run must complete despite it (True), must fail saying why (False), or may do either (None);
    `signature`: words of which a clear error names one;
    `rerun_after`: seconds before the plain re-run."""

    kind: str
    label: str
    spec: dict = field(default_factory=dict)
    moment: str = "start"
    prepare: tuple[str, ...] = ()
    survivable: bool | None = True
    signature: tuple[str, ...] = ()
    rerun_after: float = 0.0

    @property
    def promise(self) -> str:
        what = {
            True: "completes",
            False: "fails saying why, and its re-run completes",
            None: "completes, or fails saying why and its re-run completes",
        }[self.survivable]
        return f"docs/RELIABILITY.md {ROW.get(self.kind, '-')}: the run {what}"

    def as_json(self) -> dict:
        return {
            "kind": self.kind,
            "label": self.label,
            "spec": self.spec,
            "moment": self.moment,
            "prepare": list(self.prepare),
            "survivable": self.survivable,
        }


NO_FAULT = Fault("none", "no fault")


def uncovered_kinds() -> set[str]:
    """Fault kinds of the sandbox the catalogue does not draw (it must draw the whole set)."""
    from es_sandbox.faults import FaultSpec

    return set(FaultSpec.model_fields) - set(KINDS)


# --- the catalogue -------------------------------------------------------------------------------


def model_download(mode: str = "fail") -> Fault:
    reason = "Failed to download model: connection reset while fetching model definition part [3]"
    spec = {"mode": mode, **({"reason": reason} if mode == "fail" else {})}
    return Fault(
        "model_download",
        f"model download {'fails' if mode == 'fail' else 'stalls'}",
        {"model_download": spec},
        prepare=("delete_model",),
        survivable=False,
        signature=(reason,) if mode == "fail" else ("gave up waiting", "download"),
        # The library leaves a download younger than 5 s alone (another run's fresh one): an operator
        # re-runs later than that.
        rerun_after=6.0,
    )


def deployment_stuck() -> Fault:
    reason = "Could not load model: native process failed to start in time"
    return Fault(
        "deployment_stuck",
        "deployment stuck in starting",
        {"deployment_stuck": {"reason": reason}},
        prepare=("stop_deployment",),
        survivable=False,
        signature=(reason,),
    )


def inference_rejection(*, burst: int = 0, fraction: float = 0.0) -> Fault:
    """A burst is an overflow the resume passes embed (row 1); rejections that go on through every
    pass may leave documents without embedding, and then verification fails saying so (README,
    Troubleshooting: queue full)."""
    what = f"the next {burst} inference requests" if burst else f"{fraction:.0%} of inference requests"
    return Fault(
        "inference_rejection",
        f"{what} rejected (429 queue full)",
        {"inference_rejection": {"burst": burst, "fraction": fraction}},
        survivable=True if burst else None,
        signature=("queue is full", "lack ["),
    )


def pipeline_drop(burst: int) -> Fault:
    return Fault(
        "pipeline_drop",
        f"bulk retries drop the pipeline, with the next {burst} inference requests rejected",
        {"pipeline_drop": {"enabled": True}, "inference_rejection": {"burst": burst}},
        signature=("lack [", "queue is full"),
    )


def node_restart(moment: str) -> Fault:
    where = (
        f"when the reindex has written {float(moment.split(':')[1]):.0%} of its documents"
        if moment.startswith("reindex:")
        else f"as {moment.split(':', 1)[1]} starts"
    )
    return Fault(
        "node_restart",
        f"node restart {where}",
        moment=moment,
        signature=("lost", "restart", "not allocated"),
    )


def latency(index: str, ms: float) -> Fault:
    return Fault(
        "latency",
        f"{ms:.0f} ms latency on every request to [{index}]",
        {"latency": [{"ms": ms, "path": f"^/{index}(/|$)"}]},
        signature=("timed out", "timeout"),
    )


def http_error(
    target: HttpTarget, *, status: int = 503, drop: bool = False, after: bool = False, count: int = 1
) -> Fault:
    answer = "a dropped connection" if drop else f"HTTP {status}"
    when = "after it was carried out (answer lost)" if after else "before it was carried out"
    times = "" if count == 1 else f" x{count}"
    entry: dict[str, Any] = {
        "path": f"(?:{target.path})|^{MARKER_PATH}$",
        "status": status,
        "drop_connection": drop,
        "after_processing": after,
        "count": count,
    }
    if target.method:
        entry["method"] = target.method
    return Fault(
        "http_error",
        f"{answer}{times} on {target.name}, {when}",
        {"http_error": [entry]},
        moment=target.moment,
        prepare=target.prepare,
        signature=(str(status), "connection", "injected"),
    )


@dataclass(frozen=True)
class HttpTarget:
    """A request a run makes, where an http_error can hit it."""

    name: str
    path: str
    method: str | None
    moment: str = "start"
    prepare: tuple[str, ...] = ()
    full_only: bool = False


def http_targets(dest_index: str) -> list[HttpTarget]:
    return [
        HttpTarget("POST _aliases (the alias swap)", r"^/_aliases$", "POST", full_only=True),
        HttpTarget("POST _reindex", r"^/_reindex$", "POST"),
        HttpTarget(
            "GET _tasks/<id> (the reindex's poll)", r"^/_tasks/[^/]+$", "GET", moment="task:wait_reindex"
        ),
        HttpTarget(f"PUT {dest_index} (index create)", rf"^/{dest_index}$", "PUT", full_only=True),
        HttpTarget("<index>/_count", r"^/[^_/][^/]*/_count$", None, moment="task:verify_embeddings"),
        HttpTarget("<index>/_search", r"^/[^_/][^/]*/_search$", None, moment="task:verify_embeddings"),
        HttpTarget("_ml/trained_models/_stats", r"^/_ml/trained_models(/[^/]+)?/_stats$", "GET"),
        HttpTarget(
            "POST deployment _start",
            r"^/_ml/trained_models/[^/]+/deployment/_start$",
            "POST",
            prepare=("stop_deployment",),
        ),
        HttpTarget(
            "PUT _ingest/pipeline/<id>", r"^/_ingest/pipeline/[^/]+$", "PUT", prepare=("delete_pipeline",)
        ),
        HttpTarget(
            "PUT _ml/trained_models/<id> (model put)",
            r"^/_ml/trained_models/[^/_][^/]*$",
            "PUT",
            prepare=("delete_model",),
        ),
        HttpTarget(
            "DELETE <old index> (retention)",
            r"^/[^_/][^/]*$",
            "DELETE",
            moment="task:apply_retention",
            full_only=True,
        ),
    ]


KINDS = (
    "model_download",
    "deployment_stuck",
    "inference_rejection",
    "pipeline_drop",
    "node_restart",
    "latency",
    "http_error",
)


# http_error stands for eleven requests, each hit before or after it is carried out: drawn three
# times as often as each other kind.
WEIGHTS = {"http_error": 3}


def draw(rng: random.Random, *, mode: str, write_index: str, covered: int, kinds=KINDS) -> Fault:
    """One fault for a run in `mode` that writes into `write_index`, covering about `covered`
    documents: a kind from `kinds` (WEIGHTS), then its parameters."""
    kinds = list(kinds)
    [kind] = rng.choices(kinds, weights=[WEIGHTS.get(k, 1) for k in kinds])
    covered = max(covered, 2)
    if kind == "model_download":
        return model_download(rng.choice(["fail", "stall"]))
    if kind == "deployment_stuck":
        return deployment_stuck()
    if kind == "inference_rejection":
        if rng.random() < 0.5:
            return inference_rejection(burst=rng.randint(1, covered))
        return inference_rejection(fraction=round(rng.uniform(0.05, 0.6), 2))
    if kind == "pipeline_drop":
        return pipeline_drop(rng.randint(1, covered))
    if kind == "node_restart":
        moments = [
            "reindex:0",
            f"reindex:{rng.uniform(0.1, 0.8):.2f}",
            "task:complete_index",
            "task:verify_embeddings",
        ]
        return node_restart(rng.choice(moments))
    if kind == "latency":
        return latency(write_index, rng.choice([50, 200, 500, 1500]))
    targets = [t for t in http_targets(write_index) if mode == "full" or not t.full_only]
    target = rng.choice(targets)
    drop = rng.random() < 0.3
    return http_error(
        target,
        status=rng.choice([500, 502, 503, 504]),
        drop=drop,
        after=rng.random() < 0.5,
        count=rng.choice([1, 1, 2]),
    )


# --- arming and disarming -----------------------------------------------------------------------


class Injector:
    """Arms a run's fault on the sandbox, prepares the cluster for it, and clears it afterwards."""

    def __init__(self, es: Elasticsearch, *, deployment_id: str, pipeline_id: str) -> None:
        self.es = es.options(max_retries=0, request_timeout=60)
        self.deployment_id = deployment_id
        self.pipeline_id = pipeline_id
        if not self.es.indices.exists(index=MARKER_INDEX):
            self.es.indices.create(index=MARKER_INDEX)

    def post(self, body: dict) -> dict:
        return self.es.perform_request("POST", "/_sandbox/faults", headers=JSON, body=body).body

    def armed(self) -> dict:
        return self.es.perform_request("GET", "/_sandbox/faults", headers={"accept": "application/json"}).body

    def prepare(self, fault: Fault) -> None:
        """Make the faulty request happen: a stopped deployment is started by the run, a deleted
        model downloaded, a deleted pipeline put."""
        if {"stop_deployment", "delete_model"} & set(fault.prepare):
            self.stop_deployment()
        if "delete_model" in fault.prepare:
            for model in self.es.ml.get_trained_models(model_id=".elser*", allow_no_match=True)[
                "trained_model_configs"
            ]:
                self.es.ml.delete_trained_model(model_id=model["model_id"], force=True)
        if "delete_pipeline" in fault.prepare:
            self.es.options(ignore_status=404).ingest.delete_pipeline(id=self.pipeline_id)

    def stop_deployment(self) -> None:
        stats = self.es.ml.get_trained_models_stats()["trained_model_stats"]
        if any((s.get("deployment_stats") or {}).get("deployment_id") == self.deployment_id for s in stats):
            self.es.ml.stop_trained_model_deployment(model_id=self.deployment_id, force=True)

    def arm(self, fault: Fault) -> None:
        if fault.kind == "node_restart":
            self.post({"node_restart": True})
        elif fault.spec:
            self.post(fault.spec)

    def disarm(self, fault: Fault) -> bool | None:
        """Clear what the run left armed; whether the fault bit (None: cannot tell)."""
        left = self.armed()
        fired: bool | None = None
        if fault.kind == "http_error":
            armed = sum(e["count"] for e in fault.spec["http_error"])
            fired = sum(e.get("count", 1) for e in left.get("http_error", [])) < armed
            self.consume_leftovers()
        elif fault.kind in ("inference_rejection", "pipeline_drop"):
            burst = fault.spec["inference_rejection"].get("burst", 0)
            if burst:
                fired = (left.get("inference_rejection") or {}).get("burst", 0) < burst
        clear = {
            k: None for k in ("model_download", "deployment_stuck", "inference_rejection", "pipeline_drop")
        }
        self.post(clear)
        return fired

    def consume_leftovers(self, attempts: int = 50) -> None:
        """Spend every http_error entry the run did not meet, with requests to MARKER_PATH (every
        entry's pattern matches it): a request the marker document answers, in the entry's method."""
        for _ in range(attempts):
            left = self.armed().get("http_error", [])
            if not left:
                return
            method = left[0].get("method") or "GET"
            if method in ("GET", "HEAD", "DELETE"):
                self._marker("PUT", {"soak": "marker"})  # the document the request needs
            self._marker(method, {"soak": "marker"} if method in ("PUT", "POST") else None)
            time.sleep(0.01)
        raise RuntimeError(f"http_error faults left armed after {attempts} marker requests: {self.armed()}")

    def _marker(self, method: str, body: dict | None) -> None:
        try:
            self.es.perform_request(
                method, MARKER_PATH, headers=JSON if body else {"accept": "application/json"}, body=body
            )
        except Exception:  # noqa: BLE001 - the injected answer is the point
            pass
