"""`auto` deployment and reindex sizing end to end: dag.test() against a sandbox over HTTP."""

from __future__ import annotations

from tests.e2e.harness import ALIAS, SOURCE_INDEX, connect, load_corpus, set_variables, xcom


def test_auto_takes_free_processors_within_the_bound_and_never_overflows_a_small_queue(
    start_sandbox, monkeypatch, run_dag
):
    from elasticsearch import Elasticsearch

    sandbox = start_sandbox(ml_processors=4, download_seconds=0.2, inference_ms=2.0)
    es = Elasticsearch(sandbox.url, request_timeout=30)
    connect(monkeypatch, sandbox.url)
    load_corpus(es)
    set_variables(
        monkeypatch,
        embedding_model={"poll_interval": "0.2s"},
        # 4 free processors, at most 3 taken; a queue of 30 per node holds 33 requests with 3 in
        # service: the old per-allocation arithmetic (3 x 30 = 90) let 2 slices x 45 overflow it.
        embedding_deployment={
            "number_of_allocations": "auto",
            "threads_per_allocation": "auto",
            "max_processors": 3,
            "queue_capacity": 30,
            "poll_interval": "0.2s",
        },
        embedding_reindex={"batch_size": "auto", "slices": "auto", "poll_interval": "0.2s"},
    )

    result = run_dag(source_index=SOURCE_INDEX, alias=ALIAS)

    assert result.state == "success", result.task_states
    stats = es.ml.get_trained_models_stats()["trained_model_stats"]
    deployment = next(s["deployment_stats"] for s in stats if s.get("deployment_stats"))
    assert (deployment["number_of_allocations"], deployment["threads_per_allocation"]) == (3, 1)
    batch, slices = (
        xcom(result.run_id, "start_reindex", "batch_size"),
        xcom(result.run_id, "start_reindex", "slices"),
    )
    assert slices == 2 and batch * slices <= int(0.8 * (30 + 3)), (batch, slices)
    assert deployment.get("rejected_execution_count", 0) == 0
    dest = next(iter(es.indices.get_alias(name=ALIAS)))
    es.indices.refresh(index=dest)
    assert es.count(index=dest, query={"exists": {"field": "content_embedding"}})["count"] == 125
    es.close()
