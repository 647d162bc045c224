"""IngestService: the stored pipelines, running documents through them (for bulk, reindex and
_simulate), and the ingest statistics of _nodes/stats and trained model stats.

Contract used by the other subsystems:
    await run(pipeline_id, doc) -> doc | None   doc = {"_index", "_id", "_source", ...metadata}
    node_stats() -> dict                         the `ingest` object of _nodes/stats
    pipelines_referencing(ids) -> list[str]      pipelines whose inference processors use one of ids
    model_ingest_stats(model_id) -> dict         the `ingest` object of trained model stats
"""

from __future__ import annotations

import fnmatch
import json
import logging
from typing import TYPE_CHECKING, Any

from es_sandbox.errors import EsError, illegal_argument, resource_not_found
from es_sandbox.ingest.document import IngestDocument, clone
from es_sandbox.ingest.pipeline import Metric, Pipeline, ProcessorFailure, read_processor
from es_sandbox.ingest.processors import InferenceProcessor

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster

log = logging.getLogger("es_sandbox.ingest")


def _is_pattern(expression: str) -> bool:
    return "*" in expression


def _matches(pattern: str, name: str) -> bool:
    return fnmatch.fnmatchcase(name, pattern) if _is_pattern(pattern) else pattern == name


class IngestService:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.pipelines: dict[str, Pipeline] = {}
        self.total = Metric()

    # --- subsystem contract ----------------------------------------------------------------

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def reset(self) -> None:
        self.pipelines.clear()
        self.total = Metric()

    def snapshot(self) -> dict[str, Any]:
        return {"pipelines": {pid: p.config for pid, p in self.pipelines.items()}}

    def restore(self, state: dict[str, Any]) -> None:
        for pipeline_id, config in state.get("pipelines", {}).items():
            try:
                self.pipelines[pipeline_id] = Pipeline(pipeline_id, config, self)
            except EsError as err:
                log.warning("could not restore pipeline [%s]: %s", pipeline_id, err)

    def on_node_restart(self) -> None:
        """Ingest statistics live in the node's memory: a restart starts them again from zero."""
        self.total = Metric()
        for pipeline_id, pipeline in list(self.pipelines.items()):
            self.pipelines[pipeline_id] = Pipeline(pipeline_id, pipeline.config, self)

    # --- pipeline CRUD ---------------------------------------------------------------------

    def put(self, pipeline_id: str, config: dict[str, Any], if_version: int | None = None) -> None:
        current = self.pipelines.get(pipeline_id)
        if if_version is None and current is not None and current.config == config:
            return  # isNoOpPipelineUpdate
        pipeline = Pipeline(pipeline_id, config, self)
        if if_version is not None:
            if current is None:
                raise illegal_argument(
                    f"version conflict, required version [{if_version}] for pipeline [{pipeline_id}] "
                    "but no pipeline was found"
                )
            if current.version != if_version:
                raise illegal_argument(
                    f"version conflict, required version [{if_version}] for pipeline [{pipeline_id}] "
                    f"but current version is [{_java(current.version)}]"
                )
            if "version" in config and config["version"] == current.version:
                raise illegal_argument(
                    f"cannot update pipeline [{pipeline_id}] with the same version [{if_version}]"
                )
            if "version" not in config:
                config = {**config, "version": if_version + 1}
                pipeline = Pipeline(pipeline_id, config, self)
        if current is not None:
            pipeline.carry_over_metrics(current)
        self.pipelines[pipeline_id] = pipeline

    def get(self, ids: list[str]) -> dict[str, Any]:
        if not ids:
            return {pid: p.config for pid, p in sorted(self.pipelines.items())}
        found: dict[str, Any] = {}
        for expression in ids:
            for pid in sorted(self.pipelines):
                if _matches(expression, pid):
                    found[pid] = self.pipelines[pid].config
        return found

    def delete(self, expression: str) -> None:
        matched = [pid for pid in self.pipelines if _matches(expression, pid)]
        if not matched:
            if expression in ("*", "_all"):
                return
            raise resource_not_found(f"pipeline [{expression}] is missing")
        for pipeline_id in matched:
            self._check_not_in_use(pipeline_id)
        for pipeline_id in matched:
            del self.pipelines[pipeline_id]

    def _check_not_in_use(self, pipeline_id: str) -> None:
        default_for: list[str] = []
        final_for: list[str] = []
        for index in self.cluster.indices.resolve("*", ignore_unavailable=True, allow_no_indices=True):
            if getattr(index, "default_pipeline", None) == pipeline_id:
                default_for.append(index.name)
            if getattr(index, "final_pipeline", None) == pipeline_id:
                final_for.append(index.name)
        if not default_for and not final_for:
            return
        parts = []
        if default_for:
            parts.append(
                f"the default pipeline for {len(default_for)} index(es) including [{','.join(sorted(default_for)[:3])}]"
            )
        if final_for:
            parts.append(
                f"the final pipeline for {len(final_for)} index(es) including [{','.join(sorted(final_for)[:3])}]"
            )
        raise illegal_argument(
            f"pipeline [{pipeline_id}] cannot be deleted because it is {' and '.join(parts)}"
        )

    def read_processor(self, processor_type: str, config: Any) -> Any:
        """One processor from its configuration (for processors that hold another, like foreach)."""
        return read_processor(processor_type, config, self)

    # --- execution -------------------------------------------------------------------------

    async def run(
        self, pipeline_id: str, doc: dict[str, Any], executed: list[str] | None = None
    ) -> dict[str, Any] | None:
        """Run a stored pipeline over `doc`; `executed` collects every pipeline started, nested ones too."""
        if pipeline_id == "_none":
            return doc
        pipeline = self.pipelines.get(pipeline_id)
        if pipeline is None:
            raise illegal_argument(f"pipeline with id [{pipeline_id}] does not exist")
        source = doc.get("_source") or {}
        meta = {k: v for k, v in doc.items() if k != "_source"}
        ingest_doc = IngestDocument(meta, clone(source))
        pipeline.bytes_ingested += _size(source)
        start = self.total.pre_ingest()
        try:
            result = await pipeline.execute(ingest_doc)
        except ProcessorFailure as failure:
            self.total.failed += 1
            raise failure.error from None
        except EsError:
            self.total.failed += 1
            raise
        finally:
            self.total.post_ingest(start)
            if executed is not None:
                executed.extend(ingest_doc.executed)
        if result is None:
            return None
        pipeline.bytes_produced += _size(result.source)
        return {**result.meta, "_source": result.source}

    async def simulate(self, pipeline: Pipeline, docs: list[IngestDocument], verbose: bool) -> dict[str, Any]:
        results = []
        for doc in docs:
            if verbose:
                trace: list[dict[str, Any]] = []
                try:
                    await pipeline.execute(doc, trace)
                except (ProcessorFailure, EsError):
                    pass
                results.append({"processor_results": trace})
                continue
            try:
                outcome = await pipeline.execute(doc)
            except (ProcessorFailure, EsError) as exc:
                error = exc.error if isinstance(exc, ProcessorFailure) else exc
                results.append(
                    {
                        "error": {
                            "root_cause": [{"type": error.type, "reason": error.reason, **error.extra}],
                            **error.to_xcontent(),
                        }
                    }
                )
                continue
            results.append(None if outcome is None else {"doc": outcome.simulate_view()})
        return {"docs": results}

    # --- statistics ------------------------------------------------------------------------

    def node_stats(self) -> dict[str, Any]:
        return {
            "total": self.total.stats(),
            "pipelines": {pid: p.stats() for pid, p in sorted(self.pipelines.items())},
        }

    def pipelines_referencing(self, ids: set[str]) -> list[str]:
        return sorted(
            pid
            for pid, pipeline in self.pipelines.items()
            if any(isinstance(p, InferenceProcessor) and p.model_id in ids for p in pipeline.processors())
        )

    def model_ingest_stats(self, model_id: str, references: set[str] | None = None) -> dict[str, Any]:
        """The ingest stats of the pipelines that use the model (by id, or an alias/deployment id)."""
        pipeline_ids = self.pipelines_referencing({model_id, *(references or ())})
        total = Metric()
        pipelines = {}
        for pid in pipeline_ids:
            pipeline = self.pipelines[pid]
            total.add(pipeline.metric)
            total.current += pipeline.metric.current
            pipelines[pid] = pipeline.stats()
        return {"total": total.stats(), "pipelines": pipelines}


# One shared encoder: json.dumps with options builds a new one on every call.
_COMPACT = json.JSONEncoder(separators=(",", ":"), check_circular=False)


def _size(source: dict[str, Any]) -> int:
    """The document's size as compact JSON, for the *_as_first_pipeline_in_bytes statistics."""
    return len(_COMPACT.encode(source))


def _java(value: Any) -> str:
    return "null" if value is None else str(value)
