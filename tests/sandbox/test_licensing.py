"""The licence APIs (es_sandbox/licensing.py) through elasticsearch-py: the README's troubleshooting step
(start a trial on a basic cluster, and ML works at once), trial and basic status, installing and
deleting licences, what GET _xpack says each licence makes available, and cluster health by index and
by shard."""

from __future__ import annotations

import time

import pytest
from elasticsearch import ApiError, AuthorizationException, BadRequestError, Elasticsearch

from es_sandbox import SandboxConfig, SandboxProcess
from tests.sandbox.ml_support import reset_sandbox

DAY_MS = 86_400_000


def _license(**overrides) -> dict:
    now = int(time.time() * 1000)
    spec = {
        "uid": "893361dc-9749-4997-93cb-802e3d7fa4a8",
        "type": "platinum",
        "issue_date_in_millis": now - DAY_MS,
        "expiry_date_in_millis": now + 365 * DAY_MS,
        "max_nodes": 5,
        "issued_to": "customer",
        "issuer": "elasticsearch",
        "signature": "AAAABAAAAA2kWNcuc+DT0lrlmYZKAAAAIAo5",
        "start_date_in_millis": -1,
    }
    return {"licenses": [{**spec, **overrides}]}


@pytest.fixture(scope="module")
def basic_sandbox():
    proc = SandboxProcess(SandboxConfig(port=0, download_seconds=0.5, inference_ms=1.0, license="basic"))
    yield proc
    proc.stop()


@pytest.fixture
def basic(basic_sandbox):
    client = Elasticsearch(basic_sandbox.url)
    reset_sandbox(client)
    yield client
    client.close()


def test_starting_a_trial_on_a_basic_cluster_enables_ml(basic):
    assert basic.license.get()["license"]["type"] == "basic"
    assert "expiry_date_in_millis" not in basic.license.get()["license"]  # a basic licence never expires
    with pytest.raises(AuthorizationException) as refused:
        basic.ml.put_trained_model(model_id=".elser_model_2", input={"field_names": ["text_field"]})
    assert refused.value.info["error"]["reason"] == "current license is non-compliant for [ml]"
    assert basic.license.get_trial_status().body == {"eligible_to_start_trial": True}

    unacknowledged = basic.license.post_start_trial().body
    assert unacknowledged["trial_was_started"] is False
    assert unacknowledged["error_message"] == "Operation failed: Needs acknowledgement."
    assert unacknowledged["acknowledge"]["message"].startswith("This API initiates a free 30-day trial")
    assert basic.license.get()["license"]["type"] == "basic"

    started = basic.license.post_start_trial(acknowledge=True)
    assert (started.meta.status, started.body) == (
        200,
        {"acknowledged": True, "trial_was_started": True, "type": "trial"},
    )
    trial = basic.license.get()["license"]
    assert (trial["type"], trial["status"]) == ("trial", "active")
    assert trial["expiry_date_in_millis"] - trial["issue_date_in_millis"] == 30 * DAY_MS
    basic.ml.put_trained_model(
        model_id=".elser_model_2", input={"field_names": ["text_field"]}
    )  # ML now works
    assert basic.license.get_trial_status().body == {"eligible_to_start_trial": False}

    with pytest.raises(ApiError) as again:
        basic.license.post_start_trial(acknowledge=True)
    assert (again.value.meta.status, again.value.body) == (
        403,
        {
            "acknowledged": True,
            "trial_was_started": False,
            "error_message": "Operation failed: Trial was already activated.",
        },
    )
    with pytest.raises(BadRequestError) as wrong_type:
        basic.license.post_start_trial(acknowledge=True, type="gold")
    assert (
        wrong_type.value.info["error"]["reason"]
        == "Cannot start trial of type [gold]. Valid trial types are [trial]."
    )


def test_xpack_info_follows_the_licence(basic):
    info = basic.xpack.info().body
    assert info["tagline"] == "You know, for X"
    assert info["license"] == {
        "uid": basic.license.get()["license"]["uid"],
        "type": "basic",
        "mode": "basic",
        "status": "active",
    }
    features = info["features"]
    assert (features["ml"], features["ccr"], features["watcher"]) == (
        {"available": False, "enabled": True},
        {"available": False, "enabled": True},
        {"available": False, "enabled": True},
    )
    assert features["transform"]["available"] and features["esql"]["available"]
    assert features["security"] == {"available": True, "enabled": False}  # no --api-key/--user
    basic.license.post_start_trial(acknowledge=True)
    assert all(f["available"] for f in basic.xpack.info()["features"].values())
    assert set(basic.xpack.info(categories=["license"]).body) == {"license", "tagline"}


def test_installing_and_deleting_licences(es):
    assert es.license.post(body=_license(), acknowledge=True).body == {
        "acknowledged": True,
        "license_status": "valid",
    }
    installed = es.license.get()["license"]
    assert len(installed) == 12 and (installed["type"], installed["max_nodes"]) == ("platinum", 5)
    es.ml.get_trained_models()  # platinum allows ML

    # going down a level needs acknowledging what stops working
    downgrade = es.license.post(body=_license(type="gold", uid="a-gold-licence")).body
    assert (downgrade["acknowledged"], downgrade["license_status"]) == (False, "valid")
    assert downgrade["acknowledge"]["ml"] == ["Machine learning will be disabled"]
    assert es.license.get()["license"]["type"] == "platinum"

    expired = _license(expiry_date_in_millis=int(time.time() * 1000) - DAY_MS)
    assert es.license.post(body=expired, acknowledge=True).body == {
        "acknowledged": True,
        "license_status": "expired",
    }
    with pytest.raises(BadRequestError) as basic_licence:
        es.license.post(body=_license(type="basic"), acknowledge=True)
    assert basic_licence.value.info["error"]["reason"] == "Registering basic licenses is not allowed."
    with pytest.raises(BadRequestError) as empty:
        es.perform_request("PUT", "/_license", headers={"accept": "application/json"})
    assert empty.value.info["error"]["reason"] == "The license must be provided in the request body"

    assert es.license.delete().body == {"acknowledged": True}
    basic = es.license.get()["license"]
    assert basic["type"] == "basic"
    es.license.delete()  # deleting a basic licence changes nothing
    assert es.license.get()["license"]["uid"] == basic["uid"]
    with pytest.raises(AuthorizationException):
        es.ml.put_trained_model(model_id=".elser_model_2", input={"field_names": ["text_field"]})
    assert es.license.get_basic_status().body == {"eligible_to_start_basic": False}
    with pytest.raises(ApiError) as already:
        es.license.post_start_basic(acknowledge=True)
    assert (already.value.meta.status, already.value.body["error_message"]) == (
        403,
        "Operation failed: Current license is basic.",
    )
    # the cluster started with a trial: it has had its trial
    assert es.license.get_trial_status().body == {"eligible_to_start_trial": False}


def test_start_basic_from_a_trial_needs_acknowledging(es):
    assert es.license.get_basic_status().body == {"eligible_to_start_basic": True}
    unacknowledged = es.license.post_start_basic().body
    assert (unacknowledged["acknowledged"], unacknowledged["basic_was_started"]) == (False, False)
    assert unacknowledged["acknowledge"]["watcher"] == ["Watcher will be disabled"]
    assert es.license.get()["license"]["type"] == "trial"
    assert es.license.post_start_basic(acknowledge=True).body == {
        "acknowledged": True,
        "basic_was_started": True,
    }
    assert es.license.get()["license"]["type"] == "basic"


def test_the_reset_brings_back_the_starting_licence(es):
    es.license.delete()
    es.perform_request("POST", "/_sandbox/reset", headers={"accept": "application/json"})
    assert es.license.get()["license"]["type"] == "trial"


def test_cluster_health_by_index_and_by_shard(es):
    es.indices.create(index="two", settings={"number_of_shards": 2, "number_of_replicas": 1})
    by_index = es.cluster.health(level="indices")["indices"]["two"]
    assert by_index == {
        "status": "yellow",
        "number_of_shards": 2,
        "number_of_replicas": 1,
        "active_primary_shards": 2,
        "active_shards": 2,
        "relocating_shards": 0,
        "initializing_shards": 0,
        "unassigned_shards": 2,
        "unassigned_primary_shards": 0,
    }
    shards = es.cluster.health(level="shards")["indices"]["two"]["shards"]
    assert shards["1"] == {
        "status": "yellow",
        "primary_active": True,
        "active_shards": 1,
        "relocating_shards": 0,
        "initializing_shards": 0,
        "unassigned_shards": 1,
        "unassigned_primary_shards": 0,
    }
    with pytest.raises(BadRequestError) as bad:
        es.cluster.health(level="nodes")
    assert bad.value.info["error"]["reason"] == (
        "No enum constant org.elasticsearch.action.admin.cluster.health.ClusterHealthRequest.Level.NODES"
    )
