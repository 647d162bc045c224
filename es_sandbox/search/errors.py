"""The errors of the search coordinator: shard failures wrapped as ES wraps them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from es_sandbox.errors import EsError

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster
    from es_sandbox.indices import Index


def all_shards_failed(
    cause: EsError, indices: list[Index], cluster: Cluster, phase: str = "query"
) -> EsError:
    """A shard-level failure on every shard, as the search coordinator reports it."""
    failed = [
        {"shard": 0, "index": i.name, "node": cluster.master.id, "reason": cause.to_xcontent()}
        for i in indices[:1]
    ]
    return EsError(
        cause.status,
        "search_phase_execution_exception",
        "all shards failed",
        extra={"phase": phase, "grouped": True, "failed_shards": failed},
        caused_by=cause.to_xcontent(),
        root_cause=[{"type": cause.type, "reason": cause.reason, **cause.extra}],
    )


def context_missing(context_id: str) -> EsError:
    cause = EsError(404, "search_context_missing_exception", f"No search context found for id [{context_id}]")
    return EsError(
        404,
        "search_phase_execution_exception",
        "all shards failed",
        extra={"phase": "query", "grouped": True, "failed_shards": []},
        caused_by=cause.to_xcontent(),
        root_cause=[cause.to_xcontent()],
    )
