"""Variable `embedding_inference`: the backend, the endpoint id and chunking as Elasticsearch takes
them (its defaults, its limits), the keys of other Variables that do not go with semantic_text, and
what needs a newer cluster. Every message names the Variable, the key, the value and what is allowed."""

from __future__ import annotations

import json

import pytest

from es_embedding import settings as s
from es_embedding.errors import SettingsError


def parse(**raw):
    return s.parse_variable("embedding_inference", raw)


def test_defaults_keep_the_ingest_pipeline_and_leave_endpoint_and_chunking_open():
    inference = parse()
    assert (inference.backend, inference.inference_id, inference.chunking_settings) == (
        "ingest_pipeline",
        None,
        None,
    )
    assert not inference.semantic_text


@pytest.mark.parametrize(
    ("chunking", "normalised"),
    [
        ({"strategy": "sentence", "max_chunk_size": 250}, {"strategy": "sentence", "max_chunk_size": 250, "sentence_overlap": 1}),
        ({"strategy": "sentence", "max_chunk_size": 20, "sentence_overlap": 0}, {"strategy": "sentence", "max_chunk_size": 20, "sentence_overlap": 0}),
        ({"strategy": "word", "max_chunk_size": 10, "overlap": 5}, {"strategy": "word", "max_chunk_size": 10, "overlap": 5}),
        ({"strategy": "recursive", "max_chunk_size": 200, "separator_group": "markdown"}, {"strategy": "recursive", "max_chunk_size": 200, "separator_group": "markdown"}),
        ({"strategy": "recursive", "max_chunk_size": 200, "separators": ["\n\n"]}, {"strategy": "recursive", "max_chunk_size": 200, "separators": ["\n\n"]}),
        ({"strategy": "none"}, {"strategy": "none"}),
        ({}, None),
    ],
)  # fmt: skip
def test_chunking_settings_as_elasticsearch_takes_them_with_its_defaults(chunking, normalised):
    assert parse(backend="semantic_text", chunking_settings=chunking).chunking_settings == normalised


@pytest.mark.parametrize(
    ("chunking", "message"),
    [
        ("sentence", "key 'chunking_settings' has value \"sentence\"; allowed: an object such as"),
        ({"max_chunk_size": 100}, "key 'chunking_settings.strategy' has value null; allowed: one of 'sentence', 'word', 'recursive', 'none'"),
        ({"strategy": "paragraph"}, "key 'chunking_settings.strategy' has value \"paragraph\"; allowed: one of"),
        ({"strategy": "sentence"}, "key 'chunking_settings.max_chunk_size' has value null; allowed: an integer >= 20 (words per chunk; required)"),
        ({"strategy": "sentence", "max_chunk_size": 19}, "key 'chunking_settings.max_chunk_size' has value 19; allowed: an integer >= 20"),
        ({"strategy": "word", "max_chunk_size": 9, "overlap": 1}, "key 'chunking_settings.max_chunk_size' has value 9; allowed: an integer >= 10"),
        ({"strategy": "sentence", "max_chunk_size": 100, "sentence_overlap": 2}, "key 'chunking_settings.sentence_overlap' has value 2; allowed: 0 or 1 (default 1)"),
        ({"strategy": "word", "max_chunk_size": 100}, "key 'chunking_settings.overlap' has value null; allowed: an integer 1..50 (at most half of max_chunk_size; required)"),
        ({"strategy": "word", "max_chunk_size": 100, "overlap": 0}, "key 'chunking_settings.overlap' has value 0; allowed: an integer 1..50"),
        ({"strategy": "word", "max_chunk_size": 100, "overlap": 51}, "key 'chunking_settings.overlap' has value 51; allowed: an integer 1..50"),
        ({"strategy": "sentence", "max_chunk_size": 100, "overlap": 1}, "key 'chunking_settings.overlap' has value 1; allowed: no such key for strategy 'sentence'; known keys: max_chunk_size, sentence_overlap, strategy"),
        ({"strategy": "none", "max_chunk_size": 100}, "key 'chunking_settings.max_chunk_size' has value 100; allowed: no such key for strategy 'none'; known keys: strategy"),
        ({"strategy": "recursive", "max_chunk_size": 100, "separators": ["a"], "separator_group": "markdown"}, "key 'chunking_settings.separators' has value [\"a\"]; allowed: not both separators and separator_group"),
        ({"strategy": "recursive", "max_chunk_size": 100, "separator_group": "html"}, "key 'chunking_settings.separator_group' has value \"html\"; allowed: one of ('plaintext', 'markdown')"),
        ({"strategy": "recursive", "max_chunk_size": 100, "separators": []}, "key 'chunking_settings.separators' has value []; allowed: a non-empty list of regular expressions"),
    ],
)  # fmt: skip
def test_invalid_chunking_names_the_nested_key(chunking, message):
    with pytest.raises(SettingsError) as raised:
        parse(backend="semantic_text", chunking_settings=chunking)
    assert str(raised.value).startswith(f"Variable 'embedding_inference': {message}")


@pytest.mark.parametrize("inference_id", ["my-elser", "e5_small", ".elser-2-elasticsearch", "a"])
def test_endpoint_ids_elasticsearch_accepts(inference_id):
    assert parse(backend="semantic_text", inference_id=inference_id).inference_id == inference_id


@pytest.mark.parametrize("inference_id", ["My-Elser", "-x", "x-", "", "a b", 7])
def test_endpoint_ids_elasticsearch_refuses(inference_id):
    with pytest.raises(SettingsError, match=r"key 'inference_id' has value .*; allowed: lowercase letters"):
        parse(backend="semantic_text", inference_id=inference_id)


def test_unknown_backend_lists_the_two():
    with pytest.raises(SettingsError) as raised:
        parse(backend="semantic")
    assert str(raised.value) == (
        "Variable 'embedding_inference': key 'backend' has value \"semantic\"; "
        "allowed: one of 'ingest_pipeline' or 'semantic_text'"
    )


def read(monkeypatch, **variables) -> s.RunSettings:
    for name in s.VARIABLES:
        monkeypatch.delenv(f"AIRFLOW_VAR_{name.upper()}", raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(f"AIRFLOW_VAR_{name.upper()}", json.dumps(value))
    return s.RunSettings.read()


def test_endpoint_and_chunking_keys_are_refused_on_the_pipeline_backend(monkeypatch):
    with pytest.raises(SettingsError) as raised:
        read(
            monkeypatch,
            embedding_inference={"inference_id": "my-elser", "chunking_settings": {"strategy": "none"}},
        )
    assert str(raised.value).splitlines() == [
        "Variable 'embedding_inference': key 'inference_id' has value \"my-elser\"; allowed: null while key "
        '\'backend\' is "ingest_pipeline" (it applies to backend "semantic_text" only)',
        "Variable 'embedding_inference': key 'chunking_settings' has value {\"strategy\": \"none\"}; allowed: null "
        'while key \'backend\' is "ingest_pipeline" (it applies to backend "semantic_text" only)',
    ]


def test_deployment_keys_an_endpoint_cannot_take_are_refused_naming_both_variables(monkeypatch):
    with pytest.raises(SettingsError) as raised:
        read(
            monkeypatch,
            embedding_inference={"backend": "semantic_text"},
            embedding_deployment={"queue_capacity": 500, "stop_after_run": True},
        )
    lines = str(raised.value).splitlines()
    assert lines[0] == (
        "Variable 'embedding_deployment': key 'queue_capacity' has value 500; allowed: 10000 with Variable "
        "'embedding_inference' key 'backend' \"semantic_text\" (an inference endpoint's deployment has "
        "Elasticsearch's default queue)"
    )
    assert lines[1].startswith(
        "Variable 'embedding_deployment': key 'stop_after_run' has value true; allowed: false with Variable "
        "'embedding_inference' key 'backend' \"semantic_text\" (searches of a semantic_text field embed the query"
    )
    assert len(lines) == 2


def test_capacity_keys_go_with_semantic_text(monkeypatch):
    settings = read(
        monkeypatch,
        embedding_inference={"backend": "semantic_text"},
        embedding_deployment={
            "adaptive_allocations": {"min_number_of_allocations": 0, "max_number_of_allocations": 4}
        },
    )
    assert settings[s.InferenceSettings].semantic_text
    assert settings[s.DeploymentSettings].adaptive


@pytest.mark.parametrize(
    ("version", "inference", "message"),
    [
        ("8.14.3", {"backend": "semantic_text"}, "Variable 'embedding_inference': key 'backend' has value \"semantic_text\"; allowed: \"ingest_pipeline\" on Elasticsearch 8.14.3 (semantic_text needs 8.15 or later)"),
        ("9.0.4", {"backend": "semantic_text", "chunking_settings": {"strategy": "none"}}, "Variable 'embedding_inference': key 'chunking_settings.strategy' has value \"none\"; allowed: 'sentence' or 'word' on Elasticsearch 9.0.4 ('none' needs 9.1 or later)"),
        ("8.18.2", {"backend": "semantic_text", "chunking_settings": {"strategy": "recursive", "max_chunk_size": 100}}, "Variable 'embedding_inference': key 'chunking_settings.strategy' has value \"recursive\"; allowed: 'sentence' or 'word' on Elasticsearch 8.18.2 ('recursive' needs 9.1 or later)"),
    ],
)  # fmt: skip
def test_what_needs_a_newer_cluster_is_refused_on_an_older_one(version, inference, message):
    settings = s.RunSettings({"embedding_inference": s.parse_variable("embedding_inference", inference)})
    with pytest.raises(SettingsError) as raised:
        settings.check_cluster_version(version)
    assert str(raised.value) == message


@pytest.mark.parametrize("version", ["8.19.0", "9.1.0", "9.5.3"])
def test_a_recent_enough_cluster_takes_semantic_text_and_its_chunking(version):
    inference = s.parse_variable(
        "embedding_inference",
        {"backend": "semantic_text", "chunking_settings": {"strategy": "sentence", "max_chunk_size": 100}},
    )
    s.RunSettings({"embedding_inference": inference}).check_cluster_version(version)


@pytest.mark.parametrize("version", ["8.15.0", "8.18.4", "9.0.2"])
def test_chunking_in_the_mapping_needs_8_19_or_9_1(version):
    s.RunSettings({"embedding_inference": parse(backend="semantic_text")}).check_cluster_version(version)
    chunked = parse(
        backend="semantic_text", chunking_settings={"strategy": "word", "max_chunk_size": 100, "overlap": 10}
    )
    with pytest.raises(SettingsError) as raised:
        s.RunSettings({"embedding_inference": chunked}).check_cluster_version(version)
    assert str(raised.value).startswith(
        "Variable 'embedding_inference': key 'chunking_settings' has value {\"strategy\": \"word\", "
        f'"max_chunk_size": 100, "overlap": 10}}; allowed: null on Elasticsearch {version} (a semantic_text '
        "mapping takes chunking_settings since 8.19 and 9.1"
    )
