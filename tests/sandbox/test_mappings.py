"""Mapping rules: invalid mappings refused at create and put-mapping with Elasticsearch's error types
and texts, dense_vector defaults as the creating release fills them, and values checked against them
(cases from rest-api-spec indices.put_mapping/10_basic and search.vectors/60, 80)."""

from __future__ import annotations

import random

import pytest
from elasticsearch import ApiError

from tests.sandbox.ml_support import error_fields


def _create(es, properties):
    return lambda: es.indices.create(index="m", mappings={"properties": properties})


def test_bad_field_mappings_fail_to_parse_with_the_cause(es):
    cases = [
        ({"x": {"type": "strang"}}, "No handler for type [strang] declared on field [x]"),
        (
            {"x": {"type": "keyword", "analyzer": "standard"}},
            "unknown parameter [analyzer] on mapper [x] of type [keyword]",
        ),
        (
            {"o": {"properties": {"y": {"type": "long", "bogus": 1}}}},
            "unknown parameter [bogus] on mapper [o.y] of type [long]",
        ),
        (
            {"v": {"type": "dense_vector", "dims": 5000}},
            "The number of dimensions should be in the range [1, 4096] but was [5000]",
        ),
        (
            {"v": {"type": "dense_vector", "dims": "three"}},
            "Property [dims] on field [v] must be an integer but got [three]",
        ),
        (
            {"v": {"type": "dense_vector", "dims": 3, "similarity": "manhattan"}},
            "Unknown value [manhattan] for field [similarity] - accepted values are [l2_norm, dot_product, cosine, "
            "max_inner_product]",
        ),
        (
            {"v": {"type": "dense_vector", "dims": 3, "index_options": {"type": "fancy"}}},
            "Unknown vector index options type [fancy] for field [v]",
        ),
    ]
    for properties, cause in cases:
        error = error_fields(_create(es, properties))
        assert (error["status"], error["type"]) == (400, "mapper_parsing_exception")
        assert error["reason"] == f"Failed to parse mapping: {cause}"
        assert error["caused_by"] == {"type": "mapper_parsing_exception", "reason": cause}
        assert error["root_cause"] == [{"type": "mapper_parsing_exception", "reason": cause}]
    assert not es.indices.exists(index="m")


def test_illegal_arguments_in_a_mapping_are_its_cause(es):
    error = error_fields(
        _create(es, {"v": {"type": "dense_vector", "dims": 5, "index": False, "similarity": "dot_product"}})
    )
    reason = "Field [similarity] can only be specified for a field of type [dense_vector] when it is indexed"
    assert error["reason"] == f"Failed to parse mapping: {reason}"
    assert error["caused_by"] == {"type": "illegal_argument_exception", "reason": reason}
    assert error["root_cause"][0]["type"] == "mapper_parsing_exception"
    error = error_fields(_create(es, {"": {"type": "keyword"}}))
    assert error["caused_by"] == {
        "type": "illegal_argument_exception",
        "reason": "field name cannot be an empty string",
    }


def test_put_mapping_refuses_type_and_parameter_changes(es):
    es.indices.create(
        index="m",
        mappings={
            "properties": {
                "t": {"type": "text", "analyzer": "whitespace"},
                "k": {"type": "keyword", "meta": {"a": "1"}},
            }
        },
    )
    error = error_fields(lambda: es.indices.put_mapping(index="m", properties={"t": {"type": "keyword"}}))
    assert (error["status"], error["type"], error["reason"]) == (
        400,
        "illegal_argument_exception",
        "mapper [t] cannot be changed from type [text] to [keyword]",
    )
    error = error_fields(
        lambda: es.indices.put_mapping(index="m", properties={"t": {"type": "text", "analyzer": "english"}})
    )
    assert error["reason"] == (
        "Mapper for [t] conflicts with existing mapper:\n\tCannot update parameter [analyzer] from [whitespace] to [english]"
    )
    error = error_fields(
        lambda: es.indices.put_mapping(index="m", properties={"k": {"type": "keyword", "bogus": True}})
    )
    assert (
        error["reason"]
        == "Failed to parse mapping: unknown parameter [bogus] on mapper [k] of type [keyword]"
    )
    # meta and multi-fields may change; meta is replaced, multi-fields are added
    es.indices.put_mapping(
        index="m",
        properties={
            "k": {"type": "keyword", "meta": {"b": "2"}},
            "t": {"type": "text", "analyzer": "whitespace", "fields": {"raw": {"type": "keyword"}}},
        },
    )
    props = es.indices.get_mapping(index="m")["m"]["mappings"]["properties"]
    assert props["k"] == {"type": "keyword", "meta": {"b": "2"}}
    assert props["t"]["fields"] == {"raw": {"type": "keyword"}}


def test_dense_vector_defaults_and_dims_learnt_from_the_first_document(es):
    es.indices.create(
        index="v",
        mappings={"properties": {"small": {"type": "dense_vector"}, "big": {"type": "dense_vector"}}},
    )
    before = es.indices.get_mapping(index="v")["v"]["mappings"]["properties"]
    assert before["small"] == {"type": "dense_vector", "index": True, "similarity": "cosine"}
    rng = random.Random(7)
    es.index(
        index="v",
        id="1",
        document={"small": [0.1, 0.2, 0.3], "big": [rng.uniform(-1, 1) for _ in range(384)]},
    )
    after = es.indices.get_mapping(index="v")["v"]["mappings"]["properties"]
    assert after["small"]["dims"] == 3 and after["big"]["dims"] == 384
    assert after["small"]["index_options"] == {"type": "int8_hnsw", "m": 16, "ef_construction": 100}
    assert after["big"]["index_options"]["type"] == "bbq_hnsw"
    error = error_fields(lambda: es.index(index="v", id="2", document={"small": [0.1, 0.2]}))
    assert (error["status"], error["type"]) == (400, "document_parsing_exception")
    error = error_fields(
        lambda: es.indices.put_mapping(index="v", properties={"small": {"type": "dense_vector", "dims": 4}})
    )
    assert error["reason"].startswith(
        "Mapper for [small] conflicts with existing mapper:\n\tCannot update parameter [dims]"
    )


def test_unmapped_float_arrays_of_128_to_4096_values_map_to_dense_vector(es):
    es.index(
        index="d",
        id="1",
        document={"long_floats": [0.5] * 128, "short_floats": [0.5] * 5, "ints": list(range(200))},
    )
    props = es.indices.get_mapping(index="d")["d"]["mappings"]["properties"]
    assert props["long_floats"]["type"] == "dense_vector" and props["long_floats"]["dims"] == 128
    assert props["long_floats"]["similarity"] == "cosine"
    assert props["short_floats"] == {"type": "float"}
    assert props["ints"] == {"type": "long"}


def test_vectors_a_similarity_refuses(es):
    es.indices.create(
        index="s",
        mappings={
            "properties": {
                "cos": {"type": "dense_vector", "dims": 3},
                "dot": {"type": "dense_vector", "dims": 2, "similarity": "dot_product"},
            }
        },
    )
    error = error_fields(lambda: es.index(index="s", id="1", document={"cos": [0, 0, 0]}))
    assert error["type"] == "document_parsing_exception"
    assert error["caused_by"]["reason"] == (
        "The [cosine] similarity does not support vectors with zero magnitude. Preview of invalid vector: [0.0, 0.0, 0.0]"
    )
    error = error_fields(lambda: es.index(index="s", id="1", document={"dot": [1.0, 1.0]}))
    assert error["caused_by"]["reason"] == (
        "The [dot_product] similarity can only be used with unit-length vectors. Preview of invalid vector: [1.0, 1.0]"
    )
    es.index(index="s", id="1", document={"dot": [0.6, 0.8]})


def test_source_mode_in_mappings_does_nothing_on_9x_indices(es):
    """IndexVersions.SOURCE_MAPPER_MODE_ATTRIBUTE_NOOP (9.0): `_source.mode` is accepted and not kept;
    `index.mapping.source.mode` chooses the mode."""
    es.indices.create(index="m", mappings={"_source": {"mode": "synthetic", "excludes": ["x"]}})
    assert es.indices.get_mapping(index="m")["m"]["mappings"] == {"_source": {"excludes": ["x"]}}
    with pytest.raises(ApiError) as refused:
        es.indices.create(index="both", mappings={"_source": {"mode": "stored", "enabled": True}})
    assert (
        refused.value.body["error"]["reason"]
        == "Failed to parse mapping: Cannot set both [mode] and [enabled] parameters"
    )
