"""Benchmark 1, utilisation: achieved docs/s divided by the deployment's capacity (allocations x the
per-allocation rate of the sandbox's cost model: 1000 / inference_ms x Amdahl speed-up of the threads),
with rejected documents counted, for fixed reindex settings against the derived ones
(es_embedding.sizing.plan_reindex with batch_size "auto" and auto slices, as StartReindexOperator
computes them), at 1, 2, 4 and 8 allocations; the derived settings also at 2 and 4 threads (the plot).

Each run: a fresh deployment (queue_capacity 1024, ES's default), a fresh destination index, one
reindex through the ELSER pipeline of `max_docs` = capacity x --seconds documents; docs/s is
created / the reindex task's `took`
(whole run, with ramp-up and tail); steady_utilisation is the deployment's inference rate between
10 % and 90 % of the run (what a long job sees).

    .venv/bin/python bench/utilisation.py [--inference-ms 50] [--seconds 8]
"""

from __future__ import annotations

import os
import time

from common import (
    capacity_arguments,
    capacity_sandbox,
    client,
    deploy,
    deployment_stats,
    dest_index,
    elser_pipeline,
    load_corpus,
    machine,
    start_reindex,
    write_result,
)

from es_embedding.sizing import Queues, auto_slices, plan_reindex
from es_sandbox.ml.inference import thread_speedup

QUEUE = 1024
FIXED = {
    # The project's defaults before derived sizing (batch_size 100, slices "auto" = 1 shard).
    "out_of_the_box": (100, 1),
    # ES's own reindex defaults (scroll size 1000, one slice).
    "es_defaults": (1000, 1),
    # Hand-tuned for parallelism without regard to the queue: 4 slices x 1000 > 1024 queued.
    "hand_tuned": (1000, 4),
}


def run(es, config: str, allocations: int, threads: int, inference_ms: float, seconds: float) -> dict:
    stats = deploy(es, "bench", allocations, threads, queue_capacity=QUEUE)
    if config == "derived":
        queues = Queues.of(stats)
        plan = plan_reindex("auto", auto_slices(1, queues.allocations), queues)
        batch, slices = plan.batch_size, plan.slices
    else:
        batch, slices = FIXED[config]
    capacity = allocations * 1000.0 / inference_ms * thread_speedup(threads)
    docs = max(int(capacity * seconds), batch * slices)
    dest_index(es, "dest")
    task = start_reindex(es, batch, slices, max_docs=docs)
    samples = []  # (seconds, inferences so far): the steady rate leaves out ramp-up and tail
    while not (done := es.tasks.get(task_id=task)).get("completed"):
        samples.append((time.monotonic(), deployment_stats(es, "bench").get("inference_count", 0)))
        time.sleep(0.25)
    response = done["response"]
    middle = [(t, n) for t, n in samples if 0.1 * docs <= n <= 0.9 * docs]
    steady = (middle[-1][1] - middle[0][1]) / (middle[-1][0] - middle[0][0]) if len(middle) > 2 else None
    es.indices.refresh(index="dest")
    recorded = es.count(index="dest", query={"exists": {"field": "embedding_failure"}})["count"]
    rejected = deployment_stats(es, "bench").get("rejected_execution_count", 0)
    took = response["took"] / 1000
    embedded = (response.get("created") or 0) - recorded
    achieved = embedded / took if took else 0.0
    row = {
        "config": config,
        "allocations": allocations,
        "threads": threads,
        "batch_size": batch,
        "slices": slices,
        "docs": docs,
        "took_seconds": took,
        "docs_per_second": round(achieved, 1),
        "capacity_docs_per_second": round(capacity, 1),
        "utilisation": round(achieved / capacity, 3),
        "steady_utilisation": round(steady / capacity, 3) if steady else None,
        "loadavg": round(os.getloadavg()[0], 2),
        "rejected_docs": rejected,
        "failed_docs_recorded": recorded,
    }
    print(row, flush=True)
    return row


def main() -> None:
    parser = capacity_arguments(__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    info = machine()
    top = max(args.allocations) * 1000 / args.inference_ms * thread_speedup(max(args.threads))
    sandbox = capacity_sandbox(args.inference_ms)
    rows = []
    try:
        es = client(sandbox.url)
        load_corpus(es, "source", int(top * args.seconds) + 10_000)
        elser_pipeline(es, "embed", "bench")
        for allocations in args.allocations:
            for config in (*FIXED, "derived"):
                rows.append(run(es, config, allocations, 1, args.inference_ms, args.seconds))
            for threads in args.threads:
                if threads != 1:
                    rows.append(run(es, "derived", allocations, threads, args.inference_ms, args.seconds))
        es.close()
    finally:
        sandbox.stop()
    write_result(
        "utilisation",
        {
            "machine": info,
            "setup": {"inference_ms": args.inference_ms, "queue_capacity": QUEUE, "seconds": args.seconds},
            "rows": rows,
        },
    )


if __name__ == "__main__":
    main()
