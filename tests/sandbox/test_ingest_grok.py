"""The grok processor and GET _ingest/processor/grok through the real client: the built-in banks
(legacy and ECS), typed and repeated captures, trace_match, and the errors Elasticsearch gives."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError

APACHE_LINE = (
    '83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /presentations/logstash-monitorama-2013/images/'
    'kibana-search.png HTTP/1.1" 200 203023 "http://semicomplete.com/presentations/logstash-monitorama-2013/" '
    '"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1)"'
)


def simulate(es, grok, source):
    return es.ingest.simulate(pipeline={"processors": [{"grok": grok}]}, docs=[{"_source": source}])["docs"][
        0
    ]


def grokked(es, grok, source):
    result = simulate(es, grok, source)
    assert "error" not in result, result
    return result["doc"]


def test_grok_pipeline_from_the_rest_tests(es):
    """120_grok.yml: typed captures, custom patterns, a custom pattern shadowing a built-in one."""
    doc = grokked(
        es,
        {"field": "f", "patterns": ["%{NUMBER:val:float} %{NUMBER:status:int} <%{WORD:msg}>"]},
        {"f": "123.42 400 <foo>"},
    )
    assert doc["_source"] == {"f": "123.42 400 <foo>", "val": 123.42, "status": 400, "msg": "foo"}
    custom = {"field": "f", "patterns": ["<%{MY_PATTERN:msg}>"], "pattern_definitions": {"MY_PATTERN": "foo"}}
    assert grokked(es, custom, {"f": "<foo>"})["_source"]["msg"] == "foo"
    shadow = {"field": "f", "patterns": ["<%{NUMBER:msg}>"], "pattern_definitions": {"NUMBER": "foo"}}
    assert grokked(es, shadow, {"f": "<foo>"})["_source"]["msg"] == "foo"


def test_the_documentation_example(es):
    doc = grokked(
        es,
        {
            "field": "message",
            "patterns": [
                "%{IP:client} %{WORD:method} %{URIPATHPARAM:request} %{NUMBER:bytes:int} %{NUMBER:duration:double}"
            ],
        },
        {"message": "55.3.244.1 GET /index.html 15824 0.043"},
    )
    assert doc["_source"] == {
        "duration": 0.043,
        "request": "/index.html",
        "method": "GET",
        "bytes": 15824,
        "client": "55.3.244.1",
        "message": "55.3.244.1 GET /index.html 15824 0.043",
    }


def test_trace_match_records_which_pattern_matched(es):
    doc = grokked(
        es,
        {
            "field": "field",
            "patterns": ["%{ONE:one}", "%{TWO:two}"],
            "pattern_definitions": {"ONE": "1", "TWO": "2"},
            "trace_match": True,
        },
        {"field": "abc2xyz"},
    )
    assert doc["_source"] == {"field": "abc2xyz", "two": "2"}
    assert sorted(doc["_ingest"]) == ["_grok_match_index", "timestamp"]
    assert doc["_ingest"]["_grok_match_index"] == "1"
    single = grokked(es, {"field": "f", "patterns": ["%{WORD:w}"], "trace_match": True}, {"f": "x"})
    assert single["_ingest"]["_grok_match_index"] == "0"


def test_legacy_and_ecs_banks_name_fields_as_elasticsearch_does(es):
    legacy = grokked(es, {"field": "m", "patterns": ["%{COMBINEDAPACHELOG}"]}, {"m": APACHE_LINE})["_source"]
    assert {k: legacy[k] for k in ("clientip", "verb", "response", "bytes", "timestamp")} == {
        "clientip": "83.149.9.216",
        "verb": "GET",
        "response": "200",
        "bytes": "203023",
        "timestamp": "17/May/2015:10:05:03 +0000",
    }
    ecs = grokked(
        es,
        {"field": "m", "patterns": ["%{COMBINEDAPACHELOG}"], "ecs_compatibility": "v1"},
        {"m": APACHE_LINE},
    )
    source = ecs["_source"]
    assert source["source"] == {"address": "83.149.9.216"}
    assert source["http"]["request"]["method"] == "GET"
    assert source["http"]["response"] == {"status_code": 200, "body": {"bytes": 203023}}
    assert source["url"] == {"original": "/presentations/logstash-monitorama-2013/images/kibana-search.png"}


def test_syslog_and_oniguruma_only_constructs(es):
    line = "Mar 16 00:01:25 evita postfix/smtpd[1713]: connect from camomile.cloud9.net[168.100.1.3]"
    out = grokked(es, {"field": "m", "patterns": ["%{SYSLOGLINE}"]}, {"m": line})["_source"]
    assert (out["program"], out["pid"], out["logsource"]) == ("postfix/smtpd", "1713", "evita")
    # POSIX brackets, \h and Ruby's (?m) (DOTALL) are translated for Python's re.
    out = grokked(
        es,
        {
            "field": "m",
            "patterns": ["(?m)%{RUUID:id} (?<word>[[:alpha:]]+) (?<rest>.+)"],
        },
        {"m": "0123456789abcdef0123456789ABCDEF héllo multi\nline"},
    )["_source"]
    assert (out["id"], out["word"], out["rest"]) == (
        "0123456789abcdef0123456789ABCDEF",
        "héllo",
        "multi\nline",
    )


def test_repeated_field_names_collect_a_list(es):
    grok = {"field": "m", "patterns": ["%{INT:n:int}(?: %{INT:n:int})?"]}
    assert grokked(es, grok, {"m": "1"})["_source"]["n"] == 1
    assert grokked(es, grok, {"m": "1 2"})["_source"]["n"] == [1, 2]


def test_runtime_errors(es):
    error = simulate(es, {"field": "m", "patterns": ["%{INT:n}"]}, {"m": "none"})["error"]
    assert (error["type"], error["reason"]) == (
        "illegal_argument_exception",
        "Provided Grok expressions do not match field value: [none]",
    )
    error = simulate(es, {"field": "m", "patterns": ["%{INT:n}"]}, {"m": None})["error"]
    assert error["reason"] == "field [m] is null, cannot process it."
    error = simulate(es, {"field": "m", "patterns": ["%{INT:n}"]}, {"m": ["1"]})["error"]
    assert error["reason"] == "field [m] of type [java.util.ArrayList] cannot be cast to [java.lang.String]"
    assert grokked(es, {"field": "m", "patterns": ["%{INT:n}"], "ignore_missing": True}, {})["_source"] == {}
    error = simulate(es, {"field": "m", "patterns": ["%{NUMBER:n:int}"]}, {"m": "1.5"})["error"]
    assert (error["type"], error["reason"]) == ("number_format_exception", 'For input string: "1.5"')


@pytest.mark.parametrize(
    ("grok", "reason", "prop"),
    [
        ({"field": "m", "patterns": []}, "[patterns] List of patterns must not be empty", "patterns"),
        (
            {"field": "m", "patterns": ["%{NOPE:x}"]},
            "[patterns] Invalid regex pattern found in: [%{NOPE:x}]. "
            "Unable to find pattern [NOPE] in Grok's pattern dictionary",
            "patterns",
        ),
        (
            {"field": "m", "patterns": ["%{A}"], "pattern_definitions": {"A": "%{B}", "B": "x%{A}"}},
            "[patterns] Invalid regex pattern found in: [%{A}]. circular reference detected: A->B->A",
            "patterns",
        ),
        (
            {"field": "m", "patterns": ["%{A}"], "pattern_definitions": {"A": "%{MISSING}"}},
            "[patterns] Invalid regex pattern found in: [%{A}]. pattern [A] is referencing a non-existent "
            "pattern [MISSING]",
            "patterns",
        ),
        (
            {"field": "m", "patterns": ["x"], "ecs_compatibility": "v2"},
            "[ecs_compatibility] unsupported mode 'v2'",
            "ecs_compatibility",
        ),
        (
            {"field": "m", "patterns": ["(?<=a|bc)x"]},
            "[patterns] Invalid regex pattern found in: [(?<=a|bc)x]. es_sandbox cannot run it with Python's re: "
            "Python's re allows only fixed-width lookbehind (?<=...) and (?<!...)",
            "patterns",
        ),
    ],
)
def test_configuration_errors(es, grok, reason, prop):
    with pytest.raises(BadRequestError) as info:
        es.ingest.put_pipeline(id="g", processors=[{"grok": {**grok, "tag": "g1"}}])
    assert info.value.body["error"] == {
        "root_cause": [
            {
                "type": "parse_exception",
                "reason": reason,
                "processor_type": "grok",
                "processor_tag": "g1",
                "property_name": prop,
            }
        ],
        "type": "parse_exception",
        "reason": reason,
        "processor_type": "grok",
        "processor_tag": "g1",
        "property_name": prop,
    }


def test_get_the_pattern_banks(es):
    legacy = es.ingest.processor_grok()["patterns"]
    assert len(legacy) == 318  # the count Elasticsearch's 120_grok.yml expects
    assert legacy["PATH"] == "(?:%{UNIXPATH}|%{WINPATH})"
    assert list(legacy)[:3] == ["S3_REQUEST_LINE", "S3_ACCESS_LOG", "ELB_URIPATHPARAM"]
    assert legacy["TIMESTAMP_ISO8601"].startswith("%{YEAR}-%{MONTHNUM}-%{MONTHDAY}[T ]%{ISO8601_HOUR}")
    # The client's processor_grok() has no parameters: ecs_compatibility and s go through perform_request.
    ecs = bank(es, ecs_compatibility="v1", s="")  # ?s alone sorts, as in the grok documentation
    assert list(ecs) == sorted(ecs)
    assert ecs["HTTPD_COMMONLOG"].startswith("%{IPORHOST:source.address} ")
    assert "[source]" not in "".join(ecs.values())
    with pytest.raises(BadRequestError) as info:
        bank(es, ecs_compatibility="v9")
    assert info.value.body["error"]["reason"] == "unsupported ECS compatibility mode [v9]"


def bank(es, **params):
    return es.perform_request(
        "GET", "/_ingest/processor/grok", params=params, headers={"accept": "application/json"}
    )["patterns"]


def test_grok_feeds_an_indexed_document(es):
    es.ingest.put_pipeline(
        id="access",
        processors=[
            {"grok": {"field": "message", "patterns": ["%{COMMONAPACHELOG}"], "ecs_compatibility": "v1"}},
            {"date": {"field": "timestamp", "formats": ["dd/MMM/yyyy:HH:mm:ss Z"]}},
            {"remove": {"field": ["timestamp", "message"]}},
        ],
    )
    es.index(index="access", id="1", document={"message": APACHE_LINE.rsplit(' "', 2)[0]}, pipeline="access")
    stored = es.get(index="access", id="1")["_source"]
    assert stored["@timestamp"] == "2015-05-17T10:05:03.000Z"
    assert stored["http"]["response"]["status_code"] == 200
