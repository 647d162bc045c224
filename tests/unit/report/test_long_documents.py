"""The run report's account of long documents and of the backend (issue 11): the model's input limit
from its config, truncated documents with the remedy on the pipeline backend, chunks per document on
semantic_text (offsets in UTF-16 units, as Elasticsearch reports them), the model behind an alias,
and what the table shows of each."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from es_embedding.report import RunReportOperator, render
from es_embedding.report.summary import chunk_stats, long_documents_note, model_input_tokens
from tests.unit.fakes import FakeEs, FakeHook, FakeTi, context, settings, with_hook

E5 = {
    "model_id": ".multilingual-e5-small",
    "inference_config": {
        "text_embedding": {"tokenization": {"xlm_roberta": {"max_sequence_length": 512, "truncate": "first"}}}
    },
}


def test_the_models_input_limit_comes_from_its_tokenization():
    assert model_input_tokens(E5) == 512
    short = {"inference_config": {"text_expansion": {"tokenization": {"bert": {"max_sequence_length": 256}}}}}
    assert model_input_tokens(short) == 256
    assert model_input_tokens(None) == 512


def hit(text: str, offsets: list[tuple[int, int]]) -> dict:
    chunks = [{"start_offset": s, "end_offset": e} for s, e in offsets]
    return {
        "_source": {
            "content": text,
            "_inference_fields": {"vec": {"inference": {"chunks": {"content": chunks}}}},
        }
    }


def test_chunks_per_document_of_a_sample():
    # An astral character counts two UTF-16 units: the second chunk starts after it.
    text = "🌌 stars and galaxies shine far away"
    stats = chunk_stats([hit(text, [(0, 19), (19, 36)]), hit("short one", [(0, 9)])], "vec", "content")
    assert stats == {
        "sampled_documents": 2,
        "chunks": 3,
        "chunks_per_document": 1.5,
        "max_chunks_per_document": 2,
        "documents_over_one_chunk": 1,
        "longest_chunk_words": 4,
    }


def test_what_the_report_says_of_long_documents():
    cut = long_documents_note({"model_input_tokens": 512, "truncated": 12})
    assert cut.startswith("12 documents were longer than the model reads (512 tokens) and were embedded from")
    assert 'backend\' to "semantic_text"' in cut and "README: Long documents" in cut
    assert long_documents_note({"model_input_tokens": 512, "truncated": 0}) is None
    assert (
        long_documents_note(
            {"model_input_tokens": 512, "chunking": {"strategy": "sentence"}, "longest_chunk_words": 260}
        )
        is None
    )
    assert "lower max_chunk_size" in long_documents_note(
        {"model_input_tokens": 512, "longest_chunk_words": 600}
    )
    assert "strategy none" in long_documents_note(
        {"model_input_tokens": 512, "chunking": {"strategy": "none"}}
    )


class Ti(FakeTi):
    dag_id, run_id = "embedding_reindex", "manual__1"

    def get_task_breadcrumbs(self, dag_id: str, run_id: str) -> list[dict]:
        return []


def run_report(client: FakeEs, snapshot, xcoms: dict) -> dict:
    operator = RunReportOperator(task_id="run_report", settings=snapshot.to_json())
    ctx = context(
        ti=Ti(xcoms, task_id="run_report"),
        dag=SimpleNamespace(topological_sort=lambda: []),
        dag_run=SimpleNamespace(start_date=datetime.now(UTC)),
    )
    return with_hook(operator, FakeHook(client)).execute(ctx)


XCOMS = {
    ("validate_settings", "source_index"): "src",
    ("validate_settings", "dest_index"): "dst",
    ("validate_settings", "es_version"): "9.5.3",
    ("ensure_model", "model_id"): ".multilingual-e5-small",
}


def test_pipeline_backend_counts_truncated_documents_and_names_the_model_behind_the_alias():
    xcoms = {
        **XCOMS,
        ("ensure_model", "model_alias"): "my-dense",
        ("start_deployment", "deployment_id"): "e5-ingest",
        ("put_pipeline", "pipeline_id"): "es-embedding",
    }
    client = FakeEs(
        **{
            "count": [{"count": n} for n in (5, 5, 5, 0, 0, 2)],
            "indices.exists": [True],
            "indices.refresh": [{}],
            "ml.get_trained_models": [{"trained_model_configs": [E5]}],
            "ml.get_trained_models_stats": [{"trained_model_stats": []}],
            "nodes.stats": [{"nodes": {}}],
        }
    )
    report = run_report(client, settings(), xcoms)
    assert report["backend"] == {
        "backend": "ingest_pipeline",
        "model_id": ".multilingual-e5-small",
        "model_alias": "my-dense",
        "deployment_id": "e5-ingest",
        "pipeline_id": "es-embedding",
        "inference_id": None,
    }
    assert client.calls["count"][-1] == {"index": "dst", "query": {"term": {"is_truncated": True}}}
    long_documents = report["long_documents"]
    assert (long_documents["model_input_tokens"], long_documents["truncated"]) == (512, 2)
    assert long_documents["note"].startswith("2 documents were longer than the model reads (512 tokens)")
    table = render(report)
    assert (
        "  backend   ingest_pipeline: model .multilingual-e5-small (behind model alias my-dense), deployment [e5-ingest], pipeline [es-embedding]"
        in table
    )
    assert "  truncated (input cut)  2" in table
    assert "  ! 2 documents were longer than the model reads" in table


def test_semantic_text_backend_reports_chunks_the_endpoint_and_no_pipeline():
    xcoms = {
        **XCOMS,
        ("ensure_endpoint", "deployment_id"): "es-embedding-multilingual-e5-small",
        ("ensure_endpoint", "inference_id"): "es-embedding-multilingual-e5-small",
    }
    stats = {
        "trained_model_stats": [
            {
                "model_id": ".multilingual-e5-small",
                "deployment_stats": {
                    "deployment_id": "es-embedding-multilingual-e5-small",
                    "state": "started",
                    "allocation_status": {"allocation_count": 1},
                    "nodes": [{"inference_count": 9, "average_inference_time_ms": 2.0}],
                },
            }
        ]
    }
    client = FakeEs(
        **{
            "count": [{"count": n} for n in (2, 2, 2, 0)],
            "indices.exists": [True],
            "indices.refresh": [{}],
            "ml.get_trained_models": [{"trained_model_configs": [E5]}],
            "inference.get": [
                {"endpoints": [{"chunking_settings": {"strategy": "sentence", "max_chunk_size": 250}}]}
            ],
            "search": [{"hits": {"hits": [hit("a b c. d e f.", [(0, 7), (7, 14)]), hit("g h", [(0, 3)])]}}],
            "ml.get_trained_models_stats": [stats],
        }
    )
    report = run_report(
        client,
        settings(
            embedding_inference={"backend": "semantic_text"}, embedding_pipeline={"output_field": "vec"}
        ),
        xcoms,
    )
    assert report["documents"]["recorded_failures"] is None  # a rejected document is missing, not recorded
    assert report["ingest"] is None and not client.called("nodes.stats")
    assert report["inference"]["inference_id"] == "es-embedding-multilingual-e5-small"
    assert report["inference"]["inference_count"] == 9
    long_documents = report["long_documents"]
    assert long_documents["chunking"] == {"strategy": "sentence", "max_chunk_size": 250}
    assert (long_documents["chunks"], long_documents["documents_over_one_chunk"]) == (3, 1)
    (search,) = client.calls["search"]
    assert search["source"] == {
        "includes": [
            "content",
            "_inference_fields.vec.inference.chunks.*.start_offset",
            "_inference_fields.vec.inference.chunks.*.end_offset",
        ],
        "exclude_vectors": False,
    }
    table = render(report)
    assert (
        "  backend   semantic_text: model .multilingual-e5-small, endpoint [es-embedding-multilingual-e5-small]"
        in table
    )
    assert (
        "Inference: endpoint [es-embedding-multilingual-e5-small], deployment [es-embedding-multilingual-e5-small]"
        in table
    )
    assert "  chunks per document    1.5" in table
