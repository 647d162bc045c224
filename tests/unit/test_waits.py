"""The wait every sensor is (es_embedding.waits.EsWait): one poll at once, then defer with that very
trigger, or poke; every poll, in the worker too, is the trigger's own `poll` (the async client is
the only thing faked; the sync client, strict, proves the sensor makes no calls of its own)."""

from __future__ import annotations

import time

import pytest
from airflow.sdk.exceptions import TaskDeferred

from es_embedding.errors import DeploymentFailedError, ModelDownloadError, TransientClusterError
from es_embedding.model import DeploymentStateSensor, ModelDownloadSensor
from es_embedding.triggers import ModelDownloadTrigger
from tests.unit.fakes import FakeAsyncEs, FakeHook, api_error, context, settings, with_hook
from tests.unit.test_triggers import import_tasks, model, route, stats

BOUND = "2 s (Variable 'embedding_deployment': key 'wait_timeout')"


def deployment_sensor(*answers: dict, deferrable: bool = False) -> tuple[DeploymentStateSensor, FakeHook]:
    hook = FakeHook(aclient=FakeAsyncEs(**{"ml.get_trained_models_stats": list(answers)}))
    sensor = DeploymentStateSensor(
        task_id="wait_deployment",
        deployment_id="d",
        deferrable=deferrable,
        settings=settings(embedding_deployment={"wait_timeout": "2s", "poll_interval": "100ms"}),
    )
    return with_hook(sensor, hook), hook


def download_sensor(hook: FakeHook, deferrable: bool = True) -> ModelDownloadSensor:
    sensor = ModelDownloadSensor(
        task_id="wait_model_download", model_id="m", deferrable=deferrable, settings=settings()
    )
    return with_hook(sensor, hook)


def test_a_poke_past_the_deadline_fails_with_the_bound_and_each_nodes_reason():
    sensor, _ = deployment_sensor(
        stats("starting", "starting", 0, [route("n1", "starting", "native process hung")])
    )
    sensor.poller = sensor.make_trigger(0.1)
    sensor.poller.deadline, sensor.poller.bound = time.time() - 1, BOUND
    with pytest.raises(DeploymentFailedError) as raised:
        sensor.poke({})
    assert str(raised.value) == (
        f"gave up waiting after {BOUND}; last state: "
        "deployment [d] starting, 0/2 allocations (starting), waiting for fully_allocated: "
        "node n1: starting: native process hung"
    )


def test_a_poke_before_the_deadline_keeps_waiting():
    sensor, _ = deployment_sensor(stats("starting", "starting", 0, [route("n1", "starting")]))
    sensor.poller = sensor.make_trigger(0.1)
    sensor.poller.deadline = time.time() + 60
    assert sensor.poke({}).is_done is False


def test_the_worker_polls_with_the_triggers_poll_and_no_call_of_its_own():
    done = stats("started", "fully_allocated", 2, [route("n1", "started")])
    sensor, hook = deployment_sensor(done)
    event = sensor.execute(context())
    assert event["allocation_count"] == 2 and event["state"] == "started"
    assert hook.aclient.calls["ml.get_trained_models_stats"] == [{}]
    assert dict(hook.client.calls) == {}  # the sync client: never used by a wait


def test_work_found_done_at_once_is_not_waited_for():
    hook = FakeHook(
        aclient=FakeAsyncEs(**{"tasks.list": [import_tasks()], "ml.get_trained_models": [model(True)]})
    )
    assert download_sensor(hook).execute(context()) == "m"  # returned, not deferred


def test_it_defers_with_the_trigger_that_polled_first_carrying_what_it_saw():
    hook = FakeHook(
        aclient=FakeAsyncEs(**{"tasks.list": [import_tasks("n1:5")], "ml.get_trained_models": [model(False)]})
    )
    sensor = download_sensor(hook)
    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute(context())
    trigger = deferred.value.trigger
    assert isinstance(trigger, ModelDownloadTrigger) and trigger is sensor.poller
    _, kwargs = trigger.serialize()
    assert kwargs["import_task_id"] == "n1:5"  # the download the first poll saw
    assert kwargs["bound"] == "1800 s (Variable 'embedding_model': key 'timeout')"
    assert before + 1800 <= kwargs["deadline"] <= time.time() + 1800
    # Airflow's own timeout is the backstop, behind the trigger's deadline.
    assert deferred.value.timeout.total_seconds() == 1800 + 5 + 60


def test_poking_polls_until_done():
    starting = stats("starting", "starting", 0, [route("n1", "starting")])
    done = stats("started", "fully_allocated", 2, [route("n1", "started")])
    sensor, hook = deployment_sensor(starting, starting, done)
    started = time.monotonic()
    assert sensor.execute(context())["allocation_count"] == 2
    assert len(hook.aclient.calls["ml.get_trained_models_stats"]) == 3
    assert time.monotonic() - started >= 0.1  # poll_interval 100ms between pokes


def test_a_failed_event_fails_with_the_waits_error():
    hook = FakeHook(aclient=FakeAsyncEs(**{"tasks.list": [import_tasks()], "ml.get_trained_models": [{}]}))
    with pytest.raises(ModelDownloadError, match=r"^model \[m\] disappeared while downloading"):
        download_sensor(hook).execute(context())


def test_a_cluster_error_while_polling_names_the_wait_and_no_secret():
    refused = api_error(503, "unavailable_shards_exception", "s3cr3t-key is not a secret here")
    hook = FakeHook(aclient=FakeAsyncEs(**{"ml.get_trained_models_stats": [refused]}))
    sensor = with_hook(
        DeploymentStateSensor(task_id="wait_deployment", deployment_id="d", settings=settings()), hook
    )
    with pytest.raises(TransientClusterError) as raised:
        sensor.execute(context())
    assert str(raised.value) == (
        "waiting for deployment [d] failed: HTTP 503 unavailable_shards_exception: *** is not a secret here"
    )


@pytest.mark.parametrize("configured", [True, False])
def test_deferrable_defaults_to_airflows_default_deferrable(configured, monkeypatch):
    """The module as the worker imports it, under [operators] default_deferrable (an environment
    setting, read when the module defines its classes)."""
    import importlib.util

    from es_embedding import waits

    monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", str(configured).lower())
    spec = importlib.util.spec_from_file_location("waits_as_configured", waits.__file__)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    class Wait(module.EsWait):
        pass

    assert Wait(task_id="w").deferrable is configured
    assert Wait(task_id="w", deferrable=not configured).deferrable is not configured
