"""Scripts of the update context with the real elasticsearch-py client: `_update` (with upsert and
scripted_upsert, ctx.op none and delete), `_update_by_query` (noops, deletes, no moving documents) and
`_reindex` (the script may send a document to another id); the Painless the sandbox runs (assignments,
`+=`, `-=`, `++`, `--`, params) and its refusal of the rest, and runtime errors as ES wraps them."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError, NotFoundError

from tests.sandbox.ml_support import status_type_reason


@pytest.fixture
def people(es):
    es.index(index="people", id="1", document={"name": "ada", "age": 29})
    es.index(index="people", id="2", document={"name": "bob", "age": 41}, refresh=True)
    return es


def test_update_runs_the_script(people):
    es = people
    updated = es.update(
        index="people", id="1", script={"source": "ctx._source.age += params.years", "params": {"years": 2}}
    )
    assert updated["result"] == "updated" and es.get(index="people", id="1")["_source"]["age"] == 31
    assert es.update(index="people", id="1", script="ctx.op = 'none'")["result"] == "noop"
    assert (
        es.update(index="people", id="9", script="ctx._source.age = 1", upsert={"age": 0})["result"]
        == "created"
    )
    assert es.get(index="people", id="9")["_source"] == {"age": 0}  # the upsert as given
    es.update(index="people", id="8", script="ctx._source.age++", upsert={"age": 0}, scripted_upsert=True)
    assert es.get(index="people", id="8")["_source"] == {"age": 1}
    assert es.update(index="people", id="2", script="ctx.op = 'delete'")["result"] == "deleted"
    with pytest.raises(NotFoundError):
        es.update(index="people", id="7", script="ctx._source.age = 1")


def test_update_script_errors(people):
    with pytest.raises(BadRequestError) as failed:
        people.update(index="people", id="1", script="ctx._source.missing.x = 1")
    assert status_type_reason(failed.value) == (400, "illegal_argument_exception", "failed to execute script")
    cause = failed.value.body["error"]["caused_by"]
    assert cause["type"] == "script_exception" and cause["caused_by"]["type"] == "null_pointer_exception"
    with pytest.raises(BadRequestError) as refused:
        people.update(index="people", id="1", script={"source": "ctx._source.a = 1", "lang": "mustache"})
    assert status_type_reason(refused.value)[2] == "script_lang not supported [mustache]"
    with pytest.raises(BadRequestError) as refused:
        people.update(index="people", id="1", script="for (x in y) {}")
    assert "es_sandbox runs only field assignments" in status_type_reason(refused.value)[2]


def test_update_by_query_runs_the_script(people):
    es = people
    done = es.update_by_query(
        index="people", query={"term": {"name": "ada"}}, script="ctx._source.age++", refresh=True
    )
    assert (done["total"], done["updated"], done["noops"]) == (1, 1, 0)
    assert es.get(index="people", id="1")["_source"]["age"] == 30
    assert es.update_by_query(index="people", script="ctx.op = 'noop'")["noops"] == 2
    with pytest.raises(BadRequestError) as refused:
        es.update_by_query(index="people", script="ctx._id = 'x'")
    assert status_type_reason(refused.value) == (
        400,
        "illegal_argument_exception",
        "Modifying [_id] not allowed",
    )
    with pytest.raises(BadRequestError) as refused:
        es.update_by_query(index="people", script="ctx.op = 'bogus'")
    assert (
        status_type_reason(refused.value)[2]
        == "Operation type [bogus] not allowed, only [noop, index, delete] are allowed"
    )
    gone = es.update_by_query(
        index="people", query={"term": {"name": "bob"}}, script="ctx.op = 'delete'", refresh=True
    )
    assert gone["deleted"] == 1 and es.count(index="people")["count"] == 1


def test_reindex_script_may_rename_documents(people):
    es = people
    done = es.reindex(
        source={"index": "people"},
        dest={"index": "copy"},
        script={"source": "ctx._source.copied = true; ctx._id = ctx._id + '-c'"},
        refresh=True,
    )
    assert done["created"] == 2
    hits = es.search(index="copy")["hits"]["hits"]
    assert sorted((h["_id"], h["_source"]["copied"]) for h in hits) == [("1-c", True), ("2-c", True)]
