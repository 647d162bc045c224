"""The run report's pieces, as pure functions over what the cluster and Airflow answered: each stage's
row, the deployment's and the pipeline's counters, failures by type, docs/s, the outcome, and the
report rendered as the table the task logs (`render`). Unit-tested without a cluster."""

from __future__ import annotations

import json
import re
import textwrap
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from es_embedding import bodies, checks

# Recorded pipeline failures read to group them by type (the count itself is exact).
FAILURE_SAMPLE_SIZE = 1000
FAILED_STATES = frozenset({"failed", "upstream_failed"})


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


# What the models of Elasticsearch read at most, when their config does not say (ELSER, E5: 512).
DEFAULT_INPUT_TOKENS = 512
# Words a chunk may hold and still fit a 512-token input: wordpiece tokenizers make ~1.3 tokens of an
# English word; longer chunks risk truncation inside the chunk.
WORDS_PER_512_TOKENS = 390
LONG_DOCUMENT_REMEDY = (
    "set Variable 'embedding_inference' key 'backend' to \"semantic_text\" (long documents are chunked and "
    "every chunk embedded), or chunk them in an ingest pipeline (README: Long documents)"
)


def model_input_tokens(model_config: dict | None) -> int:
    """The most tokens the model reads (its tokenization's max_sequence_length); longer inputs are
    truncated (`truncate: first`, ELSER's and E5's default) or refused."""
    for task in ((model_config or {}).get("inference_config") or {}).values():
        for tokenizer in ((task or {}).get("tokenization") or {}).values():
            if isinstance(tokenizer, dict) and tokenizer.get("max_sequence_length"):
                return int(tokenizer["max_sequence_length"])
    return DEFAULT_INPUT_TOKENS


def chunk_stats(hits: Iterable[dict], output_field: str, input_field: str) -> dict[str, Any]:
    """Chunks per document of a sample of semantic_text documents (their stored chunk offsets, with
    `_source.exclude_vectors: false`), and the longest chunk in words of the input text."""
    per_document, longest = [], 0
    for hit in hits:
        source = hit.get("_source") or {}
        inference = ((source.get("_inference_fields") or {}).get(output_field) or {}).get("inference") or {}
        groups = inference.get("chunks") or {}
        chunks = [c for part in groups.values() for c in part] if isinstance(groups, dict) else list(groups)
        per_document.append(len(chunks))
        text = bodies.source_value(source, input_field)
        if isinstance(text, str):
            units = text.encode("utf-16-le")  # chunk offsets are UTF-16 code units (Java strings)
            for chunk in chunks:
                piece = units[2 * chunk.get("start_offset", 0) : 2 * chunk.get("end_offset", 0)]
                longest = max(longest, len(piece.decode("utf-16-le", errors="ignore").split()))
    sampled = len(per_document)
    return {
        "sampled_documents": sampled,
        "chunks": sum(per_document),
        "chunks_per_document": round(sum(per_document) / sampled, 2) if sampled else None,
        "max_chunks_per_document": max(per_document, default=None),
        "documents_over_one_chunk": sum(1 for n in per_document if n > 1),
        "longest_chunk_words": longest or None,
    }


def long_documents_note(long_documents: dict) -> str | None:
    """What the report says about input longer than the model reads, with the remedy when it cut
    documents short (the pipeline backend), or when chunks may be cut (the semantic_text backend)."""
    limit = long_documents.get("model_input_tokens")
    truncated = long_documents.get("truncated")
    if truncated:
        return (
            f"{truncated:,} documents were longer than the model reads ({limit} tokens) and were embedded from "
            f"their beginning only; remedy: {LONG_DOCUMENT_REMEDY}"
        )
    chunking = long_documents.get("chunking") or {}
    if chunking.get("strategy") == "none":
        return (
            "chunking strategy none: each value is one chunk, and the model reads only its first "
            f"{limit} tokens; choose sentence or word chunking to embed all of a long document"
        )
    longest = long_documents.get("longest_chunk_words")
    if longest and longest > WORDS_PER_512_TOKENS * (limit or DEFAULT_INPUT_TOKENS) / DEFAULT_INPUT_TOKENS:
        return (
            f"the longest sampled chunk has {longest} words: more than the model's {limit} tokens hold "
            "(about 1.3 tokens a word), so the model reads only its beginning; lower max_chunk_size"
        )
    return None


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


def _backend_lines(backend: dict) -> list[str]:
    if not backend:
        return []
    model = backend.get("model_id") or "-"
    if backend.get("model_alias"):
        model = f"{model} (behind model alias {backend['model_alias']})"
    if backend.get("backend") == "semantic_text":
        how = f"endpoint [{backend.get('inference_id') or '-'}]"
    else:
        how = f"deployment [{backend.get('deployment_id') or '-'}], pipeline [{backend.get('pipeline_id') or '-'}]"
    return [f"  backend   {backend.get('backend')}: model {model}, {how}"]


def _long_document_lines(long_documents: dict | None) -> list[str]:
    if not long_documents:
        return []
    rows: list[tuple[str, Any]] = [("model input (tokens)", long_documents.get("model_input_tokens"))]
    if "truncated" in long_documents:
        rows.append(("truncated (input cut)", long_documents.get("truncated")))
    if "sampled_documents" in long_documents:
        chunking = long_documents.get("chunking") or {}
        rows += [
            ("chunking", ", ".join(f"{k}={v}" for k, v in chunking.items()) or "-"),
            ("documents sampled", long_documents.get("sampled_documents")),
            ("chunks", long_documents.get("chunks")),
            ("chunks per document", long_documents.get("chunks_per_document")),
            ("most chunks in one", long_documents.get("max_chunks_per_document")),
            ("documents > 1 chunk", long_documents.get("documents_over_one_chunk")),
            ("longest chunk (words)", long_documents.get("longest_chunk_words")),
        ]
    lines = ["", *_section("Long documents", rows)]
    if note := long_documents.get("note"):
        lines += textwrap.wrap(note, 100, initial_indent="  ! ", subsequent_indent="    ")
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
        *_backend_lines(report.get("backend") or {}),
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
        *_long_document_lines(report.get("long_documents")),
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
                (
                    f"Inference: endpoint [{inference['inference_id']}], deployment [{inference['deployment_id']}] "
                    "(since it started)"
                    if inference.get("inference_id")
                    else f"Inference: deployment [{inference['deployment_id']}] (since it started)"
                ),
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
