"""The run report: what one run of embedding_reindex did, in numbers, at the end of every run.

Documents in and embedded, failures by type, the duration of each stage (from the run's task
instances, as the Execution API gives them to a task: `ti.get_task_breadcrumbs`), docs/s, the
deployment's inference stats, the pipeline's ingest stats, and the settings the run used (its
snapshot of the Variables). Logged as a table, returned as XCom.

The collection (`RunReportOperator`) is best effort: a run that failed early has no destination
index or deployment, and the report says what it could not read instead of failing. The pieces that
turn cluster responses into the report are pure functions (unit-tested without a cluster).
"""

from __future__ import annotations

import json
import re
import textwrap
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from es_embedding import checks
from es_embedding.errors import EmbeddingError
from es_embedding.links import KibanaIndexLink, KibanaModelLink
from es_embedding.operators import EsStageOperator
from es_embedding.settings import PipelineSettings, RunSettings

# Recorded pipeline failures read to group them by type (the count itself is exact).
FAILURE_SAMPLE_SIZE = 1000
FAILED_STATES = frozenset({"failed", "upstream_failed"})
# Where the report finds what the other tasks pushed: (task_id, XCom key).
XCOM_SOURCES: dict[str, tuple[str, str]] = {
    "source_index": ("validate_settings", "source_index"),
    "dest_index": ("validate_settings", "dest_index"),
    "alias": ("validate_settings", "alias"),
    "query": ("validate_settings", "query"),
    "model_id": ("ensure_model", "model_id"),
    "deployment_id": ("start_deployment", "deployment_id"),
    "pipeline_id": ("put_pipeline", "pipeline_id"),
    "reindex_result": ("wait_reindex", "reindex_result"),
    "verification": ("verify_embeddings", "verification"),
}


# --- pure pieces -----------------------------------------------------------------------------------


def stage_rows(breadcrumbs: Iterable[dict], order: Sequence[str], exclude: str | None = None) -> list[dict]:
    """One row per finished task instance ({task_id, state, duration_s}), in the DAG's order."""
    rank = {task_id: i for i, task_id in enumerate(order)}
    rows = [
        {
            "task_id": crumb["task_id"]
            if crumb.get("map_index", -1) < 0
            else f"{crumb['task_id']}[{crumb['map_index']}]",
            "state": str(crumb.get("state") or "-").removeprefix("TaskInstanceState.").lower(),
            "duration_s": round(float(crumb["duration"]), 2) if crumb.get("duration") is not None else None,
            "_rank": (rank.get(crumb["task_id"], len(rank)), crumb.get("map_index", -1)),
        }
        for crumb in breadcrumbs
        if crumb.get("task_id") != exclude
    ]
    rows.sort(key=lambda row: row.pop("_rank"))
    return rows


def inference_stats(stats_resp: dict, deployment_id: str) -> dict | None:
    """The deployment's inference counters, summed over its nodes (averages weighted by count)."""
    deployment = checks.deployment_stats(stats_resp, deployment_id)
    if deployment is None:
        return None
    nodes = deployment.get("nodes") or []
    counters = ("inference_count", "rejected_execution_count", "timeout_count", "error_count")
    totals = {name: sum(node.get(name) or 0 for node in nodes) for name in counters}
    for name in counters:  # the deployment's own totals, where nodes do not report (or report less)
        totals[name] = max(totals[name], deployment.get(name) or 0)
    weighted = sum(
        (node.get("average_inference_time_ms") or 0) * (node.get("inference_count") or 0) for node in nodes
    )
    counted = sum(
        node.get("inference_count") or 0
        for node in nodes
        if node.get("average_inference_time_ms") is not None
    )
    allocation = deployment.get("allocation_status") or {}
    return {
        "deployment_id": deployment_id,
        "state": deployment.get("state"),
        "allocations": allocation.get("allocation_count"),
        "threads_per_allocation": deployment.get("threads_per_allocation"),
        "queue_capacity": deployment.get("queue_capacity"),
        **totals,
        "average_inference_time_ms": round(weighted / counted, 2) if counted else None,
        "pending_requests": sum(node.get("number_of_pending_requests") or 0 for node in nodes),
        "peak_throughput_per_minute": deployment.get("peak_throughput_per_minute"),
    }


def ingest_stats(nodes_stats_resp: dict, pipeline_id: str) -> dict | None:
    """The pipeline's ingest counters summed over the nodes, with its processors' ({tag/type: stats})."""
    total = {"count": 0, "failed": 0, "current": 0, "time_in_millis": 0}
    processors: dict[str, dict] = {}
    seen = False
    for node in (nodes_stats_resp.get("nodes") or {}).values():
        pipeline = (((node.get("ingest") or {}).get("pipelines")) or {}).get(pipeline_id)
        if pipeline is None:
            continue
        seen = True
        for key in total:
            total[key] += pipeline.get(key) or 0
        for entry in pipeline.get("processors") or []:
            for name, proc in entry.items():
                stats = proc.get("stats") or {}
                summed = processors.setdefault(name, {"count": 0, "failed": 0, "time_in_millis": 0})
                for key in summed:
                    summed[key] += stats.get(key) or 0
    if not seen:
        return None
    return {"pipeline_id": pipeline_id, **total, "processors": processors}


_NUMBERS = re.compile(r"\d+")


def failure_kind(recorded: Any) -> str:
    """A recorded pipeline failure ({message, processor}) as a type: its processor and its message
    with numbers masked, so failures that differ only in ids or counts group together."""
    if not isinstance(recorded, dict):
        return str(recorded)[:120]
    message = _NUMBERS.sub("N", str(recorded.get("message") or "no message")).strip()
    return f"{recorded.get('processor') or 'pipeline'}: {message[:160]}"


def pipeline_failure_kinds(hits: Iterable[dict], failure_field: str) -> dict[str, int]:
    kinds: Counter[str] = Counter()
    for hit in hits:
        node: Any = hit.get("_source") or {}
        for part in failure_field.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        kinds[failure_kind(node)] += 1
    return dict(kinds.most_common())


def docs_per_second(documents: int | None, reindex_result: dict | None, stages: list[dict]) -> float | None:
    """Embedded documents per second of reindexing: the reindex's own `took`, else the time of the
    tasks that started and followed it."""
    if not documents:
        return None
    seconds = None
    if reindex_result and reindex_result.get("took"):
        seconds = reindex_result["took"] / 1000
    else:
        spent = [r["duration_s"] for r in stages if r["task_id"] in ("start_reindex", "wait_reindex")]
        seconds = sum(s for s in spent if s) or None
    return round(documents / seconds, 1) if seconds else None


def outcome(stages: list[dict]) -> str:
    failed = [row["task_id"] for row in stages if row["state"] in FAILED_STATES]
    return f"failed ({', '.join(failed)})" if failed else "success"


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _section(title: str, rows: list[tuple[str, Any]]) -> list[str]:
    width = max((len(name) for name, _ in rows), default=0)
    return [f"{title}", *(f"  {name.ljust(width)}  {_fmt(value)}" for name, value in rows)]


def settings_lines(settings: dict[str, dict], width: int = 100) -> list[str]:
    """One entry per Variable: its keys and values (`key=value`), wrapped under the Variable's name."""
    name_width = max(len(name) for name in settings)
    lines = []
    for name, values in settings.items():
        pairs = ", ".join(
            f"{key}={value if isinstance(value, str) else json.dumps(value)}" for key, value in values.items()
        )
        lead = f"  {name.ljust(name_width)}  "
        lines += textwrap.wrap(pairs, width, initial_indent=lead, subsequent_indent=" " * len(lead))
    return lines


def render(report: dict) -> str:
    """The report as a fixed-width table for the task log and the terminal."""
    docs = report.get("documents") or {}
    lines = [
        f"Run report: {report.get('dag_id')} / {report.get('run_id')}",
        f"  outcome   {report.get('outcome')}",
        f"  run       [{report.get('source_index') or '-'}] -> [{report.get('dest_index') or '-'}], "
        f"alias [{report.get('alias') or '-'}]",
        f"  duration  {_fmt(report.get('duration_s'))} s, {_fmt(report.get('docs_per_second'))} docs/s",
        "",
        *_section(
            "Documents",
            [
                ("in (source query)", docs.get("source_matching")),
                ("reindexed (total)", docs.get("reindex_total")),
                ("created / updated", f"{_fmt(docs.get('created'))} / {_fmt(docs.get('updated'))}"),
                ("in destination", docs.get("in_destination")),
                ("embedded", docs.get("embedded")),
                ("without embedding", docs.get("missing_embeddings")),
                ("failures recorded", docs.get("recorded_failures")),
            ],
        ),
        "",
        "Stages",
    ]
    stages = report.get("stages") or []
    width = max((len(row["task_id"]) for row in stages), default=10)
    lines += [f"  {'task'.ljust(width)}  {'state'.ljust(15)}  seconds"]
    lines += [
        f"  {row['task_id'].ljust(width)}  {row['state'].ljust(15)}  {_fmt(row['duration_s']).rjust(7)}"
        for row in stages
    ]
    failures = report.get("failures") or {}
    lines += ["", "Failures by type"]
    kinds = [
        *((f"reindex: {kind}", n) for kind, n in (failures.get("reindex") or {}).items()),
        *((f"pipeline: {kind}", n) for kind, n in (failures.get("pipeline") or {}).items()),
    ]
    lines += [f"  {n:>7,}  {kind}" for kind, n in kinds] or ["  none"]
    if failures.get("pipeline_sampled"):
        lines.append(f"  (types from the first {failures['pipeline_sampled']:,} recorded failures)")
    inference = report.get("inference")
    if inference:
        lines += [
            "",
            *_section(
                f"Inference: deployment [{inference['deployment_id']}] (since it started)",
                [
                    ("state", inference.get("state")),
                    (
                        "allocations x threads",
                        f"{_fmt(inference.get('allocations'))} x {_fmt(inference.get('threads_per_allocation'))}",
                    ),
                    ("inference_count", inference.get("inference_count")),
                    ("average_inference_time_ms", inference.get("average_inference_time_ms")),
                    ("rejected_execution_count", inference.get("rejected_execution_count")),
                    ("timeout_count", inference.get("timeout_count")),
                    ("error_count", inference.get("error_count")),
                    ("peak_throughput_per_minute", inference.get("peak_throughput_per_minute")),
                ],
            ),
        ]
    ingest = report.get("ingest")
    if ingest:
        rows = [
            ("count", ingest.get("count")),
            ("failed", ingest.get("failed")),
            ("time_in_millis", ingest.get("time_in_millis")),
            ("current", ingest.get("current")),
        ]
        rows += [
            (
                f"  {name}",
                f"{_fmt(p['count'])} docs, {_fmt(p['failed'])} failed, {_fmt(p['time_in_millis'])} ms",
            )
            for name, p in (ingest.get("processors") or {}).items()
        ]
        lines += [
            "",
            *_section(f"Ingest: pipeline [{ingest['pipeline_id']}] (since the nodes started)", rows),
        ]
    settings = report.get("settings")
    if settings:
        lines += ["", "Settings (the run's snapshot of the Variables)", *settings_lines(settings)]
    unavailable = report.get("unavailable") or []
    if unavailable:
        lines += ["", "Not available", *(f"  {what}" for what in unavailable)]
    return "\n".join(lines)


# --- the task ----------------------------------------------------------------------------------------


class RunReportOperator(EsStageOperator):
    """Last task of a run, successful or not (the DAG makes it a teardown, so it runs after a failure
    without changing the run's outcome): collects, logs and returns the run report."""

    ui_color = "#fff4d6"
    operator_extra_links = (KibanaModelLink(), KibanaIndexLink())

    def __init__(self, *, xcom_sources: dict[str, tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.xcom_sources = {**XCOM_SOURCES, **(xcom_sources or {})}

    def execute(self, context: Any) -> dict[str, Any]:
        ti, dag_run = context["ti"], context["dag_run"]
        pulled = {
            name: ti.xcom_pull(task_ids=task_id, key=key)
            for name, (task_id, key) in self.xcom_sources.items()
        }
        # What the links of this task point at (see es_embedding.links).
        self.model_id, self.dest_index = pulled["model_id"], pulled["dest_index"]
        unavailable: list[str] = []
        try:
            settings: RunSettings | None = self.run_settings
        except EmbeddingError as exc:
            settings = None
            unavailable.append(f"settings: {exc}")
        stages = stage_rows(
            ti.get_task_breadcrumbs(dag_id=ti.dag_id, run_id=ti.run_id),
            [task.task_id for task in context["dag"].topological_sort()],
            exclude=ti.task_id,
        )
        started = dag_run.start_date
        report: dict[str, Any] = {
            "dag_id": ti.dag_id,
            "run_id": ti.run_id,
            "outcome": outcome(stages),
            "source_index": pulled["source_index"],
            "dest_index": pulled["dest_index"],
            "alias": pulled["alias"],
            "duration_s": round((datetime.now(UTC) - started).total_seconds(), 1) if started else None,
            "stages": stages,
            "settings": settings.to_json() if settings else None,
        }
        reindex_result = pulled["reindex_result"] or {}
        documents = {
            "reindex_total": reindex_result.get("total"),
            "created": reindex_result.get("created"),
            "updated": reindex_result.get("updated"),
        }
        failures: dict[str, Any] = {
            "reindex": dict((reindex_result.get("failures") or {}).get("by_kind") or {})
        }
        if reindex_result.get("lost"):
            failures["reindex"]["task lost (node restart or left); complete_index took up the rest"] = 1
        documents.update(self.document_counts(pulled, settings, failures, unavailable))
        report["documents"] = documents
        report["failures"] = failures
        report["docs_per_second"] = docs_per_second(documents.get("embedded"), reindex_result, stages)
        report["inference"] = self.read(
            "deployment stats",
            unavailable,
            lambda: inference_stats(dict(self.es.ml.get_trained_models_stats()), pulled["deployment_id"]),
            needs=pulled["deployment_id"],
        )
        report["ingest"] = self.read(
            "ingest stats",
            unavailable,
            lambda: ingest_stats(dict(self.es.nodes.stats(metric="ingest")), pulled["pipeline_id"]),
            needs=pulled["pipeline_id"],
        )
        report["unavailable"] = unavailable
        self.log.info("\n%s", render(report))
        return report

    def read(self, what: str, unavailable: list[str], call, needs: Any = True):
        """A best-effort read: None (and a line under "Not available") when it cannot be made."""
        if not needs:
            unavailable.append(f"{what}: the run did not get that far")
            return None
        try:
            with self.calling(f"reading {what}"):
                result = call()
        except EmbeddingError as exc:
            unavailable.append(f"{what}: {exc}")
            return None
        if result is None:
            unavailable.append(f"{what}: not found on the cluster")
        return result

    def document_counts(
        self, pulled: dict, settings: RunSettings | None, failures: dict, unavailable: list[str]
    ) -> dict[str, Any]:
        source, dest, query = pulled["source_index"], pulled["dest_index"], pulled["query"]
        counts: dict[str, Any] = {}
        if source:
            counts["source_matching"] = self.read(
                "the source count",
                unavailable,
                lambda: self.es.count(index=source, query=query or {"match_all": {}})["count"],
            )
        else:
            unavailable.append("documents: the run did not resolve its source index")
        if settings is None:
            unavailable.append("destination counts: the run has no settings snapshot")
            return counts
        pipeline = settings[PipelineSettings]
        if not dest or not self.read(
            "the destination", unavailable, lambda: self.es.indices.exists(index=dest)
        ):
            return counts
        out, failure = pipeline.output_field, pipeline.failure_field

        def destination() -> dict[str, int]:
            self.es.indices.refresh(index=dest)
            return {
                "in_destination": self.es.count(index=dest)["count"],
                "embedded": self.es.count(index=dest, query={"exists": {"field": out}})["count"],
                "missing_embeddings": self.es.count(
                    index=dest, query={"bool": {"must_not": {"exists": {"field": out}}}}
                )["count"],
                "recorded_failures": self.es.count(index=dest, query={"exists": {"field": failure}})["count"],
            }

        counted = self.read("destination counts", unavailable, destination) or {}
        counts.update(counted)
        if counted.get("recorded_failures"):
            hits = self.read(
                "recorded failures",
                unavailable,
                lambda: self.es.search(
                    index=dest,
                    query={"exists": {"field": failure}},
                    size=FAILURE_SAMPLE_SIZE,
                    source=[failure],
                )["hits"]["hits"],
            )
            failures["pipeline"] = pipeline_failure_kinds(hits or [], failure)
            if counted["recorded_failures"] > FAILURE_SAMPLE_SIZE:
                failures["pipeline_sampled"] = FAILURE_SAMPLE_SIZE
        return counts
