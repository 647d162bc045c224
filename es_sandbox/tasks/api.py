"""The _tasks endpoints (list, get, cancel) and the ListTasksResponse shapes they and the
`_rethrottle` endpoints answer with."""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from es_sandbox.errors import illegal_argument
from es_sandbox.http import Router, bool_param, param, time_param
from es_sandbox.tasks.manager import CANCEL_REASON, DEFAULT_WAIT_TIMEOUT, Task, parse_task_id

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster, Node

router = Router()


# --- list responses ------------------------------------------------------------------------


def node_header(node: Node) -> dict[str, Any]:
    header: dict[str, Any] = {
        "name": node.name,
        "transport_address": node.transport_address,
        "host": node.transport_address.split(":")[0],
        "ip": node.transport_address,
        "roles": node.roles,
    }
    if node.attributes:
        header["attributes"] = node.attributes
    return header


def list_response(
    cluster: Cluster,
    infos: list[tuple[Task, dict[str, Any]]],
    group_by: str,
    *,
    node_failures: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """ListTasksResponse grouped by nodes (default), parents or none."""
    body: dict[str, Any] = {}
    if node_failures:
        body["node_failures"] = node_failures
    if group_by == "none":
        body["tasks"] = [info for _, info in infos]
    elif group_by == "parents":
        by_id = {task.full_id: dict(info) for task, info in infos}
        top: dict[str, Any] = {}
        for task, _ in infos:
            entry = by_id[task.full_id]
            parent = task.parent.full_id if task.parent is not None else None
            if parent in by_id:
                by_id[parent].setdefault("children", []).append(entry)
            else:
                top[task.full_id] = entry
        body["tasks"] = top
    elif group_by == "nodes":
        nodes: dict[str, Any] = {}
        for task, info in infos:
            node = nodes.setdefault(task.node.id, {**node_header(task.node), "tasks": {}})
            node["tasks"][task.full_id] = info
        body["nodes"] = nodes
    else:
        raise illegal_argument(f"[group_by] must be one of [nodes], [parents] or [none] but was [{group_by}]")
    return body


def failed_node(node_id: str, cause: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "failed_node_exception",
        "reason": f"Failed node [{node_id}]",
        "node_id": node_id,
        "caused_by": cause,
    }


def _csv(request: Request, name: str) -> list[str] | None:
    value = request.query_params.get(name)
    return [v for v in value.split(",") if v] if value else None


# --- endpoints -----------------------------------------------------------------------------


@router.route("/_tasks/{task_id}", "GET")
async def get_task(request: Request, cluster: Cluster):
    return await cluster.tasks.get(
        request.path_params["task_id"],
        wait=bool_param(request, "wait_for_completion"),
        timeout=time_param(request, "timeout"),
    )


@router.route("/_tasks", "GET")
async def list_tasks(request: Request, cluster: Cluster):
    group_by = request.query_params.get("group_by", "nodes")
    if group_by not in ("nodes", "parents", "none"):
        raise illegal_argument(f"[group_by] must be one of [nodes], [parents] or [none] but was [{group_by}]")
    detailed = bool_param(request, "detailed")
    manager = cluster.tasks
    with manager.listing() as own:
        tasks = manager.find(
            _csv(request, "actions"), request.query_params.get("parent_task_id"), _csv(request, "nodes")
        )
        if bool_param(request, "wait_for_completion"):
            waiting = [t for t in tasks if t not in own]
            timeout = time_param(request, "timeout") or DEFAULT_WAIT_TIMEOUT
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(t.done.wait() for t in waiting)), timeout)
        infos = [(t, t.info(detailed=detailed)) for t in tasks]
    return list_response(cluster, infos, group_by)


@router.route("/_tasks/_cancel", "POST")
@router.route("/_tasks/{task_id}/_cancel", "POST")
async def cancel_tasks(request: Request, cluster: Cluster):
    manager = cluster.tasks
    task_id = request.path_params.get("task_id")
    actions = _csv(request, "actions")
    group_by = request.query_params.get("group_by", "nodes")
    failures: list[dict[str, Any]] = []
    targets: list[Task] = []
    if task_id is not None:
        node_id, _ = parse_task_id(task_id)
        task = manager.running.get(task_id)
        if cluster.node(node_id) is None:
            failures.append(
                failed_node(
                    node_id,
                    {
                        "type": "no_such_node_exception",
                        "reason": f"No such node [{node_id}]",
                        "node_id": node_id,
                    },
                )
            )
        elif task is None:
            failures.append(
                failed_node(
                    node_id,
                    {"type": "resource_not_found_exception", "reason": f"task [{task_id}] is not found"},
                )
            )
        elif not task.cancellable:
            failures.append(
                failed_node(
                    node_id,
                    {
                        "type": "illegal_argument_exception",
                        "reason": f"task [{task_id}] doesn't support cancellation",
                    },
                )
            )
        elif actions and not any(fnmatch.fnmatchcase(task.action, a) for a in actions):
            failures.append(
                failed_node(
                    node_id,
                    {
                        "type": "illegal_argument_exception",
                        "reason": f"task [{task_id}] doesn't support this operation",
                    },
                )
            )
        else:
            targets = [task]
    else:
        targets = [
            t
            for t in manager.find(actions, param(request, {}, "parent_task_id"), _csv(request, "nodes"))
            if t.cancellable
        ]
    for task in targets:
        task.cancel(CANCEL_REASON)
    if bool_param(request, "wait_for_completion"):
        await asyncio.gather(*(t.done.wait() for t in targets))
    infos = [(t, t.info(detailed=False)) for t in targets]
    return list_response(cluster, infos, group_by, node_failures=failures)
