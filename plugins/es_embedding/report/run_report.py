"""The run report, `run_report`: what one run did, in numbers, at the end of every run.

Documents in and embedded, failures by type, the duration of each stage (from the run's task
instances, as the Execution API gives them to a task: `ti.get_task_breadcrumbs`), docs/s, the
deployment's inference stats, the pipeline's ingest stats, and the settings the run used (its
snapshot of the Variables). Logged as a table, returned as XCom.

The collection is best effort: a run that failed early has no destination index or deployment, and
the report says what it could not read instead of failing. The pieces that turn answers into the
report are pure (es_embedding.report.summary).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from es_embedding.base import EsStage
from es_embedding.errors import EmbeddingError
from es_embedding.links import KibanaIndexLink, KibanaModelLink
from es_embedding.report.summary import (
    FAILURE_SAMPLE_SIZE,
    docs_per_second,
    inference_stats,
    ingest_stats,
    outcome,
    pipeline_failure_kinds,
    render,
    stage_rows,
)
from es_embedding.settings import PipelineSettings, RunSettings

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


class RunReportOperator(EsStage):
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
