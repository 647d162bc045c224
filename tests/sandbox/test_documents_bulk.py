"""`_bulk` and the document APIs as Elasticsearch 9 parses, validates and answers them, with the real
elasticsearch-py client: require_alias per request and per action, empty ids, malformed action lines
(whole-request errors with ES's texts), request validation, updates through ingest pipelines, and the
shape of every per-item error."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from elasticsearch import AsyncElasticsearch, BadRequestError, NotFoundError


def statuses(resp) -> list[int]:
    return [next(iter(item.values()))["status"] for item in resp["items"]]


def item(resp, n: int) -> dict:
    return next(iter(resp["items"][n].values()))


REQUIRE_ALIAS_REASON = (
    "no such index [new_index_not_created] and [require_alias] request flag is [true] and "
    "[new_index_not_created] is not an alias"
)


def test_require_alias_per_action(es):
    es.indices.create(index="backing_index", aliases={"test_require_alias": {}})
    resp = es.bulk(
        refresh=True,
        operations=[
            {"index": {"_index": "new_index_not_created", "require_alias": True}},
            {"f": 1},
            {"index": {"_index": "new_index_created"}},
            {"f": 2},
            {"index": {"_index": "test_require_alias", "require_alias": True}},
            {"f": 3},
            {"create": {"_index": "test_require_alias"}},
            {"f": 4},
        ],
    )
    assert resp["errors"] is True
    assert statuses(resp) == [404, 201, 201, 201]
    failed = item(resp, 0)
    assert (failed["_index"], failed["_id"]) == ("new_index_not_created", None)
    assert failed["error"]["type"] == "index_not_found_exception"
    assert failed["error"]["reason"] == REQUIRE_ALIAS_REASON
    assert item(resp, 2)["_index"] == "backing_index"  # written through the alias
    with pytest.raises(NotFoundError):
        es.indices.get(index="new_index_not_created")  # never auto-created


def test_require_alias_per_request_and_overridden_per_action(es):
    es.indices.create(index="backing_index", aliases={"test_require_alias": {}})
    resp = es.bulk(
        require_alias=True,
        operations=[
            {"index": {"_index": "new_index_not_created"}},
            {"f": 1},
            {"index": {"_index": "new_index_created", "require_alias": False}},
            {"f": 2},
            {"update": {"_index": "new_index_not_created", "_id": "1"}},
            {"doc": {"f": 3}, "doc_as_upsert": True},
            {"delete": {"_index": "new_index_not_created", "_id": "1"}},  # deletes never require an alias
        ],
    )
    assert statuses(resp) == [404, 201, 404, 404]
    assert item(resp, 2)["error"]["reason"] == REQUIRE_ALIAS_REASON
    assert item(resp, 3)["error"]["type"] == "index_not_found_exception"
    assert item(resp, 3)["error"]["reason"] == "no such index [new_index_not_created]"
    with pytest.raises(NotFoundError) as single:
        es.index(index="other_missing", id="1", document={"f": 1}, require_alias=True)
    assert single.value.body["error"]["reason"] == (
        "no such index [other_missing] and [require_alias] request flag is [true] and [other_missing] is not an alias"
    )
    es.index(index="test_require_alias", id="9", document={"f": 9}, require_alias=True)
    assert es.get(index="backing_index", id="9")["found"]


def test_empty_id_fails_its_item_and_is_missing_for_updates_and_deletes(es):
    resp = es.bulk(
        refresh=True,
        operations=[
            {"index": {"_index": "test", "_id": ""}},
            {"f": 1},
            {"index": {"_index": "test", "_id": "id"}},
            {"f": 2},
            {"index": {"_index": "test"}},
            {"f": 3},
            {"create": {"_index": "test"}},
            {"f": 4},
            {"index": {"_index": "test", "op_type": "create"}},
            {"f": 5},
        ],
    )
    assert resp["errors"] is True
    assert item(resp, 0)["status"] == 400
    assert item(resp, 0)["error"] == {
        "type": "illegal_argument_exception",
        "reason": "if _id is specified it must not be empty",
    }
    assert [item(resp, n)["result"] for n in range(1, 5)] == ["created"] * 4
    assert list(resp["items"][4]) == ["create"]  # op_type create makes a create item
    assert es.count(index="test")["count"] == 4
    with pytest.raises(BadRequestError) as whole:
        es.bulk(
            operations=[
                {"delete": {"_index": "test", "_id": ""}},
                {"update": {"_index": "test", "_id": ""}},
                {"doc": {}},
            ]
        )
    assert whole.value.error == "action_request_validation_exception"
    assert whole.value.body["error"]["reason"] == "Validation Failed: 1: id is missing;2: id is missing;"


MALFORMED = [
    (
        '{"index": {"_index": "t", "_id": "1"}}\n{"f": 1}\n{}\n',
        "Malformed action/metadata line [3], expected FIELD_NAME but found [END_OBJECT]",
    ),
    ("[1]\n", "Malformed action/metadata line [1], expected START_OBJECT but found [START_ARRAY]"),
    ('"index"\n', "Malformed action/metadata line [1], expected START_OBJECT but found [VALUE_STRING]"),
    (
        '{"index": "t"}\n{}\n',
        "Malformed action/metadata line [1], expected START_OBJECT or END_OBJECT but found [VALUE_STRING]",
    ),
    (
        '{"invalidaction": {}}\n{}\n',
        "Malformed action/metadata line [1], expected field [create], [delete], [index] or [update] but found "
        "[invalidaction]",
    ),
    ('{"index": {"foo": 1}}\n{}\n', "Action/metadata line [1] contains an unknown parameter [foo]"),
    ('{"index": {"_type": "doc"}}\n{}\n', "Action/metadata line [1] contains an unknown parameter [_type]"),
    (
        '{"index": {"_id": ["x"]}}\n{}\n',
        "Malformed action/metadata line [1], expected a simple value for field [_id] but found [START_ARRAY]",
    ),
    (
        '{"index": {"routing": {"a": 1}}}\n{}\n',
        "Malformed action/metadata line [1], expected a simple value for field [routing] but found [START_OBJECT]",
    ),
    (
        '{"index": {}, "delete": {}}\n{}\n',
        "Malformed action/metadata line [1], expected END_OBJECT but found [FIELD_NAME]",
    ),
    (
        '{"index": {}} {"x": 1}\n{}\n',
        "Malformed action/metadata line [1], unexpected data after the closing brace",
    ),
    (
        '{"update": {"_index": "t", "_id": "1", "version": 2}}\n{"doc": {}}\n',
        "Update requests do not support versioning. Please use `if_seq_no` and `if_primary_term` instead",
    ),
    (
        '{"delete": {"_index": "t", "_id": "1", "dynamic_templates": {"a": "b"}}}\n',
        "Delete request in line [1] does not accept dynamic_templates",
    ),
    ('{"index": {"_index": "t", "version_type": "newest"}}\n{}\n', "No version type match [newest]"),
    ('{"index": {"_index": "t"}}\n{"a": 1}', "The bulk request must be terminated by a newline [\\n]"),
]


@pytest.mark.parametrize(("body", "reason"), MALFORMED)
def test_malformed_action_lines_fail_the_whole_request(es, sandbox, body, reason):
    resp = httpx.post(
        f"{sandbox.url}/_bulk",
        content=body.encode(),
        headers={"content-type": "application/x-ndjson"},
        timeout=10,
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["type"] == "illegal_argument_exception"
    assert resp.json()["error"]["reason"] == reason
    assert not es.indices.exists(index="t")


def test_a_compatible_with_8_request_may_carry_extra_action_keys(sandbox, es):
    headers = {
        "content-type": "application/vnd.elasticsearch+x-ndjson; compatible-with=8",
        "accept": "application/vnd.elasticsearch+json; compatible-with=8",
    }
    body = b'{"index": {"_index": "t8", "_id": "1"}, "delete": {}}\n{"f": 1}\n'
    resp = httpx.post(f"{sandbox.url}/_bulk", content=body, headers=headers, timeout=10)
    assert resp.status_code == 200 and resp.json()["items"][0]["index"]["result"] == "created"


def test_request_validation_collects_every_problem(es):
    with pytest.raises(BadRequestError) as info:
        es.bulk(
            operations=[
                {"create": {"_index": "t", "_id": "1", "if_seq_no": 1, "if_primary_term": 1}},
                {"f": 1},
                {"index": {"_index": "t", "_id": "2", "version": 3}},
                {"f": 2},
                {"index": {"_index": "t", "if_seq_no": 4}},
                {"f": 3},
                {"index": {"_index": "t", "_id": "x" * 513}},
                {"f": 4},
                {"update": {"_index": "t", "_id": "5"}},
                {"upsert": {"f": 5}},
            ]
        )
    assert info.value.error == "action_request_validation_exception"
    assert info.value.body["error"]["reason"] == (
        "Validation Failed: 1: create operations do not support compare and set. use index instead;"
        "2: internal versioning can not be used for optimistic concurrency control. Please use `if_seq_no` and "
        "`if_primary_term` instead;3: ifSeqNo is set, but primary term is [0];"
        f"4: id [{'x' * 513}] is too long, must be no longer than 512 bytes but was: 513;"
        "5: script or doc is missing;"
    )
    with pytest.raises(BadRequestError) as update:
        es.update(index="t", id="1", upsert={"f": 1})
    assert update.value.body["error"]["reason"] == "Validation Failed: 1: script or doc is missing;"
    with pytest.raises(BadRequestError) as field:
        es.update(index="t", id="1", body={"doc": {}, "dock": {}})
    assert (field.value.error, field.value.body["error"]["reason"]) == (
        "x_content_parse_exception",
        "[1:11] [UpdateRequest] unknown field [dock]",  # the client sends compact JSON
    )
    assert not es.indices.exists(index="t")


def test_updates_go_through_the_upserts_pipelines(es):
    es.ingest.put_pipeline(id="tag", processors=[{"set": {"field": "tagged", "value": "yes"}}])
    es.ingest.put_pipeline(id="drop", processors=[{"drop": {}}])
    es.indices.create(index="defaulted", settings={"index.default_pipeline": "tag"})
    resp = es.bulk(
        operations=[
            {"update": {"_index": "plain", "_id": "1", "pipeline": "tag"}},
            {"doc": {"n": 1}, "upsert": {"n": 0}},  # missing: the upsert, processed, is stored
            {"update": {"_index": "plain", "_id": "1", "pipeline": "tag"}},
            {"doc": {"n": 2}, "upsert": {"n": 0}},  # present: the doc is merged as sent
            {"update": {"_index": "plain", "_id": "2", "pipeline": "drop"}},
            {"doc": {"n": 1}, "upsert": {"n": 0}},
            {"update": {"_index": "plain", "_id": "3", "pipeline": "nope"}},
            {"doc": {"n": 1}, "upsert": {"n": 0}},
        ]
    )
    assert statuses(resp) == [201, 200, 200, 400]
    assert es.get(index="plain", id="1")["_source"] == {"n": 2, "tagged": "yes"}
    assert item(resp, 2)["result"] == "noop" and item(resp, 2)["_version"] == -3  # dropped by its pipeline
    assert item(resp, 3)["error"] == {
        "type": "illegal_argument_exception",
        "reason": "pipeline with id [nope] does not exist",
    }
    # doc_as_upsert: the doc goes through the index's default pipeline, through _update as through _bulk
    assert es.update(index="defaulted", id="a", doc={"n": 1}, doc_as_upsert=True)["result"] == "created"
    assert es.get(index="defaulted", id="a")["_source"] == {"n": 1, "tagged": "yes"}


def test_per_item_error_shapes(es):
    es.indices.create(index="shaped", mappings={"properties": {"n": {"type": "long"}}})
    uuid = es.indices.get(index="shaped")["shaped"]["settings"]["index"]["uuid"]
    es.index(index="shaped", id="1", document={"n": 1})
    es.indices.create(index="a1", aliases={"two": {}})
    es.indices.create(index="a2", aliases={"two": {}})
    body = (
        "".join(
            json.dumps(line) + "\n"
            for line in [
                {"create": {"_index": "shaped", "_id": "1"}},
                {"n": 2},
                {"update": {"_index": "shaped", "_id": "missing"}},
                {"doc": {"n": 3}},
                {"delete": {"_index": "no_such_index", "_id": "1"}},
                {"index": {"_index": "two"}},
                {"n": 4},
                {"index": {"_index": "shaped", "_id": "2"}},
                {"n": "not a number"},
            ]
        )
        + '{"index": {"_index": "shaped"}}\n{"n": \n'
    )
    resp = es.bulk(operations=body)
    assert statuses(resp) == [409, 404, 404, 400, 400, 400]
    shard = {"index_uuid": uuid, "shard": "0", "index": "shaped"}
    assert item(resp, 0) == {
        "_index": "shaped",
        "_id": "1",
        "status": 409,
        "error": {
            "type": "version_conflict_engine_exception",
            "reason": "[1]: version conflict, document already exists (current version [1])",
            **shard,
        },
    }
    assert item(resp, 1)["error"] == {
        "type": "document_missing_exception",
        "reason": "[missing]: document missing",
        **shard,
    }
    assert item(resp, 2)["error"] == {
        "type": "index_not_found_exception",
        "reason": "no such index [no_such_index]",
        "resource.type": "index_or_alias",
        "resource.id": "no_such_index",
        "index_uuid": "_na_",
        "index": "no_such_index",
    }
    assert item(resp, 3)["error"]["reason"] == (
        "no write index is defined for alias [two]. The write index may be explicitly disabled using "
        "is_write_index=false or the alias points to multiple indices without one being designated as a write index"
    )
    assert item(resp, 4)["error"]["type"] == "document_parsing_exception"
    assert item(resp, 5)["error"]["type"] == "document_parsing_exception"  # a source the shard cannot parse
    assert item(resp, 5)["_id"] and item(resp, 5)["_index"] == "shaped"  # the id generated for it
    assert es.count(index="shaped")["count"] == 1


def test_async_client_bulk(sandbox, es):
    async def run() -> dict:
        client = AsyncElasticsearch(sandbox.url, node_class="httpxasync")
        try:
            return (
                await client.bulk(
                    operations=[{"index": {"_index": "as", "_id": "", "require_alias": False}}, {"f": 1}]
                )
            ).body
        finally:
            await client.close()

    resp = asyncio.run(run())
    assert item(resp, 0)["error"]["reason"] == "if _id is specified it must not be empty"
