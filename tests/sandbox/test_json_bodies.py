"""Request bodies read as Elasticsearch's Jackson parser reads them (es_sandbox/jackson.py,
es_sandbox/xcontent.py): comments allowed, duplicate keys and NaN/Infinity refused with Jackson's
messages and locations, wrapped as ES wraps them (x_content_parse_exception with the json_parse_exception
as its cause; a document's source as document_parsing_exception), the source quoted unless the request
says `include_source_on_error=false`. The same reader everywhere: search, bulk lines, documents,
updates, mappings, ingest pipelines, msearch."""

from __future__ import annotations

import asyncio

import pytest
from elasticsearch import ApiError, AsyncElasticsearch

JSON = {"accept": "application/json", "content-type": "application/json"}
NDJSON = {"accept": "application/json", "content-type": "application/x-ndjson"}


def _send(es, method: str, path: str, body: bytes, headers=JSON) -> dict:
    """A raw body through the client (the typed methods will not send malformed JSON)."""
    try:
        return dict(es.perform_request(method, path, headers=headers, body=body))
    except ApiError as err:
        return {"status": err.meta.status, **err.info}


def _source(body: str, line: int, column: int) -> str:
    return f'\n at [Source: (byte[])"{body}"; line: {line}, column: {column}]'


def test_a_duplicate_key_is_refused_where_jackson_finds_it(es):
    body = '{"size":1,"size":2}'
    error = _send(es, "POST", "/_search", body.encode())
    assert error["status"] == 400
    reason = "[1:17] Duplicate field 'size'" + _source(body, 1, 17)
    assert error["error"]["type"] == "x_content_parse_exception"
    assert error["error"]["reason"] == reason
    assert error["error"]["root_cause"] == [{"type": "x_content_parse_exception", "reason": reason}]
    assert error["error"]["caused_by"] == {
        "type": "json_parse_exception",
        "reason": "Duplicate field 'size'" + _source(body, 1, 17),
    }
    # nested, in a mapping and in an ingest pipeline: the same reader
    mapping = '{"mappings":{"properties":{"a":{"type":"text"},"a":{"type":"keyword"}}}}'
    error = _send(es, "PUT", "/dupes", mapping.encode())
    assert error["error"]["reason"] == "[1:51] Duplicate field 'a'" + _source(mapping, 1, 51)
    assert not es.indices.exists(index="dupes")
    pipeline = '{"processors":[{"set":{"field":"a","value":1,"field":"b"}}]}'
    error = _send(es, "PUT", "/_ingest/pipeline/p", pipeline.encode())
    assert error["error"]["reason"].startswith("[1:53] Duplicate field 'field'")


@pytest.mark.parametrize(
    ("value", "column", "message"),
    [
        ("NaN", 13, "Non-standard token 'NaN': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow"),
        (
            "Infinity",
            18,
            "Non-standard token 'Infinity': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow",
        ),
        (
            "-Infinity",
            19,
            "Non-standard token '-Infinity': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS` to allow",
        ),
        ("01", 11, "Invalid numeric value: Leading zeroes not allowed"),
        (
            "+1",
            11,
            "Unexpected character ('+' (code 43)) in numeric value: JSON spec does not allow numbers to have plus "
            "signs: enable `JsonReadFeature.ALLOW_LEADING_PLUS_SIGN_FOR_NUMBERS` to allow",
        ),
        (
            "tru",
            10,
            "Unrecognized token 'tru': was expecting (JSON String, Number, Array, Object or token 'null', "
            "'true' or 'false')",
        ),
        ("}", 10, "Unexpected character ('}' (code 125)): expected a value"),
    ],
)
def test_non_standard_values_are_refused_with_jacksons_messages(es, value, column, message):
    body = '{"size": ' + value + "}" if value != "}" else '{"size": }'
    error = _send(es, "POST", "/_search", body.encode())
    assert (error["status"], error["error"]["type"]) == (400, "x_content_parse_exception")
    assert error["error"]["reason"] == f"[1:{column}] {message}" + _source(body, 1, column)
    assert error["error"]["caused_by"]["type"] == "json_parse_exception"


def test_a_body_cut_short_is_an_end_of_file(es):
    error = _send(es, "POST", "/_search", b'{"query":{"match_all":{}}')
    assert error["status"] == 400
    assert error["error"]["type"] == "x_content_e_o_f_exception"
    assert error["error"]["reason"] == "[1:26] Unexpected end of file"
    assert error["error"]["caused_by"] == {
        "type": "json_e_o_f_exception",
        "reason": "Unexpected end-of-input: expected close marker for Object (start marker at [Source: "
        '(byte[])"{"query":{"match_all":{}}"; line: 1, column: 1])'
        + _source('{"query":{"match_all":{}}', 1, 26),
    }


def test_comments_are_read_as_white_space(es):
    mapping = b"""{
      // a line comment
      "mappings": {"properties": {"title": {"type": "text"} /* a block comment */ }}
    }"""
    assert _send(es, "PUT", "/commented", mapping)["acknowledged"] is True
    assert es.indices.get_mapping(index="commented")["commented"]["mappings"]["properties"] == {
        "title": {"type": "text"}
    }
    es.index(index="commented", id="1", document={"title": "hello world"}, refresh=True)
    hits = _send(es, "POST", "/commented/_search", b'{"query": {"match": {"title": "hello"}} /* why */}')
    assert hits["hits"]["total"]["value"] == 1
    pipeline = b'{"processors": [ /* tag */ {"set": {"field": "tagged", "value": true}}]}'
    assert _send(es, "PUT", "/_ingest/pipeline/tag", pipeline)["acknowledged"] is True
    # a comment left open is the end of the input
    error = _send(es, "POST", "/_search", b'{"size": 1 /* open')
    assert (error["error"]["type"], error["error"]["reason"]) == (
        "x_content_e_o_f_exception",
        "[1:19] Unexpected end of file",
    )
    assert error["error"]["caused_by"]["reason"].startswith("Unexpected end-of-input in a comment\n")


def test_include_source_on_error_false_redacts_the_body(es):
    error = _send(es, "POST", "/_search?include_source_on_error=false", b'{"size":1,"size":2}')
    assert error["error"]["reason"] == (
        "[1:17] Duplicate field 'size'\n at [Source: REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` "
        "disabled); line: 1, column: 17]"
    )


def test_a_long_body_is_quoted_to_500_bytes(es):
    body = '{"query":{"match":{"title":"' + "x" * 600 + '"}}, "size": NaN}'
    reason = _send(es, "POST", "/_search", body.encode())["error"]["reason"]
    assert f'(byte[])"{body[:500]}"[truncated {len(body) - 500} bytes]; line: 1, column: 645]' in reason


def test_bulk_lines_and_documents_are_read_by_the_same_reader(es):
    # an action line Jackson refuses fails the whole request
    error = _send(es, "POST", "/_bulk", b'{"index":{"_index":"b","_index":"c"}}\n{}\n', NDJSON)
    assert error["status"] == 400
    assert error["error"]["reason"] == "[1:32] Duplicate field '_index'" + _source(
        '{"index":{"_index":"b","_index":"c"}}', 1, 32
    )
    assert not es.indices.exists(index="b")
    # a source the shard cannot read fails its item alone, as DocumentParser wraps Jackson's error
    body = (
        b'{"index":{"_index":"b","_id":"1"}}\n{"a":1,"a":2}\n'
        b'{"index":{"_index":"b","_id":"2"}}\n{"n": NaN}\n'
        b'{"index":{"_index":"b","_id":"3"}}\n{"ok": true} // fine\n'
        b'{"index":{"_index":"b","_id":"4"}}\n\n'
    )
    resp = _send(es, "POST", "/_bulk", body, NDJSON)
    items = [item["index"] for item in resp["items"]]
    assert items[0]["error"] == {
        "type": "document_parsing_exception",
        "reason": "[1:6] failed to parse: [1:11] Duplicate field 'a'" + _source('{"a":1,"a":2}', 1, 11),
        "caused_by": {
            "type": "x_content_parse_exception",
            "reason": "[1:11] Duplicate field 'a'" + _source('{"a":1,"a":2}', 1, 11),
            "caused_by": {
                "type": "json_parse_exception",
                "reason": "Duplicate field 'a'" + _source('{"a":1,"a":2}', 1, 11),
            },
        },
    }
    assert items[1]["error"]["reason"].startswith(
        "[1:2] failed to parse: [1:10] Non-standard token 'NaN': enable `JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS`"
    )
    assert items[2]["result"] == "created"
    assert items[3]["error"] == {
        "type": "document_parsing_exception",
        "reason": "[0:0] failed to parse, document is empty",
    }
    assert es.get(index="b", id="3")["_source"] == {"ok": True}


def test_single_document_writes_are_parsed_as_the_shard_parses_them(es):
    error = _send(es, "PUT", "/docs/_doc/1", b'{"field": "value}')
    assert (error["status"], error["error"]["type"]) == (400, "document_parsing_exception")
    assert error["error"]["reason"] == (
        '[1:11] failed to parse: [1:18] Unexpected end-of-input in VALUE_STRING\n at [Source: (byte[])"{"field": '
        '"value}"; line: 1, column: 18]'
    )
    error = _send(es, "PUT", "/docs/_doc/1", b'["not", "an", "object"]')
    assert error["error"]["reason"] == "[1:1] Malformed content, must start with an object"
    error = _send(es, "PUT", "/docs/_doc/1", b'{"a": 1} {"b": 2}')
    assert (
        error["error"]["reason"] == "[1:10] Malformed content, found extra data after parsing: START_OBJECT"
    )
    error = _send(es, "PUT", "/docs/_doc/1?include_source_on_error=false", b'{"field": "value}')
    assert "REDACTED (`StreamReadFeature.INCLUDE_SOURCE_IN_LOCATION` disabled)" in error["error"]["reason"]
    assert "value}" not in str(error)
    assert (
        _send(es, "PUT", "/docs/_doc/1", b'{"a": 1} // the rest of the line is a comment')["result"]
        == "created"
    )


def test_update_bodies_are_read_by_updates_object_parser(es):
    es.index(index="u", id="1", document={"n": 1})
    assert (
        _send(es, "POST", "/u/_update/1", b'{"doc": {"n": 2}, "detect_noop": "false"}')["result"] == "updated"
    )
    error = _send(es, "POST", "/u/_update/1", b'{"doc": 5}')
    assert (error["error"]["type"], error["error"]["reason"]) == (
        "x_content_parse_exception",
        "[1:9] [UpdateRequest] doc doesn't support values of type: VALUE_NUMBER",
    )
    error = _send(es, "POST", "/u/_update/1", b'{"doc": {}, "doc_as_upsert": "maybe"}')
    assert error["error"]["reason"] == "[1:30] [UpdateRequest] failed to parse field [doc_as_upsert]"
    assert error["error"]["caused_by"] == {
        "type": "illegal_argument_exception",
        "reason": "Failed to parse value [maybe] as only [true] or [false] are allowed.",
    }
    error = _send(es, "POST", "/u/_update/1", b'{"doc": {"n": 1}, "doc": {"n": 2}}')
    assert error["error"]["reason"].startswith("[1:24] Duplicate field 'doc'\n at [Source: (byte[])")
    assert es.get(index="u", id="1")["_source"] == {"n": 2}


def test_msearch_lines_use_the_same_reader(es):
    es.index(index="m", id="1", document={"a": 1}, refresh=True)
    error = _send(es, "POST", "/_msearch", b'{"index":"m"}\n{"size":1,"size":2}\n', NDJSON)
    assert error["error"]["reason"] == "[1:17] Duplicate field 'size'" + _source('{"size":1,"size":2}', 1, 17)
    resp = _send(es, "POST", "/_msearch", b'{"index":"m"} // header\n{"size":1} /* body */\n', NDJSON)
    assert resp["responses"][0]["hits"]["total"]["value"] == 1


def test_the_async_client_meets_the_same_errors(sandbox):
    async def run() -> tuple[int, str, str]:
        async with AsyncElasticsearch(sandbox.url, node_class="httpxasync") as client:
            try:
                await client.perform_request("POST", "/_search", headers=JSON, body=b'{"from": NaN}')
            except ApiError as err:
                return err.meta.status, err.info["error"]["type"], err.info["error"]["reason"]
        raise AssertionError("NaN was accepted")

    status, error_type, reason = asyncio.run(run())
    assert (status, error_type) == (400, "x_content_parse_exception")
    assert reason.startswith("[1:13] Non-standard token 'NaN'")


def test_nesting_deeper_than_jacksons_limit_is_its_500(es):
    """StreamReadConstraints allow 1000 levels; the StreamConstraintsException is no JsonParseException,
    so no XContentParseException wraps it, and Elasticsearch answers 500 with its message."""
    ok = b'{"query":{"bool":{"filter":[]}},"aggs":' + b"[" * 990 + b"]" * 990 + b"}"
    assert _send(es, "POST", "/_search", ok)["status"] == 400  # parsed, then refused for what it says
    error = _send(es, "POST", "/_search", b"[" * 1001 + b"]" * 1001)
    assert (error["status"], error["error"]["type"], error["error"]["reason"]) == (
        500,
        "stream_constraints_exception",
        "Document nesting depth (1001) exceeds the maximum allowed (1000, from "
        "`StreamReadConstraints.getMaxNestingDepth()`)",
    )
