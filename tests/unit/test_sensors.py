"""The poking (deferrable=False) side of the waits: the same deadline as the triggers, with the last
state in the error. Only the Elasticsearch client is faked (a sync stand-in for the hook's client)."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from es_embedding.errors import DeploymentFailedError
from es_embedding.sensors import DeploymentStateSensor
from es_embedding.settings import RunSettings
from tests.unit.test_triggers import route, stats


def poking_sensor(answer: dict) -> DeploymentStateSensor:
    sensor = DeploymentStateSensor(
        task_id="wait_deployment", deployment_id="d", deferrable=False, settings=RunSettings()
    )
    client = SimpleNamespace(ml=SimpleNamespace(get_trained_models_stats=lambda: answer))
    sensor.__dict__["hook"] = SimpleNamespace(client=client, secrets=(), es_conn_id="es")
    sensor._bound = "2 s (Variable 'embedding_deployment': key 'wait_timeout')"
    return sensor


def test_a_poke_past_the_deadline_fails_with_the_bound_and_each_nodes_reason():
    sensor = poking_sensor(stats("starting", "starting", 0, [route("n1", "starting", "native process hung")]))
    sensor._deadline = time.time() - 1
    with pytest.raises(DeploymentFailedError) as raised:
        sensor.poke({})
    assert str(raised.value) == (
        "gave up waiting after 2 s (Variable 'embedding_deployment': key 'wait_timeout'); last state: "
        "deployment [d] starting, 0/2 allocations (starting), waiting for fully_allocated: "
        "node n1: starting: native process hung"
    )


def test_a_poke_before_the_deadline_keeps_waiting():
    sensor = poking_sensor(stats("starting", "starting", 0, [route("n1", "starting")]))
    sensor._deadline = time.time() + 60
    assert sensor.poke({}).is_done is False
