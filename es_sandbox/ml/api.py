"""The _ml REST endpoints: parameters parsed as the REST handlers parse them, work done by MlService."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from es_sandbox.errors import EsError, illegal_argument
from es_sandbox.http import Router, bool_param, int_param, json_body, parse_time, time_param
from es_sandbox.ml.assignments import StartRequest
from es_sandbox.ml.errors import bad_request
from es_sandbox.ml.memory import node_memory
from es_sandbox.ml.stats import trained_model_stats
from es_sandbox.ml.units import parse_byte_size, time_value_str
from es_sandbox.nodes_api import nodes_envelope as _nodes_envelope
from es_sandbox.nodes_api import select_nodes as _select_nodes

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster

router = Router()

START_ACTION = "cluster:admin/xpack/ml/trained_models/deployment/start"
_START_BODY_FIELDS = {
    "model_id",
    "deployment_id",
    "timeout",
    "wait_for",
    "threads_per_allocation",
    "inference_threads",
    "number_of_allocations",
    "model_threads",
    "queue_capacity",
    "cache_size",
    "priority",
    "adaptive_allocations",
}
_LEGACY_NAMES = {"inference_threads": "threads_per_allocation", "model_threads": "number_of_allocations"}
_INCLUDES = {
    "definition",
    "feature_importance_baseline",
    "hyperparameters",
    "total_feature_importance",
    "definition_status",
}


# --- _ml/info ------------------------------------------------------------------------------------


@router.route("/_ml/info", "GET")
async def ml_info(request: Request, cluster: Cluster):
    return cluster.ml.info()


@router.route("/_ml/memory/_stats", "GET")
@router.route("/_ml/memory/{node_id}/_stats", "GET")
async def ml_memory_stats(request: Request, cluster: Cluster):
    human = bool_param(request, "human", False)
    nodes = _select_nodes(cluster, request.path_params.get("node_id"))
    return _nodes_envelope(cluster, {n.id: node_memory(cluster.ml, n, human=human) for n in nodes})


# --- trained models ------------------------------------------------------------------------------


@router.route("/_ml/trained_models/{model_id}", "PUT")
async def put_trained_model(request: Request, cluster: Cluster):
    body = await json_body(request)
    wait = bool_param(request, "wait_for_completion", False)
    defer = bool_param(request, "defer_definition_decompression", False)
    return await cluster.ml.put_model(
        request.path_params["model_id"], body, wait_for_completion=wait, defer_decompression=defer
    )


@router.route("/_ml/trained_models", "GET")
@router.route("/_ml/trained_models/{model_id}", "GET")
async def get_trained_models(request: Request, cluster: Cluster):
    includes = {i.strip() for i in request.query_params.get("include", "").split(",") if i.strip()}
    unknown = sorted(includes - _INCLUDES)
    if unknown:
        raise illegal_argument(f"unknown include [{unknown[0]}]; must be one of {sorted(_INCLUDES)}")
    models = cluster.ml.expand_models(
        request.path_params.get("model_id"), allow_no_match=bool_param(request, "allow_no_match", True)
    )
    tags = [t for t in request.query_params.get("tags", "").split(",") if t]
    models = [m for m in models if all(t in m.tags for t in tags)]
    start, size = int_param(request, "from", 0) or 0, int_param(request, "size", 100)
    page = models[start : start + (size if size is not None else 100)]
    if "definition" in includes and len(page) > 1:
        raise bad_request("Getting model definition is not supported when getting more than one model")
    if "definition_status" in includes:
        if len(page) > 1:
            raise bad_request(
                "Getting the model download status is not supported when getting more than one model"
            )
        if page and page[0].model_type != "pytorch":
            raise bad_request("Definition status is only relevant to PyTorch model types")
    configs = [
        m.to_xcontent(
            definition_status="definition_status" in includes,
            exclude_generated=bool_param(request, "exclude_generated", False),
            include_definition="definition" in includes,
            decompress_definition=bool_param(request, "decompress_definition", True),
            aliases=cluster.ml.aliases_of(m.model_id),
        )
        for m in page
    ]
    return {"count": len(models), "trained_model_configs": configs}


@router.route("/_ml/trained_models/{model_id}", "DELETE")
async def delete_trained_model(request: Request, cluster: Cluster):
    return cluster.ml.delete_model(request.path_params["model_id"], force=bool_param(request, "force", False))


@router.route("/_ml/trained_models/{model_id}/definition/{part}", "PUT")
async def put_definition_part(request: Request, cluster: Cluster):
    raw = request.path_params["part"]
    try:
        part = int(raw)
    except ValueError:
        raise illegal_argument(f"Failed to parse int parameter [part] with value [{raw}]") from None
    body = await json_body(request, required=True)
    return cluster.ml.put_definition_part(request.path_params["model_id"], part, body)


@router.route("/_ml/trained_models/{model_id}/vocabulary", "PUT")
async def put_vocabulary(request: Request, cluster: Cluster):
    body = await json_body(request, required=True)
    return cluster.ml.put_vocabulary(request.path_params["model_id"], body)


@router.route("/_ml/trained_models/{model_id}/model_aliases/{model_alias}", "PUT", "POST")
async def put_model_alias(request: Request, cluster: Cluster):
    p = request.path_params
    return cluster.ml.put_alias(
        p["model_id"], p["model_alias"], reassign=bool_param(request, "reassign", False)
    )


@router.route("/_ml/trained_models/{model_id}/model_aliases/{model_alias}", "DELETE")
async def delete_model_alias(request: Request, cluster: Cluster):
    p = request.path_params
    return cluster.ml.delete_alias(p["model_id"], p["model_alias"])


@router.route("/_ml/trained_models/_stats", "GET")
@router.route("/_ml/trained_models/{model_id}/_stats", "GET")
async def trained_models_stats(request: Request, cluster: Cluster):
    return trained_model_stats(
        cluster.ml,
        request.path_params.get("model_id"),
        allow_no_match=bool_param(request, "allow_no_match", True),
        start=int_param(request, "from", 0) or 0,
        size=int_param(request, "size", 100) or 0,
    )


# --- deployments ---------------------------------------------------------------------------------


def _enum(value: str, enum_class: str, allowed: tuple[str, ...]) -> str:
    if value.lower() not in allowed:
        raise illegal_argument(
            f"No enum constant org.elasticsearch.xpack.core.ml.inference.assignment.{enum_class}.{value.upper()}"
        )
    return value.lower()


def _legacy_allowed(request: Request, cluster: Cluster) -> bool:
    """Legacy names are 8.x names; a 9.x node accepts them only through REST compatibility with 8."""
    if cluster.config.major == 8:
        return True
    accept = request.headers.get("accept", "") + request.headers.get("content-type", "")
    return "compatible-with=8" in accept.replace(" ", "")


def _merge(name: str, body_value: Any, query_value: Any, render=str) -> Any:
    """RestStartTrainedModelDeploymentAction.sameParamInQueryAndBody."""
    if body_value is None or query_value is None or body_value == query_value:
        return query_value if body_value is None else body_value
    raise bad_request(
        f"The parameter {render(body_value)} in the body is different from the parameter {render(query_value)} in the query"
    )


def _start_body(body: dict[str, Any], legacy: bool) -> dict[str, Any]:
    for key in body:
        if key not in _START_BODY_FIELDS or (key in _LEGACY_NAMES and not legacy):
            raise EsError(400, "x_content_parse_exception", f"[1:2] [{START_ACTION}] unknown field [{key}]")
    return {_LEGACY_NAMES.get(k, k): v for k, v in body.items()}


def _query_int(request: Request, name: str, legacy: bool) -> int | None:
    value = int_param(request, name)
    old = next((old for old, new in _LEGACY_NAMES.items() if new == name), None)
    if old and old in request.query_params:
        if not legacy:
            raise illegal_argument(f"request [{request.url.path}] contains unrecognized parameter: [{old}]")
        value = int_param(request, old) if value is None else value
    return value


@router.route("/_ml/trained_models/{model_id}/deployment/_start", "POST")
async def start_deployment(request: Request, cluster: Cluster):
    model_id = request.path_params["model_id"]
    legacy = _legacy_allowed(request, cluster)
    body = _start_body(await json_body(request), legacy)
    if body.get("model_id") not in (None, model_id):
        raise bad_request(
            f"Inconsistent model_id; '{body['model_id']}' specified in the body differs from '{model_id}' specified as a URL argument"
        )
    q = request.query_params
    body_timeout = parse_time(body["timeout"], "timeout") if "timeout" in body else None
    timeout = _merge("timeout", body_timeout, time_param(request, "timeout"), time_value_str)
    wait_for = _merge(
        "wait_for",
        _enum(body["wait_for"], "AllocationStatus.State", ("starting", "started", "fully_allocated"))
        if "wait_for" in body
        else None,
        _enum(q["wait_for"], "AllocationStatus.State", ("starting", "started", "fully_allocated"))
        if "wait_for" in q
        else None,
    )
    priority = _merge(
        "priority",
        _enum(body["priority"], "Priority", ("normal", "low")) if "priority" in body else None,
        _enum(q["priority"], "Priority", ("normal", "low")) if "priority" in q else None,
    )
    cache_size = _merge(
        "cache_size",
        parse_byte_size(body["cache_size"], "cache_size") if "cache_size" in body else None,
        parse_byte_size(q["cache_size"], "cache_size") if "cache_size" in q else None,
    )
    threads = _merge(
        "threads_per_allocation",
        body.get("threads_per_allocation"),
        _query_int(request, "threads_per_allocation", legacy),
    )
    allocations = _merge(
        "number_of_allocations",
        body.get("number_of_allocations"),
        _query_int(request, "number_of_allocations", legacy),
    )
    queue = _merge("queue_capacity", body.get("queue_capacity"), int_param(request, "queue_capacity"))
    req = StartRequest(
        model_id=model_id,
        deployment_id=q.get("deployment_id") or body.get("deployment_id") or model_id,
        number_of_allocations=allocations,
        threads_per_allocation=1 if threads is None else int(threads),
        queue_capacity=cluster.ml.default_queue_capacity if queue is None else int(queue),
        cache_size=cache_size,
        priority=priority or "normal",
        wait_for=wait_for or "started",
        timeout=30.0 if timeout is None else timeout,
        adaptive_allocations=body.get("adaptive_allocations"),
    )
    return await cluster.ml.start_deployment(req)


@router.route("/_ml/trained_models/{model_id}/deployment/_stop", "POST")
async def stop_deployment(request: Request, cluster: Cluster):
    body = await json_body(request)
    force = bool_param(request, "force", bool(body.get("force", False)))
    allow_no_match = bool_param(request, "allow_no_match", bool(body.get("allow_no_match", True)))
    return await cluster.ml.assignments.stop(
        request.path_params["model_id"], force=force, allow_no_match=allow_no_match
    )


@router.route("/_ml/trained_models/{model_id}/deployment/_update", "POST")
async def update_deployment(request: Request, cluster: Cluster):
    body = await json_body(request)
    allocations = int_param(request, "number_of_allocations")
    if allocations is None and body.get("number_of_allocations") is not None:
        allocations = int(body["number_of_allocations"])
    return await cluster.ml.assignments.update(
        request.path_params["model_id"], allocations, body.get("adaptive_allocations")
    )


@router.route("/_ml/trained_models/{model_id}/deployment/cache/_clear", "POST")
async def clear_deployment_cache(request: Request, cluster: Cluster):
    return cluster.ml.assignments.clear_cache(request.path_params["model_id"])


# --- inference -----------------------------------------------------------------------------------


@router.route("/_ml/trained_models/{model_id}/_infer", "POST")
@router.route("/_ml/trained_models/{model_id}/deployment/_infer", "POST")
async def infer_trained_model(request: Request, cluster: Cluster):
    body = await json_body(request, required=True)
    docs = body.get("docs")
    if docs is None:
        raise EsError(400, "x_content_parse_exception", "Required [docs]")
    if not docs:
        raise bad_request("at least one document is required")
    timeout = time_param(request, "timeout", 10.0)
    results = await cluster.ml.infer(
        request.path_params["model_id"], docs, inference_config=body.get("inference_config"), timeout=timeout
    )
    return {"inference_results": results}
