"""The semantic_text mapping as Elasticsearch 9.5 checks and shows it: the model settings of dense
endpoints (E5's and a custom model's, whose dimensions the endpoint learns when it is created),
`index_options` checked against the endpoint when the mapping is parsed, and the places a
semantic_text field may not be (inside `nested`, under `subobjects: false`, in a dynamic template)."""

from __future__ import annotations

import base64

import pytest

from tests.sandbox.ml_support import api_error, assert_error, error_of, strict
from tests.sandbox.test_semantic_text import E5, field_mapping

SPARSE = ".elser-2-elasticsearch"


def create_error(es, mappings: dict):
    return api_error(lambda: strict(es).indices.create(index="bad", mappings=mappings))


def parse_failure(exc, reason: str) -> dict:
    """MapperService.parseMapping's wrapper around what the field's parser threw."""
    return assert_error(exc, 400, "mapper_parsing_exception", f"Failed to parse mapping: {reason}")


def semantic(**params) -> dict:
    return {"type": "semantic_text", **params}


# --- model settings of dense endpoints -------------------------------------------------------------------


def upload_embedder(es, model_id: str, dims: int) -> None:
    """A custom (eland) text_embedding model: config, vocabulary and one definition part."""
    es.ml.put_trained_model(
        model_id=model_id,
        model_type="pytorch",
        inference_config={"text_embedding": {"embedding_size": dims}},
        input={"field_names": ["text_field"]},
    )
    es.ml.put_trained_model_vocabulary(model_id=model_id, vocabulary=["[PAD]", "[UNK]", "words"])
    es.ml.put_trained_model_definition_part(
        model_id=model_id,
        part=0,
        definition=base64.b64encode(b"torchscript").decode(),
        total_definition_length=11,
        total_parts=1,
    )


def test_a_custom_embedding_endpoint_learns_its_dimensions_and_the_field_records_them(es):
    upload_embedder(es, "my-embedder", 64)
    created = es.inference.put(
        task_type="text_embedding",
        inference_id="my-dense",
        inference_config={
            "service": "elasticsearch",
            "service_settings": {
                "model_id": "my-embedder",
                "num_allocations": 1,
                "num_threads": 1,
                "similarity": "dot_product",
            },
        },
    ).body
    # CustomElandInternalTextEmbeddingServiceSettings: the probe's dimensions, then similarity and type
    assert created["service_settings"] == {
        "num_allocations": 1,
        "num_threads": 1,
        "model_id": "my-embedder",
        "dimensions": 64,
        "similarity": "dot_product",
        "element_type": "float",
    }
    es.indices.create(index="dense", mappings={"properties": {"body": semantic(inference_id="my-dense")}})
    # 9.1+ (#129967): default index options are no part of the mapping, before or after the first document
    assert field_mapping(es, "dense") == {"type": "semantic_text", "inference_id": "my-dense"}
    es.index(index="dense", id="1", document={"body": "some words"})
    assert field_mapping(es, "dense") == {
        "type": "semantic_text",
        "inference_id": "my-dense",
        "model_settings": {
            "service": "elasticsearch",
            "task_type": "text_embedding",
            "dimensions": 64,
            "similarity": "dot_product",
            "element_type": "float",
        },
    }
    chunks = es.get(index="dense", id="1", source_exclude_vectors=False)["_source"]["_inference_fields"]
    assert len(chunks["body"]["inference"]["chunks"]["body"][0]["embeddings"]) == 64


def test_a_custom_embedding_endpoint_refuses_an_unknown_similarity(es):
    upload_embedder(es, "my-embedder", 16)
    settings = {"model_id": "my-embedder", "num_allocations": 1, "num_threads": 1, "similarity": "hamming"}
    exc = api_error(
        lambda: strict(es).inference.put(
            task_type="text_embedding",
            inference_id="bad-dense",
            inference_config={"service": "elasticsearch", "service_settings": settings},
        )
    )
    assert_error(
        exc,
        400,
        "validation_exception",
        "Validation Failed: 1: [service_settings] Invalid value [hamming] received. [similarity] must be one "
        "of [cosine, dot_product, l2_norm];",
    )
    endpoints = es.inference.get(inference_id="_all")["endpoints"]
    assert "bad-dense" not in [e["inference_id"] for e in endpoints]


# --- index_options ---------------------------------------------------------------------------------------


def test_index_options_are_checked_against_the_endpoint(es):
    es.indices.create(
        index="opts",
        mappings={
            "properties": {
                "body": semantic(
                    inference_id=E5,
                    index_options={"dense_vector": {"type": "int8_hnsw", "m": 20, "ef_construction": 100}},
                )
            }
        },
    )
    assert field_mapping(es, "opts")["index_options"] == {
        "dense_vector": {"type": "int8_hnsw", "m": 20, "ef_construction": 100}
    }
    # an endpoint that does not exist has no model settings to check options against
    unknown = {
        "properties": {
            "body": semantic(inference_id="nope", index_options={"dense_vector": {"type": "hnsw"}})
        }
    }
    parse_failure(
        create_error(es, unknown),
        "Model settings must be set to validate index options for inference ID [nope]",
    )
    es.indices.create(index="later", mappings={"properties": {"body": semantic(inference_id="nope")}})
    # options for the other kind of vectors than the endpoint's
    sparse_options = {
        "properties": {"body": semantic(inference_id=E5, index_options={"sparse_vector": {"prune": True}})}
    }
    parse_failure(
        create_error(es, sparse_options),
        "Invalid task type for index options, required [sparse_embedding] but was [text_embedding]",
    )
    dense_on_sparse = {"properties": {"body": semantic(index_options={"dense_vector": {"type": "hnsw"}})}}
    parse_failure(
        create_error(es, dense_on_sparse),
        "Invalid task type for index options, required [text_embedding] but was [sparse_embedding]",
    )


UNSUPPORTED = "Mapping definition for [body] has unsupported parameters:  [ef_construction : 100]"


@pytest.mark.parametrize(
    ("options", "reason", "cause", "root"),
    [
        (
            {"dense_vector": {"type": "foo"}},
            "java.lang.IllegalArgumentException: Unsupported index options type foo",
            "exception",
            "exception",
        ),
        (
            {"dense_vector": {"foo": "bar"}},
            "java.lang.IllegalArgumentException: Required type",
            "exception",
            "exception",
        ),
        (
            {"dense_vector": {"type": "bbq_flat", "ef_construction": 100}},
            f"org.elasticsearch.index.mapper.MapperParsingException: {UNSUPPORTED}",
            "exception",
            "mapper_parsing_exception",
        ),
        (
            {"dense": {"type": "hnsw"}},
            "Unknown index options type [dense]",
            "illegal_argument_exception",
            "mapper_parsing_exception",
        ),
        (
            {"dense_vector": {"type": "hnsw"}, "sparse_vector": {}},
            "Too many index options provided, found [[dense_vector, sparse_vector]]",
            "illegal_argument_exception",
            "mapper_parsing_exception",
        ),
        (
            "hnsw",
            "index_options should be a hash but was of type: class java.lang.String",
            "parse_exception",
            "parse_exception",
        ),
    ],
)
def test_malformed_index_options_are_refused_as_the_mapper_parses_them(es, options, reason, cause, root):
    exc = create_error(es, {"properties": {"body": semantic(inference_id=E5, index_options=options)}})
    assert exc.meta.status == 400
    error = error_of(exc)
    assert (error["type"], error["reason"]) == (
        "mapper_parsing_exception",
        f"Failed to parse mapping: {reason}",
    )
    assert (error["caused_by"]["type"], error["caused_by"]["reason"]) == (cause, reason)
    # guessRootCauses: down the causes while they are ElasticsearchExceptions (an IllegalArgumentException
    # is none), the last of them
    assert error["root_cause"][0]["type"] == root


# --- where a semantic_text field may not be --------------------------------------------------------------


def test_a_semantic_text_field_cannot_be_nested(es):
    for path, properties in (
        ("nested.semantic", {"semantic": semantic(), "another_field": {"type": "keyword"}}),
        ("nested.nested_object.semantic", {"nested_object": {"properties": {"semantic": semantic()}}}),
    ):
        exc = create_error(es, {"properties": {"nested": {"type": "nested", "properties": properties}}})
        error = parse_failure(exc, f"semantic_text field [{path}] cannot be nested")
        assert error["caused_by"] == {
            "type": "illegal_argument_exception",
            "reason": f"semantic_text field [{path}] cannot be nested",
        }


def test_a_semantic_text_field_cannot_sit_in_an_object_without_subobjects(es):
    level_2 = {"type": "object", "subobjects": False, "properties": {"sparse_field": semantic()}}
    exc = create_error(
        es, {"properties": {"level_1": {"type": "object", "properties": {"level_2": level_2}}}}
    )
    reason = "semantic_text field [level_1.level_2.sparse_field] cannot be in an object field with subobjects disabled"
    assert_error(exc, 400, "illegal_argument_exception", reason)
    # nor be added under such an object later
    es.indices.create(
        index="flat", mappings={"properties": {"meta": {"type": "object", "subobjects": False}}}
    )
    exc = api_error(
        lambda: strict(es).indices.put_mapping(
            index="flat", properties={"meta": {"properties": {"text": semantic()}}}
        )
    )
    assert_error(
        exc,
        400,
        "illegal_argument_exception",
        "semantic_text field [meta.text] cannot be in an object field with subobjects disabled",
    )
    assert "text" not in es.indices.get_mapping(index="flat")["flat"]["mappings"]["properties"]["meta"].get(
        "properties", {}
    )


def test_a_dynamic_template_cannot_map_to_semantic_text(es):
    template = {"match_mapping_type": "string", "mapping": {"type": "semantic_text", "inference_id": SPARSE}}
    exc = create_error(es, {"dynamic_templates": [{"semantic": template}]})
    content = '{"match_mapping_type":"string","mapping":{"inference_id":".elser-2-elasticsearch","type":"semantic_text"}}'
    reason = (
        f"dynamic template [semantic] has invalid content [{content}], attempted to validate it with the "
        "following match_mapping_type: [string]"
    )
    error = error_of(exc)
    assert exc.meta.status == 400
    assert (error["type"], error["reason"]) == (
        "mapper_parsing_exception",
        f"Failed to parse mapping: {reason}",
    )
    inner = "Field [__dynamic__semantic] of type [semantic_text] can't be used in dynamic templates"
    assert error["caused_by"] == {
        "type": "illegal_argument_exception",
        "reason": reason,
        "caused_by": {"type": "mapper_parsing_exception", "reason": inner},
    }
    assert error["root_cause"] == [{"type": "mapper_parsing_exception", "reason": error["reason"]}]
    # matched by name, the template is tried with every JSON type
    by_name = {"match": "*_text", "mapping": {"type": "semantic_text"}}
    error = error_of(create_error(es, {"dynamic_templates": [{"by_name": by_name}]}))
    assert error["caused_by"]["reason"] == (
        'dynamic template [by_name] has invalid content [{"match":"*_text","mapping":{"type":"semantic_text"}}], '
        "attempted to validate it with the following match_mapping_type: [object, string, long, double, "
        "boolean, date, binary]"
    )
