"""The chaos soak (issue 15): N consecutive nights of `embedding_reindex` against the sandbox, full and
incremental in turn, the source changing before each (new documents in the night's interval,
rewrites into it and in place, deletions), one fault drawn at random from the sandbox's whole fault
set in each run, armed where it bites; every run checked (bench/chaos/checks.py), every failed run
re-run once with the same Params and no fault, and checked the same way.

The real DAG runs with dag.test() on a real metadata DB, through the real elasticsearch-py client
over HTTP (bench/common.py's `dag_job`); the DAG is parsed with a nightly schedule so that incremental
runs get their data interval as scheduled ones do. Sandbox: one ML node of 8 processors, inference
`--inference-ms` per document on one allocation, downloads of `--download-seconds`. Airflow's own
output goes to a log file named at the start.

    .venv/bin/python bench/soak.py [--runs 24] [--seed S] [--docs 200]

Prints the seed first and each run's fault and verdict as it goes, then a table; writes
bench/results/soak.json. Exit status 0 whatever the soak finds (it is a measurement).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Generator
from pathlib import Path

from chaos.checks import Fields, Verdict
from chaos.faults import KINDS, uncovered_kinds
from chaos.runner import Attempt, Soak, retry_delay
from common import ROOT, SOURCE_INDEX, dag_job, machine, write_result

VARIABLES_FILE = json.loads((ROOT / "include" / "variables.json").read_text())
ALIAS = f"{SOURCE_INDEX}-search"
# Fast polls; waits short enough that a stalled download or a stuck deployment ends a run in
# seconds (the sandbox downloads in --download-seconds and loads a model in half of that).
VARIABLES = {
    "embedding_model": {"poll_interval": "200ms", "timeout": "10s"},
    "embedding_deployment": {"poll_interval": "200ms", "wait_timeout": "10s"},
    "embedding_reindex": {"poll_interval": "200ms"},
}


def fields() -> Fields:
    pipeline = VARIABLES_FILE["embedding_pipeline"]
    return Fields(
        input=pipeline["input_field"],
        output=pipeline["output_field"],
        failure=pipeline["failure_field"],
        deployment_id=VARIABLES_FILE["embedding_deployment"]["deployment_id"],
    )


@contextlib.contextmanager
def airflow_output_to(path: Path) -> Generator[Callable[[str], None], None, None]:
    """Send everything written to the process's stdout and stderr (Airflow's logs) to `path`;
    yields a function that prints to the real stdout."""
    sys.stdout.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield lambda line: os.write(saved[0], (line + "\n").encode())
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def summarise(attempts: list[Attempt]) -> dict:
    first = [a for a in attempts if a.attempt == "run"]
    reruns = [a for a in attempts if a.attempt == "re-run"]
    total = {name: sum(getattr(a.verdict, name) for a in attempts) for name in Verdict.COUNTERS}
    kinds: dict[str, Counter] = {}
    for a in first:
        row = kinds.setdefault(a.fault.kind, Counter())
        row["drawn"] += 1
        row["fired"] += bool(a.fired)
        row["first-time successes"] += a.succeeded
    return {
        "runs": len(first),
        "full": sum(a.mode == "full" for a in first),
        "incremental": sum(a.mode == "incremental" for a in first),
        "attempts": len(attempts),
        "first_time_successes": sum(a.succeeded for a in first),
        "failures": len(reruns),
        "recoveries": sum(a.succeeded for a in reruns),
        "unclear_errors": sum(a.clear is False for a in attempts),
        "broken_promises": sum(bool(a.broken_promise) for a in attempts),
        "runs_with_violations": sum(not a.verdict.ok for a in attempts),
        **total,
        "faults": {kind: dict(row) for kind, row in sorted(kinds.items())},
    }


def table(summary: dict, seed: int, seconds: float) -> str:
    s = summary
    lines = [
        f"Soak: {s['runs']} runs ({s['full']} full, {s['incremental']} incremental), "
        f"{s['attempts']} with re-runs; seed {seed}; {seconds:.0f} s",
        "",
        f"  {'fault kind':22} {'drawn':>5} {'fired':>5} {'first-time ok':>13}",
    ]
    for kind, row in s["faults"].items():
        lines.append(
            f"  {kind:22} {row['drawn']:5d} {row.get('fired', 0):5d} {row.get('first-time successes', 0):13d}"
        )
    rows = [
        ("first-time successes", s["first_time_successes"]),
        ("failures", s["failures"]),
        ("recoveries (plain re-run completed)", s["recoveries"]),
        ("documents lost", s["lost"]),
        ("stale documents published", s["stale"]),
        ("published without embedding / with failure record", s["unembedded"]),
        ("published embeddings of an older body", s["wrong_embedding"]),
        ("deleted documents published (in the run's scope)", s["deleted_published"]),
        ("documents outside the run's scope changed (incremental)", s["out_of_scope_changed"]),
        ("alias violations", s["alias_violations"]),
        ("source documents changed by a run", s["source_changed"]),
        ("failed runs with an unclear error", s["unclear_errors"]),
        ("broken promises (docs/RELIABILITY.md)", s["broken_promises"]),
        ("seed", seed),
        ("duration (s)", round(seconds)),
    ]
    lines += ["", *(f"  {name:56} {value:>6}" for name, value in rows)]
    return "\n".join(lines)


def findings(attempts: list[Attempt], seed: int) -> list[str]:
    """Each attempt that broke a check or a promise, with what reproduces it."""
    out = []
    for a in attempts:
        if a.verdict.ok and not a.broken_promise and a.clear is not False:
            continue
        what = [*a.verdict.problems]
        if a.broken_promise:
            what.append(f"broken promise: {a.broken_promise}")
        if a.clear is False:
            what.append("the error does not name the fault")
        error = f"; error: {a.error[:400]}" if a.error else ""
        if a.inherited:
            what.append(f"(it also met {a.inherited})")
        out.append(
            f"seed {seed}, night {a.night} {a.attempt} ({a.mode}), fault: {a.fault.label}"
            f"{f' ({a.fired})' if a.fired else ''}: " + "; ".join(what) + error
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=24)
    parser.add_argument("--seed", type=int, default=None, help="default: drawn, and printed")
    parser.add_argument("--docs", type=int, default=200, help="documents in the source at the start")
    parser.add_argument("--inference-ms", type=float, default=20.0)
    parser.add_argument("--download-seconds", type=float, default=2.0)
    parser.add_argument("--retry-delay", type=float, default=1.0, help="first retry delay, seconds (DAG: 30)")
    parser.add_argument("--kinds", default=",".join(KINDS), help="fault kinds to draw from (default: all)")
    args = parser.parse_args()
    if missing := uncovered_kinds():
        raise SystemExit(f"the sandbox has fault kinds the soak does not draw: {sorted(missing)}")
    kinds = tuple(args.kinds.split(","))
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 10**6)
    info = machine()
    log_path = Path(tempfile.mkstemp(prefix="soak-airflow-", suffix=".log")[1])
    print(
        f"soak: seed {seed} (again: --seed {seed}); {args.runs} runs on {args.docs} documents; Airflow's log: {log_path}",
        flush=True,
    )
    # Parsed as a nightly deployment configures it: incremental runs get the schedule's interval.
    os.environ["EMBEDDING_REINDEX_SOURCE_INDEX"] = SOURCE_INDEX
    from tests.e2e.harness import pristine_params

    started = time.monotonic()
    with (
        airflow_output_to(log_path) as say,
        dag_job(
            args.docs, VARIABLES, inference_ms=args.inference_ms, download_seconds=args.download_seconds
        ) as job,
    ):
        pristine_params(job.dag)
        soak = Soak(
            job.dag,
            job.es,
            job.sandbox.url,
            source_index=SOURCE_INDEX,
            alias=ALIAS,
            docs=args.docs,
            fields=fields(),
            pipeline_id=VARIABLES_FILE["embedding_pipeline"]["pipeline_id"],
            seed=seed,
            say=say,
        )
        aborted = None
        with retry_delay(job.dag, args.retry_delay):
            for night in range(1, args.runs + 1):
                try:
                    soak.night(night, "full" if night % 2 else "incremental", kinds=kinds)
                except Exception as exc:  # noqa: BLE001 - the soak's own failure: report what ran
                    traceback.print_exc()  # into the log
                    aborted = f"night {night}: {type(exc).__name__}: {exc}"
                    say(f"SOAK ABORTED at {aborted} (traceback in {log_path})")
                    break
    seconds = time.monotonic() - started
    summary = summarise(soak.attempts)
    print(table(summary, seed, seconds))
    if aborted:
        print(f"\nThe soak stopped early, at {aborted}")
    found = findings(soak.attempts, seed)
    print("\nFindings (each reproduces with its seed and night):" if found else "\nNo findings.")
    for line in found:
        print(f"- {line}")
    write_result(
        "soak",
        {
            "machine": info,
            "seed": seed,
            "docs": args.docs,
            "sandbox": {"inference_ms": args.inference_ms, "download_seconds": args.download_seconds},
            "retry_delay_seconds": args.retry_delay,
            "variables": VARIABLES,
            "kinds": list(kinds),
            "duration_seconds": round(seconds, 1),
            "aborted": aborted,
            "summary": summary,
            "findings": found,
            "attempts": [a.as_json() for a in soak.attempts],
        },
    )


if __name__ == "__main__":
    main()
