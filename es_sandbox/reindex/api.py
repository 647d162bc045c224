"""The _reindex, _update_by_query and _delete_by_query endpoints and their _rethrottle."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request

from es_sandbox.errors import illegal_argument
from es_sandbox.http import Router, json_body
from es_sandbox.reindex.job import ACTIONS, parse_by_query, parse_reindex, parse_requests_per_second
from es_sandbox.reindex.service import submit
from es_sandbox.reindex.worker import Leader
from es_sandbox.tasks import parse_task_id
from es_sandbox.tasks.api import failed_node, list_response

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster

router = Router()


@router.route("/_reindex", "POST")
async def reindex(request: Request, cluster: Cluster):
    return await submit(cluster, parse_reindex(request, await json_body(request, required=True)))


@router.route("/{index}/_update_by_query", "POST")
async def update_by_query(request: Request, cluster: Cluster):
    return await submit(cluster, parse_by_query(request, await json_body(request), "update_by_query"))


@router.route("/{index}/_delete_by_query", "POST")
async def delete_by_query(request: Request, cluster: Cluster):
    return await submit(cluster, parse_by_query(request, await json_body(request), "delete_by_query"))


@router.route("/_reindex/{task_id}/_rethrottle", "POST")
@router.route("/_update_by_query/{task_id}/_rethrottle", "POST")
@router.route("/_delete_by_query/{task_id}/_rethrottle", "POST")
async def rethrottle(request: Request, cluster: Cluster):
    rps = parse_requests_per_second(request.query_params.get("requests_per_second"))
    if rps is None:
        raise illegal_argument("requests_per_second is a required parameter")
    task_id = request.path_params["task_id"]
    node_id, _ = parse_task_id(task_id)
    task = cluster.tasks.running.get(task_id)
    group_by = request.query_params.get("group_by", "nodes")
    if cluster.node(node_id) is None:
        cause = {"type": "no_such_node_exception", "reason": f"No such node [{node_id}]", "node_id": node_id}
        return list_response(cluster, [], group_by, node_failures=[failed_node(node_id, cause)])
    if task is None or task.rethrottle is None or task.action not in ACTIONS.values():
        reason = (
            f"task [{task_id}] is missing"
            if task is None
            else f"task [{task_id}] doesn't support this operation"
        )
        cause = {"type": "resource_not_found_exception", "reason": reason}
        return list_response(cluster, [], group_by, node_failures=[failed_node(node_id, cause)])
    task.rethrottle(rps)
    info = task.info()
    if isinstance(getattr(task.rethrottle, "__self__", None), Leader):
        info["status"] = task.rethrottle.__self__.status(with_running=True)
    return list_response(cluster, [(task, info)], group_by)
