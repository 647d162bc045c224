"""Every Param of every DAG is a form field people can fill without reading the code: a type, a
title, a description, enums where the choice is closed, and a default that validates."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

ROOT = Path(__file__).resolve().parents[2]
CLOSED = {("embedding_reindex", "mode"): ["auto", "full", "incremental"]}


@pytest.fixture(scope="module")
def dags():
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.dags


# Without EMBEDDING_REINDEX_SOURCE_INDEX (the tests' environment) the source has no default.
REQUIRED = {("embedding_reindex", "source_index")}


def test_every_param_is_typed_titled_described_and_its_default_valid(dags):
    assert {"embedding_reindex", "embedding_backfill"} <= set(dags)
    for dag_id, dag in dags.items():
        for name, param in dag.params.items():
            where = f"{dag_id}.{name}"
            assert param.schema.get("type"), where
            assert param.schema.get("title"), where
            assert len(param.description or "") > 20, where
            if (dag_id, name) in REQUIRED:  # no default: the form and the REST API require a value
                assert not param.has_value, where
            else:
                param.resolve()  # the default validates against the schema
            if (dag_id, name) in CLOSED:
                assert param.schema["enum"] == CLOSED[(dag_id, name)], where
                assert set(param.schema["values_display"]) == set(CLOSED[(dag_id, name)]), where


def test_mode_defaults_to_auto_and_the_backfill_takes_a_list_of_patterns(dags):
    assert dags["embedding_reindex"].params["mode"] == "auto"
    schema = dags["embedding_backfill"].params.get_param("source_indices").schema
    assert schema["type"] == "array" and schema["minItems"] == 1 and schema["items"]["type"] == "string"


def test_the_fanout_is_capped_by_a_provisioned_pool_that_counts_deferred_tasks(dags):
    import json

    reindex = dags["embedding_backfill"].get_task("embed_index.reindex")
    pools = json.loads((ROOT / "include" / "pools.json").read_text())
    assert reindex.pool in pools and pools[reindex.pool]["include_deferred"] is True
    assert reindex.max_active_tis_per_dagrun >= 1
