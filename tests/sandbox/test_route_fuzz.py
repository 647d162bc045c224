"""Never a 500 for a request Elasticsearch would serve: every route the sandbox serves (enumerated from
its router) gets well-formed and malformed bodies, query parameters and methods, over real HTTP, and
no answer may be the sandbox's own unhandled-error 500 or a dropped connection.

A 500 is allowed only where Elasticsearch itself answers 500 (FAITHFUL_500S, each with its reason).
Requests known to fail in another helper's area are listed in KNOWN_FAILURES with their owner: they
run as expected failures (strict, so a fix is noticed) and the random search steers around them.

FUZZ_EXAMPLES=2000 in the environment searches longer than the default run.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from es_sandbox import SandboxConfig, SandboxProcess
from es_sandbox.app import create_app
from tests.conftest import TEST_SANDBOX

# Elasticsearch answers these with 500 too: (error type, why).
FAITHFUL_500S = {
    "unsupported_operation_exception": "RestTable throws UnsupportedOperationException for an unknown cat sort key",
    "illegal_state_exception": "IllegalStateException is a 500 in ES (a resize of an index without a write block)",
    "null_pointer_exception": "SearchRequest.indices requires non-null names: an _msearch header's index [null]",
}


@dataclass(frozen=True)
class KnownFailure:
    """A 500 found in another helper's area: who owns it, what fails, one exact request that shows it
    (run as a strict expected failure), and which fuzzed requests it covers (skipped by the search)."""

    owner: str
    what: str
    method: str
    path: str
    body: dict[str, Any]
    covers: Callable[[Case], bool]


KNOWN_FAILURES: list[KnownFailure] = []  # none open: add one with its owner when the fuzz finds it

INDEX, ALIAS, PIPELINE, DOC_ID = "fz", "fz-alias", "fz-pipeline", "1"


@cache
def served_routes() -> list[tuple[str, str]]:
    """(method, template) of every endpoint the sandbox's router serves, but the sandbox's own
    controls (faults and reset are not Elasticsearch APIs, and arming faults would fail everything
    after)."""
    table = create_app(SandboxConfig()).router.table
    return sorted(r for r in table.served_routes() if not r[1].startswith("/_sandbox"))


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    log = tmp_path_factory.mktemp("fuzz") / "sandbox.log"
    proc = SandboxProcess(SandboxConfig(**TEST_SANDBOX), log_path=log)
    client = httpx.Client(base_url=proc.url, timeout=20)
    _seed(client)
    yield client, log
    client.close()
    proc.stop()


def _seed(client: httpx.Client) -> None:
    """Something for the routes to find: an index with documents and an alias, and a pipeline."""
    client.put(
        f"/{INDEX}", json={"aliases": {ALIAS: {}}, "mappings": {"properties": {"t": {"type": "text"}}}}
    )
    for i in range(3):
        client.put(f"/{INDEX}/_doc/{i}?refresh=true", json={"t": f"text {i}", "n": i})
    client.put(f"/_ingest/pipeline/{PIPELINE}", json={"processors": [{"set": {"field": "x", "value": 1}}]})


# --- what a request is made of -------------------------------------------------------------------

NAMES = st.sampled_from(
    [
        INDEX,
        ALIAS,
        PIPELINE,
        DOC_ID,
        "_all",
        "*",
        "fz*",
        "missing",
        "-x",
        "UPPER",
        "a,b",
        "%2F",
        "é",
        ".hidden",
    ]
)
PARAM_NAMES = [
    "pretty", "human", "error_trace", "filter_path", "format", "v", "h", "s", "help", "bytes", "time",
    "size", "from", "q", "df", "sort", "_source", "_source_includes", "refresh", "routing", "pipeline",
    "op_type", "version", "version_type", "if_seq_no", "if_primary_term", "wait_for_completion",
    "wait_for_status", "timeout", "master_timeout", "scroll", "keep_alive", "requests_per_second",
    "slices", "conflicts", "max_docs", "expand_wildcards", "ignore_unavailable", "allow_no_indices",
    "include_defaults", "flat_settings", "detailed", "actions", "nodes", "level", "local", "verbose",
    "allow_no_match", "force", "wait_for", "number_of_allocations", "threads_per_allocation",
    "priority", "queue_capacity", "deployment_id", "task_type", "include", "exclude_generated",
    "require_alias", "health", "full_id", "group_by", "metric",
]  # fmt: skip
PARAM_VALUES = st.one_of(
    st.sampled_from(["true", "false", "", "0", "1", "-1", "10", "1ms", "0s", "5m", "abc", "_all", "*"]),
    st.integers(-(2**40), 2**40).map(str),
    st.text(max_size=12),
)
QUERY = st.dictionaries(st.sampled_from(PARAM_NAMES), PARAM_VALUES, max_size=4)

KEYS = [
    "query", "size", "from", "sort", "_source", "settings", "mappings", "aliases", "properties", "processors",
    "description", "source", "dest", "index", "script", "docs", "actions", "add", "remove", "input",
    "inference_config", "model_type", "field_names", "text_field", "keep_alive", "scroll_id", "pit", "id",
    "match_all", "match", "term", "bool", "must", "filter", "type", "field", "value", "number_of_shards",
    "pipeline", "max_docs", "conflicts", "service", "service_settings", "task_settings", "chunking_settings",
]  # fmt: skip
LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63), st.floats(allow_nan=False), st.text(max_size=8)
)
JSON_VALUES = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)
    ),
    max_leaves=12,
)
OBJECTS = st.dictionaries(st.sampled_from(KEYS), JSON_VALUES, max_size=5)

BODIES = {
    "none": st.just(None),
    "empty object": st.just(b"{}"),
    "object": OBJECTS.map(lambda o: json.dumps(o).encode()),
    "other JSON": JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    "ndjson": st.lists(OBJECTS.map(json.dumps), min_size=1, max_size=4).map(
        lambda ls: "\n".join(ls).encode() + b"\n"
    ),
    "broken JSON": st.sampled_from(
        [b"{", b"{]", b'{"a":}', b"{}{}", b"nul", b'{"a": 1,}', b"\xff\xfe{}", b"\x00"]
    ),
    "bytes": st.binary(max_size=64),
}
# Bodies shaped like the real ones, with random values where values go, to reach past parsing.
FIELDS = st.sampled_from(["t", "n", "missing", "t.keyword", "_id", "*", ""])
VALUES = st.one_of(LEAVES, st.lists(LEAVES, max_size=2))
QUERIES = st.recursive(
    st.one_of(
        st.just({"match_all": {}}),
        st.builds(lambda f, v: {"match": {f: v}}, FIELDS, VALUES),
        st.builds(lambda f, v: {"term": {f: v}}, FIELDS, VALUES),
        st.builds(lambda f, v: {"terms": {f: v}}, FIELDS, VALUES),
        st.builds(lambda f, v: {"range": {f: {"gte": v}}}, FIELDS, VALUES),
        st.builds(lambda f: {"exists": {"field": f}}, FIELDS),
        st.builds(lambda v: {"ids": {"values": v}}, VALUES),
        st.builds(lambda f, v: {"prefix": {f: v}}, FIELDS, VALUES),
        st.builds(lambda f, v: {"wildcard": {f: v}}, FIELDS, VALUES),
        st.builds(lambda v: {"query_string": {"query": v}}, VALUES),
        st.builds(lambda f, v: {"sparse_vector": {"field": f, "query_vector": v}}, FIELDS, VALUES),
        st.builds(lambda f, v: {"text_expansion": {f: {"model_id": v, "model_text": v}}}, FIELDS, VALUES),
    ),
    lambda inner: st.builds(
        lambda must, flt, should: {"bool": {"must": must, "filter": flt, "should": should}},
        st.lists(inner, max_size=2),
        st.lists(inner, max_size=2),
        st.lists(inner, max_size=2),
    ),
    max_leaves=4,
)


def _options(*names: str) -> st.SearchStrategy:
    """An object of some of these options, each with a random value."""
    return st.dictionaries(st.sampled_from(names), VALUES, max_size=3)


SORT_OPTIONS = _options("order", "missing", "unmapped_type", "mode", "format")
HIGHLIGHT_OPTIONS = _options(
    "type", "pre_tags", "post_tags", "fragment_size", "number_of_fragments", "require_field_match", "order"
)
SEARCHES = st.fixed_dictionaries(
    {"query": QUERIES},
    optional={
        "size": VALUES,
        "from": VALUES,
        "sort": st.one_of(
            VALUES,
            st.lists(
                st.one_of(
                    FIELDS,
                    VALUES,
                    st.dictionaries(
                        FIELDS, st.one_of(st.sampled_from(["asc", "desc", "x"]), VALUES, SORT_OPTIONS)
                    ),
                ),
                max_size=2,
            ),
        ),
        "_source": st.one_of(VALUES, _options("includes", "excludes", "exclude_vectors")),
        "search_after": st.one_of(VALUES, st.lists(JSON_VALUES, max_size=2)),
        "track_total_hits": VALUES,
        "terminate_after": VALUES,
        "min_score": VALUES,
        "version": VALUES,
        "highlight": st.builds(
            lambda options, fields: {**options, "fields": fields},
            HIGHLIGHT_OPTIONS,
            st.one_of(
                VALUES, st.dictionaries(FIELDS, st.one_of(st.just({}), VALUES, HIGHLIGHT_OPTIONS), max_size=2)
            ),
        ),
    },
)
PROCESSOR_TYPES = st.sampled_from(
    ["append", "convert", "date", "dissect", "drop", "fail", "foreach", "grok", "inference", "lowercase",
     "pipeline", "remove", "rename", "script", "set", "trim", "uppercase"]
)  # fmt: skip
PROCESSORS = st.builds(
    lambda kind, config: {kind: config},
    PROCESSOR_TYPES,
    st.fixed_dictionaries(
        {},
        optional={
            "field": FIELDS,
            "value": VALUES,
            "target_field": FIELDS,
            "type": VALUES,
            "pattern": VALUES,
            "patterns": VALUES,
            "formats": VALUES,
            "name": VALUES,
            "model_id": VALUES,
            "if": VALUES,
            "source": VALUES,
            "processor": VALUES,
            "ignore_missing": VALUES,
            "ignore_failure": VALUES,
            "on_failure": VALUES,
        },
    ),
)
PIPELINES = st.fixed_dictionaries(
    {"processors": st.lists(PROCESSORS, max_size=3)}, optional={"description": VALUES}
)
MAPPINGS = st.dictionaries(
    FIELDS,
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(
                ["text", "keyword", "long", "date", "dense_vector", "sparse_vector", "semantic_text", "x"]
            )
        },
        optional={"dims": VALUES, "inference_id": VALUES, "format": VALUES, "fields": VALUES},
    ),
    max_size=3,
)
SHAPED = st.one_of(
    SEARCHES,
    PIPELINES,
    st.fixed_dictionaries(
        {"pipeline": PIPELINES, "docs": st.lists(st.builds(lambda d: {"_source": d}, OBJECTS), max_size=2)}
    ),
    st.fixed_dictionaries(
        {},
        optional={
            "settings": st.dictionaries(
                st.sampled_from(
                    ["number_of_shards", "number_of_replicas", "index.hidden", "default_pipeline"]
                ),
                VALUES,
            ),
            "mappings": st.builds(lambda p: {"properties": p}, MAPPINGS),
            "aliases": st.dictionaries(NAMES, st.just({})),
        },
    ),
    st.builds(lambda p: {"properties": p}, MAPPINGS),
    st.fixed_dictionaries(
        {
            "actions": st.lists(
                st.builds(
                    lambda k, i, a: {k: {"index": i, "alias": a}},
                    st.sampled_from(["add", "remove", "remove_index"]),
                    NAMES,
                    NAMES,
                ),
                max_size=2,
            )
        }
    ),
    st.fixed_dictionaries(
        {
            "source": st.fixed_dictionaries({"index": NAMES}, optional={"query": QUERIES}),
            "dest": st.fixed_dictionaries({"index": NAMES}, optional={"pipeline": VALUES, "op_type": VALUES}),
        },
        optional={"max_docs": VALUES, "conflicts": VALUES, "script": VALUES},
    ),
    st.fixed_dictionaries(
        {
            "docs": st.lists(
                st.dictionaries(st.sampled_from(["text_field", "_index", "_id", "t"]), VALUES), max_size=2
            )
        }
    ),
    st.fixed_dictionaries(
        {},
        optional={
            "input": st.builds(lambda v: {"field_names": v}, VALUES),
            "inference_config": st.dictionaries(
                st.sampled_from(
                    [
                        "text_expansion",
                        "text_embedding",
                        "ner",
                        "fill_mask",
                        "zero_shot_classification",
                        "regression",
                    ]
                ),
                st.just({}),
                max_size=1,
            ),
            "model_type": VALUES,
            "definition": VALUES,
        },
    ),
    st.fixed_dictionaries(
        {"service": st.sampled_from(["elasticsearch", "elser", "openai", "x"])},
        optional={
            "service_settings": st.dictionaries(
                st.sampled_from(["model_id", "num_allocations", "num_threads", "adaptive_allocations"]),
                VALUES,
            ),
            "chunking_settings": VALUES,
            "task_settings": VALUES,
        },
    ),
    st.fixed_dictionaries(
        {}, optional={"doc": OBJECTS, "upsert": OBJECTS, "doc_as_upsert": VALUES, "script": VALUES}
    ),
    st.fixed_dictionaries(
        {}, optional={"scroll_id": VALUES, "scroll": VALUES, "id": VALUES, "keep_alive": VALUES}
    ),
)
BULK_ACTIONS = st.builds(
    lambda action, meta, doc: [{action: meta}] + ([] if action == "delete" else [doc]),
    st.sampled_from(["index", "create", "update", "delete", "bogus"]),
    st.fixed_dictionaries(
        {},
        optional={
            "_index": NAMES,
            "_id": VALUES,
            "pipeline": VALUES,
            "require_alias": VALUES,
            "if_seq_no": VALUES,
        },
    ),
    st.one_of(OBJECTS, st.builds(lambda d: {"doc": d}, OBJECTS)),
)
BODIES["shaped"] = SHAPED.map(lambda o: json.dumps(o).encode())
BODIES["bulk"] = st.lists(BULK_ACTIONS, min_size=1, max_size=3).map(
    lambda actions: "".join(json.dumps(line) + "\n" for action in actions for line in action).encode()
)

CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/x-ndjson",
        "text/plain",
        "application/vnd.elasticsearch+json; compatible-with=9",
        None,
    ]
)
OTHER_METHODS = st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"])


@dataclass(frozen=True)
class Case:
    method: str
    template: str
    path: str
    query: dict[str, str]
    body_kind: str
    body: bytes | None
    content_type: str | None


def _fill(template: str, names: list[str]) -> str:
    values = iter(names)
    return re.sub(r"\{[^}]+\}", lambda _: next(values), template)


@st.composite
def cases(draw) -> Case:
    method, template = draw(st.sampled_from(served_routes()))
    if draw(st.integers(0, 9)) == 0:
        method = draw(OTHER_METHODS)  # sometimes a method the route may not take
    names = [draw(NAMES) for _ in range(template.count("{"))]
    body_kind = draw(st.sampled_from(sorted(BODIES)))
    query = draw(QUERY)
    if any(k.startswith("wait_for") for k in query) or "timeout" in query:
        query["timeout"] = "10ms"  # waits are bounded so one request cannot stall the run
    return Case(
        method,
        template,
        _fill(template, names),
        query,
        body_kind,
        draw(BODIES[body_kind]),
        draw(CONTENT_TYPES),
    )


def _known(case: Case) -> KnownFailure | None:
    return next((known for known in KNOWN_FAILURES if known.covers(case)), None)


# --- sending and judging -------------------------------------------------------------------------


def _send(client: httpx.Client, case: Case) -> httpx.Response:
    headers = {"content-type": case.content_type} if case.content_type and case.body is not None else {}
    url = httpx.URL(case.path, params=case.query)
    return client.request(case.method, url, content=case.body, headers=headers)


def _problem(client: httpx.Client, log, case: Case) -> str | None:
    """Why this request's answer is a defect, or None."""
    try:
        resp = _send(client, case)
    except httpx.TransportError as exc:
        return f"{case}: the connection failed ({exc!r})"
    if resp.status_code != 500:
        return None
    error = _error_type(resp)
    if error in FAITHFUL_500S:
        return None
    return f"{case}: HTTP 500 {resp.text[:300]}\n--- sandbox log tail ---\n{_log_tail(log)}"


def _error_type(resp: httpx.Response) -> str | None:
    try:
        error = resp.json().get("error")
    except (ValueError, AttributeError):
        return None
    return error.get("type") if isinstance(error, dict) else None


def _log_tail(log) -> str:
    try:
        return "\n".join(log.read_text().splitlines()[-25:])
    except OSError:
        return "(no log)"


def test_every_served_route_is_fuzzed():
    """The route list comes from the router, so a new endpoint is fuzzed without editing this file."""
    routes = served_routes()
    assert ("GET", "/_cat/indices") in routes and ("POST", "/{index}/_search") in routes
    assert len(routes) > 100


def test_each_route_survives_the_basic_malformations(fuzzed):
    """Every route, deterministically: no body, an empty object, broken JSON, a JSON array."""
    client, log = fuzzed
    problems = []
    for method, template in served_routes():
        path = _fill(
            template, [INDEX if "index" in p else DOC_ID for p in re.findall(r"\{([^}]+)\}", template)]
        )
        for kind, body in (
            ("none", None),
            ("empty object", b"{}"),
            ("broken JSON", b"{"),
            ("other JSON", b"[1]"),
        ):
            case = Case(method, template, path, {}, kind, body, "application/json")
            if _known(case) is None and (problem := _problem(client, log, case)):
                problems.append(problem)
    assert not problems, "\n\n".join(problems)


@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "600")),
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(case=cases())
def test_fuzzed_requests_never_answer_500(fuzzed, case):
    client, log = fuzzed
    if _known(case) is not None:
        return  # listed, and run as an expected failure in test_known_failures
    problem = _problem(client, log, case)
    assert problem is None, problem


@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "600")) // 3,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(body=SEARCHES, template=st.sampled_from(["/{index}/_search", "/_msearch", "/{index}/_count"]))
def test_fuzzed_search_bodies_never_answer_500(fuzzed, body, template):
    """The search body alone: the route-wide search meets a shaped search body on a search route in
    few of its cases, so its options get their own share (as `_search`, an `_msearch` line, `_count`)."""
    client, log = fuzzed
    content = json.dumps(body).encode()
    if template == "/_msearch":
        content = b'{"index": "' + INDEX.encode() + b'"}\n' + content + b"\n"
    case = Case(
        "POST", template, template.replace("{index}", INDEX), {}, "shaped", content, "application/json"
    )
    problem = _problem(client, log, case)
    assert problem is None, problem


@pytest.mark.parametrize(
    "known",
    [
        pytest.param(
            known,
            id=f"{known.method} {known.path}",
            marks=pytest.mark.xfail(strict=True, reason=f"owner {known.owner}: {known.what}"),
        )
        for known in KNOWN_FAILURES
    ],
)
def test_known_failures(fuzzed, known):
    client, log = fuzzed
    path = known.path.replace("{index}", INDEX)
    case = Case(
        known.method, known.path, path, {}, "object", json.dumps(known.body).encode(), "application/json"
    )
    assert known.covers(case)
    assert _problem(client, log, case) is None
