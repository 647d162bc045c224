"""Request bodies (pipeline, destination index), names, and the reading of task lists."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from es_embedding import bodies, checks
from es_embedding.errors import EmbeddingError
from es_embedding.naming import default_alias, dest_index_name, index_name_problem
from es_embedding.settings import PipelineSettings


def test_pipeline_embeds_input_into_output_and_records_failures():
    body = bodies.pipeline_definition(PipelineSettings(), "elser-ingest")
    remove, processor = body["processors"]
    # A document embedded again by a resume pass first sheds the failure an earlier pass recorded.
    assert remove == {"remove": {"field": "embedding_failure", "ignore_missing": True}}
    assert processor["inference"]["model_id"] == "elser-ingest"
    assert processor["inference"]["input_output"] == [
        {"input_field": "content", "output_field": "content_embedding"}
    ]
    assert [p["set"]["field"] for p in body["on_failure"]] == [
        "embedding_failure.message",
        "embedding_failure.processor",
    ]
    assert body["_meta"] == {"managed_by": "es_embedding"}


def test_same_pipeline_ignores_version_but_not_content():
    wanted = bodies.pipeline_definition(PipelineSettings(), "d")
    assert bodies.same_pipeline({**wanted, "version": 4}, wanted)
    assert not bodies.same_pipeline({**wanted, "processors": []}, wanted)


@pytest.mark.parametrize(
    ("config", "mapping"),
    [
        ({"inference_config": {"text_expansion": {}}}, {"type": "sparse_vector"}),
        (
            {"inference_config": {"text_embedding": {"embedding_size": 384}}},
            {"type": "dense_vector", "dims": 384},
        ),
    ],
)
def test_embedding_field_follows_the_model(config, mapping):
    assert bodies.embedding_field_mapping(config) == mapping


def test_unsupported_model_type_is_explained():
    with pytest.raises(EmbeddingError, match=r"model \[lang\] has inference_config \['classification'\]"):
        bodies.embedding_field_mapping({"model_id": "lang", "inference_config": {"classification": {}}})


def test_dest_index_copies_source_mapping_adds_fields_and_no_default_pipeline():
    source = {
        "mappings": {"dynamic": "strict", "properties": {"content": {"type": "text"}}},
        "settings": {"index": {"number_of_shards": "2", "default_pipeline": "x", "uuid": "u"}},
    }
    body = bodies.dest_index_body(
        source, PipelineSettings(), {"type": "sparse_vector"}, {"source_index": "s"}
    )
    props = body["mappings"]["properties"]
    assert props["content"] == {"type": "text"} and props["content_embedding"] == {"type": "sparse_vector"}
    assert "embedding_failure" in props and body["mappings"]["dynamic"] == "strict"
    assert body["mappings"]["_meta"] == {"managed_by": "es_embedding", "source_index": "s"}
    assert body["settings"] == {"index": {"number_of_shards": "2"}}
    assert "properties" not in source["mappings"]["properties"]["content"]  # the source is not modified
    assert "content_embedding" not in source["mappings"]["properties"]


def test_field_lookup_by_dotted_path():
    mappings = {"properties": {"a": {"properties": {"b": {"type": "text"}}}}}
    assert bodies.field_mapping_at(mappings, "a.b") == {"type": "text"}
    assert bodies.field_mapping_at(mappings, "a.c") is None


def test_names():
    run_after = datetime(2026, 11, 28, 2, 0, 5, tzinfo=UTC)
    assert (
        dest_index_name("articles", ".elser_model_2", run_after) == "articles-elser-model-2-20261128t020005"
    )
    assert default_alias("articles") == "articles-embedded"
    assert index_name_problem("articles-x") is None
    assert (
        index_name_problem("Articles") == "it contains 'A' (lowercase only; no \\ / * ? \" < > | space , # :)"
    )
    assert index_name_problem("_x") == "it may not start with '-', '_' or '+'"


def test_running_reindex_is_found_by_source_and_dest_only_as_parent():
    tasks = {
        "nodes": {
            "n1": {
                "tasks": {
                    "n1:7": {
                        "description": "reindex from [src] to [dst]",
                        "action": "indices:data/write/reindex",
                    },
                    "n1:8": {"description": "reindex from [src] to [dst]", "parent_task_id": "n1:7"},
                    "n1:9": {"description": "reindex from [src] to [other]"},
                }
            }
        }
    }
    assert checks.running_reindex(tasks, "src", "dst") == "n1:7"
    assert checks.running_reindex(tasks, "src", "nope") is None
