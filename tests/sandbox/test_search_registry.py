"""The query type registry: a subsystem adds a query type, or another behaviour of a built-in query on
fields of one mapped type, by registering it, and `_search` / `_count` over HTTP use it.

The registrations happen in this test process, so this module serves the sandbox app in-process (a
uvicorn server in a thread) rather than in a subprocess; the client is the real elasticsearch-py.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from elasticsearch import BadRequestError, Elasticsearch

from es_sandbox.app import create_app
from es_sandbox.config import SandboxConfig
from es_sandbox.search import (
    HIGHLIGHTERS,
    QUERIES,
    Field,
    HighlightContext,
    Matcher,
    PrepareContext,
    QueryContext,
)
from tests.conftest import TEST_SANDBOX
from tests.sandbox.ml_support import reset_sandbox


@pytest.fixture(scope="module")
def local_es() -> Iterator[Elasticsearch]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = SandboxConfig(**{**TEST_SANDBOX, "port": port})
    server = uvicorn.Server(uvicorn.Config(create_app(config), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    client = Elasticsearch(f"http://127.0.0.1:{port}", request_timeout=10)
    yield client
    client.close()
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture
def es(local_es: Elasticsearch) -> Elasticsearch:
    reset_sandbox(local_es)
    local_es.indices.create(
        index="plain", mappings={"properties": {"body": {"type": "text"}, "n": {"type": "long"}}}
    )
    local_es.indices.create(
        index="tagged", mappings={"properties": {"body": {"type": "keyword"}, "n": {"type": "long"}}}
    )
    ops: list[dict[str, Any]] = []
    for index in ("plain", "tagged"):
        for i, text in enumerate(["red apple", "green apple", "red car"]):
            ops += [{"index": {"_index": index, "_id": str(i)}}, {"body": text, "n": i}]
    local_es.bulk(operations=ops, refresh=True)
    return local_es


@pytest.fixture
def registered() -> Iterator[dict[str, Any]]:
    """A query type `n_at_least` with a pre-search step, and `match` on keyword fields overridden."""
    seen: dict[str, Any] = {"prepared": [], "override_prepared": []}

    async def prepare(body: dict[str, Any], pctx: PrepareContext) -> dict[str, Any]:
        seen["prepared"].append(sorted(i.name for i in pctx.indices))
        return {**body, "_threshold": int(body["value"])}

    def compile_n(ctx: QueryContext, body: dict[str, Any]) -> Matcher:
        f, threshold = ctx.field(body["field"]), body["_threshold"]
        return lambda doc_id, source: 2.0 if any(v >= threshold for v in f.values(source)) else None

    async def prepare_override(body: dict[str, Any], pctx: PrepareContext, field_name: str) -> dict[str, Any]:
        seen["override_prepared"].append((field_name, sorted(pctx.field_types(field_name))))
        return body

    def match_keyword_exactly(ctx: QueryContext, field: Field, body: dict[str, Any]) -> Matcher:
        wanted = body[field.name] if not isinstance(body[field.name], dict) else body[field.name]["query"]
        return lambda doc_id, source: 7.0 if wanted in field.values(source) else None

    QUERIES.register("n_at_least", compile_n, prepare=prepare, field_of=lambda body: body.get("field"))
    QUERIES.register_field_type("match", "keyword", match_keyword_exactly, prepare=prepare_override)
    yield seen
    QUERIES.unregister("n_at_least")
    QUERIES.unregister_field_type("match", "keyword")


def _ids(resp: Any) -> list[tuple[str, str]]:
    return sorted((h["_index"], h["_id"]) for h in resp["hits"]["hits"])


def test_a_registered_query_type_runs_its_pre_search_step_once_and_nests(es, registered):
    resp = es.search(
        index="plain,tagged",
        query={"bool": {"filter": [{"n_at_least": {"field": "n", "value": 2}}]}},
    )
    assert _ids(resp) == [("plain", "2"), ("tagged", "2")]
    assert registered["prepared"] == [["plain", "tagged"]]
    assert es.count(index="plain", query={"n_at_least": {"field": "n", "value": 1}})["count"] == 2


def test_a_field_type_override_replaces_the_query_on_fields_of_that_type_only(es, registered):
    resp = es.search(index="plain,tagged", query={"match": {"body": "red apple"}})
    by_index = {(h["_index"], h["_id"]): h["_score"] for h in resp["hits"]["hits"]}
    # keyword field: the override (exact value, score 7); text field: the built-in match (any term).
    assert by_index[("tagged", "0")] == 7.0
    assert ("tagged", "2") not in by_index
    assert {k for k in by_index if k[0] == "plain"} == {("plain", "0"), ("plain", "1"), ("plain", "2")}
    assert registered["override_prepared"] == [("body", ["keyword", "text"])]


def test_unregistered_query_types_are_unknown_with_a_suggestion(es):
    with pytest.raises(BadRequestError) as err:
        es.search(index="plain", query={"n_at_least": {"field": "n", "value": 1}})
    assert err.value.error == "parsing_exception"
    assert err.value.info["error"]["reason"] == "unknown query [n_at_least]"
    with pytest.raises(BadRequestError) as err:
        es.search(index="plain", query={"matc": {"body": "x"}})
    assert err.value.info["error"]["reason"] == "unknown query [matc] did you mean [match]?"


def test_registration_refuses_duplicates_and_overrides_of_queries_without_a_field():
    with pytest.raises(ValueError, match=r"query type \[match\] is already registered"):
        QUERIES.register("match", lambda ctx, body: lambda doc_id, source: None)
    with pytest.raises(ValueError, match=r"query type \[bool\] is not registered with a field_of"):
        QUERIES.register_field_type("bool", "keyword", lambda ctx, f, body: lambda doc_id, source: None)


def test_a_registered_highlighter_is_the_default_for_its_field_type(es):
    def shout(ctx: HighlightContext) -> list[str] | None:
        assert ctx.query == query  # the search's prepared query
        return [str(v).upper() for v in ctx.values()]

    query = {"bool": {"should": [{"match": {"body": "red"}}, {"terms": {"n": [0, 2]}}]}}
    HIGHLIGHTERS.register("shout", shout)
    HIGHLIGHTERS.set_default("keyword", "shout")
    try:
        resp = es.search(
            index="plain,tagged",
            query=query,
            highlight={"fields": {"body": {}}},
        )
    finally:
        HIGHLIGHTERS.unregister("shout")
    highlights = sorted((h["_index"], h["highlight"]["body"]) for h in resp["hits"]["hits"])
    assert highlights == [
        ("plain", ["<em>red</em> apple"]),
        ("plain", ["<em>red</em> car"]),
        ("tagged", ["RED APPLE"]),
        ("tagged", ["RED CAR"]),
    ]
