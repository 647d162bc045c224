"""Documents: index / create / get / delete / update, and `_bulk`.

Every write goes through `execute_bulk`, as Elasticsearch turns single-document writes into one-item
bulks: ingest pipelines first run CONCURRENTLY over all index/create items (so inference queue limits
bite as they do on a real node), then the items are applied in order.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from es_sandbox.errors import EsError, illegal_argument, index_not_found, validation_failed
from es_sandbox.http import PRODUCT_HEADERS, Router, int_param, json_body, param
from es_sandbox.indices import Doc, Index, random_id
from es_sandbox.search import SourceFilter

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster

router = Router()

OPS = ("index", "create", "update", "delete")
_ACTION_PARAMS = {
    "_index",
    "_id",
    "pipeline",
    "if_seq_no",
    "if_primary_term",
    "version",
    "version_type",
    "routing",
    "require_alias",
    "retry_on_conflict",
    "_source",
    "op_type",
    "dynamic_templates",
    "list_executed_pipelines",
    "require_data_stream",
}
MAX_ID_BYTES = 512
_CREATED, _OK, _NOT_FOUND = 201, 200, 404


@dataclass
class BulkAction:
    """One bulk item. For `update`, `source` is the update body ({"doc", "upsert", "doc_as_upsert", ...})."""

    op: str
    index: str
    id: str | None = None
    source: dict[str, Any] | None = None
    pipeline: str | None = None
    if_seq_no: int | None = None
    if_primary_term: int | None = None
    version: int | None = None
    version_type: str | None = None


@dataclass
class _Outcome:
    op: str
    status: int
    body: dict[str, Any] | None = None  # the DocWriteResponse (without status)
    error: EsError | None = None
    index: str | None = None
    id: str | None = None

    def item(self) -> dict[str, Any]:
        if self.error is None:
            return {self.op: {**self.body, "status": self.status}}
        inner: dict[str, Any] = {
            "_index": self.index,
            "_id": self.id,
            "status": self.status,
            "error": self.error.to_xcontent(),
        }
        return {self.op: inner}


# --- ingest phase ----------------------------------------------------------------------------------------


@dataclass
class _Prepared:
    """An index/create action after its pipelines ran."""

    index: str
    id: str | None
    source: dict[str, Any] | None
    dropped: bool = False
    error: EsError | None = None


def _pipeline_for(action: BulkAction, request_pipeline: str | None, target: Index | None) -> str | None:
    """The item's pipeline wins over the request's (as BulkRequest parsing does), then the index default;
    `_none` disables the default."""
    chosen = action.pipeline or request_pipeline
    if chosen is None and target is not None:
        chosen = target.default_pipeline
    return None if chosen in (None, "_none") else chosen


def _existing_target(cluster: Cluster, name: str) -> Index | None:
    try:
        return cluster.indices.write_index(name, auto_create=False)
    except EsError:
        return None


async def _ingest(cluster: Cluster, action: BulkAction, request_pipeline: str | None) -> _Prepared:
    target = _existing_target(cluster, action.index)
    pipeline = _pipeline_for(action, request_pipeline, target)
    final = target.final_pipeline if target is not None else None
    doc: dict[str, Any] | None = {"_index": action.index, "_id": action.id, "_source": action.source}
    if action.version is not None:
        doc["_version"] = action.version
    try:
        if pipeline is not None:
            doc = await cluster.ingest.run(pipeline, doc)
        if doc is not None and doc.get("_index") != action.index:
            moved = _existing_target(cluster, doc["_index"])
            final = moved.final_pipeline if moved is not None else None
        if doc is not None and final not in (None, "_none"):
            doc = await cluster.ingest.run(final, doc)
    except EsError as err:
        return _Prepared(action.index, action.id, None, error=err)
    if doc is None:
        return _Prepared(action.index, action.id, None, dropped=True)
    doc_id = doc.get("_id")
    return _Prepared(
        doc.get("_index") or action.index, None if doc_id is None else str(doc_id), doc.get("_source")
    )


def _ingest_slots(cluster: Cluster, actions: list[BulkAction], request_pipeline: str | None) -> list[int]:
    """The index/create items that go through a pipeline (targets looked up once per name)."""
    has_pipelines: dict[str, bool] = {}
    slots = []
    for i, action in enumerate(actions):
        if action.op not in ("index", "create"):
            continue
        if action.pipeline or request_pipeline:
            slots.append(i)
            continue
        found = has_pipelines.get(action.index)
        if found is None:
            target = _existing_target(cluster, action.index)
            found = has_pipelines[action.index] = target is not None and bool(
                target.default_pipeline or target.final_pipeline
            )
        if found:
            slots.append(i)
    return slots


# --- apply phase -----------------------------------------------------------------------------------------


def _write_response(
    index: Index,
    doc_id: str,
    version: int,
    seq_no: int,
    result: str,
    *,
    forced_refresh: bool = False,
    primary_term: int = 1,
) -> dict[str, Any]:
    body: dict[str, Any] = {"_index": index.name, "_id": doc_id, "_version": version, "result": result}
    if forced_refresh:
        body["forced_refresh"] = True
    body["_shards"] = index.shards_header()
    body["_seq_no"] = seq_no
    body["_primary_term"] = primary_term
    return body


def _dropped_response(index_name: str, doc_id: str | None) -> dict[str, Any]:
    """A document a pipeline dropped: an UpdateResponse with result noop and version -3."""
    return {
        "_index": index_name,
        "_id": doc_id,
        "_version": -3,
        "result": "noop",
        "_shards": {"total": 0, "successful": 0, "failed": 0},
    }


def _check_id(doc_id: str | None) -> None:
    if doc_id is None:
        return
    if doc_id == "":
        raise validation_failed("if _id is specified it must not be empty")
    size = len(doc_id.encode())
    if size > MAX_ID_BYTES:
        raise validation_failed(
            f"id [{doc_id}] is too long, must be no longer than 512 bytes but was: {size}"
        )


def _apply_index(cluster: Cluster, action: BulkAction, prepared: _Prepared, refresh: bool) -> _Outcome:
    if prepared.error is not None:
        return _Outcome(
            action.op, prepared.error.status, error=prepared.error, index=prepared.index, id=prepared.id
        )
    if prepared.dropped:
        return _Outcome(action.op, _OK, _dropped_response(prepared.index, prepared.id))
    source = prepared.source
    try:
        if not isinstance(source, dict):
            raise EsError(
                400, "document_parsing_exception", "[1:1] failed to parse: source is not a JSON object"
            )
        index = cluster.indices.write_index(prepared.index)
        doc_id = prepared.id if prepared.id is not None else random_id()
        _check_id(doc_id)
        doc, result = index.put(
            doc_id,
            source,
            op_type=action.op,
            if_seq_no=action.if_seq_no,
            if_primary_term=action.if_primary_term,
            version=action.version,
            version_type=action.version_type,
        )
    except EsError as err:
        return _Outcome(action.op, err.status, error=err, index=prepared.index, id=prepared.id)
    body = _write_response(index, doc_id, doc.version, doc.seq_no, result, forced_refresh=refresh)
    return _Outcome(action.op, _CREATED if result == "created" else _OK, body)


def _apply_delete(cluster: Cluster, action: BulkAction, refresh: bool) -> _Outcome:
    try:
        index = cluster.indices.write_index(action.index, auto_create=False)
        version, seq_no, found = index.delete(
            action.id, if_seq_no=action.if_seq_no, if_primary_term=action.if_primary_term
        )
    except EsError as err:
        return _Outcome("delete", err.status, error=err, index=action.index, id=action.id)
    body = _write_response(
        index, action.id, version, seq_no, "deleted" if found else "not_found", forced_refresh=refresh
    )
    return _Outcome("delete", _OK if found else _NOT_FOUND, body)


def _deep_merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def document_missing(index: Index, doc_id: str) -> EsError:
    return EsError(
        404,
        "document_missing_exception",
        f"[{doc_id}]: document missing",
        extra={"index_uuid": index.uuid, "shard": "0", "index": index.name},
    )


def _apply_update(cluster: Cluster, action: BulkAction, refresh: bool) -> _Outcome:
    body = action.source or {}
    try:
        for key in body:
            if key not in (
                "doc",
                "upsert",
                "doc_as_upsert",
                "detect_noop",
                "scripted_upsert",
                "_source",
                "script",
            ):
                raise EsError(
                    400, "x_content_parse_exception", f"[1:2] [UpdateRequest] unknown field [{key}]"
                )
        if "script" in body:
            raise illegal_argument("es_sandbox does not run scripts: use [doc] updates")
        if "doc" not in body and "upsert" not in body:
            raise validation_failed("script or doc is missing")
        index = cluster.indices.write_index(action.index)
        current = index.docs.get(action.id)
        patch = body.get("doc") or {}
        if current is None:
            if body.get("doc_as_upsert"):
                new_source = patch
            elif "upsert" in body:
                new_source = body["upsert"]
            else:
                raise document_missing(index, action.id)
        else:
            index.check_seq_no(action.id, current, action.if_seq_no, action.if_primary_term)
            new_source = _deep_merge(current.source, patch)
            if body.get("detect_noop", True) and new_source == current.source:
                noop = _write_response(index, action.id, current.version, current.seq_no, "noop")
                noop["_shards"] = {"total": 0, "successful": 0, "failed": 0}
                return _Outcome("update", _OK, noop)
        doc, result = index.put(action.id, new_source)
    except EsError as err:
        return _Outcome("update", err.status, error=err, index=action.index, id=action.id)
    response = _write_response(index, action.id, doc.version, doc.seq_no, result, forced_refresh=refresh)
    return _Outcome("update", _CREATED if result == "created" else _OK, response)


async def run_bulk(
    cluster: Cluster, actions: list[BulkAction], *, pipeline: str | None = None, refresh: bool = False
) -> tuple[list[_Outcome], int | None]:
    """The outcomes in order, and the ingest time in ms (None when no pipeline ran)."""
    ingest_slots = _ingest_slots(cluster, actions, pipeline)
    prepared: dict[int, _Prepared] = {}
    ingest_took = None
    if ingest_slots:
        started = time.monotonic()
        results = await asyncio.gather(*(_ingest(cluster, actions[i], pipeline) for i in ingest_slots))
        prepared = dict(zip(ingest_slots, results, strict=True))
        ingest_took = int((time.monotonic() - started) * 1000)
    outcomes = []
    for i, action in enumerate(actions):
        if action.op in ("index", "create"):
            ready = prepared.get(i) or _Prepared(action.index, action.id, action.source)
            outcomes.append(_apply_index(cluster, action, ready, refresh))
        elif action.op == "delete":
            outcomes.append(_apply_delete(cluster, action, refresh))
        else:
            outcomes.append(_apply_update(cluster, action, refresh))
    return outcomes, ingest_took


async def execute_bulk(
    cluster: Cluster, actions: list[BulkAction], *, pipeline: str | None = None, refresh: bool = False
) -> dict[str, Any]:
    """The `_bulk` response for these actions: {"errors", "took", ["ingest_took"], "items"}."""
    started = time.monotonic()
    outcomes, ingest_took = await run_bulk(cluster, actions, pipeline=pipeline, refresh=refresh)
    response: dict[str, Any] = {
        "errors": any(o.error is not None for o in outcomes),
        "took": int((time.monotonic() - started) * 1000),
    }
    if ingest_took is not None:
        response["ingest_took"] = ingest_took
    response["items"] = [o.item() for o in outcomes]
    return response


# --- request parsing -------------------------------------------------------------------------------------


def _refresh_param(request: Request) -> bool:
    """True when the response reports `forced_refresh` (refresh=true); wait_for waits for nothing here
    because every write is searchable at once."""
    value = request.query_params.get("refresh")
    if value is None or value in ("false", "wait_for"):
        return False
    if value in ("", "true"):
        return True
    raise illegal_argument(f"Unknown value for refresh: [{value}].")


def _opt_int(value: Any, name: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise illegal_argument(f"Failed to parse int parameter [{name}] with value [{value}]") from None


def parse_bulk(raw: bytes, default_index: str | None) -> list[BulkAction]:
    if not raw.strip():
        raise validation_failed("no requests added")
    if not raw.endswith(b"\n"):
        raise illegal_argument("The bulk request must be terminated by a newline [\\n]")
    lines = raw.split(b"\n")
    actions: list[BulkAction] = []
    i, missing_index = 0, 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line:
            continue
        line_no = i
        try:
            header = json.loads(line)
        except ValueError:
            raise EsError(
                400,
                "x_content_parse_exception",
                f"[{line_no}:1] Malformed action/metadata line [{line_no}], expected START_OBJECT",
            ) from None
        if not isinstance(header, dict) or len(header) != 1:
            raise illegal_argument(
                f"Malformed action/metadata line [{line_no}], expected START_OBJECT or END_OBJECT but found "
                "[VALUE_STRING]"
            )
        ((op, meta),) = header.items()
        if op not in OPS:
            raise illegal_argument(
                f"Malformed action/metadata line [{line_no}], expected one of [create, delete, index, update] but "
                f"found [{op}]"
            )
        if not isinstance(meta, dict):
            raise illegal_argument(f"Malformed action/metadata line [{line_no}], expected START_OBJECT")
        for key in meta:
            if key not in _ACTION_PARAMS:
                raise illegal_argument(
                    f"Action/metadata line [{line_no}] contains an unknown parameter [{key}]"
                )
        index = meta.get("_index", default_index)
        if index is None:
            missing_index += 1
        doc_id = meta.get("_id")
        op_type = meta.get("op_type")
        source = None
        if op != "delete":
            while i < len(lines) and not lines[i].strip():
                i += 1
            if i >= len(lines):
                raise illegal_argument(f"Validation Failed: 1: {op} request with no source;")
            try:
                source = json.loads(lines[i])
            except ValueError:
                raise EsError(
                    400,
                    "x_content_parse_exception",
                    f"[{i + 1}:1] Failed to parse source of bulk item at line [{i + 1}]",
                ) from None
            i += 1
        actions.append(
            BulkAction(
                op="create" if op == "index" and op_type == "create" else op,
                index=index,
                id=None if doc_id is None else str(doc_id),
                source=source,
                pipeline=meta.get("pipeline"),
                if_seq_no=_opt_int(meta.get("if_seq_no"), "if_seq_no"),
                if_primary_term=_opt_int(meta.get("if_primary_term"), "if_primary_term"),
                version=_opt_int(meta.get("version"), "version"),
                version_type=meta.get("version_type"),
            )
        )
    if missing_index:
        raise validation_failed(*["index is missing"] * missing_index)
    for action in actions:
        if action.op != "index" and action.op != "create" and action.id is None:
            raise validation_failed("id is missing")
    return actions


@router.route("/_bulk", "POST", "PUT")
@router.route("/{index}/_bulk", "POST", "PUT")
async def bulk(request: Request, cluster: Cluster):
    actions = parse_bulk(await request.body(), request.path_params.get("index"))
    return await execute_bulk(
        cluster, actions, pipeline=request.query_params.get("pipeline"), refresh=_refresh_param(request)
    )


# --- single documents -----------------------------------------------------------------------------------


async def _single(
    request: Request,
    cluster: Cluster,
    op: str,
    source: dict[str, Any] | None = None,
    *,
    seq_params: bool = True,
):
    """The document the path names (no id: an auto-generated one) as a bulk of one; `?pipeline=` only
    ever applies to index and create."""
    params = _seq_params(request) if seq_params else {}
    action = BulkAction(op, request.path_params["index"], request.path_params.get("id"), source, **params)
    outcomes, _ = await run_bulk(
        cluster, [action], pipeline=request.query_params.get("pipeline"), refresh=_refresh_param(request)
    )
    outcome = outcomes[0]
    if outcome.error is not None:
        raise outcome.error
    return outcome.status, outcome.body


def _seq_params(request: Request) -> dict[str, Any]:
    return {
        "if_seq_no": int_param(request, "if_seq_no"),
        "if_primary_term": int_param(request, "if_primary_term"),
        "version": int_param(request, "version"),
        "version_type": request.query_params.get("version_type"),
    }


@router.route("/{index}/_doc/{id}", "PUT", "POST")
async def index_doc(request: Request, cluster: Cluster):
    op_type = request.query_params.get("op_type", "index")
    if op_type not in ("index", "create"):
        raise illegal_argument(f"opType must be 'create' or 'index', found: [{op_type}]")
    source = await json_body(request, required=True)
    _check_id(request.path_params["id"])
    return await _single(request, cluster, op_type, source)


@router.route("/{index}/_doc", "POST")
async def index_doc_auto_id(request: Request, cluster: Cluster):
    return await _single(request, cluster, "index", await json_body(request, required=True))


@router.route("/{index}/_create/{id}", "PUT", "POST")
async def create_doc(request: Request, cluster: Cluster):
    source = await json_body(request, required=True)
    _check_id(request.path_params["id"])
    return await _single(request, cluster, "create", source, seq_params=False)


@router.route("/{index}/_update/{id}", "POST")
async def update_doc(request: Request, cluster: Cluster):
    return await _single(request, cluster, "update", await json_body(request, required=True))


@router.route("/{index}/_doc/{id}", "DELETE")
async def delete_doc(request: Request, cluster: Cluster):
    return await _single(request, cluster, "delete")


def _lookup(cluster: Cluster, request: Request) -> tuple[Index, str]:
    name, doc_id = request.path_params["index"], request.path_params["id"]
    try:
        index = cluster.indices.get(name)
    except EsError as err:
        if err.type == "illegal_argument_exception":
            raise
        raise index_not_found(name) from None
    return index, doc_id


@router.route("/{index}/_doc/{id}", "GET")
async def get_doc(request: Request, cluster: Cluster):
    index, doc_id = _lookup(cluster, request)
    doc = index.docs.get(doc_id)
    if doc is None:
        return 404, {"_index": index.name, "_id": doc_id, "found": False}
    return _found(index.name, doc_id, doc, SourceFilter.parse(param(request, {}, "_source"), request))


def _found(index_name: str, doc_id: str, doc: Doc, source_filter: SourceFilter) -> dict[str, Any]:
    """GetResult.toXContent of a document that exists: _source as the filter leaves it."""
    body: dict[str, Any] = {
        "_index": index_name,
        "_id": doc_id,
        "_version": doc.version,
        "_seq_no": doc.seq_no,
        "_primary_term": doc.primary_term,
        "found": True,
    }
    if source_filter.enabled:
        body["_source"] = source_filter.apply(doc.source)
    return body


@router.route("/{index}/_doc/{id}", "HEAD")
async def doc_exists(request: Request, cluster: Cluster):
    try:
        index, doc_id = _lookup(cluster, request)
        found = doc_id in index.docs
    except EsError:
        found = False
    return Response(status_code=200 if found else 404, headers=PRODUCT_HEADERS)


@router.route("/{index}/_source/{id}", "GET")
async def get_source(request: Request, cluster: Cluster):
    index, doc_id = _lookup(cluster, request)
    doc = index.docs.get(doc_id)
    if doc is None:
        raise EsError(404, "resource_not_found_exception", f"Document not found [{index.name}]/[{doc_id}]")
    return SourceFilter.parse(None, request).apply(doc.source)


@router.route("/_mget", "GET", "POST")
@router.route("/{index}/_mget", "GET", "POST")
async def mget(request: Request, cluster: Cluster):
    body = await json_body(request, required=True)
    default_index = request.path_params.get("index")
    specs = body.get("docs") or [{"_id": i} for i in body.get("ids", [])]
    if not specs:
        raise validation_failed("no documents to get")
    out = []
    for spec in specs:
        name = spec.get("_index", default_index)
        doc_id = str(spec.get("_id"))
        try:
            index = cluster.indices.get(name)
        except EsError as err:
            out.append({"_index": name, "_id": doc_id, "error": err.to_xcontent()})
            continue
        doc = index.docs.get(doc_id)
        if doc is None:
            out.append({"_index": index.name, "_id": doc_id, "found": False})
            continue
        source_filter = SourceFilter.parse(spec.get("_source", body.get("_source")), request)
        out.append(_found(index.name, doc_id, doc, source_filter))
    return {"docs": out}
