"""Benchmark 5, requests to Elasticsearch per run, by endpoint: one dag.test() run of the DAG on a
20,000-document job (sandbox --inference-ms 10, 8 allocations, poll intervals 2 s), every request of
the operators (sync client) and the triggers (async client) counted at the transport, with the
run's names replaced by placeholders.

    .venv/bin/python bench/requests_per_run.py [--docs 20000]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

from common import (
    airflow_home,
    client,
    load_corpus,
    load_dag,
    machine,
    migrate_db,
    run_dag,
    set_airflow_env,
    start_sandbox,
    write_result,
)

VARIABLES = {
    "embedding_model": {"poll_interval": "2s"},
    "embedding_deployment": {"number_of_allocations": "auto", "poll_interval": "2s"},
    "embedding_reindex": {"poll_interval": "2s"},
}
COUNTS: Counter[str] = Counter()
NAMES = [
    (re.compile(r"/_tasks/[^/?]+"), "/_tasks/{task}"),
    (re.compile(r"\.elser_model_2(_linux-x86_64)?"), "{model}"),
    (re.compile(r"elser-ingest"), "{deployment}"),
    (re.compile(r"es-embedding"), "{pipeline}"),
    (re.compile(r"documents-embedded-1"), "{dest}"),
    (re.compile(r"documents-search"), "{alias}"),
    (re.compile(r"/documents(?=[/,]|$)"), "/{source}"),
]


def endpoint(method: str, target: str) -> str:
    path = target.split("?", 1)[0]
    for pattern, placeholder in NAMES:
        path = pattern.sub(placeholder, path)
    return f"{method} {path}"


def count_requests() -> None:
    from elastic_transport import AsyncTransport, Transport

    sync, asyn = Transport.perform_request, AsyncTransport.perform_request

    def counted(self, method, target, **kwargs):
        COUNTS[endpoint(method, target)] += 1
        return sync(self, method, target, **kwargs)

    async def counted_async(self, method, target, **kwargs):
        COUNTS[endpoint(method, target)] += 1
        return await asyn(self, method, target, **kwargs)

    Transport.perform_request = counted
    AsyncTransport.perform_request = counted_async


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20_000)
    args = parser.parse_args()
    info = machine()
    airflow_home()
    migrate_db()
    sandbox = start_sandbox(inference_ms=10.0, download_seconds=3.0, ml_processors=8)
    try:
        es = client(sandbox.url)
        load_corpus(es, "documents", args.docs)
        set_airflow_env(sandbox.url, **VARIABLES)
        dag = load_dag()
        count_requests()  # after the set-up: only the DAG's own requests count
        run = run_dag(
            dag, source_index="documents", dest_index="documents-embedded-1", alias="documents-search"
        )
        counts = dict(COUNTS.most_common())
        es.close()
    finally:
        sandbox.stop()
    result = {
        "docs": args.docs,
        "state": run["state"],
        "dag_wall_seconds": round(run["wall_seconds"], 2),
        "total_requests": sum(counts.values()),
        "by_endpoint": counts,
    }
    print(result)
    write_result("requests_per_run", {"machine": info, "variables": VARIABLES, "result": result})


if __name__ == "__main__":
    main()
