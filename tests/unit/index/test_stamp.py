"""The source stamp (es_embedding.index.stamp): how it is read and recorded before the copy, and the
decision, a pure function of the recorded stamp, the current one and the run's facts, to prove the
destination current without reading it, or to compare contents, with the reason either way."""

from __future__ import annotations

import copy

import pytest

from es_embedding.index.stamp import RunFacts, decide, moving_selection, record
from tests.unit.fakes import FakeEs, api_error
from tests.unit.index.test_start import operator

INTERVAL = {"range": {"published": {"gte": "2026-03-04T02:00:00+00:00", "lt": "2026-03-05T02:00:00+00:00"}}}


def shard(top: int, term: int = 1, local: int | None = None, global_: int | None = None) -> dict:
    local = top if local is None else local
    return {
        "max_seq_no": top,
        "local_checkpoint": local,
        "global_checkpoint": top if global_ is None else global_,
        "primary_term": term,
    }


def stamp(**source_shards: dict) -> dict:
    """A recorded stamp: source index `src` (shards as given, default one shard at 99), a
    destination `dst` never written to, no destination pipeline."""
    shards = source_shards or {"0": shard(99)}
    return {
        "source": {"src": {"uuid": "src-uuid", "shards": shards, "shard_count": len(shards)}},
        "dest": {"dst": {"uuid": "dst-uuid", "shards": {"0": {"max_seq_no": -1}}}},
        "dest_pipelines": {"default": None, "final": None},
        "taken": "2026-12-06T06:00:00+00:00",
    }


def current(recorded: dict) -> dict:
    return {"source": copy.deepcopy(recorded["source"]), "dest": copy.deepcopy(recorded["dest"])}


def facts(query=None, passes=(), present=40, expected=40, unembedded=0) -> RunFacts:
    return RunFacts(query, list(passes), present, expected, unembedded)


def test_an_unchanged_source_and_a_fresh_destination_written_by_the_run_prove_currency():
    recorded = stamp()
    verdict = decide(recorded, current(recorded), facts(passes=[{"kind": "embed", "number": 1}]))
    assert verdict.proven, verdict.reason
    assert verdict.reason.startswith("the source is unchanged since before the copy (1 shards of 1 indices")
    # max_docs: the counts compare with it applied; an incremental interval query is term-level.
    assert decide(recorded, current(recorded), facts(query=INTERVAL, present=10, expected=10)).proven


def moved(path: str, value) -> dict:
    """The current stamp of `stamp()` with one value changed (`src.0.max_seq_no`, ...)."""
    now = current(stamp())
    *parents, leaf = path.split(".")
    node = now
    for part in parents:
        node = node[part]
    node[leaf] = value
    return now


@pytest.mark.parametrize(
    ("now", "reason"),
    [
        (moved("source.src.shards.0.max_seq_no", 100), "[src][0] was written since (max_seq_no 99 -> 100)"),
        (
            moved("source.src.shards.0.primary_term", 2),
            "the primary of [src][0] was allocated again (primary term 1 -> 2: a restart or a failover)",
        ),
        (moved("source.src.uuid", "other"), "[src] was deleted and created again (uuid src-uuid -> other)"),
        (moved("source.src.shards", {}), "the started primaries of [src] changed"),
        (moved("dest.dst.uuid", "again"), "the destination was deleted and created again"),
        (None, "the source stamp could not be read again"),
    ],
)
def test_a_source_that_moved_since_the_stamp_is_compared(now, reason):
    assert decide(stamp(), now, facts()) == (False, reason)


def test_an_index_added_to_the_source_is_a_change():
    now = current(stamp())
    now["source"]["src-2"] = {"uuid": "u2", "shards": {"0": shard(0)}, "shard_count": 1}
    assert decide(stamp(), now, facts()) == (
        False,
        "the source's indices changed: ['src'] -> ['src', 'src-2']",
    )


def test_a_stamp_that_does_not_fix_what_the_copy_read_proves_nothing():
    assert decide(None, None, facts()).reason.startswith("no source stamp was recorded before the copy")
    in_flight = stamp(**{"0": shard(99, global_=97)})
    assert decide(in_flight, current(in_flight), facts()).reason == (
        "writes to [src][0] were in flight when the copy began "
        "(max_seq_no 99, local checkpoint 99, global checkpoint 97)"
    )
    unstarted = stamp()
    unstarted["source"]["src"]["shard_count"] = 2
    assert decide(unstarted, current(unstarted), facts()).reason == (
        "not every primary of [src] was started when the copy began"
    )
    written = stamp()
    written["dest"]["dst"]["shards"]["0"]["max_seq_no"] = 3
    assert decide(written, current(written), facts()).reason == (
        "the destination [dst][0] had been written to before the copy"
    )
    piped = stamp()
    piped["dest_pipelines"]["final"] = "enrich"
    assert decide(piped, current(piped), facts()).reason == "the destination has a final pipeline [enrich]"


@pytest.mark.parametrize(
    ("run", "reason"),
    [
        (
            facts(passes=[{"kind": "copy", "number": 1}]),
            "passes copied again or were lost (copy)",
        ),
        (
            facts(passes=[{"kind": "embed", "number": 1, "lost": True}, {"kind": "re_embed", "number": 1}]),
            "passes copied again or were lost (embed, re_embed)",
        ),
        (facts(present=39), "the destination holds 39 documents of the scope, the source 40"),
        (facts(unembedded=2), "2 documents lack their embedding"),
        (
            facts(query={"match": {"topic": "ml"}}),
            "the run's query: its [match] query is not term-level "
            "(what it matches may change without a write to the source)",
        ),
    ],
)
def test_what_the_run_did_can_require_the_comparison(run, reason):
    recorded = stamp()
    assert decide(recorded, current(recorded), run) == (False, reason)


def test_queries_whose_matches_move_without_a_write_to_the_source():
    assert moving_selection(None) is None and moving_selection({"match_all": {}}) is None
    fixed = {
        "bool": {
            "filter": [INTERVAL, {"terms": {"topic": ["a", "b"]}}],
            "must_not": [{"exists": {"field": "draft"}}],
            "should": [{"constant_score": {"filter": {"prefix": {"title": "ge"}}}}],
        }
    }
    assert moving_selection(fixed) is None
    assert moving_selection({"range": {"published": {"gte": "now-1d/d"}}}) == (
        "its [range] query uses date math on now"
    )
    lookup = {"bool": {"filter": [{"terms": {"tag": {"index": "tags", "id": "1", "path": "t"}}}]}}
    assert moving_selection(lookup) == "its [terms] query looks its terms up in another document"
    assert moving_selection({"bool": {"must": {"script": {"script": "Math.random() > 0.5"}}}}) == (
        "its [script] query is not term-level (what it matches may change without a write to the source)"
    )


STATS = {
    "indices": {
        "src": {
            "uuid": "src-uuid",
            "shards": {
                "0": [
                    {"routing": {"primary": False}, "seq_no": shard(5)},
                    {
                        "routing": {"primary": True},
                        "seq_no": {k: 99 for k in ("max_seq_no", "local_checkpoint", "global_checkpoint")},
                    },
                ]
            },
        }
    }
}
DEST_STATS = {
    "indices": {
        "dst": {
            "uuid": "dst-uuid",
            "shards": {
                "0": [
                    {
                        "routing": {"primary": True},
                        "seq_no": {"max_seq_no": -1, "local_checkpoint": -1, "global_checkpoint": -1},
                    }
                ]
            },
        }
    }
}


def recording_client(**more) -> FakeEs:
    return FakeEs(
        **{
            "cluster.state": [{"metadata": {"indices": {"src": {"primary_terms": {"0": 3}}}}}],
            "indices.stats": [STATS, DEST_STATS],
            "indices.get_settings": [{"dst": {"settings": {"index.default_pipeline": "_none"}}}],
            "indices.refresh": [{"_shards": {"total": 2, "successful": 1, "failed": 0}}],
            **more,
        }
    )


def test_recording_reads_terms_and_primaries_then_refreshes_the_source():
    client = recording_client()
    stage, _ = operator(client)
    recorded = record(stage, "src", "dst")
    assert recorded["source"] == {
        "src": {
            "uuid": "src-uuid",
            "shards": {
                "0": {"max_seq_no": 99, "local_checkpoint": 99, "global_checkpoint": 99, "primary_term": 3}
            },
            "shard_count": 1,
        }
    }
    assert recorded["dest"]["dst"]["shards"] == {
        "0": {"max_seq_no": -1, "local_checkpoint": -1, "global_checkpoint": -1}
    }
    assert recorded["dest_pipelines"] == {"default": None, "final": None}
    assert [c["index"] for c in client.called("indices.stats")] == ["src", "dst"]
    assert client.called("indices.stats")[0]["level"] == "shards"
    assert client.called("indices.refresh") == [{"index": "src"}]


def test_a_stamp_that_cannot_be_read_or_a_refresh_that_fails_leaves_the_proof_to_the_comparison():
    refused = api_error(403, "security_exception", "action [indices:monitor/stats] is unauthorized")
    stage, _ = operator(recording_client(**{"indices.stats": [refused]}))
    assert record(stage, "src", "dst") is None
    client = recording_client(
        **{"indices.refresh": [{"_shards": {"total": 2, "successful": 0, "failed": 1}}]}
    )
    stage, _ = operator(client)
    assert record(stage, "src", "dst") is None
