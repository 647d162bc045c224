"""The run report, `run_report`: what one run did, in numbers, at the end of every run.

Documents in and embedded, failures by type, the duration of each stage (from the run's task
instances, as the Execution API gives them to a task: `ti.get_task_breadcrumbs`), docs/s, the backend
and the model behind it (an alias resolved), long documents (on the pipeline backend the documents
whose input the model truncated, with the remedy; on semantic_text the chunks per document), the
inference stats of the deployment (or of the endpoint's), the pipeline's ingest stats, and the
settings the run used (its snapshot of the Variables). Logged as a table, returned as XCom.

The collection is best effort: a run that failed early has no destination index or deployment, and
the report says what it could not read instead of failing. The pieces that turn answers into the
report are pure (es_embedding.report.summary).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from es_embedding import bodies
from es_embedding.base import EsStage
from es_embedding.errors import EmbeddingError
from es_embedding.links import KibanaIndexLink, KibanaModelLink
from es_embedding.report.summary import (
    FAILURE_SAMPLE_SIZE,
    chunk_stats,
    docs_per_second,
    inference_stats,
    ingest_stats,
    long_documents_note,
    model_input_tokens,
    outcome,
    pipeline_failure_kinds,
    render,
    stage_rows,
)
from es_embedding.settings import InferenceSettings, PipelineSettings, RunSettings

# Semantic_text documents whose chunks the report reads (their offsets and input text).
CHUNK_SAMPLE_SIZE = 500
# Since when a search returns the stored chunks (`_source.exclude_vectors: false`).
CHUNKS_IN_SOURCE_SINCE = (9, 2)

# Where the report finds what the other tasks pushed: (task_id, XCom key); with several task ids,
# the first that pushed it (the backends' stages: the other family's were skipped).
XCOM_SOURCES: dict[str, tuple[str | tuple[str, ...], str]] = {
    "source_index": ("validate_settings", "source_index"),
    "dest_index": ("validate_settings", "dest_index"),
    "alias": ("validate_settings", "alias"),
    "query": ("validate_settings", "query"),
    "es_version": ("validate_settings", "es_version"),
    "model_id": ("ensure_model", "model_id"),
    "model_alias": ("ensure_model", "model_alias"),
    "deployment_id": (("start_deployment", "ensure_endpoint"), "deployment_id"),
    "pipeline_id": ("put_pipeline", "pipeline_id"),
    "inference_id": ("ensure_endpoint", "inference_id"),
    "reindex_result": ("wait_reindex", "reindex_result"),
    "verification": ("verify_embeddings", "verification"),
}


class RunReportOperator(EsStage):
    """Last task of a run, successful or not (the DAG makes it a teardown, so it runs after a failure
    without changing the run's outcome): collects, logs and returns the run report."""

    ui_color = "#fff4d6"
    operator_extra_links = (KibanaModelLink(), KibanaIndexLink())

    def __init__(
        self, *, xcom_sources: dict[str, tuple[str | tuple[str, ...], str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.xcom_sources = {**XCOM_SOURCES, **(xcom_sources or {})}

    def execute(self, context: Any) -> dict[str, Any]:
        ti, dag_run = context["ti"], context["dag_run"]
        pulled = {name: self.pull(ti, task_ids, key) for name, (task_ids, key) in self.xcom_sources.items()}
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
        semantic_text = settings is not None and settings[InferenceSettings].semantic_text
        report["backend"] = {
            "backend": settings[InferenceSettings].backend if settings else None,
            "model_id": pulled["model_id"],
            "model_alias": pulled["model_alias"],
            "deployment_id": pulled["deployment_id"],
            "pipeline_id": pulled["pipeline_id"],
            "inference_id": pulled["inference_id"],
        }
        report["long_documents"] = self.long_documents(pulled, settings, unavailable)
        report["inference"] = self.read(
            "deployment stats",
            unavailable,
            lambda: inference_stats(dict(self.es.ml.get_trained_models_stats()), pulled["deployment_id"]),
            needs=pulled["deployment_id"],
        )
        if report["inference"] and pulled["inference_id"]:
            report["inference"] = {"inference_id": pulled["inference_id"], **report["inference"]}
        # The semantic_text backend embeds in the bulk path: there is no pipeline to report on.
        report["ingest"] = None
        if not semantic_text:
            report["ingest"] = self.read(
                "ingest stats",
                unavailable,
                lambda: ingest_stats(dict(self.es.nodes.stats(metric="ingest")), pulled["pipeline_id"]),
                needs=pulled["pipeline_id"],
            )
        report["unavailable"] = unavailable
        self.log.info("\n%s", render(report))
        return report

    @staticmethod
    def pull(ti: Any, task_ids: str | tuple[str, ...], key: str) -> Any:
        for task_id in (task_ids,) if isinstance(task_ids, str) else task_ids:
            value = ti.xcom_pull(task_ids=task_id, key=key)
            if value not in (None, ""):
                return value
        return None

    def long_documents(
        self, pulled: dict, settings: RunSettings | None, unavailable: list[str]
    ) -> dict[str, Any] | None:
        """Input longer than the model reads: on the pipeline backend the documents the model truncated
        (exact: the inference processor's is_truncated), on semantic_text the chunks of a sample of
        documents. Logged as a warning, with the remedy, when documents were cut short."""
        dest = pulled["dest_index"]
        if settings is None or not dest or not pulled["model_id"]:
            return None
        pipeline, inference = settings[PipelineSettings], settings[InferenceSettings]
        config = self.read(
            f"model [{pulled['model_id']}]",
            unavailable,
            lambda: (
                self.es.ml.get_trained_models(model_id=pulled["model_id"])["trained_model_configs"] or [None]
            )[0],
        )
        found: dict[str, Any] = {"model_input_tokens": model_input_tokens(config)}
        if not inference.semantic_text:
            found["truncated"] = self.read(
                "truncated documents",
                unavailable,
                lambda: self.es.count(index=dest, query=bodies.truncated_query(pipeline.output_field))[
                    "count"
                ],
            )
        else:
            found["chunking"] = inference.chunking_settings or self.endpoint_chunking(pulled, unavailable)
            found.update(self.chunks(pulled, pipeline, unavailable) or {})
        if note := long_documents_note(found):
            found["note"] = note
            self.log.warning("Long documents: %s", note)
        return found

    def endpoint_chunking(self, pulled: dict, unavailable: list[str]) -> dict | None:
        inference_id = pulled["inference_id"]
        endpoints = self.read(
            f"endpoint [{inference_id}]",
            unavailable,
            lambda: self.es.inference.get(inference_id=inference_id)["endpoints"],
            needs=inference_id,
        )
        return (endpoints or [{}])[0].get("chunking_settings")

    def chunks(self, pulled: dict, pipeline: PipelineSettings, unavailable: list[str]) -> dict | None:
        version = tuple(int(part) for part in str(pulled["es_version"] or "0.0").split(".")[:2])
        if version < CHUNKS_IN_SOURCE_SINCE:
            unavailable.append(
                f"chunks per document: Elasticsearch {pulled['es_version']} returns no stored chunks "
                "(_source.exclude_vectors needs 9.2)"
            )
            return None
        out, stored = pipeline.output_field, f"_inference_fields.{pipeline.output_field}.inference.chunks.*"
        hits = self.read(
            "chunks per document",
            unavailable,
            lambda: self.es.search(
                index=pulled["dest_index"],
                query={"exists": {"field": out}},
                size=CHUNK_SAMPLE_SIZE,
                source={
                    "includes": [pipeline.input_field, f"{stored}.start_offset", f"{stored}.end_offset"],
                    "exclude_vectors": False,
                },
            )["hits"]["hits"],
        )
        return chunk_stats(hits, out, pipeline.input_field) if hits is not None else None

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
        semantic_text = settings[InferenceSettings].semantic_text

        def destination() -> dict[str, int | None]:
            self.es.indices.refresh(index=dest)
            return {
                "in_destination": self.es.count(index=dest)["count"],
                "embedded": self.es.count(index=dest, query={"exists": {"field": out}})["count"],
                "missing_embeddings": self.es.count(
                    index=dest, query={"bool": {"must_not": {"exists": {"field": out}}}}
                )["count"],
                # semantic_text records none: a document whose inference failed is not written (missing).
                "recorded_failures": None
                if semantic_text
                else self.es.count(index=dest, query={"exists": {"field": failure}})["count"],
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
