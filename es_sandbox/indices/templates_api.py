"""Template endpoints: `_index_template` (with `_simulate` and `_simulate_index`), `_component_template`
and legacy `_template`, answered as RestPutComposableIndexTemplateAction and its siblings answer."""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from es_sandbox.dotted import nest_dotted
from es_sandbox.errors import EsError
from es_sandbox.http import PRODUCT_HEADERS, Router, bool_param, int_param, json_body, json_response
from es_sandbox.indices.templates import matching_names
from es_sandbox.versions import BuildInfo

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster
    from es_sandbox.indices.templates import Templates

router = Router()

LEGACY_DEPRECATION = "Legacy index templates are deprecated in favor of composable templates."


def _templates(cluster: Cluster) -> Templates:
    return cluster.indices.templates


def _changed(cluster: Cluster) -> None:
    cluster.indices.changes += 1  # templates are cluster metadata: the state version moves


def _listing(store: dict[str, Any], expression: str | None, kind: str) -> dict[str, Any]:
    """GET of composable or component templates (`kind` index_template / component_template): those
    the expression matches; a name without a wildcard that matches none is a 404."""
    names = matching_names(store, expression)
    if expression and not names and "*" not in expression:
        what = kind.replace("_", " ")
        raise EsError(404, "resource_not_found_exception", f"{what} matching [{expression}] not found")
    return {f"{kind}s": [{"name": n, kind: store[n]} for n in names]}


def _exists(found: bool) -> Response:
    return Response(status_code=200 if found else 404, headers=PRODUCT_HEADERS)


# -- composable index templates ------------------------------------------------------------------


@router.route("/_index_template/{name}", "PUT", "POST")
async def put_index_template(request: Request, cluster: Cluster):
    name = request.path_params["name"]
    _templates(cluster).put_composable(
        name, await json_body(request, required=True), create=bool_param(request, "create")
    )
    _changed(cluster)
    return {"acknowledged": True}


@router.route("/_index_template", "GET")
@router.route("/_index_template/{name}", "GET")
async def get_index_template(request: Request, cluster: Cluster):
    return _listing(_templates(cluster).composable, request.path_params.get("name"), "index_template")


@router.route("/_index_template/{name}", "HEAD")
async def index_template_exists(request: Request, cluster: Cluster):
    return _exists(bool(matching_names(_templates(cluster).composable, request.path_params["name"])))


@router.route("/_index_template/{name}", "DELETE")
async def delete_index_template(request: Request, cluster: Cluster):
    _templates(cluster).delete_composable(request.path_params["name"])
    _changed(cluster)
    return {"acknowledged": True}


def _simulated(templates: Templates, name: str | None, template: dict[str, Any]) -> dict[str, Any]:
    composed = templates.compose(template)
    overlapping = templates.overlapping(name or "", template, same_priority=False)
    return {
        "template": {
            "settings": nest_dotted(composed["settings"]),
            "mappings": composed["mappings"],
            "aliases": composed["aliases"],
        },
        "overlapping": [{"name": n, "index_patterns": p} for n, p in overlapping.items()],
    }


@router.route("/_index_template/_simulate_index/{index}", "POST")
async def simulate_index_template(request: Request, cluster: Cluster):
    """What an index of this name would be created with now: the matching template's parts, and the
    other templates that would also have matched it."""
    templates = _templates(cluster)
    index = request.path_params["index"]
    found = templates.find_composable(index)
    if found is None:
        return {"overlapping": []}
    name, spec = found
    answer = _simulated(templates, name, spec)
    others = [
        {"name": n, "index_patterns": s["index_patterns"]}
        for n, s in sorted(templates.composable.items())
        if n != name and any(fnmatch.fnmatchcase(index, p) for p in s["index_patterns"])
    ]
    return {**answer, "overlapping": others}


@router.route("/_index_template/_simulate", "POST")
@router.route("/_index_template/_simulate/{name}", "POST")
async def simulate_template(request: Request, cluster: Cluster):
    templates = _templates(cluster)
    name = request.path_params.get("name")
    body = await json_body(request)
    if body:
        template = templates.check_composable(name or "", body, create=False)
    elif name in templates.composable:
        template = templates.composable[name]
    else:
        raise EsError(404, "resource_not_found_exception", f"unable to find index template [{name}]")
    return _simulated(templates, name, template)


# -- component templates ------------------------------------------------------------------------


@router.route("/_component_template/{name}", "PUT", "POST")
async def put_component_template(request: Request, cluster: Cluster):
    _templates(cluster).put_component(
        request.path_params["name"],
        await json_body(request, required=True),
        create=bool_param(request, "create"),
    )
    _changed(cluster)
    return {"acknowledged": True}


@router.route("/_component_template", "GET")
@router.route("/_component_template/{name}", "GET")
async def get_component_template(request: Request, cluster: Cluster):
    return _listing(_templates(cluster).components, request.path_params.get("name"), "component_template")


@router.route("/_component_template/{name}", "HEAD")
async def component_template_exists(request: Request, cluster: Cluster):
    return _exists(bool(matching_names(_templates(cluster).components, request.path_params["name"])))


@router.route("/_component_template/{name}", "DELETE")
async def delete_component_template(request: Request, cluster: Cluster):
    _templates(cluster).delete_component(request.path_params["name"])
    _changed(cluster)
    return {"acknowledged": True}


# -- legacy templates ---------------------------------------------------------------------------


@router.route("/_template/{name}", "PUT", "POST")
async def put_legacy_template(request: Request, cluster: Cluster):
    _templates(cluster).put_legacy(
        request.path_params["name"],
        await json_body(request, required=True),
        create=bool_param(request, "create"),
        order=int_param(request, "order"),
    )
    _changed(cluster)
    return json_response(
        {"acknowledged": True},
        headers=BuildInfo(cluster.config.version).deprecation_header(LEGACY_DEPRECATION),
    )


@router.route("/_template", "GET")
@router.route("/_template/{name}", "GET")
async def get_legacy_template(request: Request, cluster: Cluster):
    expression = request.path_params.get("name")
    store = _templates(cluster).legacy
    flat = bool_param(request, "flat_settings")
    body = {}
    for name in matching_names(store, expression):
        spec = dict(store[name])
        spec["settings"] = spec["settings"] if flat else nest_dotted(spec["settings"])
        body[name] = spec
    return (404 if expression and not body else 200), body


@router.route("/_template/{name}", "HEAD")
async def legacy_template_exists(request: Request, cluster: Cluster):
    return _exists(bool(matching_names(_templates(cluster).legacy, request.path_params["name"])))


@router.route("/_template/{name}", "DELETE")
async def delete_legacy_template(request: Request, cluster: Cluster):
    _templates(cluster).delete_legacy(request.path_params["name"])
    _changed(cluster)
    return {"acknowledged": True}
