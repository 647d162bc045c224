"""verify_embeddings (VerifyEmbeddingsOperator): the numbers it checks and how it reports a
destination that is not complete."""

from __future__ import annotations

import pytest

from es_embedding.errors import VerificationError
from es_embedding.publish import VerifyEmbeddingsOperator
from tests.unit.fakes import FakeEs, FakeHook, context, settings, with_hook

SPARSE = {"dst": {"mappings": {"properties": {"content_embedding": {"type": "sparse_vector"}}}}}
SAMPLE = {
    "hits": {
        "hits": [{"_id": "doc-1", "_source": {"content": "semantic search with learned sparse vectors"}}]
    }
}
FOUND = {"hits": {"hits": [{"_id": "doc-1"}, {"_id": "doc-2"}]}}


def verify(client: FakeEs, dest_query: dict | None = None, **reindex: object) -> dict:
    operator = VerifyEmbeddingsOperator(
        task_id="verify_embeddings",
        source_index="src",
        dest_index="dst",
        deployment_id="dep",
        dest_query=dest_query,
        settings=settings(embedding_reindex=reindex),
    )
    return with_hook(operator, FakeHook(client)).execute(context())


def cluster(expected: int, indexed: int, missing: int, failed: int, searches: list | None = None) -> FakeEs:
    return FakeEs(
        **{
            "indices.refresh": [{}],
            "count": [{"count": n} for n in (expected, indexed, missing, failed)],
            "search": searches or [SAMPLE, FOUND],
            "indices.get_mapping": [SPARSE],
        }
    )


def test_a_complete_destination_passes_with_its_numbers():
    client = cluster(40, 40, 0, 0)
    assert verify(client) == {
        "verification": {
            "expected": 40,
            "indexed": 40,
            "missing_embeddings": 0,
            "recorded_failures": 0,
            "sample_doc": "doc-1",
            "sample_hits": 2,
        }
    }
    semantic = client.calls["search"][1]
    assert semantic["query"] == {
        "sparse_vector": {
            "field": "content_embedding",
            "inference_id": "dep",
            "query": "semantic search with learned sparse vectors",
        }
    }


def test_an_incomplete_destination_fails_with_every_number_and_samples_of_the_failures():
    failures = {
        "hits": {"hits": [{"_id": "doc-9", "_source": {"embedding_failure": {"message": "queue is full"}}}]}
    }
    client = cluster(40, 39, 2, 1, searches=[SAMPLE, FOUND, failures])
    with pytest.raises(VerificationError) as failed:
        verify(client)
    assert str(failed.value) == (
        "verification failed: [dst] holds 39 documents, the source query matches 40; 2 documents lack "
        "[content_embedding] (1 carry a failure in [embedding_failure]; max_missing_embeddings is 0). "
        "Recorded failures, e.g.: [doc-9] {'message': 'queue is full'}"
    )


def test_tolerated_missing_embeddings_and_max_docs_count():
    client = cluster(120, 50, 1, 1)
    assert verify(client, max_docs=50, max_missing_embeddings=1)["verification"]["expected"] == 50


def test_an_incremental_run_verifies_its_interval_only():
    interval = {"range": {"published": {"gte": "2026-03-04T02:00:00+00:00"}}}
    client = cluster(3, 3, 0, 0)
    verify(client, dest_query=interval)
    destination_counts = client.calls["count"][1:]
    assert all(interval in call["query"]["bool"]["filter"] for call in destination_counts)
