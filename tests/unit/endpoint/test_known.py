"""What an endpoint is, from the cluster's answers: the name this package gives the endpoints it
creates, the task type a model embeds as, the deployment behind an endpoint, and why an existing
endpoint cannot serve a run."""

from __future__ import annotations

from es_embedding.endpoint import known


def test_the_endpoint_a_run_creates_is_named_after_the_model_without_its_platform():
    assert known.default_inference_id(".elser_model_2_linux-x86_64") == "es-embedding-elser-model-2"
    assert known.default_inference_id(".multilingual-e5-small") == "es-embedding-multilingual-e5-small"
    assert (
        known.default_inference_id("sentence-transformers__msmarco")
        == "es-embedding-sentence-transformers-msmarco"
    )


def test_task_types_by_the_models_inference_config():
    assert known.task_type_for({"inference_config": {"text_expansion": {}}}) == "sparse_embedding"
    assert (
        known.task_type_for({"inference_config": {"text_embedding": {"embedding_size": 384}}})
        == "text_embedding"
    )
    assert known.task_type_for({"inference_config": {"ner": {}}}) is None


def test_the_deployment_behind_an_endpoint():
    own = {"inference_id": "e", "service": "elasticsearch", "service_settings": {"model_id": "m"}}
    attached = {"inference_id": "e", "service": "elasticsearch", "service_settings": {"deployment_id": "d"}}
    eis = {
        "inference_id": ".elser-2-elastic",
        "service": "elastic",
        "service_settings": {"model_id": "elser_model_2"},
    }
    assert (known.deployment_of(own), known.deployment_of(attached), known.deployment_of(eis)) == (
        "e",
        "d",
        None,
    )


def test_endpoint_problems():
    sparse = {"inference_id": "e", "task_type": "sparse_embedding", "service": "elasticsearch",
              "service_settings": {"model_id": ".elser_model_2"}}  # fmt: skip
    assert known.endpoint_problem(sparse, ".elser_model_2_linux-x86_64") is None
    assert "embeds with model [.elser_model_2], not [e5]" in known.endpoint_problem(sparse, "e5")
    rerank = {**sparse, "task_type": "rerank"}
    assert known.endpoint_problem(rerank, ".elser_model_2").startswith("endpoint [e] is a rerank endpoint")
    eis = {**sparse, "service": "elastic"}
    assert known.endpoint_problem(eis, "anything") is None  # its model is the service's, not the cluster's
