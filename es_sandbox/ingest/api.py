"""_ingest endpoints: pipelines (put, get, delete, _simulate) and the grok pattern bank."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from es_sandbox import mappings as mp
from es_sandbox.errors import EsError, illegal_argument
from es_sandbox.http import Router, bool_param, int_param, json_body
from es_sandbox.ingest.config import ConfigReader
from es_sandbox.ingest.document import IngestDocument, clone
from es_sandbox.ingest.grok import ECS_MODES, builtin_patterns
from es_sandbox.ingest.pipeline import Pipeline

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster

router = Router()

SIMULATED_PIPELINE_ID = "_simulate_pipeline"


@router.route("/_ingest/pipeline/{id}", "PUT")
async def put_pipeline(request: Request, cluster: Cluster):
    config = await json_body(request, required=True)
    cluster.ingest.put(request.path_params["id"], config, int_param(request, "if_version"))
    return {"acknowledged": True}


@router.route("/_ingest/pipeline", "GET")
@router.route("/_ingest/pipeline/{id}", "GET")
async def get_pipeline(request: Request, cluster: Cluster):
    ids = [i for i in request.path_params.get("id", "").split(",") if i]
    found = cluster.ingest.get(ids)
    if bool_param(request, "summary"):
        found = {pid: {} for pid in found}
    # GetPipelineResponse: an empty answer is a 404 whose body is just {}
    return (200, found) if found else (404, {})


@router.route("/_ingest/pipeline/{id}", "DELETE")
async def delete_pipeline(request: Request, cluster: Cluster):
    cluster.ingest.delete(request.path_params["id"])
    return {"acknowledged": True}


@router.route("/_ingest/pipeline/_simulate", "GET", "POST")
@router.route("/_ingest/pipeline/{id}/_simulate", "GET", "POST")
async def simulate_pipeline(request: Request, cluster: Cluster):
    body = await json_body(request, required=True)
    cfg = ConfigReader(dict(body), None, None)
    pipeline_id = request.path_params.get("id")
    if pipeline_id is None:
        pipeline = Pipeline(SIMULATED_PIPELINE_ID, cfg.map("pipeline", required=True), cluster.ingest)
    else:
        pipeline = cluster.ingest.pipelines.get(pipeline_id)
        if pipeline is None:
            raise illegal_argument(f"pipeline [{pipeline_id}] does not exist")
    docs = _parse_docs(cfg)
    return await cluster.ingest.simulate(pipeline, docs, bool_param(request, "verbose"))


_SUBSTITUTIONS = (
    "pipeline_substitutions",
    "component_template_substitutions",
    "index_template_substitutions",
    "mapping_addition",
)


@router.route("/_ingest/_simulate", "GET", "POST")
@router.route("/_ingest/{index}/_simulate", "GET", "POST")
async def simulate_ingest(request: Request, cluster: Cluster):
    """SimulateIngestService: each document through the pipelines indexing it would run now (the
    `pipeline` parameter, else its index's default, then the final pipeline), checked against the
    index's mapping, never stored."""
    body = await json_body(request, required=True)
    for key in _SUBSTITUTIONS:
        if body.get(key):
            raise illegal_argument(f"es_sandbox does not simulate with [{key}]")
    docs = body.get("docs")
    if not isinstance(docs, list) or not docs:
        raise illegal_argument("must specify at least one document in [docs]")
    default_index = request.path_params.get("index")
    results = []
    for entry in docs:
        if not isinstance(entry, dict) or not isinstance(entry.get("_source"), dict):
            raise illegal_argument("malformed [docs] section, should include an inner object")
        index = entry.get("_index", default_index)
        if index is None:
            raise EsError(
                400, "action_request_validation_exception", "Validation Failed: 1: index is missing;"
            )
        results.append(await _simulated_write(cluster, index, entry.get("_id"), entry["_source"], request))
    return {"docs": results}


async def _simulated_write(
    cluster: Cluster, index: str, doc_id: Any, source: dict[str, Any], request: Request
) -> dict[str, Any]:
    executed: list[str] = []
    view: dict[str, Any] = {"_id": doc_id, "_index": index, "_version": -3}
    try:
        doc = await cluster.documents.through_pipelines(
            {"_index": index, "_id": doc_id, "_source": clone(source)},
            request.query_params.get("pipeline"),
            executed,
        )
    except EsError as err:  # a pipeline failed: the document as it came, with the failure
        return {
            "doc": {**view, "_source": source, "executed_pipelines": executed, "error": err.to_xcontent()}
        }
    if doc is None:  # dropped by a pipeline
        return {"doc": {**view, "_source": None, "executed_pipelines": executed}}
    view.update(_id=doc.get("_id"), _index=doc["_index"])
    answer = {**view, "_source": doc["_source"], "executed_pipelines": executed}
    if cluster.indices.exists(doc["_index"]):  # the mapping it would be indexed with
        target = cluster.indices.get(doc["_index"])
        try:
            mp.map_document(target.mappings, doc["_source"], doc_id, version=target.created_release)
        except EsError as err:
            answer["error"] = err.to_xcontent()
    return {"doc": answer}


@router.route("/_ingest/processor/grok", "GET")
async def grok_patterns(request: Request, cluster: Cluster):
    """GrokProcessorGetAction: the built-in bank of the ECS mode, in load order or sorted (`s`)."""
    mode = request.query_params.get("ecs_compatibility", "disabled")
    if mode not in ECS_MODES:
        raise illegal_argument(f"unsupported ECS compatibility mode [{mode}]")
    bank = builtin_patterns(mode)
    return {"patterns": dict(sorted(bank.items())) if bool_param(request, "s") else bank}


def _parse_docs(cfg: ConfigReader) -> list[IngestDocument]:
    """SimulatePipelineRequest.parseDocs: defaults _index "_index", _id "_id", _version -3."""
    docs = cfg.list("docs", required=True)
    if not docs:
        raise illegal_argument("must specify at least one document in [docs]")
    parsed = []
    for entry in docs:
        if not isinstance(entry, dict):
            raise illegal_argument("malformed [docs] section, should include an inner object")
        doc = ConfigReader(dict(entry), None, None)
        source = doc.map("_source", required=True)
        meta: dict[str, Any] = {
            "_index": _string_or_number(doc, "_index", "_index"),
            "_id": _string_or_number(doc, "_id", "_id"),
        }
        routing = _string_or_number(doc, "_routing", None)
        if routing is not None:
            meta["_routing"] = routing
        meta["_version"] = int(_string_or_number(doc, "_version", "-3"))
        for key in ("_version_type", "_if_seq_no", "_if_primary_term"):
            if entry.get(key) is not None:
                meta[key] = entry[key]
        parsed.append(IngestDocument(meta, source))
    return parsed


def _string_or_number(doc: ConfigReader, prop: str, default: str | None) -> str | None:
    value = doc.config.pop(prop, None)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise EsError(
            400,
            "parse_exception",
            f"[{prop}] property isn't a string or int, but of type [{type(value).__name__}]",
        )
    return str(value)
