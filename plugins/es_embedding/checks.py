"""What one poll's response means: shared by the triggers (async) and the sensors' poke (sync).

Each function takes the cluster's responses and returns a `Poll`: the event that ends the wait (or
None to keep waiting) and a line worth logging.
"""

from __future__ import annotations

from typing import NamedTuple

from es_embedding.reports import Progress, failure_text, summarize_failures

MODEL_IMPORT_ACTIONS = "xpack/ml/model_import*"
ML_NOTIFICATIONS = ".ml-notifications-*"
REINDEX_ACTIONS = "*reindex"


class Poll(NamedTuple):
    event: dict | None
    message: str | None = None


def error(message: str, **extra) -> Poll:
    return Poll({"status": "error", "message": message, **extra}, message)


def import_task_id(tasks_resp: dict, model_id: str) -> str | None:
    """Id of the running download task of `model_id` in a `GET _tasks?actions=xpack/ml/model_import*`."""
    for node_id, node in (tasks_resp.get("nodes") or {}).items():
        for task_id, task in (node.get("tasks") or {}).items():
            if model_id in (task.get("description") or ""):
                return task_id if ":" in task_id else f"{node_id}:{task_id}"
    return None


# Polls that may find neither a download task nor a fully defined model before that is an error
# (a model left half-downloaded by an earlier failure has no task that could finish it).
NO_TASK_PATIENCE = 3


def download(
    models_resp: dict, model_id: str, running_task: str | None, seen_task: str | None, quiet_polls: int
) -> Poll:
    """fully_defined -> success; a download running -> wait; no download and no model -> error.

    `seen_task`: the download task seen earlier, if any; `quiet_polls`: polls in a row without one.
    """
    configs = models_resp.get("trained_model_configs") or []
    config = next((c for c in configs if c.get("model_id") == model_id), None)
    if config is None:
        return error(f"model [{model_id}] disappeared while downloading (deleted, or its download failed)")
    if config.get("fully_defined"):
        return Poll({"status": "success", "model_id": model_id}, f"model [{model_id}] is fully defined")
    if running_task:
        return Poll(None, f"model [{model_id}] downloading (task {running_task})")
    if seen_task is None and quiet_polls < NO_TASK_PATIENCE:
        return Poll(None, f"model [{model_id}] is not fully defined and no download task is listed yet")
    what = (
        f"the download of model [{model_id}] (task {seen_task}) ended"
        if seen_task
        else "no download is running"
    )
    return error(
        f"{what} but model [{model_id}] is not fully defined; run again: ensure_model deletes the "
        "incomplete model and downloads it again"
    )


def download_failure_query(model_id: str) -> dict:
    """The search for a model's latest error in ML's audit notifications (what Kibana shows)."""
    return {
        "index": ML_NOTIFICATIONS,
        # match, not term: exact on ES's keyword mapping of these fields, and still right where the
        # notifications index was mapped dynamically (text).
        "query": {
            "bool": {
                "filter": [
                    {"match": {"job_id": {"query": model_id, "operator": "and"}}},
                    {"match": {"level": "error"}},
                ]
            }
        },
        "sort": [{"timestamp": {"order": "desc"}}],
        "size": 1,
        "ignore_unavailable": True,
    }


def download_failure_reason(stored_task: dict | None, notifications: dict | None) -> str:
    """The cluster's reason for a failed download: the stored task error, else the ML audit message."""
    err = (stored_task or {}).get("error") or {}
    if err:
        return f". Cluster reason: {err.get('type')}: {err.get('reason')}"
    hits = ((notifications or {}).get("hits") or {}).get("hits") or []
    if hits:
        return f". Cluster reason (ML notifications): {hits[0]['_source'].get('message')}"
    return ""


def deployment_stats(stats_resp: dict, deployment_id: str) -> dict | None:
    for stats in stats_resp.get("trained_model_stats") or []:
        deployment = stats.get("deployment_stats") or {}
        if deployment.get("deployment_id") == deployment_id:
            return deployment
    return None


def route_reasons(deployment: dict) -> list[str]:
    """`node <id>: <routing state>[: reason]` per node, and the deployment's own reason."""
    lines = [f"deployment: {deployment['reason']}"] if deployment.get("reason") else []
    for route in deployment.get("nodes") or []:
        node_ids = ", ".join(route.get("node") or {}) or "?"
        routing = route.get("routing_state") or {}
        reason = f": {routing['reason']}" if routing.get("reason") else ""
        lines.append(f"node {node_ids}: {routing.get('routing_state', '?')}{reason}")
    return lines


def deployment(stats_resp: dict, deployment_id: str, wanted_state: str) -> Poll:
    """Success once `wanted_state` (started | fully_allocated) is reached; error on failed/absent."""
    stats = deployment_stats(stats_resp, deployment_id)
    if stats is None:
        return error(f"deployment [{deployment_id}] does not exist (stopped while we waited?)")
    state = stats.get("state")
    allocation = stats.get("allocation_status") or {}
    reasons = "; ".join(route_reasons(stats)) or "no reason given"
    if state == "failed":
        return error(f"deployment [{deployment_id}] failed: {reasons}")
    if state == "stopping":
        return error(f"deployment [{deployment_id}] is stopping")
    count, target = allocation.get("allocation_count", 0), allocation.get("target_allocation_count")
    reached = allocation.get("state") == "fully_allocated" if wanted_state == "fully_allocated" else count > 0
    summary = (
        f"deployment [{deployment_id}] {state}, {count}/{target} allocations ({allocation.get('state')})"
    )
    if state == "started" and reached:
        event = {
            "status": "success",
            "deployment_id": deployment_id,
            "state": state,
            "allocation_count": count,
            "target_allocation_count": target,
            "threads_per_allocation": stats.get("threads_per_allocation"),
            "queue_capacity": stats.get("queue_capacity"),
        }
        return Poll(event, summary)
    return Poll(None, f"{summary}, waiting for {wanted_state}: {reasons}")


def gave_up(bound: str, last_state: str | None) -> str:
    """The message of a wait that reached its bound: which setting, and the last state seen."""
    return f"gave up waiting after {bound}; last state: {last_state or 'nothing reported yet'}"


def download_cancelled(import_task_id: str) -> str:
    """The note of a wait that cancelled the download it gave up on."""
    return f"; cancelled download task {import_task_id}: the next run deletes the incomplete model and downloads it again"


_COUNTED = ("total", "created", "updated", "deleted", "version_conflicts", "noops", "batches")


def running_slices_missing(task_resp: dict) -> bool:
    """A running sliced reindex: its leader's status counts finished slices only (ES's
    LeaderBulkByScrollTaskState), so progress needs the running slices' own statuses."""
    status = (task_resp.get("task") or {}).get("status") or {}
    return not task_resp.get("completed") and bool(status.get("slices"))


def with_running_slices(task_resp: dict, children_resp: dict) -> dict:
    """`task_resp` with the statuses of its running slice tasks (GET _tasks?parent_task_id=...&detailed)
    added to the leader's counts; finished slices are already in them and no longer listed."""
    task = dict(task_resp.get("task") or {})
    status = dict(task.get("status") or {})
    for node in (children_resp.get("nodes") or {}).values():
        for child in (node.get("tasks") or {}).values():
            child_status = child.get("status") or {}
            for key in _COUNTED:
                status[key] = (status.get(key) or 0) + (child_status.get(key) or 0)
    return {**task_resp, "task": {**task, "status": status}}


def reindex(task_resp: dict, es_task_id: str) -> Poll:
    """Progress while running; on completion the result summarised (failures counted, sampled)."""
    task = task_resp.get("task") or {}
    status = task.get("status") or {}
    if not task_resp.get("completed"):
        progress = Progress.of(status, (task.get("running_time_in_nanos") or 0) / 1e9)
        return Poll(None, progress.line(es_task_id))
    if task_resp.get("error"):
        err = task_resp["error"]
        return error(
            f"reindex {es_task_id} ended with {err.get('type')}: {err.get('reason')}", es_task_id=es_task_id
        )
    response = task_resp.get("response") or {}
    failures = summarize_failures(response.get("failures") or [])
    result = {
        key: response.get(key)
        for key in ("took", "total", "created", "updated", "deleted", "batches", "version_conflicts", "noops")
    }
    result.update(canceled=response.get("canceled"), timed_out=response.get("timed_out"), failures=failures)
    message = f"reindex {es_task_id} completed: {result['created']} created, {result['updated']} updated of {result['total']}"
    if failures["count"]:
        message += f"; {failure_text(failures)}"
    return Poll({"status": "success", "es_task_id": es_task_id, "result": result}, message)


def lost(es_task_id: str, reason: str) -> Poll:
    """The task is gone (GET _tasks/<id> answered 404: a node restart dropped it before it stored a
    result). Not an error of the wait: the resume step takes up what it did not do."""
    message = (
        f"ES task {es_task_id} is lost ({reason}): the node that ran it restarted or left; "
        "the documents it did not copy or embed are taken up by the resume step"
    )
    return Poll({"status": "lost", "es_task_id": es_task_id, "message": message}, message)


def running_reindex(tasks_resp: dict, source: str, dest: str) -> str | None:
    """The id of a running parent reindex from `source` to `dest`, from `GET _tasks?detailed`."""
    return running_task(tasks_resp, f"reindex from [{source}] to [{dest}]")


def running_task(tasks_resp: dict, wanted: str) -> str | None:
    """The id of a running, not cancelled parent task whose description starts with `wanted`."""
    for node_id, node in (tasks_resp.get("nodes") or {}).items():
        for task_id, task in (node.get("tasks") or {}).items():
            if task.get("parent_task_id"):
                continue
            if (task.get("description") or "").startswith(wanted) and not task.get("cancelled"):
                return task_id if ":" in task_id else f"{node_id}:{task_id}"
    return None


def endpoint_allocation(
    stats_resp: dict, deployment_id: str, inference_id: str, wanted_state: str, preconfigured: bool
) -> tuple[Poll, bool]:
    """(what the poll means, whether to wake the endpoint with one inference request).

    An endpoint serves once its deployment has an allocation. Scaled to zero by adaptive allocations
    it reports 0 of 0 allocations `fully_allocated`, and a preconfigured endpoint has no deployment
    until its first inference: both are woken by an inference request (Elasticsearch parks it and
    scales up) and waited for. Otherwise the deployment's own wait (`deployment`) decides."""
    stats = deployment_stats(stats_resp, deployment_id)
    if stats is None:
        if preconfigured:
            return Poll(
                None, f"endpoint [{inference_id}] is not deployed yet: an inference request deploys it"
            ), True
        return error(
            f"deployment [{deployment_id}] of endpoint [{inference_id}] is not running (stopped?): start it "
            f"again (POST _ml/trained_models/<model>/deployment/_start?deployment_id={deployment_id} with the "
            "endpoint's allocations), or set another inference_id in Variable 'embedding_inference'"
        ), False
    count = (stats.get("allocation_status") or {}).get("allocation_count") or 0
    adaptive = bool((stats.get("adaptive_allocations") or {}).get("enabled"))
    result = deployment(stats_resp, deployment_id, wanted_state)
    if count == 0 and adaptive and stats.get("state") == "started":
        return Poll(
            None,
            f"endpoint [{inference_id}]: deployment [{deployment_id}] is scaled to zero (adaptive "
            "allocations): an inference request wakes it; waiting for an allocation",
        ), True
    if result.event is not None and result.event["status"] == "success":
        return Poll(
            {**result.event, "inference_id": inference_id}, f"endpoint [{inference_id}]: {result.message}"
        ), False
    return result, False
