"""The destination each backend needs (issue 11): on semantic_text, the source's text field keeps its
mapping and copies into a semantic_text field on the run's endpoint, with the run's chunking; on the
pipeline, the vector field with the fields the inference processor writes beside it (so a strict
source mapping takes them); and the sample search verification runs on each kind of field."""

from __future__ import annotations

import pytest

from es_embedding import bodies
from es_embedding.errors import EmbeddingError
from es_embedding.index import CreateDestIndexOperator
from es_embedding.settings import PipelineSettings
from tests.unit.fakes import FakeEs, FakeHook, context, settings, with_hook

SOURCE = {
    "mappings": {"dynamic": "strict", "properties": {"content": {"type": "text"}, "title": {"type": "text"}}},
    "settings": {"index": {"number_of_shards": "1"}},
}
CHUNKING = {"strategy": "word", "max_chunk_size": 120, "overlap": 20}


def create(client: FakeEs, inference_id: str | None, **variables) -> dict:
    operator = CreateDestIndexOperator(
        task_id="create_dest_index",
        source_index="src",
        dest_index="dst",
        model_id="m",
        inference_id=inference_id,
        settings=settings(**variables),
    )
    with_hook(operator, FakeHook(client)).execute(context(run_id="manual__7"))
    [sent] = client.calls["indices.create"]
    return sent["mappings"]


def test_semantic_text_destination_copies_the_text_field_into_the_endpoints_field():
    client = FakeEs(**{"indices.exists": [False], "indices.get": [{"src": SOURCE}], "indices.create": [{}]})
    mappings = create(
        client,
        "es-embedding-elser-model-2",
        embedding_inference={"backend": "semantic_text", "chunking_settings": CHUNKING},
    )
    assert mappings["properties"] == {
        "content": {"type": "text", "copy_to": "content_embedding"},
        "title": {"type": "text"},
        "content_embedding": {
            "type": "semantic_text",
            "inference_id": "es-embedding-elser-model-2",
            "chunking_settings": {"strategy": "word", "max_chunk_size": 120, "overlap": 20},
        },
    }
    assert mappings["_meta"]["backend"] == "semantic_text"
    assert mappings["_meta"]["inference_id"] == "es-embedding-elser-model-2"
    assert not client.called("ml.get_trained_models")  # the endpoint knows its model


def test_semantic_text_without_an_endpoint_is_an_error():
    client = FakeEs(**{"indices.exists": [False]})
    with pytest.raises(EmbeddingError, match="no inference endpoint was pushed by ensure_endpoint"):
        create(client, "", embedding_inference={"backend": "semantic_text"})


def test_pipeline_destination_maps_what_the_inference_processor_writes_beside_the_output():
    client = FakeEs(
        **{
            "ml.get_trained_models": [
                {
                    "trained_model_configs": [
                        {"model_id": "e5", "inference_config": {"text_embedding": {"embedding_size": 384}}}
                    ]
                }
            ],
            "indices.exists": [False],
            "indices.get": [{"src": SOURCE}],
            "indices.create": [{}],
        }
    )
    properties = create(client, "")["properties"]
    assert properties["content_embedding"] == {"type": "dense_vector", "dims": 384}
    assert properties["model_id"] == {"type": "keyword"}
    assert properties["is_truncated"] == {"type": "boolean"}
    assert properties["content"] == {"type": "text"}  # no copy_to on the pipeline path


def test_nested_output_fields_get_their_metadata_under_the_parent():
    assert bodies.inference_metadata_mappings("ml.body_vector") == {
        "ml.model_id": {"type": "keyword"},
        "ml.is_truncated": {"type": "boolean"},
    }
    assert bodies.truncated_query("ml.body_vector") == {"term": {"ml.is_truncated": True}}
    body = bodies.dest_index_body(
        {"mappings": {"properties": {"content": {"type": "text", "copy_to": ["all"]}}}},
        PipelineSettings(output_field="ml.body_vector"),
        {"type": "sparse_vector"},
        {},
    )
    assert body["mappings"]["properties"]["ml"] == {
        "properties": {"model_id": {"type": "keyword"}, "is_truncated": {"type": "boolean"}}
    }


def test_an_existing_copy_to_keeps_its_targets():
    body = bodies.dest_index_body(
        {"mappings": {"properties": {"content": {"type": "text", "copy_to": ["all"]}}}},
        PipelineSettings(),
        bodies.semantic_text_mapping("ep", None),
        {},
    )
    assert body["mappings"]["properties"]["content"]["copy_to"] == ["all", "content_embedding"]
    assert "embedding_failure" not in body["mappings"]["properties"]  # no failure record on this path


@pytest.mark.parametrize(
    ("field_type", "search"),
    [
        ("semantic_text", {"query": {"semantic": {"field": "f", "query": "q"}}}),
        ("sparse_vector", {"query": {"sparse_vector": {"field": "f", "inference_id": "d", "query": "q"}}}),
        (
            "dense_vector",
            {
                "knn": {
                    "field": "f",
                    "k": 10,
                    "num_candidates": 50,
                    "query_vector_builder": {"text_embedding": {"model_id": "d", "model_text": "q"}},
                }
            },
        ),
    ],
)
def test_the_sample_search_of_each_kind_of_field(field_type, search):
    assert bodies.sample_search(field_type, "f", "q", "d") == search
