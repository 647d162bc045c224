"""The inference processor against a deployed ELSER stand-in: input_output and target_field modes,
missing and mistyped inputs, per-document queue rejections in a bulk, and the statistics and
references the ML APIs read from ingest."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError, ConflictError

from tests.sandbox.ml_support import ELSER, deploy, put_elser, strict

ELSER_IO = {
    "inference": {
        "model_id": ELSER,
        "input_output": [{"input_field": "content", "output_field": "content_embedding"}],
    }
}


@pytest.fixture
def elser(es):
    put_elser(es)
    deploy(es)
    return es


def simulate(es, processor, source):
    return es.ingest.simulate(pipeline={"processors": [processor]}, docs=[{"_source": source}])["docs"][0]


def test_input_output_writes_the_tokens_and_the_model_id(elser):
    doc = simulate(elser, ELSER_IO, {"content": "Quick brown foxes"})["doc"]["_source"]
    tokens = doc["content_embedding"]
    assert isinstance(tokens, dict) and tokens
    assert {"quick", "brown"} <= set(tokens)
    assert all(isinstance(w, float) and w > 0 for w in tokens.values())
    assert doc["model_id"] == ELSER
    assert doc["content"] == "Quick brown foxes"


def test_input_output_single_object_and_dotted_output(elser):
    processor = {
        "inference": {"model_id": ELSER, "input_output": {"input_field": "a", "output_field": "ml.tokens"}}
    }
    doc = simulate(elser, processor, {"a": "hello"})["doc"]["_source"]
    assert set(doc["ml"]) == {"tokens", "model_id"}


def test_input_output_missing_field_errors_unless_ignore_missing(elser):
    missing = simulate(elser, ELSER_IO, {"title": "no content"})
    assert missing["error"]["type"] == "illegal_argument_exception"
    assert missing["error"]["reason"] == "field [content] not present as part of path [content]"

    ignored = {"inference": {**ELSER_IO["inference"], "ignore_missing": True}}
    assert simulate(elser, ignored, {"title": "x"})["doc"]["_source"] == {"title": "x"}

    typed = simulate(elser, ELSER_IO, {"content": 42})
    assert (
        typed["error"]["reason"] == "input field [content] cannot be processed because it is not a text field"
    )


def test_target_field_mode_with_field_map_and_results_field(elser):
    processor = {
        "inference": {
            "model_id": ELSER,
            "target_field": "ml",
            "field_map": {"body": "text_field"},
            "inference_config": {"text_expansion": {"results_field": "tokens"}},
        }
    }
    doc = simulate(elser, processor, {"body": "hello world"})["doc"]["_source"]
    assert set(doc["ml"]) == {"tokens", "model_id"}
    assert doc["ml"]["model_id"] == ELSER
    assert "hello" in doc["ml"]["tokens"]

    default = simulate(elser, {"inference": {"model_id": ELSER, "tag": "t"}}, {"text_field": "hi"})["doc"][
        "_source"
    ]
    assert set(default["ml"]["inference"]["t"]) == {"predicted_value", "model_id"}

    missing = simulate(elser, {"inference": {"model_id": ELSER}}, {"other": "x"})
    assert missing["error"]["type"] == "status_exception"
    assert missing["error"]["reason"] == "Input field [text_field] does not exist in the source document"


def test_incompatible_options_are_refused(es):
    with pytest.raises(BadRequestError) as info:
        es.ingest.put_pipeline(
            id="x", processors=[{"inference": {**ELSER_IO["inference"], "target_field": "t"}}]
        )
    assert info.value.body["error"]["reason"] == (
        "[target_field] option is incompatible with [input_output]. Use the [output_field] option to specify where "
        "to write the inference results to."
    )


def test_undeployed_model_fails_the_document(es):
    put_elser(es)
    result = simulate(es, ELSER_IO, {"content": "x"})
    assert result["error"]["type"] == "status_exception"
    assert result["error"]["reason"].startswith("Model [.elser_model_2] must be deployed")


def test_a_full_queue_rejects_documents_of_a_bulk_with_429(es):
    put_elser(es)
    deploy(es, queue_capacity=2)
    es.ingest.put_pipeline(id="elser", processors=[ELSER_IO])
    ops = []
    for i in range(30):
        ops += [{"index": {"_index": "docs", "_id": str(i)}}, {"content": f"text {i}"}]
    items = [i["index"] for i in strict(es).bulk(operations=ops, pipeline="elser")["items"]]
    rejected = [i for i in items if i["status"] == 429]
    assert rejected and len(rejected) < len(items)
    assert rejected[0]["error"]["reason"] == "inference process queue is full. Unable to execute command"
    assert {i["status"] for i in items} == {201, 429}


def test_model_stats_show_the_pipelines_and_deletion_is_refused_while_referenced(elser):
    elser.ingest.put_pipeline(id="elser", processors=[ELSER_IO])
    elser.bulk(operations=[{"index": {"_index": "docs", "_id": "1"}}, {"content": "hello"}], pipeline="elser")
    stats = elser.ml.get_trained_models_stats(model_id=ELSER)["trained_model_stats"][0]
    assert stats["pipeline_count"] == 1
    pipeline = stats["ingest"]["pipelines"]["elser"]
    assert pipeline["count"] == 1
    assert pipeline["processors"][0]["inference"]["stats"]["count"] == 1
    assert stats["ingest"]["total"]["count"] == 1

    elser.ml.stop_trained_model_deployment(model_id=ELSER, force=True)
    with pytest.raises(ConflictError) as info:
        elser.ml.delete_trained_model(model_id=ELSER)
    assert "referenced by ingest processors" in info.value.body["error"]["reason"]
