"""Run by tests/packaging/test_installed_package.py with the interpreter of a virtual environment
that has the package es-embedding-airflow installed from its wheel and no plugins folder: parses
this repository's dags/ and runs embedding_reindex twice with dag.test() against the sandbox (a full
run, then an incremental one on the default Variables' timestamp field). Prints one JSON line.

Usage: python run_installed_dag.py DAGS_FOLDER SOURCE_INDEX ALIAS
(the Airflow home, metadata DB, connection and Variables come from the environment)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

# A manual run on 2026-03-05 at noon covers the nightly interval [03-04 02:00, 03-05 02:00).
LOGICAL_DATE = datetime(2026, 3, 5, 12, tzinfo=UTC)


def run(dags_folder: str, source: str, alias: str, **conf) -> dict:
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    bag = DagBag(dag_folder=dags_folder)  # parsed afresh: dag.test() keeps a run's conf in its Params
    if bag.import_errors:
        return {"import_errors": {path: str(error) for path, error in bag.import_errors.items()}}
    dr = bag.get_dag("embedding_reindex").test(
        logical_date=LOGICAL_DATE, run_conf={"source_index": source, "alias": alias, **conf}
    )
    with create_session() as session:
        states = {ti.task_id: str(ti.state) for ti in dr.get_task_instances(session=session)}
        row = session.scalars(
            select(XComModel).where(
                XComModel.run_id == dr.run_id,
                XComModel.task_id == "validate_settings",
                XComModel.key == "mode",
            )
        ).one_or_none()
        mode = XComModel.deserialize_value(row) if row else None
    return {"state": str(dr.state), "tasks": states, "mode": mode}


def main() -> None:
    dags_folder, source, alias = sys.argv[1:4]
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)

    from airflow.configuration import conf

    import es_embedding

    full = run(dags_folder, source, alias)
    incremental = run(dags_folder, source, alias, mode="incremental")
    print(
        json.dumps(
            {
                "es_embedding": es_embedding.__file__,
                "plugins_folder": conf.get("core", "plugins_folder"),
                "sys_path": sys.path,
                "full": full,
                "incremental": incremental,
            }
        )
    )


if __name__ == "__main__":
    main()
