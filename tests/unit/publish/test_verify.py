"""verify_embeddings (VerifyEmbeddingsOperator): the numbers it checks within the run's scope, the
currency proof it accepts from complete_index or makes itself, and how it reports a destination
that is not complete, current and embedded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from airflow.sdk.exceptions import TaskDeferred

from es_embedding.errors import VerificationError
from es_embedding.publish import VerifyEmbeddingsOperator
from es_embedding.publish.verify import PROOF_MAX_AGE, accepted_proof
from es_embedding.triggers import DeploymentStateTrigger
from tests.unit.fakes import FakeEs, FakeHook, context, settings, with_hook
from tests.unit.index.test_complete import UNEMBEDDED, compared, doc, found
from tests.unit.index.test_start import deployment_stats

SPARSE = {"dst": {"mappings": {"properties": {"content_embedding": {"type": "sparse_vector"}}}}}
SAMPLE = {
    "hits": {
        "hits": [{"_id": "doc-1", "_source": {"content": "semantic search with learned sparse vectors"}}]
    }
}
FOUND = {"hits": {"hits": [{"_id": "doc-1"}, {"_id": "doc-2"}]}}


def proof(
    compared: int = 40, present: int = 40, stale: int = 0, age: timedelta = timedelta(seconds=2)
) -> dict:
    """complete_index's summary, as verify_embeddings receives it, `age` before now."""
    now = datetime.now(UTC)
    currency = {
        "cut": (now - age).isoformat(),
        "compared": compared,
        "current": compared - stale,
        "missing": 0,
        "stale": stale,
        "dest_index": "dst",
        "present": present,
        "removed": 0,
        "finished": (now - age).isoformat(),
    }
    return {"currency": currency}


def verify(
    client: FakeEs, dest_query: dict | None = None, resume: dict | None = None, **reindex: object
) -> dict:
    operator = VerifyEmbeddingsOperator(
        task_id="verify_embeddings",
        source_index="src",
        dest_index="dst",
        deployment_id="dep",
        dest_query=dest_query,
        resume=resume,
        settings=settings(embedding_reindex=reindex),
    )
    return with_hook(operator, FakeHook(client)).execute(context())


def cluster(
    expected: int, indexed: int, missing: int, failed: int, searches: list | None = None, **more
) -> FakeEs:
    return FakeEs(
        **{
            "ml.get_trained_models_stats": [deployment_stats()],
            "indices.refresh": [{}],
            "count": [{"count": n} for n in (expected, indexed, missing, failed)],
            "search": searches or [SAMPLE, FOUND],
            "indices.get_mapping": [SPARSE],
            **more,
        }
    )


def test_a_complete_destination_passes_on_complete_index_s_comparison():
    client = cluster(40, 40, 0, 0)
    resume = proof()
    verification = verify(client, resume=resume)["verification"]
    assert verification == {
        "expected": 40,
        "indexed": 40,
        "missing_embeddings": 0,
        "recorded_failures": 0,
        "stale": 0,
        "compared": 40,
        "current_as_of": resume["currency"]["cut"],
        "currency_checked_by": "complete_index",
        "sample_doc": "doc-1",
        "sample_hits": 2,
    }
    assert "open_point_in_time" not in client.calls, "no second comparison"
    assert client.calls["count"][2]["query"] == UNEMBEDDED
    semantic = client.calls["search"][1]
    assert semantic["query"] == {
        "sparse_vector": {
            "field": "content_embedding",
            "inference_id": "dep",
            "query": "semantic search with learned sparse vectors",
        }
    }


def test_without_a_proof_it_stands_for_verification_compares_itself_and_names_stale_documents():
    reads = compared([doc("a"), doc("b", "new")], [found("a"), found("b", "old")])
    client = cluster(2, 2, 0, 0, **reads)
    client.scripts["search"] = [*reads["search"], SAMPLE, FOUND, {"hits": {"hits": []}}]
    with pytest.raises(VerificationError) as failed:
        verify(client, resume=proof(compared=2, present=2, age=PROOF_MAX_AGE + timedelta(minutes=1)))
    assert str(failed.value) == (
        "verification failed: 1 documents are older than their source (changed since they were copied) (e.g. b)"
    )


def test_proofs_that_do_not_stand():
    now = datetime.now(UTC)
    assert accepted_proof(proof()["currency"], "dst", 40, 40, now)
    assert not accepted_proof(proof()["currency"], "other", 40, 40, now), "another destination"
    assert not accepted_proof(proof()["currency"], "dst", 41, 40, now), "the source's scope changed since"
    assert not accepted_proof(proof()["currency"], "dst", 40, 39, now), (
        "the destination's scope changed since"
    )
    assert not accepted_proof(proof(stale=1)["currency"], "dst", 40, 40, now), "it found stale documents"
    assert not accepted_proof(proof(age=PROOF_MAX_AGE * 2)["currency"], "dst", 40, 40, now), "too old"
    assert not accepted_proof(None, "dst", 40, 40, now) and not accepted_proof(
        {"dest_index": "dst"}, "dst", 40, 40, now
    )


def test_an_incomplete_destination_fails_with_every_number_and_samples_of_the_failures():
    failures = {
        "hits": {"hits": [{"_id": "doc-9", "_source": {"embedding_failure": {"message": "queue is full"}}}]}
    }
    client = cluster(40, 39, 2, 1, searches=[SAMPLE, FOUND, failures])
    with pytest.raises(VerificationError) as failed:
        verify(client, resume=proof(present=39))
    assert str(failed.value) == (
        "verification failed: [dst] holds 39 documents of the run's scope, the source query matches 40; 2 "
        "documents lack their embedding (1 carry a recorded failure; max_missing_embeddings is 0). "
        "Recorded failures, e.g.: [doc-9] {'message': 'queue is full'}"
    )


def test_tolerated_missing_embeddings_and_max_docs_count():
    client = cluster(120, 50, 1, 1)
    result = verify(client, resume=proof(compared=120, present=50), max_docs=50, max_missing_embeddings=1)
    assert result["verification"]["expected"] == 50


def test_an_incremental_run_verifies_its_interval_only():
    interval = {"range": {"published": {"gte": "2026-03-04T02:00:00+00:00"}}}
    client = cluster(3, 3, 0, 0)
    verify(client, dest_query=interval, resume=proof(compared=3, present=3))
    destination_counts = client.calls["count"][1:]
    assert destination_counts[0]["query"] == interval
    assert all(interval in call["query"]["bool"]["filter"] for call in destination_counts[1:])


def test_a_deployment_being_allocated_again_is_waited_for_before_the_sample_query():
    starting = deployment_stats()
    stats = starting["trained_model_stats"][0]["deployment_stats"]
    stats.update(state="started", allocation_status={"allocation_count": 0, "target_allocation_count": 1})
    client = FakeEs(**{"ml.get_trained_models_stats": [starting]})
    with pytest.raises(TaskDeferred) as deferred:
        verify(client)
    assert isinstance(deferred.value.trigger, DeploymentStateTrigger)
    assert deferred.value.method_name == "allocation_complete" and "count" not in client.calls


def test_an_unchanged_source_proof_stands_on_the_counts_it_proved():
    """complete_index's other proof (es_embedding.index.stamp): nothing compared, the source's count
    proven instead."""
    now = datetime.now(UTC)
    unchanged = {
        **proof(compared=0)["currency"],
        "proof": "unchanged_source",
        "current": 40,
        "source_count": 40,
    }
    assert accepted_proof(unchanged, "dst", 40, 40, now)
    assert not accepted_proof(unchanged, "dst", 41, 40, now), "the source's scope changed since"
    assert not accepted_proof(unchanged, "dst", 40, 41, now), "the destination changed since"
    assert not accepted_proof({**unchanged, "proof": "comparison"}, "dst", 40, 40, now), (
        "a comparison of none"
    )
    report = verify(cluster(40, 40, 0, 0), resume={"currency": unchanged})["verification"]
    assert (report["compared"], report["stale"], report["currency_checked_by"]) == (0, 0, "complete_index")
