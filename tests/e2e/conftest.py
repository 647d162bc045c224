"""End-to-end harness: the real DAG, run with dag.test() on a real (SQLite) metadata DB, against a
real es_sandbox over HTTP. Nothing is mocked."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.e2e.harness import ROOT, RunResult, pristine_params


@pytest.fixture(scope="session")
def embedding_dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

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
