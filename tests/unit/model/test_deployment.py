"""start_deployment (StartDeploymentOperator): the capacity check before a start, the start request,
what each refusal of it means, and the reuse or resize of an existing deployment."""

from __future__ import annotations

import pytest

from es_embedding.errors import CapacityError, ClusterRequestError, DeploymentFailedError
from es_embedding.model import StartDeploymentOperator
from es_embedding.model.deployment import refused_for_capacity, still_starting
from tests.unit.fakes import FakeEs, FakeHook, api_error, context, settings, with_hook

MODEL = ".elser_model_2_linux-x86_64"


def ml_nodes(*processors: int) -> dict:
    return {
        "nodes": {
            f"n{i}": {"roles": ["ml"], "attributes": {"ml.allocated_processors": str(count)}}
            for i, count in enumerate(processors, 1)
        }
    }


def deployment(model_id: str = MODEL, state: str = "started", allocations: int = 1, **extra) -> dict:
    stats = {
        "deployment_id": "elser-ingest",
        "model_id": model_id,
        "state": state,
        "number_of_allocations": allocations,
        "threads_per_allocation": 1,
        "queue_capacity": 10000,
        "priority": "normal",
        "nodes": [],
        **extra,
    }
    return {"trained_model_stats": [{"model_id": model_id, "deployment_stats": stats}]}


def start(client: FakeEs, **deployment_settings: object) -> dict:
    operator = StartDeploymentOperator(
        task_id="start_deployment",
        model_id=MODEL,
        settings=settings(embedding_deployment=deployment_settings),
    )
    return with_hook(operator, FakeHook(client)).execute(context())


NONE_RUNNING = {"ml.get_trained_models_stats": [{"trained_model_stats": []}]}


def test_a_new_deployment_starts_with_the_settings_parameters():
    client = FakeEs(
        **NONE_RUNNING, **{"nodes.info": [ml_nodes(4)], "ml.start_trained_model_deployment": [{}]}
    )
    assert start(client, number_of_allocations=2, threads_per_allocation=2) == {
        "deployment_id": "elser-ingest",
        "model_id": MODEL,
    }
    assert client.calls["ml.start_trained_model_deployment"] == [
        {
            "model_id": MODEL,
            "deployment_id": "elser-ingest",
            "threads_per_allocation": 2,
            "queue_capacity": 10000,
            "priority": "normal",
            "wait_for": "starting",
            "timeout": "30s",
            "number_of_allocations": 2,
        }
    ]


def test_too_few_free_processors_are_refused_before_starting_with_what_to_change():
    client = FakeEs(**NONE_RUNNING, **{"nodes.info": [ml_nodes(2)]})
    with pytest.raises(CapacityError) as refused:
        start(client, number_of_allocations=2, threads_per_allocation=2)
    assert str(refused.value).startswith(
        "deployment [elser-ingest] needs 2 allocation(s) x 2 thread(s) = 4 ML processors"
    )
    assert "lower number_of_allocations to 1" in str(refused.value)
    assert "ml.start_trained_model_deployment" not in client.calls


def test_auto_takes_one_allocation_per_free_processor():
    client = FakeEs(
        **NONE_RUNNING, **{"nodes.info": [ml_nodes(3, 2)], "ml.start_trained_model_deployment": [{}]}
    )
    start(client, number_of_allocations="auto", threads_per_allocation="auto")
    [sent] = client.calls["ml.start_trained_model_deployment"]
    assert (sent["number_of_allocations"], sent["threads_per_allocation"]) == (5, 1)


@pytest.mark.parametrize(
    "answer",
    [
        api_error(
            400,
            "status_exception",
            "Could not start model deployment because an existing deployment with the same id [elser-ingest] exist",
        ),
        api_error(
            409,
            "status_exception",
            "Cannot start deployment [elser-ingest] because it has already been started",
        ),
        api_error(
            408,
            "model_deployment_timeout_exception",
            "Timed out after [30s] waiting for trained model deployment [elser-ingest] to start. Use the trained "
            "model stats API to track the state of the deployment and try again once it has started.",
        ),
    ],
)
def test_a_start_that_raced_another_run_or_timed_out_server_side_is_left_to_the_wait(answer):
    client = FakeEs(
        **NONE_RUNNING, **{"nodes.info": [ml_nodes(4)], "ml.start_trained_model_deployment": [answer]}
    )
    assert start(client)["deployment_id"] == "elser-ingest"


def test_a_capacity_refusal_of_the_start_says_what_to_change():
    refused = api_error(
        429,
        "status_exception",
        "Could not start deployment because there are not enough resources to provide all requested allocations",
    )
    client = FakeEs(
        **NONE_RUNNING, **{"nodes.info": [ml_nodes(4)], "ml.start_trained_model_deployment": [refused]}
    )
    with pytest.raises(CapacityError, match=r"not enough resources .*Lower number_of_allocations"):
        start(client)


def test_another_refusal_is_an_error_naming_the_deployment_and_model():
    refused = api_error(400, "status_exception", "model [x] of type [tree_ensemble] cannot be deployed")
    client = FakeEs(
        **NONE_RUNNING, **{"nodes.info": [ml_nodes(4)], "ml.start_trained_model_deployment": [refused]}
    )
    with pytest.raises(ClusterRequestError) as raised:
        start(client)
    assert str(raised.value).startswith(
        f"starting deployment [elser-ingest] of model [{MODEL}] failed: HTTP 400"
    )


def test_a_running_deployment_with_the_wanted_allocations_is_reused():
    client = FakeEs(**{"ml.get_trained_models_stats": [deployment()]})
    assert start(client) == {"deployment_id": "elser-ingest", "model_id": MODEL}
    assert list(client.calls) == ["ml.get_trained_models_stats"]


def test_a_running_deployment_is_resized_within_the_free_processors():
    client = FakeEs(
        **{
            "ml.get_trained_models_stats": [deployment(allocations=1)],
            "nodes.info": [ml_nodes(4)],
            "ml.update_trained_model_deployment": [{}],
        }
    )
    start(client, number_of_allocations=3)
    assert client.calls["ml.update_trained_model_deployment"] == [
        {"model_id": "elser-ingest", "number_of_allocations": 3}
    ]


def test_a_deployment_of_another_model_or_a_failed_one_is_refused():
    with pytest.raises(DeploymentFailedError, match=r"exists for model \[other\], not \["):
        start(FakeEs(**{"ml.get_trained_models_stats": [deployment(model_id="other")]}))
    failed = deployment(state="failed", reason="process crashed")
    with pytest.raises(DeploymentFailedError, match=r"is failed \(deployment: process crashed\); stop it"):
        start(FakeEs(**{"ml.get_trained_models_stats": [failed]}))


def test_start_errors_that_mean_still_starting_or_no_capacity():
    timed_out = ClusterRequestError(
        "starting deployment [d] failed: HTTP 408 status_exception: Timed out after [30s] waiting for "
        "trained model deployment [d] to start.",
        status=408,
    )
    no_capacity = ClusterRequestError(
        "starting deployment [d] failed: HTTP 429 status_exception: Could not start deployment because no "
        "ML nodes with sufficient capacity were found",
        status=429,
    )
    assert still_starting(timed_out) and not still_starting(no_capacity)
    assert refused_for_capacity(timed_out) is None
    refusal = refused_for_capacity(no_capacity)
    assert isinstance(refusal, CapacityError)
    assert "sufficient capacity were found. Lower number_of_allocations" in str(refusal)
    assert refused_for_capacity(ClusterRequestError("queue is full", status=429)) is None
