"""How long a 100,000-document reindex through an ELSER inference pipeline takes in the sandbox, and
the sandbox's peak memory (VmHWM of its process).

Runs once with --inference-ms 0 (the sandbox's own cost) and once with the default latency model
(`python -m es_sandbox --help`: --inference-ms default), each on a fresh sandbox with one ML node,
8 allocations x 1 thread, queue_capacity 10000, batch size 1000 and 2 slices.

    .venv/bin/python bench/sandbox_reindex.py [--docs 100000] [--inference-ms 0 10]
"""

from __future__ import annotations

import argparse
import time

from common import (
    client,
    deploy,
    deployment_stats,
    dest_index,
    elser_pipeline,
    load_corpus,
    machine,
    proc_status,
    start_reindex,
    start_sandbox,
    wait_task,
    write_result,
)

from es_sandbox import SandboxConfig

ALLOCATIONS, BATCH, SLICES = 8, 1000, 2


def one(docs: int, inference_ms: float) -> dict:
    sandbox = start_sandbox(inference_ms=inference_ms, download_seconds=0.5)
    try:
        es = client(sandbox.url)
        load_seconds = load_corpus(es, "source", docs)
        deploy(es, "elser", ALLOCATIONS, queue_capacity=10_000)
        elser_pipeline(es, "embed", "elser")
        dest_index(es, "dest")
        rss_before = proc_status(sandbox.proc.pid, "VmRSS")
        started = time.monotonic()
        done = wait_task(es, start_reindex(es, BATCH, SLICES), poll=0.25)
        wall = time.monotonic() - started
        response = done["response"]
        stats = deployment_stats(es, "elser")
        failures = len(response.get("failures") or [])
        es.indices.refresh(index="dest")
        embedded = es.count(index="dest", query={"exists": {"field": "content_embedding"}})["count"]
        result = {
            "docs": docs,
            "inference_ms": inference_ms,
            "load_seconds": round(load_seconds, 1),
            "reindex_took_seconds": response["took"] / 1000,
            "reindex_wall_seconds": round(wall, 2),
            "docs_per_second": round(docs / (response["took"] / 1000), 1),
            "created": response.get("created"),
            "embedded": embedded,
            "failures": failures,
            "rejected_execution_count": stats.get("rejected_execution_count", 0),
            "sandbox_rss_before_reindex_mib": round(rss_before / 1024, 1),
            "sandbox_peak_rss_mib": round(proc_status(sandbox.proc.pid, "VmHWM") / 1024, 1),
        }
        es.close()
        print(result, flush=True)
        return result
    finally:
        sandbox.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--inference-ms", type=float, nargs="+", default=[0.0, SandboxConfig.inference_ms])
    args = parser.parse_args()
    info = machine()
    runs = [one(args.docs, ms) for ms in args.inference_ms]
    write_result(
        "sandbox_reindex",
        {
            "machine": info,
            "setup": {"allocations": ALLOCATIONS, "threads": 1, "batch_size": BATCH, "slices": SLICES},
            "runs": runs,
        },
    )


if __name__ == "__main__":
    main()
