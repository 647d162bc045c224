"""`GET _data_stream[/{name}]`: the sandbox holds no data streams, and answers as a cluster without any
does (elasticsearch-py's helpers.reindex asks to tell a data stream from an index).

IndexNameExpressionResolver.dataStreamNames: wildcards that match nothing are fine, a concrete name
that is not even an index or alias is `index_not_found_exception`, and indices and aliases are
filtered out because they are not data streams.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request

from es_sandbox.errors import index_not_found
from es_sandbox.http import Router

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster

router = Router()


@router.route("/_data_stream", "GET")
@router.route("/_data_stream/{name}", "GET")
async def get_data_streams(request: Request, cluster: Cluster):
    for name in request.path_params.get("name", "").split(","):
        if name and "*" not in name and name != "_all" and not cluster.indices.exists(name):
            raise index_not_found(name)
    return {"data_streams": []}
