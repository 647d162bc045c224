"""Index APIs: create / delete / exists / get, mappings (explicit, merged, dynamic), settings, refresh,
aliases, and the IndexStore contract other subsystems use (get, resolve, scan)."""

from __future__ import annotations

import time

import pytest
from elasticsearch import BadRequestError, NotFoundError

from es_sandbox.cluster import Cluster
from es_sandbox.config import SandboxConfig
from es_sandbox.errors import EsError


def error_of(info: pytest.ExceptionInfo) -> dict:
    return info.value.body["error"]


def test_create_and_get_index_shape(es):
    resp = es.indices.create(
        index="articles",
        settings={
            "number_of_shards": 2,
            "index": {"number_of_replicas": 0, "default_pipeline": "embed"},
            "index.final_pipeline": "stamp",
        },
        mappings={
            "properties": {
                "title": {"type": "text", "fields": {"raw": {"type": "keyword"}}},
                "tags": {"type": "keyword"},
                "tokens": {"type": "sparse_vector"},
                "vector": {"type": "dense_vector", "dims": 3, "similarity": "dot_product"},
                "views": {"type": "long"},
                "score": {"type": "float"},
                "published": {"type": "date"},
                "draft": {"type": "boolean"},
                "author": {"properties": {"name": {"type": "keyword"}}},
                "comments": {"type": "nested", "properties": {"text": {"type": "text"}}},
            }
        },
        aliases={"news": {}, "news-write": {"is_write_index": True}},
    )
    assert resp.body == {"acknowledged": True, "shards_acknowledged": True, "index": "articles"}
    got = es.indices.get(index="articles")["articles"]
    assert got["aliases"] == {"news": {}, "news-write": {"is_write_index": True}}
    props = got["mappings"]["properties"]
    assert props["title"] == {"type": "text", "fields": {"raw": {"type": "keyword"}}}
    assert props["vector"] == {  # index options default to int8_hnsw below 384 dims (ES 8.14+)
        "type": "dense_vector",
        "dims": 3,
        "similarity": "dot_product",
        "index": True,
        "index_options": {"type": "int8_hnsw", "m": 16, "ef_construction": 100},
    }
    assert props["comments"]["type"] == "nested"
    index_settings = got["settings"]["index"]
    assert index_settings["number_of_shards"] == "2"
    assert index_settings["number_of_replicas"] == "0"
    assert index_settings["default_pipeline"] == "embed"
    assert index_settings["final_pipeline"] == "stamp"
    assert index_settings["provided_name"] == "articles"
    assert len(index_settings["uuid"]) == 22
    assert index_settings["creation_date"].isdigit()
    assert abs(int(index_settings["creation_date"]) - time.time() * 1000) < 60_000
    assert es.indices.get(index="news")["articles"]["settings"]["index"]["uuid"] == index_settings["uuid"]


def test_create_twice_is_resource_already_exists(es):
    es.indices.create(index="twice")
    uuid = es.indices.get(index="twice")["twice"]["settings"]["index"]["uuid"]
    with pytest.raises(BadRequestError) as info:
        es.indices.create(index="twice")
    assert error_of(info) == {
        "root_cause": [
            {
                "type": "resource_already_exists_exception",
                "reason": f"index [twice/{uuid}] already exists",
                "index_uuid": uuid,
                "index": "twice",
            }
        ],
        "type": "resource_already_exists_exception",
        "reason": f"index [twice/{uuid}] already exists",
        "index_uuid": uuid,
        "index": "twice",
    }


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Upper", "must be lowercase"),
        ("_under", "must not start with '_', '-', or '+'"),
        ("-dash", "must not start with '_', '-', or '+'"),
        ("+plus", "must not start with '_', '-', or '+'"),
        ("has space", 'must not contain the following characters [ , ", *, \\, <, |, ,, >, /, ?]'),
        ("a*b", 'must not contain the following characters [ , ", *, \\, <, |, ,, >, /, ?]'),
        ("hash#tag", "must not contain '#'"),
        ("co:lon", "must not contain ':'"),
        ("..", "must not be '.' or '..'"),
        ("x" * 256, "index name is too long, (256 > 255)"),
    ],
)
def test_invalid_index_names(es, name, reason):
    with pytest.raises(BadRequestError) as info:
        es.indices.create(index=name)
    error = error_of(info)
    assert error["type"] == "invalid_index_name_exception"
    assert error["reason"] == f"Invalid index name [{name}], {reason}"
    assert error["index"] == name and error["index_uuid"] == "_na_"


def test_auto_create_on_write_validates_the_name(es):
    with pytest.raises(BadRequestError) as info:
        es.index(index="BadName", document={"a": 1})
    assert error_of(info)["reason"] == "Invalid index name [BadName], must be lowercase"


def test_delete_lists_wildcards_and_missing(es):
    for name in ("logs-a", "logs-b", "keep"):
        es.indices.create(index=name)
    with pytest.raises(NotFoundError) as info:
        es.indices.delete(index="logs-a,nope")
    assert error_of(info)["type"] == "index_not_found_exception"
    assert error_of(info)["reason"] == "no such index [nope]"
    assert es.indices.exists(index="logs-a")  # nothing deleted when one name is missing
    assert es.indices.delete(index="logs-a,nope", ignore_unavailable=True).body == {"acknowledged": True}
    assert not es.indices.exists(index="logs-a")
    with pytest.raises(BadRequestError) as wildcard:  # action.destructive_requires_name defaults to true
        es.indices.delete(index="logs-*")
    assert error_of(wildcard)["reason"] == "Wildcard expressions or all indices are not allowed"
    es.cluster.put_settings(transient={"action.destructive_requires_name": False})
    es.indices.delete(index="logs-*")
    assert es.indices.exists(index="keep") and not es.indices.exists(index="logs-b")
    assert es.indices.delete(index="logs-*").body == {"acknowledged": True}  # a wildcard may match nothing


def test_delete_by_alias_is_refused(es):
    es.indices.create(index="real", aliases={"nick": {}})
    with pytest.raises(BadRequestError) as info:
        es.indices.delete(index="nick")
    assert error_of(info)["reason"] == (
        "The provided expression [nick] matches an alias, specify the corresponding concrete indices instead."
    )


def test_exists_and_get_missing(es):
    assert es.indices.exists(index="ghost").body is False
    with pytest.raises(NotFoundError) as info:
        es.indices.get(index="ghost")
    assert error_of(info)["reason"] == "no such index [ghost]"
    assert error_of(info)["resource.id"] == "ghost"
    es.indices.create(index="ghost")
    assert es.indices.exists(index="ghost").body is True
    assert es.indices.exists(index="gh*").body is True


def test_put_mapping_merges_and_refuses_type_changes(es):
    es.indices.create(index="m", mappings={"properties": {"title": {"type": "text"}}})
    es.indices.put_mapping(
        index="m",
        properties={
            "title": {"type": "text", "fields": {"kw": {"type": "keyword"}}},
            "count": {"type": "integer"},
        },
    )
    props = es.indices.get_mapping(index="m")["m"]["mappings"]["properties"]
    assert props == {
        "title": {"type": "text", "fields": {"kw": {"type": "keyword"}}},
        "count": {"type": "integer"},
    }
    with pytest.raises(BadRequestError) as info:
        es.indices.put_mapping(index="m", properties={"count": {"type": "keyword"}})
    assert error_of(info)["type"] == "illegal_argument_exception"
    assert error_of(info)["reason"] == "mapper [count] cannot be changed from type [integer] to [keyword]"
    with pytest.raises(BadRequestError) as info:
        es.indices.put_mapping(index="m", properties={"x": {"type": "strang"}})
    assert error_of(info)["type"] == "mapper_parsing_exception"
    assert (
        error_of(info)["reason"]
        == "Failed to parse mapping: No handler for type [strang] declared on field [x]"
    )
    assert error_of(info)["caused_by"]["reason"] == "No handler for type [strang] declared on field [x]"


def test_dynamic_mapping_of_new_fields(es):
    es.indices.create(index="dyn", mappings={"properties": {"tokens": {"type": "sparse_vector"}}})
    es.index(
        index="dyn",
        id="1",
        document={
            "title": "hello",
            "count": 3,
            "ratio": 0.5,
            "ok": True,
            "when": "2024-05-01T10:00:00Z",
            "author": {"name": "ada"},
            "tokens": {"hello": 1.5, "world": 0.2},
            "nothing": None,
        },
    )
    props = es.indices.get_mapping(index="dyn")["dyn"]["mappings"]["properties"]
    assert props["title"] == {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
    assert props["count"] == {"type": "long"}
    assert props["ratio"] == {"type": "float"}
    assert props["ok"] == {"type": "boolean"}
    assert props["when"] == {"type": "date"}
    assert props["author"] == {
        "properties": {
            "name": {"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}}
        }
    }
    assert props["tokens"] == {"type": "sparse_vector"}  # the token->weight object adds no sub-fields
    assert "nothing" not in props


def test_values_are_checked_against_the_mapping(es):
    es.indices.create(
        index="typed",
        mappings={"properties": {"n": {"type": "long"}, "v": {"type": "dense_vector", "dims": 3}}},
    )
    with pytest.raises(BadRequestError) as info:
        es.index(index="typed", id="1", document={"n": "abc"})
    assert error_of(info)["type"] == "document_parsing_exception"
    assert "failed to parse field [n] of type [long] in document with id '1'" in error_of(info)["reason"]
    with pytest.raises(BadRequestError) as info:
        es.index(index="typed", id="2", document={"v": [1.0, 2.0]})
    assert error_of(info)["reason"] == (
        "The [dense_vector] field [v] in doc [document with id '2'] has a different number of dimensions [2] than "
        "defined in the mapping [3]"
    )
    es.index(index="typed", id="3", document={"n": "42", "v": [1, 2, 3]})  # numeric strings coerce


def test_unmapped_objects_map_every_key_up_to_the_field_limit(es):
    es.indices.create(index="limited", settings={"index.mapping.total_fields.limit": 4})
    es.index(index="limited", id="1", document={"ml": {"a": 1.0, "b": 2.0}})
    with pytest.raises(BadRequestError) as info:
        es.index(index="limited", id="2", document={"ml": {"c": 1.0, "d": 2.0}})
    assert (
        error_of(info)["reason"] == "Limit of total fields [4] has been exceeded while adding new fields [2]"
    )


def test_settings_get_and_update(es):
    es.indices.create(index="s")
    es.indices.put_settings(
        index="s", settings={"index": {"default_pipeline": "p1", "number_of_replicas": 0}}
    )
    got = es.indices.get_settings(index="s")["s"]["settings"]["index"]
    assert got["default_pipeline"] == "p1" and got["number_of_replicas"] == "0"
    flat = es.indices.get_settings(index="s", name="index.default_pipeline", flat_settings=True)
    assert flat.body == {"s": {"settings": {"index.default_pipeline": "p1"}}}
    es.indices.put_settings(index="s", settings={"index.default_pipeline": None})
    assert "default_pipeline" not in es.indices.get_settings(index="s")["s"]["settings"]["index"]
    uuid = got["uuid"]
    with pytest.raises(BadRequestError) as info:
        es.indices.put_settings(index="s", settings={"number_of_shards": 3})
    assert error_of(info)["reason"] == (
        f"Can't update non dynamic settings [[index.number_of_shards]] for open indices [[s/{uuid}]]"
    )
    with pytest.raises(BadRequestError) as info:
        es.indices.put_settings(index="s", settings={"index.bogus_setting": 1})
    assert error_of(info)["reason"].startswith("unknown setting [index.bogus_setting]")


def test_refresh_and_count(es):
    es.indices.create(index="c1", settings={"number_of_shards": 2})
    assert es.indices.refresh(index="c1")["_shards"] == {"total": 4, "successful": 2, "failed": 0}
    es.bulk(
        operations=[
            {"index": {"_index": "c1"}},
            {"kind": "a"},
            {"index": {"_index": "c1"}},
            {"kind": "b"},
            {"index": {"_index": "c1"}},
            {"kind": "a"},
        ]
    )
    assert es.count(index="c1")["count"] == 3
    assert es.count(index="c1", query={"term": {"kind.keyword": "a"}})["count"] == 2
    assert es.count()["count"] == 3
    assert es.count(index="c1")["_shards"] == {"total": 2, "successful": 2, "skipped": 0, "failed": 0}


def test_aliases_actions_are_atomic(es):
    es.indices.create(index="v1")
    es.indices.create(index="v2")
    es.indices.update_aliases(actions=[{"add": {"index": "v1", "alias": "current"}}])
    with pytest.raises(NotFoundError):
        es.indices.update_aliases(
            actions=[
                {"remove": {"index": "v1", "alias": "current"}},
                {"add": {"index": "v3", "alias": "current"}},
            ]
        )
    assert set(es.indices.get_alias(name="current")) == {"v1"}  # nothing applied
    resp = es.indices.update_aliases(
        actions=[
            {"remove": {"index": "v1", "alias": "current"}},
            {"add": {"index": "v2", "alias": "current", "is_write_index": True}},
        ]
    )
    assert resp.body == {"acknowledged": True, "errors": False}
    assert es.indices.get_alias(name="current").body == {
        "v2": {"aliases": {"current": {"is_write_index": True}}}
    }
    es.index(index="current", id="1", document={"via": "alias"})
    assert es.get(index="v2", id="1")["_source"] == {"via": "alias"}
    with pytest.raises(NotFoundError) as info:
        es.indices.update_aliases(actions=[{"remove": {"index": "v1", "alias": "current"}}])
    assert error_of(info)["type"] == "aliases_not_found_exception"
    assert error_of(info)["reason"] == "aliases [current] missing"
    es.indices.update_aliases(actions=[{"remove": {"index": "v1", "alias": "current", "must_exist": False}}])
    es.indices.update_aliases(actions=[{"remove_index": {"index": "v1"}}])
    assert not es.indices.exists(index="v1")


def test_alias_name_clashing_with_an_index(es):
    es.indices.create(index="taken")
    es.indices.create(index="other")
    with pytest.raises(BadRequestError) as info:
        es.indices.put_alias(index="other", name="taken")
    assert error_of(info)["type"] == "invalid_alias_name_exception"
    assert error_of(info)["reason"] == (
        "Invalid alias name [taken]: an index or data stream exists with the same name as the alias"
    )


def test_get_put_delete_and_head_alias(es):
    es.indices.create(index="i1")
    es.indices.create(index="i2")
    es.indices.put_alias(index="i1,i2", name="both")
    assert es.indices.exists_alias(name="both").body is True
    assert es.indices.exists_alias(index="i1", name="both").body is True
    assert es.indices.exists_alias(name="none").body is False
    assert es.indices.get_alias(index="i1", name="both").body == {"i1": {"aliases": {"both": {}}}}
    all_aliases = es.indices.get_alias()
    assert all_aliases.body == {"i1": {"aliases": {"both": {}}}, "i2": {"aliases": {"both": {}}}}
    with pytest.raises(NotFoundError) as info:
        es.indices.get_alias(name="none")
    assert info.value.body == {"error": "alias [none] missing", "status": 404}
    with pytest.raises(BadRequestError) as info:
        es.index(index="both", document={"x": 1})
    assert error_of(info)["reason"].startswith("no write index is defined for alias [both].")
    es.indices.delete_alias(index="i1", name="both")
    assert es.indices.get_alias(name="both").body == {"i2": {"aliases": {"both": {}}}}
    with pytest.raises(NotFoundError) as info:
        es.indices.delete_alias(index="i1", name="both")
    assert error_of(info)["reason"] == "aliases [both] missing"


def test_wildcards_skip_dot_indices_unless_named(es):
    es.indices.create(index=".hidden-ish")
    es.indices.create(index="visible")
    es.index(index=".hidden-ish", id="1", document={"a": 1}, refresh=True)
    es.index(index="visible", id="1", document={"a": 1}, refresh=True)
    assert es.count(index="*")["count"] == 1
    assert es.count(index=".hidden-ish")["count"] == 1
    assert es.count(index=".h*")["count"] == 1
    assert [r["index"] for r in es.cat.indices(format="json")] == ["visible"]


# --- the in-process contract: IndexStore.get / resolve / scan ---------------------------------------------


def _store():
    cluster = Cluster(SandboxConfig())
    return cluster, cluster.indices


def test_store_get_and_resolve():
    _, store = _store()
    a = store.create("a-1", {"aliases": {"a": {}}})
    store.create("b-1", {})
    assert store.get("a") is a and store.exists("a") and not store.exists("zzz")
    assert [i.name for i in store.resolve("a*,b-1")] == ["a-1", "b-1"]
    assert [i.name for i in store.resolve("*,-b*")] == ["a-1"]
    assert store.resolve("nope*") == []
    with pytest.raises(EsError) as info:
        store.resolve("nope")
    assert info.value.status == 404
    assert store.resolve("nope,a-1", ignore_unavailable=True) == [a]
    with pytest.raises(EsError) as info:
        store.get("missing")
    assert info.value.type == "index_not_found_exception"


def test_store_scan_streams_a_snapshot_of_ids():
    cluster, store = _store()
    index = store.create(
        "big", {"mappings": {"properties": {"n": {"type": "long"}, "kind": {"type": "keyword"}}}}
    )
    for i in range(100_000):
        index.put(str(i), {"n": i, "kind": "even" if i % 2 == 0 else "odd"})
    scan = store.scan("big", {"term": {"kind": "even"}})
    first = next(scan)
    assert first == ("big", "0", {"n": 0, "kind": "even"})
    index.put("100000", {"n": 100000, "kind": "even"})  # written after the scan started: not seen
    index.delete("2")  # deleted before it was reached: skipped
    rest = list(scan)
    assert len(rest) == 50_000 - 2
    assert rest[-1][1] == "99998"
    assert rest[0][2] is index.docs["4"].source  # the stored source itself, not a copy
    assert sum(1 for _ in store.scan("big", None)) == 100_000


def test_store_rejects_bad_writes_without_changing_state():
    _, store = _store()
    index = store.create("w", {"mappings": {"properties": {"n": {"type": "long"}}}})
    with pytest.raises(EsError):
        index.put("1", {"n": "x"})
    assert len(index) == 0 and index.next_seq_no == 0
