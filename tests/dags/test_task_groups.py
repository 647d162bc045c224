"""The DAGs' task groups: the graph reads as a few groups, and the task ids users know (in docs,
alerts, REST calls, `airflow tasks clear`) are the same as before the groups, as the scheduler and
the UI see them: after the serialization round trip the DAG processor makes."""

from __future__ import annotations

import pytest
from airflow.serialization.serialized_objects import DagSerialization

from tests.dags.test_dag_integrity import load

# The task ids of each DAG before the task groups were added (DagSerialization of both DAGs then),
# and those the semantic_text backend added (issue 11): choose_backend and the endpoint's stages.
BACKEND = {"choose_backend", "ensure_endpoint", "wait_endpoint"}
TASK_IDS = {
    "embedding_reindex": {
        "validate_settings",
        "ensure_model",
        "wait_model_download",
        "start_deployment",
        "wait_deployment",
        "put_pipeline",
        "create_dest_index",
        "start_reindex",
        "wait_reindex",
        "complete_index",
        "verify_embeddings",
        "swap_alias",
        "announce_ready",
        "apply_retention",
        "run_report",
        "stop_deployment",
        *BACKEND,
    },
    "embedding_backfill": {
        "resolve_sources",
        "ensure_model",
        "wait_model_download",
        "start_deployment",
        "wait_deployment",
        "put_pipeline",
        "embed_index.create_dest_index",
        "embed_index.reindex",
        "embed_index.complete_index",
        "embed_index.verify_embeddings",
        "embed_index.swap_alias",
        "embed_index.announce_ready",
        "embed_index.apply_retention",
        "stop_deployment",
        *BACKEND,
    },
}
MODEL = [
    "ensure_model",
    "wait_model_download",
    "choose_backend",
    "start_deployment",
    "wait_deployment",
    "put_pipeline",
]
ENDPOINT = ["ensure_endpoint", "wait_endpoint"]
# Each group's tasks; a task outside every group is at the top of the graph.
GROUPS = {
    "embedding_reindex": {
        None: ["validate_settings"],
        "model": MODEL,
        "endpoint": ENDPOINT,
        "index": ["create_dest_index", "start_reindex", "wait_reindex", "complete_index"],
        "publish": ["verify_embeddings", "swap_alias", "announce_ready", "apply_retention"],
        "report": ["run_report", "stop_deployment"],
    },
    "embedding_backfill": {
        None: ["resolve_sources", "stop_deployment"],
        "model": MODEL,
        "endpoint": ENDPOINT,
        "embed_index": sorted(t for t in TASK_IDS["embedding_backfill"] if t.startswith("embed_index.")),
    },
}


@pytest.fixture(scope="module")
def serialized():
    with pytest.MonkeyPatch.context() as monkeypatch:
        bag, _ = load(monkeypatch)
    assert bag.import_errors == {}
    return {
        dag_id: DagSerialization.from_dict(DagSerialization.to_dict(dag)) for dag_id, dag in bag.dags.items()
    }


@pytest.mark.parametrize("dag_id", sorted(TASK_IDS))
def test_the_task_ids_are_those_users_know(serialized, dag_id):
    assert set(serialized[dag_id].task_ids) == TASK_IDS[dag_id]


@pytest.mark.parametrize("dag_id", sorted(GROUPS))
def test_the_tasks_sit_in_their_groups(serialized, dag_id):
    dag = serialized[dag_id]
    found: dict[str | None, list[str]] = {}
    for task in dag.tasks:
        found.setdefault(task.task_group.group_id, []).append(task.task_id)
    assert {group: sorted(ids) for group, ids in found.items()} == {
        group: sorted(ids) for group, ids in GROUPS[dag_id].items()
    }


def test_the_run_graph_of_embedding_reindex_is_one_task_and_four_groups_in_a_chain(serialized):
    dag = serialized["embedding_reindex"]
    top = dag.task_group.children
    assert sorted(top) == ["endpoint", "index", "model", "publish", "report", "validate_settings"]
    assert all(not group.prefix_group_id for name, group in top.items() if name != "validate_settings")
    # Each group follows the one before it (so the collapsed graph reads left to right).
    # The endpoint group is the model group's alternative (choose_backend): both lead to the index.
    order = ["validate_settings", "model", "endpoint", "index", "publish", "report"]
    ids = {name: set(getattr(node, "children", {node.node_id: node})) for name, node in top.items()}
    for before, after in zip(order, order[1:], strict=False):
        upstream = set().union(*(dag.get_task(t).upstream_task_ids for t in ids[after]))
        assert upstream & ids[before], f"{after} does not follow {before}"
