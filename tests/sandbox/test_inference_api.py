"""The _inference API with the real elasticsearch-py client: create (both path forms, validation,
download and deployment), get, delete with its refusals, inference, update, the preconfigured
endpoints, persistence and the 8.x versions."""

from __future__ import annotations

import pytest
from elasticsearch import Elasticsearch

from tests.sandbox.ml_support import (
    ELSER,
    TEXT_INPUT,
    api_error,
    arm_faults,
    assert_error,
    compat8,
    deploy,
    deployment_stats,
    poll,
    put_elser,
    strict,
)

SENTENCE_DEFAULT = {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1}
PRECONFIGURED = [".elser-2-elasticsearch", ".multilingual-e5-small-elasticsearch", ".rerank-v1-elasticsearch"]


def elser_config(**settings) -> dict:
    return {
        "service": "elasticsearch",
        "service_settings": {"model_id": ELSER, "num_threads": 1, "num_allocations": 1, **settings},
    }


def deployment_ids(es: Elasticsearch) -> list[str]:
    stats = es.ml.get_trained_models_stats()["trained_model_stats"]
    return [s["deployment_stats"]["deployment_id"] for s in stats if "deployment_stats" in s]


def put_endpoint(es: Elasticsearch, inference_id: str = "my-elser", task_type="sparse_embedding", **settings):
    return es.inference.put(
        task_type=task_type, inference_id=inference_id, inference_config=elser_config(**settings)
    )


def put_error(es: Elasticsearch, config: dict, inference_id="my-ep", task_type="sparse_embedding"):
    return api_error(
        lambda: es.inference.put(task_type=task_type, inference_id=inference_id, inference_config=config)
    )


# --- create -------------------------------------------------------------------------------------------


def test_put_downloads_the_model_and_deploys_it_under_the_endpoint_id(es):
    body = put_endpoint(es).body
    assert body == {
        "inference_id": "my-elser",
        "task_type": "sparse_embedding",
        "service": "elasticsearch",
        "service_settings": {"num_allocations": 1, "num_threads": 1, "model_id": ELSER},
        "chunking_settings": SENTENCE_DEFAULT,
    }
    stats = deployment_stats(es, "my-elser")
    assert (stats["deployment_id"], stats["model_id"], stats["state"]) == ("my-elser", ELSER, "started")
    model = es.ml.get_trained_models(model_id=ELSER, include="definition_status")["trained_model_configs"][0]
    assert model["fully_defined"] is True and model["input"] == TEXT_INPUT


def test_put_without_task_type_in_the_path_takes_it_from_the_body(es):
    config = {**elser_config(num_allocations=None), "task_type": "sparse_embedding"}
    config["service_settings"] = {
        "model_id": ELSER,
        "num_threads": 2,
        "adaptive_allocations": {"enabled": True},
    }
    body = es.inference.put(inference_id="body-task", inference_config=config).body
    assert body["task_type"] == "sparse_embedding"
    assert body["service_settings"] == {
        "num_threads": 2,
        "model_id": ELSER,
        "adaptive_allocations": {"enabled": True},
    }
    exc = api_error(lambda: es.inference.put(inference_id="no-task", inference_config=elser_config()))
    assert_error(exc, 400, "status_exception", "model is missing required setting [task_type]")
    config = {**elser_config(), "task_type": "text_embedding"}
    exc = api_error(
        lambda: es.inference.put(task_type="sparse_embedding", inference_id="x", inference_config=config)
    )
    assert_error(
        exc,
        400,
        "status_exception",
        "Cannot resolve conflicting task_type parameter in the request URL [sparse_embedding] and the request body "
        "[text_embedding]",
    )


@pytest.mark.parametrize(
    ("settings", "status", "type_", "reason"),
    [
        (
            {"model_id": ELSER, "num_allocations": 1},
            400,
            "validation_exception",
            "Validation Failed: 1: [service_settings] does not contain the required setting [num_threads];",
        ),
        (
            {"model_id": ELSER, "num_threads": 0, "num_allocations": 1},
            400,
            "validation_exception",
            "Validation Failed: 1: [service_settings] Invalid value [0]. [num_threads] must be a positive integer;",
        ),
        (
            {"model_id": ELSER, "num_threads": 1},
            400,
            "validation_exception",
            "Validation Failed: 1: [service_settings] does not contain one of the required settings "
            "[num_allocations, adaptive_allocations];",
        ),
        (
            {"num_threads": 1, "num_allocations": 1},
            400,
            "illegal_argument_exception",
            "Error parsing service settings, model_id must be provided",
        ),
        (
            {"model_id": "my-own-model", "num_threads": 1, "num_allocations": 1},
            400,
            "illegal_argument_exception",
            "Error parsing request config, model id does not match any models available on this platform. Was "
            "[my-own-model]. You may need to load it into the cluster using eland.",
        ),
        (
            {"model_id": ELSER, "num_threads": 1, "num_allocations": 1, "colour": "red"},
            400,
            "status_exception",
            "Configuration contains settings [{colour=red}] unknown to the [elasticsearch] service",
        ),
        (
            {"deployment_id": "nowhere"},
            404,
            "status_exception",
            "Cannot find deployment [nowhere]",
        ),
    ],
)
def test_put_validation(es, settings, status, type_, reason):
    exc = put_error(es, {"service": "elasticsearch", "service_settings": settings})
    assert_error(exc, status, type_, reason)
    assert es.inference.get(inference_id="_all")["endpoints"] == es.inference.get()["endpoints"]
    assert "my-ep" not in [e["inference_id"] for e in es.inference.get()["endpoints"]]


def test_put_refuses_services_ids_and_duplicates(es):
    assert_error(
        put_error(es, {"service_settings": {}}),
        400,
        "status_exception",
        "Inference endpoint configuration is missing the [service] setting",
    )
    assert_error(
        put_error(es, {"service": "openai", "service_settings": {}}),
        400,
        "status_exception",
        "Unknown service [openai]",
    )
    assert_error(
        put_error(es, elser_config(), inference_id=".elser-2-elasticsearch"),
        400,
        "status_exception",
        "[.elser-2-elasticsearch] is a reserved inference ID. Cannot create a new inference endpoint with a reserved ID.",
    )
    assert_error(
        put_error(es, elser_config(), inference_id="Bad-Id"),
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: Invalid inference_id; 'Bad-Id' can contain lowercase alphanumeric (a-z and 0-9), "
        "hyphens or underscores; must start and end with alphanumeric;",
    )
    put_endpoint(es)
    assert_error(
        put_error(es, elser_config(), inference_id="my-elser"),
        400,
        "status_exception",
        "Inference endpoint IDs must be unique. Requested inference endpoint ID [my-elser] matches existing trained "
        "model ID(s) but must not.",
    )
    es.ml.stop_trained_model_deployment(model_id="my-elser", force=True)
    assert_error(
        put_error(es, elser_config(), inference_id="my-elser"),
        400,
        "resource_already_exists_exception",
        "Inference endpoint [my-elser] already exists",
    )


def test_a_deployment_named_after_an_endpoint_is_refused_while_the_endpoint_deploys_it(es):
    """The ML start API knows deployments, not endpoints: a second deployment under the endpoint's id
    is refused as any duplicate deployment id is; once that deployment was force-stopped, deploying
    the model again under the endpoint's id is how the endpoint is repaired (#129325)."""
    put_endpoint(es)
    exc = api_error(
        lambda: strict(es).ml.start_trained_model_deployment(
            model_id=ELSER, deployment_id="my-elser", wait_for="started"
        )
    )
    assert_error(
        exc,
        400,
        "status_exception",
        "Could not start model deployment because an existing deployment with the same id [my-elser] exist",
    )
    es.ml.stop_trained_model_deployment(model_id="my-elser", force=True)
    broken = api_error(lambda: strict(es).inference.inference(inference_id="my-elser", input="broken"))
    assert_error(broken, 404, "resource_not_found_exception", "Could not find trained model [my-elser]")
    es.ml.start_trained_model_deployment(model_id=ELSER, deployment_id="my-elser", wait_for="started")
    result = es.inference.inference(inference_id="my-elser", input="repaired")
    assert result["sparse_embedding"][0]["embedding"]


def test_chunking_settings_are_validated_and_stored(es):
    word = {"strategy": "word", "max_chunk_size": 10, "overlap": 1}
    body = es.inference.put(
        task_type="sparse_embedding",
        inference_id="words",
        inference_config={**elser_config(), "chunking_settings": word},
    ).body
    assert body["chunking_settings"] == word
    bad = {**elser_config(), "chunking_settings": {"strategy": "word", "max_chunk_size": 5, "overlap": 4}}
    assert_error(
        put_error(es, bad),
        400,
        "validation_exception",
        "Validation Failed: 1: [chunking_settings] Invalid value [5.0]. [max_chunk_size] must be a greater than or "
        "equal to [10.0];",
    )
    bad = {**elser_config(), "chunking_settings": {"strategy": "paragraph"}}
    assert_error(put_error(es, bad), 400, "illegal_argument_exception", "Invalid chunkingStrategy paragraph")
    bad = {**elser_config(), "chunking_settings": {"max_chunk_size": 100}}
    assert_error(
        put_error(es, bad),
        400,
        "illegal_argument_exception",
        "Can't generate Chunker without ChunkingStrategy provided",
    )


def test_attach_to_an_existing_deployment(es):
    put_elser(es)
    deploy(es, ELSER, deployment_id="shared", number_of_allocations=2, threads_per_allocation=2)
    body = es.inference.put(
        task_type="sparse_embedding",
        inference_id="on-shared",
        inference_config={"service": "elasticsearch", "service_settings": {"deployment_id": "shared"}},
    ).body
    assert body["service_settings"] == {
        "num_allocations": 2,
        "num_threads": 2,
        "model_id": ELSER,
        "deployment_id": "shared",
    }
    mismatch = {
        "service": "elasticsearch",
        "service_settings": {"deployment_id": "shared", "model_id": ".elser_model_1"},
    }
    assert_error(
        put_error(es, mismatch),
        400,
        "status_exception",
        "Deployment [shared] uses model [.elser_model_2] which does not match the model [.elser_model_1] in the request.",
    )
    wrong_task = {"service": "elasticsearch", "service_settings": {"deployment_id": "shared"}}
    assert_error(
        put_error(es, wrong_task, task_type="text_embedding"),
        400,
        "status_exception",
        "Deployed model [.elser_model_2] with type [text_expansion] does not match the requested task type "
        "[text_embedding]",
    )
    assert es.inference.inference(inference_id="on-shared", input="attached")["sparse_embedding"][0][
        "embedding"
    ]
    # Deleting the endpoint leaves the deployment it did not create.
    assert es.inference.delete(inference_id="on-shared").body == {
        "acknowledged": True,
        "pipelines": [],
        "indexes": [],
    }
    assert deployment_stats(es, "shared")["state"] == "started"


def test_a_start_slower_than_the_timeout_answers_408_and_keeps_the_endpoint(es):
    exc = api_error(
        lambda: strict(es).inference.put(
            task_type="sparse_embedding", inference_id="slow", inference_config=elser_config(), timeout="50ms"
        )
    )
    assert exc.meta.status == 408
    assert [e["inference_id"] for e in es.inference.get(inference_id="slow")["endpoints"]] == ["slow"]
    poll(lambda: deployment_stats(es, "slow")["state"], lambda s: s == "started")
    assert es.inference.inference(inference_id="slow", input="ready now")["sparse_embedding"]


# --- get --------------------------------------------------------------------------------------------


def test_get_forms_and_live_allocations(es):
    put_endpoint(es, num_allocations=2)
    listed = [e["inference_id"] for e in es.inference.get()["endpoints"]]
    assert listed == sorted([*PRECONFIGURED, "my-elser"])
    sparse = [
        e["inference_id"]
        for e in es.inference.get(task_type="sparse_embedding", inference_id="_all")["endpoints"]
    ]
    assert sparse == [".elser-2-elasticsearch", "my-elser"]
    one = es.inference.get(task_type="sparse_embedding", inference_id="my-elser")["endpoints"]
    assert one[0]["service_settings"]["num_allocations"] == 2
    assert_error(
        api_error(
            lambda: es.ml.update_trained_model_deployment(model_id="my-elser", number_of_allocations=1)
        ),
        409,
        "status_exception",
        "Cannot update deployment [my-elser] as it was created by inference endpoint [my-elser]. This model "
        "deployment must be updated through the inference API.",
    )
    es.inference.update(
        inference_id="my-elser", inference_config={"service_settings": {"num_allocations": 1}}
    )
    assert (
        es.inference.get(inference_id="my-elser")["endpoints"][0]["service_settings"]["num_allocations"] == 1
    )
    assert_error(
        api_error(lambda: es.inference.get(inference_id="nope")),
        404,
        "resource_not_found_exception",
        "Inference endpoint not found [nope]",
    )
    assert_error(
        api_error(lambda: es.inference.get(task_type="text_embedding", inference_id="my-elser")),
        400,
        "status_exception",
        "Requested task type [text_embedding] does not match the inference endpoint's task type [sparse_embedding]",
    )
    assert_error(
        api_error(lambda: es.inference.get(task_type="sparse", inference_id="my-elser")),
        400,
        "status_exception",
        "Unknown task_type [sparse]",
    )


# --- delete -----------------------------------------------------------------------------------------


def test_delete_refuses_while_pipelines_and_indices_use_the_endpoint(es):
    put_endpoint(es)
    es.ingest.put_pipeline(
        id="p1",
        processors=[
            {"inference": {"model_id": "my-elser", "input_output": {"input_field": "a", "output_field": "b"}}}
        ],
    )
    es.indices.create(
        index="docs", mappings={"properties": {"body": {"type": "semantic_text", "inference_id": "my-elser"}}}
    )
    expected = (
        "Inference endpoint my-elser is referenced by pipelines: [p1]. Ensure that no pipelines are using this "
        "inference endpoint, or use force to ignore this warning and delete the inference endpoint. Inference endpoint "
        "my-elser is being used in the mapping for indexes: [docs]. Ensure that no index mappings are using this "
        "inference endpoint, or use force to ignore this warning and delete the inference endpoint."
    )
    assert_error(
        api_error(lambda: es.inference.delete(inference_id="my-elser")), 409, "status_exception", expected
    )
    dry = es.inference.delete(inference_id="my-elser", dry_run=True).body
    assert dry == {"acknowledged": False, "pipelines": ["p1"], "indexes": ["docs"], "error_message": expected}
    es.ingest.delete_pipeline(id="p1")
    index_only = api_error(lambda: es.inference.delete(inference_id="my-elser"))
    assert index_only.body["error"]["reason"].startswith(
        " Inference endpoint my-elser is being used in the mapping"
    )
    assert es.inference.delete(inference_id="my-elser", force=True).body["acknowledged"] is True
    assert (
        es.ml.get_trained_models_stats(model_id=ELSER)["trained_model_stats"][0].get("deployment_stats")
        is None
    )
    assert_error(
        api_error(lambda: es.inference.get(inference_id="my-elser")),
        404,
        "resource_not_found_exception",
        "Inference endpoint not found [my-elser]",
    )


def test_preconfigured_endpoints_are_reserved(es):
    assert_error(
        api_error(lambda: es.inference.delete(inference_id=".elser-2-elasticsearch")),
        400,
        "status_exception",
        "[.elser-2-elasticsearch] is a reserved inference endpoint. Use the force=true query parameter to delete the "
        "inference endpoint.",
    )
    es.inference.inference(inference_id=".elser-2-elasticsearch", input="wake up")
    assert es.inference.delete(inference_id=".elser-2-elasticsearch", force=True)["acknowledged"] is True
    assert ".elser-2-elasticsearch" in [e["inference_id"] for e in es.inference.get()["endpoints"]]
    assert ".elser-2-elasticsearch" not in deployment_ids(es)


# --- inference --------------------------------------------------------------------------------------


def test_sparse_inference_in_input_order_with_truncation(es):
    put_endpoint(es)
    result = es.inference.sparse_embedding(inference_id="my-elser", input=["brown fox", "word " * 600]).body
    first, long = result["sparse_embedding"]
    assert first["is_truncated"] is False and {"brown", "fox"} <= set(first["embedding"])
    assert long["is_truncated"] is True
    assert es.inference.inference(inference_id="my-elser", input="brown fox")["sparse_embedding"][0] == first


def test_dense_inference_and_input_type(es):
    es.inference.put(
        task_type="text_embedding",
        inference_id="my-e5",
        inference_config={
            "service": "elasticsearch",
            "service_settings": {
                "model_id": ".multilingual-e5-small",
                "num_threads": 1,
                "num_allocations": 1,
            },
        },
    )
    result = es.inference.text_embedding(inference_id="my-e5", input=["the cat"], input_type="search").body
    (embedding,) = result["text_embedding"]
    assert list(embedding) == ["embedding"] and len(embedding["embedding"]) == 384
    exc = api_error(
        lambda: es.inference.inference(
            task_type="sparse_embedding", inference_id="my-e5", input="x", input_type="search"
        )
    )
    assert_error(
        exc,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: Field [input_type] cannot be specified for task type [sparse_embedding];",
    )
    exc = api_error(
        lambda: es.inference.inference(task_type="sparse_embedding", inference_id="my-e5", input="x")
    )
    assert_error(
        exc,
        400,
        "status_exception",
        "Incompatible task_type, the requested type [sparse_embedding] does not match the model type [text_embedding]",
    )


def test_inference_request_errors(es):
    put_endpoint(es)
    exc = api_error(lambda: es.inference.inference(inference_id="my-elser", input=[]))
    assert_error(
        exc,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: Field [input] cannot be an empty array;",
    )
    exc = api_error(
        lambda: es.perform_request(
            "POST",
            "/_inference/my-elser",
            headers={"content-type": "application/json", "accept": "application/json"},
            body={"input": "x", "inputs": "y"},
        )
    )
    assert_error(
        exc,
        400,
        "x_content_parse_exception",
        "[1:2] [cluster:internal/xpack/inference] unknown field [inputs]",
    )
    exc = api_error(lambda: es.inference.inference(inference_id="missing", input="x"))
    assert_error(exc, 404, "resource_not_found_exception", "Inference endpoint not found [missing]")


def test_endpoint_inference_meets_the_queue_and_injected_rejections(es):
    put_endpoint(es)
    arm_faults(es, inference_rejection={"burst": 1})
    exc = api_error(lambda: strict(es).inference.inference(inference_id="my-elser", input="x"))
    assert_error(
        exc,
        429,
        "es_rejected_execution_exception",
        "inference process queue is full. Unable to execute command",
    )
    assert es.inference.inference(inference_id="my-elser", input="x")["sparse_embedding"]
    assert deployment_stats(es, "my-elser")["rejected_execution_count"] == 1


def test_preconfigured_endpoint_deploys_on_first_inference(es):
    e5 = ".multilingual-e5-small-elasticsearch"
    before = es.inference.get(inference_id=e5)["endpoints"][0]
    assert "num_allocations" not in before["service_settings"]
    assert e5 not in deployment_ids(es)
    result = es.inference.inference(inference_id=e5, input=["first use"])
    assert len(result["text_embedding"][0]["embedding"]) == 384
    stats = deployment_stats(es, e5)
    assert stats["adaptive_allocations"] == {
        "enabled": True,
        "min_number_of_allocations": 0,
        "max_number_of_allocations": 32,
    }
    assert es.inference.get(inference_id=e5)["endpoints"][0]["service_settings"]["num_allocations"] == 1


# --- update -----------------------------------------------------------------------------------------


def test_update_allocations_and_its_refusals(es):
    put_endpoint(es)
    body = es.inference.update(
        inference_id="my-elser", inference_config={"service_settings": {"num_allocations": 2}}
    ).body
    assert body["service_settings"]["num_allocations"] == 2
    assert deployment_stats(es, "my-elser")["number_of_allocations"] == 2
    assert_error(
        api_error(
            lambda: es.inference.update(
                inference_id="ghost", inference_config={"service_settings": {"num_allocations": 2}}
            )
        ),
        404,
        "resource_not_found_exception",
        "The inference endpoint [ghost] does not exist and cannot be updated",
    )
    assert_error(
        api_error(
            lambda: es.inference.update(
                inference_id=".elser-2-elasticsearch",
                inference_config={"service_settings": {"num_allocations": 2}},
            )
        ),
        400,
        "status_exception",
        "Default endpoint [.elser-2-elasticsearch] cannot be updated",
    )
    deploy(es, ELSER, deployment_id="shared")
    es.inference.put(
        task_type="sparse_embedding",
        inference_id="on-shared",
        inference_config={"service": "elasticsearch", "service_settings": {"deployment_id": "shared"}},
    )
    assert_error(
        api_error(
            lambda: es.inference.update(
                inference_id="on-shared", inference_config={"service_settings": {"num_allocations": 3}}
            )
        ),
        409,
        "status_exception",
        "Cannot update inference endpoint [on-shared] using model deployment [shared]. The model deployment must be "
        "updated through the trained models API.",
    )


# --- licence, persistence, versions -----------------------------------------------------------------


def test_basic_licence_refuses_the_api(start_sandbox):
    es = Elasticsearch(start_sandbox(license="basic").url)
    exc = api_error(lambda: put_endpoint(es))
    error = assert_error(exc, 403, "security_exception", "current license is non-compliant for [inference]")
    assert error["license.expired.feature"] == "inference"


def test_endpoints_survive_a_restart(start_sandbox, tmp_path):
    proc = start_sandbox(data_dir=tmp_path)
    es = Elasticsearch(proc.url)
    es.inference.put(
        task_type="sparse_embedding",
        inference_id="kept",
        inference_config={
            **elser_config(),
            "chunking_settings": {"strategy": "word", "max_chunk_size": 20, "overlap": 5},
        },
    )
    before = es.inference.get(inference_id="kept")["endpoints"]
    proc.stop()
    es = Elasticsearch(start_sandbox(data_dir=tmp_path).url)
    poll(lambda: deployment_stats(es, "kept")["state"], lambda s: s == "started")
    assert es.inference.get(inference_id="kept")["endpoints"] == before
    assert es.inference.inference(inference_id="kept", input="after restart")["sparse_embedding"]


def test_versions_before_8_15_have_no_inference_api_and_8_15_no_chunking_settings(start_sandbox):
    old = Elasticsearch(start_sandbox(version="8.14.3").url)
    exc = api_error(lambda: compat8(old, "GET", "/_inference"))
    assert exc.meta.status == 400
    assert exc.body == {"error": "no handler found for uri [/_inference] and method [GET]"}
    mappings = {"mappings": {"properties": {"body": {"type": "semantic_text"}}}}
    exc = api_error(lambda: compat8(old, "PUT", "/docs", mappings))
    assert_error(
        exc,
        400,
        "mapper_parsing_exception",
        "Failed to parse mapping: No handler for type [semantic_text] declared on field [body]",
    )
    es = Elasticsearch(start_sandbox(version="8.15.5").url)
    assert compat8(es, "GET", "/_inference").body == {
        "endpoints": []
    }  # preconfigured endpoints came with 8.16
    created = compat8(es, "PUT", "/_inference/sparse_embedding/old-style", elser_config()).body
    assert created["service_settings"]["model_id"] == ELSER and "chunking_settings" not in created


def test_an_endpoint_scaled_to_zero_shows_0_allocations_and_inference_wakes_it(start_sandbox):
    es = strict(
        Elasticsearch(
            start_sandbox(
                adaptive_trigger_seconds=0.1, scale_to_zero_seconds=0.4, scale_up_cooldown_seconds=0.3
            ).url
        )
    )
    elser = ".elser-2-elasticsearch"
    es.inference.inference(inference_id=elser, input="first use deploys it")

    def allocations():
        return es.inference.get(inference_id=elser)["endpoints"][0]["service_settings"]["num_allocations"]

    poll(allocations, lambda n: n == 0, timeout=10)
    assert deployment_stats(es, elser)["allocation_status"] == {
        "allocation_count": 0,
        "target_allocation_count": 0,
        "state": "fully_allocated",
    }
    assert es.inference.inference(inference_id=elser, input="wakes it up")["sparse_embedding"][0]["embedding"]
    assert allocations() == 1


def test_endpoint_inference_times_out_as_ml_inference_does(es):
    put_endpoint(es)
    texts = [f"text number {i}" for i in range(200)]  # one allocation, 1 ms each: far past 20 ms
    exc = api_error(
        lambda: strict(es).inference.inference(inference_id="my-elser", input=texts, timeout="20ms")
    )
    assert_error(exc, 408, "status_exception", "timeout [20ms] waiting for inference result")
    assert deployment_stats(es, "my-elser")["timeout_count"] >= 1
