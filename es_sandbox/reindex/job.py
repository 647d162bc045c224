"""What a _reindex, _update_by_query or _delete_by_query request asks for, parsed and validated
with Elasticsearch's parameter rules and error texts (AbstractBaseReindexRestHandler, the requests'
validate())."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.requests import Request

from es_sandbox.documents import scripted
from es_sandbox.errors import EsError, illegal_argument, validation_failed
from es_sandbox.http import bool_param

Kind = Literal["reindex", "update_by_query", "delete_by_query"]

ACTIONS: dict[str, str] = {
    "reindex": "indices:data/write/reindex",
    "update_by_query": "indices:data/write/update/byquery",
    "delete_by_query": "indices:data/write/delete/byquery",
}
DEFAULT_BATCH_SIZE = 1000
AUTO_SLICES = 0
UNLIMITED = math.inf


@dataclass
class Job:
    kind: Kind
    source: list[str]
    query: dict[str, Any] | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    source_filter: Any = None
    dest_index: str | None = None
    op_type: str = "index"
    pipeline: str | None = None
    abort_on_conflict: bool = True
    max_docs: int | None = None
    slices: int = 1  # AUTO_SLICES for "auto"
    requests_per_second: float = UNLIMITED
    refresh: bool = False
    wait_for_completion: bool = True
    slice_filter: tuple[int, int] | None = None  # (slice id, slice count) of a worker
    script: Any = None  # the compiled update-context script (update_by_query, reindex)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def action(self) -> str:
        return ACTIONS[self.kind]

    @property
    def description(self) -> str:
        """The request's toString(), which becomes the task description."""
        indices = "[" + ", ".join(self.source) + "]" if self.source else "[all indices]"
        if self.kind == "reindex":
            return f"reindex from {indices} to [{self.dest_index}]"
        if self.kind == "update_by_query":
            return f"update-by-query {indices}"
        return f"delete-by-query {indices}"

    @property
    def include_created(self) -> bool:
        return self.kind == "reindex"

    @property
    def include_updated(self) -> bool:
        return self.kind != "delete_by_query"


def parse_requests_per_second(value: str | None) -> float | None:
    if value is None:
        return None
    message = "[requests_per_second] must be a float greater than 0. Use -1 to disable throttling."
    try:
        rps = float(value)
    except ValueError:
        raise illegal_argument(message) from None
    if rps == -1:
        return UNLIMITED
    if not rps > 0:
        raise illegal_argument(message)
    return rps


def _parse_slices(value: Any) -> int:
    message = f'[slices] must be a positive integer or the string "auto", but was [{value}]'
    if value == "auto":
        return AUTO_SLICES
    try:
        slices = int(value)
    except (TypeError, ValueError):
        raise illegal_argument(message) from None
    if slices < 1:
        raise illegal_argument(message)
    return slices


def _parse_conflicts(value: Any) -> bool:
    if value not in ("abort", "proceed"):
        raise illegal_argument(f'conflicts may only be "proceed" or "abort" but was [{value}]')
    return value == "abort"


def _int(value: Any, name: str) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        return int(value)
    except (TypeError, ValueError):
        raise illegal_argument(f"Failed to parse int parameter [{name}] with value [{value}]") from None


def _indices(value: Any) -> list[str]:
    if value is None:
        return []
    names = value if isinstance(value, list) else [value]
    return [n.strip() for name in names for n in str(name).split(",") if n.strip()]


def _set_max_docs(job: Job, value: int) -> None:
    """setMaxDocsValidateIdentical."""
    if job.max_docs is not None and job.max_docs != value:
        raise illegal_argument(f"[max_docs] set to two different values [{job.max_docs}] and [{value}]")
    job.max_docs = value


def _common(job: Job, request: Request, body: dict[str, Any]) -> Job:
    """setCommonOptions plus the body fields every kind shares."""
    if "conflicts" in body:
        job.abort_on_conflict = _parse_conflicts(body["conflicts"])
    if "conflicts" in request.query_params:
        job.abort_on_conflict = _parse_conflicts(request.query_params["conflicts"])
    if "max_docs" in body:
        _set_max_docs(job, _int(body["max_docs"], "max_docs"))
    elif "size" in body and job.kind == "reindex":
        _set_max_docs(job, _int(body["size"], "size"))
    job.refresh = bool_param(request, "refresh")
    if "slices" in request.query_params:
        job.slices = _parse_slices(request.query_params["slices"])
    rps = parse_requests_per_second(request.query_params.get("requests_per_second"))
    if rps is not None:
        job.requests_per_second = rps
    if "max_docs" in request.query_params:
        _set_max_docs(job, _int(request.query_params["max_docs"], "max_docs"))
    job.wait_for_completion = bool_param(request, "wait_for_completion", True)
    if "script" in body:
        if job.kind == "delete_by_query":
            raise illegal_argument(
                "es_sandbox does not run scripts: [script] is not supported in this context"
            )
        job.script = scripted.compile_script(body["script"])
    return job


def validate(job: Job) -> None:
    """AbstractBulkByScrollRequest.validate and the kind's own checks."""
    problems = []
    if job.kind == "reindex":
        if not job.source:
            problems.append("use _all if you really want to copy from all existing indexes")
        if job.source_filter is False:
            problems.append("_source:false is not supported in this context")
        if job.dest_index is None:
            problems.append("index must be specified")
    if job.kind == "delete_by_query" and job.query is None:
        problems.append("query is missing")
    if job.max_docs is not None and job.max_docs < 0:
        problems.append(
            "maxDocs should be greater than 0 if the request is limited to some number of documents or -1 if it "
            f"isn't but it was [{job.max_docs}]"
        )
    if job.max_docs is not None and job.slices not in (AUTO_SLICES,) and 0 <= job.max_docs < job.slices:
        problems.append("[max_docs] should be >= [slices]")
    if problems:
        raise validation_failed(*problems)


def parse_reindex(request: Request, body: dict[str, Any]) -> Job:
    if "pipeline" in request.query_params:
        raise illegal_argument(
            "_reindex doesn't support [pipeline] as a query parameter. Specify it in the [dest] object instead."
        )
    source = body.get("source") or {}
    dest = body.get("dest") or {}
    if not isinstance(source, dict) or not isinstance(dest, dict):
        raise EsError(400, "x_content_parse_exception", "[reindex] source and dest must be objects")
    if "remote" in source:
        raise illegal_argument(
            "es_sandbox does not reindex from a remote cluster: [source.remote] is not supported"
        )
    op_type = dest.get("op_type", "index")
    if op_type not in ("index", "create"):
        raise illegal_argument(f"opType must be 'create' or 'index', found: [{op_type}]")
    job = Job(
        kind="reindex",
        source=_indices(source.get("index")),
        query=source.get("query"),
        batch_size=_int(source.get("size", DEFAULT_BATCH_SIZE), "size"),
        source_filter=source.get("_source"),
        dest_index=dest.get("index"),
        op_type=op_type,
        pipeline=dest.get("pipeline"),
    )
    _common(job, request, body)
    validate(job)
    return job


def parse_by_query(request: Request, body: dict[str, Any], kind: Kind) -> Job:
    job = Job(
        kind=kind,
        source=_indices(request.path_params["index"]),
        query=body.get("query"),
        batch_size=_int(request.query_params.get("scroll_size", DEFAULT_BATCH_SIZE), "scroll_size"),
        pipeline=request.query_params.get("pipeline") if kind == "update_by_query" else None,
    )
    _common(job, request, body)
    validate(job)
    return job
