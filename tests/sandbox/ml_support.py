"""Helpers shared by the sandbox tests (no tests here): ML set-up, error checks, polling, faults."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from elasticsearch import ApiError, Elasticsearch

ELSER = ".elser_model_2"
TEXT_INPUT = {"field_names": ["text_field"]}
JSON = {"accept": "application/json", "content-type": "application/json"}


def strict(es: Elasticsearch) -> Elasticsearch:
    """No transparent retries: elastic-transport retries 429 three times by default."""
    return es.options(max_retries=0, retry_on_status=())


def reset_sandbox(es: Elasticsearch) -> None:
    """POST /_sandbox/reset: the sandbox as it started (no index, model, pipeline or armed fault)."""
    es.perform_request("POST", "/_sandbox/reset", headers={"accept": "application/json"})


def client_with_elser(url: str, request_timeout: float) -> Elasticsearch:
    """A strict client on the sandbox at `url`, reset, with ELSER stored and downloaded."""
    client = strict(Elasticsearch(url, request_timeout=request_timeout))
    reset_sandbox(client)
    put_elser(client, wait=True)
    return client


def api_error(call: Callable[[], Any]) -> ApiError:
    with pytest.raises(ApiError) as info:
        call()
    return info.value


def error_of(exc: ApiError) -> dict[str, Any]:
    return exc.body["error"]


def status_type_reason(exc: ApiError) -> tuple[int, str, str]:
    """An error's status, type and reason, to compare with Elasticsearch's in one assertion."""
    return exc.meta.status, exc.body["error"]["type"], exc.body["error"]["reason"]


def refusal(call: Callable[[], Any]) -> tuple[int, str, str]:
    """The status, type and reason of the error `call` fails with."""
    return status_type_reason(api_error(call))


def error_fields(call: Callable[[], Any]) -> dict[str, Any]:
    """The error object `call` fails with, and its status under "status"."""
    exc = api_error(call)
    return {"status": exc.meta.status, **error_of(exc)}


def assert_error(exc: ApiError, status: int, type_: str, reason: str) -> dict[str, Any]:
    """Checks the whole envelope: status, type, reason, and a root cause with the same type."""
    assert exc.meta.status == status, exc.body
    assert exc.body["status"] == status
    error = error_of(exc)
    assert (error["type"], error["reason"]) == (type_, reason), error
    assert error["root_cause"][0]["type"] == type_
    return error


def arm_faults(es: Elasticsearch, **faults: Any) -> None:
    """POST /_sandbox/faults: the sandbox misbehaves as these faults say (es_sandbox/faults.py)."""
    es.perform_request("POST", "/_sandbox/faults", headers=JSON, body=faults)


def poll(
    fetch: Callable[[], Any], until: Callable[[Any], bool], timeout: float = 10.0, interval: float = 0.05
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {timeout}s; last value: {value}")
        time.sleep(interval)


def definition_status(es: Elasticsearch, model_id: str) -> bool:
    return es.ml.get_trained_models(model_id=model_id, include="definition_status")["trained_model_configs"][
        0
    ]["fully_defined"]


def put_elser(es: Elasticsearch, model_id: str = ELSER, *, wait: bool = True) -> dict[str, Any]:
    return es.ml.put_trained_model(model_id=model_id, input=TEXT_INPUT, wait_for_completion=wait).body


def deploy(es: Elasticsearch, model_id: str = ELSER, **params: Any) -> dict[str, Any]:
    params.setdefault("wait_for", "started")
    return es.ml.start_trained_model_deployment(model_id=model_id, **params).body["assignment"]


def assert_deploy_times_out_on_the_download(es: Elasticsearch, model_id: str = ELSER) -> None:
    """A start that waits only 300ms while the model still downloads: Elasticsearch's 408."""
    exc = api_error(lambda: deploy(es, model_id, timeout="300ms"))
    assert_error(
        exc,
        408,
        "status_exception",
        f"Model download task is currently running. Wait for trained model [{model_id}] download task to complete "
        "then try again",
    )


def deployment_stats(es: Elasticsearch, deployment_id: str) -> dict[str, Any]:
    return es.ml.get_trained_models_stats(model_id=deployment_id)["trained_model_stats"][0][
        "deployment_stats"
    ]


def notifications(es: Elasticsearch, job_id: str = ELSER) -> list[tuple[str, str]]:
    """The inference audit notifications of one model or deployment, oldest first (level, message)."""
    es.indices.refresh(index=".ml-notifications-000002")
    hits = es.search(index=".ml-notifications-000002", sort=[{"timestamp": "asc"}], size=1000)["hits"]["hits"]
    return [
        (h["_source"]["level"], h["_source"]["message"]) for h in hits if h["_source"]["job_id"] == job_id
    ]


def compat8(es: Elasticsearch, method: str, path: str, body: Any = None) -> Any:
    """A request as an 8.x client sends it (compatible-with=8)."""
    media = "application/vnd.elasticsearch+json; compatible-with=8"
    headers = {"accept": media}
    if body is not None:
        headers["content-type"] = media
    return es.perform_request(method, path, headers=headers, body=body)
