"""The run's scope and the comparison of contents (es_embedding.index.scope, .currency): pure logic."""

from __future__ import annotations

from es_embedding.index.currency import BatchDiff, Comparison, compare_batch, same_json
from es_embedding.index.scope import MATCH_ALL, Scope, all_of, ids_query

INTERVAL = {"range": {"published": {"gte": "2026-03-04T02:00:00+00:00", "lt": "2026-03-05T02:00:00+00:00"}}}


def test_a_full_run_covers_its_query_in_the_source_and_all_of_its_own_index():
    scope = Scope.of({"match": {"topic": "ml"}}, {"match_all": {}})
    assert scope == Scope(source={"match": {"topic": "ml"}}, dest=MATCH_ALL)
    assert Scope.of(None, None) == Scope(MATCH_ALL, MATCH_ALL)


def test_an_incremental_run_covers_the_same_interval_query_on_both_indices():
    query = {"bool": {"filter": [{"match_all": {}}, INTERVAL]}}
    scope = Scope.of(query, query)
    assert scope.source == scope.dest == query
    assert scope.source_ids(["a", "b"]) == {"bool": {"filter": [query, {"ids": {"values": ["a", "b"]}}]}}
    assert scope.dest_where({"exists": {"field": "x"}}) == {
        "bool": {"filter": [query, {"exists": {"field": "x"}}]}
    }


def test_conjunctions_leave_out_match_all():
    assert all_of() == MATCH_ALL and all_of(MATCH_ALL, None) == MATCH_ALL
    assert all_of(MATCH_ALL, INTERVAL) == INTERVAL
    assert all_of(INTERVAL, ids_query(["a"])) == {"bool": {"filter": [INTERVAL, {"ids": {"values": ["a"]}}]}}


def test_json_values_compare_with_their_types():
    assert same_json({"a": [1, {"b": "x"}], "c": None}, {"c": None, "a": [1, {"b": "x"}]})
    assert not same_json({"n": 1}, {"n": 1.0}), "1 and 1.0 are different JSON"
    assert not same_json({"n": 1}, {"n": True}), "1 and true are different JSON"
    assert not same_json({"a": [1, 2]}, {"a": [2, 1]}), "arrays keep their order"
    assert not same_json({"a": 1}, {"a": 1, "b": 2}), "a field more is a change"
    assert not same_json({"a": {"b": 1}}, {"a": {"b": 2}})


def test_a_batch_of_source_documents_against_their_copies():
    source = [
        {"_id": "same", "_source": {"t": "x"}},
        {"_id": "changed", "_source": {"t": "new"}},
        {"_id": "absent", "_source": {"t": "y"}},
        {"_id": "deleted-copy", "_source": {"t": "z"}},
    ]
    copies = [
        {"_id": "same", "found": True, "_source": {"t": "x"}},
        {"_id": "changed", "found": True, "_source": {"t": "old"}},
        {"_id": "absent", "found": False},
        {"_id": "deleted-copy", "found": False},
    ]
    assert compare_batch(source, copies) == BatchDiff(
        missing=["absent", "deleted-copy"], stale=["changed"], current=1
    )


def test_a_comparison_counts_everything_and_keeps_ids_up_to_its_limit():
    comparison = Comparison(cut="2026-03-05T02:00:00+00:00")
    comparison.add(BatchDiff(missing=["m1", "m2"], stale=["s1"], current=7), id_limit=2)
    comparison.add(BatchDiff(missing=["m3"], stale=["s2"], current=1), id_limit=2)
    assert (comparison.compared, comparison.current, comparison.missing, comparison.stale) == (13, 8, 3, 2)
    assert comparison.stale_ids == ["s1"] and comparison.missing_ids == ["m1"]
    assert not comparison.complete
    assert Comparison(cut="t", compared=3, current=3).complete
