"""`if` conditions, the script processor (the Painless subset the sandbox runs, and what it refuses)
and verbose `_simulate` results as Elasticsearch nests them, through the real client."""

from __future__ import annotations

import asyncio

import pytest
from elasticsearch import ApiError


def simulate(es, processors, source, *, verbose=False, **pipeline):
    return es.ingest.simulate(
        pipeline={"processors": processors, **pipeline}, docs=[{"_source": source}], verbose=verbose
    )["docs"][0]


def marked(es, condition, source, params=None):
    """Whether the condition let a set processor run on the document."""
    if_ = condition if params is None else {"source": condition, "params": params}
    out = simulate(es, [{"set": {"field": "hit", "value": True, "if": if_}}], source)
    assert "error" not in out, out
    return out["doc"]["_source"].get("hit", False)


@pytest.mark.parametrize(
    ("condition", "source", "expected"),
    [
        ("ctx.level == 'error'", {"level": "error"}, True),
        ('ctx["level"] == "error"', {"level": "warn"}, False),
        ("ctx.level != 'debug'", {"level": "info"}, True),
        ("ctx.missing == null", {}, True),
        ("ctx.user != null", {"user": None}, False),
        ("ctx.user?.name == 'ann'", {}, False),
        ("ctx.user?.name == 'ann'", {"user": {"name": "ann"}}, True),
        ("ctx.a?.b?.c == null", {"a": {"b": None}}, True),
        ("ctx.tags.contains('vip')", {"tags": ["new", "vip"]}, True),
        ("ctx.message.contains('timeout')", {"message": "request timeout after 3s"}, True),
        ("ctx.containsKey('id') && !ctx.containsKey('skip')", {"id": 1}, True),
        ("ctx.n > 5 || ctx.force == true", {"n": 3, "force": True}, True),
        ("ctx.n >= 5 && ctx.n < 10", {"n": 10}, False),
        ("ctx.n == 5.0", {"n": 5}, True),
        ("ctx.flag == 1", {"flag": True}, False),
        ("(ctx.kind ?: 'default') == 'default'", {}, True),
        ("ctx.name.toLowerCase().startsWith('el')", {"name": "Elastic"}, True),
        ("ctx.list.size() == 2 && ctx.list[1] == 'b'", {"list": ["a", "b"]}, True),
        ("true", {}, True),
        ("false", {}, False),
        # from the Apache access-log pipeline of Elasticsearch's 340_apache_access_log.yml
        ("ctx.message.startsWith('{')", {"message": "1.2.3.4 - -"}, False),
        ("ctx.event?.original == null", {}, True),
        (
            "ctx.apache?.access?.remote_addresses != null && ctx.apache.access.remote_addresses.length > 0",
            {"apache": {"access": {"remote_addresses": ["203.0.113.195"]}}},
            True,
        ),
        ("ctx.tags == null || !(ctx.tags.contains('preserve_original_event'))", {"tags": ["x"]}, True),
        (
            "ctx.http?.response?.status_code != null && ctx.http.response.status_code < 400",
            {"http": {}},
            False,
        ),
    ],
)
def test_condition_forms(es, condition, source, expected):
    assert marked(es, condition, source) is expected


def test_condition_params_and_metadata(es):
    assert marked(es, "ctx.n > params.min", {"n": 3}, params={"min": 2}) is True
    assert marked(es, "params['names'].contains(ctx.who)", {"who": "bo"}, params={"names": ["al"]}) is False
    out = simulate(es, [{"set": {"field": "hit", "value": 1, "if": "ctx._index == 'logs'"}}], {})
    assert "hit" not in out["doc"]["_source"]  # the simulated document's _index is "_index"


def test_condition_runtime_errors_are_painless_script_exceptions(es):
    error = simulate(es, [{"set": {"field": "x", "value": 1, "if": "ctx.a.b == 1"}}], {})["error"]
    expected = {
        "type": "script_exception",
        "reason": "runtime error",
        "script_stack": ["ctx.a.b == 1", "     ^---- HERE"],
        "script": "ctx.a.b == 1",
        "lang": "painless",
        "position": {"offset": 5, "start": 0, "end": 12},
    }
    assert error == {
        "root_cause": [expected],
        **expected,
        "caused_by": {
            "type": "null_pointer_exception",
            "reason": "cannot access method/field [b] from a null def reference",
        },
    }
    not_boolean = simulate(es, [{"set": {"field": "x", "value": 1, "if": "ctx.a"}}], {"a": "yes"})["error"]
    assert not_boolean["caused_by"] == {
        "type": "class_cast_exception",
        "reason": "cannot cast def [java.lang.String] to boolean",
    }
    as_int = simulate(es, [{"set": {"field": "x", "value": 1, "if": "ctx.n"}}], {"n": 1})["error"]
    assert as_int["caused_by"]["reason"] == "cannot cast def [int] to boolean"
    missing = simulate(es, [{"set": {"field": "x", "value": 1, "if": "ctx.missing > 1"}}], {})["error"]
    assert missing["caused_by"] == {
        "type": "null_pointer_exception",
        "reason": 'Cannot invoke "Object.getClass()" because "leftObject" is null',
    }
    compared = simulate(es, [{"set": {"field": "x", "value": 1, "if": "ctx.a > 1"}}], {"a": "b"})["error"]
    assert compared["caused_by"]["reason"] == (
        "Cannot apply [>] operation to types [java.lang.String] and [java.lang.Integer]."
    )
    unknown = simulate(es, [{"set": {"field": "x", "value": 1, "if": "ctx.a.isEmpty()"}}], {"a": 5})["error"]
    assert unknown["caused_by"]["reason"] == "dynamic method [java.lang.Integer, isEmpty/0] not found"


def put_error(es, processors):
    with pytest.raises(ApiError) as info:
        es.ingest.put_pipeline(id="p", processors=processors)
    return info.value.meta.status, info.value.body["error"]


def test_condition_configuration_errors(es):
    status, error = put_error(es, [{"set": {"field": "a", "value": 1, "if": 5}}])
    assert (status, error["type"], error["reason"], error["processor_type"], error["property_name"]) == (
        400,
        "parse_exception",
        "[script] property isn't a map or string, but of type [java.lang.Integer]",
        "conditional",
        "script",
    )
    status, error = put_error(es, [{"set": {"field": "a", "value": 1, "if": {"lang": "painless"}}}])
    assert (status, error["type"], error["reason"]) == (
        400,
        "illegal_argument_exception",
        "must specify either [source] for an inline script or [id] for a stored script",
    )
    status, error = put_error(es, [{"set": {"field": "a", "value": 1, "if": {"id": "stored"}}}])
    assert error["reason"] == "[if] es_sandbox has no stored scripts: give the conditions inline as [source]"
    status, error = put_error(
        es, [{"set": {"field": "a", "value": 1, "if": {"source": "1", "lang": "expression"}}}]
    )
    assert error["reason"] == "[if] es_sandbox runs only painless conditions, not [expression]"
    status, error = put_error(es, [{"set": {"field": "a", "value": 1, "if": "def x = 1; x == 1"}}])
    assert (
        "cannot run [def x = 1; x == 1]: [def] is not supported (only ctx, params and literals are)"
        in (error["reason"])
    )


def test_conditions_gate_indexing_and_count_only_the_runs_they_let_through(es):
    es.ingest.put_pipeline(
        id="route",
        processors=[
            {"set": {"field": "priority", "value": "high", "if": "ctx.level == 'error'", "tag": "hi"}},
            {"lowercase": {"field": "level", "if": "ctx.level != null"}},
        ],
    )
    es.index(index="events", id="1", document={"level": "error"}, pipeline="route")
    es.index(index="events", id="2", document={"level": "INFO"}, pipeline="route")
    assert es.get(index="events", id="1")["_source"] == {"level": "error", "priority": "high"}
    assert es.get(index="events", id="2")["_source"] == {"level": "info"}
    (node,) = es.nodes.stats(metric="ingest")["nodes"].values()
    processors = node["ingest"]["pipelines"]["route"]["processors"]
    assert [(list(p)[0], p[list(p)[0]]["stats"]["count"]) for p in processors] == [
        ("set:hi", 1),
        ("lowercase", 2),
    ]


# --- script processor -----------------------------------------------------------------------------


def test_script_assignments_concatenation_and_params(es):
    out = simulate(
        es,
        [
            {
                "script": {
                    "source": "ctx.full = ctx.first + ' ' + ctx.last; ctx['@tz'] = params.tz[ctx.short];"
                    " ctx.n = ctx.n + 1; ctx.meta.seen = true; ctx._index = 'people-' + ctx.short;",
                    "params": {"tz": {"PST": "America/Los_Angeles"}},
                }
            },
            {"script": "ctx.copy = ctx.full"},
        ],
        {"first": "Ann", "last": "Lee", "short": "PST", "n": 2147483647, "meta": {}},
    )["doc"]
    assert out["_source"] == {
        "first": "Ann",
        "last": "Lee",
        "short": "PST",
        "n": -2147483648,  # int arithmetic wraps, as in Java
        "meta": {"seen": True},
        "full": "Ann Lee",
        "@tz": "America/Los_Angeles",
        "copy": "Ann Lee",
    }
    assert out["_index"] == "people-PST"


def test_script_string_conversions_follow_java(es):
    out = simulate(
        es,
        [
            {
                "script": {
                    "source": "ctx.s = 'v' + ctx.d + '|' + ctx.b + '|' + ctx.none + '|' + ctx.l + '|' + ctx.m"
                }
            }
        ],
        {"d": 10000000.0, "b": False, "l": [1, "a"], "m": {"k": 1}},
    )["doc"]["_source"]
    assert out["s"] == "v1.0E7|false|null|[1, a]|{k=1}"


def test_script_runtime_error(es):
    error = simulate(es, [{"script": {"source": "ctx.a = 1; ctx.b.c = 2"}}], {})["error"]
    assert {k: error[k] for k in ("type", "reason", "script_stack", "position", "caused_by")} == {
        "type": "script_exception",
        "reason": "runtime error",
        "script_stack": ["ctx.b.c = 2", "     ^---- HERE"],
        "position": {"offset": 16, "start": 11, "end": 22},
        "caused_by": {
            "type": "null_pointer_exception",
            "reason": "cannot access method/field [c] from a null def reference",
        },
    }


def test_script_configuration_errors(es):
    status, error = put_error(es, [{"script": {"lang": "painless", "tag": "s1"}}])
    assert status == 500
    assert error == {
        "root_cause": [
            {
                "type": "exception",
                "reason": "java.lang.IllegalArgumentException: must specify either [source] for an inline "
                "script or [id] for a stored script",
                "processor_type": "script",
                "processor_tag": "s1",
            }
        ],
        "type": "exception",
        "reason": "java.lang.IllegalArgumentException: must specify either [source] for an inline "
        "script or [id] for a stored script",
        "processor_type": "script",
        "processor_tag": "s1",
        "caused_by": {
            "type": "illegal_argument_exception",
            "reason": "must specify either [source] for an inline script or [id] for a stored script",
        },
    }
    status, error = put_error(es, [{"script": {"source": "ctx.remove('a')"}}])
    assert (status, error["type"], error["processor_type"], error["property_name"]) == (
        400,
        "parse_exception",
        "script",
        "source",
    )
    assert (
        "cannot run [ctx.remove('a')]: the method [remove] is not supported (at offset 4)" in error["reason"]
    )
    status, error = put_error(es, [{"script": {"source": "if (ctx.a == 1) { ctx.b = 2 }"}}])
    assert "[if] is not supported (only ctx, params and literals are) (at offset 0)" in error["reason"]
    status, error = put_error(es, [{"script": {"source": "ctx.a *= 2"}}])
    assert (
        "expected [=], [+=], [-=], [++] or [--] after the assigned field but found [*] (at offset 6)"
        in error["reason"]
    )
    status, error = put_error(es, [{"script": {"id": "my-stored"}}])
    assert error["reason"] == "[source] es_sandbox has no stored scripts: give the scripts inline as [source]"


# --- verbose _simulate ----------------------------------------------------------------------------


def test_verbose_skipped_dropped_and_condition_results(es):
    results = simulate(
        es,
        [
            {"set": {"field": "a", "value": 1, "description": "first", "tag": "t1", "if": "ctx.go == true"}},
            {"drop": {"if": "ctx.a == 2"}},
            {"drop": {"if": "ctx.a == 1"}},
            {"set": {"field": "never", "value": 1}},
        ],
        {"go": True},
        verbose=True,
    )["processor_results"]
    assert [list(r) for r in results] == [
        ["processor_type", "status", "description", "tag", "if", "doc"],
        ["processor_type", "status", "if"],
        ["processor_type", "status", "if"],
    ]
    assert [(r["status"], r["if"]) for r in results] == [
        ("success", {"condition": "ctx.go == true", "result": True}),
        ("skipped", {"condition": "ctx.a == 2", "result": False}),
        ("dropped", {"condition": "ctx.a == 1", "result": True}),
    ]


def test_verbose_conditional_with_on_failure_and_ignore_failure(es):
    results = simulate(
        es,
        [
            {
                "rename": {
                    "tag": "mv",
                    "if": "true",
                    "field": "nope",
                    "target_field": "x",
                    "on_failure": [
                        {
                            "set": {
                                "tag": "recover",
                                "field": "failed",
                                "value": "{{_ingest.on_failure_processor_tag}}",
                            }
                        }
                    ],
                }
            },
            {
                "rename": {
                    "tag": "quiet",
                    "field": "nope",
                    "target_field": "x",
                    "ignore_failure": True,
                    "if": "false",
                }
            },
            {"rename": {"tag": "loud", "field": "nope", "target_field": "x", "ignore_failure": True}},
        ],
        {},
        verbose=True,
    )["processor_results"]
    assert [(r["tag"], r["status"]) for r in results] == [
        ("mv", "error"),
        ("recover", "success"),
        ("quiet", "skipped"),
        ("loud", "error_ignored"),
    ]
    assert results[0]["if"] == {"condition": "true", "result": True}
    assert results[0]["error"]["reason"] == "field [nope] doesn't exist"
    assert "if" not in results[1]
    assert results[1]["doc"]["_source"] == {"failed": "mv"}
    assert results[1]["doc"]["_ingest"]["on_failure_processor_tag"] == "mv"
    assert results[3]["ignored_error"] == {
        "error": {
            "root_cause": [{"type": "illegal_argument_exception", "reason": "field [nope] doesn't exist"}],
            "type": "illegal_argument_exception",
            "reason": "field [nope] doesn't exist",
        }
    }
    assert results[3]["doc"]["_source"] == {"failed": "mv"}


def test_verbose_pipeline_processor_results(es):
    es.ingest.put_pipeline(id="inner", processors=[{"set": {"field": "inner", "value": True}}])
    results = simulate(
        es,
        [{"pipeline": {"name": "inner", "tag": "call"}}, {"set": {"field": "after", "value": True}}],
        {},
        verbose=True,
    )["processor_results"]
    assert [(r["processor_type"], r["status"], "doc" in r) for r in results] == [
        ("pipeline", "success", False),
        ("set", "success", True),
        ("set", "success", True),
    ]
    assert results[1]["doc"]["_ingest"]["pipeline"] == "inner"
    assert results[2]["doc"]["_ingest"]["pipeline"] == "_simulate_pipeline"

    missing = simulate(es, [{"pipeline": {"name": "nope"}}], {}, verbose=True)["processor_results"]
    assert missing == [
        {
            "processor_type": "pipeline",
            "status": "error",
            "error": {
                "root_cause": [
                    {
                        "type": "illegal_argument_exception",
                        "reason": "Pipeline processor configured for non-existent pipeline [nope]",
                    }
                ],
                "type": "illegal_argument_exception",
                "reason": "Pipeline processor configured for non-existent pipeline [nope]",
            },
        }
    ]
    tolerated = simulate(
        es, [{"pipeline": {"name": "nope", "ignore_missing_pipeline": True}}], {}, verbose=True
    )["processor_results"]
    assert (tolerated[0]["status"], tolerated[0]["ignored_error"]["error"]["type"]) == (
        "error_ignored",
        "illegal_argument_exception",
    )
    assert tolerated[0]["doc"]["_source"] == {}


def test_verbose_reports_a_pipeline_cycle_on_the_calling_processor(es):
    es.ingest.put_pipeline(id="outer", processors=[{"pipeline": {"name": "inner"}}])
    es.ingest.put_pipeline(id="inner", processors=[{"pipeline": {"name": "outer"}}])
    results = simulate(es, [{"pipeline": {"name": "outer"}}], {}, verbose=True)["processor_results"]
    assert len(results) == 1
    assert (results[0]["processor_type"], results[0]["status"]) == ("pipeline", "error")
    assert (results[0]["error"]["type"], results[0]["error"]["reason"]) == (
        "graph_structure_exception",
        "Cycle detected for pipeline: outer",
    )


def test_async_client_puts_simulates_and_indexes_through_a_conditional_pipeline(es, sandbox):
    from elasticsearch import AsyncElasticsearch

    async def scenario():
        client = AsyncElasticsearch(sandbox.url, node_class="httpxasync")
        try:
            await client.ingest.put_pipeline(
                id="tagger",
                processors=[
                    {"script": {"source": "ctx.kind = 'error:' + ctx.code", "if": "ctx.code != null"}},
                    {"set": {"field": "kind", "value": "ok", "if": "ctx.kind == null"}},
                ],
            )
            verbose = await client.ingest.simulate(id="tagger", docs=[{"_source": {}}], verbose=True)
            await client.index(index="tagged", id="1", document={"code": 42}, pipeline="tagger")
            return verbose["docs"][0]["processor_results"], (await client.get(index="tagged", id="1"))[
                "_source"
            ]
        finally:
            await client.close()

    results, stored = asyncio.run(scenario())
    assert [(r["processor_type"], r["status"]) for r in results] == [
        ("script", "skipped"),
        ("set", "success"),
    ]
    assert stored == {"code": 42, "kind": "error:42"}
