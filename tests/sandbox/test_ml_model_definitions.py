"""PUT of models with inline definitions (trees, ensembles, compressed) and of configs without one:
ES's validation messages in ES's order, what is stored and shown (estimated_operations,
exclude_generated, include=definition, model aliases), and inference with a tree model.
Bodies and expectations follow Elasticsearch's own REST tests (ml/inference_crud.yml)."""

from __future__ import annotations

import base64
import gzip
import json

import pytest

from tests.sandbox.ml_support import api_error, assert_error

TWO_TREES = {
    "preprocessors": [],
    "trained_model": {
        "ensemble": {
            "target_type": "regression",
            "trained_models": [
                {
                    "tree": {
                        "feature_names": ["field1", "field2"],
                        "tree_structure": [
                            {
                                "node_index": 0,
                                "split_feature": 0,
                                "threshold": 2,
                                "left_child": 1,
                                "right_child": 2,
                            },
                            {"node_index": 1, "leaf_value": 0},
                            {"node_index": 2, "leaf_value": 1},
                        ],
                        "target_type": "regression",
                    }
                }
            ]
            * 2,
        }
    },
}
FIELDS = {"field_names": ["field1", "field2"]}


def put(es, model_id: str, **body):
    return es.ml.put_trained_model(model_id=model_id, **body).body


def ensemble_of(*trees: dict) -> dict:
    return {"trained_model": {"ensemble": {"feature_names": [], "trained_models": list(trees)}}}


def test_an_ensemble_is_stored_with_its_estimates_and_answers_without_its_definition(es):
    config = put(
        es,
        "my-regression-model",
        description="model for tests",
        input=FIELDS,
        inference_config={"regression": {}},
        definition=TWO_TREES,
    )
    assert config["estimated_operations"] == 6  # avg(ceil(ln 3) + 2 features) + 2 x (2 models - 1)
    assert config["model_type"] == "tree_ensemble"
    assert "definition" not in config and "compressed_definition" not in config
    assert "location" not in config  # the definition is stored with the config, not in an index
    assert config["model_size_bytes"] > 0
    assert (config["license_level"], config["created_by"]) == ("platinum", "api_user")
    assert config["inference_config"] == {
        "regression": {"results_field": "predicted_value", "num_top_feature_importance_values": 0}
    }
    # field1 <= 2 goes left (0) in both trees; above, right (1): weighted_sum adds them up
    results = es.ml.infer_trained_model(
        model_id="my-regression-model", docs=[{"field1": 1, "field2": 0}, {"field1": 5, "field2": 0}]
    )["inference_results"]
    assert results == [{"predicted_value": 0.0}, {"predicted_value": 2.0}]


@pytest.mark.parametrize(
    ("definition", "problem"),
    [
        (ensemble_of(), "[trained_models] must not be empty"),
        (
            ensemble_of(
                {
                    "tree": {
                        "feature_names": [],
                        "tree_structure": [
                            {
                                "node_index": 0,
                                "split_feature": 1,
                                "split_gain": 12.0,
                                "threshold": 10.0,
                                "decision_type": "lte",
                                "default_left": True,
                                "left_child": 1,
                                "right_child": 2,
                            }
                        ],
                    }
                }
            ),
            "feature index [1] is out of bounds for the [feature_names] array",
        ),
        (
            {
                "trained_model": {
                    "tree": {
                        "feature_names": ["a"],
                        "tree_structure": [
                            {
                                "node_index": 0,
                                "split_feature": 0,
                                "threshold": 1,
                                "left_child": 1,
                                "right_child": 5,
                            },
                            {"node_index": 1, "leaf_value": 1},
                        ],
                    }
                }
            },
            "[tree] contains missing nodes [5]",
        ),
    ],
)
def test_definitions_that_fail_validation(es, definition, problem):
    exc = api_error(
        lambda: put(
            es,
            "bad-definition",
            input={"field_names": "fieldy_mc_fieldname"},
            inference_config={"regression": {}},
            definition=definition,
        )
    )
    error = assert_error(
        exc, 400, "status_exception", "Definition for [bad-definition] has validation failures."
    )
    assert error["caused_by"] == {"type": "status_exception", "reason": problem}
    assert es.options(ignore_status=404).ml.get_trained_models(model_id="bad-definition").meta.status == 404


def test_a_model_kind_without_a_parser_is_a_named_object_failure(es):
    exc = api_error(
        lambda: put(
            es,
            "unknown-kind",
            input=FIELDS,
            inference_config={"regression": {}},
            definition={"trained_model": {"forest": {}}},
        )
    )
    error = assert_error(
        exc,
        400,
        "x_content_parse_exception",
        "[1:1] [trained_model_config] failed to parse field [definition]",
    )
    assert error["caused_by"] == {
        "type": "named_object_not_found_exception",
        "reason": "[1:1] unknown field [forest]",
    }


def test_a_single_stump_without_features_is_fine(es):
    stump = {"tree": {"feature_names": [], "tree_structure": [{"node_index": 0, "leaf_value": 12.0}]}}
    config = put(
        es,
        "ensemble_tree_empty_feature_names",
        input={"field_names": "fieldy_mc_fieldname"},
        inference_config={"regression": {}},
        definition=ensemble_of(stump),
    )
    assert config["input"] == {"field_names": ["fieldy_mc_fieldname"]}
    assert config["estimated_operations"] == 0  # ceil(ln 1) + 0 features, one model


def test_request_validation_reports_every_problem_in_order(es):
    exc = api_error(
        lambda: put(es, "missing-things", tags=["Bad Tag", "missing-things"], input={"field_names": []})
    )
    assert_error(
        exc,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: [model_type] must be set if [definition] is not defined.;"
        "2: [inference_config] must not be null.;"
        "3: Invalid tags [Bad Tag]; must only can contain lowercase alphanumeric (a-z and 0-9), hyphens or "
        "underscores, must start and end with alphanumeric, and must be less than 64 characters.;"
        "4: none of the tags must equal the model_id;"
        "5: [input.field_names] must not be empty;",
    )
    exc = api_error(lambda: put(es, "no-input", inference_config={"regression": {}}, definition=TWO_TREES))
    assert_error(exc, 400, "illegal_argument_exception", "[input] must not be null.")


def test_target_type_must_suit_the_inference_config(es):
    exc = api_error(
        lambda: put(
            es,
            "my-regression-model",
            input=FIELDS,
            inference_config={"classification": {}},
            definition=TWO_TREES,
        )
    )
    assert_error(
        exc,
        400,
        "status_exception",
        "Model [my-regression-model] inference config type [classification] does not support definition target "
        "type [regression]",
    )


INVALID_COMPRESSED = "H4sIAAAAAAAAAEy92a5mW26l9y55HWdj9o3u9RS+SMil4yrBUgpIpywY9fLmR3LMFSpI"


def test_defer_definition_decompression_rules(es):
    deferred = dict(
        input=FIELDS, inference_config={"classification": {}}, compressed_definition=INVALID_COMPRESSED
    )
    exc = api_error(
        lambda: es.ml.put_trained_model(
            model_id="compressed-failed", defer_definition_decompression=True, **deferred
        )
    )
    assert_error(
        exc,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: when [defer_definition_decompression] is true and a compressed definition is "
        "provided, model_size_bytes must be set;",
    )
    # with a size, the definition is taken as it is, unread
    config = es.ml.put_trained_model(
        model_id="bad-compressed", defer_definition_decompression=True, model_size_bytes=1024, **deferred
    ).body
    assert config["model_size_bytes"] == 1024 and "compressed_definition" not in config
    # read at once, it fails to parse
    exc = api_error(lambda: es.ml.put_trained_model(model_id="read-now", **deferred))
    error = assert_error(exc, 400, "status_exception", "Failed to parse definition for [read-now]")
    assert error["caused_by"]["type"] == "e_o_f_exception"


def test_get_with_definition_exclude_generated_and_a_compressed_round_trip(es):
    put(es, "a-regression-model-1", description="empty model for tests", input=FIELDS, tags=["regression", "tag2"],
        inference_config={"regression": {}}, definition=TWO_TREES)  # fmt: skip
    exported = es.ml.get_trained_models(
        model_id="a-regression-model-1",
        exclude_generated=True,
        include="definition",
        decompress_definition=False,
    )["trained_model_configs"][0]
    assert exported["description"] == "empty model for tests"
    for generated in ("created_by", "version", "create_time", "estimated_operations", "license_level"):
        assert generated not in exported
    assert json.loads(gzip.decompress(base64.b64decode(exported["compressed_definition"]))) == TWO_TREES
    full = es.ml.get_trained_models(model_id="a-regression-model-1", include="definition")[
        "trained_model_configs"
    ][0]
    assert full["definition"] == TWO_TREES and "compressed_definition" not in full

    # what was exported can be put again as it is
    copy = {k: v for k, v in exported.items() if k not in ("model_id", "model_type", "model_size_bytes")}
    again = put(es, "a-regression-model-copy", **copy)
    assert again["estimated_operations"] == 6

    exc = api_error(lambda: es.ml.get_trained_models(model_id="a-regression*", include="definition"))
    assert_error(
        exc,
        400,
        "status_exception",
        "Getting model definition is not supported when getting more than one model",
    )


def test_definition_status_only_for_one_pytorch_model(es):
    put(es, "model-without-definition", model_type="pytorch", inference_config={"ner": {}})
    one = es.ml.get_trained_models(model_id="model-without-definition", include="definition_status")
    assert one["trained_model_configs"][0]["fully_defined"] is False
    put(es, "a-tree", input=FIELDS, inference_config={"regression": {}}, definition=TWO_TREES)
    exc = api_error(lambda: es.ml.get_trained_models(model_id="_all", include="definition_status"))
    assert_error(
        exc,
        400,
        "status_exception",
        "Getting the model download status is not supported when getting more than one model",
    )
    exc = api_error(lambda: es.ml.get_trained_models(model_id="a-tree", include="definition_status"))
    assert_error(exc, 400, "status_exception", "Definition status is only relevant to PyTorch model types")


def test_a_pytorch_config_without_input_gets_the_default_input(es):
    config = put(es, "no-input-given", model_type="pytorch", inference_config={"pass_through": {}})
    assert config["input"] == {"field_names": ["input"]}
    assert config["location"] == {"index": {"name": ".ml-inference-native-000002"}}


def test_model_aliases_show_in_metadata_and_bad_aliases_are_refused(es):
    for model_id in ("a-regression-model-0", "a-regression-model-1"):
        put(es, model_id, input=FIELDS, inference_config={"regression": {}}, definition=TWO_TREES)
    es.ml.put_trained_model_alias(model_alias="regression-model-again", model_id="a-regression-model-0")
    es.ml.put_trained_model_alias(model_alias="regression-model", model_id="a-regression-model-0")
    first = es.ml.get_trained_models(model_id="a-regression-model-*", size=1)["trained_model_configs"][0]
    assert first["metadata"] == {"model_aliases": ["regression-model", "regression-model-again"]}
    assert (
        "metadata"
        not in es.ml.get_trained_models(model_id="a-regression-model-1")["trained_model_configs"][0]
    )

    exc = api_error(
        lambda: es.ml.put_trained_model_alias(
            model_alias="regression-model-123123", model_id="regression-model-123123"
        )
    )
    assert_error(
        exc,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: model_alias [regression-model-123123] cannot equal model_id [regression-model-123123];"
        "2: Invalid model_alias; 'regression-model-123123' can contain lowercase alphanumeric (a-z and 0-9), "
        "hyphens or underscores; must start with alphanumeric and cannot end with numbers;",
    )
    exc = api_error(lambda: put(es, "bad", input=FIELDS, inference_config={"regression": {}}, definition=TWO_TREES,
                                metadata={"model_aliases": ["x"]}))  # fmt: skip
    assert_error(
        exc,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: illegal to set [metadata.model_aliases] at inference model creation;",
    )


def test_a_classification_tree_answers_its_labels(es):
    tree = {
        "tree": {
            "feature_names": ["size"],
            "tree_structure": [
                {"node_index": 0, "split_feature": 0, "threshold": 10, "left_child": 1, "right_child": 2},
                {"node_index": 1, "leaf_value": 0},
                {"node_index": 2, "leaf_value": 1},
            ],
            "target_type": "classification",
            "classification_labels": ["small", "big"],
        }
    }
    put(es, "sizes", input={"field_names": ["size"]}, inference_config={"classification": {"num_top_classes": 2}},
        definition={"trained_model": tree})  # fmt: skip
    (result,) = es.ml.infer_trained_model(model_id="sizes", docs=[{"size": 42}])["inference_results"]
    assert result == {
        "predicted_value": "big",
        "top_classes": [
            {"class_name": "big", "class_probability": 1.0, "class_score": 1.0},
            {"class_name": "small", "class_probability": 0.0, "class_score": 0.0},
        ],
        "prediction_probability": 1.0,
        "prediction_score": 1.0,
    }
