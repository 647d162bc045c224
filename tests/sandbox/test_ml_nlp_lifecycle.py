"""The lifecycle of an uploaded NLP model, as Elasticsearch's REST tests walk it (ml/3rd_party_deployment.yml):
a config without `input` (TrainedModelType's default input), vocabulary and definition parts,
deployments (low priority, `_update`), `_infer` for every NLP task type with ES's result shapes,
the inference cache and its hit counts, `_clear_cache`."""

from __future__ import annotations

import base64

import pytest

from tests.sandbox.ml_support import api_error, assert_error, deploy, deployment_stats, poll

TASKS = {
    "fill_mask": {},
    "ner": {},
    "text_classification": {"classification_labels": ["negative", "positive"]},
    "zero_shot_classification": {},
    "question_answering": {},
    "text_similarity": {},
    "text_embedding": {"embedding_size": 8},
    "text_expansion": {},
    "pass_through": {},
}


def upload(es, model_id: str, task: str, settings: dict, **put) -> dict:
    config = es.ml.put_trained_model(
        model_id=model_id, model_type="pytorch", inference_config={task: settings}, **put
    ).body
    es.ml.put_trained_model_vocabulary(
        model_id=model_id, vocabulary=["[PAD]", "[UNK]", "these", "are", "my", "words"]
    )
    es.ml.put_trained_model_definition_part(
        model_id=model_id,
        part=0,
        definition=base64.b64encode(b"torchscript zip").decode(),
        total_definition_length=15,
        total_parts=1,
    )
    return config


def infer(es, model_id: str, text: str, **update) -> dict:
    body = {"model_id": model_id, "docs": [{"input": text}]}
    if update:
        body["inference_config"] = update
    return es.ml.infer_trained_model(**body)["inference_results"][0]


@pytest.fixture
def test_model(es):
    config = upload(
        es, "test_model", "pass_through", {"tokenization": {"bert": {"with_special_tokens": False}}}
    )
    assert config["input"] == {"field_names": ["input"]}  # no input given: the pytorch default
    return es


def test_cache_hits_are_counted_and_the_cache_can_be_cleared(test_model):
    es = test_model
    assignment = deploy(es, "test_model", cache_size="10kb")
    assert assignment["task_parameters"]["cache_size"] == "10kb"
    for text in ("words", "are", "words"):
        infer(es, "test_model", text)
    (node,) = deployment_stats(es, "test_model")["nodes"]
    assert (node["inference_count"], node["inference_cache_hit_count"]) == (3, 1)
    assert node["inference_cache_hit_count_last_minute"] == 1
    assert node["average_inference_time_ms_excluding_cache_hits"] >= node["average_inference_time_ms"]
    stats = es.ml.get_trained_models_stats(model_id="test_model")["trained_model_stats"][0]
    assert (stats["inference_stats"]["inference_count"], stats["inference_stats"]["cache_miss_count"]) == (
        3,
        2,
    )

    assert es.ml.clear_trained_model_deployment_cache(model_id="test_model").body == {"cleared": True}
    infer(es, "test_model", "words")  # computed again
    (node,) = deployment_stats(es, "test_model")["nodes"]
    assert (node["inference_count"], node["inference_cache_hit_count"]) == (4, 1)

    exc = api_error(lambda: es.ml.clear_trained_model_deployment_cache(model_id="nothing"))
    assert_error(exc, 404, "resource_not_found_exception", "No known model deployment with id [nothing]")


def test_a_deployment_without_cache_never_hits(test_model):
    es = test_model
    deploy(es, "test_model", cache_size="0b")
    infer(es, "test_model", "words")
    infer(es, "test_model", "words")
    (node,) = deployment_stats(es, "test_model")["nodes"]
    assert (node["inference_count"], node["inference_cache_hit_count"]) == (2, 0)


def test_low_priority_and_update(test_model):
    es = test_model
    params = deploy(es, "test_model", priority="low")["task_parameters"]
    assert (params["priority"], params["number_of_allocations"], params["threads_per_allocation"]) == (
        "low",
        1,
        1,
    )
    es.ml.stop_trained_model_deployment(model_id="test_model")
    deploy(es, "test_model")
    updated = es.ml.update_trained_model_deployment(model_id="test_model", number_of_allocations=1)
    assert updated["assignment"]["task_parameters"]["number_of_allocations"] == 1
    updated = es.ml.update_trained_model_deployment(model_id="test_model", number_of_allocations=2)
    assert updated["assignment"]["task_parameters"]["number_of_allocations"] == 2


@pytest.fixture
def every_task(es):
    for task, settings in TASKS.items():
        upload(es, f"{task.replace('_', '-')}-model", task, settings)
        # low priority: nine deployments on one node's eight processors
        deploy(es, f"{task.replace('_', '-')}-model", wait_for="starting", priority="low")
    for task in TASKS:
        poll(
            lambda t=task: deployment_stats(es, f"{t.replace('_', '-')}-model"),
            lambda s: s["state"] == "started",
        )
    return es


def test_every_nlp_task_type_answers_with_its_result_shape(every_task):
    es = every_task

    masked = infer(es, "fill-mask-model", "the sky is [MASK] today")
    assert list(masked) == [
        "predicted_value",
        "top_classes",
        "prediction_probability",
        "predicted_value_sequence",
    ]
    assert len(masked["top_classes"]) == 5
    assert masked["predicted_value_sequence"] == f"the sky is {masked['predicted_value']} today"
    assert set(masked["top_classes"][0]) == {"class_name", "class_probability", "class_score"}

    entities = infer(es, "ner-model", "Jane works at Acme in Paris")
    assert list(entities) == ["predicted_value", "entities"]
    assert {e["entity"] for e in entities["entities"]} == {"Acme", "Paris"}

    sentiment = infer(es, "text-classification-model", "I loved it")
    assert sentiment["predicted_value"] in ("negative", "positive")
    assert [c["class_name"] for c in sentiment["top_classes"]][0] == sentiment["predicted_value"]
    assert len(sentiment["top_classes"]) == 2  # num_top_classes -1: every label
    assert sum(c["class_probability"] for c in sentiment["top_classes"]) == pytest.approx(1.0)

    topic = infer(es, "zero-shot-classification-model", "the match ended 2-1",
                  zero_shot_classification={"labels": ["sport", "politics", "cooking"]})  # fmt: skip
    assert topic["predicted_value"] in ("sport", "politics", "cooking") and len(topic["top_classes"]) == 3

    answer = infer(es, "question-answering-model", "The capital of France is Paris",
                   question_answering={"question": "What is the capital of France?"})  # fmt: skip
    assert list(answer) == ["predicted_value", "start_offset", "end_offset", "prediction_probability"]

    similar = infer(es, "text-similarity-model", "a cat sat", text_similarity={"text": "a cat was sitting"})
    assert list(similar) == ["predicted_value"] and isinstance(similar["predicted_value"], float)

    assert len(infer(es, "text-embedding-model", "these are my words")["predicted_value"]) == 8
    assert "words" in infer(es, "text-expansion-model", "these are my words")["predicted_value"]
    (row,) = infer(es, "pass-through-model", "these are my words")["predicted_value"]
    assert isinstance(row, list)


def test_nlp_input_errors(every_task):
    es = every_task
    exc = api_error(lambda: infer(es, "fill-mask-model", "no mask here"))
    assert_error(exc, 400, "illegal_argument_exception", "no [MASK] token could be found")
    exc = api_error(lambda: infer(es, "fill-mask-model", "[MASK] and [MASK]"))
    assert_error(exc, 400, "illegal_argument_exception", "only one [MASK] token should exist in the input")
    exc = api_error(lambda: infer(es, "zero-shot-classification-model", "text"))
    assert_error(exc, 400, "status_exception", "zero_shot_classification requires non-empty [labels]")
    exc = api_error(lambda: infer(es, "question-answering-model", "text"))
    assert_error(exc, 400, "status_exception", "Question is required for question answering")
    exc = api_error(lambda: infer(es, "text-similarity-model", "text"))
    assert_error(
        exc,
        400,
        "status_exception",
        "please provide configuration update for text_similarity task including the desired [text]",
    )
    exc = api_error(lambda: infer(es, "ner-model", "x", fill_mask={}))
    assert_error(
        exc,
        400,
        "status_exception",
        "Inference config of type [ner] can not be updated with a inference request of type [fill_mask]",
    )


def test_config_errors_at_put(es):
    exc = api_error(lambda: es.ml.put_trained_model(model_id="tc", model_type="pytorch",
                                                    inference_config={"text_classification": {}}))  # fmt: skip
    error = assert_error(
        exc,
        400,
        "x_content_parse_exception",
        "[1:1] [trained_model_config] failed to parse field [inference_config]",
    )
    assert error["caused_by"] == {
        "type": "status_exception",
        "reason": "[text_classification] requires at least 2 [classification_labels]; provided null",
    }
    exc = api_error(lambda: es.ml.put_trained_model(model_id="nlp", model_type="pytorch",
                                                    inference_config={"ner": {"vocabulary": {"index": "x"}}}))  # fmt: skip
    assert_error(exc, 400, "status_exception", "illegal setting [vocabulary] on inference model creation")
    bert = es.ml.put_trained_model(
        model_id="bert-mask", model_type="pytorch", inference_config={"fill_mask": {}}
    )
    assert bert["inference_config"]["fill_mask"]["mask_token"] == "[MASK]"
    roberta = es.ml.put_trained_model(
        model_id="roberta-mask",
        model_type="pytorch",
        inference_config={"fill_mask": {"tokenization": {"roberta": {}}}},
    )
    assert roberta["inference_config"]["fill_mask"]["mask_token"] == "<mask>"
    exc = api_error(lambda: es.ml.put_trained_model(model_id="wrong-mask", model_type="pytorch",
                                                    inference_config={"fill_mask": {"mask_token": "<mask>"}}))  # fmt: skip
    assert (
        exc.body["error"]["caused_by"]["reason"]
        == "Mask token requested was [<mask>] but must be [[MASK]] for this model"
    )
    exc = api_error(
        lambda: es.ml.put_trained_model(model_id="x", model_type="nonsense", inference_config={"ner": {}})
    )
    error = assert_error(
        exc,
        400,
        "x_content_parse_exception",
        "[1:1] [trained_model_config] failed to parse field [model_type]",
    )
    assert (
        error["caused_by"]["reason"]
        == "No enum constant org.elasticsearch.xpack.core.ml.inference.TrainedModelType.NONSENSE"
    )
