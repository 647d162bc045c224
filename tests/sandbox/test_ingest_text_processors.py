"""The small text and list processors (`bytes`, `gsub`, `split`, `join`, `sort`) through `_simulate`
and a default pipeline, with the real elasticsearch-py client: results as Java computes them
(ByteSizeValue units, Matcher replacement groups, String.split's trailing empties) and ES's errors."""

from __future__ import annotations

import pytest
from elasticsearch import BadRequestError


def simulate(es, processors, source):
    return es.ingest.simulate(pipeline={"processors": processors}, docs=[{"_source": source}])["docs"][0]


def test_results_as_java_computes_them(es):
    doc = simulate(
        es,
        [
            {"bytes": {"field": "size"}},
            {"gsub": {"field": "path", "pattern": "/(\\w+)", "replacement": "-$1"}},
            {"split": {"field": "csv", "separator": ","}},
            {"split": {"field": "kept", "separator": ",", "preserve_trailing": True}},
            {"join": {"field": "tags", "separator": "|", "target_field": "joined"}},
            {"sort": {"field": "nums", "order": "desc"}},
        ],
        {
            "size": "1kb",
            "path": "/a/b",
            "csv": "a,b,,",
            "kept": "a,,",
            "tags": ["x", 1, True],
            "nums": [3, 1.5, 2],
        },
    )["doc"]["_source"]
    assert doc == {
        "size": 1024,
        "path": "-a-b",
        "csv": ["a", "b"],
        "kept": ["a", "", ""],
        "tags": ["x", 1, True],
        "joined": "x|1|true",
        "nums": [3, 2, 1.5],
    }


def test_errors(es):
    failed = simulate(es, [{"bytes": {"field": "size"}}], {"size": "12zz"})["error"]
    assert failed["reason"] == (
        "failed to parse setting [size] with value [12zz] as a size in bytes: unit is missing or unrecognized"
    )
    failed = simulate(es, [{"join": {"field": "tags", "separator": ","}}], {"tags": "x"})["error"]
    assert failed["reason"] == "field [tags] of type [java.lang.String] cannot be cast to [java.util.List]"
    failed = simulate(es, [{"split": {"field": "csv", "separator": ","}}], {"csv": None})["error"]
    assert (failed["type"], failed["reason"]) == (
        "illegal_argument_exception",
        "field [csv] is null, cannot split.",
    )
    failed = simulate(es, [{"split": {"field": "csv", "separator": ","}}], {"csv": 7})["error"]
    assert failed["reason"] == "field [csv] of type [java.lang.Integer] cannot be cast to [java.lang.String]"
    kept = simulate(
        es, [{"split": {"field": "csv", "separator": ",", "ignore_missing": True}}], {"csv": None}
    )
    assert kept["doc"]["_source"] == {"csv": None}
    with pytest.raises(BadRequestError) as refused:
        simulate(es, [{"sort": {"field": "n", "order": "up"}}], {"n": [1]})
    assert (
        refused.value.body["error"]["reason"]
        == "[order] Sort direction [up] not recognized. Valid values are: [asc, desc]"
    )


def test_a_default_pipeline_runs_them_on_bulk_scripted_upserts(es):
    """In a bulk, the pipeline runs on the upsert before the script (200_default_pipeline.yml)."""
    es.ingest.put_pipeline(id="sizes", processors=[{"bytes": {"field": "size", "target_field": "bytes"}}])
    es.indices.create(index="files", settings={"index.default_pipeline": "sizes"})
    es.bulk(
        refresh=True,
        operations=[
            {"update": {"_index": "files", "_id": "1"}},
            {"script": "ctx._source.ran = true", "upsert": {"size": "3kb"}, "scripted_upsert": True},
        ],
    )
    assert es.get(index="files", id="1")["_source"] == {"size": "3kb", "bytes": 3072, "ran": True}
