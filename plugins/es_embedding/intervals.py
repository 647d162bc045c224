"""Which documents a run embeds: the run's mode and, for incremental runs, its data interval.

Pure functions. Airflow 3 facts they respect: a manual run may have no logical date and then has no
data interval at all; a cron schedule given as a string is a CronTriggerTimetable whose runs have
start == end (an empty interval), which is why `embedding_reindex` schedules with
CronDataIntervalTimetable: each nightly or backfill run covers [previous fire time, this fire time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from es_embedding.errors import SettingsError

MODES = ("auto", "full", "incremental")
# Run types whose runs cover a data interval of the schedule: `auto` makes them incremental.
INTERVAL_RUN_TYPES = ("scheduled", "backfill")
DATE_TYPES = ("date", "date_nanos")


@dataclass(frozen=True)
class Interval:
    """[start, end): a document belongs when start <= timestamp < end."""

    start: datetime
    end: datetime

    def __str__(self) -> str:
        return f"[{self.start.isoformat()}, {self.end.isoformat()})"


def run_interval(context: Any) -> Interval | None:
    """The run's data interval, or None when it has none (a manual run without logical date)."""
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if start is None or end is None:
        return None
    return Interval(start, end)


def _run_type(dag_run: Any) -> str:
    kind = getattr(dag_run, "run_type", None)
    return str(getattr(kind, "value", kind) or "manual")


def resolve_mode(requested: str | None, dag_run: Any, interval: Interval | None) -> tuple[str, str]:
    """(mode, why): `auto` is incremental for scheduled and backfill runs, full otherwise.

    An incremental run needs a non-empty data interval; without one it is refused, naming the Param.
    """
    requested = requested or "auto"
    if requested not in MODES:
        raise SettingsError(f"Param 'mode' has value {requested!r}; allowed: {', '.join(map(repr, MODES))}")
    run_type = _run_type(dag_run)
    if requested == "auto":
        mode = "incremental" if run_type in INTERVAL_RUN_TYPES else "full"
        why = f"mode 'auto' on a {run_type} run"
    else:
        mode, why = requested, f"mode '{requested}' requested"
    if mode == "incremental":
        if interval is None:
            raise SettingsError(
                f"Param 'mode' is incremental ({why}) but this {run_type} run has no data interval (it was "
                "triggered without a logical date); trigger it with a logical date (the run then covers the "
                "schedule's last complete interval before it), use a backfill, or choose mode 'full'"
            )
        if interval.start >= interval.end:
            raise SettingsError(
                f"Param 'mode' is incremental ({why}) but the run's data interval {interval} is empty; "
                "schedule the DAG with a timetable that has intervals (CronDataIntervalTimetable)"
            )
    return mode, why


def interval_query(query: dict, field: str, interval: Interval) -> dict:
    """`query` restricted to documents whose `field` lies in the interval (start inclusive)."""
    window = {
        "range": {
            field: {
                "gte": interval.start.isoformat(),
                "lt": interval.end.isoformat(),
                "format": "strict_date_optional_time",
            }
        }
    }
    return {"bool": {"filter": [query, window]}}


def timestamp_problem(mappings: list[dict], field: str) -> str | None:
    """Why `field` cannot place documents in an interval (not mapped as a date in every index), or None."""
    from es_embedding.bodies import field_mapping_at

    types = {(field_mapping_at(m, field) or {}).get("type") for m in mappings}
    if types and types <= set(DATE_TYPES):
        return None
    found = ", ".join(sorted(str(t) if t else "unmapped" for t in types)) or "nothing"
    return f"a field mapped as date or date_nanos in every source index (mapped as: {found})"
