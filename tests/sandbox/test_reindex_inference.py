"""Reindexing through an ELSER inference pipeline: embeddings end to end into a sparse_vector index,
an oversized batch overflowing the deployment's queue (429 failures), the pipeline_drop fault
(elastic/elasticsearch#78792) and a node restart in the middle of the work."""

from __future__ import annotations

import pytest
from elasticsearch import ApiError, NotFoundError
from elasticsearch.helpers import bulk

from tests.sandbox.ml_support import ELSER, arm_faults, deploy, poll, put_elser, strict

TOPICS = ["apples and pears", "ocean tides", "mountain climbing", "jazz piano", "tax returns"]


@pytest.fixture
def corpus(es):
    """40 documents, an ELSER pipeline and a destination with a sparse_vector mapping."""
    put_elser(es)
    bulk(
        es,
        ({"_index": "articles", "_id": str(i), "content": f"{TOPICS[i % 5]} note {i}"} for i in range(40)),
        refresh=True,
    )
    es.ingest.put_pipeline(
        id="elser",
        processors=[
            {
                "inference": {
                    "model_id": ELSER,
                    "input_output": [{"input_field": "content", "output_field": "content_embedding"}],
                }
            }
        ],
    )
    es.indices.create(
        index="articles-elser",
        mappings={
            "properties": {"content": {"type": "text"}, "content_embedding": {"type": "sparse_vector"}}
        },
    )
    return es


def reindex_through_elser(es, batch_size, **params):
    """articles -> articles-elser through the ELSER pipeline, `batch_size` documents a batch."""
    return es.reindex(
        source={"index": "articles", "size": batch_size},
        dest={"index": "articles-elser", "pipeline": "elser"},
        **params,
    )


def test_async_reindex_embeds_every_document_and_sparse_search_finds_them(corpus):
    es = corpus
    deploy(es)
    task_id = reindex_through_elser(es, 10, wait_for_completion=False)["task"]
    done = poll(lambda: es.tasks.get(task_id=task_id).body, lambda r: r["completed"], timeout=20)
    response = done["response"]
    assert (response["total"], response["created"], response["batches"], response["failures"]) == (
        40,
        40,
        4,
        [],
    )
    assert done["task"]["description"] == "reindex from [articles] to [articles-elser]"
    es.indices.refresh(index="articles-elser")

    assert "content_embedding" not in es.get(index="articles-elser", id="3")["_source"]  # 9.2+ hides vectors
    doc = es.get(index="articles-elser", id="3", source_exclude_vectors=False)["_source"]
    assert doc["model_id"] == ELSER and {"jazz", "piano"} <= set(doc["content_embedding"])
    missing = es.count(
        index="articles-elser", query={"bool": {"must_not": {"exists": {"field": "content_embedding"}}}}
    )
    assert missing["count"] == 0

    hits = es.search(
        index="articles-elser",
        query={"sparse_vector": {"field": "content_embedding", "inference_id": ELSER, "query": "jazz piano"}},
    )["hits"]["hits"]
    assert hits and "jazz piano" in hits[0]["_source"]["content"]

    stats = es.ml.get_trained_models_stats(model_id=ELSER)["trained_model_stats"][0]
    assert stats["ingest"]["pipelines"]["elser"]["count"] == 40
    assert stats["deployment_stats"]["inference_count"] >= 40


def test_an_oversized_batch_overflows_the_queue_and_ends_with_429_failures(corpus):
    es = corpus
    deploy(es, queue_capacity=5)
    with pytest.raises(ApiError) as info:
        reindex_through_elser(strict(es), 40)
    assert info.value.meta.status == 429
    body = info.value.body
    assert body["batches"] == 1 and body["total"] == 40
    assert body["failures"] and body["created"] == 40 - len(body["failures"]) > 0
    failure = body["failures"][0]
    assert failure["status"] == 429 and failure["index"] == "articles-elser"
    assert failure["cause"]["reason"] == "inference process queue is full. Unable to execute command"
    stats = es.ml.get_trained_models_stats(model_id=ELSER)["trained_model_stats"][0]["deployment_stats"]
    assert stats["rejected_execution_count"] == len(body["failures"])


def test_pipeline_drop_fault_lands_rejected_documents_without_embeddings(corpus):
    es = corpus
    deploy(es, queue_capacity=5)
    arm_faults(es, pipeline_drop={"enabled": True})
    answer = reindex_through_elser(strict(es), 40, refresh=True).body
    assert answer["failures"] == []
    assert answer["created"] == 40
    assert answer["retries"]["bulk"] >= 1
    without = es.count(
        index="articles-elser", query={"bool": {"must_not": {"exists": {"field": "content_embedding"}}}}
    )["count"]
    assert 0 < without < 40


def test_node_restart_mid_reindex_loses_the_task(corpus):
    es = corpus
    deploy(es)
    task_id = reindex_through_elser(es, 5, wait_for_completion=False, requests_per_second=10)["task"]
    poll(lambda: es.tasks.get(task_id=task_id)["task"]["status"], lambda s: s["created"] >= 5)
    arm_faults(es, node_restart=True)
    with pytest.raises(NotFoundError) as info:
        es.tasks.get(task_id=task_id)
    assert (
        info.value.body["error"]["reason"] == f"task [{task_id}] isn't running and hasn't stored its results"
    )
    assert 0 < es.count(index="articles-elser")["count"] < 40
