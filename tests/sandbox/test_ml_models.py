"""Trained model configs: packaged model downloads, eland-style uploads, GET, DELETE and aliases."""

from __future__ import annotations

import base64

import pytest

from es_sandbox.ml.catalog import LANG_IDENT_CONFIG
from tests.sandbox.ml_support import (
    ELSER,
    TEXT_INPUT,
    api_error,
    arm_faults,
    assert_error,
    definition_status,
    deploy,
    poll,
    put_elser,
)

NATIVE_INDEX = {"index": {"name": ".ml-inference-native-000002"}}
# BertTokenization as stored: do_lower_case as asked, the rest Tokenization's defaults
LOWERCASE_BERT = {
    "bert": {
        "do_lower_case": True,
        "with_special_tokens": True,
        "max_sequence_length": 512,
        "truncate": "first",
        "span": -1,
    }
}


def test_put_elser_answers_the_config_and_downloads_in_the_background(es):
    config = put_elser(es, wait=False)

    assert list(config) == [
        "model_id", "model_type", "model_package", "created_by", "version", "create_time", "model_size_bytes",
        "estimated_operations", "license_level", "description", "tags", "metadata", "input", "inference_config",
        "location",
    ]  # fmt: skip
    assert config["model_id"] == ELSER
    assert config["model_type"] == "pytorch"
    assert config["created_by"] == "api_user"
    assert config["license_level"] == "platinum"
    assert config["description"] == "Elastic Learned Sparse EncodeR v2"
    assert config["input"] == TEXT_INPUT
    assert config["location"] == NATIVE_INDEX
    assert config["tags"] == []
    package = config["model_package"]
    assert package["packaged_model_id"] == "elser_model_2"
    assert package["model_repository"] == "https://ml-models.elastic.co"
    assert package["size"] > 0 and len(package["sha256"]) == 64
    assert package["vocabulary_file"] == "elser_model_2.vocab.json"
    assert config["inference_config"] == {
        "text_expansion": {
            "vocabulary": {"index": ".ml-inference-native-000002"},
            "tokenization": LOWERCASE_BERT,
        }
    }
    assert "fully_defined" not in config

    # fully_defined only with include=definition_status: false while downloading, then true
    plain = es.ml.get_trained_models(model_id=ELSER)["trained_model_configs"][0]
    assert "fully_defined" not in plain
    assert definition_status(es, ELSER) is False
    poll(lambda: definition_status(es, ELSER), lambda done: done is True, timeout=5)


def test_download_runs_as_a_model_import_task_that_is_forgotten_when_done(es):
    # Held a third of the way in while the task is read, so a slow machine cannot let it finish first.
    arm_faults(es, model_download={"mode": "stall"})
    put_elser(es, wait=False)
    listed = es.tasks.list(actions="xpack/ml/model_import*", detailed=True, group_by="none")["tasks"]
    assert len(listed) == 1
    task = listed[0]
    assert task["action"] == "xpack/ml/model_import[n]"
    assert task["description"] == f"model_id-{ELSER}"
    assert task["cancellable"] is True
    assert set(task["status"]) == {"total_parts", "downloaded_parts"}
    assert task["status"]["total_parts"] == 418
    task_id = f"{task['node']}:{task['id']}"

    arm_faults(es, model_download=None)
    poll(lambda: definition_status(es, ELSER), lambda done: done is True, timeout=5)
    from elasticsearch import NotFoundError

    with pytest.raises(NotFoundError) as info:
        es.tasks.get(task_id=task_id)
    assert (
        info.value.body["error"]["reason"] == f"task [{task_id}] isn't running and hasn't stored its results"
    )


def test_wait_for_completion_returns_once_downloaded(es):
    put_elser(es, wait=True)
    assert definition_status(es, ELSER) is True
    assert es.tasks.list(actions="xpack/ml/model_import*")["nodes"] == {}


def test_duplicate_put_answers_the_real_errors(es):
    first = put_elser(es, wait=False)
    # while the download task runs, a second PUT answers the model being downloaded
    again = put_elser(es, wait=False)
    assert again["model_id"] == ELSER and again["create_time"] == first["create_time"]
    poll(lambda: definition_status(es, ELSER), lambda done: done is True, timeout=5)

    exc = api_error(lambda: put_elser(es, wait=False))
    assert_error(
        exc,
        400,
        "resource_already_exists_exception",
        f"Trained machine learning model [{ELSER}] already exists",
    )


def test_platform_specific_elser_and_e5(es):
    linux = put_elser(es, ".elser_model_2_linux-x86_64", wait=True)
    assert linux["platform_architecture"] == "linux-x86_64"
    assert linux["model_package"]["packaged_model_id"] == "elser_model_2_linux-x86_64"
    assert list(linux)[-1] == "platform_architecture"

    e5 = es.ml.put_trained_model(
        model_id=".multilingual-e5-small", input=TEXT_INPUT, wait_for_completion=True
    ).body
    assert e5["model_type"] == "pytorch"
    embedding = e5["inference_config"]["text_embedding"]
    assert embedding["embedding_size"] == 384
    assert "xlm_roberta" in embedding["tokenization"]
    assert "platform_architecture" not in e5


def test_elastic_rerank_is_in_the_catalog(es):
    """The model behind the preconfigured `.rerank-v1-elasticsearch` endpoint downloads like ELSER."""
    rerank = es.ml.put_trained_model(model_id=".rerank-v1", input=TEXT_INPUT, wait_for_completion=True).body
    assert rerank["model_package"]["packaged_model_id"] == "rerank-v1"
    assert "deberta_v2" in rerank["inference_config"]["text_similarity"]["tokenization"]


def test_unknown_packaged_model_is_not_found(es):
    exc = api_error(lambda: es.ml.put_trained_model(model_id=".no_such_package", input=TEXT_INPUT))
    assert exc.meta.status == 404
    assert exc.body["error"]["type"] == "resource_not_found_exception"


def _upload(
    es, model_id: str, chunks: list[bytes], *, vocabulary: bool = True, parts: list[int] | None = None
) -> None:
    total = sum(len(c) for c in chunks)
    for part in parts if parts is not None else range(len(chunks)):
        es.ml.put_trained_model_definition_part(
            model_id=model_id,
            part=part,
            definition=base64.b64encode(chunks[part]).decode(),
            total_definition_length=total,
            total_parts=len(chunks),
        )
    if vocabulary:
        es.ml.put_trained_model_vocabulary(model_id=model_id, vocabulary=["[PAD]", "[UNK]", "hello", "world"])


def _put_custom(es, model_id: str = "my-embedder") -> dict:
    return es.ml.put_trained_model(
        model_id=model_id,
        model_type="pytorch",
        description="uploaded by eland",
        inference_config={
            "text_embedding": {"tokenization": {"bert": {"do_lower_case": True}}, "embedding_size": 16}
        },
        input={"field_names": ["text_field"]},
    ).body


def test_eland_upload_is_fully_defined_once_all_parts_arrived(es):
    config = _put_custom(es)
    assert config["model_type"] == "pytorch"
    assert config["location"] == NATIVE_INDEX
    assert config["inference_config"]["text_embedding"] == {
        "vocabulary": {"index": ".ml-inference-native-000002"},
        "tokenization": LOWERCASE_BERT,
        "embedding_size": 16,
    }
    assert definition_status(es, "my-embedder") is False

    chunks = [b"a" * 100, b"b" * 100, b"c" * 37]
    _upload(es, "my-embedder", chunks, parts=[0, 2], vocabulary=False)
    assert definition_status(es, "my-embedder") is False
    _upload(es, "my-embedder", chunks, parts=[1])
    assert definition_status(es, "my-embedder") is True

    deploy(es, "my-embedder")
    vector = es.ml.infer_trained_model(model_id="my-embedder", docs=[{"text_field": "hello world"}])
    assert len(vector["inference_results"][0]["predicted_value"]) == 16


def _put_part(es, model_id: str, part: int, total_length: int, total_parts: int):
    """One 3-byte definition part ("abc")."""
    return es.ml.put_trained_model_definition_part(
        model_id=model_id,
        part=part,
        definition="YWJj",
        total_definition_length=total_length,
        total_parts=total_parts,
    )


def test_definition_part_errors(es):
    _put_custom(es)
    exc = api_error(lambda: _put_part(es, "my-embedder", part=3, total_length=3, total_parts=2))
    assert_error(
        exc,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: [part] must be less than total_parts;",
    )

    exc = api_error(lambda: _put_part(es, "nope", part=0, total_length=3, total_parts=1))
    assert_error(exc, 404, "resource_not_found_exception", "Could not find trained model [nope]")

    _put_part(es, "my-embedder", part=0, total_length=6, total_parts=2)
    exc = api_error(lambda: _put_part(es, "my-embedder", part=0, total_length=6, total_parts=2))
    assert_error(
        exc,
        400,
        "resource_already_exists_exception",
        "Trained machine learning model chunked doc [my-embedder][0] already exists",
    )

    exc = api_error(lambda: es.ml.put_trained_model_vocabulary(model_id="nope", vocabulary=["a"]))
    assert_error(exc, 404, "resource_not_found_exception", "Could not find trained model [nope]")


def test_invalid_model_id(es):
    exc = api_error(lambda: _put_custom(es, "Bad_Id"))
    assert_error(
        exc,
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: Invalid model_id; 'Bad_Id' can contain lowercase alphanumeric (a-z and 0-9), "
        "hyphens or underscores; must start and end with alphanumeric;",
    )


def test_lang_ident_model_is_always_listed(es):
    listed = es.ml.get_trained_models()
    assert listed["count"] == 1
    config = listed["trained_model_configs"][0]
    # served as the catalog holds it: nothing dropped, nothing added (no metadata, no location) ...
    assert config == LANG_IDENT_CONFIG
    # ... which is the built-in model as Elasticsearch gives it, in TrainedModelConfig's field order
    assert list(config) == [
        "model_id", "model_type", "created_by", "version", "create_time", "model_size_bytes",
        "estimated_operations", "license_level", "description", "tags", "input", "inference_config",
    ]  # fmt: skip
    assert (config["model_id"], config["model_type"], config["created_by"], config["version"]) == (
        "lang_ident_model_1",
        "lang_ident",
        "_xpack",
        "7.6.0",
    )
    assert (config["license_level"], config["tags"], config["input"]) == (
        "basic",
        ["lang_ident", "prepackaged"],
        {"field_names": ["text"]},
    )
    assert config["inference_config"]["classification"]["results_field"] == "predicted_value"
    # a definition status exists only for PyTorch models (TransportGetTrainedModelsAction)
    exc = api_error(
        lambda: es.ml.get_trained_models(model_id="lang_ident_model_1", include="definition_status")
    )
    assert_error(exc, 400, "status_exception", "Definition status is only relevant to PyTorch model types")


def test_get_expands_wildcards_lists_and_pages(es):
    put_elser(es, wait=True)
    _put_custom(es, "custom-a")
    _put_custom(es, "custom-b")

    def ids(**params):
        body = es.ml.get_trained_models(**params)
        return body["count"], [c["model_id"] for c in body["trained_model_configs"]]

    assert ids() == (4, [".elser_model_2", "custom-a", "custom-b", "lang_ident_model_1"])
    assert ids(model_id="_all") == ids(model_id="*")
    assert ids(model_id="custom-*") == (2, ["custom-a", "custom-b"])
    assert ids(model_id="custom-b,.elser*") == (2, [".elser_model_2", "custom-b"])
    assert ids(from_=1, size=2) == (4, ["custom-a", "custom-b"])
    assert ids(model_id="nothing-*") == (0, [])
    assert ids(tags="prepackaged") == (1, ["lang_ident_model_1"])

    exc = api_error(lambda: es.ml.get_trained_models(model_id="nothing-*", allow_no_match=False))
    assert_error(exc, 404, "resource_not_found_exception", "No known trained model with model_id [nothing-*]")
    exc = api_error(lambda: es.ml.get_trained_models(model_id="custom-a,missing"))
    assert_error(exc, 404, "resource_not_found_exception", "No known trained model with model_id [missing]")

    generated = es.ml.get_trained_models(model_id="custom-a", exclude_generated=True)[
        "trained_model_configs"
    ][0]
    assert not {"created_by", "version", "create_time", "license_level"} & set(generated)


def test_delete_model(es):
    exc = api_error(lambda: es.ml.delete_trained_model(model_id="missing"))
    assert_error(exc, 404, "resource_not_found_exception", "Could not find trained model [missing]")

    put_elser(es, wait=True)
    deploy(es)
    exc = api_error(lambda: es.ml.delete_trained_model(model_id=ELSER))
    assert_error(
        exc,
        409,
        "status_exception",
        f"Cannot delete model [{ELSER}] as it is currently deployed; use force to delete the model",
    )
    assert es.ml.delete_trained_model(model_id=ELSER, force=True).body == {"acknowledged": True}
    assert es.ml.get_trained_models()["count"] == 1
    assert "deployment_stats" not in str(es.ml.get_trained_models_stats().body)

    exc = api_error(lambda: es.ml.delete_trained_model(model_id="lang_ident_model_1"))
    assert_error(
        exc,
        400,
        "status_exception",
        "Unable to delete model [lang_ident_model_1] as it is required by machine learning",
    )


def test_delete_refused_while_a_pipeline_references_the_model(es):
    put_elser(es, wait=True)
    es.ingest.put_pipeline(
        id="elser",
        processors=[
            {"inference": {"model_id": ELSER, "input_output": [{"input_field": "a", "output_field": "b"}]}}
        ],
    )
    exc = api_error(lambda: es.ml.delete_trained_model(model_id=ELSER))
    assert_error(
        exc,
        409,
        "status_exception",
        f"Cannot delete model [{ELSER}] as it is still referenced by ingest processors; use force to delete the model",
    )
    es.ml.delete_trained_model(model_id=ELSER, force=True)


def test_delete_cancels_a_running_download(es):
    put_elser(es, wait=False)
    assert es.ml.delete_trained_model(model_id=ELSER).body == {"acknowledged": True}
    poll(
        lambda: es.tasks.list(actions="xpack/ml/model_import*")["nodes"], lambda nodes: nodes == {}, timeout=3
    )
    # the id is free again: a new download starts
    put_elser(es, wait=True)
    assert definition_status(es, ELSER) is True


def test_model_aliases_resolve_in_get_stats_and_infer(es):
    put_elser(es, wait=True)
    deploy(es)
    assert es.ml.put_trained_model_alias(model_id=ELSER, model_alias="sparse").body == {"acknowledged": True}

    assert es.ml.get_trained_models(model_id="sparse")["trained_model_configs"][0]["model_id"] == ELSER
    assert es.ml.get_trained_models_stats(model_id="sparse")["trained_model_stats"][0]["model_id"] == ELSER
    result = es.ml.infer_trained_model(model_id="sparse", docs=[{"text_field": "alias works"}])
    assert "alias" in result["inference_results"][0]["predicted_value"]

    _put_custom(es, "other")
    exc = api_error(lambda: es.ml.put_trained_model_alias(model_id="other", model_alias="sparse"))
    assert_error(
        exc,
        400,
        "status_exception",
        "cannot assign model_alias [sparse] to model_id [other] as model_alias already refers to [.elser_model_2]. "
        "Set parameter [reassign] to [true] if model_alias should be reassigned.",
    )
    exc = api_error(
        lambda: es.ml.put_trained_model_alias(model_id="other", model_alias="sparse", reassign=True)
    )
    assert_error(
        exc,
        400,
        "status_exception",
        "cannot reassign model_alias [sparse] to model [other] with inference config type [text_embedding] "
        "from model [.elser_model_2] with type [text_expansion]",
    )
    exc = api_error(lambda: es.ml.put_trained_model_alias(model_id=ELSER, model_alias="other"))
    assert_error(
        exc, 400, "status_exception", "model_alias cannot be the same as an existing trained model_id"
    )
    exc = api_error(lambda: es.ml.put_trained_model_alias(model_id="missing", model_alias="fresh"))
    assert_error(exc, 404, "resource_not_found_exception", "No known trained model with model_id [missing]")

    assert es.ml.delete_trained_model_alias(model_id=ELSER, model_alias="sparse").body == {
        "acknowledged": True
    }
    exc = api_error(lambda: es.ml.get_trained_models(model_id="sparse"))
    assert exc.meta.status == 404


def test_model_id_clashing_with_an_alias_or_a_deployment(es):
    put_elser(es, wait=True)
    es.ml.put_trained_model_alias(model_id=ELSER, model_alias="taken")
    exc = api_error(lambda: _put_custom(es, "taken"))
    assert_error(
        exc,
        400,
        "status_exception",
        "requested model_id [taken] is the same as an existing model_alias. Model model_aliases and ids must be unique",
    )
    deploy(es, deployment_id="for-search")
    exc = api_error(lambda: _put_custom(es, "for-search"))
    assert_error(
        exc,
        400,
        "status_exception",
        "Cannot create model [for-search] the id is the same as an current model deployment",
    )
