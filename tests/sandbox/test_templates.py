"""Index templates as Elasticsearch 9 keeps and applies them, with the real elasticsearch-py client:
composable templates and their component templates (stored, listed, checked, composed, simulated),
legacy templates (with their deprecation warning), and what a new index takes from them."""

from __future__ import annotations

import warnings

import pytest
from elasticsearch import BadRequestError, ElasticsearchWarning, NotFoundError

from tests.sandbox.ml_support import status_type_reason


@pytest.fixture
def logs_template(es):
    es.cluster.put_component_template(
        name="ct-mappings", template={"mappings": {"properties": {"host": {"type": "keyword"}}}}
    )
    es.indices.put_index_template(
        name="logs",
        index_patterns="logs-*",
        priority=10,
        composed_of=["ct-mappings"],
        template={"settings": {"number_of_replicas": 0}, "aliases": {"all-logs": {}}},
    )
    return es


def test_composable_template_is_stored_as_es_shows_it(logs_template):
    got = logs_template.indices.get_index_template(name="logs")["index_templates"]
    assert got == [
        {
            "name": "logs",
            "index_template": {
                "index_patterns": ["logs-*"],
                "template": {"settings": {"index": {"number_of_replicas": "0"}}, "aliases": {"all-logs": {}}},
                "composed_of": ["ct-mappings"],
                "priority": 10,
            },
        }
    ]
    assert logs_template.indices.exists_index_template(name="logs")
    with pytest.raises(NotFoundError) as missing:
        logs_template.indices.get_index_template(name="nope")
    assert status_type_reason(missing.value) == (
        404,
        "resource_not_found_exception",
        "index template matching [nope] not found",
    )


def test_component_templates_are_listed_by_name_and_pattern(logs_template):
    es = logs_template
    got = es.cluster.get_component_template(name="ct-*")["component_templates"]
    assert [t["name"] for t in got] == ["ct-mappings"]
    assert got[0]["component_template"]["template"]["mappings"] == {
        "properties": {"host": {"type": "keyword"}}
    }
    assert es.cluster.get_component_template(name="none-*")["component_templates"] == []
    with pytest.raises(NotFoundError) as missing:
        es.cluster.get_component_template(name="nope")
    assert status_type_reason(missing.value) == (
        404,
        "resource_not_found_exception",
        "component template matching [nope] not found",
    )


def test_new_indices_take_the_matching_template(logs_template):
    es = logs_template
    es.indices.create(index="logs-1", mappings={"properties": {"msg": {"type": "text"}}})
    index = es.indices.get(index="logs-1")["logs-1"]
    assert index["mappings"]["properties"] == {"host": {"type": "keyword"}, "msg": {"type": "text"}}
    assert index["settings"]["index"]["number_of_replicas"] == "0"
    assert index["aliases"] == {"all-logs": {}}
    es.index(index="logs-auto", document={"host": "a"})  # auto-created indices take it too
    assert es.indices.get_mapping(index="logs-auto")["logs-auto"]["mappings"]["properties"]["host"] == {
        "type": "keyword"
    }
    es.indices.create(index="other")
    assert "host" not in es.indices.get_mapping(index="other")["other"]["mappings"].get("properties", {})


def test_template_checks(logs_template):
    es = logs_template
    with pytest.raises(BadRequestError) as refused:
        es.indices.put_index_template(name="clash", index_patterns=["logs-x*"], priority=10)
    assert status_type_reason(refused.value)[2] == (
        "index template [clash] has index patterns [logs-x*] matching patterns from existing templates [logs] "
        "with patterns (logs => [logs-*]) that have the same priority [10], multiple index templates may not "
        "match during index creation, please use a different priority"
    )
    with pytest.raises(BadRequestError) as refused:
        es.indices.put_index_template(name="t", index_patterns=["t-*"], composed_of=["missing"])
    assert (
        status_type_reason(refused.value)[2]
        == "index template [t] specifies component templates [missing] that do not exist"
    )
    with pytest.raises(BadRequestError) as refused:
        es.cluster.delete_component_template(name="ct-mappings")
    assert status_type_reason(refused.value)[2] == (
        "component templates [ct-mappings] cannot be removed as they are still in use by index templates [logs]"
    )
    with pytest.raises(NotFoundError) as missing:
        es.indices.delete_index_template(name="nope")
    assert status_type_reason(missing.value) == (
        404,
        "index_template_missing_exception",
        "index_template [nope] missing",
    )
    es.indices.put_index_template(name="ds", index_patterns=["metrics-*"], data_stream={})
    with pytest.raises(BadRequestError) as refused:
        es.indices.create(index="metrics-1")
    assert status_type_reason(refused.value)[2] == (
        "cannot create index with name [metrics-1], because it matches with template [ds] that creates data "
        "streams only, use create data stream api instead"
    )


def test_simulate(logs_template):
    es = logs_template
    simulated = es.indices.simulate_template(
        index_patterns=["logs-*"],
        priority=15,
        composed_of=["ct-mappings"],
        template={"settings": {"index.blocks.write": True}},
    )
    assert simulated["template"]["settings"] == {"index": {"blocks": {"write": "true"}}}
    assert simulated["template"]["mappings"]["properties"]["host"] == {"type": "keyword"}
    assert simulated["overlapping"] == [{"name": "logs", "index_patterns": ["logs-*"]}]
    for_index = es.indices.simulate_index_template(name="logs-7")
    assert for_index["template"]["aliases"] == {"all-logs": {}} and for_index["overlapping"] == []


def test_legacy_templates(es):
    with warnings.catch_warnings(record=True) as heard:
        warnings.simplefilter("always")
        es.indices.put_template(
            name="old",
            index_patterns=["old-*"],
            order=1,
            settings={"number_of_shards": 2},
            mappings={"properties": {"f": {"type": "keyword"}}},
        )
    assert [str(w.message) for w in heard if w.category is ElasticsearchWarning] == [
        "Legacy index templates are deprecated in favor of composable templates."
    ]
    got = es.indices.get_template(name="old", flat_settings=True)["old"]
    assert got == {
        "order": 1,
        "index_patterns": ["old-*"],
        "settings": {"index.number_of_shards": "2"},
        "mappings": {"properties": {"f": {"type": "keyword"}}},
        "aliases": {},
    }
    es.indices.create(index="old-1")
    assert es.indices.get_settings(index="old-1")["old-1"]["settings"]["index"]["number_of_shards"] == "2"
    assert es.indices.exists_template(name="old")
    es.indices.delete_template(name="old")
    assert not es.indices.exists_template(name="old")
    assert es.options(ignore_status=404).indices.get_template(name="old").body == {}
    with pytest.raises(NotFoundError) as missing:
        es.indices.delete_template(name="old")
    assert status_type_reason(missing.value) == (
        404,
        "index_template_missing_exception",
        "index_template [old] missing",
    )
