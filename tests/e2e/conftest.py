"""End-to-end harness: the real DAG, run with dag.test() on a real (SQLite) metadata DB, or by a real
`airflow standalone` on PostgreSQL, against a real es_sandbox over HTTP. Nothing is mocked."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from unittest import mock

import pytest

from tests.e2e.harness import ROOT, SOURCE_INDEX, RunResult, missing_prerequisite, pristine_params


@pytest.fixture(scope="session")
def embedding_dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    # Parsed as a nightly deployment configures it (schedule on, source default): incremental
    # runs take their data interval from the schedule. Each test still names its source.
    with mock.patch.dict(os.environ, {"EMBEDDING_REINDEX_SOURCE_INDEX": SOURCE_INDEX}):
        bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    dag = bag.get_dag("embedding_reindex")
    pristine_params(dag)  # dag.test() would carry one run's conf into the next run's Params
    return dag


@pytest.fixture
def run_dag(embedding_dag) -> Callable[..., RunResult]:
    """Run embedding_reindex once with `conf` (on the declared Param defaults: see pristine_params)."""
    from airflow.utils.session import create_session

    def run(**conf) -> RunResult:
        dr = embedding_dag.test(run_conf=conf)
        with create_session() as session:
            tis = dr.get_task_instances(session=session)
            states = {ti.task_id: str(ti.state) for ti in tis}
        return RunResult(state=str(dr.state), task_states=states, run_id=dr.run_id)

    return run


@pytest.fixture(scope="session")
def postgres():
    """A private PostgreSQL server for this session's (this xdist worker's) standalone Airflows;
    each takes a new database of it (`postgres.new_database()`)."""
    from tests.postgres import PostgresServer, PostgresUnavailable

    try:
        server = PostgresServer().start()
    except PostgresUnavailable as missing:
        missing_prerequisite(str(missing))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def scheduler(tmp_path_factory, postgres):
    """One real `airflow standalone` for the session's scheduler tests (backfills, fan-out, the
    trigger form over REST), against its own sandbox: fast model download, inference slow enough
    (40 ms a document) that reindexes overlap when nothing caps them. Daily schedule at 08:00, the
    hour of the sample corpus's `published` dates, so documents sit exactly on interval bounds.
    The pool is provisioned as the README says: `airflow pools import include/pools.json`."""
    from es_sandbox import SandboxConfig, SandboxProcess
    from tests.e2e.standalone import running_standalone

    sandbox = SandboxProcess(SandboxConfig(port=0, download_seconds=0.5, inference_ms=40.0))
    fast = {"poll_interval": "1s"}
    variables = {
        f"AIRFLOW_VAR_{name.upper()}": json.dumps(fast)
        for name in ("embedding_model", "embedding_deployment", "embedding_reindex")
    }
    try:
        with running_standalone(
            tmp_path_factory.mktemp("scheduler") / "airflow",
            sandbox.url,
            postgres.new_database(),
            EMBEDDING_REINDEX_SCHEDULE="0 8 * * *",
            # A schedule needs a source. The nightly run the scheduler makes at once (catchup off)
            # finds no such index and fails at validate_settings, writing nothing; the tests run
            # with their own conf.
            EMBEDDING_REINDEX_SOURCE_INDEX="absent-nightly-source",
            **variables,
        ) as airflow:
            airflow.cli("pools", "import", str(ROOT / "include" / "pools.json"))
            airflow.sandbox = sandbox
            yield airflow
    finally:
        sandbox.stop()
