"""Benchmark 3, waiting costs nothing: worker slot-seconds used by the wait tasks (model download,
deployment, reindex) with the sensors deferrable (the default) against poke mode.

A worker slot is held while a task's code runs in the worker: `execute` (until it defers, or the
whole poke loop) and `execute_complete` after the trigger fired. Both are timed around the real
methods of every sensor in the DAG (nothing else is changed); the time a deferred task spends in
the trigger is reported apart (the triggerer's, shared by all waits, not a worker slot). Runs use
dag.test(), which runs triggers in-process, on a 20,000-document job (sandbox --inference-ms 10,
8 allocations, a 3 s download), poll interval 2 s.

    .venv/bin/python bench/waiting.py [--docs 20000]
"""

from __future__ import annotations

import argparse
import functools
import json
import subprocess
import sys
import time
from collections import defaultdict

from common import SOURCE_INDEX, dag_job, dag_variables, machine, run_dag, write_result

VARIABLES = dag_variables()
SLOT: dict[str, float] = defaultdict(float)


def timed(method):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):  # marked below: Airflow's own execute wrapper has __wrapped__ too
        started = time.monotonic()
        try:
            return method(self, *args, **kwargs)
        finally:
            SLOT[self.task_id] += time.monotonic() - started

    wrapper.bench_timed = True
    return wrapper


def measure(mode: str, docs: int) -> dict:
    """One run in this process (a fresh process per mode: Airflow caches connections in-process)."""
    with dag_job(docs, VARIABLES, inference_ms=10.0, download_seconds=3.0) as job:
        sensors = [t for t in job.dag.tasks if hasattr(t, "deferrable") and hasattr(t, "poke")]
        for cls in {type(t) for t in sensors}:
            for name in ("execute", "execute_complete"):
                if not getattr(getattr(cls, name), "bench_timed", False):
                    setattr(cls, name, timed(getattr(cls, name)))
        for task in sensors:
            task.deferrable = mode == "deferrable"
        run = run_dag(
            job.dag, source_index=SOURCE_INDEX, dest_index=f"documents-{mode}", alias=f"search-{mode}"
        )
    waits = {
        t.task_id: {
            "task_seconds": round(run["tasks"][t.task_id]["duration"] or 0, 2),
            "worker_slot_seconds": round(SLOT[t.task_id], 3),
        }
        for t in sensors
    }
    return {
        "state": run["state"],
        "dag_wall_seconds": round(run["wall_seconds"], 2),
        "waits": waits,
        "worker_slot_seconds": round(sum(w["worker_slot_seconds"] for w in waits.values()), 3),
        "wait_seconds": round(sum(w["task_seconds"] for w in waits.values()), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--mode", choices=["deferrable", "poke"], help="(internal) measure one mode")
    args = parser.parse_args()
    if args.mode:
        print("RESULT " + json.dumps(measure(args.mode, args.docs)), flush=True)
        return
    info = machine()
    results = {}
    for mode in ("deferrable", "poke"):
        out = subprocess.run(
            [sys.executable, __file__, "--mode", mode, "--docs", str(args.docs)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        results[mode] = json.loads(next(line for line in out.splitlines() if line.startswith("RESULT "))[7:])
        print(mode, results[mode], flush=True)
    write_result("waiting", {"machine": info, "docs": args.docs, "variables": VARIABLES, "modes": results})


if __name__ == "__main__":
    main()
