"""The _inference REST endpoints: paths and parameters parsed as the REST handlers parse them, the
work done by InferenceService."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from es_sandbox.app import no_handler_response
from es_sandbox.errors import EsError, validation_failed
from es_sandbox.http import Router, bool_param, json_body, parse_time, time_param
from es_sandbox.inference.endpoints import parse_task_type
from es_sandbox.inference.service import DEFAULT_TIMEOUT, REST_INPUT_TYPES

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster

router = Router()

INFERENCE_ACTION = "cluster:internal/xpack/inference"
_INFER_FIELDS = ("input", "input_type", "task_settings", "timeout", "query")


# Paths Elasticsearch serves under a literal task type (the client's sparse_embedding/text_embedding).
_LITERAL_TASK_PATHS = {
    "/_inference/sparse_embedding/": "sparse_embedding",
    "/_inference/text_embedding/": "text_embedding",
}


def _task_type(request: Request) -> str:
    raw = request.path_params.get("task_type")
    if raw is None:
        path = request.url.path
        return next((task for prefix, task in _LITERAL_TASK_PATHS.items() if path.startswith(prefix)), "any")
    return parse_task_type(raw)


def _guarded(handler):
    """The handler runs only where the API exists; elsewhere Elasticsearch's unknown-route answer."""

    async def endpoint(request: Request, cluster: Cluster):
        if not cluster.inference.available:  # before 8.15 the sandbox has no _inference API
            return no_handler_response(request)
        return await handler(request, cluster)

    endpoint.__name__ = handler.__name__
    return endpoint


@router.route("/_inference/{inference_id}", "PUT")
@router.route("/_inference/{task_type}/{inference_id}", "PUT")
@_guarded
async def put_endpoint(request: Request, cluster: Cluster):
    body = await json_body(request, required=True)
    timeout = time_param(request, "timeout", DEFAULT_TIMEOUT) or DEFAULT_TIMEOUT
    return await cluster.inference.put(
        _task_type(request), request.path_params["inference_id"], body, timeout
    )


@router.route("/_inference", "GET")
@router.route("/_inference/{inference_id}", "GET")
@router.route("/_inference/{task_type}/_all", "GET")
@router.route("/_inference/{task_type}/{inference_id}", "GET")
@_guarded
async def get_endpoints(request: Request, cluster: Cluster):
    return cluster.inference.get(_task_type(request), request.path_params.get("inference_id"))


@router.route("/_inference/{inference_id}", "DELETE")
@router.route("/_inference/{task_type}/{inference_id}", "DELETE")
@_guarded
async def delete_endpoint(request: Request, cluster: Cluster):
    return await cluster.inference.delete(
        _task_type(request),
        request.path_params["inference_id"],
        force=bool_param(request, "force"),
        dry_run=bool_param(request, "dry_run"),
    )


@router.route("/_inference/{inference_id}/_update", "PUT")
@router.route("/_inference/{task_type}/{inference_id}/_update", "PUT")
@_guarded
async def update_endpoint(request: Request, cluster: Cluster):
    if cluster.inference.version < (8, 17):
        return no_handler_response(request)
    body = await json_body(request, required=True)
    return await cluster.inference.update(_task_type(request), request.path_params["inference_id"], body)


def _unknown_field(name: str) -> EsError:
    return EsError(400, "x_content_parse_exception", f"[1:2] [{INFERENCE_ACTION}] unknown field [{name}]")


def _field_error(name: str, cause: dict[str, Any]) -> EsError:
    return EsError(
        400,
        "x_content_parse_exception",
        f"[1:2] [{INFERENCE_ACTION}] failed to parse field [{name}]",
        caused_by=cause,
    )


def _inputs(value: Any) -> list[str] | None:
    """`input` is a string or an array of strings (declareStringArray also takes a lone string)."""
    if value is None:
        return None
    values = value if isinstance(value, list) else [value]
    if any(isinstance(v, dict | list) for v in values):
        raise _field_error(
            "input", {"type": "illegal_argument_exception", "reason": "[input] must be a string"}
        )
    return ["null" if v is None else (json.dumps(v) if isinstance(v, bool) else str(v)) for v in values]


def _input_type(value: Any) -> str:
    if value is None:
        return "unspecified"
    name = str(value).strip().lower()
    if name in ("internal_search", "internal_ingest"):
        raise _field_error(
            "input_type",
            {"type": "illegal_argument_exception", "reason": f"Unrecognized input_type [{name}]"},
        )
    if name not in REST_INPUT_TYPES:
        raise _field_error(
            "input_type",
            {
                "type": "illegal_argument_exception",
                "reason": f"No enum constant org.elasticsearch.inference.InputType.{str(value).strip().upper()}",
            },
        )
    return name


@router.route("/_inference/{inference_id}", "POST")
@router.route("/_inference/sparse_embedding/{inference_id}", "POST")
@router.route("/_inference/text_embedding/{inference_id}", "POST")
@router.route("/_inference/{task_type}/{inference_id}", "POST")
@_guarded
async def infer(request: Request, cluster: Cluster):
    task_type = _task_type(request)
    body = await json_body(request, required=True)
    for key in body:
        if key not in _INFER_FIELDS:
            raise _unknown_field(key)
    inputs = _inputs(body.get("input"))
    input_type = _input_type(body.get("input_type"))
    timeout = time_param(request, "timeout", None)
    if timeout is None and body.get("timeout") is not None:
        timeout = parse_time(body["timeout"], "timeout")
    if inputs is None:
        raise validation_failed("Field [input] cannot be null")
    if not inputs:
        raise validation_failed("Field [input] cannot be an empty array")
    if task_type not in ("text_embedding", "any") and input_type != "unspecified":
        raise validation_failed(f"Field [input_type] cannot be specified for task type [{task_type}]")
    return await cluster.inference.infer(
        task_type,
        request.path_params["inference_id"],
        inputs,
        input_type=input_type,
        timeout=timeout or DEFAULT_TIMEOUT,
    )
