"""Shared by the benchmark scripts: paths, machine facts, sandboxes, corpora, results, Airflow set-up.

Each script runs from a fresh clone with the project's venv (`.venv/bin/python bench/<name>.py`) and
writes `bench/results/<name>.json`; `bench/report.py` turns the results into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
for _path in (str(ROOT / "plugins"), str(ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from bin.airflow_local import airflow_env  # noqa: E402
from bin.sample_corpus import CORPUS, PROPERTIES  # noqa: E402
from es_sandbox import SandboxConfig, SandboxProcess  # noqa: E402

# GET _tasks/<id> is "technical preview" to the client; the benchmarks poll it on purpose.
warnings.filterwarnings("ignore", message="This API is in technical preview")

MAPPINGS = {"properties": PROPERTIES}


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024**2, 1),
        "cpu": cpu,
        "python": platform.python_version(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def write_result(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "command": " ".join([Path(sys.executable).name, *sys.argv]), **data}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {path.relative_to(ROOT)}")
    return path


def start_sandbox(**options) -> SandboxProcess:
    return SandboxProcess(SandboxConfig(**{"port": 0, **options}))


def capacity_arguments(description: str) -> argparse.ArgumentParser:
    """The options of the benchmarks that measure a deployment against its capacity (utilisation,
    backends): the cost model's time per inference, the work per run, the allocation counts."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--inference-ms", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=8.0, help="work per run at full capacity")
    parser.add_argument("--allocations", type=int, nargs="+", default=[1, 2, 4, 8])
    return parser


def capacity_sandbox(inference_ms: float) -> SandboxProcess:
    """A sandbox for those benchmarks: the given cost per inference, quick downloads, 32 ML processors
    (room for 8 allocations of 4 threads)."""
    return start_sandbox(inference_ms=inference_ms, download_seconds=0.2, ml_processors=32)


def client(url: str, timeout: float = 120):
    from elasticsearch import Elasticsearch

    return Elasticsearch(url, request_timeout=timeout)


def proc_status(pid: int, key: str) -> int:
    """A /proc/<pid>/status value in KiB (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{key}:"):
            return int(line.split()[1])
    return 0


def load_corpus(es, index: str, count: int, *, shards: int = 1, chunk: int = 5000) -> float:
    """`count` documents cycled from the sample corpus (unique ids and texts); returns the seconds it took."""
    from elasticsearch import helpers

    base = [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]
    if es.indices.exists(index=index):
        es.indices.delete(index=index)
    es.indices.create(index=index, mappings=MAPPINGS, settings={"number_of_shards": shards})
    started = time.monotonic()

    def docs():
        for i in range(count):
            doc = dict(base[i % len(base)])
            doc.pop("_id", None)
            # A text of its own: a deployment caches inference results by input (Elasticsearch's
            # cache_size defaults to the model's size), and the corpus's texts repeat every len(base).
            # In every sentence, so that each chunk semantic_text makes of a long read is its own too.
            doc["content"] = doc["content"].replace(". ", f" (copy {i}). ") + f" (copy {i})"
            yield {"_index": index, "_id": f"d{i:07d}", **doc}

    for _ok, _item in helpers.streaming_bulk(es, docs(), chunk_size=chunk, raise_on_error=True):
        pass
    es.indices.refresh(index=index)
    return time.monotonic() - started


def deploy(es, deployment_id: str, allocations: int, threads: int = 1, queue_capacity: int = 1024) -> dict:
    """Start (or restart) a deployment of ELSER and wait until it is started; returns its stats."""
    model_id = ".elser_model_2_linux-x86_64"
    try:
        es.ml.get_trained_models(model_id=model_id)
    except Exception:
        es.ml.put_trained_model(
            model_id=model_id, input={"field_names": ["text_field"]}, wait_for_completion=True
        )
    while not es.ml.get_trained_models(model_id=model_id, include="definition_status")[
        "trained_model_configs"
    ][0].get("fully_defined"):
        time.sleep(0.2)
    stats = es.ml.get_trained_models_stats()["trained_model_stats"]
    if any((s.get("deployment_stats") or {}).get("deployment_id") == deployment_id for s in stats):
        es.ml.stop_trained_model_deployment(model_id=deployment_id, force=True)
    es.ml.start_trained_model_deployment(
        model_id=model_id,
        deployment_id=deployment_id,
        number_of_allocations=allocations,
        threads_per_allocation=threads,
        queue_capacity=queue_capacity,
        wait_for="started",
    )
    return deployment_stats(es, deployment_id)


def deployment_stats(es, deployment_id: str) -> dict:
    for stats in es.ml.get_trained_models_stats(model_id=deployment_id)["trained_model_stats"]:
        if (stats.get("deployment_stats") or {}).get("deployment_id") == deployment_id:
            return stats["deployment_stats"]
    raise RuntimeError(f"deployment {deployment_id} not found")


def elser_pipeline(es, pipeline_id: str, deployment_id: str) -> None:
    from es_embedding import bodies
    from es_embedding.settings import PipelineSettings

    body = bodies.pipeline_definition(PipelineSettings(pipeline_id=pipeline_id), deployment_id)
    es.ingest.put_pipeline(
        id=pipeline_id,
        description=body["description"],
        processors=body["processors"],
        on_failure=body["on_failure"],
    )


def dest_index(es, index: str) -> None:
    if es.indices.exists(index=index):
        es.indices.delete(index=index)
    properties = {**PROPERTIES, "content_embedding": {"type": "sparse_vector"}}
    es.indices.create(index=index, mappings={"properties": properties})


def start_reindex(es, batch_size: int, slices: int, **options) -> str:
    """A reindex of "source" into "dest" through the "embed" pipeline, not waited for; its task id."""
    return es.reindex(
        source={"index": "source", "size": batch_size},
        dest={"index": "dest", "pipeline": "embed"},
        slices=slices,
        wait_for_completion=False,
        **options,
    )["task"]


def wait_task(es, task_id: str, poll: float = 0.5) -> dict:
    while True:
        resp = es.tasks.get(task_id=task_id)
        if resp.get("completed"):
            return resp
        time.sleep(poll)


def airflow_home(prefix: str = "bench-airflow-") -> Path:
    """A throw-away Airflow home (SQLite) for dag.test(); call before importing airflow."""
    home = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ.update(
        {
            **airflow_env(home),
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(ROOT), str(ROOT / "plugins"), os.environ.get("PYTHONPATH")])
            ),
        }
    )
    return home


def migrate_db() -> None:
    import subprocess

    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, stdout=subprocess.DEVNULL)


def set_airflow_env(url: str, **variables: dict) -> None:
    """Connection and Variables as environment variables, as in production."""
    os.environ["AIRFLOW_CONN_ELASTICSEARCH_DEFAULT"] = json.dumps({"conn_type": "elasticsearch", "host": url})
    for name, value in variables.items():
        os.environ[f"AIRFLOW_VAR_{name.upper()}"] = json.dumps(value)


def load_dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    return bag.get_dag("embedding_reindex")


def run_dag(dag, **conf) -> dict:
    """One dag.test() run: state, per-task states and durations, and XComs of interest."""
    from airflow.utils.session import create_session

    started = time.monotonic()
    dr = dag.test(run_conf=conf)
    wall = time.monotonic() - started
    with create_session() as session:
        tis = dr.get_task_instances(session=session)
        tasks = {ti.task_id: {"state": str(ti.state), "duration": ti.duration} for ti in tis}
        reindex = next((ti for ti in tis if ti.task_id == "wait_reindex"), None)
        result = reindex.xcom_pull(task_ids="wait_reindex", key="reindex_result") if reindex else None
    return {"state": str(dr.state), "wall_seconds": wall, "tasks": tasks, "reindex_result": result}


# The DAG benchmarks' job: `dag_job` loads the source index, the scripts run the DAG with this conf.
SOURCE_INDEX = "documents"
RUN_CONF = {"source_index": SOURCE_INDEX, "dest_index": "documents-embedded-1", "alias": "documents-search"}


def dag_variables(poll: str = "2s", **reindex) -> dict:
    """The DAG benchmarks' Variables: number_of_allocations "auto", the model and the deployment polled
    every `poll`, the reindex every 2 s; `reindex` adds to or overrides embedding_reindex."""
    return {
        "embedding_model": {"poll_interval": poll},
        "embedding_deployment": {"number_of_allocations": "auto", "poll_interval": poll},
        "embedding_reindex": {"poll_interval": "2s", **reindex},
    }


@dataclass
class DagJob:
    """What `dag_job` set up: the sandbox, a client to it, the DAG, the seconds the corpus took to load."""

    sandbox: SandboxProcess
    es: Any  # elasticsearch.Elasticsearch
    dag: Any  # the embedding_reindex DAG
    load_seconds: float


@contextlib.contextmanager
def dag_job(
    docs: int, variables: dict, *, inference_ms: float, download_seconds: float, timeout: float = 120
) -> Generator[DagJob, None, None]:
    """The set-up every DAG benchmark shares: a throw-away Airflow home and metadata DB, a sandbox with
    one ML node of 8 processors, `docs` documents in SOURCE_INDEX, the connection and `variables` in
    the environment, the DAG loaded. Closes the client when the block ends; stops the sandbox always."""
    airflow_home()
    migrate_db()
    sandbox = start_sandbox(inference_ms=inference_ms, download_seconds=download_seconds, ml_processors=8)
    try:
        es = client(sandbox.url, timeout=timeout)
        load_seconds = load_corpus(es, SOURCE_INDEX, docs)
        set_airflow_env(sandbox.url, **variables)
        yield DagJob(sandbox, es, load_dag(), load_seconds)
        es.close()
    finally:
        sandbox.stop()
