"""`GET _capabilities` (RestNodesCapabilitiesAction): whether the node serves a method and path, and
the named capabilities asked of it. The sandbox claims only capabilities it implements (CAPABILITIES,
by method and path template, under the names Elasticsearch's handlers declare); parameters it cannot
vouch for make the answer false, as a node without them answers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request

from es_sandbox.errors import validation_failed
from es_sandbox.http import Router
from es_sandbox.nodes_api import nodes_envelope
from es_sandbox.routing import Dispatch

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster

router = Router()

CAPABILITIES: dict[tuple[str, str], frozenset[str]] = {
    # RestClusterHealthAction: the response counts unassigned primary shards.
    ("GET", "/_cluster/health"): frozenset({"unassigned_pri_shard_count"}),
}


def _names(value: str | None) -> set[str]:
    return {v for v in (value or "").split(",") if v}


@router.route("/_capabilities", "GET")
async def capabilities(request: Request, cluster: Cluster):
    params = request.query_params
    path = params.get("path")
    if not path:
        raise validation_failed("path is required")
    method = params.get("method", "GET").upper()
    found = request.app.router.table.resolve(method, path)
    supported = isinstance(found, Dispatch)
    if supported and _names(params.get("parameters")):
        supported = False
    wanted = _names(params.get("capabilities"))
    if supported and wanted:
        supported = wanted <= CAPABILITIES.get((method, found.template), frozenset())
    envelope = nodes_envelope(cluster, {node.id: {} for node in cluster.nodes})
    envelope.pop("nodes")  # BaseNodesXContentResponse: the header, then the answer alone
    return {**envelope, "supported": supported}
