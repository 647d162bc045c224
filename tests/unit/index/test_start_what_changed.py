"""start_reindex into a destination that already holds documents, on a backend without a copy that
pays no inference (semantic_text): only what a comparison finds missing or changed is embedded again."""

from __future__ import annotations

from es_embedding.index import StartReindexOperator
from tests.unit.fakes import FakeEs, FakeHook, context, settings, with_hook
from tests.unit.index.test_complete import compared, doc, found
from tests.unit.index.test_start import NO_TASKS, deployment_stats


def start(client: FakeEs) -> dict:
    operator = StartReindexOperator(
        task_id="start_reindex",
        source_index="src",
        dest_index="dst",
        deployment_id="dep",
        pipeline_id="",
        query={"match": {"topic": "ml"}},
        settings=settings(embedding_inference={"backend": "semantic_text"}),
    )
    return with_hook(operator, FakeHook(client)).execute(context())


def cluster(source: list[dict], dest: list[dict]) -> FakeEs:
    return FakeEs(
        **{
            "tasks.list": [NO_TASKS],
            "count": [{"count": len(dest)}],
            "ml.get_trained_models_stats": [deployment_stats(allocations=2, queue_capacity=50)],
            "reindex": [{"task": "n1:9"}],
        },
        **compared(source, dest),
    )


def test_only_the_missing_and_changed_documents_are_embedded_again_in_the_bulk_path():
    client = cluster([doc("a"), doc("b", "new"), doc("c")], [found("a"), found("b", "old")])
    assert start(client) == {"es_task_id": "n1:9"}
    [sent] = client.calls["reindex"]
    assert sent["source"]["query"] == {
        "bool": {"filter": [{"match": {"topic": "ml"}}, {"ids": {"values": ["b", "c"]}}]}
    }
    assert sent["dest"] == {"index": "dst"}, "no pipeline: the bulk path embeds"
    # Compared with what semantic_text leaves in _source: nothing the chain adds.
    assert "source" not in client.calls["search"][0] and client.calls["mget"][0]["index"] == "dst"


def test_a_current_destination_gets_a_reindex_that_matches_nothing_for_wait_reindex_to_follow():
    client = cluster([doc("a")], [found("a")])
    assert start(client) == {"es_task_id": "n1:9"}
    assert client.calls["reindex"][0]["source"]["query"] == {
        "bool": {"filter": [{"match": {"topic": "ml"}}, {"ids": {"values": []}}]}
    }
