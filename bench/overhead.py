"""Benchmark 2, orchestration overhead: the DAG's wall time (dag.test() on a SQLite metadata DB, the
real operators, sensors and triggers over HTTP) minus the sandbox's own time for the model download,
the deployment start and the reindex, on a 100,000-document job.

Sandbox: one ML node of 8 processors, --inference-ms 10 (the default latency model), a 2 s download.
Variables: number_of_allocations "auto" (8 allocations x 1 thread), derived batch size and slices,
poll intervals 1 s (model, deployment) and 2 s (reindex). A warm-up run on 200 documents first
(dag.test()'s own start-up, and the model download); the measured run then finds the model
downloaded. The sandbox's own times: the deployment from its start_time to the route's start_time
(read while the run goes on), the reindex from its task's `took`.

With --backend semantic_text the same job runs on that backend (Variable embedding_inference): the
endpoint's deployment (named after it) is the deployment watched, and the result is written as
bench/results/overhead_semantic_text.json.

    .venv/bin/python bench/overhead.py [--docs 100000] [--backend ingest_pipeline|semantic_text]
"""

from __future__ import annotations

import argparse
import threading
import time

from common import RUN_CONF, dag_job, dag_variables, load_corpus, machine, run_dag, write_result

DOWNLOAD_SECONDS = 2.0
VARIABLES = dag_variables(poll="1s")


def watch_deployment(es, found: dict) -> None:
    """The sandbox's own deployment start time (deployment start_time to its route's start_time),
    read while the run goes on: the DAG may stop the deployment at its end."""
    while not found.get("stop"):
        for stats in es.ml.get_trained_models_stats()["trained_model_stats"]:
            deployment = stats.get("deployment_stats") or {}
            routes = [n for n in deployment.get("nodes") or [] if n.get("start_time")]
            fresh = (deployment.get("start_time") or 0) >= found["since_ms"]
            if routes and fresh and "seconds" not in found:
                found["seconds"] = (max(n["start_time"] for n in routes) - deployment["start_time"]) / 1000
                found["allocations"] = deployment.get("number_of_allocations")
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--backend", choices=("ingest_pipeline", "semantic_text"), default="ingest_pipeline")
    args = parser.parse_args()
    info = machine()
    variables = {**VARIABLES, "embedding_inference": {"backend": args.backend}}
    with dag_job(args.docs, variables, inference_ms=10.0, download_seconds=DOWNLOAD_SECONDS) as job:
        es, dag = job.es, job.dag
        # dag.test() starts its in-process execution API on the first task of the process (about
        # 10 s here): a warm-up run on a small index keeps that harness cost out of the figure.
        load_corpus(es, "warmup", 200)
        warm = run_dag(dag, source_index="warmup", dest_index="warmup-embedded-1", alias="warmup-search")
        started = {"since_ms": time.time() * 1000}
        watcher = threading.Thread(target=watch_deployment, args=(es, started), daemon=True)
        watcher.start()
        run = run_dag(dag, **RUN_CONF)
        started["stop"] = True
        deploy_seconds = started.get("seconds", 0.0)
        # The model was downloaded by the warm-up run: this run's download wait is zero.
        download = 0.0
        reindex_seconds = (run["reindex_result"] or {}).get("took", 0) / 1000
        cluster_seconds = download + deploy_seconds + reindex_seconds
        overhead = run["wall_seconds"] - cluster_seconds
        result = {
            "backend": args.backend,
            "docs": args.docs,
            "state": run["state"],
            "dag_wall_seconds": round(run["wall_seconds"], 2),
            "warmup_wall_seconds": round(warm["wall_seconds"], 2),
            "download_seconds": download,
            "deployment_start_seconds": round(deploy_seconds, 3),
            "reindex_took_seconds": reindex_seconds,
            "allocations": started.get("allocations"),
            "overhead_seconds": round(overhead, 2),
            "overhead_share": round(overhead / run["wall_seconds"], 4),
            "tasks": run["tasks"],
        }
        print(result, flush=True)
    name = "overhead" if args.backend == "ingest_pipeline" else f"overhead_{args.backend}"
    write_result(name, {"machine": info, "variables": variables, "result": result})


if __name__ == "__main__":
    main()
