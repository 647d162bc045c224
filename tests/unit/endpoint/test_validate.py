"""validate_settings' checks of the endpoint a semantic_text run names (check_endpoint_choice): read
only, before any download or write; the model behind an alias counts as the run's model."""

from __future__ import annotations

import pytest

from es_embedding.base import EsStage
from es_embedding.endpoint.validate import check_endpoint_choice
from es_embedding.errors import SettingsError
from tests.unit.fakes import FakeEs, FakeHook, not_found, settings, with_hook


def stage(client: FakeEs) -> EsStage:
    return with_hook(EsStage(task_id="validate_settings"), FakeHook(client))


def e5_endpoint(inference_id: str) -> dict:
    return {
        "endpoints": [
            {
                "inference_id": inference_id,
                "task_type": "text_embedding",
                "service": "elasticsearch",
                "service_settings": {"model_id": ".multilingual-e5-small_linux-x86_64"},
            }
        ]
    }


def test_nothing_is_read_for_the_pipeline_backend_or_an_endpoint_named_after_the_model():
    check_endpoint_choice(stage(FakeEs()), settings())
    check_endpoint_choice(stage(FakeEs()), settings(embedding_inference={"backend": "semantic_text"}))


def test_an_existing_endpoint_of_the_runs_model_passes_through_an_alias():
    client = FakeEs(
        **{
            "inference.get": [e5_endpoint("my-e5")],
            "ml.get_trained_models": [{"trained_model_configs": [{"model_id": ".multilingual-e5-small"}]}],
        }
    )
    check_endpoint_choice(
        stage(client),
        settings(
            embedding_inference={"backend": "semantic_text", "inference_id": "my-e5"},
            embedding_model={"model_id": "my-dense-alias"},
        ),
    )
    assert client.calls["ml.get_trained_models"] == [{"model_id": "my-dense-alias"}]


def test_an_existing_endpoint_of_another_model_fails_naming_both_variables():
    client = FakeEs(
        **{
            "inference.get": [e5_endpoint(".multilingual-e5-small-elasticsearch")],
            "ml.get_trained_models": [not_found("No known trained model with model_id [.elser_model_2]")],
        }
    )
    with pytest.raises(SettingsError) as raised:
        check_endpoint_choice(
            stage(client),
            settings(
                embedding_inference={
                    "backend": "semantic_text",
                    "inference_id": ".multilingual-e5-small-elasticsearch",
                }
            ),
        )
    assert str(raised.value).startswith(
        "Variable 'embedding_inference': key 'inference_id' has value \".multilingual-e5-small-elasticsearch\"; "
        "allowed: an endpoint for the run's model: endpoint [.multilingual-e5-small-elasticsearch] embeds with model "
        "[.multilingual-e5-small_linux-x86_64], not [.elser_model_2] (Variable 'embedding_model' key 'model_id')"
    )


def test_a_preconfigured_id_the_cluster_does_not_list_fails():
    client = FakeEs(**{"inference.get": [not_found("Inference endpoint not found [.elser-2-elastic]")]})
    with pytest.raises(SettingsError, match=r"ids starting with '\.' are Elasticsearch's preconfigured ones"):
        check_endpoint_choice(
            stage(client),
            settings(embedding_inference={"backend": "semantic_text", "inference_id": ".elser-2-elastic"}),
        )


def test_a_new_id_is_left_to_ensure_endpoint_to_create():
    client = FakeEs(**{"inference.get": [not_found("Inference endpoint not found [mine]")]})
    check_endpoint_choice(
        stage(client), settings(embedding_inference={"backend": "semantic_text", "inference_id": "mine"})
    )
