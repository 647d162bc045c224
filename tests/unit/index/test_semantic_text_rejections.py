"""On the semantic_text backend a bulk item whose inference was rejected or timed out is not written
(Elasticsearch fails the item with the cause's status): wait_reindex leaves those documents to
complete_index instead of failing the run, and still applies the failure policy to the others."""

from __future__ import annotations

import pytest

from es_embedding.errors import ReindexFailedError
from es_embedding.index import ReindexTaskSensor
from es_embedding.index.backend import IngestPipelineBackend, SemanticTextBackend
from tests.unit.fakes import context, settings

REJECTED = {"inference_exception (status 429)": 7, "inference_exception (status 408)": 2}


def failures(**by_kind: int) -> dict:
    return {"count": sum(by_kind.values()), "by_kind": by_kind, "samples": []}


def finished(summary: dict) -> dict:
    return {
        "status": "success",
        "es_task_id": "n1:5",
        "result": {"total": 30, "created": 21, "failures": summary},
    }


def sensor(**variables) -> ReindexTaskSensor:
    return ReindexTaskSensor(task_id="wait_reindex", es_task_id="n1:5", settings=settings(**variables))


SEMANTIC = {"embedding_inference": {"backend": "semantic_text"}}


def test_rejected_or_timed_out_inference_is_left_to_complete_index():
    backend = SemanticTextBackend(field="content_embedding")
    assert backend.completed_later(failures(**REJECTED)) == 9
    assert backend.completed_later(failures(**{"inference_exception (status 400)": 1})) == 0
    pipeline = IngestPipelineBackend(pipeline_id="p", output_field="o", failure_field="f")
    assert pipeline.completed_later(failures(**REJECTED)) == 0

    ctx = context()
    assert sensor(**SEMANTIC).execute_complete(ctx, finished(failures(**REJECTED)))["created"] == 21
    assert ctx["ti"].pushed["reindex_result"]["failures"]["count"] == 9


def test_other_failures_still_meet_the_failure_policy():
    summary = failures(**REJECTED, **{"document_parsing_exception (status 400)": 1})
    with pytest.raises(ReindexFailedError, match=r"max_failures >= 1 in Variable 'embedding_reindex'"):
        sensor(**SEMANTIC).execute_complete(context(), finished(summary))
    tolerated = sensor(**SEMANTIC, embedding_reindex={"failure_policy": "tolerate", "max_failures": 1})
    assert tolerated.execute_complete(context(), finished(summary))["created"] == 21


def test_on_the_pipeline_backend_a_bulk_failure_is_a_failure():
    with pytest.raises(ReindexFailedError, match=r"9 failure\(s\)"):
        sensor().execute_complete(context(), finished(failures(**REJECTED)))
