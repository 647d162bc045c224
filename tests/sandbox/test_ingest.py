"""Ingest pipelines: CRUD, configuration errors as Elasticsearch words them, _simulate (stored,
inline, verbose), the processors the sandbox runs, failure handling and ingest statistics."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError, NotFoundError

JSON = {"accept": "application/json", "content-type": "application/json"}
SET_AND_LOWER = [{"set": {"field": "copy", "value": "{{title}}!"}}, {"lowercase": {"field": "title"}}]


def simulate(es, processors, source, **kwargs):
    return es.ingest.simulate(pipeline={"processors": processors, **kwargs}, docs=[{"_source": source}])[
        "docs"
    ][0]


def test_put_get_delete_with_wildcards_and_comma_lists(es):
    assert es.ingest.put_pipeline(
        id="p-one", processors=SET_AND_LOWER, description="first", version=3, meta={"owner": "search"}
    ).body == {"acknowledged": True}
    es.ingest.put_pipeline(id="p-two", processors=[{"remove": {"field": "x"}}])
    es.ingest.put_pipeline(id="other", processors=[{"remove": {"field": "x"}}])

    one = es.ingest.get_pipeline(id="p-one").body
    assert one == {
        "p-one": {
            "processors": SET_AND_LOWER,
            "description": "first",
            "version": 3,
            "_meta": {"owner": "search"},
        }
    }
    assert sorted(es.ingest.get_pipeline(id="p-*").body) == ["p-one", "p-two"]
    assert sorted(es.ingest.get_pipeline(id="p-two,other").body) == ["other", "p-two"]
    assert sorted(es.ingest.get_pipeline().body) == ["other", "p-one", "p-two"]

    assert es.ingest.delete_pipeline(id="p-*").body == {"acknowledged": True}
    assert list(es.ingest.get_pipeline().body) == ["other"]


def test_unknown_pipeline_get_is_404_with_empty_body_and_delete_is_resource_not_found(es):
    with pytest.raises(NotFoundError) as info:
        es.ingest.get_pipeline(id="missing")
    assert info.value.meta.status == 404
    assert info.value.body == {}

    with pytest.raises(NotFoundError) as info:
        es.ingest.delete_pipeline(id="missing")
    assert info.value.body["error"]["type"] == "resource_not_found_exception"
    assert info.value.body["error"]["reason"] == "pipeline [missing] is missing"


def test_if_version_guards_updates(es):
    es.ingest.put_pipeline(id="versioned", processors=SET_AND_LOWER, version=1)
    with pytest.raises(BadRequestError) as info:
        es.ingest.put_pipeline(id="versioned", processors=SET_AND_LOWER, if_version=7)
    assert info.value.body["error"]["type"] == "illegal_argument_exception"
    assert info.value.body["error"]["reason"] == (
        "version conflict, required version [7] for pipeline [versioned] but current version is [1]"
    )
    with pytest.raises(BadRequestError) as info:
        es.ingest.put_pipeline(id="nothing-here", processors=SET_AND_LOWER, if_version=1)
    assert info.value.body["error"]["reason"] == (
        "version conflict, required version [1] for pipeline [nothing-here] but no pipeline was found"
    )
    # A matching if_version without an explicit version bumps the stored version.
    es.ingest.put_pipeline(id="versioned", processors=[{"remove": {"field": "x"}}], if_version=1)
    assert es.ingest.get_pipeline(id="versioned")["versioned"]["version"] == 2


@pytest.mark.parametrize(
    ("processors", "error"),
    [
        (
            [{"set": {"value": 1}}],
            {
                "type": "parse_exception",
                "reason": "[field] required property is missing",
                "processor_type": "set",
                "property_name": "field",
            },
        ),
        (
            [{"rename": {"field": "a", "tag": "t1"}}],
            {
                "type": "parse_exception",
                "reason": "[target_field] required property is missing",
                "processor_type": "rename",
                "processor_tag": "t1",
                "property_name": "target_field",
            },
        ),
        (
            [{"grok_like": {"field": "a"}}],
            {
                "type": "parse_exception",
                "reason": "No processor type exists with name [grok_like]",
                "processor_type": "grok_like",
            },
        ),
        (
            [{"set": {"field": "a", "value": 1, "colour": "red"}}],
            {
                "type": "parse_exception",
                "reason": "processor [set] doesn't support one or more provided configuration parameters [colour]",
                "processor_type": "set",
            },
        ),
        (
            [{"lowercase": {"field": 5}}],
            {
                "type": "parse_exception",
                "reason": "[field] property isn't a string, but of type [java.lang.Integer]",
                "processor_type": "lowercase",
                "property_name": "field",
            },
        ),
        (
            [{"inference": {"input_output": [{"input_field": "a", "output_field": "b"}]}}],
            {
                "type": "parse_exception",
                "reason": "[model_id] required property is missing",
                "processor_type": "inference",
                "property_name": "model_id",
            },
        ),
        (
            [{"set": {"field": "a", "value": 1, "on_failure": []}}],
            {
                "type": "parse_exception",
                "reason": "[on_failure] processors list cannot be empty",
                "processor_type": "set",
                "property_name": "on_failure",
            },
        ),
    ],
)
def test_configuration_errors_at_put_time(es, processors, error):
    with pytest.raises(BadRequestError) as info:
        es.ingest.put_pipeline(id="bad", processors=processors)
    body = info.value.body
    assert info.value.meta.status == 400
    assert {k: v for k, v in body["error"].items() if k != "root_cause"} == error
    assert body["error"]["root_cause"] == [error]


def test_pipeline_level_errors(es):
    with pytest.raises(BadRequestError) as info:
        es.ingest.put_pipeline(id="bad", description="no processors")
    assert info.value.body["error"]["reason"] == "[processors] required property is missing"
    with pytest.raises(BadRequestError) as info:
        es.perform_request(
            "PUT", "/_ingest/pipeline/bad", headers=JSON, body={"processors": [], "colour": "red"}
        )
    assert info.value.body["error"]["reason"] == (
        "pipeline [bad] doesn't support one or more provided configuration parameters [colour]"
    )


def test_conditions_beyond_the_painless_subset_are_refused_clearly(es):
    with pytest.raises(BadRequestError) as info:
        es.ingest.put_pipeline(
            id="cond", processors=[{"set": {"field": "a", "value": 1, "if": "ctx.b =~ /x/", "tag": "t"}}]
        )
    error = info.value.body["error"]
    assert (error["type"], error["processor_type"], error["processor_tag"], error["property_name"]) == (
        "parse_exception",
        "set",
        "t",
        "if",
    )
    assert error["reason"].startswith(
        "[if] es_sandbox does not run Painless scripts; it runs conditions made of "
    )
    assert error["reason"].endswith(
        "only: cannot run [ctx.b =~ /x/]: [=] is not supported here (at offset 6); "
        "run this pipeline against a real Elasticsearch for more"
    )


def test_simulate_stored_pipeline_shapes_the_document_as_elasticsearch(es):
    es.ingest.put_pipeline(id="p", processors=SET_AND_LOWER)
    docs = es.ingest.simulate(id="p", docs=[{"_index": "books", "_id": 7, "_source": {"title": "Dune"}}])[
        "docs"
    ]
    doc = docs[0]["doc"]
    assert set(doc) == {"_index", "_id", "_version", "_source", "_ingest"}
    assert (doc["_index"], doc["_id"], doc["_version"]) == ("books", "7", "-3")
    assert doc["_source"] == {"title": "dune", "copy": "Dune!"}
    assert list(doc["_ingest"]) == ["timestamp"]
    assert doc["_ingest"]["timestamp"].endswith("Z")


def test_simulate_defaults_and_errors(es):
    doc = simulate(es, [{"set": {"field": "a", "value": 1}}], {})["doc"]
    assert (doc["_index"], doc["_id"]) == ("_index", "_id")
    with pytest.raises(BadRequestError) as info:
        es.ingest.simulate(id="nope", docs=[{"_source": {}}])
    assert info.value.body["error"]["reason"] == "pipeline [nope] does not exist"
    with pytest.raises(BadRequestError) as info:
        es.ingest.simulate(pipeline={"processors": []}, docs=[])
    assert info.value.body["error"]["reason"] == "must specify at least one document in [docs]"


def test_simulate_verbose_reports_each_processor(es):
    result = es.ingest.simulate(
        pipeline={
            "processors": [
                {"set": {"field": "a", "value": "x", "tag": "first"}},
                {"rename": {"field": "missing", "target_field": "b", "ignore_failure": True}},
                {"lowercase": {"field": "nope", "description": "breaks"}},
            ]
        },
        docs=[{"_source": {}}],
        verbose=True,
    )["docs"][0]["processor_results"]
    assert [(r["processor_type"], r["status"]) for r in result] == [
        ("set", "success"),
        ("rename", "error_ignored"),
        ("lowercase", "error"),
    ]
    assert result[0]["tag"] == "first"
    assert result[0]["doc"]["_ingest"]["pipeline"] == "_simulate_pipeline"
    assert result[1]["ignored_error"]["error"]["reason"] == "field [missing] doesn't exist"
    assert result[2]["description"] == "breaks"
    assert "doc" not in result[2]
    assert result[2]["error"] == {
        "root_cause": [
            {
                "type": "illegal_argument_exception",
                "reason": "field [nope] not present as part of path [nope]",
            }
        ],
        "type": "illegal_argument_exception",
        "reason": "field [nope] not present as part of path [nope]",
    }


def test_set_templates_copy_from_override_and_empty_values(es):
    source = {"name": 'Ann "A"', "n": 3, "existing": "keep", "empty": ""}
    out = simulate(
        es,
        [
            {"set": {"field": "escaped", "value": "{{name}}"}},
            {"set": {"field": "raw", "value": "{{{name}}}"}},
            {"set": {"field": "count", "value": "{{n}}"}},
            {"set": {"field": "nested.copy", "copy_from": "name"}},
            {"set": {"field": "existing", "value": "replaced", "override": False}},
            {"set": {"field": "skipped", "value": "{{empty}}", "ignore_empty_value": True}},
            {"set": {"field": "literal", "value": {"list": [1, "{{n}}"]}}},
            {"set": {"field": "_index", "value": "elsewhere"}},
        ],
        source,
    )["doc"]
    assert doc_fields(out) == {
        "name": 'Ann "A"',
        "n": 3,
        "existing": "keep",
        "empty": "",
        "escaped": 'Ann \\"A\\"',
        "raw": 'Ann "A"',
        "count": "3",
        "nested": {"copy": 'Ann "A"'},
        "literal": {"list": [1, "3"]},
    }
    assert out["_index"] == "elsewhere"


def doc_fields(doc):
    return doc["_source"]


def test_remove_rename_lowercase_append_and_fail(es):
    out = simulate(
        es,
        [
            {"remove": {"field": ["a", "gone"], "ignore_missing": True}},
            {"rename": {"field": "b", "target_field": "c.d"}},
            {"lowercase": {"field": "words"}},
            {"append": {"field": "tags", "value": ["x", "y"]}},
        ],
        {"a": 1, "b": 2, "words": ["Hello", "WORLD"], "tags": "t"},
    )["doc"]["_source"]
    assert out == {"c": {"d": 2}, "words": ["hello", "world"], "tags": ["t", "x", "y"]}

    failed = simulate(es, [{"fail": {"message": "bad doc {{id}}"}}], {"id": 42})
    assert failed["error"]["type"] == "fail_processor_exception"
    assert failed["error"]["reason"] == "bad doc 42"

    missing = simulate(es, [{"remove": {"field": "nope"}}], {})
    assert missing["error"]["reason"] == "field [nope] not present as part of path [nope]"
    exists = simulate(es, [{"rename": {"field": "a", "target_field": "b"}}], {"a": 1, "b": 2})
    assert exists["error"]["reason"] == "field [b] already exists"
    typed = simulate(es, [{"lowercase": {"field": "a"}}], {"a": 5})
    assert (
        typed["error"]["reason"]
        == "field [a] of type [java.lang.Integer] cannot be cast to [java.lang.String]"
    )


def test_processor_on_failure_sees_the_failure_metadata_and_the_pipeline_continues(es):
    out = simulate(
        es,
        [
            {
                "rename": {
                    "field": "x",
                    "target_field": "y",
                    "tag": "mv",
                    "on_failure": [
                        {
                            "set": {
                                "field": "error",
                                "value": "{{_ingest.on_failure_message}}|{{_ingest.on_failure_processor_type}}|"
                                "{{_ingest.on_failure_processor_tag}}|{{_ingest.on_failure_pipeline}}",
                            }
                        },
                    ],
                }
            },
            {"set": {"field": "after", "value": True}},
        ],
        {},
    )["doc"]
    assert out["_source"] == {"error": "field [x] doesn't exist|rename|mv|_simulate_pipeline", "after": True}
    assert list(out["_ingest"]) == ["timestamp"]  # the failure metadata is gone afterwards


def test_pipeline_on_failure_replaces_the_rest_of_the_pipeline(es):
    es.ingest.put_pipeline(
        id="guarded",
        processors=[{"fail": {"message": "stop"}}, {"set": {"field": "never", "value": 1}}],
        on_failure=[
            {
                "set": {
                    "field": "why",
                    "value": "{{_ingest.on_failure_message}} in {{_ingest.on_failure_pipeline}}",
                }
            }
        ],
    )
    out = es.ingest.simulate(id="guarded", docs=[{"_source": {}}])["docs"][0]["doc"]["_source"]
    assert out == {"why": "stop in guarded"}


def test_pipeline_processor_runs_another_pipeline(es):
    es.ingest.put_pipeline(
        id="inner", processors=[{"set": {"field": "inner", "value": "{{_ingest.pipeline}}"}}]
    )
    es.ingest.put_pipeline(
        id="outer", processors=[{"pipeline": {"name": "inner"}}, {"set": {"field": "outer", "value": 1}}]
    )
    out = es.ingest.simulate(id="outer", docs=[{"_source": {}}])["docs"][0]["doc"]["_source"]
    assert out == {"inner": "inner", "outer": 1}


def test_delete_refused_while_an_index_uses_the_pipeline(es):
    es.ingest.put_pipeline(id="dp", processors=SET_AND_LOWER)
    es.indices.create(index="uses-dp", settings={"index": {"default_pipeline": "dp"}})
    with pytest.raises(BadRequestError) as info:
        es.ingest.delete_pipeline(id="dp")
    assert info.value.body["error"]["reason"] == (
        "pipeline [dp] cannot be deleted because it is the default pipeline for 1 index(es) including [uses-dp]"
    )


def test_node_stats_count_per_pipeline_and_processor(es):
    es.ingest.put_pipeline(
        id="counted",
        processors=[
            {"set": {"field": "a", "value": 1, "tag": "seta"}},
            {"rename": {"field": "missing", "target_field": "b", "ignore_failure": True}},
        ],
    )
    es.bulk(
        operations=[
            {"index": {"_index": "st", "_id": "1"}},
            {"x": 1},
            {"index": {"_index": "st", "_id": "2"}},
            {"x": 2},
        ],
        pipeline="counted",
        refresh=True,
    )
    es.ingest.put_pipeline(id="failing", processors=[{"fail": {"message": "no"}}])
    bulk = es.bulk(operations=[{"index": {"_index": "st", "_id": "3"}}, {"x": 3}], pipeline="failing")
    item = bulk["items"][0]["index"]
    assert (item["status"], item["error"]["type"], item["error"]["reason"]) == (
        500,
        "fail_processor_exception",
        "no",
    )

    (node,) = es.nodes.stats(metric="ingest")["nodes"].values()
    ingest = node["ingest"]
    assert (
        ingest["total"]["count"] == 3 and ingest["total"]["failed"] == 1 and ingest["total"]["current"] == 0
    )
    counted = ingest["pipelines"]["counted"]
    assert (counted["count"], counted["failed"], counted["current"]) == (2, 0, 0)
    assert counted["ingested_as_first_pipeline_in_bytes"] > 0
    assert [list(p) for p in counted["processors"]] == [["set:seta"], ["rename"]]
    assert counted["processors"][0]["set:seta"] == {
        "type": "set",
        "stats": {
            "count": 2,
            "time_in_millis": counted["processors"][0]["set:seta"]["stats"]["time_in_millis"],
            "current": 0,
            "failed": 0,
        },
    }
    assert counted["processors"][1]["rename"]["stats"]["failed"] == 2  # ignored failures still count
    assert ingest["pipelines"]["failing"]["failed"] == 1


def test_bulk_with_unknown_pipeline_fails_the_item(es):
    bulk = es.bulk(operations=[{"index": {"_index": "st", "_id": "1"}}, {"x": 1}], pipeline="nope")
    error = bulk["items"][0]["index"]["error"]
    assert (error["type"], error["reason"]) == (
        "illegal_argument_exception",
        "pipeline with id [nope] does not exist",
    )


def test_nodes_info_lists_the_processor_types_the_sandbox_runs(es):
    (node,) = es.nodes.info(metric="ingest")["nodes"].values()
    types = [p["type"] for p in node["ingest"]["processors"]]
    assert types == sorted(types)
    assert {"convert", "date", "dissect", "foreach", "grok", "inference", "pipeline", "script"} <= set(types)
