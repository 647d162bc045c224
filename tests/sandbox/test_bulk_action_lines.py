"""`_bulk` action lines read as BulkRequestParser reads them: each parameter through XContentParser's
typed accessors (text(), longValue(), intValue(), booleanValue() with their coercions and errors), the
line walked token by token with Jackson's reader (es_sandbox/xcontent.py), one reader for every body."""

from __future__ import annotations

import pytest
from elasticsearch import ApiError

NDJSON = {"accept": "application/json", "content-type": "application/x-ndjson"}


def _bulk(es, body: bytes) -> dict:
    try:
        return dict(es.perform_request("POST", "/_bulk", headers=NDJSON, body=body))
    except ApiError as err:
        return {"status": err.meta.status, **err.info}


def test_values_are_read_with_the_typed_accessors(es):
    resp = _bulk(
        es,
        b'{"index":{"_index":"t","_id":5}}\n{"a":1}\n'  # text() of a number
        b'{"index":{"_index":"t","_id":"v","version":"7","version_type":"external"}}\n{"a":2}\n'
        b'{"index":{"_index":"t","_id":"w","version":9.9,"version_type":"external_gte"}}\n{"a":3}\n'
        b'{"index":{"_index":"t","_id":"x","version":"4.5","version_type":"external"}}\n{"a":4}\n'
        b'{"create":{"_index":"t","_id":"y","require_alias":""}}\n{"a":5}\n'
        b'{"update":{"_index":"t","_id":"5","retry_on_conflict":"3"}} // a comment\n{"doc":{"b":1}}\n',
    )
    assert resp["errors"] is False, resp
    assert [next(iter(item.values()))["_id"] for item in resp["items"]] == ["5", "v", "w", "x", "y", "5"]
    assert es.get(index="t", id="v")["_version"] == 7
    assert es.get(index="t", id="w")["_version"] == 9  # longValue drops the fraction
    assert es.get(index="t", id="x")["_version"] == 4  # a decimal string, coerced
    assert es.get(index="t", id="5")["_source"] == {"a": 1, "b": 1}


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            b'{"index":{"_index":"t","version":true}}',
            (
                "x_content_parse_exception",
                "[1:38] Current token (VALUE_TRUE) not numeric, can not use numeric value accessors\n at "
                '[Source: (byte[])"{"index":{"_index":"t","version":true}}"; line: 1, column: 38]',
            ),
        ),
        (
            b'{"index":{"_index":"t","version":"abc"}}',
            ("illegal_argument_exception", 'For input string: "abc"'),
        ),
        (
            b'{"index":{"_index":"t","if_seq_no":1180591620717411303424}}',
            (
                "x_content_parse_exception",
                "[1:58] Numeric value (1180591620717411303424) out of range of long (-9223372036854775808 - "
                '9223372036854775807)\n at [Source: (byte[])"{"index":{"_index":"t","if_seq_no":'
                '1180591620717411303424}}"; line: 1, column: 58]',
            ),
        ),
        (
            b'{"index":{"_index":"t","require_alias":"yes"}}',
            (
                "illegal_argument_exception",
                "Failed to parse value [yes] as only [true] or [false] are allowed.",
            ),
        ),
        (
            b'{"index":{"_index":"t","require_alias":1}}',
            (
                "x_content_parse_exception",
                "[1:41] Current token (VALUE_NUMBER_INT) not of boolean type\n at [Source: (byte[])"
                '"{"index":{"_index":"t","require_alias":1}}"; line: 1, column: 41]',
            ),
        ),
        (
            b'{"update":{"_index":"t","_id":"1","retry_on_conflict":"x"}}',
            ("number_format_exception", 'For input string: "x"'),
        ),
        (
            b'{"index":{"_index":"t","version_type":"sometimes"}}',
            ("illegal_argument_exception", "No version type match [sometimes]"),
        ),
        (
            b'{"index":{"_index":"t","routing":["a"]}}',
            (
                "illegal_argument_exception",
                "Malformed action/metadata line [1], expected a simple value for field [routing] but found [START_ARRAY]",
            ),
        ),
        (
            b'{"index":{"_index":"t","colour":"red"}}',
            ("illegal_argument_exception", "Action/metadata line [1] contains an unknown parameter [colour]"),
        ),
        (
            b'{"index":{"_index":"t"},"delete":{}}',
            (
                "illegal_argument_exception",
                "Malformed action/metadata line [1], expected END_OBJECT but found [FIELD_NAME]",
            ),
        ),
        (
            b'{"index":{"_index":"t"}} {}',
            (
                "illegal_argument_exception",
                "Malformed action/metadata line [1], unexpected data after the closing brace",
            ),
        ),
        (b'{"index":{"_index":"t"}', ("x_content_e_o_f_exception", "[1:24] Unexpected end of file")),
    ],
)
def test_a_value_an_accessor_refuses_fails_the_request(es, line, expected):
    resp = _bulk(es, line + b"\n{}\n")
    assert resp["status"] == 400
    assert (resp["error"]["type"], resp["error"]["reason"]) == expected
    assert not es.indices.exists(index="t")


def test_source_of_an_action_takes_only_its_kinds(es):
    resp = _bulk(es, b'{"update":{"_index":"t","_id":"1","_source":5}}\n{"doc":{}}\n')
    assert resp["status"] == 400
    assert resp["error"] == {
        "root_cause": [
            {
                "type": "parsing_exception",
                "reason": "Expected one of [VALUE_BOOLEAN, START_OBJECT] but found [VALUE_NUMBER]",
                "line": 1,
                "col": 45,
            }
        ],
        "type": "parsing_exception",
        "reason": "Expected one of [VALUE_BOOLEAN, START_OBJECT] but found [VALUE_NUMBER]",
        "line": 1,
        "col": 45,
    }
    resp = _bulk(es, b'{"update":{"_index":"t","_id":"1","_source":["a"]}}\n{"doc":{}}\n')
    assert resp["error"]["reason"] == (  # an array is not a simple value, even for _source
        "Malformed action/metadata line [1], expected a simple value for field [_source] but found [START_ARRAY]"
    )
    resp = _bulk(
        es,
        b'{"update":{"_index":"t","_id":"1","_source":{"includes":["a"]}}}\n{"doc":{"a":1},"doc_as_upsert":true}\n',
    )
    assert resp["items"][0]["update"]["result"] == "created"
