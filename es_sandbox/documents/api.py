"""The document endpoints: `_bulk`, index / create / update / delete of one document (a bulk of
one), get, exists, `_source` and `_mget`. Writes go through cluster.documents (writes.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from es_sandbox.documents.multi_get import parse_mget
from es_sandbox.documents.parsing import parse_bulk, parse_source, update_body, validate
from es_sandbox.documents.writes import BulkAction
from es_sandbox.errors import EsError, illegal_argument, index_not_found, validation_failed
from es_sandbox.http import PRODUCT_HEADERS, Router, bool_param, int_param, param, source_on_error
from es_sandbox.indices import Doc, Index
from es_sandbox.search import SourceFilter

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster

router = Router()


def _refresh_param(request: Request) -> bool:
    """True when the response reports `forced_refresh` (refresh=true); wait_for waits for nothing here
    because every write is searchable at once."""
    value = request.query_params.get("refresh")
    if value is None or value in ("false", "wait_for"):
        return False
    if value in ("", "true"):
        return True
    raise illegal_argument(f"Unknown value for refresh: [{value}].")


def _rest_api_v8(request: Request, cluster: Cluster) -> bool:
    """A request to an 8.x node, or one sent compatible-with=8: ES parses bulk action lines leniently."""
    content_type = request.headers.get("content-type", "")
    return cluster.config.major < 9 or "compatible-with=8" in content_type.replace(" ", "")


def _require_alias_param(request: Request) -> bool | None:
    return bool_param(request, "require_alias") if "require_alias" in request.query_params else None


@router.route("/_bulk", "POST", "PUT")
@router.route("/{index}/_bulk", "POST", "PUT")
async def bulk(request: Request, cluster: Cluster):
    raw = await request.body()
    if not raw:
        raise EsError(400, "parse_exception", "request body is required")
    actions = parse_bulk(
        raw,
        request.path_params.get("index"),
        pipeline=request.query_params.get("pipeline"),
        require_alias=_require_alias_param(request),
        strict=not _rest_api_v8(request, cluster),
        include_source=source_on_error(request),
    )
    return await cluster.documents.bulk(actions, refresh=_refresh_param(request))


# --- single documents -----------------------------------------------------------------------------------


async def _single(
    request: Request,
    cluster: Cluster,
    op: str,
    source: dict[str, Any] | None = None,
    *,
    seq_params: bool = True,
):
    """The document the path names (no id: an auto-generated one) as a bulk of one, validated as its
    request is; `?pipeline=` applies to index and create (an update's pipelines are the index's, run
    on the document the update resolves to)."""
    params = _seq_params(request) if seq_params else {}
    action = BulkAction(
        op,
        request.path_params["index"],
        request.path_params.get("id"),
        source,
        pipeline=request.query_params.get("pipeline") if op in ("index", "create") else None,
        require_alias=bool(_require_alias_param(request)) if op != "delete" else False,
        **params,
    )
    problems = validate(action)
    if problems:
        raise validation_failed(*problems)
    if op == "update":  # resolved first, then written as the index or delete it comes to
        outcome = await cluster.documents.update(action, refresh=_refresh_param(request))
    else:
        outcomes, _ = await cluster.documents.run([action], refresh=_refresh_param(request))
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


async def _required_body(request: Request) -> bytes:
    raw = await request.body()
    if not raw:
        raise EsError(400, "parse_exception", "request body is required")
    return raw


async def _document(request: Request) -> dict[str, Any]:
    """The source of a document write: not read by the REST layer, but by the shard's DocumentParser
    (a source it cannot parse is its document_parsing_exception)."""
    source, error = parse_source(await _required_body(request), include_source=source_on_error(request))
    if error is not None:
        raise error
    assert source is not None
    return source


@router.route("/{index}/_doc/{id}", "PUT", "POST")
async def index_doc(request: Request, cluster: Cluster):
    op_type = request.query_params.get("op_type", "index")
    if op_type not in ("index", "create"):
        raise illegal_argument(f"opType must be 'create' or 'index', found: [{op_type}]")
    return await _single(request, cluster, op_type, await _document(request))


@router.route("/{index}/_doc", "POST")
async def index_doc_auto_id(request: Request, cluster: Cluster):
    return await _single(request, cluster, "index", await _document(request))


@router.route("/{index}/_create/{id}", "PUT", "POST")
async def create_doc(request: Request, cluster: Cluster):
    return await _single(request, cluster, "create", await _document(request), seq_params=False)


@router.route("/{index}/_update/{id}", "POST")
async def update_doc(request: Request, cluster: Cluster):
    body = update_body(await _required_body(request), include_source=source_on_error(request))
    return await _single(request, cluster, "update", body)


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
    doc = index.get_document(doc_id)
    if doc is None:
        return 404, {"_index": index.name, "_id": doc_id, "found": False}
    return _found(index, doc_id, doc, SourceFilter.parse(param(request, {}, "_source"), request))


def _found(index: Index, doc_id: str, doc: Doc, source_filter: SourceFilter) -> dict[str, Any]:
    """GetResult.toXContent of a document that exists: _source as the filter leaves it."""
    body: dict[str, Any] = {
        "_index": index.name,
        "_id": doc_id,
        "_version": doc.version,
        "_seq_no": doc.seq_no,
        "_primary_term": doc.primary_term,
        "found": True,
    }
    if source_filter.enabled:
        body["_source"] = source_filter.render(doc.source, index)
    return body


@router.route("/{index}/_doc/{id}", "HEAD")
async def doc_exists(request: Request, cluster: Cluster):
    try:
        index, doc_id = _lookup(cluster, request)
        found = index.get_document(doc_id) is not None
    except EsError:
        found = False
    return Response(status_code=200 if found else 404, headers=PRODUCT_HEADERS)


@router.route("/{index}/_source/{id}", "HEAD")
async def source_exists(request: Request, cluster: Cluster):
    return await doc_exists(request, cluster)


@router.route("/{index}/_source/{id}", "GET")
async def get_source(request: Request, cluster: Cluster):
    index, doc_id = _lookup(cluster, request)
    doc = index.get_document(doc_id)
    if doc is None:
        raise EsError(404, "resource_not_found_exception", f"Document not found [{index.name}]/[{doc_id}]")
    return SourceFilter.parse(None, request).render(doc.source, index)


@router.route("/_mget", "GET", "POST")
@router.route("/{index}/_mget", "GET", "POST")
async def mget(request: Request, cluster: Cluster):
    raw = await request.body()
    if not raw:
        raise EsError(400, "parse_exception", "request body or source parameter is required")
    items = parse_mget(
        raw,
        request.path_params.get("index"),
        request.query_params.get("routing"),
        include_source=source_on_error(request),
    )
    default_source = SourceFilter.parse(None, request)
    out = []
    for item in items:
        try:
            index = cluster.indices.get(item.index)
        except EsError as err:
            out.append({"_index": item.index, "_id": item.id, "error": err.to_xcontent()})
            continue
        doc = index.get_document(item.id)
        if doc is None:
            out.append({"_index": index.name, "_id": item.id, "found": False})
            continue
        out.append(_found(index, item.id, doc, item.source or default_source))
    return {"docs": out}
