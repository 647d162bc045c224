"""Benchmark 4, DAG parse time of every file in dags/ (aim: under 100 ms each, no I/O).

Each file is parsed in a fresh Python process that has imported Airflow, as the DAG processor's
parsing process has:
- cold: the file's imports (es_embedding, the elasticsearch client) load during the parse;
- warm: the file's imports were loaded first, as Airflow does with
  [dag_processor] parsing_pre_import_modules (the default): what each parse costs in production.
During the warm parse an audit hook records file opens other than Python modules, and socket
connects: both must be zero (no I/O at parse time). Median of --repeat processes.

    .venv/bin/python bench/parse.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, airflow_home, machine, write_result

CHILD = r"""
import ast, json, os, sys, time
path = sys.argv[1]
warm = sys.argv[2] == "warm"
import airflow.sdk  # the parsing process has Airflow loaded
from airflow.dag_processing.dagbag import DagBag
if warm:
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.ImportFrom) and node.module:
            __import__(node.module)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                __import__(alias.name)
events = []
def hook(event, args):
    if event == "open" and isinstance(args[0], str) and not args[0].endswith((".py", ".pyc", ".so")) \
            and "__pycache__" not in args[0] and os.path.realpath(args[0]) != os.path.realpath(path):
        events.append(("open", args[0]))
    elif event == "socket.connect":
        events.append(("connect", str(args[1])))
sys.addaudithook(hook)
started = time.perf_counter()
bag = DagBag(dag_folder=path)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "dags": len(bag.dags), "errors": {k: str(v)[:200] for k, v in bag.import_errors.items()},
                  "io": events if warm else None}))
"""

MINIMAL = """
import pendulum
from airflow.sdk import DAG
from airflow.providers.standard.operators.empty import EmptyOperator

with DAG(dag_id="minimal", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
    EmptyOperator(task_id="only")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    info = machine()
    airflow_home()
    files = {}
    # Reference: DagBag's own cost for a one-task DAG, to read the figures against.
    minimal = Path(tempfile.mkdtemp()) / "minimal_dag.py"
    minimal.write_text(MINIMAL)
    for path in [minimal, *sorted((ROOT / "dags").glob("*.py"))]:
        row = {}
        for kind in ("cold", "warm"):
            runs = []
            for _ in range(args.repeat):
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, str(path), kind], capture_output=True, text=True, check=True
                ).stdout
                runs.append(json.loads(out.strip().splitlines()[-1]))
            row[f"{kind}_ms"] = round(statistics.median(r["seconds"] for r in runs) * 1000, 1)
            row["dags"] = runs[0]["dags"]
            row["errors"] = runs[0]["errors"]
            if kind == "warm":
                row["io_events"] = runs[0]["io"]
        files["(reference) one-task DAG" if path == minimal else str(path.relative_to(ROOT))] = row
        print(path.name, row, flush=True)
    write_result("parse", {"machine": info, "repeat": args.repeat, "files": files})


if __name__ == "__main__":
    main()
