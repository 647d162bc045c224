"""Modes and data intervals (es_embedding.intervals): pure functions."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from es_embedding.errors import SettingsError
from es_embedding.intervals import Interval, interval_query, resolve_mode, run_interval, timestamp_problem

START, END = datetime(2026, 3, 2, tzinfo=UTC), datetime(2026, 3, 9, tzinfo=UTC)
WEEK = Interval(START, END)


def run(kind: str) -> SimpleNamespace:
    return SimpleNamespace(run_type=kind)


def test_run_interval_is_none_for_a_run_without_logical_date():
    assert run_interval({}) is None
    assert run_interval({"data_interval_start": None, "data_interval_end": None}) is None
    assert run_interval({"data_interval_start": START, "data_interval_end": END}) == WEEK


@pytest.mark.parametrize(
    ("requested", "kind", "expected"),
    [
        ("auto", "scheduled", "incremental"),
        ("auto", "backfill", "incremental"),
        ("auto", "manual", "full"),
        ("auto", "asset_triggered", "full"),
        (None, "manual", "full"),
        ("full", "scheduled", "full"),
        ("incremental", "manual", "incremental"),
    ],
)
def test_auto_is_incremental_for_scheduled_and_backfill_runs_only(requested, kind, expected):
    assert resolve_mode(requested, run(kind), WEEK)[0] == expected


def test_incremental_without_an_interval_is_refused_naming_the_param():
    with pytest.raises(SettingsError, match="Param 'mode' is incremental .* no data interval"):
        resolve_mode("incremental", run("manual"), None)
    with pytest.raises(SettingsError, match="is empty"):
        resolve_mode("auto", run("scheduled"), Interval(START, START))
    # full needs no interval
    assert resolve_mode("auto", run("manual"), None)[0] == "full"


def test_unknown_mode_names_the_allowed_values():
    with pytest.raises(SettingsError, match="Param 'mode' has value 'sometimes'; allowed: 'auto', 'full'"):
        resolve_mode("sometimes", run("manual"), WEEK)


def test_interval_query_keeps_the_query_and_takes_start_inclusive_end_exclusive():
    query = interval_query({"term": {"topic": "x"}}, "published", WEEK)
    filters = query["bool"]["filter"]
    assert filters[0] == {"term": {"topic": "x"}}
    window = filters[1]["range"]["published"]
    assert window["gte"] == "2026-03-02T00:00:00+00:00" and window["lt"] == "2026-03-09T00:00:00+00:00"
    assert "lte" not in window and "gt" not in window


def test_timestamp_field_must_be_a_date_in_every_index():
    date = {"properties": {"published": {"type": "date"}}}
    text = {"properties": {"published": {"type": "text"}}}
    assert timestamp_problem([date], "published") is None
    assert timestamp_problem([{"properties": {"t": {"type": "date_nanos"}}}], "t") is None
    assert "mapped as: date, text" in timestamp_problem([date, text], "published")
    assert "unmapped" in timestamp_problem([date], "@timestamp")
