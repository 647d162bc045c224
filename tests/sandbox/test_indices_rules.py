"""Index rules as Elasticsearch 9 applies them, with the real elasticsearch-py client: deleting through
aliases and wildcards (ignore_unavailable, allow_no_indices, action.destructive_requires_name),
cluster settings, automatic index creation, index settings validation (soft deletes, types, static
settings such as index.mapping.source.mode), date math index names, and invalid mappings refused at
create and put-mapping (the rules are the mappings module's; the index APIs call them)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from elasticsearch import AsyncElasticsearch, BadRequestError, NotFoundError


@pytest.fixture
def aliased(es):
    """10_basic.yml's setup: `index` behind `alias`, and `index2`."""
    es.indices.create(index="index", aliases={"alias": {}})
    es.indices.create(index="index2")
    return es


def names(es) -> list[str]:
    return sorted(es.indices.get(index="*", allow_no_indices=True))


def test_delete_against_an_alias(aliased):
    es = aliased
    with pytest.raises(BadRequestError) as refused:
        es.indices.delete(index="alias")
    assert refused.value.error == "illegal_argument_exception"
    assert refused.value.body["error"]["reason"] == (
        "The provided expression [alias] matches an alias, specify the corresponding concrete indices instead."
    )
    assert es.indices.delete(index="alias", ignore_unavailable=True).body == {"acknowledged": True}
    assert names(es) == ["index", "index2"]
    with pytest.raises(BadRequestError):
        es.indices.delete(index="alias,index2")
    assert names(es) == ["index", "index2"]  # all or nothing
    es.indices.delete(index="alias,index2", ignore_unavailable=True)
    assert names(es) == ["index"]
    with pytest.raises(NotFoundError) as missing:
        es.indices.delete(index="nonexistent_index")
    assert missing.value.body["error"]["reason"] == "no such index [nonexistent_index]"


def test_delete_by_wildcard_never_matches_aliases(aliased):
    es = aliased
    with pytest.raises(BadRequestError) as guarded:
        es.indices.delete(index="alia*")
    assert guarded.value.body["error"]["reason"] == "Wildcard expressions or all indices are not allowed"
    with pytest.raises(BadRequestError):
        es.indices.delete(index="_all")
    settings = es.cluster.put_settings(persistent={"action.destructive_requires_name": False})
    assert settings.body == {
        "acknowledged": True,
        "persistent": {"action": {"destructive_requires_name": "false"}},
        "transient": {},
    }
    assert es.indices.delete(index="alia*").body == {"acknowledged": True}
    assert names(es) == ["index", "index2"]  # the wildcard matched no index: nothing deleted
    with pytest.raises(NotFoundError) as none:
        es.indices.delete(index="alia*", allow_no_indices=False)
    assert none.value.body["error"]["reason"] == "no such index [alia*]"
    with pytest.raises(NotFoundError):
        es.indices.delete(index="index2,alia*", allow_no_indices=False)
    assert names(es) == ["index", "index2"]
    es.indices.delete(index="alia*,index2")
    assert names(es) == ["index"]
    es.indices.create(index="other")
    es.indices.delete(index="*,-index")
    assert names(es) == ["index"]


def test_cluster_settings(es):
    assert es.cluster.get_settings().body == {"persistent": {}, "transient": {}}
    defaults = es.cluster.get_settings(include_defaults=True, flat_settings=True)["defaults"]
    assert defaults == {"action.auto_create_index": "true", "action.destructive_requires_name": "true"}
    with pytest.raises(BadRequestError) as unknown:
        es.cluster.put_settings(persistent={"cluster.nope": 1})
    assert unknown.value.body["error"]["reason"] == "persistent setting [cluster.nope], not recognized"
    with pytest.raises(BadRequestError) as value:
        es.cluster.put_settings(transient={"action.destructive_requires_name": "maybe"})
    assert (
        value.value.body["error"]["reason"]
        == "Failed to parse value [maybe] as only [true] or [false] are allowed."
    )
    with pytest.raises(BadRequestError) as empty:
        es.cluster.put_settings(persistent={})
    assert empty.value.body["error"]["reason"] == "Validation Failed: 1: no settings to update;"
    es.cluster.put_settings(transient={"action": {"auto_create_index": "+logs-*,-tmp*"}})
    assert es.cluster.get_settings(flat_settings=True)["transient"] == {
        "action.auto_create_index": "+logs-*,-tmp*"
    }
    es.cluster.put_settings(transient={"action.auto_create_index": None})
    assert es.cluster.get_settings()["transient"] == {}


def test_auto_create_index_setting(es):
    es.cluster.put_settings(persistent={"action.auto_create_index": "+logs-*,-tmp*"})
    assert es.index(index="logs-1", document={"a": 1})["result"] == "created"
    with pytest.raises(NotFoundError) as forbidden:
        es.index(index="tmp-1", document={"a": 1})
    assert forbidden.value.body["error"]["reason"] == (
        "no such index [tmp-1] and [action.auto_create_index] contains [-tmp*] which forbids automatic creation of "
        "the index"
    )
    with pytest.raises(NotFoundError) as unmatched:
        es.index(index="other", document={"a": 1})
    assert unmatched.value.body["error"]["reason"] == (
        "no such index [other] and [action.auto_create_index] ([+logs-*,-tmp*]) doesn't match"
    )
    es.cluster.put_settings(persistent={"action.auto_create_index": False})
    resp = es.bulk(operations=[{"index": {"_index": "nowhere"}}, {"a": 1}])
    failed = resp["items"][0]["index"]
    assert failed["status"] == 404
    assert failed["error"]["reason"] == "no such index [nowhere] and [action.auto_create_index] is [false]"
    es.indices.create(index="explicit")  # creating an index outright is always allowed
    assert not es.indices.exists(index="nowhere")


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        (
            {"index.soft_deletes.enabled": False},
            "Creating indices with soft-deletes disabled is no longer supported. Please do not specify a value for "
            "setting [index.soft_deletes.enabled].",
        ),
        ({"index.hidden": "yes"}, "Failed to parse value [yes] as only [true] or [false] are allowed."),
        (
            {"index.refresh_interval": "fast"},
            "failed to parse setting [index.refresh_interval] with value [fast] as a time value: unit is missing or "
            "unrecognized",
        ),
        (
            {"index.mapping.source.mode": "compressed"},
            "No enum constant org.elasticsearch.index.mapper.SourceFieldMapper.Mode.COMPRESSED",
        ),
        (
            {"number_of_shards": 0},
            "Failed to parse value [0] for setting [index.number_of_shards] must be >= 1",
        ),
        (
            {"index.foo": 1},
            "unknown setting [index.foo] please check that any required plugins are installed, or check the breaking "
            "changes documentation for removed settings",
        ),
    ],
)
def test_index_settings_validated_at_create(es, settings, reason):
    with pytest.raises(BadRequestError) as info:
        es.indices.create(index="s", settings=settings)
    assert (info.value.error, info.value.body["error"]["reason"]) == ("illegal_argument_exception", reason)
    assert not es.indices.exists(index="s")


def test_static_settings_cannot_change_on_an_open_index(es):
    es.indices.create(
        index="src", settings={"index.mapping.source.mode": "synthetic", "index.soft_deletes.enabled": True}
    )
    uuid = es.indices.get_settings(index="src")["src"]["settings"]["index"]["uuid"]
    for setting in ("index.mapping.source.mode", "index.soft_deletes.enabled", "index.sort.field"):
        with pytest.raises(BadRequestError) as info:
            es.indices.put_settings(index="src", settings={setting: "stored"})
        assert info.value.body["error"]["reason"] == (
            f"Can't update non dynamic settings [[{setting}]] for open indices [[src/{uuid}]]"
        )
    assert (
        es.indices.get_settings(index="src")["src"]["settings"]["index"]["mapping"]["source"]["mode"]
        == "synthetic"
    )
    es.indices.put_settings(index="src", settings={"index.refresh_interval": "5s"})  # a dynamic one is fine


def test_date_math_index_names(es):
    before = datetime.now(UTC)
    created = es.indices.create(index="<logs-{now/d}>")
    today = {f"logs-{d:%Y.%m.%d}" for d in (before, datetime.now(UTC))}
    assert created["index"] in today
    name = created["index"]
    settings = es.indices.get_settings(index=name)[name]["settings"]["index"]
    assert settings["provided_name"] == "<logs-{now/d}>"
    month = es.index(index="<metrics-{now/M{yyyy-MM}}>", id="1", document={"v": 1}, refresh=True)
    assert month["_index"] in {f"metrics-{d:%Y-%m}" for d in (before, datetime.now(UTC))}
    assert es.get(index="<metrics-{now/M{yyyy-MM}}>", id="1")["_source"] == {"v": 1}
    yesterday = es.indices.create(index="<logs-{now-1d/d{yyyy.MM.dd|+00:00}}>")["index"]
    assert yesterday in {f"logs-{d - timedelta(days=1):%Y.%m.%d}" for d in (before, datetime.now(UTC))}
    with pytest.raises(BadRequestError) as bad:
        es.indices.create(index="<logs-{now/d>")
    assert bad.value.error == "parse_exception"
    assert bad.value.body["error"]["reason"] == (
        "invalid dynamic name expression [logs-{now/d]. date math placeholder is open ended"
    )


def test_invalid_mappings_are_refused_at_create_and_put_mapping(es):
    with pytest.raises(BadRequestError) as created:
        es.indices.create(index="m", mappings={"properties": {"a": {"type": "no_such_type"}}})
    assert created.value.error == "mapper_parsing_exception"
    assert (
        created.value.body["error"]["reason"]
        == "Failed to parse mapping: No handler for type [no_such_type] declared on field [a]"
    )
    assert not es.indices.exists(index="m")
    es.indices.create(index="m", mappings={"properties": {"a": {"type": "keyword"}}})
    with pytest.raises(BadRequestError) as changed:
        es.indices.put_mapping(index="m", properties={"a": {"type": "long"}})
    assert (
        changed.value.body["error"]["reason"] == "mapper [a] cannot be changed from type [keyword] to [long]"
    )


def test_async_client(sandbox, es):
    async def run() -> tuple[str, str]:
        client = AsyncElasticsearch(sandbox.url, node_class="httpxasync")
        try:
            created = await client.indices.create(index="<a-{now/y{yyyy}}>")
            try:
                await client.indices.delete(index="a-*")
            except BadRequestError as err:
                return created["index"], err.body["error"]["reason"]
            return created["index"], ""
        finally:
            await client.close()

    name, reason = asyncio.run(run())
    assert name.startswith("a-20") and reason == "Wildcard expressions or all indices are not allowed"


def test_common_dynamic_cluster_settings_are_accepted_and_checked(es):
    import warnings

    from elasticsearch import ElasticsearchWarning

    with warnings.catch_warnings(record=True) as heard:
        warnings.simplefilter("always")
        answer = es.cluster.put_settings(transient={"indices.recovery.max_bytes_per_sec": "50mb"})
    assert answer["transient"] == {"indices": {"recovery": {"max_bytes_per_sec": "50mb"}}}
    assert any(
        w.category is ElasticsearchWarning and str(w.message).startswith("[transient settings removal]")
        for w in heard
    )
    es.cluster.put_settings(
        persistent={"cluster.routing.allocation.enable": "primaries", "logger.org.elasticsearch": "debug"}
    )
    flat = es.cluster.get_settings(flat_settings=True)["persistent"]
    assert flat == {"cluster.routing.allocation.enable": "primaries", "logger.org.elasticsearch": "debug"}
    with pytest.raises(BadRequestError) as refused:
        es.cluster.put_settings(persistent={"cluster.max_shards_per_node": "many"})
    assert (
        refused.value.body["error"]["reason"]
        == "Failed to parse value [many] for setting [cluster.max_shards_per_node]"
    )
    with pytest.raises(BadRequestError) as refused:
        es.cluster.put_settings(persistent={"indices.recovery.max_bytes_per_sec": "fast"})
    assert "as a size in bytes: unit is missing or unrecognized" in refused.value.body["error"]["reason"]
    es.cluster.put_settings(transient={"indices.recovery.max_bytes_per_sec": None})
    assert es.cluster.get_settings()["transient"] == {}
