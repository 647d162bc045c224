"""`_validate/query` and `_explain`: whether a query parses and builds on each index (with the Lucene
query it becomes), and why one document matches it with what score."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from es_sandbox.errors import EsError, index_not_found, parse_error, validation_failed
from es_sandbox.http import Router, bool_param, json_body
from es_sandbox.indices.api import resolve_sorted
from es_sandbox.search.fields import FieldResolver, analyze
from es_sandbox.search.hits import shards
from es_sandbox.search.queries import compile_query, prepare_query
from es_sandbox.search.queries.common import single
from es_sandbox.search.request import q_param
from es_sandbox.search.source import SourceFilter

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster
    from es_sandbox.indices import Index

router = Router()


async def _query_of(request: Request) -> dict[str, Any] | None:
    """RestActions.getQueryContent: a body holds `query` and nothing else; `q` wins."""
    body = await json_body(request)
    for key in body:
        if key != "query":
            raise parse_error(f"request does not support [{key}]")
    if "q" in request.query_params:
        return q_param(request.query_params)
    return body.get("query")


# --- the Lucene query a query becomes (Query.toString) -------------------------------------------


def describe(query: Any, resolver: FieldResolver) -> str:
    """Lucene's rendering of the query a DSL query becomes, for the common query types."""
    if not isinstance(query, dict) or len(query) != 1:
        return "*:*"
    ((name, body),) = query.items()
    text = _describe(name, body, resolver)
    boost = body.get("boost") if isinstance(body, dict) else None
    return f"({text})^{float(boost)}" if boost not in (None, 1, 1.0) else text


def _is_boolean(query: Any, resolver: FieldResolver) -> bool:
    """Whether a query becomes a BooleanQuery (Lucene wraps those in parentheses inside another)."""
    if not isinstance(query, dict) or len(query) != 1:
        return False
    ((name, body),) = query.items()
    if name == "bool":
        return True
    if name == "match" and isinstance(body, dict):
        try:
            field, spec = single(body, name)
        except EsError:
            return False
        value = spec.get("query") if isinstance(spec, dict) else spec
        return resolver(field).kind in ("text", "auto") and isinstance(value, str) and len(analyze(value)) > 1
    return False


def _describe(name: str, body: Any, resolver: FieldResolver) -> str:
    if name == "match_all":
        return "*:*"
    if name == "match_none":
        return 'MatchNoDocsQuery("User requested \\"match_none\\" query.")'
    if name == "bool":
        parts = []
        for key, prefix in (("must", "+"), ("filter", "#"), ("should", ""), ("must_not", "-")):
            clauses = body.get(key) or []
            for clause in clauses if isinstance(clauses, list) else [clauses]:
                inner = describe(clause, resolver)
                parts.append(f"{prefix}({inner})" if _is_boolean(clause, resolver) else f"{prefix}{inner}")
        return " ".join(parts) or "*:*"
    if name == "constant_score":
        return f"ConstantScore({describe(body.get('filter'), resolver)})"
    if name == "dis_max":
        inner = " | ".join(describe(q, resolver) for q in body.get("queries") or [])
        tie = float(body.get("tie_breaker", 0.0))
        return f"({inner})" + (f"~{tie}" if tie else "")
    if name == "exists":
        return f"FieldExistsQuery [field={body.get('field')}]"
    if name == "ids":
        return f"_id:({' '.join(str(v) for v in body.get('values', []))})"
    try:
        field, spec = single(body, name)
    except EsError:
        return name
    value = spec.get("query", spec.get("value")) if isinstance(spec, dict) else spec
    kind = resolver(field).kind
    if name in ("match", "match_phrase") and kind in ("text", "auto") and isinstance(value, str):
        terms = analyze(value)
        if name == "match_phrase":
            return f'{field}:"{" ".join(terms)}"'
        must = isinstance(spec, dict) and str(spec.get("operator", "or")).lower() == "and"
        rendered = [f"{'+' if must else ''}{field}:{t}" for t in terms]
        return rendered[0] if len(rendered) == 1 else " ".join(rendered)
    if name == "terms":
        return f"{field}:({' '.join(str(v) for v in value)})"
    if name == "range" and isinstance(spec, dict):
        low = spec.get("gte", spec.get("gt", "*"))
        high = spec.get("lte", spec.get("lt", "*"))
        return f"{field}:{'{' if 'gt' in spec else '['}{low} TO {high}{'}' if 'lt' in spec else ']'}"
    if name == "prefix":
        return f"{field}:{value}*"
    if kind == "numeric":
        return f"{field}:[{value} TO {value}]"
    return f"{field}:{value}"


# --- _validate/query ---------------------------------------------------------------------------------


@router.route("/_validate/query", "GET", "POST")
@router.route("/{index}/_validate/query", "GET", "POST")
async def validate_query(request: Request, cluster: Cluster):
    explain = bool_param(request, "explain")
    try:
        query = await _query_of(request)
    except EsError as err:
        return _invalid(err, explain)
    indices = resolve_sorted(request, cluster, request.path_params.get("index"))
    explanations = []
    valid = True
    try:
        query = await prepare_query(query, cluster, indices)
        for index in indices:
            entry: dict[str, Any] = {"index": index.name}
            try:
                compile_query(query, cluster, index=index)
                entry.update(
                    valid=True,
                    explanation=describe(query or {"match_all": {}}, FieldResolver(index.mappings)),
                )
            except EsError as err:
                if err.type in ("parsing_exception", "x_content_parse_exception"):
                    raise
                valid = False
                entry.update(
                    valid=False, error=f"[{index.name}/{index.uuid}] QueryShardException[{err.reason}]"
                )
            explanations.append(entry)
    except EsError as err:
        if err.type not in ("parsing_exception", "x_content_parse_exception"):
            raise
        return _invalid(err, explain)
    out: dict[str, Any] = {"_shards": {**shards(indices), "failed": 0}, "valid": valid}
    if explain:
        out["explanations"] = explanations
    return out


def _invalid(err: EsError, explain: bool) -> dict[str, Any]:
    """RestValidateQueryAction: a request that does not parse is not valid (its reason on explain)."""
    if not explain:
        return {"valid": False}
    message = f"org.elasticsearch.common.ParsingException: {err.reason}"
    if err.reason.startswith("unknown query ["):
        name = err.reason.split("[", 1)[1].split("]", 1)[0]
        message += f"; org.elasticsearch.xcontent.NamedObjectNotFoundException: unknown field [{name}]"
    return {"valid": False, "error": message}


# --- _explain ----------------------------------------------------------------------------------------


@router.route("/{index}/_explain/{id}", "GET", "POST")
async def explain(request: Request, cluster: Cluster):
    query = await _query_of(request)
    if query is None:
        raise validation_failed("query is missing")
    index = _single_index(cluster, request.path_params["index"])
    doc_id = request.path_params["id"]
    query = await prepare_query(query, cluster, [index])
    matcher = compile_query(query, cluster, index=index)
    doc = index.docs.get(doc_id)
    if doc is None:
        return 404, {"_index": index.name, "_id": doc_id, "matched": False}
    score = matcher(doc_id, doc.source)
    out: dict[str, Any] = {"_index": index.name, "_id": doc_id, "matched": score is not None}
    out["explanation"] = _explanation(query or {"match_all": {}}, index, doc_id, doc.source, cluster)
    source = SourceFilter.parse(None, request)
    if (
        any(p in request.query_params for p in ("_source", "_source_includes", "_source_excludes"))
        and source.enabled
    ):
        out["get"] = {
            "_seq_no": doc.seq_no,
            "_primary_term": doc.primary_term,
            "found": True,
            "_source": source.render(doc.source, index),
        }
    return out


def _single_index(cluster: Cluster, expression: str) -> Index:
    found = cluster.indices.resolve(expression)
    if not found:
        raise index_not_found(expression)
    if len(found) > 1:
        return cluster.indices.get(expression)  # refuses an alias of several indices as ES does
    return found[0]


def _explanation(query: dict[str, Any], index: Index, doc_id: str, source: dict[str, Any], cluster: Cluster):
    resolver = FieldResolver(index.mappings)
    score = compile_query(query, cluster, index=index)(doc_id, source)
    if score is None:
        return {"value": 0.0, "description": f"no match on {describe(query, resolver)}", "details": []}
    ((name, body),) = query.items()
    if name != "bool":
        return {"value": score, "description": describe(query, resolver), "details": []}
    details = []
    for key in ("must", "should"):  # the scoring clauses (filters and must_not add nothing)
        clauses = body.get(key) or []
        for clause in clauses if isinstance(clauses, list) else [clauses]:
            child = _explanation(clause, index, doc_id, source, cluster)
            if child["value"]:
                details.append(child)
    return {"value": score, "description": "sum of:", "details": details}
