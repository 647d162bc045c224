"""Pipelines as Elasticsearch builds and runs them: a compound of processors with failure handling
(processor-level `ignore_failure`/`on_failure` wrap the processor, `if` wraps that, pipeline-level
`on_failure` wraps the list), `_ingest.on_failure_*` metadata, metrics per pipeline and per processor,
and the verbose results `_simulate` reports (TrackingResultProcessor's)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from es_sandbox.errors import EsError, illegal_argument
from es_sandbox.ingest.config import ConfigReader, config_error, with_processor
from es_sandbox.ingest.document import IngestDocument
from es_sandbox.ingest.painless import Script
from es_sandbox.ingest.processors import PipelineProcessor, Processor
from es_sandbox.ingest.registry import PROCESSORS, unknown_processor
from es_sandbox.ingest.script import ScriptProcessor, read_condition
from es_sandbox.java import java_type

if TYPE_CHECKING:
    from es_sandbox.ingest.service import IngestService

ON_FAILURE_KEYS = (
    "on_failure_message",
    "on_failure_processor_type",
    "on_failure_processor_tag",
    "on_failure_pipeline",
)


@dataclass
class Metric:
    """IngestMetric: count, time, in flight, failed."""

    count: int = 0
    nanos: int = 0
    current: int = 0
    failed: int = 0

    def stats(self) -> dict[str, int]:
        return {
            "count": self.count,
            "time_in_millis": self.nanos // 1_000_000,
            "current": self.current,
            "failed": self.failed,
        }

    def add(self, other: Metric) -> None:
        self.count += other.count
        self.nanos += other.nanos
        self.failed += other.failed

    def pre_ingest(self) -> int:
        """IngestMetric.preIngest: one more in flight; returns the start time for post_ingest."""
        self.current += 1
        return time.perf_counter_ns()

    def post_ingest(self, start: int) -> None:
        """IngestMetric.postIngest: one fewer in flight, one more done, and the time it took."""
        self.current -= 1
        self.count += 1
        self.nanos += time.perf_counter_ns() - start


class ProcessorFailure(Exception):
    """IngestProcessorException: the failure plus which processor (and pipeline) raised it."""

    def __init__(
        self, error: EsError, processor_type: str | None, tag: str | None, pipeline: str | None
    ) -> None:
        super().__init__(error.reason)
        self.error, self.processor_type, self.tag, self.pipeline = error, processor_type, tag, pipeline

    @property
    def root_message(self) -> str:
        cause = self.error.caused_by
        reason = self.error.reason
        while cause:
            reason = cause.get("reason", reason)
            cause = cause.get("caused_by")
        return reason


def _failure(exc: Exception, processor: Any, doc: IngestDocument | None) -> ProcessorFailure:
    if isinstance(exc, ProcessorFailure):
        return exc
    error = exc if isinstance(exc, EsError) else EsError(500, "exception", f"{type(exc).__name__}: {exc}")
    pipeline = doc.pipelines[-1] if doc is not None and doc.pipelines else None
    return ProcessorFailure(error, processor.type, processor.tag, pipeline)


class Compound:
    """CompoundProcessor: runs processors in order; on a failure either skips it (ignore_failure),
    runs the on_failure processors with the failure metadata, or raises."""

    type = "compound"
    tag = None

    def __init__(self, ignore_failure: bool, processors: list[Any], on_failure: list[Any]) -> None:
        self.ignore_failure = ignore_failure
        self.entries: list[tuple[Any, Metric]] = [(p, Metric()) for p in processors]
        self.on_failure = on_failure

    async def execute(
        self, doc: IngestDocument, trace: list | None = None, condition: Script | None = None
    ) -> IngestDocument | None:
        """Runs the processors; `trace` collects verbose results, and `condition` is the `if` of a
        conditional processor around this compound (verbose mode applies it to each processor)."""
        for processor, metric in self.entries:
            start = metric.pre_ingest()
            try:
                result = await _run(processor, doc, trace, self.ignore_failure, condition)
            except Exception as exc:
                metric.post_ingest(start)
                metric.failed += 1
                if self.ignore_failure:
                    continue
                failure = _failure(exc, processor, doc)
                if not self.on_failure:
                    raise failure from None
                return await self._on_failure(doc, failure, trace)
            metric.post_ingest(start)
            if result is None:
                return None
            doc = result
        return doc

    async def _on_failure(self, doc: IngestDocument, failure: ProcessorFailure, trace: list | None):
        doc.ingest["on_failure_message"] = failure.root_message
        doc.ingest["on_failure_processor_type"] = failure.processor_type
        doc.ingest["on_failure_processor_tag"] = failure.tag
        if failure.pipeline is not None:
            doc.ingest["on_failure_pipeline"] = failure.pipeline
        for processor in self.on_failure:
            try:
                result = await _run(processor, doc, trace, self.ignore_failure)
            except Exception as exc:
                _remove_failure_metadata(doc)
                raise _failure(exc, processor, doc) from None
            if result is None:
                return None
            doc = result
        _remove_failure_metadata(doc)
        return doc

    def stats_entries(self) -> list[tuple[Any, Metric]]:
        """collectProcessorMetrics: the real processors behind on_failure and `if` wrappers, nested
        flattened; a conditional processor counts only the runs its condition let through."""
        entries: list[tuple[Any, Metric]] = []
        for processor, metric in self.entries:
            if isinstance(processor, Conditional):
                entries.append((processor.leaf(), processor.metric))
            elif isinstance(processor, Compound):
                if len(processor.entries) == 1 and not isinstance(processor.entries[0][0], Compound):
                    entries.append(processor.entries[0])
                else:
                    entries.extend(processor.stats_entries())
            else:
                entries.append((processor, metric))
        return entries

    def walk(self):
        for processor, _ in self.entries:
            yield from processor.walk()
        for processor in self.on_failure:
            yield from processor.walk()


class Conditional:
    """ConditionalProcessor: runs its processor (with its on_failure handling) only when `if` holds."""

    type = "conditional"

    def __init__(self, condition: Script, inner: Any, tag: str | None) -> None:
        self.condition, self.inner, self.tag = condition, inner, tag
        self.metric = Metric()

    def leaf(self) -> Any:
        inner = self.inner
        while isinstance(inner, Compound) and len(inner.entries) == 1:
            inner = inner.entries[0][0]
        return inner

    async def execute(self, doc: IngestDocument) -> IngestDocument | None:
        if not self.condition.condition(doc):
            return doc
        start = self.metric.pre_ingest()
        try:
            return await self.inner.execute(doc)
        except Exception:
            self.metric.failed += 1
            raise
        finally:
            self.metric.post_ingest(start)

    def walk(self):
        yield from self.inner.walk()


def _remove_failure_metadata(doc: IngestDocument) -> None:
    for key in ON_FAILURE_KEYS:
        doc.ingest.pop(key, None)


async def _run(processor: Any, doc: IngestDocument, trace: list | None, ignore_failure: bool, condition=None):
    if trace is None:
        return await processor.execute(doc)
    # TrackingResultProcessor.decorate: a conditional's `if` moves onto the processors it wraps.
    if isinstance(processor, Conditional):
        condition, processor = processor.condition, processor.inner
    if isinstance(processor, Compound):
        return await processor.execute(doc, trace, condition)
    return await _traced(processor, doc, trace, ignore_failure, condition)


def _result(processor: Processor, status: str, condition: Script | None, **rest: Any) -> dict[str, Any]:
    """SimulateProcessorResult: processor_type, status, description, tag, if, error, doc."""
    result: dict[str, Any] = {"processor_type": processor.type, "status": status}
    if processor.description is not None:
        result["description"] = processor.description
    if processor.tag is not None:
        result["tag"] = processor.tag
    if condition is not None:
        result["if"] = {"condition": condition.source, "result": status != "skipped"}
    result.update(rest)
    return result


def _error_result(processor, error: EsError, doc: IngestDocument, ignored: bool, condition) -> dict[str, Any]:
    if ignored:
        return _result(
            processor,
            "error_ignored",
            condition,
            ignored_error={"error": _failure_xcontent(error)},
            doc=doc.simulate_view(),
        )
    return _result(processor, "error", condition, error=_failure_xcontent(error))


async def _traced(processor: Processor, doc: IngestDocument, trace: list, ignore_failure: bool, condition):
    """TrackingResultProcessor: one result per processor run, in execution order."""
    if condition is not None and not condition.condition(doc):
        trace.append(_result(processor, "skipped", condition))
        return doc
    if isinstance(processor, PipelineProcessor):
        return await _traced_pipeline(processor, doc, trace, ignore_failure, condition)
    try:
        result = await processor.execute(doc)
    except Exception as exc:
        trace.append(_error_result(processor, _error_of(exc), doc, ignore_failure, condition))
        raise
    if result is None:
        trace.append(_result(processor, "dropped", condition))
    else:
        trace.append(_result(processor, "success", condition, doc=result.simulate_view()))
    return result


async def _traced_pipeline(processor: PipelineProcessor, doc, trace, ignore_failure, condition):
    """A pipeline processor's result (no doc), then the results of the pipeline it runs. At the top
    level the pipeline first runs on a copy of the document, to report a cycle on this processor."""
    name = processor.pipeline_name(doc)
    pipeline = processor.service.pipelines.get(name)
    if pipeline is None:
        error = illegal_argument(f"Pipeline processor configured for non-existent pipeline [{name}]")
        ignored = processor.ignore_missing_pipeline
        trace.append(_error_result(processor, error, doc, ignored, condition))
        if ignored:
            return doc
        raise error
    if len(doc.pipelines) == 1:
        try:
            await pipeline.execute(doc.copy())
        except Exception as exc:
            error = _error_of(exc)
            if error.type == "graph_structure_exception":
                trace.append(_error_result(processor, error, doc, ignore_failure, condition))
                raise
    trace.append(_result(processor, "success", condition))
    return await pipeline.execute(doc, trace)


def _error_of(exc: Exception) -> EsError:
    error = exc.error if isinstance(exc, ProcessorFailure) else exc
    return error if isinstance(error, EsError) else EsError(500, "exception", str(error))


def _failure_xcontent(error: EsError) -> dict[str, Any]:
    """generateFailureXContent(detailed): root_cause then the exception."""
    return {
        "root_cause": [{"type": error.type, "reason": error.reason, **error.extra}],
        **error.to_xcontent(),
    }


class Pipeline:
    def __init__(self, pipeline_id: str, config: dict[str, Any], service: IngestService) -> None:
        self.id = pipeline_id
        self.config = config
        cfg = ConfigReader(dict(config), None, None)
        self.description = cfg.optional_string("description")
        self.version = cfg.integer("version")
        self.meta = cfg.map("_meta")
        cfg.boolean("deprecated", False)
        cfg.config.pop("field_access_pattern", None)
        processor_configs = cfg.list("processors", required=True)
        processors = read_processors(processor_configs, service)
        on_failure_configs = cfg.list("on_failure")
        on_failure = read_processors(on_failure_configs, service)
        cfg.leftover(f"pipeline [{pipeline_id}]")
        if on_failure_configs is not None and not on_failure:
            raise EsError(
                400,
                "parse_exception",
                f"pipeline [{pipeline_id}] cannot have an empty on_failure option defined",
            )
        self.compound = Compound(False, processors, on_failure)
        self.metric = Metric()
        self.bytes_ingested = 0
        self.bytes_produced = 0

    def processors(self):
        return self.compound.walk()

    def carry_over_metrics(self, old: Pipeline) -> None:
        """innerUpdatePipelines: keep the pipeline's counters, and the processors' when they line up."""
        self.metric.add(old.metric)
        self.bytes_ingested += old.bytes_ingested
        self.bytes_produced += old.bytes_produced
        new_entries, old_entries = self.compound.stats_entries(), old.compound.stats_entries()
        if len(new_entries) == len(old_entries):
            for (new_p, new_m), (old_p, old_m) in zip(new_entries, old_entries, strict=True):
                if new_p.type == old_p.type:
                    new_m.add(old_m)

    async def execute(self, doc: IngestDocument, trace: list | None = None) -> IngestDocument | None:
        """IngestDocument.executePipeline: cycle check, _ingest.pipeline, metrics."""
        if self.id in doc.pipelines:
            raise EsError(500, "graph_structure_exception", f"Cycle detected for pipeline: {self.id}")
        previous = doc.ingest.get("pipeline")
        doc.ingest["pipeline"] = self.id
        doc.pipelines.append(self.id)
        doc.executed.append(self.id)
        start = self.metric.pre_ingest()
        try:
            return await self.compound.execute(doc, trace)
        except Exception:
            self.metric.failed += 1
            raise
        finally:
            self.metric.post_ingest(start)
            doc.pipelines.pop()
            if previous is None:
                doc.ingest.pop("pipeline", None)
            else:
                doc.ingest["pipeline"] = previous

    def stats(self) -> dict[str, Any]:
        return {
            **self.metric.stats(),
            "ingested_as_first_pipeline_in_bytes": self.bytes_ingested,
            "produced_as_first_pipeline_in_bytes": self.bytes_produced,
            "processors": [
                {p.stats_name: {"type": p.type, "stats": m.stats()}} for p, m in self.compound.stats_entries()
            ],
        }


def read_processors(configs: list[Any] | None, service: IngestService) -> list[Any]:
    """ConfigurationUtils.readProcessorConfigs: every entry of every map is one processor; the
    first error is raised with the later ones attached as `suppressed`."""
    errors: list[EsError] = []
    processors: list[Any] = []
    for entry in configs or ():
        if not isinstance(entry, dict):
            errors.append(config_error(f"property isn't a map, but of type [{type(entry).__name__}]"))
            continue
        for processor_type, config in entry.items():
            try:
                if config is None:
                    raise config_error("processor config cannot be [null]", processor_type=processor_type)
                processors.append(read_processor(processor_type, config, service))
            except EsError as err:
                errors.append(err)
    if errors:
        first = errors[0]
        if len(errors) > 1:
            first.extra["suppressed"] = [e.to_xcontent() for e in errors[1:]]
        raise first
    return processors


def read_processor(processor_type: str, config: Any, service: IngestService) -> Any:
    """ConfigurationUtils.readProcessor: the processor, wrapped for on_failure/ignore_failure, then
    for `if`."""
    if isinstance(config, str) and processor_type == ScriptProcessor.type:
        config = {"source": config}
    if not isinstance(config, dict):
        raise config_error(
            f"property isn't a map, but of type [{java_type(config)}]", processor_type=processor_type
        )
    cfg = ConfigReader(dict(config), None, None)
    tag = cfg.optional_string("tag")
    cfg.tag = tag
    description = cfg.optional_string("description")
    condition_config = cfg.config.pop("if", None)
    condition = None if condition_config is None else read_condition(condition_config, processor_type, tag)
    factory = PROCESSORS.get(processor_type)
    if factory is None:
        raise unknown_processor(processor_type, tag)
    ignore_failure = cfg.boolean("ignore_failure", False)
    on_failure_configs = cfg.list("on_failure")
    on_failure = read_processors(on_failure_configs, service)
    if on_failure_configs is not None and not on_failure:
        raise config_error(
            "processors list cannot be empty", processor_type=processor_type, tag=tag, prop="on_failure"
        )
    cfg.type = processor_type
    try:
        processor = factory.build(cfg, service)
        cfg.leftover(f"processor [{processor_type}]")
    except EsError as err:
        raise with_processor(err, processor_type, tag) from None
    processor.description = description
    if on_failure or ignore_failure:
        processor = Compound(ignore_failure, [processor], on_failure)
    if condition is not None:
        processor = Conditional(condition, processor, tag)
    return processor
