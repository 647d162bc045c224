"""Never a 500 for the bodies users write most: `_bulk` bodies, `_mget` bodies, ingest pipeline bodies
(stored and simulated) and mapping bodies (index creation and put mapping), each shaped like the real
thing with random values where values go, so the requests reach past JSON parsing into the code that
uses the values. Same judge as the route fuzz (tests/sandbox/test_route_fuzz.py): only a 500 that
Elasticsearch answers too is allowed.

FUZZ_EXAMPLES=2000 in the environment searches longer than the default run (about 10 s).
"""

from __future__ import annotations

import itertools
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.sandbox.test_route_fuzz import (  # noqa: F401
    INDEX,
    LEAVES,
    PIPELINE,
    Case,
    _error_type,
    _problem,
    _send,
    fuzzed,
)

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "1000")) // 5
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
NAMES = itertools.count()

VALUES = st.one_of(
    LEAVES, st.lists(LEAVES, max_size=2), st.dictionaries(st.sampled_from(["a", "b"]), LEAVES, max_size=2)
)
FIELDS = st.sampled_from(["t", "n", "x", "t.keyword", "a.b", "_id", "", "*", "_source", "é"])
DOCUMENTS = st.dictionaries(FIELDS, VALUES, max_size=4)


def _es_wraps_a_configuration_error(client, case: Case) -> bool:
    """ES's own 500: a processor factory's configuration error that is not an ElasticsearchException is
    wrapped by ExceptionsHelper.convertToElastic, a plain ElasticsearchException (type `exception`,
    reason the Java exception's toString), which answers 500."""
    resp = _send(client, case)
    reason = resp.json().get("error", {}).get("reason", "") if resp.status_code == 500 else ""
    return _error_type(resp) == "exception" and reason.startswith("java.lang.")


def _check(client_log, method: str, path: str, body: bytes, content_type: str = "application/json") -> None:
    client, log = client_log
    case = Case(method, path, path, {}, "shaped", body, content_type)
    problem = _problem(client, log, case)
    assert problem is None or _es_wraps_a_configuration_error(client, case), problem


# --- _bulk ----------------------------------------------------------------------------------------

ACTION_PARAMETERS = st.dictionaries(
    st.sampled_from(
        [
            "_index", "_id", "routing", "op_type", "version", "version_type", "if_seq_no", "if_primary_term",
            "retry_on_conflict", "pipeline", "_source", "require_alias", "require_data_stream",
            "list_executed_pipelines", "dynamic_templates", "colour",
        ]
    ),
    st.one_of(VALUES, st.sampled_from([INDEX, "fz-bulk", PIPELINE, "external", "create", "1", "-1"])),
    max_size=4,
)  # fmt: skip
UPDATE_BODIES = st.dictionaries(
    st.sampled_from(
        ["doc", "upsert", "doc_as_upsert", "script", "scripted_upsert", "detect_noop", "_source", "x"]
    ),
    st.one_of(VALUES, DOCUMENTS, st.builds(lambda s: {"source": s}, st.text(max_size=20))),
    max_size=3,
)
SOURCE_LINES = st.one_of(
    DOCUMENTS.map(json.dumps),
    UPDATE_BODIES.map(json.dumps),
    st.sampled_from(["", "{", "[1]", '{"a":1,"a":2}', '{"n": NaN}', "{} {}", "null", '{"a": 1} // note']),
)
ACTIONS = st.builds(
    lambda op, params, source: json.dumps({op: params}) + ("" if op == "delete" else "\n" + source),
    st.sampled_from(["index", "create", "update", "delete", "upsert"]),
    st.one_of(ACTION_PARAMETERS, st.builds(lambda p: {"_index": INDEX, **p}, ACTION_PARAMETERS)),
    SOURCE_LINES,
)
BULKS = st.lists(ACTIONS, min_size=1, max_size=4).map(lambda lines: ("\n".join(lines) + "\n").encode())


@SETTINGS
@given(body=BULKS, path=st.sampled_from(["/_bulk", f"/{INDEX}/_bulk", "/_bulk?pipeline=" + PIPELINE]))
def test_fuzzed_bulk_bodies_never_answer_500(fuzzed, body, path):  # noqa: F811
    _check(fuzzed, "POST", path, body, "application/x-ndjson")


# --- _mget ----------------------------------------------------------------------------------------

GET_ITEMS = st.dictionaries(
    st.sampled_from(["_index", "_id", "routing", "_source", "stored_fields", "version", "version_type", "x"]),
    st.one_of(VALUES, st.sampled_from([INDEX, "0", "1", "missing"])),
    max_size=4,
)
MGETS = st.dictionaries(
    st.sampled_from(["docs", "ids", "other"]),
    st.one_of(st.lists(st.one_of(GET_ITEMS, LEAVES), max_size=3), VALUES),
    min_size=1,
    max_size=2,
)


@SETTINGS
@given(body=MGETS, path=st.sampled_from(["/_mget", f"/{INDEX}/_mget", f"/{INDEX}/_mget?_source=t"]))
def test_fuzzed_mget_bodies_never_answer_500(fuzzed, body, path):  # noqa: F811
    _check(fuzzed, "POST", path, json.dumps(body).encode())


# --- ingest pipelines -----------------------------------------------------------------------------

PROCESSOR_TYPES = [
    "set", "remove", "rename", "append", "convert", "lowercase", "uppercase", "trim", "split", "join", "gsub",
    "date", "grok", "dissect", "foreach", "pipeline", "script", "inference", "fail", "drop", "bytes", "sort",
    "json", "kv", "dot_expander", "html_strip", "no_such_processor",
]  # fmt: skip
PROCESSOR_OPTIONS = st.dictionaries(
    st.sampled_from(
        [
            "field", "value", "target_field", "ignore_missing", "ignore_failure", "if", "on_failure", "tag",
            "type", "pattern", "patterns", "replacement", "separator", "formats", "processor", "name", "source",
            "model_id", "description", "copy_from", "override", "allow_duplicates", "order", "timezone",
            "input_output", "field_map", "inference_config",
        ]
    ),
    st.one_of(VALUES, FIELDS, st.sampled_from(["%{word}", "%{a} %{b}", "ctx.x = 1", "yyyy-MM-dd", "string"])),
    max_size=4,
)  # fmt: skip
PROCESSORS = st.lists(
    st.builds(lambda kind, options: {kind: options}, st.sampled_from(PROCESSOR_TYPES), PROCESSOR_OPTIONS),
    max_size=3,
)
PIPELINES = st.fixed_dictionaries(
    {"processors": st.one_of(PROCESSORS, VALUES)},
    optional={"description": VALUES, "on_failure": PROCESSORS, "version": VALUES, "_meta": VALUES},
)


@SETTINGS
@given(
    pipeline=PIPELINES, docs=st.lists(st.one_of(DOCUMENTS.map(lambda d: {"_source": d}), VALUES), max_size=2)
)
def test_fuzzed_pipeline_bodies_never_answer_500(fuzzed, pipeline, docs):  # noqa: F811
    _check(fuzzed, "PUT", "/_ingest/pipeline/fz-fuzzed", json.dumps(pipeline).encode())
    body = {"pipeline": pipeline, "docs": docs}
    _check(fuzzed, "POST", "/_ingest/pipeline/_simulate?verbose=true", json.dumps(body).encode())
    _check(fuzzed, "POST", f"/{INDEX}/_doc?pipeline=fz-fuzzed", json.dumps({"t": "x", "n": 1}).encode())


# --- mappings -------------------------------------------------------------------------------------

FIELD_TYPES = [
    "text", "keyword", "long", "integer", "float", "double", "boolean", "date", "object", "nested", "dense_vector",
    "sparse_vector", "semantic_text", "ip", "flattened", "rank_features", "no_such_type",
]  # fmt: skip
FIELD_PARAMETERS = st.dictionaries(
    st.sampled_from(
        [
            "type", "index", "store", "doc_values", "fields", "properties", "analyzer", "format", "dims",
            "similarity", "index_options", "null_value", "copy_to", "ignore_above", "inference_id", "enabled",
            "dynamic", "coerce", "ignore_malformed", "element_type", "search_analyzer",
        ]
    ),
    st.one_of(VALUES, st.sampled_from(FIELD_TYPES), st.sampled_from(["standard", "cosine", "strict", "t"])),
    max_size=4,
)  # fmt: skip
FIELD_MAPPINGS = st.builds(
    lambda kind, params: {"type": kind, **params}, st.sampled_from(FIELD_TYPES), FIELD_PARAMETERS
)
MAPPINGS = st.fixed_dictionaries(
    {"properties": st.dictionaries(FIELDS, st.one_of(FIELD_MAPPINGS, VALUES), max_size=3)},
    optional={
        "dynamic": VALUES,
        "_source": VALUES,
        "dynamic_templates": VALUES,
        "runtime": VALUES,
        "_meta": VALUES,
    },
)


@SETTINGS
@given(
    mappings=MAPPINGS,
    settings_=st.dictionaries(
        st.sampled_from(["number_of_shards", "index.mapping.total_fields.limit", "x"]), VALUES, max_size=2
    ),
)
def test_fuzzed_mapping_bodies_never_answer_500(fuzzed, mappings, settings_):  # noqa: F811
    name = f"fz-m{next(NAMES)}"
    _check(fuzzed, "PUT", f"/{name}", json.dumps({"mappings": mappings, "settings": settings_}).encode())
    _check(fuzzed, "PUT", f"/{INDEX}/_mapping", json.dumps(mappings).encode())
    _check(fuzzed, "PUT", f"/{name}/_doc/1", json.dumps({"t": "text", "n": 2, "x": [1, 2]}).encode())
    _check(fuzzed, "DELETE", f"/{name}", b"")


@pytest.mark.parametrize("kind", ["bulk", "mget", "pipeline", "mapping"])
def test_each_shape_reaches_past_parsing(fuzzed, kind):  # noqa: F811
    """A plain valid body of each kind is accepted, so the shaped bodies test more than the parser."""
    client, _ = fuzzed
    requests = {
        "bulk": ("POST", "/_bulk", b'{"index":{"_index":"' + INDEX.encode() + b'"}}\n{"t":"ok"}\n'),
        "mget": ("POST", f"/{INDEX}/_mget", b'{"ids":["0"]}'),
        "pipeline": ("PUT", "/_ingest/pipeline/fz-ok", b'{"processors":[{"set":{"field":"a","value":1}}]}'),
        "mapping": ("PUT", f"/{INDEX}/_mapping", b'{"properties":{"k":{"type":"keyword"}}}'),
    }
    method, path, body = requests[kind]
    resp = client.request(method, path, content=body, headers={"content-type": "application/json"})
    assert resp.status_code == 200, resp.text
