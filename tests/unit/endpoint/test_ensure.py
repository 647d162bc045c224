"""ensure_endpoint (EnsureEndpointOperator): an endpoint created with the run's model, capacity and
chunking after the capacity check; an existing or preconfigured one used as it is (never changed);
the refusals, and a create that timed out or raced another run."""

from __future__ import annotations

import pytest

from es_embedding.endpoint import EnsureEndpointOperator, known
from es_embedding.errors import CapacityError, DeploymentFailedError, SettingsError
from tests.unit.fakes import FakeEs, FakeHook, api_error, context, not_found, settings, with_hook

ELSER = ".elser_model_2_linux-x86_64"
ELSER_CONFIG = {"trained_model_configs": [{"model_id": ELSER, "inference_config": {"text_expansion": {}}}]}
NO_DEPLOYMENTS = {"trained_model_stats": []}


def nodes(processors: int = 8) -> dict:
    return {"nodes": {"n1": {"roles": ["ml"], "attributes": {"ml.allocated_processors": str(processors)}}}}


def endpoint(
    inference_id: str, model_id: str = ELSER, task_type: str = "sparse_embedding", **service
) -> dict:
    return {
        "inference_id": inference_id,
        "task_type": task_type,
        "service": "elasticsearch",
        "service_settings": {"num_allocations": 1, "num_threads": 1, "model_id": model_id, **service},
    }


def ensure(client: FakeEs, model_id: str = ELSER, **variables) -> tuple[dict, dict]:
    operator = EnsureEndpointOperator(
        task_id="ensure_endpoint", model_id=model_id, settings=settings(**variables)
    )
    ctx = context()
    return with_hook(operator, FakeHook(client)).execute(ctx), ctx["ti"].pushed


SEMANTIC = {"embedding_inference": {"backend": "semantic_text"}}


def test_a_new_endpoint_gets_the_model_the_capacity_and_the_chunking():
    created = endpoint("es-embedding-elser-model-2", num_allocations=2)
    client = FakeEs(
        **{
            "inference.get": [not_found("Inference endpoint not found [es-embedding-elser-model-2]")],
            "ml.get_trained_models": [ELSER_CONFIG],
            "ml.get_trained_models_stats": [NO_DEPLOYMENTS],
            "nodes.info": [nodes()],
            "inference.put": [created],
        }
    )
    chunking = {"strategy": "word", "max_chunk_size": 100, "overlap": 10}
    result, pushed = ensure(
        client,
        embedding_inference={"backend": "semantic_text", "chunking_settings": chunking},
        embedding_deployment={"number_of_allocations": 2, "threads_per_allocation": 2, "timeout": "2m"},
    )
    assert client.calls["inference.put"] == [
        {
            "task_type": "sparse_embedding",
            "inference_id": "es-embedding-elser-model-2",
            "inference_config": {
                "service": "elasticsearch",
                "service_settings": {"model_id": ELSER, "num_threads": 2, "num_allocations": 2},
                "chunking_settings": chunking,
            },
            "timeout": "2m",
        }
    ]
    assert (
        result
        == pushed
        == {
            "inference_id": "es-embedding-elser-model-2",
            "deployment_id": "es-embedding-elser-model-2",
            "task_type": "sparse_embedding",
            "model_id": ELSER,
            "preconfigured": False,
            "created": True,
        }
    )


def test_adaptive_allocations_go_to_the_endpoint_instead_of_a_count():
    client = FakeEs(
        **{
            "inference.get": [not_found("not found")],
            "ml.get_trained_models": [
                {"trained_model_configs": [{"model_id": "e5", "inference_config": {"text_embedding": {}}}]}
            ],
            "ml.get_trained_models_stats": [NO_DEPLOYMENTS],
            "nodes.info": [nodes()],
            "inference.put": [endpoint("mine", "e5", "text_embedding")],
        }
    )
    ensure(
        client,
        model_id="e5",
        embedding_inference={"backend": "semantic_text", "inference_id": "mine"},
        embedding_deployment={
            "number_of_allocations": None,
            "adaptive_allocations": {"min_number_of_allocations": 0, "max_number_of_allocations": 4},
        },
    )
    (put,) = client.calls["inference.put"]
    assert put["task_type"] == "text_embedding"
    assert put["inference_config"] == {
        "service": "elasticsearch",
        "service_settings": {
            "model_id": "e5",
            "num_threads": 1,
            "adaptive_allocations": {
                "enabled": True,
                "min_number_of_allocations": 0,
                "max_number_of_allocations": 4,
            },
        },
    }


def test_not_enough_ml_processors_fails_before_creating():
    client = FakeEs(
        **{
            "inference.get": [not_found("not found")],
            "ml.get_trained_models": [ELSER_CONFIG],
            "ml.get_trained_models_stats": [NO_DEPLOYMENTS],
            "nodes.info": [nodes(2)],
        }
    )
    with pytest.raises(CapacityError, match=r"needs 4 allocation\(s\) x 1 thread\(s\) = 4 ML processors"):
        ensure(client, **SEMANTIC, embedding_deployment={"number_of_allocations": 4})
    assert not client.called("inference.put")


def test_an_existing_endpoint_is_used_as_it_is_and_differences_are_only_said():
    client = FakeEs(**{"inference.get": [{"endpoints": [endpoint("mine", num_allocations=1)]}]})
    result, _ = ensure(
        client,
        embedding_inference={"backend": "semantic_text", "inference_id": "mine"},
        embedding_deployment={"number_of_allocations": 3},
    )
    assert result["created"] is False and result["deployment_id"] == "mine"
    assert set(client.calls) == {"inference.get"}  # read only: never put, updated or deleted
    assert known.capacity_differences(endpoint("mine"), {"num_allocations": 3, "num_threads": 1}) == [
        "num_allocations 1 (the Variable asks for 3)"
    ]


def test_a_preconfigured_endpoint_is_used_and_an_endpoint_attached_to_a_deployment_names_it():
    preconfigured = endpoint(
        ".elser-2-elasticsearch", num_allocations=None, adaptive_allocations={"enabled": True}
    )
    client = FakeEs(**{"inference.get": [{"endpoints": [preconfigured]}]})
    result, _ = ensure(
        client, embedding_inference={"backend": "semantic_text", "inference_id": ".elser-2-elasticsearch"}
    )
    assert (result["preconfigured"], result["deployment_id"]) == (True, ".elser-2-elasticsearch")

    attached = endpoint("on-mine", deployment_id="elser-ingest")
    client = FakeEs(**{"inference.get": [{"endpoints": [attached]}]})
    result, _ = ensure(client, embedding_inference={"backend": "semantic_text", "inference_id": "on-mine"})
    assert result["deployment_id"] == "elser-ingest"


def test_an_endpoint_of_another_model_is_refused_not_changed():
    client = FakeEs(
        **{"inference.get": [{"endpoints": [endpoint("mine", ".multilingual-e5-small", "text_embedding")]}]}
    )
    with pytest.raises(DeploymentFailedError) as raised:
        ensure(client, embedding_inference={"backend": "semantic_text", "inference_id": "mine"})
    assert str(raised.value).startswith(
        f"endpoint [mine] embeds with model [.multilingual-e5-small], not [{ELSER}] (Variable 'embedding_model' "
        "key 'model_id'); an existing endpoint is used as it is, never changed"
    )


def test_a_preconfigured_id_the_cluster_lacks_cannot_be_created():
    client = FakeEs(**{"inference.get": [not_found("Inference endpoint not found [.elser-2-elastic]")]})
    with pytest.raises(
        SettingsError,
        match=r"^Variable 'embedding_inference': key 'inference_id' has value \"\.elser-2-elastic\"",
    ):
        ensure(client, embedding_inference={"backend": "semantic_text", "inference_id": ".elser-2-elastic"})
    assert not client.called("inference.put")


def test_a_model_that_does_not_embed_is_refused():
    client = FakeEs(
        **{
            "inference.get": [not_found("not found")],
            "ml.get_trained_models": [
                {"trained_model_configs": [{"model_id": "ner", "inference_config": {"ner": {}}}]}
            ],
        }
    )
    with pytest.raises(
        SettingsError, match=r"a text_expansion \(ELSER\) or text_embedding .* it has \['ner'\]"
    ):
        ensure(client, model_id="ner", **SEMANTIC)


@pytest.mark.parametrize(
    "refusal",
    [
        api_error(
            400,
            "resource_already_exists_exception",
            "Inference endpoint [es-embedding-elser-model-2] already exists",
        ),
        api_error(
            408,
            "status_exception",
            "Timed out after [30s] waiting for trained model deployment [es-embedding-elser-model-2] to start.",
        ),
    ],
)
def test_a_create_that_raced_or_timed_out_finds_the_stored_endpoint(refusal):
    stored = endpoint("es-embedding-elser-model-2")
    client = FakeEs(
        **{
            "inference.get": [not_found("not found"), {"endpoints": [stored]}],
            "ml.get_trained_models": [ELSER_CONFIG],
            "ml.get_trained_models_stats": [NO_DEPLOYMENTS],
            "nodes.info": [nodes()],
            "inference.put": [refusal],
        }
    )
    result, _ = ensure(client, **SEMANTIC)
    assert result["inference_id"] == "es-embedding-elser-model-2" and result["created"] is True


def test_any_other_refusal_of_the_create_fails_with_the_clusters_reason():
    client = FakeEs(
        **{
            "inference.get": [not_found("not found")],
            "ml.get_trained_models": [ELSER_CONFIG],
            "ml.get_trained_models_stats": [NO_DEPLOYMENTS],
            "nodes.info": [nodes()],
            "inference.put": [
                api_error(
                    400,
                    "status_exception",
                    "Inference endpoint IDs must be unique. Requested inference endpoint ID [es-embedding-elser-model-2] matches existing trained model ID(s) but must not.",
                )
            ],
        }
    )
    with pytest.raises(Exception, match=r"Inference endpoint IDs must be unique"):
        ensure(client, **SEMANTIC)
