"""Triggers: serialize() round trips, and run() driven against a fake ES client with a patched
asyncio.sleep (only the Elasticsearch client is faked)."""

from __future__ import annotations

import asyncio
from unittest import mock

import elastic_transport
import pytest

from es_embedding import checks, triggers
from es_embedding.hooks import ClientSpec
from es_embedding.triggers import DeploymentStateTrigger, ModelDownloadTrigger, ReindexTaskTrigger
from tests.unit.fakes import FakeAsyncEs, api_error, not_found

TRIGGERS = [
    (
        ReindexTaskTrigger,
        {"es_task_id": "node-1:42", "conn_id": "es", "poll_interval": 2.0, "deadline": None, "bound": ""},
    ),
    (
        DeploymentStateTrigger,
        {
            "deployment_id": "d",
            "wanted_state": "started",
            "conn_id": "es",
            "poll_interval": 1.0,
            "deadline": 1_900_000_000.0,
            "bound": "1200 s (Variable 'embedding_deployment': key 'wait_timeout')",
        },
    ),
    (
        ModelDownloadTrigger,
        {
            "model_id": ".elser_model_2",
            "import_task_id": "n:3",
            "conn_id": "es",
            "poll_interval": 3.0,
            "deadline": None,
            "bound": "",
        },
    ),
]


@pytest.mark.parametrize(("cls", "kwargs"), TRIGGERS)
def test_serialize_round_trip(cls, kwargs):
    classpath, serialized = cls(**kwargs).serialize()
    assert classpath == f"es_embedding.triggers.{cls.__name__}"
    assert serialized == kwargs
    assert cls(**serialized).serialize() == (classpath, serialized)


@pytest.mark.parametrize(("cls", "kwargs"), TRIGGERS)
def test_no_attribute_named_task_id_is_serialized(cls, kwargs):
    assert "task_id" not in cls(**kwargs).serialize()[1]


def run_trigger(trigger, fake: FakeAsyncEs) -> tuple[list[dict], mock.AsyncMock]:
    async def client(conn_id):
        assert conn_id == trigger.conn_id
        return fake, ClientSpec(hosts=("http://es:9200",), api_key="TOPSECRET")

    sleep = mock.AsyncMock()
    with (
        mock.patch.object(triggers.ElasticsearchEmbeddingHook, "async_client", side_effect=client),
        mock.patch.object(triggers.asyncio, "sleep", sleep),
    ):

        async def collect():
            return [event.payload async for event in trigger.run()]

        events = asyncio.run(collect())
    assert fake.closed
    return events, sleep


def running(created, total, seconds):
    return {
        "completed": False,
        "task": {"status": {"created": created, "total": total}, "running_time_in_nanos": seconds * 10**9},
    }


def test_reindex_trigger_logs_progress_then_reports_the_result(capsys):
    done = {
        "completed": True,
        "task": {},
        "response": {
            "total": 100,
            "created": 99,
            "updated": 0,
            "batches": 1,
            "failures": [
                {
                    "index": "dst",
                    "id": "7",
                    "status": 429,
                    "cause": {"type": "status_exception", "reason": "queue full"},
                }
            ],
        },
    }
    fake = FakeAsyncEs(**{"tasks.get": [running(0, 100, 1), running(50, 100, 10), done]})
    events, sleep = run_trigger(ReindexTaskTrigger(es_task_id="n:1", conn_id="es", poll_interval=7), fake)
    assert [call.args for call in sleep.await_args_list] == [(7.0,), (7.0,)]
    assert fake.calls["tasks.get"] == [{"task_id": "n:1"}] * 3
    assert "reindex n:1: 50/100 documents (50.0%), 5.0 docs/s, ETA 0m10s" in capsys.readouterr().out
    (event,) = events
    assert event["status"] == "success" and event["es_task_id"] == "n:1"
    assert event["result"]["created"] == 99
    assert event["result"]["failures"] == {
        "count": 1,
        "by_kind": {"status_exception (status 429)": 1},
        "samples": [{"index": "dst", "id": "7", "reason": "queue full"}],
    }


def test_reindex_trigger_reports_a_task_error():
    error = {
        "completed": True,
        "task": {},
        "error": {"type": "search_phase_execution_exception", "reason": "all shards failed"},
    }
    events, _ = run_trigger(
        ReindexTaskTrigger(es_task_id="n:1", conn_id="es"), FakeAsyncEs(**{"tasks.get": [error]})
    )
    assert events == [
        {
            "status": "error",
            "message": "reindex n:1 ended with search_phase_execution_exception: all shards failed",
            "es_task_id": "n:1",
        }
    ]


def test_reindex_trigger_rides_out_transient_errors():
    flaky = [
        elastic_transport.ConnectionError("refused"),
        api_error(503, "unavailable", "busy"),
        running(1, 2, 1),
    ]
    done = {"completed": True, "task": {}, "response": {"total": 2, "created": 2, "failures": []}}
    events, sleep = run_trigger(
        ReindexTaskTrigger(es_task_id="n:1", conn_id="es"), FakeAsyncEs(**{"tasks.get": [*flaky, done]})
    )
    assert events[0]["status"] == "success" and sleep.await_count == 3


def test_reindex_trigger_gives_up_after_too_many_transient_errors():
    error = api_error(503, "unavailable_shards_exception", "primary shard is not active")
    events, sleep = run_trigger(
        ReindexTaskTrigger(es_task_id="n:1", conn_id="es"), FakeAsyncEs(**{"tasks.get": [error]})
    )
    assert sleep.await_count == triggers.MAX_TRANSIENT_ERRORS
    assert events == [
        {
            "status": "error",
            "message": "polling reindex task n:1 failed: HTTP 503 unavailable_shards_exception: primary shard is not active",
        }
    ]


def test_reindex_trigger_ends_at_once_with_lost_on_an_unknown_task():
    """A 404 for the task (a node restart dropped it) ends the wait as `lost`, not as an error: the
    resume step takes up what it did not do (docs/RELIABILITY.md row 3)."""
    error = not_found("task [n:1] isn't running and hasn't stored its results")
    events, sleep = run_trigger(
        ReindexTaskTrigger(es_task_id="n:1", conn_id="es"), FakeAsyncEs(**{"tasks.get": [error]})
    )
    assert sleep.await_count == 0
    assert events[0]["status"] == "lost" and events[0]["es_task_id"] == "n:1"
    assert events[0]["message"].startswith("ES task n:1 is lost (resource_not_found_exception): the node")


def test_reindex_trigger_on_kill_cancels_the_es_task():
    fake = FakeAsyncEs()

    async def client(conn_id):
        return fake, ClientSpec(hosts=("http://es:9200",))

    with mock.patch.object(triggers.ElasticsearchEmbeddingHook, "async_client", side_effect=client):
        asyncio.run(ReindexTaskTrigger(es_task_id="n:9", conn_id="es").on_kill())
    assert fake.calls["tasks.cancel"] == [{"task_id": "n:9"}] and fake.closed


def stats(state, allocation_state, count, nodes=(), reason=None):
    deployment = {
        "deployment_id": "d",
        "model_id": "m",
        "state": state,
        "allocation_status": {
            "allocation_count": count,
            "target_allocation_count": 2,
            "state": allocation_state,
        },
        "threads_per_allocation": 1,
        "queue_capacity": 10000,
        "nodes": list(nodes),
        **({"reason": reason} if reason else {}),
    }
    return {"trained_model_stats": [{"model_id": "other"}, {"model_id": "m", "deployment_stats": deployment}]}


def route(node, state, reason=None):
    return {
        "node": {node: {"name": node}},
        "routing_state": {"routing_state": state, **({"reason": reason} if reason else {})},
    }


def test_deployment_trigger_waits_for_fully_allocated_and_logs_node_reasons(capsys):
    starved = route(
        "n1", "starting", "Could not assign (more) allocations on node [n1]. Reason: insufficient processors"
    )
    answers = [
        stats("starting", "starting", 0, [starved]),
        stats("started", "started", 1, [route("n1", "started")]),
        stats("started", "fully_allocated", 2, [route("n1", "started")]),
    ]
    events, sleep = run_trigger(
        DeploymentStateTrigger(deployment_id="d", conn_id="es"),
        FakeAsyncEs(**{"ml.get_trained_models_stats": answers}),
    )
    assert sleep.await_count == 2
    assert "node n1: starting: Could not assign (more) allocations on node [n1]" in capsys.readouterr().out
    assert events == [
        {
            "status": "success",
            "deployment_id": "d",
            "state": "started",
            "allocation_count": 2,
            "target_allocation_count": 2,
            "threads_per_allocation": 1,
            "queue_capacity": 10000,
        }
    ]


def test_deployment_trigger_started_is_enough_when_asked():
    answers = [stats("started", "started", 1, [route("n1", "started")])]
    events, _ = run_trigger(
        DeploymentStateTrigger(deployment_id="d", wanted_state="started", conn_id="es"),
        FakeAsyncEs(**{"ml.get_trained_models_stats": answers}),
    )
    assert events[0]["status"] == "success"


def test_deployment_trigger_fails_on_failed_with_reasons():
    failed = stats(
        "failed", "starting", 0, [route("n1", "failed", "native process crashed")], reason="load failed"
    )
    events, _ = run_trigger(
        DeploymentStateTrigger(deployment_id="d", conn_id="es"),
        FakeAsyncEs(**{"ml.get_trained_models_stats": [failed]}),
    )
    assert events == [
        {
            "status": "error",
            "message": "deployment [d] failed: deployment: load failed; node n1: failed: native process crashed",
        }
    ]


def test_a_wait_past_its_deadline_ends_with_the_bound_and_the_last_state():
    starving = stats("starting", "starting", 0, [route("n1", "starting", "not enough processors")])
    bound = "2 s (Variable 'embedding_deployment': key 'wait_timeout')"
    with mock.patch.object(triggers.time, "time", side_effect=[100.0, 103.0]):
        events, sleep = run_trigger(
            DeploymentStateTrigger(deployment_id="d", conn_id="es", deadline=102.0, bound=bound),
            FakeAsyncEs(**{"ml.get_trained_models_stats": [starving, starving]}),
        )
    assert sleep.await_count == 1
    assert events == [
        {
            "status": "error",
            "message": f"gave up waiting after {bound}; last state: deployment [d] starting, 0/2 allocations "
            "(starting), waiting for fully_allocated: node n1: starting: not enough processors",
        }
    ]


def test_a_download_still_running_at_the_deadline_is_cancelled_so_the_next_run_starts_afresh():
    fake = FakeAsyncEs(**{"tasks.list": [import_tasks("n1:5")], "ml.get_trained_models": [model(False)]})
    with mock.patch.object(triggers.time, "time", side_effect=[100.0, 103.0]):
        events, _ = run_trigger(
            ModelDownloadTrigger(model_id="m", conn_id="es", deadline=102.0, bound="2 s (timeout)"), fake
        )
    assert fake.calls["tasks.cancel"] == [{"task_id": "n1:5"}]
    assert events == [
        {
            "status": "error",
            "message": "gave up waiting after 2 s (timeout); last state: model [m] downloading (task n1:5); "
            "cancelled download task n1:5: the next run deletes the incomplete model and downloads it again",
        }
    ]


def test_deployment_trigger_fails_when_the_deployment_vanishes():
    events, _ = run_trigger(
        DeploymentStateTrigger(deployment_id="d", conn_id="es"),
        FakeAsyncEs(**{"ml.get_trained_models_stats": [{"trained_model_stats": []}]}),
    )
    assert events[0]["message"] == "deployment [d] does not exist (stopped while we waited?)"


def model(fully_defined):
    return {"trained_model_configs": [{"model_id": "m", "fully_defined": fully_defined}]}


def import_tasks(*task_ids):
    tasks = {t: {"action": "xpack/ml/model_import[n]", "description": "model_id-m"} for t in task_ids}
    return {"nodes": {"n1": {"tasks": tasks}}}


def test_download_trigger_waits_for_fully_defined():
    fake = FakeAsyncEs(
        **{
            "tasks.list": [import_tasks("n1:5"), import_tasks()],
            "ml.get_trained_models": [model(False), model(True)],
        }
    )
    events, sleep = run_trigger(ModelDownloadTrigger(model_id="m", conn_id="es"), fake)
    assert events == [{"status": "success", "model_id": "m"}] and sleep.await_count == 1
    assert fake.calls["ml.get_trained_models"][0] == {"model_id": "m", "include": "definition_status"}


def test_download_trigger_reports_a_failed_download_with_the_cluster_reason():
    stored = {
        "completed": True,
        "error": {"type": "exception", "reason": "connection reset while fetching part [3]"},
    }
    fake = FakeAsyncEs(
        **{
            "tasks.list": [import_tasks("n1:5"), import_tasks()],
            "ml.get_trained_models": [model(False)],
            "tasks.get": [stored],
        }
    )
    events, _ = run_trigger(ModelDownloadTrigger(model_id="m", conn_id="es"), fake)
    assert events == [
        {
            "status": "error",
            "message": "the download of model [m] (task n1:5) ended but model [m] is not fully defined; run "
            "again: ensure_model deletes the incomplete model and downloads it again. Cluster reason: "
            "exception: connection reset while fetching part [3]",
        }
    ]


def test_download_trigger_falls_back_to_ml_notifications_for_the_reason():
    note = {"hits": {"hits": [{"_source": {"message": "Model importing failed due to [connection reset]"}}]}}
    fake = FakeAsyncEs(
        **{
            "tasks.list": [import_tasks("n1:5"), import_tasks()],
            "ml.get_trained_models": [model(False)],
            "tasks.get": [not_found("task [n1:5] isn't running and hasn't stored its results")],
            "search": [note],
        }
    )
    events, _ = run_trigger(ModelDownloadTrigger(model_id="m", conn_id="es"), fake)
    assert events[0]["message"].endswith(
        ". Cluster reason (ML notifications): Model importing failed due to [connection reset]"
    )
    assert fake.calls["search"][0]["index"] == ".ml-notifications-*"


def test_download_trigger_gives_a_half_downloaded_model_without_task_a_few_polls():
    fake = FakeAsyncEs(**{"tasks.list": [import_tasks()], "ml.get_trained_models": [model(False)]})
    events, sleep = run_trigger(ModelDownloadTrigger(model_id="m", conn_id="es"), fake)
    assert sleep.await_count == checks.NO_TASK_PATIENCE - 1
    assert events[0]["message"].startswith("no download is running but model [m] is not fully defined")


def test_download_trigger_continues_from_the_task_the_sensor_saw():
    stored = {"completed": True, "error": {"type": "exception", "reason": "reset"}}
    fake = FakeAsyncEs(
        **{"tasks.list": [import_tasks()], "ml.get_trained_models": [model(False)], "tasks.get": [stored]}
    )
    events, sleep = run_trigger(ModelDownloadTrigger(model_id="m", import_task_id="n1:5", conn_id="es"), fake)
    assert sleep.await_count == 0 and "(task n1:5) ended" in events[0]["message"]
    assert fake.calls["tasks.get"] == [{"task_id": "n1:5"}]


def test_download_trigger_fails_when_the_model_disappears():
    fake = FakeAsyncEs(
        **{
            "tasks.list": [import_tasks()],
            "ml.get_trained_models": [not_found("Could not find trained model [m]")],
        }
    )
    events, _ = run_trigger(ModelDownloadTrigger(model_id="m", conn_id="es"), fake)
    assert events[0]["status"] == "error" and "Could not find trained model [m]" in events[0]["message"]


def test_trigger_errors_never_carry_secrets():
    error = api_error(401, "security_exception", "unable to authenticate with provided credentials TOPSECRET")
    events, _ = run_trigger(
        ReindexTaskTrigger(es_task_id="n:1", conn_id="es"), FakeAsyncEs(**{"tasks.get": [error]})
    )
    assert "TOPSECRET" not in repr(events) and "***" in events[0]["message"]
