"""Fault-matrix rows that need the real scheduler and triggerer (docs/RELIABILITY.md): one real
`airflow standalone` for the module, against a sandbox that requires an API key.

- Row 8: a person marks the deferred `wait_reindex` failed through the REST API (what the UI's
  "Mark as failed" calls); the triggerer cancels the trigger "by user action" and the trigger's
  on_kill cancels the Elasticsearch reindex task.
- Row 10: after runs with the right key, nothing the deployment keeps holds the key: every file of
  the Airflow home (each task and trigger log, the components' output) and every row of every table
  of the PostgreSQL metadata DB (XCom, rendered template fields, triggers, ...) are searched for it,
  and the trigger table is read while the triggers are live.
"""

from __future__ import annotations

import base64
import json

import pytest
import sqlalchemy
from elasticsearch import Elasticsearch

from tests.e2e.harness import load_corpus
from tests.e2e.standalone import running_standalone, wait_for
from tests.sandbox.ml_support import arm_faults

pytestmark = [pytest.mark.standalone, pytest.mark.slow]

DAG_ID = "embedding_reindex"
SECRET = "row10-secret-7c1e"
API_KEY = base64.b64encode(f"row10-key-id:{SECRET}".encode()).decode()  # the encoded form ES hands out
SMALL, LARGE = "articles-small", "articles"
INFERENCE_MS = 300  # one allocation x one thread: 120 documents take about 36 s, 20 about 6 s


@pytest.fixture(scope="module")
def airflow(tmp_path_factory, postgres):
    from es_sandbox import SandboxConfig, SandboxProcess

    sandbox = SandboxProcess(
        SandboxConfig(port=0, download_seconds=2.0, inference_ms=INFERENCE_MS, api_key=API_KEY)
    )
    fast = {"poll_interval": "1s"}
    variables = {
        "AIRFLOW_VAR_EMBEDDING_MODEL": json.dumps(fast),
        "AIRFLOW_VAR_EMBEDDING_DEPLOYMENT": json.dumps(fast),
        "AIRFLOW_VAR_EMBEDDING_REINDEX": json.dumps({**fast, "batch_size": 10, "slices": 1}),
    }
    connection = {"conn_type": "elasticsearch", "host": sandbox.url, "extra": {"api_key": API_KEY}}
    try:
        with running_standalone(
            tmp_path_factory.mktemp("faults") / "airflow",
            connection,
            postgres.new_database(),
            **variables,
        ) as standalone:
            standalone.sandbox = sandbox
            standalone.es = Elasticsearch(sandbox.url, api_key=API_KEY, request_timeout=30)
            load_corpus(standalone.es, index=SMALL, limit=20)
            load_corpus(standalone.es, index=LARGE)
            standalone.wait_for_dag(DAG_ID)
            standalone.trigger_rows = []  # trigger table rows seen while triggers were live
            # The metadata DB, read as Airflow stored it (one engine for the module's reads).
            standalone.metadata = sqlalchemy.create_engine(standalone.metadata_db)
            try:
                yield standalone
            finally:
                standalone.metadata.dispose()
    finally:
        sandbox.stop()


def ti_state(airflow, run_id: str, task_id: str) -> str | None:
    return airflow.api.get(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}").json().get("state")


def rows(db, table: str) -> list[tuple]:
    """A table's rows, binary columns (PostgreSQL's bytea) decoded so that a search sees their text."""
    return [
        tuple(bytes(v).decode("utf-8", "replace") if isinstance(v, bytes | memoryview) else v for v in row)
        for row in db.execute(sqlalchemy.text(f'SELECT * FROM "{table}"'))
    ]


def wait_deferred(airflow, run_id: str, task_id: str, timeout: float = 120) -> None:
    """Until `task_id` is deferred; records the live trigger rows on the way."""

    def deferred():
        with airflow.metadata.connect() as db:
            airflow.trigger_rows.extend(rows(db, "trigger"))
        return ti_state(airflow, run_id, task_id) == "deferred"

    wait_for(deferred, timeout, f"{task_id} to defer", interval=0.5)


# --- row 10 (part 1): a successful run with the right key ----------------------------------------


def test_run_with_the_api_key_succeeds(airflow):
    # The download hangs until its trigger has been seen live (on a loaded machine it could end
    # before the sensor starts, and the sensor would then not defer at all).
    arm_faults(airflow.es, model_download={"mode": "stall"})
    run_id = airflow.trigger(DAG_ID, source_index=SMALL, alias=f"{SMALL}-embedded")
    wait_deferred(airflow, run_id, "wait_model_download")
    arm_faults(airflow.es, model_download=None)
    state = airflow.wait_for_run(DAG_ID, run_id)
    tis = {t["task_id"]: t["state"] for t in airflow.task_instances(DAG_ID, run_id)}
    assert state == "success", tis
    assert airflow.es.count(index=f"{SMALL}-embedded")["count"] == 20


# --- row 8: a person marks the waiting task failed ------------------------------------------------


def test_row8_marking_the_waiting_task_failed_cancels_the_reindex_task(airflow):
    es = airflow.es
    run_id = airflow.trigger(DAG_ID, source_index=LARGE, alias=f"{LARGE}-embedded")
    wait_deferred(airflow, run_id, "wait_reindex")
    [task_id] = [
        f"{node}:{task['id']}"
        for node, info in es.tasks.list(actions="*reindex", detailed=True)["nodes"].items()
        for task in info["tasks"].values()
    ]
    assert es.tasks.get(task_id=task_id)["completed"] is False

    # A person marks a task failed that is waiting: its trigger runs in the triggerer (it has
    # written its first progress line). Marked failed before the triggerer took the trigger up, the
    # trigger never runs, so nothing would cancel the ES task (docs/RELIABILITY.md, row 8).
    log_dir = airflow.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}" / "task_id=wait_reindex"
    wait_for(
        lambda: any(p.stat().st_size for p in log_dir.glob("*.log.trigger.*")),
        60,
        "the wait_reindex trigger to run in the triggerer",
        interval=0.5,
    )
    # What the UI's "Mark as failed" sends.
    resp = airflow.api.patch(
        f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/wait_reindex", json={"new_state": "failed"}
    )
    assert resp.status_code == 200, resp.text

    def finished():
        answer = es.tasks.get(task_id=task_id)
        return answer if answer["completed"] else None

    answer = wait_for(finished, 30, f"reindex task {task_id} to end", interval=0.5)
    status = answer["response"] if "response" in answer else answer["task"]["status"]
    assert status.get("canceled") == "by user request", answer
    assert status["created"] < 120, "cancelled before it copied everything"
    assert airflow.wait_for_run(DAG_ID, run_id) == "failed"
    # The alias never moved to the half-done index.
    assert not es.indices.exists_alias(name=f"{LARGE}-embedded")
    # The triggerer says why: the cancel came from the user's action, and on_kill ran.
    trigger_logs = "".join(
        p.read_text(errors="replace") for p in (airflow.home / "logs").rglob("*.log.trigger.*")
    )
    assert "cancelled reindex task" in trigger_logs


# --- row 10 (part 2): no secret anywhere Airflow keeps things ----------------------------------------


def test_row10_no_secret_in_logs_xcom_rendered_fields_or_the_trigger_table(airflow):
    home = airflow.home
    # The searches can find what is there: the live trigger rows name their ES task and connection,
    # the DB holds XCom and rendered fields of the runs, the logs the tasks' output.
    assert airflow.trigger_rows, "no trigger row was seen while triggers were live"
    assert any("elasticsearch_default" in repr(row) for row in airflow.trigger_rows)
    with airflow.metadata.connect() as db:
        tables = {table: rows(db, table) for table in sqlalchemy.inspect(db).get_table_names()}
    assert any(DAG_ID in repr(row) for row in tables["xcom"])
    assert tables["rendered_task_instance_fields"]
    logs = [p for p in (home / "logs").rglob("*") if p.is_file()]
    assert any(p.name.endswith(".log") for p in logs)

    needles = {API_KEY.encode(), SECRET.encode()}
    files = [p for p in home.rglob("*") if p.is_file()]
    leaks = [str(p) for p in files for needle in needles if needle in p.read_bytes()]
    assert leaks == []
    assert [row for row in airflow.trigger_rows if any(n.decode() in repr(row) for n in needles)] == []
    # Every column of every row of every table of the metadata DB.
    for table, found in tables.items():
        assert [row for row in found if API_KEY in repr(row) or SECRET in repr(row)] == [], table


def test_the_sandbox_really_requires_the_key(airflow):
    """Control: the runs above authenticated with the key (a request without it is refused)."""
    from elasticsearch import AuthenticationException

    with pytest.raises(AuthenticationException):
        Elasticsearch(airflow.sandbox.url).info()
