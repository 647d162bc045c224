"""Settings of the Variables: defaults, partial Variables, the exact validation messages, and the run's
snapshot of them (what later tasks receive instead of reading the Variables)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from es_embedding import settings as s
from es_embedding.errors import SettingsError

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_equal_include_variables_json():
    shipped = json.loads((ROOT / "include" / "variables.json").read_text())
    assert shipped == s.defaults_json()
    for name, model in s.VARIABLES.items():
        assert s.parse_variable(name, shipped[name]) == model()


def test_missing_variables_mean_defaults(monkeypatch):
    for name in s.VARIABLES:
        monkeypatch.delenv(f"AIRFLOW_VAR_{name.upper()}", raising=False)
    loaded = s.RunSettings.read()
    assert loaded[s.ModelSettings] == s.ModelSettings() and loaded[s.ReindexSettings] == s.ReindexSettings()
    assert loaded == s.RunSettings()


def test_partial_variable_keeps_other_defaults(monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_VAR_EMBEDDING_DEPLOYMENT", json.dumps({"threads_per_allocation": 4, "timeout": "2m"})
    )
    deployment = s.RunSettings.read()[s.DeploymentSettings]
    assert deployment.threads_per_allocation == 4
    assert deployment.timeout == 120.0
    assert deployment.deployment_id == "elser-ingest" and deployment.number_of_allocations == 1


@pytest.mark.parametrize(
    ("variable", "raw", "message"),
    [
        (
            "embedding_deployment",
            {"threads_per_allocation": 3},
            "Variable 'embedding_deployment': key 'threads_per_allocation' has value 3; "
            'allowed: a power of 2 <= 32: 1, 2, 4, 8, 16, 32, or "auto"',
        ),
        (
            "embedding_deployment",
            {"priority": "high"},
            "Variable 'embedding_deployment': key 'priority' has value \"high\"; allowed: one of 'normal' or 'low'",
        ),
        (
            "embedding_deployment",
            {"wait_for": "done"},
            "Variable 'embedding_deployment': key 'wait_for' has value \"done\"; "
            "allowed: one of 'starting', 'started' or 'fully_allocated'",
        ),
        (
            "embedding_deployment",
            {"queue_capacity": 0},
            "Variable 'embedding_deployment': key 'queue_capacity' has value 0; allowed: a number >= 1",
        ),
        (
            "embedding_deployment",
            {"adaptive_allocations": {"min_number_of_allocations": 3, "max_number_of_allocations": 2}},
            "Variable 'embedding_deployment': key 'adaptive_allocations.min_number_of_allocations' has value 3; "
            "allowed: an integer <= max_number_of_allocations (2)",
        ),
        (
            "embedding_deployment",
            {"adaptive_allocations": {"enabled": True}, "number_of_allocations": 2},
            "Variable 'embedding_deployment': key 'number_of_allocations' has value 2; allowed: null when "
            "adaptive_allocations is enabled (ES: cannot be set if adaptive allocations is enabled)",
        ),
        (
            "embedding_deployment",
            {"priority": "low", "threads_per_allocation": 2},
            "Variable 'embedding_deployment': key 'priority' has value \"low\"; allowed: 'low' only with "
            "number_of_allocations 1, threads_per_allocation 1 and no adaptive_allocations",
        ),
        (
            "embedding_reindex",
            {"batch_size": 20000},
            "Variable 'embedding_reindex': key 'batch_size' has value 20000; allowed: an integer 1..10000, "
            'or "auto" (sized from the deployment\'s allocations and queues)',
        ),
        (
            "embedding_reindex",
            {"slices": 0},
            "Variable 'embedding_reindex': key 'slices' has value 0; allowed: an integer >= 1 or \"auto\"",
        ),
        (
            "embedding_reindex",
            {"requests_per_second": 0},
            "Variable 'embedding_reindex': key 'requests_per_second' has value 0.0; "
            "allowed: -1 (unthrottled) or a number > 0",
        ),
        (
            "embedding_reindex",
            {"timeout": "5 minutes"},
            "Variable 'embedding_reindex': key 'timeout' has value \"5 minutes\"; "
            'allowed: an ES time string such as "30s", "5m", "2h", or a number of seconds',
        ),
        (
            "embedding_model",
            {"poll_interval": "0s"},
            "Variable 'embedding_model': key 'poll_interval' has value \"0s\"; "
            'allowed: a duration > 0: an ES time string such as "30s", "5m", "2h", or a number of seconds',
        ),
        (
            "embedding_pipeline",
            {"output_field": "content"},
            "Variable 'embedding_pipeline': key 'output_field' has value \"content\"; "
            "allowed: a field other than input_field and failure_field",
        ),
        (
            "embedding_model",
            {"model": "x"},
            "Variable 'embedding_model': key 'model' has value \"x\"; allowed: no such key; known keys: "
            "force_download, model_id, poll_interval, prefer_platform_specific, timeout",
        ),
        (
            "embedding_model",
            ["x"],
            "Variable 'embedding_model': must be a JSON object of keys (force_download, model_id, "
            'poll_interval, prefer_platform_specific, timeout), got ["x"]',
        ),
    ],
)
def test_invalid_values_name_variable_key_value_and_allowed(variable, raw, message):
    with pytest.raises(SettingsError) as raised:
        s.parse_variable(variable, raw)
    assert str(raised.value) == message


def test_nested_unknown_key_lists_the_nested_keys():
    with pytest.raises(SettingsError, match=r"key 'adaptive_allocations.foo' .* known keys: enabled, "):
        s.parse_variable("embedding_deployment", {"adaptive_allocations": {"foo": 1}})


def test_reading_reports_every_invalid_variable_at_once(monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_EMBEDDING_MODEL", json.dumps({"timeout": -1}))
    monkeypatch.setenv("AIRFLOW_VAR_EMBEDDING_REINDEX", json.dumps({"slices": "many"}))
    with pytest.raises(SettingsError) as raised:
        s.RunSettings.read()
    lines = str(raised.value).splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "Variable 'embedding_model'",
        "Variable 'embedding_reindex'",
    ]


def test_variable_that_is_not_json(monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_EMBEDDING_PIPELINE", "{input_field: x}")
    with pytest.raises(SettingsError, match=r"^Variable 'embedding_pipeline': not valid JSON \("):
        s.RunSettings.read()


def test_queue_capacity_limit_depends_on_cluster_major():
    settings = s.RunSettings({"embedding_deployment": s.DeploymentSettings(queue_capacity=500_000)})
    settings.check_cluster_version("8.15.0")
    with pytest.raises(SettingsError) as raised:
        settings.check_cluster_version("9.1.5")
    assert str(raised.value) == (
        "Variable 'embedding_deployment': key 'queue_capacity' has value 500000; allowed: 1..100000 on Elasticsearch 9.1.5"
    )


def test_adaptive_allocations_replace_the_fixed_count():
    deployment = s.parse_variable(
        "embedding_deployment", {"adaptive_allocations": {"max_number_of_allocations": 4}}
    )
    assert deployment.number_of_allocations is None and deployment.adaptive
    assert deployment.allocations_at_start == 1
    assert s.DeploymentSettings(number_of_allocations=3).allocations_at_start == 3


@pytest.mark.parametrize(
    ("text", "seconds", "normalised"),
    [
        ("30s", 30, "30s"),
        ("5m", 300, "5m"),
        ("2h", 7200, "2h"),
        (90, 90, "90s"),
        ("1500ms", 1.5, "1500ms"),
        ("1d", 86400, "1d"),
    ],
)
def test_durations(text, seconds, normalised):
    assert s.parse_duration(text) == seconds
    assert s.es_time(seconds) == normalised


# --- the run's snapshot --------------------------------------------------------------------------


def test_every_variable_class_registers_itself_in_definition_order():
    assert list(s.VARIABLES) == [
        "embedding_model",
        "embedding_deployment",
        "embedding_pipeline",
        "embedding_reindex",
        "embedding_inference",
    ]
    assert all(model.variable == name for name, model in s.VARIABLES.items())


def test_the_snapshot_round_trips_through_its_json_and_the_rendered_template(monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_EMBEDDING_REINDEX", json.dumps({"poll_interval": "100ms", "slices": 4}))
    monkeypatch.setenv("AIRFLOW_VAR_EMBEDDING_DEPLOYMENT", json.dumps({"wait_timeout": "0.0015s"}))
    taken = s.RunSettings.read()
    pushed = taken.to_json()  # the XCom `settings` of the resolving task
    assert pushed["embedding_reindex"]["poll_interval"] == "100ms"
    assert pushed["embedding_deployment"]["wait_timeout"] == "1500micros"
    assert s.RunSettings.of(pushed) == taken
    assert s.RunSettings.of(json.dumps(pushed)) == taken  # as `| tojson` renders it
    assert s.RunSettings.of(taken) is taken
    assert s.RunSettings.of(pushed)[s.ReindexSettings].slices == 4


def test_the_snapshot_template_pulls_the_resolving_tasks_xcom_as_json():
    assert s.snapshot_from("resolve_sources") == (
        "{{ ti.xcom_pull(task_ids='resolve_sources', key='settings') | tojson }}"
    )


def test_a_variable_the_snapshot_lacks_has_its_defaults():
    # A run whose snapshot was taken before a Variable existed used that Variable's defaults.
    pushed = s.RunSettings().to_json()
    del pushed["embedding_pipeline"]
    assert s.RunSettings.of(pushed)[s.PipelineSettings] == s.PipelineSettings()


@pytest.mark.parametrize("rendered", [None, "null", "None", "", "[]"])
def test_no_snapshot_is_a_clear_error(rendered):
    with pytest.raises(SettingsError, match=r"^no settings snapshot: .*validate_settings, resolve_sources"):
        s.RunSettings.of(rendered)


def test_a_snapshot_is_validated_like_the_variables():
    with pytest.raises(SettingsError, match=r"^settings snapshot: not a known Variable: embedding_typo$"):
        s.RunSettings.of({"embedding_typo": {}})
    with pytest.raises(SettingsError, match=r"^Variable 'embedding_reindex': key 'slices' has value 0"):
        s.RunSettings.of({"embedding_reindex": {"slices": 0}})


def test_reading_the_snapshot_never_reads_a_variable(monkeypatch):
    pushed = s.RunSettings().to_json()

    def forbidden(*args, **kwargs):
        raise AssertionError("a later task read a Variable")

    monkeypatch.setattr("airflow.sdk.Variable.get", forbidden)
    assert s.RunSettings.of(pushed) == s.RunSettings()
