"""The ML and transform cat tables the sandbox has nothing for: anomaly detection jobs, datafeeds,
data frame analytics and transforms. They answer as Elasticsearch does with none configured: an empty
table for `_all` or a pattern, and the resource's 404 for an id (or, with `allow_no_match=false`, a
pattern) that matches nothing (ExpandedIdsMatcher)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request

from es_sandbox.cat import ml_columns
from es_sandbox.cat.table import Column, Table, respond
from es_sandbox.errors import resource_not_found
from es_sandbox.http import Router, bool_param

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster

router = Router()


def _empty(request: Request, expression: str | None, table: list[Column], missing: str):
    """An empty table, unless an id (or, with allow_no_match=false, a pattern) matched nothing:
    `missing` formatted with it."""
    allow_no_match = bool_param(request, "allow_no_match", True)
    for part in (expression or "_all").split(","):
        if "*" not in part and part != "_all" or not allow_no_match:
            raise resource_not_found(missing.format(part))
    return respond(Table(table), request)


def _empty_table(path: str, id_param: str, table: list[Column], missing: str) -> None:
    """Routes GET `path` and `path/{id_param}` to the table's empty answer (`_empty`)."""

    async def cat_empty_table(request: Request, cluster: Cluster):
        return _empty(request, request.path_params.get(id_param), table, missing)

    router.route(f"{path}/{{{id_param}}}", "GET")(cat_empty_table)
    router.route(path, "GET")(cat_empty_table)


_empty_table(
    "/_cat/ml/anomaly_detectors", "job_id", ml_columns.ANOMALY_DETECTORS, "No known job with id '{}'"
)
_empty_table("/_cat/ml/datafeeds", "datafeed_id", ml_columns.DATAFEEDS, "No datafeed with id [{}] exists")
_empty_table(
    "/_cat/ml/data_frame/analytics",
    "id",
    ml_columns.DATA_FRAME_ANALYTICS,
    "No known data frame analytics with id [{}]",
)
_empty_table(
    "/_cat/transforms", "transform_id", ml_columns.TRANSFORMS, "Transform with id [{}] could not be found"
)
