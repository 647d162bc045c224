"""The trigger form's schema is enforced by the REST API before a run exists (real standalone)."""

from __future__ import annotations

import pytest

# The first scheduler test also pays the shared standalone start (20-60 s, more on a loaded machine).
pytestmark = [pytest.mark.standalone, pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.mark.parametrize(
    ("dag_id", "conf", "param"),
    [
        ("embedding_reindex", {"mode": "sometimes"}, "mode"),
        ("embedding_reindex", {"source_index": ""}, "source_index"),
        ("embedding_reindex", {"query": "match_all"}, "query"),
        ("embedding_backfill", {"source_indices": []}, "source_indices"),
        ("embedding_backfill", {"source_indices": "fan-*"}, "source_indices"),
    ],
)
def test_invalid_conf_is_refused_with_400_and_no_run_is_created(scheduler, dag_id, conf, param):
    scheduler.wait_for_dag(dag_id)

    def runs() -> int:
        return scheduler.api.get(f"/dags/{dag_id}/dagRuns").json()["total_entries"]

    before = runs()
    resp = scheduler.api.post(f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})

    assert resp.status_code == 400, resp.text
    assert param in resp.text
    assert runs() == before
