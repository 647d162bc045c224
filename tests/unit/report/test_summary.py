"""The run report's pure pieces (es_embedding.report.summary): no cluster, no Airflow run."""

from __future__ import annotations

from es_embedding.report.summary import (
    docs_per_second,
    failure_kind,
    inference_stats,
    ingest_stats,
    outcome,
    pipeline_failure_kinds,
    render,
    stage_rows,
)

ORDER = ["validate_settings", "ensure_model", "wait_reindex", "swap_alias", "run_report"]


def test_stage_rows_follow_the_dag_order_and_leave_out_the_report():
    crumbs = [
        {"task_id": "wait_reindex", "map_index": -1, "state": "success", "duration": 12.3456},
        {"task_id": "swap_alias", "map_index": -1, "state": "upstream_failed", "duration": None},
        {"task_id": "ensure_model", "map_index": -1, "state": "success", "duration": 0.5},
        {"task_id": "run_report", "map_index": -1, "state": "success", "duration": 1.0},
    ]
    rows = stage_rows(crumbs, ORDER, exclude="run_report")
    assert rows == [
        {"task_id": "ensure_model", "state": "success", "duration_s": 0.5},
        {"task_id": "wait_reindex", "state": "success", "duration_s": 12.35},
        {"task_id": "swap_alias", "state": "upstream_failed", "duration_s": None},
    ]
    assert outcome(rows) == "failed (swap_alias)"
    assert outcome(rows[:2]) == "success"


def test_inference_stats_sum_nodes_and_weight_the_average():
    stats = {
        "trained_model_stats": [
            {"deployment_stats": {"deployment_id": "other", "nodes": []}},
            {
                "deployment_stats": {
                    "deployment_id": "elser-ingest",
                    "state": "started",
                    "allocation_status": {"allocation_count": 2},
                    "threads_per_allocation": 1,
                    "queue_capacity": 1024,
                    "rejected_execution_count": 5,
                    "nodes": [
                        {"inference_count": 100, "average_inference_time_ms": 10.0, "timeout_count": 1},
                        {
                            "inference_count": 300,
                            "average_inference_time_ms": 20.0,
                            "rejected_execution_count": 5,
                        },
                    ],
                }
            },
        ]
    }
    got = inference_stats(stats, "elser-ingest")
    assert got["inference_count"] == 400
    assert got["average_inference_time_ms"] == 17.5
    assert got["rejected_execution_count"] == 5 and got["timeout_count"] == 1 and got["error_count"] == 0
    assert got["allocations"] == 2
    assert inference_stats(stats, "missing") is None


def test_ingest_stats_sum_the_pipeline_over_nodes():
    pipeline = {
        "count": 10,
        "failed": 1,
        "current": 0,
        "time_in_millis": 50,
        "processors": [
            {
                "inference:embed": {
                    "type": "inference",
                    "stats": {"count": 10, "failed": 1, "time_in_millis": 45},
                }
            }
        ],
    }
    resp = {
        "nodes": {
            "a": {"ingest": {"pipelines": {"es-embedding": pipeline}}},
            "b": {"ingest": {"pipelines": {"es-embedding": pipeline, "other": pipeline}}},
            "c": {"ingest": {"pipelines": {}}},
        }
    }
    got = ingest_stats(resp, "es-embedding")
    assert (got["count"], got["failed"], got["time_in_millis"]) == (20, 2, 100)
    assert got["processors"] == {"inference:embed": {"count": 20, "failed": 2, "time_in_millis": 90}}
    assert ingest_stats(resp, "absent") is None


def test_failure_kinds_group_messages_that_differ_only_in_numbers():
    hits = [
        {
            "_source": {
                "embedding_failure": {
                    "message": "queue is full [elser] after 1024 requests",
                    "processor": "inference",
                }
            }
        },
        {
            "_source": {
                "embedding_failure": {
                    "message": "queue is full [elser] after 2048 requests",
                    "processor": "inference",
                }
            }
        },
        {
            "_source": {
                "embedding_failure": {
                    "message": "field [content] not present as part of path [content]",
                    "processor": "inference",
                }
            }
        },
    ]
    kinds = pipeline_failure_kinds(hits, "embedding_failure")
    assert kinds == {
        "inference: queue is full [elser] after N requests": 2,
        "inference: field [content] not present as part of path [content]": 1,
    }
    assert failure_kind("plain text") == "plain text"


def test_docs_per_second_prefers_the_reindex_took():
    assert docs_per_second(100, {"took": 4000}, []) == 25.0
    rows = [{"task_id": "start_reindex", "duration_s": 1.0}, {"task_id": "wait_reindex", "duration_s": 9.0}]
    assert docs_per_second(100, {}, rows) == 10.0
    assert docs_per_second(0, {"took": 4000}, rows) is None


def test_render_shows_every_section():
    report = {
        "dag_id": "embedding_reindex",
        "run_id": "manual__1",
        "outcome": "success",
        "source_index": "articles",
        "dest_index": "articles-x",
        "alias": "articles-embedded",
        "duration_s": 61.2,
        "docs_per_second": 12.5,
        "documents": {"source_matching": 1200, "embedded": 1198, "recorded_failures": 2},
        "stages": [{"task_id": "wait_reindex", "state": "success", "duration_s": 50.0}],
        "failures": {"reindex": {}, "pipeline": {"inference: queue is full": 2}},
        "inference": {
            "deployment_id": "elser-ingest",
            "inference_count": 1200,
            "rejected_execution_count": 2,
        },
        "ingest": {"pipeline_id": "es-embedding", "count": 1200, "processors": {}},
        "settings": {"embedding_reindex": {"batch_size": "auto", "max_docs": None, "timeout": "12h"}},
        "unavailable": ["ingest stats: HTTP 403"],
    }
    text = render(report)
    assert (
        "Settings (the run's snapshot of the Variables)\n  embedding_reindex  batch_size=auto, max_docs=null, timeout=12h\n"
        in text
    )
    for expected in (
        "Run report: embedding_reindex / manual__1",
        "1,200",
        "wait_reindex",
        "2  pipeline: inference: queue is full",
        "deployment [elser-ingest]",
        "rejected_execution_count",
        "pipeline [es-embedding]",
        "ingest stats: HTTP 403",
        "12.5 docs/s",
    ):
        assert expected in text, expected
