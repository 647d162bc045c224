"""The date processor through the real client: Elasticsearch's own REST test cases (formats, zones,
week-based years), output formats, and its errors with their Java causes."""

from __future__ import annotations

import pytest
from elasticsearch import ApiError


def parsed(es, source, **date):
    doc = es.ingest.simulate(
        pipeline={"processors": [{"date": {"field": "v", **date}}]}, docs=[{"_source": source}]
    )["docs"][0]
    assert "error" not in doc, doc
    return doc["doc"]["_source"][date.get("target_field", "@timestamp")]


def failure(es, source, **date):
    return es.ingest.simulate(
        pipeline={"processors": [{"date": {"field": "v", **date}}]}, docs=[{"_source": source}]
    )["docs"][0]["error"]


@pytest.mark.parametrize(
    ("value", "formats", "options", "expected"),
    [
        # modules/ingest-common's 30_date_processor.yml
        ("12/06/2010", ["dd/MM/yyyy"], {"timezone": "Europe/Amsterdam"}, "2010-06-12T00:00:00.000+02:00"),
        ("2010-06-01T00:00:00.000", ["ISO8601"], {"timezone": "+01:00"}, "2010-06-01T00:00:00.000+01:00"),
        ("2010-06-01T00:00:00.000Z", ["ISO8601"], {"timezone": "+01:00"}, "2010-06-01T01:00:00.000+01:00"),
        ("2018-02-05T13:44:56.657+0100", ["yyyy-MM-dd'T'HH:mm:ss.SSSZZ"], {}, "2018-02-05T12:44:56.657Z"),
        ("2017-04-04 13:43:09 +0200", ["yyyy-MM-dd HH:mm:ss Z"], {}, "2017-04-04T11:43:09.000Z"),
        ("10/Aug/2018:09:45:56 +0200", ["dd/MMM/yyyy:H:m:s Z"], {}, "2018-08-10T07:45:56.000Z"),
        ("1", ["UNIX"], {}, "1970-01-01T00:00:01.000Z"),
        ("1", ["UNIX_MS"], {}, "1970-01-01T00:00:00.001Z"),
        ("4000000050d506482dbdf024", ["TAI64N"], {}, "2012-12-22T01:00:46.767Z"),
        ("2018-02-05T13:44:56.657+0100", ["ISO8601"], {}, "2018-02-05T12:44:56.657Z"),
        ("2020-33", ["YYYY-ww"], {}, "2020-08-10T00:00:00.000Z"),
        ("2020-33", ["YYYY-ww"], {"locale": "en-US"}, "2020-08-09T00:00:00.000Z"),
        # the date processor's documentation example
        (
            "20250102123456",
            ["yyyyMMddHHmmss"],
            {"timezone": "America/Los_Angeles"},
            "2025-01-02T12:34:56.000-08:00",
        ),
        # more forms
        (1577836800.5, ["UNIX"], {}, "2020-01-01T00:00:00.500Z"),
        (
            "Jan 5, 2024 3:07 PM",
            ["MMM d, yyyy h:mm a"],
            {"timezone": "Asia/Tokyo"},
            "2024-01-05T15:07:00.000+09:00",
        ),
        ("Tue, 03 Jun 2008 11:05:30 GMT", ["EEE, dd MMM yyyy HH:mm:ss z"], {}, "2008-06-03T11:05:30.000Z"),
        (
            "2024-03-31 02:30",
            ["yyyy-MM-dd HH:mm"],
            {"timezone": "Europe/Paris"},
            "2024-03-31T03:30:00.000+02:00",
        ),
        ("bad", ["yyyy", "dd.MM.yyyy||yyyy-MM-dd"], {}, None),
    ],
)
def test_date_formats_and_zones(es, value, formats, options, expected):
    if expected is None:
        assert (
            failure(es, {"v": value}, formats=formats, **options)["reason"]
            == f"unable to parse date [{value}]"
        )
    else:
        assert parsed(es, {"v": value}, formats=formats, **options) == expected


def test_second_format_is_tried_and_templated_zone_and_output_format(es):
    out = parsed(
        es,
        {"v": "2024-05-01", "tz": "Asia/Kolkata"},
        formats=["dd/MM/yyyy", "yyyy-MM-dd"],
        timezone="{{{tz}}}",
        target_field="day",
        output_format="yyyy-MM-dd'T'HH:mm:ssXXX '['VV']'",
    )
    assert out == "2024-05-01T00:00:00+05:30 [Asia/Kolkata]"
    assert (
        parsed(es, {"v": "2024-05-01"}, formats=["yyyy-MM-dd"], output_format="epoch_millis")
        == "1714521600000"
    )


def test_unparsable_dates_name_every_format_tried(es):
    error = failure(es, {"v": "nope"}, formats=["dd/MM/yyyy", "ISO8601"])
    assert error == {
        "root_cause": [{"type": "illegal_argument_exception", "reason": "unable to parse date [nope]"}],
        "type": "illegal_argument_exception",
        "reason": "unable to parse date [nope]",
        "caused_by": {
            "type": "illegal_argument_exception",
            "reason": "failed to parse date field [nope] with format [dd/MM/yyyy]",
            "caused_by": {
                "type": "date_time_parse_exception",
                "reason": "Text 'nope' could not be parsed at index 0",
            },
            "suppressed": [
                {
                    "type": "illegal_argument_exception",
                    "reason": "failed to parse date field [nope] with format [iso8601]",
                    "caused_by": {
                        "type": "date_time_parse_exception",
                        "reason": "Text 'nope' could not be parsed at index 0",
                    },
                }
            ],
        },
    }


@pytest.mark.parametrize(
    ("value", "formats", "cause"),
    [
        ("2021-02-30", ["yyyy-MM-dd"], "Text '2021-02-30' could not be parsed: Invalid date 'FEBRUARY 30'"),
        (
            "2021-13-01",
            ["yyyy-MM-dd"],
            "Text '2021-13-01' could not be parsed: Invalid value for MonthOfYear (valid values 1 - 12): 13",
        ),
        (
            "2021-01-01 x",
            ["yyyy-MM-dd"],
            "Text '2021-01-01 x' could not be parsed, unparsed text found at index 10",
        ),
        ("1/2/2021", ["dd/MM/yyyy"], "Text '1/2/2021' could not be parsed at index 0"),
    ],
)
def test_java_parse_failures(es, value, formats, cause):
    assert failure(es, {"v": value}, formats=formats)["caused_by"]["caused_by"] == {
        "type": "date_time_parse_exception",
        "reason": cause,
    }


def test_zone_and_number_failures(es):
    assert failure(es, {"v": "2020-01-01"}, formats=["ISO8601"], timezone="Nowhere/City")["caused_by"] == {
        "type": "zone_rules_exception",
        "reason": "Unknown time-zone ID: Nowhere/City",
    }
    assert failure(es, {"v": "2020-01-01"}, formats=["ISO8601"], timezone="+25:00")["caused_by"] == {
        "type": "date_time_exception",
        "reason": "Zone offset hours not in valid range: value 25 is not in the range -18 to 18",
    }
    assert failure(es, {"v": "soon"}, formats=["UNIX_MS"])["caused_by"] == {
        "type": "number_format_exception",
        "reason": 'For input string: "soon"',
    }
    assert failure(es, {"v": "x"}, formats=["jjj"])["caused_by"] == {
        "type": "illegal_argument_exception",
        "reason": "Invalid format: [jjj]: Unknown pattern letter: j",
        "caused_by": {"type": "illegal_argument_exception", "reason": "Unknown pattern letter: j"},
    }
    assert failure(es, {}, formats=["ISO8601"])["reason"] == "field [v] not present as part of path [v]"


def test_configuration_errors(es):
    with pytest.raises(ApiError) as info:
        es.ingest.put_pipeline(
            id="d", processors=[{"date": {"field": "v", "formats": ["ISO8601"], "output_format": "jjj"}}]
        )
    assert info.value.meta.status == 500
    assert (
        info.value.body["error"]["reason"]
        == "java.lang.IllegalArgumentException: invalid output format [jjj]"
    )
    assert info.value.body["error"]["caused_by"] == {
        "type": "illegal_argument_exception",
        "reason": "invalid output format [jjj]",
        "caused_by": {
            "type": "illegal_argument_exception",
            "reason": "Invalid format: [jjj]: Unknown pattern letter: j",
            "caused_by": {"type": "illegal_argument_exception", "reason": "Unknown pattern letter: j"},
        },
    }
    with pytest.raises(ApiError) as info:
        es.ingest.put_pipeline(id="d", processors=[{"date": {"field": "v"}}])
    assert info.value.body["error"]["reason"] == "[formats] required property is missing"
    with pytest.raises(ApiError) as info:
        es.ingest.put_pipeline(id="d", processors=[{"date": {"field": "v", "formats": ["week_date"]}}])
    assert info.value.body["error"]["reason"] == (
        "[formats] es_sandbox does not support the built-in format [week_date] in date formats"
    )


def test_date_processor_feeds_an_indexed_document(es):
    es.ingest.put_pipeline(
        id="stamp",
        processors=[{"date": {"field": "when", "formats": ["dd/MM/yyyy HH:mm"], "timezone": "UTC"}}],
    )
    es.index(index="stamped", id="1", document={"when": "24/12/2024 18:30"}, pipeline="stamp")
    assert es.get(index="stamped", id="1")["_source"] == {
        "when": "24/12/2024 18:30",
        "@timestamp": "2024-12-24T18:30:00.000Z",
    }
