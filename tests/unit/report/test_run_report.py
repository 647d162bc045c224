"""run_report (RunReportOperator): collected best effort from the run's XComs, its task instances and
the cluster; the settings it shows are the run's snapshot."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from es_embedding.report import RunReportOperator
from es_embedding.settings import RunSettings
from tests.unit.fakes import FakeEs, FakeHook, FakeTi, context, settings, with_hook

CRUMBS = [
    {"task_id": "validate_settings", "state": "success", "duration": 1.5, "map_index": -1},
    {"task_id": "ensure_model", "state": "upstream_failed", "duration": None, "map_index": -1},
]


class Ti(FakeTi):
    dag_id, run_id = "embedding_reindex", "manual__1"

    def get_task_breadcrumbs(self, dag_id: str, run_id: str) -> list[dict]:
        return CRUMBS


def report(client: FakeEs, snapshot, xcoms: dict) -> dict:
    operator = RunReportOperator(task_id="run_report", settings=snapshot)
    dag = SimpleNamespace(topological_sort=lambda: [SimpleNamespace(task_id=c["task_id"]) for c in CRUMBS])
    dag_run = SimpleNamespace(start_date=datetime.now(UTC))
    ctx = context(ti=Ti(xcoms, task_id="run_report"), dag=dag, dag_run=dag_run)
    return with_hook(operator, FakeHook(client)).execute(ctx)


def test_a_run_that_stopped_before_the_cluster_still_reports_and_says_what_it_lacks():
    client = FakeEs()  # strict: nothing to read on the cluster
    result = report(client, "null", {})  # the snapshot template renders null: validate_settings failed
    assert result["outcome"] == "failed (ensure_model)"
    assert result["settings"] is None
    assert result["unavailable"][0].startswith("settings: no settings snapshot")
    assert "documents: the run did not resolve its source index" in result["unavailable"]
    assert dict(client.calls) == {}


def test_a_finished_run_reports_its_documents_and_the_settings_it_used():
    snapshot = settings(embedding_pipeline={"output_field": "vec", "failure_field": "oops"})
    xcoms = {
        ("validate_settings", "source_index"): "src",
        ("validate_settings", "dest_index"): "dst",
        ("validate_settings", "query"): {"match_all": {}},
        ("wait_reindex", "reindex_result"): {"total": 3, "created": 3, "updated": 0, "took": 1500},
    }
    client = FakeEs(
        **{
            "count": [{"count": n} for n in (3, 3, 3, 0, 0)],
            "indices.exists": [True],
            "indices.refresh": [{}],
        }
    )
    result = report(client, snapshot.to_json(), xcoms)
    assert result["documents"] == {
        "reindex_total": 3,
        "created": 3,
        "updated": 0,
        "source_matching": 3,
        "in_destination": 3,
        "embedded": 3,
        "missing_embeddings": 0,
        "recorded_failures": 0,
    }
    assert client.calls["count"][2] == {"index": "dst", "query": {"exists": {"field": "vec"}}}
    assert result["docs_per_second"] == 2.0
    assert RunSettings.of(result["settings"]) == snapshot
