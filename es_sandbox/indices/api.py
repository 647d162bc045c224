"""The index-level endpoints: create, delete, exists, get, mappings, settings, refresh, aliases.
Each parses its request, asks the IndexStore (cluster.indices) and renders Elasticsearch's answer."""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from es_sandbox import mappings as mp
from es_sandbox.dotted import nest_dotted
from es_sandbox.errors import EsError, validation_failed
from es_sandbox.http import PRODUCT_HEADERS, Router, bool_param, json_body
from es_sandbox.indices.index import Index
from es_sandbox.indices.settings import flatten_settings
from es_sandbox.indices.store import AliasAction, alias_props

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster

router = Router()


def resolve_param(
    request: Request,
    cluster: Cluster,
    expression: str | None,
    *,
    default_allow_no: bool = True,
    level: str | None = None,
) -> list[Index]:
    """The indices an expression names, with the request's ignore_unavailable / allow_no_indices
    (level="read": as a search resolves them, see IndexStore.resolve)."""
    return cluster.indices.resolve(
        expression,
        ignore_unavailable=bool_param(request, "ignore_unavailable"),
        allow_no_indices=bool_param(request, "allow_no_indices", default_allow_no),
        level=level,
    )


def resolve_sorted(request: Request, cluster: Cluster, expression: str | None, **options: Any) -> list[Index]:
    """resolve_param's indices in name order, as responses list them."""
    return sorted(resolve_param(request, cluster, expression, **options), key=lambda i: i.name)


@router.route("/{index}", "PUT")
async def create_index(request: Request, cluster: Cluster):
    name = request.path_params["index"]
    index = cluster.indices.create(name, await json_body(request))
    return {"acknowledged": True, "shards_acknowledged": True, "index": index.name}


@router.route("/{index}", "DELETE")
async def delete_index(request: Request, cluster: Cluster):
    cluster.indices.delete_expression(
        request.path_params["index"],
        ignore_unavailable=bool_param(request, "ignore_unavailable"),
        allow_no_indices=bool_param(request, "allow_no_indices", True),
    )
    return {"acknowledged": True}


@router.route("/{index}", "HEAD")
async def index_exists(request: Request, cluster: Cluster):
    try:
        found = resolve_param(request, cluster, request.path_params["index"], default_allow_no=False)
    except EsError:
        found = []
    return Response(status_code=200 if found else 404, headers=PRODUCT_HEADERS)


@router.route("/{index}", "GET")
async def get_index(request: Request, cluster: Cluster):
    return {
        index.name: index.describe()
        for index in resolve_sorted(request, cluster, request.path_params["index"])
    }


@router.route("/_mapping", "GET")
@router.route("/{index}/_mapping", "GET")
async def get_mapping(request: Request, cluster: Cluster):
    found = resolve_sorted(request, cluster, request.path_params.get("index"))
    return {index.name: {"mappings": index.mappings} for index in found}


@router.route("/{index}/_mapping", "PUT", "POST")
async def put_mapping(request: Request, cluster: Cluster):
    found = resolve_param(request, cluster, request.path_params["index"])
    release = mp.release_of(found[0].setting("version.created")) if found else mp.LATEST
    update = mp.normalize(await json_body(request, required=True), version=release, cluster=cluster)
    cluster.indices.put_mapping(found, update)
    return {"acknowledged": True}


@router.route("/_settings", "GET")
@router.route("/{index}/_settings", "GET")
@router.route("/{index}/_settings/{name}", "GET")
async def get_settings(request: Request, cluster: Cluster):
    found = resolve_sorted(request, cluster, request.path_params.get("index"))
    wanted = request.path_params.get("name")
    flat_output = bool_param(request, "flat_settings")
    out = {}
    for index in found:
        flat = index.flat_settings
        if wanted:
            patterns = [w if w.startswith("index.") else f"index.{w}" for w in wanted.split(",")]
            flat = {k: v for k, v in flat.items() if any(fnmatch.fnmatchcase(k, p) for p in patterns)}
            if not flat:
                continue
        out[index.name] = {"settings": dict(sorted(flat.items())) if flat_output else nest_dotted(flat)}
    return out


@router.route("/_settings", "PUT")
@router.route("/{index}/_settings", "PUT")
async def put_settings(request: Request, cluster: Cluster):
    found = resolve_param(request, cluster, request.path_params.get("index"))
    body = await json_body(request, required=True)
    flat = flatten_settings(body.get("settings", body) if set(body) == {"settings"} else body)
    cluster.indices.put_settings(found, flat)
    return {"acknowledged": True}


# --- aliases ---------------------------------------------------------------------------------------


def aliases_response_extras(cluster: Cluster) -> dict[str, Any]:
    """IndicesAliasesResponse carries `errors` since 8.12."""
    config = cluster.config
    return {"errors": False} if (config.major, config.minor) >= (8, 12) else {}


def _action_names(spec: dict[str, Any], single: str, plural: str) -> list[str]:
    names: list[str] = []
    if single in spec:
        names.append(spec[single])
    if plural in spec:
        value = spec[plural]
        names += value if isinstance(value, list) else [value]
    return names


def _parse_alias_action(action: Any) -> AliasAction:
    if not isinstance(action, dict) or len(action) != 1:
        raise EsError(400, "x_content_parse_exception", "[aliases] failed to parse field [actions]")
    ((kind, spec),) = action.items()
    if kind not in ("add", "remove", "remove_index"):
        raise EsError(400, "x_content_parse_exception", f"[1:2] [alias_action] unknown field [{kind}]")
    indices = _action_names(spec, "index", "indices")
    if not indices:
        raise validation_failed("One of [index] or [indices] is required")
    if kind == "remove_index":
        return AliasAction(kind, indices, [], {})
    aliases = _action_names(spec, "alias", "aliases")
    if not aliases:
        raise validation_failed("One of [alias] or [aliases] is required")
    props = alias_props(spec) if kind == "add" else {}
    return AliasAction(kind, indices, aliases, props, must_exist=spec.get("must_exist", True) is not False)


@router.route("/_aliases", "POST")
async def update_aliases(request: Request, cluster: Cluster):
    body = await json_body(request, required=True)
    actions = body.get("actions")
    if not isinstance(actions, list) or not actions:
        raise validation_failed("no actions specified")
    cluster.indices.update_aliases([_parse_alias_action(a) for a in actions])
    return {"acknowledged": True, **aliases_response_extras(cluster)}


@router.route("/{index}/_alias/{name}", "PUT", "POST")
@router.route("/{index}/_aliases/{name}", "PUT", "POST")
async def put_alias(request: Request, cluster: Cluster):
    indices = cluster.indices.resolve(request.path_params["index"], allow_no_indices=False)
    body = await json_body(request)
    cluster.indices.put_aliases(indices, request.path_params["name"].split(","), body)
    return {"acknowledged": True, **aliases_response_extras(cluster)}


@router.route("/{index}/_alias/{name}", "DELETE")
@router.route("/{index}/_aliases/{name}", "DELETE")
async def delete_alias(request: Request, cluster: Cluster):
    indices = cluster.indices.resolve(request.path_params["index"], allow_no_indices=False)
    cluster.indices.delete_aliases(indices, request.path_params["name"].split(","))
    return {"acknowledged": True, **aliases_response_extras(cluster)}


def _alias_matches(alias: str, patterns: list[str] | None) -> bool:
    return patterns is None or any(p in ("_all", "*") or fnmatch.fnmatchcase(alias, p) for p in patterns)


def _get_aliases(request: Request, cluster: Cluster) -> tuple[int, dict[str, Any]]:
    index_expr = request.path_params.get("index")
    name = request.path_params.get("name")
    patterns = name.split(",") if name else None
    out: dict[str, Any] = {}
    seen: set[str] = set()
    for index in resolve_sorted(request, cluster, index_expr):
        hits = {a: dict(p) for a, p in sorted(index.aliases.items()) if _alias_matches(a, patterns)}
        seen.update(hits)
        if hits or patterns is None:
            out[index.name] = {"aliases": hits}
    if patterns is not None:
        missing = [p for p in patterns if "*" not in p and p != "_all" and p not in seen]
        if missing:
            reason = (
                f"alias [{missing[0]}] missing"
                if len(missing) == 1
                else f"aliases [{','.join(missing)}] missing"
            )
            return 404, {"error": reason, "status": 404, **out}
    return 200, out


@router.route("/_alias", "GET")
@router.route("/_aliases", "GET")
@router.route("/_alias/{name}", "GET")
@router.route("/{index}/_alias", "GET")
@router.route("/{index}/_aliases", "GET")
@router.route("/{index}/_alias/{name}", "GET")
async def get_alias(request: Request, cluster: Cluster):
    return _get_aliases(request, cluster)


@router.route("/_alias/{name}", "HEAD")
@router.route("/{index}/_alias/{name}", "HEAD")
async def alias_exists(request: Request, cluster: Cluster):
    try:
        status, _ = _get_aliases(request, cluster)
    except EsError as err:
        status = err.status
    return Response(status_code=200 if status == 200 else 404, headers=PRODUCT_HEADERS)
