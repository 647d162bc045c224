"""Benchmark 6, scale: a large job through the DAG (dag.test(): every task of the DAG runs in this
process, triggers included) with the process's memory sampled every 0.5 s; flat memory means the
DAG's resident set does not grow with the number of documents. The sandbox's peak memory (its
VmHWM) is reported apart: the sandbox holds every document in memory by design.

    .venv/bin/python bench/scale.py [--docs 1000000] [--inference-ms 0]
"""

from __future__ import annotations

import argparse
import os
import threading
import time

from common import RUN_CONF, dag_job, dag_variables, machine, proc_status, run_dag, write_result

VARIABLES = dag_variables(poll_interval="5s", timeout="2h")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--inference-ms", type=float, default=0.0)
    args = parser.parse_args()
    info = machine()
    samples: list[tuple[float, int]] = []
    with dag_job(
        args.docs, VARIABLES, inference_ms=args.inference_ms, download_seconds=1.0, timeout=600
    ) as job:
        stop = threading.Event()
        started = time.monotonic()

        def sample() -> None:
            while not stop.is_set():
                samples.append((time.monotonic() - started, proc_status(os.getpid(), "VmRSS")))
                stop.wait(0.5)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        run = run_dag(job.dag, **RUN_CONF)
        stop.set()
        sampler.join()
        sandbox_peak = proc_status(job.sandbox.proc.pid, "VmHWM")
    rss = [kib for _, kib in samples]
    quarter = max(1, len(rss) // 4)
    result = {
        "docs": args.docs,
        "inference_ms": args.inference_ms,
        "state": run["state"],
        "load_seconds": round(job.load_seconds, 1),
        "dag_wall_seconds": round(run["wall_seconds"], 1),
        "reindex_took_seconds": (run["reindex_result"] or {}).get("took", 0) / 1000,
        "dag_process_rss_mib": {
            "first_quarter_max": round(max(rss[:quarter]) / 1024, 1),
            "last_quarter_max": round(max(rss[-quarter:]) / 1024, 1),
            "max": round(max(rss) / 1024, 1),
            "peak_vmhwm": round(proc_status(os.getpid(), "VmHWM") / 1024, 1),
        },
        "sandbox_peak_rss_mib": round(sandbox_peak / 1024, 1),
        "rss_samples_mib": [
            [round(t, 1), round(k / 1024, 1)] for t, k in samples[:: max(1, len(samples) // 60)]
        ],
    }
    print({k: v for k, v in result.items() if k != "rss_samples_mib"})
    write_result("scale", {"machine": info, "variables": VARIABLES, "result": result})


if __name__ == "__main__":
    main()
