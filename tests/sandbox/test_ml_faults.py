"""ML faults: failing and stalled model downloads, node restarts, reset."""

from __future__ import annotations

from elasticsearch import NotFoundError

from tests.sandbox.ml_support import (
    ELSER,
    api_error,
    arm_faults,
    assert_deploy_times_out_on_the_download,
    assert_error,
    definition_status,
    deploy,
    notifications,
    poll,
    put_elser,
    strict,
)

FAILURE = "connection reset while fetching model definition part [139]"


def import_tasks(es) -> list[dict]:
    return es.tasks.list(actions="xpack/ml/model_import*", detailed=True, group_by="none")["tasks"]


def test_failed_download_fails_the_waiting_put(es):
    arm_faults(es, model_download={"model_id": ".elser*", "mode": "fail", "reason": FAILURE})
    exc = api_error(lambda: put_elser(strict(es), wait=True))  # 503 is retried by default
    assert_error(
        exc,
        503,
        "status_exception",
        f"Model importing failed due to an IOException [java.io.IOException: {FAILURE}]",
    )
    # the config stays, never fully defined, and no task is left to wait for
    assert definition_status(es, ELSER) is False
    assert import_tasks(es) == []
    exc = api_error(lambda: deploy(es))
    assert_error(
        exc,
        400,
        "status_exception",
        f"Model definition truncated. Unable to deserialize trained model definition [{ELSER}]",
    )
    # and, as Kibana shows it, an error in the inference audit notifications
    messages = poll(lambda: notifications(es), lambda found: len(found) == 2, timeout=3)
    assert messages == [
        ("info", "starting model import"),
        ("error", f"Model importing failed due to an IOException [java.io.IOException: {FAILURE}]"),
    ]


def test_failed_download_in_the_background(es):
    arm_faults(es, model_download={"mode": "fail", "reason": FAILURE})
    put_elser(es, wait=False)
    (task,) = import_tasks(es)
    task_id = f"{task['node']}:{task['id']}"
    poll(lambda: import_tasks(es), lambda tasks: tasks == [], timeout=5)
    try:
        es.tasks.get(task_id=task_id)
        raise AssertionError("the import task should be gone")
    except NotFoundError as exc:
        assert exc.body["error"]["reason"] == f"task [{task_id}] isn't running and hasn't stored its results"
    assert definition_status(es, ELSER) is False
    # deleting the broken model and putting it again (without the fault) recovers
    es.ml.delete_trained_model(model_id=ELSER)
    arm_faults(es, model_download={"model_id": "nothing-matches"})
    put_elser(es, wait=True)
    assert definition_status(es, ELSER) is True


def test_stalled_download_never_completes_until_cancelled(es):
    arm_faults(es, model_download={"mode": "stall"})
    put_elser(es, wait=False)
    (task,) = poll(
        lambda: import_tasks(es),
        lambda tasks: tasks and tasks[0]["status"]["downloaded_parts"] == 418 // 3,
        timeout=5,
    )
    assert task["status"] == {"total_parts": 418, "downloaded_parts": 139}
    assert_deploy_times_out_on_the_download(es)
    assert import_tasks(es)[0]["status"]["downloaded_parts"] == 139

    es.tasks.cancel(task_id=f"{task['node']}:{task['id']}")
    poll(lambda: import_tasks(es), lambda tasks: tasks == [], timeout=5)
    assert definition_status(es, ELSER) is False


def test_node_restart_loses_running_downloads(es):
    put_elser(es, ".multilingual-e5-small", wait=False)
    assert len(import_tasks(es)) == 1
    arm_faults(es, node_restart=True)
    assert import_tasks(es) == []
    assert definition_status(es, ".multilingual-e5-small") is False
    exc = api_error(lambda: deploy(es, ".multilingual-e5-small"))
    assert exc.meta.status in (400, 404)
    assert exc.body["error"]["reason"] in (
        "Model definition truncated. Unable to deserialize trained model definition [.multilingual-e5-small]",
        "Could not find trained model definition [.multilingual-e5-small]",
    )


def test_reset_drops_models_deployments_and_downloads(es):
    put_elser(es, wait=True)
    deploy(es)
    put_elser(es, ".elser_model_2_linux-x86_64", wait=False)
    es.perform_request("POST", "/_sandbox/reset", headers={"accept": "application/json"})
    assert es.ml.get_trained_models()["count"] == 1
    assert import_tasks(es) == []
    assert es.ml.get_trained_models_stats()["count"] == 1


def test_models_and_deployments_survive_a_restart_with_a_data_dir(start_sandbox, tmp_path):
    from elasticsearch import Elasticsearch

    first = start_sandbox(data_dir=tmp_path)
    es = Elasticsearch(first.url, request_timeout=30)
    put_elser(es, wait=True)
    es.ml.put_trained_model_alias(model_id=ELSER, model_alias="sparse")
    deploy(es, deployment_id="kept", number_of_allocations=2)
    first.stop()

    es = Elasticsearch(start_sandbox(data_dir=tmp_path).url, request_timeout=30)
    assert definition_status(es, "sparse") is True
    # assignments live in the cluster state: the nodes load the model again after the restart
    stats = poll(
        lambda: es.ml.get_trained_models_stats(model_id="kept")["trained_model_stats"][0]["deployment_stats"],
        lambda s: s["state"] == "started",
        timeout=5,
    )
    assert stats["allocation_status"] == {
        "allocation_count": 2,
        "target_allocation_count": 2,
        "state": "fully_allocated",
    }
    assert "inference_count" not in stats
    result = es.ml.infer_trained_model(model_id="kept", docs=[{"text_field": "after restart"}])
    assert "restart" in result["inference_results"][0]["predicted_value"]
