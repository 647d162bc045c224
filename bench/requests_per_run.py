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

from common import RUN_CONF, dag_job, dag_variables, machine, run_dag, write_result

VARIABLES = dag_variables()
COUNTS: Counter[str] = Counter()
NAMES = [
    (re.compile(r"/_tasks/[^/?]+"), "/_tasks/{task}"),
    (re.compile(r"\.elser_model_2(_linux-x86_64)?"), "{model}"),
    (re.compile(r"elser-ingest"), "{deployment}"),
    (re.compile(r"es-embedding"), "{pipeline}"),
    (re.compile(re.escape(RUN_CONF["dest_index"])), "{dest}"),
    (re.compile(re.escape(RUN_CONF["alias"])), "{alias}"),
    (re.compile(rf"/{re.escape(RUN_CONF['source_index'])}(?=[/,]|$)"), "/{source}"),
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
    with dag_job(args.docs, VARIABLES, inference_ms=10.0, download_seconds=3.0) as job:
        count_requests()  # after the set-up: only the DAG's own requests count
        run = run_dag(job.dag, **RUN_CONF)
        counts = dict(COUNTS.most_common())
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
