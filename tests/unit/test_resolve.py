"""The resolving tasks (es_embedding.resolve): what they refuse before any cluster call, what they
check on the cluster before any write, and the names and settings snapshot they push. The cluster is
a scripted fake client (its answers in Elasticsearch's shapes); the Variables are read as Airflow
reads them, from the environment."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from es_embedding.errors import LicenseError, SettingsError, TransientClusterError
from es_embedding.resolve import ResolveSourcesOperator, ResolvingStage, ValidateRunOperator, pick_sources
from es_embedding.settings import RunSettings
from tests.unit.fakes import FakeEs, FakeHook, api_error, context, not_found, with_hook

RUN_AFTER = datetime(2026, 11, 28, 13, 38, 46, tzinfo=UTC)
MAPPING = {"properties": {"content": {"type": "text"}, "published": {"type": "date"}}}
ACTIVE = {"license": {"type": "trial", "status": "active"}}


def run_context(**params) -> dict:
    dag_run = SimpleNamespace(run_after=RUN_AFTER, run_type="manual", start_date=RUN_AFTER)
    return context(params=params, dag_run=dag_run, data_interval_start=None, data_interval_end=None)


def cluster(**scripts) -> FakeEs:
    """A 9.x cluster with an ML licence and the index `articles`; no alias yet."""
    return FakeEs(
        **{
            "info": [{"version": {"number": "9.1.5"}}],
            "license.get": [ACTIVE],
            "indices.exists": [lambda index: index == "articles"],
            "indices.get_mapping": [{"articles": {"mappings": MAPPING}}],
            "count": [{"count": 120}],
            "indices.get_alias": [not_found("alias [articles-embedded] missing")],
            **scripts,
        }
    )


def validate(client: FakeEs) -> ValidateRunOperator:
    return with_hook(ValidateRunOperator(task_id="validate_settings"), FakeHook(client))


# --- validate_settings ------------------------------------------------------------------------------


def test_a_valid_run_pushes_its_names_and_the_snapshot_of_every_variable(monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_EMBEDDING_REINDEX", json.dumps({"slices": 4}))
    ctx = run_context(source_index=" articles ", query={"match": {"topic": "ml"}})

    result = validate(cluster()).execute(ctx)

    assert result["source_index"] == "articles" and result["alias"] == "articles-embedded"
    assert result["dest_index"] == "articles-elser-model-2-20261128t133846"
    assert result["mode"] == "full" and result["interval"] == [] and result["es_version"] == "9.1.5"
    assert result["settings"] == RunSettings.read().to_json()
    assert result["settings"]["embedding_reindex"]["slices"] == 4
    assert ctx["ti"].pushed == result  # every key an XCom of its own


def test_bad_params_are_all_refused_before_any_cluster_call():
    client = FakeEs()  # strict: any call fails the test
    ctx = run_context(
        source_index="Articles", alias="articles", dest_index="articles", query={"a": {}, "b": {}}
    )
    with pytest.raises(SettingsError) as refused:
        validate(client).execute(ctx)
    assert str(refused.value).splitlines() == [
        "Param 'source_index' has value 'Articles': it contains 'A' (lowercase only; no \\ / * ? \" < > | space , # :)",
        "Param 'query' has value {'a': {}, 'b': {}}: a query DSL object such as {\"match_all\": {}}",
        "Params source_index, dest_index and alias must differ (got 'Articles', 'articles', 'articles')",
    ]
    assert dict(client.calls) == {}


def test_an_invalid_variable_is_refused_before_any_cluster_call(monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_EMBEDDING_DEPLOYMENT", json.dumps({"threads_per_allocation": 3}))
    client = FakeEs()
    with pytest.raises(
        SettingsError, match=r"^Variable 'embedding_deployment': key 'threads_per_allocation'"
    ):
        validate(client).execute(run_context(source_index="articles"))
    assert dict(client.calls) == {}


def test_a_source_without_the_input_field_is_refused():
    client = cluster(**{"indices.get_mapping": [{"articles": {"mappings": {"properties": {"body": {}}}}}]})
    with pytest.raises(SettingsError) as refused:
        validate(client).execute(run_context(source_index="articles"))
    assert str(refused.value) == (
        "Variable 'embedding_pipeline': key 'input_field' has value \"content\"; allowed: a field mapped in "
        "[articles] (none of its indices maps it)"
    )


def test_an_alias_on_indices_of_someone_else_is_refused_before_any_write():
    client = cluster(
        **{
            "indices.get_alias": [{"legacy-index": {"aliases": {"articles-embedded": {}}}}],
            "indices.get_mapping": [
                {"articles": {"mappings": MAPPING}},
                {"legacy-index": {"mappings": MAPPING}},
            ],
        }
    )
    with pytest.raises(SettingsError) as refused:
        validate(client).execute(run_context(source_index="articles"))
    assert str(refused.value).startswith(
        "Param 'alias' has value 'articles-embedded': it points at legacy-index, not created by es_embedding"
    )


def test_an_incremental_run_without_its_alias_yet_falls_back_to_full():
    ctx = run_context(source_index="articles", mode="incremental")
    ctx.update(data_interval_start=datetime(2026, 3, 4, 2, tzinfo=UTC), data_interval_end=RUN_AFTER)
    result = validate(cluster()).execute(ctx)
    assert result["mode"] == "full" and result["dest_query"] == {"match_all": {}}


def test_an_unknown_model_is_refused(monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_EMBEDDING_MODEL", json.dumps({"model_id": "my-model"}))
    client = cluster(
        **{"ml.get_trained_models": [not_found("No known trained model with model_id [my-model]")]}
    )
    with pytest.raises(
        SettingsError, match=r"^Variable 'embedding_model': key 'model_id' has value \"my-model\""
    ):
        validate(client).execute(run_context(source_index="articles"))


# --- the licence, checked by both resolving tasks -----------------------------------------------------


def licence_checker(answer) -> ResolvingStage:
    licence = answer if isinstance(answer, Exception) else {"license": answer}
    return with_hook(
        ResolvingStage(task_id="validate_settings"), FakeHook(FakeEs(**{"license.get": [licence]}))
    )


@pytest.mark.parametrize("kind", ["trial", "platinum", "enterprise"])
def test_licences_with_machine_learning_pass(kind):
    licence_checker({"type": kind, "status": "active"}).check_ml_licence()


@pytest.mark.parametrize(
    ("licence", "shown"),
    [
        ({"type": "basic", "status": "active"}, "type basic, status active"),
        ({"type": "gold", "status": "active"}, "type gold, status active"),
        ({"type": "platinum", "status": "expired"}, "type platinum, status expired"),
    ],
)
def test_a_licence_without_machine_learning_or_expired_is_refused_saying_what_to_do(licence, shown):
    with pytest.raises(LicenseError) as refused:
        licence_checker(licence).check_ml_licence()
    assert str(refused.value).startswith(f"the cluster's licence: {shown}; ")
    assert "start_trial" in str(refused.value)


def test_a_key_that_may_not_read_the_licence_is_not_refused_here(capsys):
    denied = api_error(
        403, "security_exception", "action [cluster:monitor/xpack/license/get] is unauthorized"
    )
    licence_checker(denied).check_ml_licence()  # the first ML call reports a missing licence itself
    assert "Not checking the cluster's licence" in capsys.readouterr().out  # Airflow logs to stdout


def test_a_cluster_error_while_reading_the_licence_is_not_swallowed():
    with pytest.raises(TransientClusterError):
        licence_checker(api_error(503, "unavailable", "node is shutting down")).check_ml_licence()


# --- resolve_sources ----------------------------------------------------------------------------------


def entry(managed: bool = False) -> dict:
    meta = {"_meta": {"managed_by": "es_embedding"}} if managed else {}
    return {"mappings": {**MAPPING, **meta}}


def test_the_fanout_skips_hidden_and_managed_indices():
    found = {"logs-a": entry(), ".kibana": {}, "logs-a-elser-1": entry(managed=True), "logs-b": {}}
    sources, skipped = pick_sources(found, ["logs-*"])
    assert sources == ["logs-a", "logs-b"]
    assert set(skipped) == {".kibana", "logs-a-elser-1"}


def resolver(**scripts) -> tuple[ResolveSourcesOperator, FakeEs]:
    client = FakeEs(**{"info": [{"version": {"number": "9.1.5"}}], "license.get": [ACTIVE], **scripts})
    return with_hook(ResolveSourcesOperator(task_id="resolve_sources"), FakeHook(client)), client


def test_sources_resolve_to_one_chain_each_and_the_snapshot_is_pushed():
    operator, client = resolver(
        **{"indices.get": [{"logs-a": entry(), "logs-a-elser-1": entry(managed=True)}]}
    )
    ctx = run_context(source_indices=["logs-*"])
    assert operator.execute(ctx) == [
        {
            "source_index": "logs-a",
            "dest_index": "logs-a-elser-model-2-20261128t133846",
            "alias": "logs-a-embedded",
        }
    ]
    assert ctx["ti"].pushed["settings"] == RunSettings().to_json()
    assert client.calls["indices.get"] == [
        {"index": "logs-*", "expand_wildcards": "open", "allow_no_indices": True}
    ]


def test_a_named_source_that_does_not_exist_is_refused():
    operator, _ = resolver(**{"indices.get": [not_found("no such index [logs-x]")]})
    with pytest.raises(SettingsError, match=r"^Param 'source_indices': index \[logs-x\] does not exist$"):
        operator.execute(run_context(source_indices=["logs-x"]))


def test_sources_are_refused_when_a_pattern_matches_only_what_is_skipped():
    operator, _ = resolver(**{"indices.get": [{"logs-a-elser-1": entry(managed=True)}]})
    with pytest.raises(SettingsError, match=r"it matches no index to embed \(skipped: logs-a-elser-1\)"):
        operator.execute(run_context(source_indices=["logs-*"]))
