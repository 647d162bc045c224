"""embedding_backfill through the real scheduler: a pattern resolved at run time, one mapped chain
per index into its own destination and alias, one shared deployment, and the pool's cap held for as
long as each reindex runs in Elasticsearch (the pool counts deferred tasks).

The pool is set to 1 slot while the DAG allows 2 reindexes per run (max_active_tis_per_dagrun):
the cap that must hold is the pool's. The proof is the cluster's own record of each reindex task
(start time and duration), which the task instances' start times precede."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from elasticsearch import Elasticsearch, helpers

from bin.sample_corpus import CORPUS

# The first scheduler test also pays the shared standalone start (20-60 s, more on a loaded machine).
pytestmark = [pytest.mark.standalone, pytest.mark.slow, pytest.mark.timeout(600)]
DAG_ID = "embedding_backfill"
SOURCES = ["fan-a", "fan-b", "fan-c"]
PER_INDEX = 25


def max_overlap(windows: list[tuple[float, float]]) -> int:
    """The largest number of [start, end) windows open at one instant."""
    edges = sorted([(s, 1) for s, _ in windows] + [(e, -1) for _, e in windows], key=lambda x: (x[0], x[1]))
    open_now = peak = 0
    for _, step in edges:
        open_now += step
        peak = max(peak, open_now)
    return peak


def test_fanout_over_three_indices_shares_one_deployment_within_the_pool_cap(scheduler):
    es = Elasticsearch(scheduler.sandbox.url)
    with CORPUS.open() as lines:
        docs = [json.loads(line) for line in lines]
    mapping = {"properties": {"content": {"type": "text"}, "published": {"type": "date"}}}
    for n, source in enumerate(SOURCES):
        es.indices.create(index=source, mappings=mapping)
        chunk = docs[n * PER_INDEX : (n + 1) * PER_INDEX]
        helpers.bulk(es, ({"_index": source, **d} for d in chunk), refresh=True)
    # The pool from include/pools.json, narrowed to one slot for this test.
    pool = scheduler.api.get("/pools/es_embedding").json()
    assert pool["include_deferred"] is True
    narrowed = scheduler.api.patch(
        "/pools/es_embedding",
        json={**{k: pool[k] for k in ("name", "description", "include_deferred")}, "slots": 1},
    )
    assert narrowed.status_code == 200, narrowed.text
    scheduler.wait_for_dag(DAG_ID)

    run_id = scheduler.trigger(DAG_ID, source_indices=["fan-*"])
    state = scheduler.wait_for_run(DAG_ID, run_id, timeout=400)
    tis = scheduler.task_instances(DAG_ID, run_id)
    assert state == "success", {(t["task_id"], t["map_index"]): t["state"] for t in tis}

    # One chain per index: its own destination behind its own alias, every document embedded.
    for source in SOURCES:
        (dest,) = es.indices.get_alias(name=f"{source}-embedded")
        assert dest.startswith(f"{source}-")
        assert es.count(index=dest, query={"exists": {"field": "content_embedding"}})["count"] == PER_INDEX
    # One deployment served them all.
    stats = es.ml.get_trained_models_stats()["trained_model_stats"]
    deployments = [s["deployment_stats"]["deployment_id"] for s in stats if s.get("deployment_stats")]
    assert deployments == ["elser-ingest"]

    # The cap: the reindex tasks as the cluster recorded them never ran more than 1 at a time.
    reindexes = sorted(
        (t for t in tis if t["task_id"] == "embed_index.reindex"), key=lambda t: t["map_index"]
    )
    assert [t["map_index"] for t in reindexes] == [0, 1, 2]
    assert {t["pool"] for t in reindexes} == {"es_embedding"}
    windows = []
    for ti in reindexes:
        xcom = scheduler.api.get(
            f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/embed_index.reindex/xcomEntries/es_task_id",
            params={"map_index": ti["map_index"]},
        )
        assert xcom.status_code == 200, xcom.text
        task = es.tasks.get(task_id=xcom.json()["value"])
        start_ms = task["task"]["start_time_in_millis"]
        windows.append((start_ms, start_ms + task["task"]["running_time_in_nanos"] / 1e6))
    assert all(end > start for start, end in windows)
    assert max_overlap(windows) == 1, windows
    # Each task instance held its slot from before its reindex started (the slot is taken when the
    # task is queued). Task instance windows themselves may overlap after a reindex ended: a resumed
    # task waits in `scheduled` for its slot again, so it is the cluster's record that shows the cap.
    # A retried try re-attaches to the reindex its first try started, so compare with the first try.
    for ti, (start_ms, _) in zip(reindexes, windows, strict=True):
        tries = scheduler.api.get(
            f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/embed_index.reindex/{ti['map_index']}/tries"
        ).json()["task_instances"]
        first_start = min(datetime.fromisoformat(t["start_date"]) for t in tries if t["start_date"])
        assert first_start.timestamp() * 1000 <= start_ms

    # An Asset event per alias.
    events = scheduler.api.get("/assets/events", params={"limit": 100}).json()["asset_events"]
    uris = {e["uri"] for e in events if e["source_run_id"] == run_id}
    assert uris == {f"elasticsearch://elasticsearch_default/{s}-embedded" for s in SOURCES}
