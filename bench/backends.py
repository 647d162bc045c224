"""Benchmark 7, the two backends side by side on the same deployment capacity: an ingest pipeline
(a deployment of ELSER, the `inference` processor) against an inference endpoint and a
`semantic_text` field (inference in the bulk path), at 1, 2, 4 and 8 allocations x 1 thread.

Each run: a fresh deployment (the pipeline's started through the trained models API, the endpoint's
by `PUT _inference`, both with Elasticsearch's default queue capacity), a fresh destination, one
`_reindex` of `max_docs` = capacity x --seconds documents from the sample corpus cycled (its five long
reads, about 4 % of the documents, give semantic_text more than one chunk each), with the batch size
and slices the package derives for the pipeline (es_embedding.sizing.plan_reindex) on both. The
work is counted in inferences that ran the model (one per document through the pipeline, one per
chunk on semantic_text; the deployment's count less its cache hits): utilisation is the deployment's inferences per second over the reindex's `took`,
divided by its capacity (allocations x 1000 / inference_ms); every document's text, and every chunk
of it, is its own (common.load_corpus: a repeated input would be answered from the deployment's
inference cache, without the model); rejected documents are the deployment's
rejected_execution_count plus the reindex's failures plus (pipeline) the failures it recorded.

    .venv/bin/python bench/backends.py [--inference-ms 50] [--seconds 8] [--allocations 1 2 4 8]
"""

from __future__ import annotations

import os
import time

from common import (
    MAPPINGS,
    capacity_arguments,
    capacity_sandbox,
    client,
    deploy,
    deployment_stats,
    elser_pipeline,
    load_corpus,
    machine,
    wait_task,
    write_result,
)

from es_embedding import bodies
from es_embedding.settings import PipelineSettings
from es_embedding.sizing import Queues, auto_slices, plan_reindex

MODEL = ".elser_model_2_linux-x86_64"
DEFAULT_QUEUE = 10_000  # what an endpoint's deployment gets; the pipeline's deployment gets the same
FIELDS = PipelineSettings()


def pipeline_destination(es, allocations: int) -> tuple[dict, dict]:
    """The pipeline path's deployment and destination: (its stats, the reindex's `dest`)."""
    stats = deploy(es, "bench-pipeline", allocations, 1, queue_capacity=DEFAULT_QUEUE)
    elser_pipeline(es, "embed", "bench-pipeline")
    mapping = bodies.dest_index_body({"mappings": MAPPINGS}, FIELDS, {"type": "sparse_vector"}, {})
    recreate(es, "dest-pipeline", mapping["mappings"])
    return stats, {"index": "dest-pipeline", "pipeline": "embed"}


def semantic_destination(es, allocations: int) -> tuple[dict, dict]:
    """The semantic_text path's endpoint (its deployment named after it) and destination."""
    inference_id = "bench-endpoint"
    if es.options(ignore_status=404).inference.get(inference_id=inference_id).meta.status == 200:
        es.indices.delete(index="dest-semantic", ignore_unavailable=True)
        es.inference.delete(inference_id=inference_id, force=True)
    es.inference.put(
        task_type="sparse_embedding",
        inference_id=inference_id,
        inference_config={
            "service": "elasticsearch",
            "service_settings": {"model_id": MODEL, "num_threads": 1, "num_allocations": allocations},
        },
    )
    field = bodies.semantic_text_mapping(inference_id, None)
    mapping = bodies.dest_index_body({"mappings": MAPPINGS}, FIELDS, field, {})
    recreate(es, "dest-semantic", mapping["mappings"])
    return deployment_stats(es, inference_id), {"index": "dest-semantic"}


def model_runs(stats: dict) -> int:
    """Inferences that ran the model: the deployment's count less its nodes' cache hits."""
    hits = sum(node.get("inference_cache_hit_count") or 0 for node in stats.get("nodes") or [])
    return (stats.get("inference_count") or 0) - hits


def recreate(es, index: str, mappings: dict) -> None:
    es.indices.delete(index=index, ignore_unavailable=True)
    es.indices.create(index=index, mappings=mappings)


def run(es, backend: str, allocations: int, inference_ms: float, seconds: float) -> dict:
    prepare = pipeline_destination if backend == "ingest_pipeline" else semantic_destination
    stats, dest = prepare(es, allocations)
    deployment_id = stats["deployment_id"]
    queues = Queues.of(stats)
    plan = plan_reindex("auto", auto_slices(1, queues.allocations), queues)
    capacity = allocations * 1000.0 / inference_ms
    docs = max(int(capacity * seconds), plan.batch_size * plan.slices)
    before = model_runs(deployment_stats(es, deployment_id))
    task = es.reindex(
        source={"index": "source", "size": plan.batch_size},
        dest=dest,
        slices=plan.slices,
        max_docs=docs,
        wait_for_completion=False,
    )["task"]
    response = wait_task(es, task, poll=0.25)["response"]
    after = deployment_stats(es, deployment_id)
    es.indices.refresh(index=dest["index"])
    recorded = 0
    if backend == "ingest_pipeline":
        recorded = es.count(index=dest["index"], query={"exists": {"field": FIELDS.failure_field}})["count"]
    embedded = es.count(index=dest["index"], query={"exists": {"field": FIELDS.output_field}})["count"]
    inferences = model_runs(after) - before
    took = response["took"] / 1000
    row = {
        "backend": backend,
        "allocations": allocations,
        "threads": 1,
        "batch_size": plan.batch_size,
        "slices": plan.slices,
        "docs": docs,
        "embedded_docs": embedded,
        "inferences": inferences,
        "inferences_per_doc": round(inferences / embedded, 3) if embedded else None,
        "took_seconds": took,
        "docs_per_second": round(embedded / took, 1) if took else 0.0,
        "inferences_per_second": round(inferences / took, 1) if took else 0.0,
        "capacity_inferences_per_second": round(capacity, 1),
        "utilisation": round(inferences / took / capacity, 3) if took else 0.0,
        "rejected_docs": (after.get("rejected_execution_count") or 0)
        + len(response.get("failures") or [])
        + recorded,
        "loadavg": round(os.getloadavg()[0], 2),
    }
    print(row, flush=True)
    return row


def main() -> None:
    args = capacity_arguments(__doc__.splitlines()[0]).parse_args()
    info = machine()
    sandbox = capacity_sandbox(args.inference_ms)
    rows = []
    try:
        es = client(sandbox.url)
        top = max(args.allocations) * 1000 / args.inference_ms
        load_corpus(es, "source", int(top * args.seconds) + 10_000)
        started = time.monotonic()
        for allocations in args.allocations:
            for backend in ("ingest_pipeline", "semantic_text"):
                rows.append(run(es, backend, allocations, args.inference_ms, args.seconds))
            # The next allocation count starts each backend's deployment afresh.
            es.ml.stop_trained_model_deployment(model_id="bench-pipeline", force=True)
        print(f"{time.monotonic() - started:.0f} s", flush=True)
        es.close()
    finally:
        sandbox.stop()
    write_result(
        "backends",
        {
            "machine": info,
            "setup": {
                "inference_ms": args.inference_ms,
                "seconds": args.seconds,
                "queue_capacity": DEFAULT_QUEUE,
            },
            "rows": rows,
        },
    )


if __name__ == "__main__":
    main()
