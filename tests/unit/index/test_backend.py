"""The backend seam (es_embedding.index.backend): what the ingest pipeline path answers."""

from __future__ import annotations

from es_embedding.index.backend import IngestPipelineBackend, SemanticTextBackend, backend_for
from tests.unit.fakes import settings


def test_the_pipeline_path_from_the_run_settings():
    backend = backend_for(settings(embedding_pipeline={"output_field": "ml.tokens"}), "pipe-v2")
    assert backend == IngestPipelineBackend("pipe-v2", "ml.tokens", "embedding_failure")
    # The inference processor writes the model id (and a truncation flag) next to its output.
    assert backend.added_fields() == ["ml.tokens", "embedding_failure", "ml.model_id", "ml.is_truncated"]
    assert backend_for(settings()).pipeline_id == "es-embedding"


def test_embedded_means_an_output_and_no_failure_record():
    backend = IngestPipelineBackend("pipe", "content_embedding", "embedding_failure")
    assert backend.embedded() == {
        "bool": {
            "filter": [{"exists": {"field": "content_embedding"}}],
            "must_not": [{"exists": {"field": "embedding_failure"}}],
        }
    }
    assert backend.unembedded() == {"bool": {"must_not": [backend.embedded()]}}
    assert backend.failed() == {"exists": {"field": "embedding_failure"}}


def test_writes_that_embed_and_the_cheap_passes():
    backend = IngestPipelineBackend("pipe", "content_embedding", "embedding_failure")
    assert backend.embedding_dest({"index": "dst"}) == {"index": "dst", "pipeline": "pipe"}
    # The copy pays no inference: without the pipeline, and only what the destination lacks.
    assert backend.copy_dest({"index": "dst"}) == {"index": "dst", "op_type": "create"}
    assert backend.embed_in_place(index="dst", query={"match_all": {}}) == {
        "index": "dst",
        "query": {"match_all": {}},
        "pipeline": "pipe",
    }
    assert backend.copies_without_inference and backend.embeds_in_place


def test_the_semantic_text_path_embeds_every_write_and_has_no_cheap_pass():
    backend = backend_for(settings(embedding_inference={"backend": "semantic_text"}), "")
    assert backend == SemanticTextBackend("content_embedding")
    assert backend.embedded() == {"exists": {"field": "content_embedding"}}
    assert backend.failed() is None and backend.added_fields() == []
    assert backend.embedding_dest({"index": "dst"}) == {"index": "dst"}, "no pipeline: the bulk path embeds"
    assert backend.copy_dest({"index": "dst"}) is None and backend.embed_in_place(index="dst") is None
    assert not backend.copies_without_inference and not backend.embeds_in_place
