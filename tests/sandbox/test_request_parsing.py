"""Request bodies of the wrong shape are refused as Elasticsearch refuses them, never a 500: the scroll
and clear-scroll bodies (SearchScrollRequest / ClearScrollRequest.fromXContent and parseScrollId), the
scalar options of a search body (SearchSourceBuilder.parseXContent with XContentParser's coercions), its
`_source`, `search_after`, `sort` and `highlight` (FetchSourceContext, SearchAfterBuilder, SortBuilder,
HighlightBuilder) and query values of the wrong kind (ids, term, terms, match, text_expansion), the
`_mget` body (MultiGetRequest.add) and the `_msearch` lines (MultiSearchRequest.readMultiLineFormat).
Each was found as an unhandled error by the route fuzz test (tests/sandbox/test_route_fuzz.py) or by
longer random runs of its strategies.

Locations (`[1:13]`, `at 1:32`) count columns of the body as the client sends it (compact JSON).
Jackson's own messages (a boolean read as a number, a number out of an int's range) are asserted up to
the `at [Source: ...]` suffix Jackson appends, which the sandbox leaves out.
"""

from __future__ import annotations

import pytest
from elasticsearch import ApiError

from tests.sandbox.ml_support import refusal


def _raw_error(es, method: str, path: str, body: bytes) -> tuple[int, str, str]:
    """For bodies the typed client will not send (not JSON, or not an object)."""
    headers = {"accept": "application/json", "content-type": "application/json"}
    return refusal(lambda: es.perform_request(method, path, headers=headers, body=body))


def _wrong_type(name: str, token: str) -> str:
    return f"Unknown parameter [{name}] in request body or parameter is of the wrong type[{token}] "


@pytest.fixture
def docs(es):
    es.index(index="docs", id="1", document={"title": "one", "body": "first"}, refresh=True)
    return es


def test_scroll_ids_of_every_form(docs):
    scroll_id = docs.search(index="docs", scroll="1m", size=1)["_scroll_id"]
    bad_request = (400, "illegal_argument_exception")
    # scroll: a body value that is not a string is refused by name and token
    assert refusal(lambda: docs.scroll(scroll_id=108437)) == (
        *bad_request,
        _wrong_type("scroll_id", "VALUE_NUMBER"),
    )
    assert refusal(lambda: docs.scroll(body={"scroll_id": [True, True]})) == (
        *bad_request,
        _wrong_type("scroll_id", "START_ARRAY"),
    )
    assert refusal(lambda: docs.scroll(scroll_id=scroll_id, scroll=60)) == (
        *bad_request,
        _wrong_type("scroll", "VALUE_NUMBER"),
    )
    assert refusal(lambda: docs.scroll(body={"scroll_id": scroll_id, "keep": "1m"})) == (
        *bad_request,
        _wrong_type("keep", "VALUE_STRING"),
    )
    # a string that is no scroll id cannot be parsed; one that was is merely gone (404)
    assert refusal(lambda: docs.scroll(scroll_id="abc")) == (*bad_request, "Cannot parse scroll id")
    assert refusal(lambda: docs.scroll(body={})) == (
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: scrollId is missing;",
    )
    assert _raw_error(docs, "POST", "/_search/scroll", b"[1]") == (
        *bad_request,
        "Malformed content, must start with an object",
    )
    assert _raw_error(docs, "POST", "/_search/scroll", b"{") == (*bad_request, "Failed to parse request body")
    assert docs.scroll(scroll_id=scroll_id, scroll="1m")["_scroll_id"] == scroll_id

    # clear scroll: scalars are read as text (then fail to parse as ids), containers are refused
    assert refusal(lambda: docs.clear_scroll(scroll_id=108437)) == (*bad_request, "Cannot parse scroll id")
    assert refusal(lambda: docs.clear_scroll(body={"scroll_id": [True, True]})) == (
        *bad_request,
        "Cannot parse scroll id",
    )
    assert refusal(lambda: docs.clear_scroll(body={"scroll_id": [{}]})) == (
        *bad_request,
        "scroll_id array element should only contain scroll_id",
    )
    assert refusal(lambda: docs.clear_scroll(body={"scroll_id": None})) == (
        *bad_request,
        "scroll_id element should only contain scroll_id",
    )
    assert refusal(lambda: docs.clear_scroll(body={"ids": [scroll_id]})) == (
        *bad_request,
        _wrong_type("ids", "START_ARRAY"),
    )
    # an id that does not parse fails the request before any scroll is freed
    assert refusal(lambda: docs.clear_scroll(scroll_id=[scroll_id, "nope"])) == (
        *bad_request,
        "Cannot parse scroll id",
    )
    assert refusal(lambda: docs.clear_scroll(body={"scroll_id": []})) == (
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: no scroll ids specified;",
    )
    assert docs.clear_scroll(scroll_id=scroll_id).body == {"succeeded": True, "num_freed": 1}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"from": {}}, (400, "parsing_exception", "Unknown key for a START_OBJECT in [from].")),
        ({"size": [1]}, (400, "parsing_exception", "Unknown key for a START_ARRAY in [size].")),
        (
            {"terminate_after": None},
            (400, "parsing_exception", "Unknown key for a VALUE_NULL in [terminate_after]."),
        ),
        ({"version": {}}, (400, "parsing_exception", "Unknown key for a START_OBJECT in [version].")),
        ({"size": "ten"}, (400, "number_format_exception", 'For input string: "ten"')),
        ({"from": ""}, (400, "number_format_exception", "empty String")),
        ({"min_score": "high"}, (400, "number_format_exception", 'For input string: "high"')),
        ({"track_total_hits": "lots"}, (400, "number_format_exception", 'For input string: "lots"')),
        (
            {"size": "3e10"},
            (400, "illegal_argument_exception", "Value [3e10] is out of range for an integer"),
        ),
        (
            {"size": True},
            (
                400,
                "x_content_parse_exception",
                "[1:13] Current token (VALUE_TRUE) not numeric, can not use numeric value accessors",
            ),
        ),
        (
            {"from": 2**40},
            (
                400,
                "x_content_parse_exception",
                "[1:22] Numeric value (1099511627776) out of range of int (-2147483648 - 2147483647)",
            ),
        ),
        (
            {"track_scores": 1},
            (400, "x_content_parse_exception", "[1:18] Current token (VALUE_NUMBER_INT) not of boolean type"),
        ),
        (
            {"explain": "yes"},
            (
                400,
                "illegal_argument_exception",
                "Failed to parse value [yes] as only [true] or [false] are allowed.",
            ),
        ),
        (
            {"track_total_hits": -2},
            (
                400,
                "illegal_argument_exception",
                "[track_total_hits] parameter must be positive or equals to -1, got -2",
            ),
        ),
        ({"terminate_after": -1}, (400, "illegal_argument_exception", "terminateAfter must be > 0")),
    ],
)
def test_search_scalars_of_the_wrong_kind(docs, body, expected):
    status, error_type, reason = refusal(lambda: docs.search(index="docs", body=body))
    assert (status, error_type) == expected[:2]
    assert reason == expected[2] or reason.startswith(expected[2] + "\n at [Source")


def test_search_scalars_are_coerced_as_es_coerces_them(docs):
    docs.index(index="docs", id="2", document={"title": "two"}, refresh=True)
    resp = docs.search(
        index="docs", body={"size": "1", "from": 1.9, "track_total_hits": "true", "version": "true"}
    )
    assert [h["_id"] for h in resp["hits"]["hits"]] == ["2"]  # size "1", from 1.9 -> 1
    assert resp["hits"]["total"] == {"value": 2, "relation": "eq"}
    assert resp["hits"]["hits"][0]["_version"] == 1
    assert _raw_error(docs, "POST", "/docs/_search?track_total_hits=some", b"{}") == (  # the URI parameter
        400,
        "illegal_argument_exception",
        "Failed to parse int parameter [track_total_hits] with value [some]",
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"docs": [[]]}, (400, "illegal_argument_exception", "docs array element should include an object")),
        ({"docs": ["1"]}, (400, "illegal_argument_exception", "docs array element should include an object")),
        (
            {"docs": {"_id": "1"}},
            (
                400,
                "parsing_exception",
                "unexpected token [START_OBJECT], expected [FIELD_NAME] or [START_ARRAY]",
            ),
        ),
        ({"ids": [None]}, (400, "illegal_argument_exception", "ids array element should only contain ids")),
        ({"ids": [["1"]]}, (400, "illegal_argument_exception", "ids array element should only contain ids")),
        (
            {"docs": [], "_source": False},
            (
                400,
                "parsing_exception",
                "unexpected token [VALUE_BOOLEAN], expected [FIELD_NAME] or [START_ARRAY]",
            ),
        ),
        (
            {"documents": [{"_id": "1"}]},
            (400, "parsing_exception", "unknown key [documents] for a START_ARRAY, expected [docs] or [ids]"),
        ),
        (
            {"docs": [{"_id": "1", "colour": "red"}]},
            (400, "parse_exception", "failed to parse multi get request. unknown field [colour]"),
        ),
        (
            {"docs": [{"_id": "1", "fields": ["title"]}]},
            (400, "parsing_exception", "Unsupported field [fields] used, expected [stored_fields] instead"),
        ),
        (
            {"docs": [{"_id": "1", "_source": 3}]},
            (400, "parse_exception", "illegal type for _source: [VALUE_NUMBER]"),
        ),
        (
            {"docs": [{"_id": "1", "_source": {"only": ["title"]}}]},
            (400, "illegal_argument_exception", "Expected text at 1:32 but found FIELD_NAME"),
        ),
        (
            {"docs": [{"_id": "1", "_source": {"includes": [{}]}}]},
            (400, "illegal_argument_exception", "Expected text at 1:44 but found START_OBJECT"),
        ),
        (
            {"docs": [{"_id": "1", "_source": {"includes": None}}]},
            (400, "parse_exception", "unexpected token while parsing source settings"),
        ),
        (
            {"docs": [{"_id": "1", "version": "new"}]},
            (400, "illegal_argument_exception", 'For input string: "new"'),
        ),
        (
            {"docs": [{"_id": "1", "version_type": "newest"}]},
            (400, "illegal_argument_exception", "No version type match [newest]"),
        ),
        (
            {"docs": [{"_id": None}, {"_index": None, "_id": "1"}]},
            (400, "action_request_validation_exception", "Validation Failed: 1: id is missing for doc 0;"),
        ),
        (
            {"docs": []},
            (400, "action_request_validation_exception", "Validation Failed: 1: no documents to get;"),
        ),
    ],
)
def test_mget_bodies_of_the_wrong_shape(docs, body, expected):
    assert refusal(lambda: docs.mget(index="docs", body=body)) == expected


def test_mget_reads_each_document_as_es_does(docs):
    resp = docs.mget(
        index="docs",
        source_includes=["title"],  # the default filter, for documents that set none of their own
        docs=[
            {"_id": "1"},
            {"_id": 1, "_source": ["body"]},  # a number is read as its text
            {"_id": "1", "_source": False},
            {"_id": "1", "_source": {"excludes": "title"}},
            {"_index": "gone", "_id": "1"},
        ],
    )
    found = resp["docs"]
    assert [d.get("_source") for d in found[:4]] == [
        {"title": "one"},
        {"body": "first"},
        None,
        {"body": "first"},
    ]
    assert found[4]["error"]["type"] == "index_not_found_exception"
    assert docs.mget(index="docs", ids=["1", 2])["docs"][1] == {"_index": "docs", "_id": "2", "found": False}
    assert refusal(lambda: docs.mget(body={"docs": [{"_id": "1"}]})) == (
        400,
        "action_request_validation_exception",
        "Validation Failed: 1: index is missing for doc 0;",
    )
    assert _raw_error(docs, "POST", "/docs/_mget", b"[1]") == (
        400,
        "parsing_exception",
        "unexpected token [START_ARRAY], expected [START_OBJECT]",
    )


def test_msearch_lines_of_the_wrong_shape(docs):
    # a body line ES cannot parse fails the whole request, not its search alone
    assert refusal(lambda: docs.msearch(searches=[{}, {"size": {}}, {}, {}])) == (
        400,
        "parsing_exception",
        "Unknown key for a START_OBJECT in [size].",
    )
    # a header's index that is not text is read as Java prints it: a name no index has
    resp = docs.msearch(searches=[{"index": {"name": "docs"}}, {}, {"index": 7}, {}, {"index": ["docs"]}, {}])
    assert [r.get("error", {}).get("reason") for r in resp["responses"]] == [
        "no such index [{name=docs}]",
        "no such index [7]",
        None,
    ]
    # ES's own 500: SearchRequest.indices refuses a null name with a NullPointerException
    assert refusal(lambda: docs.msearch(searches=[{"index": [None]}, {}])) == (
        500,
        "null_pointer_exception",
        "index must not be null",
    )
    status, error_type, _ = _raw_error(docs, "POST", "/_msearch", b"\x80\n{}\n")
    assert (status, error_type) == (400, "x_content_parse_exception")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"_source": 5},
            (
                400,
                "parsing_exception",
                "Expected one of [VALUE_BOOLEAN, VALUE_STRING, START_ARRAY, START_OBJECT] but found [VALUE_NUMBER]",
            ),
        ),
        (
            {"_source": {"includes": 5}},
            (400, "parsing_exception", "Unknown key for a VALUE_NUMBER in [includes]."),
        ),
        (
            {"_source": {"excludes": [{}]}},
            (400, "parsing_exception", "Unknown key for a START_OBJECT in [excludes]."),
        ),
        (
            {"_source": [None]},
            (400, "illegal_argument_exception", "Expected text at 1:13 but found VALUE_NULL"),
        ),
        (
            {"search_after": 5},
            (400, "parsing_exception", "Unknown key for a VALUE_NUMBER in [search_after]."),
        ),
        (
            {"search_after": [{}], "sort": ["title.keyword"]},
            (
                400,
                "parsing_exception",
                "Expected [VALUE_STRING] or [VALUE_NUMBER] or [VALUE_BOOLEAN] or [VALUE_NULL] but found "
                "[START_OBJECT] inside search_after.",
            ),
        ),
        (
            {"search_after": [], "sort": ["title.keyword"]},
            (400, "illegal_argument_exception", "Values must contains at least one value."),
        ),
        (
            {"sort": [None]},
            (
                400,
                "illegal_argument_exception",
                "malformed sort format, within the sort array, an object, or an actual string are allowed",
            ),
        ),
        (  # ObjectParser reads past a value that is no object and names what follows it
            {"sort": [{"title": 5}]},
            (
                400,
                "x_content_parse_exception",
                "[1:20] [field_sort] Expected START_OBJECT but was: END_OBJECT",
            ),
        ),
        ({"sort": {"title": "up"}}, (400, "illegal_argument_exception", "Unknown SortOrder [up]")),
        (
            {"highlight": {"fields": 5}},
            (
                400,
                "x_content_parse_exception",
                "[highlight] fields doesn't support values of type: VALUE_NUMBER",
            ),
        ),
        (
            {"highlight": {"pre_tags": {}, "fields": {"title": {}}}},
            (
                400,
                "x_content_parse_exception",
                "[highlight] pre_tags doesn't support values of type: START_OBJECT",
            ),
        ),
        (
            {"highlight": {"require_field_match": "maybe", "fields": {"title": {}}}},
            (400, "x_content_parse_exception", "[highlight] failed to parse field [require_field_match]"),
        ),
        (
            {"highlight": {"fields": {"title": {"number_of_fragments": "some"}}}},
            (400, "x_content_parse_exception", "[highlight] failed to parse field [fields]"),
        ),
        (
            {"query": {"ids": {"values": None}}},
            (400, "x_content_parse_exception", "[ids] values doesn't support values of type: VALUE_NULL"),
        ),
        (
            {"query": {"term": {"title": ["one", "two"]}}},
            (400, "parsing_exception", "[term] query does not support array of values"),
        ),
        (
            {"query": {"terms": {"_id": ["1", None]}}},
            (400, "parsing_exception", "No value specified for terms query"),
        ),
        (
            {"query": {"match": {"title": {"query": ["one"]}}}},
            (400, "parsing_exception", "[match] unknown token [START_ARRAY] after [query]"),
        ),
        (
            {"query": {"text_expansion": {"body": {"model_id": [], "model_text": "x"}}}},
            (400, "parsing_exception", "[text_expansion] unknown token [START_ARRAY] after [model_id]"),
        ),
    ],
)
def test_search_options_of_the_wrong_shape(docs, body, expected):
    assert refusal(lambda: docs.search(index="docs", body=body)) == expected


def test_search_options_read_as_es_reads_them(docs):
    docs.index(index="docs", id="2", document={"title": "two", "body": "second"}, refresh=True)
    hits = docs.search(index="docs", body={"query": {"ids": {"values": 2}}})["hits"]["hits"]
    assert [h["_id"] for h in hits] == ["2"]  # one value stands for a list of it, read as text
    resp = docs.search(
        index="docs",
        body={
            "query": {"match": {"title": "one"}},
            "_source": {"includes": ["title"], "exclude_vectors": "false"},
            "highlight": {
                "pre_tags": "[",
                "post_tags": "]",
                "fields": {"title": {"number_of_fragments": "1"}},
            },
        },
    )
    hit = resp["hits"]["hits"][0]
    assert (hit["_source"], hit["highlight"]) == ({"title": "one"}, {"title": ["[one]"]})
    assert [
        h["_id"]
        for h in docs.search(index="docs", body={"sort": {"title.keyword": "desc", "body.keyword": "asc"}})[
            "hits"
        ]["hits"]
    ] == ["2", "1"]
    with pytest.raises(ApiError) as err:  # no sort to page after: the shards' 400
        docs.search(index="docs", body={"search_after": [1]})
    assert err.value.meta.status == 400
    assert err.value.info["error"]["root_cause"][0] == {
        "type": "illegal_argument_exception",
        "reason": "Sort must contain at least one field.",
    }
