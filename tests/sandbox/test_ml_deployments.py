"""Deployments: start parameters and their validation, capacity, states over time, stop and update."""

from __future__ import annotations

import time

import pytest

from tests.sandbox.ml_support import (
    ELSER,
    api_error,
    arm_faults,
    assert_deploy_times_out_on_the_download,
    assert_error,
    compat8,
    deploy,
    deployment_stats,
    poll,
    put_elser,
    strict,
)


@pytest.fixture
def elser(es):
    put_elser(es, wait=True)
    return es


def test_start_answers_the_assignment(elser):
    es = elser
    assignment = deploy(
        es, number_of_allocations=2, threads_per_allocation=2, queue_capacity=500, priority="normal"
    )
    assert list(assignment) == [
        "task_parameters",
        "routing_table",
        "assignment_state",
        "start_time",
        "max_assigned_allocations",
    ]
    assert assignment["task_parameters"] == {
        "model_id": ELSER,
        "deployment_id": ELSER,
        "model_bytes": 438123914,
        "threads_per_allocation": 2,
        "number_of_allocations": 2,
        "queue_capacity": 500,
        "cache_size": "417.8mb",
        "priority": "normal",
        "per_deployment_memory_bytes": 0,
        "per_allocation_memory_bytes": 0,
    }
    ((node_id, route),) = assignment["routing_table"].items()
    assert route == {"current_allocations": 2, "target_allocations": 2, "routing_state": "started"}
    assert len(node_id) == 22
    assert assignment["assignment_state"] == "started"
    assert assignment["start_time"].endswith("Z") and "T" in assignment["start_time"]
    assert assignment["max_assigned_allocations"] == 2


def test_defaults_and_states_over_time(elser):
    es = elser
    assignment = deploy(es, wait_for="starting")
    params = assignment["task_parameters"]
    assert (params["number_of_allocations"], params["threads_per_allocation"], params["queue_capacity"]) == (
        1,
        1,
        10000,
    )
    assert params["priority"] == "normal"
    assert assignment["assignment_state"] == "starting"
    assert [r["routing_state"] for r in assignment["routing_table"].values()] == ["starting"]

    stats = deployment_stats(es, ELSER)
    assert stats["state"] == "starting"
    assert stats["allocation_status"] == {
        "allocation_count": 0,
        "target_allocation_count": 1,
        "state": "starting",
    }
    assert stats["nodes"][0]["routing_state"] == {"routing_state": "starting"}

    stats = poll(lambda: deployment_stats(es, ELSER), lambda s: s["state"] == "started", timeout=5)
    assert stats["allocation_status"] == {
        "allocation_count": 1,
        "target_allocation_count": 1,
        "state": "fully_allocated",
    }
    assert stats["nodes"][0]["routing_state"] == {"routing_state": "started"}


def test_validation_errors(elser):
    es = elser

    def start_error(**params):
        return api_error(lambda: es.ml.start_trained_model_deployment(model_id=ELSER, **params))

    cases = [
        (
            {"threads_per_allocation": 3},
            "[threads_per_allocation] must be a power of 2 less than or equal to 32",
        ),
        (
            {"threads_per_allocation": 64},
            "[threads_per_allocation] must be a power of 2 less than or equal to 32",
        ),
        ({"number_of_allocations": 0}, "[number_of_allocations] must be a positive integer"),
        ({"queue_capacity": 100001}, "[queue_capacity] must be less than 100000"),
        ({"queue_capacity": 0}, "[queue_capacity] must be a positive integer"),
        ({"timeout": "0s"}, "[timeout] must be positive"),
        (
            {"priority": "low", "number_of_allocations": 2},
            "[number_of_allocations] must be 1 when [priority] is low",
        ),
        (
            {"priority": "low", "threads_per_allocation": 2},
            "[threads_per_allocation] must be 1 when [priority] is low",
        ),
        (
            {"number_of_allocations": 2, "adaptive_allocations": {"enabled": True}},
            "[number_of_allocations] cannot be set if adaptive allocations is enabled",
        ),
        (
            {
                "adaptive_allocations": {
                    "enabled": True,
                    "min_number_of_allocations": 4,
                    "max_number_of_allocations": 2,
                }
            },
            "[min_number_of_allocations] must not be larger than [max_number_of_allocations]",
        ),
    ]
    for params, problem in cases:
        assert_error(
            start_error(**params),
            400,
            "action_request_validation_exception",
            f"Validation Failed: 1: {problem};",
        )

    exc = start_error(threads_per_allocation=0, queue_capacity=0)
    assert exc.body["error"]["reason"] == (
        "Validation Failed: 1: [threads_per_allocation] must be a positive integer;"
        "2: [threads_per_allocation] must be a power of 2 less than or equal to 32;"
        "3: [queue_capacity] must be a positive integer;"
    )
    exc = start_error(wait_for="done")
    assert exc.meta.status == 400 and exc.body["error"]["type"] == "illegal_argument_exception"
    # nothing was created by the refused requests
    assert "deployment_stats" not in es.ml.get_trained_models_stats(model_id=ELSER)["trained_model_stats"][0]


def test_parameters_in_the_body_and_their_mismatch_with_the_query(elser):
    es = elser
    path = f"/_ml/trained_models/{ELSER}/deployment/_start"
    headers = {"accept": "application/json", "content-type": "application/json"}
    body = {"number_of_allocations": 2, "wait_for": "started", "queue_capacity": 64}
    assignment = es.perform_request("POST", path, headers=headers, body=body)["assignment"]
    assert assignment["task_parameters"]["number_of_allocations"] == 2
    assert assignment["task_parameters"]["queue_capacity"] == 64

    exc = api_error(
        lambda: es.perform_request(
            "POST", path, params={"deployment_id": "other", "threads_per_allocation": "2"}, headers=headers,
            body={"threads_per_allocation": 4},
        )
    )  # fmt: skip
    assert_error(
        exc,
        400,
        "status_exception",
        "The parameter 4 in the body is different from the parameter 2 in the query",
    )


def test_legacy_parameter_names(elser, start_sandbox):
    es = elser
    path = f"/_ml/trained_models/{ELSER}/deployment/_start"
    exc = api_error(
        lambda: es.perform_request(
            "POST", path, params={"inference_threads": "2"}, headers={"accept": "application/json"}
        )
    )
    assert_error(
        exc,
        400,
        "illegal_argument_exception",
        f"request [{path}] contains unrecognized parameter: [inference_threads]",
    )
    # through REST compatibility with 8 the old names still work on 9.x
    assignment = compat8(es, "POST", f"{path}?inference_threads=2&model_threads=2&wait_for=started")[
        "assignment"
    ]
    assert assignment["task_parameters"]["threads_per_allocation"] == 2
    assert assignment["task_parameters"]["number_of_allocations"] == 2


def test_queue_capacity_limits_of_an_8x_node(start_sandbox):
    from elasticsearch import Elasticsearch

    proc = start_sandbox(version="8.15.3")
    es = Elasticsearch(proc.url, request_timeout=30)
    compat8(
        es,
        "PUT",
        f"/_ml/trained_models/{ELSER}?wait_for_completion=true",
        {"input": {"field_names": ["text_field"]}},
    )
    base = f"/_ml/trained_models/{ELSER}/deployment/_start"
    exc = api_error(lambda: compat8(es, "POST", f"{base}?queue_capacity=1000001"))
    assert_error(
        exc,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: [queue_capacity] must be less than 1000000;",
    )
    assignment = compat8(es, "POST", f"{base}?queue_capacity=200000&wait_for=started")["assignment"]
    assert assignment["task_parameters"]["queue_capacity"] == 200000
    other = compat8(es, "POST", f"{base}?deployment_id=defaults&wait_for=started")["assignment"]
    assert other["task_parameters"]["queue_capacity"] == 1024


def test_several_deployments_of_one_model(elser):
    es = elser
    deploy(es, deployment_id="for-ingest", number_of_allocations=2)
    deploy(es, deployment_id="for-search", threads_per_allocation=2)

    exc = api_error(lambda: deploy(es, deployment_id="for-search"))
    assert_error(
        exc,
        400,
        "status_exception",
        "Could not start model deployment because an existing deployment with the same id [for-search] exist",
    )
    stats = es.ml.get_trained_models_stats(model_id=ELSER)
    assert stats["count"] == 2
    assert [s["deployment_stats"]["deployment_id"] for s in stats["trained_model_stats"]] == [
        "for-ingest",
        "for-search",
    ]
    one = es.ml.get_trained_models_stats(model_id="for-search")
    assert one["count"] == 1
    assert one["trained_model_stats"][0]["deployment_stats"]["threads_per_allocation"] == 2

    es.ml.put_trained_model(
        model_id="other-model",
        model_type="pytorch",
        inference_config={"text_expansion": {}},
        input={"field_names": ["t"]},
    )
    exc = api_error(lambda: deploy(es, deployment_id="other-model"))
    assert_error(
        exc,
        400,
        "status_exception",
        "Deployment id [other-model] is the same as an another model which is not the model being deployed. "
        "Deployment id can be the same as the model being deployed but cannot match a different model",
    )


def test_unknown_and_undeployable_models(es):
    exc = api_error(lambda: deploy(es, "missing"))
    assert_error(exc, 404, "resource_not_found_exception", "No known trained model with model_id [missing]")
    exc = api_error(lambda: deploy(es, "lang_ident_model_1"))
    assert_error(
        exc,
        400,
        "status_exception",
        "model [lang_ident_model_1] of type [lang_ident] cannot be deployed. Only PyTorch models can be deployed",
    )
    es.ml.put_trained_model(
        model_id="no-parts",
        model_type="pytorch",
        inference_config={"text_expansion": {}},
        input={"field_names": ["t"]},
    )
    exc = api_error(lambda: deploy(es, "no-parts"))
    assert_error(
        exc, 404, "resource_not_found_exception", "Could not find trained model definition [no-parts]"
    )


def test_start_while_downloading(start_sandbox):
    from elasticsearch import Elasticsearch

    es = Elasticsearch(start_sandbox(download_seconds=1.5).url, request_timeout=30)
    put_elser(es, wait=False)
    assert_deploy_times_out_on_the_download(es)
    # a long enough timeout waits for the download, then deploys
    began = time.monotonic()
    assignment = deploy(es, timeout="20s")
    assert assignment["assignment_state"] == "started"
    assert time.monotonic() - began > 0.5


def test_no_capacity_answers_429_with_the_planner_reason(start_sandbox):
    from elasticsearch import Elasticsearch

    es = strict(Elasticsearch(start_sandbox(ml_nodes=2, ml_processors=4).url, request_timeout=30))
    put_elser(es, wait=True)
    probe = deploy(es, deployment_id="probe", number_of_allocations=2, threads_per_allocation=4)
    nodes = sorted(probe["routing_table"])
    assert len(nodes) == 2
    es.ml.stop_trained_model_deployment(model_id="probe")

    exc = api_error(lambda: deploy(es, threads_per_allocation=8))
    error = assert_error(
        exc,
        429,
        "status_exception",
        "Could not start deployment because no ML nodes with sufficient capacity were found",
    )
    reasons = "|".join(
        f"Could not assign (more) allocations on node [{node}]. Reason: This node has insufficient allocated processors. "
        "Available processors [4], free processors [4], processors required for each allocation of this model [8]"
        for node in nodes
    )
    assert error["caused_by"] == {
        "type": "illegal_state_exception",
        "reason": f"Could not start deployment because no suitable nodes were found, allocation explanation [{reasons}]",
    }
    assert error["root_cause"] == [
        {
            "type": "status_exception",
            "reason": "Could not start deployment because no ML nodes with sufficient capacity were found",
        }
    ]

    # more allocations than free processors in total: refused, nothing created
    exc = api_error(lambda: deploy(es, number_of_allocations=5, threads_per_allocation=2))
    assert_error(
        exc,
        429,
        "status_exception",
        "Could not start deployment because there are not enough resources to provide all requested allocations",
    )
    assert "deployment_stats" not in str(es.ml.get_trained_models_stats().body)

    # allocations are bounded by free processors: 4 x 2 threads fill both nodes
    assignment = deploy(es, deployment_id="big", number_of_allocations=4, threads_per_allocation=2)
    assert sorted(r["current_allocations"] for r in assignment["routing_table"].values()) == [2, 2]
    exc = api_error(lambda: deploy(es, deployment_id="more"))
    error = exc.body["error"]
    assert exc.meta.status == 429
    assert (
        "free processors [0], processors required for each allocation of this model [1]"
        in error["caused_by"]["reason"]
    )

    # low priority deployments take no processors
    low = deploy(es, deployment_id="low", priority="low")
    assert low["task_parameters"]["priority"] == "low"


def test_no_ml_nodes(start_sandbox):
    from elasticsearch import Elasticsearch

    es = strict(Elasticsearch(start_sandbox(ml_nodes=0).url, request_timeout=30))
    put_elser(es, wait=True)
    exc = api_error(lambda: deploy(es))
    error = assert_error(
        exc,
        429,
        "status_exception",
        "Could not start deployment because no ML nodes with sufficient capacity were found",
    )
    assert error["caused_by"]["reason"] == (
        "Could not start deployment because no suitable nodes were found, allocation explanation "
        "[No ML nodes exist in the cluster]"
    )


def test_timeout_keeps_the_deployment_starting(elser):
    es = elser
    arm_faults(es, deployment_stuck={"deployment_id": "stuck*", "reason": "native process did not start"})
    exc = api_error(lambda: deploy(es, deployment_id="stuck-one", timeout="1s"))
    assert_error(
        exc,
        408,
        "model_deployment_timeout_exception",
        "Timed out after [1s] waiting for trained model deployment [stuck-one] to start. Use the trained model stats "
        "API to track the state of the deployment and try again once it has started.",
    )
    stats = deployment_stats(es, "stuck-one")
    assert stats["state"] == "starting"
    assert stats["allocation_status"]["state"] == "starting"
    assert stats["nodes"][0]["routing_state"] == {
        "routing_state": "starting",
        "reason": "native process did not start",
    }
    assert stats["nodes"][0]["peak_throughput_per_minute"] == 0
    assert set(stats["nodes"][0]) == {
        "node",
        "routing_state",
        "peak_throughput_per_minute",
        "throughput_last_minute",
    }
    # other deployments are not stuck
    assert deploy(es, deployment_id="fine")["assignment_state"] == "started"


def test_stop(elser):
    es = elser
    deploy(es)
    assert es.ml.stop_trained_model_deployment(model_id=ELSER).body == {"stopped": True}
    assert "deployment_stats" not in es.ml.get_trained_models_stats(model_id=ELSER)["trained_model_stats"][0]
    # unknown deployments: allowed by default, 404 without allow_no_match
    assert es.ml.stop_trained_model_deployment(model_id="nothing").body == {"stopped": True}
    exc = api_error(lambda: es.ml.stop_trained_model_deployment(model_id="nothing", allow_no_match=False))
    assert_error(exc, 404, "resource_not_found_exception", "No known model deployment with id [nothing]")


def test_stop_refused_while_a_pipeline_references_the_deployment(elser):
    es = elser
    deploy(es, deployment_id="ingest-elser")
    es.ingest.put_pipeline(
        id="p",
        processors=[
            {
                "inference": {
                    "model_id": "ingest-elser",
                    "input_output": [{"input_field": "a", "output_field": "b"}],
                }
            }
        ],
    )
    exc = api_error(lambda: es.ml.stop_trained_model_deployment(model_id="ingest-elser"))
    assert_error(
        exc,
        409,
        "status_exception",
        "Cannot stop deployment [ingest-elser] as it is referenced by ingest processors; use force to stop the deployment",
    )
    assert es.ml.stop_trained_model_deployment(model_id="ingest-elser", force=True).body == {"stopped": True}


def test_update_allocations(elser):
    es = strict(elser)
    deploy(es, number_of_allocations=1)

    assignment = es.ml.update_trained_model_deployment(model_id=ELSER, number_of_allocations=7).body[
        "assignment"
    ]
    assert assignment["task_parameters"]["number_of_allocations"] == 7
    route = next(iter(assignment["routing_table"].values()))
    assert route["target_allocations"] == 7
    stats = poll(
        lambda: deployment_stats(es, ELSER),
        lambda s: s["allocation_status"]["allocation_count"] == 7,
        timeout=5,
    )
    assert stats["allocation_status"]["state"] == "fully_allocated"

    exc = api_error(lambda: es.ml.update_trained_model_deployment(model_id=ELSER, number_of_allocations=9))
    assert_error(
        exc,
        429,
        "status_exception",
        "Could not update deployment because there are not enough resources to provide all requested allocations",
    )
    assignment = es.ml.update_trained_model_deployment(model_id=ELSER, number_of_allocations=1).body[
        "assignment"
    ]
    assert next(iter(assignment["routing_table"].values()))["current_allocations"] == 1

    exc = api_error(
        lambda: es.ml.update_trained_model_deployment(model_id="missing", number_of_allocations=1)
    )
    assert_error(exc, 404, "resource_not_found_exception", "No known model deployment with id [missing]")
    exc = api_error(
        lambda: es.ml.update_trained_model_deployment(
            model_id=ELSER, number_of_allocations=2, adaptive_allocations={"enabled": True}
        )
    )
    assert_error(
        exc,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: [number_of_allocations] cannot be set if adaptive allocations is enabled;",
    )

    deploy(es, deployment_id="slow", wait_for="starting")
    exc = api_error(lambda: es.ml.update_trained_model_deployment(model_id="slow", number_of_allocations=2))
    assert_error(exc, 409, "status_exception", "cannot update deployment that is not in [started] state")


def test_adaptive_allocations(elser):
    es = elser
    assignment = deploy(
        es,
        adaptive_allocations={
            "enabled": True,
            "min_number_of_allocations": 2,
            "max_number_of_allocations": 4,
        },
    )
    assert assignment["task_parameters"]["number_of_allocations"] == 2
    assert assignment["adaptive_allocations"] == {
        "enabled": True,
        "min_number_of_allocations": 2,
        "max_number_of_allocations": 4,
    }
    stats = deployment_stats(es, ELSER)
    assert stats["adaptive_allocations"] == {
        "enabled": True,
        "min_number_of_allocations": 2,
        "max_number_of_allocations": 4,
    }
    assert list(stats).index("adaptive_allocations") == list(stats).index("number_of_allocations") + 1


def test_node_restart_reloads_deployments(elser):
    es = elser
    deploy(es)
    es.ml.infer_trained_model(model_id=ELSER, docs=[{"text_field": "before restart"}])
    assert deployment_stats(es, ELSER)["inference_count"] == 1
    arm_faults(es, node_restart=True)
    stats = deployment_stats(es, ELSER)
    assert stats["state"] == "starting"
    assert "inference_count" not in stats  # counters lived in the lost process
    stats = poll(lambda: deployment_stats(es, ELSER), lambda s: s["state"] == "started", timeout=5)
    assert stats["nodes"][0]["inference_count"] == 0


def test_license_basic_refuses_ml_writes(start_sandbox):
    from elasticsearch import AuthorizationException, Elasticsearch

    es = Elasticsearch(start_sandbox(license="basic").url, request_timeout=30)
    with pytest.raises(AuthorizationException) as info:
        put_elser(es)
    assert info.value.body == {
        "error": {
            "root_cause": [
                {
                    "type": "security_exception",
                    "reason": "current license is non-compliant for [ml]",
                    "license.expired.feature": "ml",
                }
            ],
            "type": "security_exception",
            "reason": "current license is non-compliant for [ml]",
            "license.expired.feature": "ml",
        },
        "status": 403,
    }
    for call in (
        lambda: deploy(es),
        lambda: es.ml.put_trained_model(
            model_id="custom",
            model_type="pytorch",
            inference_config={"text_expansion": {}},
            input={"field_names": ["t"]},
        ),
    ):
        exc = api_error(call)
        assert_error(exc, 403, "security_exception", "current license is non-compliant for [ml]")
    # reads and basic-licensed models still work, as on a basic cluster
    assert es.ml.get_trained_models()["count"] == 1
    assert es.ml.info()["limits"]["total_ml_processors"] == 8
    language = es.ml.infer_trained_model(model_id="lang_ident_model_1", docs=[{"text": "hello there"}])
    assert language["inference_results"][0]["predicted_value"] == "en"
