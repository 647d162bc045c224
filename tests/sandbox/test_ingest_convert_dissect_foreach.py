"""The convert, dissect and foreach processors through the real client: values, configuration errors
and failures as Elasticsearch 9.x words them."""

from __future__ import annotations

import pytest
from elasticsearch import ApiError, BadRequestError


def run(es, processors, source):
    """The simulated document, or its error, for one document through the processors."""
    return es.ingest.simulate(pipeline={"processors": processors}, docs=[{"_source": source}])["docs"][0]


def source_after(es, processors, source):
    result = run(es, processors, source)
    assert "error" not in result, result
    return result["doc"]["_source"]


def error_of(es, processors, source):
    error = run(es, processors, source)["error"]
    assert error["root_cause"] == [{"type": error["type"], "reason": error["reason"]}]
    return error["type"], error["reason"]


# --- convert ------------------------------------------------------------------------------------


def test_convert_each_type_from_the_inputs_elasticsearch_accepts(es):
    source = {
        "i": "42",
        "hex": "0x7b",
        "neg_hex": "-0x10",
        "l": "9007199254740993",
        "f": "242.15",
        "f_exp": "1.23e2",
        "f_int": 7,
        "d": "0x1.ecp6",
        "b": "TRUE",
        "ip": "2001:db8::1",
        "s": 3.0,
        "s_list": [1, True, None, {"a": 1}],
        "many": ["1", "2"],
        "already": 5,
    }
    out = source_after(
        es,
        [
            {"convert": {"field": "i", "type": "integer"}},
            {"convert": {"field": "hex", "type": "INTEGER"}},
            {"convert": {"field": "neg_hex", "type": "long"}},
            {"convert": {"field": "l", "type": "long"}},
            {"convert": {"field": "f", "type": "float"}},
            {"convert": {"field": "f_exp", "type": "float"}},
            {"convert": {"field": "f_int", "type": "double"}},
            {"convert": {"field": "d", "type": "double"}},
            {"convert": {"field": "b", "type": "boolean"}},
            {"convert": {"field": "ip", "type": "ip"}},
            {"convert": {"field": "s", "type": "string", "target_field": "s_text"}},
            {"convert": {"field": "s_list", "type": "string"}},
            {"convert": {"field": "many", "type": "integer"}},
            {"convert": {"field": "already", "type": "long"}},
        ],
        source,
    )
    assert out == {
        **source,
        "i": 42,
        "hex": 123,
        "neg_hex": -16,
        "l": 9007199254740993,
        "f": 242.15,
        "f_exp": 123.0,
        "f_int": 7.0,
        "d": 123.0,
        "b": True,
        "s_text": "3.0",
        "s_list": ["1", "true", "null", "{a=1}"],
        "many": [1, 2],
    }


def test_convert_auto_picks_the_closest_type_and_leaves_the_rest(es):
    values = {"t": "false", "small": "12", "big": "3000000000", "real": "3.5", "word": "x", "num": 1.5}
    out = source_after(es, [{"convert": {"field": name, "type": "auto"}} for name in values], dict(values))
    assert out == {"t": False, "small": 12, "big": 3000000000, "real": 3.5, "word": "x", "num": 1.5}


@pytest.mark.parametrize(
    ("value", "convert_type", "reason"),
    [
        ("abc", "integer", "unable to convert [abc] to integer"),
        ("3000000000", "integer", "unable to convert [3000000000] to integer"),
        (1.5, "integer", "unable to convert [1.5] to integer"),
        (" 1", "long", "unable to convert [ 1] to long"),
        ("1.2.3", "float", "unable to convert [1.2.3] to float"),
        ("x", "double", "unable to convert [x] to double"),
        ("yes", "boolean", "[yes] is not a boolean value, cannot convert to boolean"),
        (1, "boolean", "[1] is not a boolean value, cannot convert to boolean"),
        ("300.1.1.1", "ip", "'300.1.1.1' is not an IP string literal."),
    ],
)
def test_convert_failures(es, value, convert_type, reason):
    assert error_of(es, [{"convert": {"field": "v", "type": convert_type}}], {"v": value}) == (
        "illegal_argument_exception",
        reason,
    )


def test_convert_missing_and_null_fields(es):
    assert error_of(es, [{"convert": {"field": "v", "type": "integer"}}], {"v": None}) == (
        "illegal_argument_exception",
        "Field [v] is null, cannot be converted to type [integer]",
    )
    assert error_of(es, [{"convert": {"field": "v", "type": "integer"}}], {}) == (
        "illegal_argument_exception",
        "field [v] not present as part of path [v]",
    )
    ignored = {"convert": {"field": "v", "type": "integer", "ignore_missing": True}}
    assert source_after(es, [ignored], {}) == {}
    assert source_after(es, [ignored], {"v": None}) == {"v": None}


def test_convert_configuration_errors(es):
    with pytest.raises(BadRequestError) as info:
        es.ingest.put_pipeline(id="c", processors=[{"convert": {"field": "a", "type": "money", "tag": "t"}}])
    assert info.value.body["error"] == {
        "root_cause": [
            {
                "type": "parse_exception",
                "reason": "[type] type [money] not supported, cannot convert field.",
                "processor_type": "convert",
                "processor_tag": "t",
                "property_name": "type",
            }
        ],
        "type": "parse_exception",
        "reason": "[type] type [money] not supported, cannot convert field.",
        "processor_type": "convert",
        "processor_tag": "t",
        "property_name": "type",
    }
    with pytest.raises(BadRequestError) as info:
        es.ingest.put_pipeline(id="c", processors=[{"convert": {"field": "a"}}])
    assert info.value.body["error"]["reason"] == "[type] required property is missing"


# --- dissect ------------------------------------------------------------------------------------


def test_dissect_keys_and_modifiers(es):
    out = source_after(
        es,
        [
            {"dissect": {"field": "line", "pattern": "[%{ts}] %{level->} %{*key}=%{&key} %{msg}"}},
            {"dissect": {"field": "path", "pattern": "%{+p/2}/%{+p/1}/%{?skip}", "append_separator": "|"}},
            {"dissect": {"field": "csv", "pattern": "%{a},%{b},%{c},%{d}"}},
        ],
        {"line": "[2024-05-01] WARN    user=ann disk almost full", "path": "x/y/z", "csv": "1,,,"},
    )
    assert out["ts"] == "2024-05-01"
    assert out["level"] == "WARN"
    assert out["user"] == "ann"
    assert out["msg"] == "disk almost full"
    assert out["p"] == "y|x"
    assert (out["a"], out["b"], out["c"], out["d"]) == ("1", "", "", "")


def test_dissect_mismatch_and_missing_field(es):
    assert error_of(es, [{"dissect": {"field": "m", "pattern": "%{a},%{b},%{c}"}}], {"m": "foo bar baz"}) == (
        "find_match",
        "Unable to find match for dissect pattern: %{a},%{b},%{c} against source: foo bar baz",
    )
    assert error_of(es, [{"dissect": {"field": "m", "pattern": "%{a}"}}], {"m": None}) == (
        "illegal_argument_exception",
        "field [m] is null, cannot process it.",
    )
    assert error_of(es, [{"dissect": {"field": "m", "pattern": "%{a}"}}], {"m": 3}) == (
        "illegal_argument_exception",
        "field [m] of type [java.lang.Integer] cannot be cast to [java.lang.String]",
    )
    assert (
        source_after(es, [{"dissect": {"field": "m", "pattern": "%{a}", "ignore_missing": True}}], {}) == {}
    )


def test_dissect_mismatch_fails_indexing_with_status_500(es):
    es.ingest.put_pipeline(id="d", processors=[{"dissect": {"field": "m", "pattern": "%{a} %{b}"}}])
    with pytest.raises(ApiError) as info:
        es.index(index="logs", id="1", document={"m": "nospace"}, pipeline="d")
    assert info.value.meta.status == 500
    assert info.value.body["error"]["type"] == "find_match"


def test_dissect_bad_pattern_is_refused_when_the_pipeline_is_put(es):
    with pytest.raises(ApiError) as info:
        es.ingest.put_pipeline(id="d", processors=[{"dissect": {"field": "m", "pattern": "bad pattern"}}])
    reason = "Unable to parse pattern: bad pattern Reason: Unable to find any keys or delimiters."
    assert info.value.meta.status == 500
    assert info.value.body["error"] == {
        "root_cause": [
            {
                "type": "exception",
                "reason": f"org.elasticsearch.dissect.DissectException$PatternParse: {reason}",
                "processor_type": "dissect",
            }
        ],
        "type": "exception",
        "reason": f"org.elasticsearch.dissect.DissectException$PatternParse: {reason}",
        "processor_type": "dissect",
        "caused_by": {"type": "pattern_parse", "reason": reason},
    }


# --- foreach ------------------------------------------------------------------------------------


def test_foreach_over_a_list_and_a_map(es):
    result = run(
        es,
        [
            {"foreach": {"field": "tags", "processor": {"uppercase": {"field": "_ingest._value"}}}},
            {
                "foreach": {
                    "field": "scores",
                    "processor": {"convert": {"field": "_ingest._value", "type": "integer"}},
                }
            },
        ],
        {"tags": ["a", "b"], "scores": {"math": "90", "art": "75"}},
    )
    assert result["doc"]["_source"] == {"tags": ["A", "B"], "scores": {"art": 75, "math": 90}}
    # The loop leaves its metadata keys behind, null, as Elasticsearch does.
    assert result["doc"]["_ingest"]["_value"] is None
    assert result["doc"]["_ingest"]["_key"] is None


def test_foreach_can_rename_map_keys_and_drop(es):
    out = source_after(
        es,
        [
            {
                "foreach": {
                    "field": "m",
                    "processor": {"set": {"field": "_ingest._key", "value": "k_{{_ingest._key}}"}},
                }
            }
        ],
        {"m": {"x": 1}},
    )
    assert out == {"m": {"k_x": 1}}
    dropped = es.ingest.simulate(
        pipeline={"processors": [{"foreach": {"field": "l", "processor": {"drop": {}}}}]},
        docs=[{"_source": {"l": [1]}}],
    )["docs"]
    assert dropped == [None]


def test_foreach_errors(es):
    upper = {"uppercase": {"field": "_ingest._value"}}
    assert error_of(es, [{"foreach": {"field": "l", "processor": upper}}], {"l": "text"}) == (
        "illegal_argument_exception",
        "field [l] of type [java.lang.String] cannot be cast to a list or map",
    )
    assert error_of(es, [{"foreach": {"field": "l", "processor": upper}}], {"l": None}) == (
        "illegal_argument_exception",
        "field [l] is null, cannot loop over its elements.",
    )
    assert error_of(es, [{"foreach": {"field": "l", "processor": upper}}], {"l": ["a", 1]}) == (
        "illegal_argument_exception",
        "field [_ingest._value] of type [java.lang.Integer] cannot be cast to [java.lang.String]",
    )
    assert (
        source_after(es, [{"foreach": {"field": "l", "processor": upper, "ignore_missing": True}}], {}) == {}
    )
    with pytest.raises(BadRequestError) as info:
        es.ingest.put_pipeline(
            id="f", processors=[{"foreach": {"field": "l", "processor": {"uppercase": {}, "trim": {}}}}]
        )
    assert info.value.body["error"]["reason"] == "[processor] Must specify exactly one processor type"
    with pytest.raises(BadRequestError) as info:
        es.ingest.put_pipeline(id="f", processors=[{"foreach": {"field": "l", "processor": {"trim": {}}}}])
    assert info.value.body["error"]["reason"] == "[field] required property is missing"
    assert info.value.body["error"]["processor_type"] == "trim"
