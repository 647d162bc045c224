"""Driver of bin/demo: the main job end to end, in a real Airflow.

Starts the Elasticsearch sandbox (or uses --es-url) and `airflow standalone` (SQLite, in .airflow/),
imports the Variables from include/variables.json (with --backend semantic_text, Variable
embedding_inference set to that backend), loads the sample corpus, triggers embedding_reindex, follows
it to the end, prints its run report and the top hits of a few semantic queries (on semantic_text,
each with its best chunk), then leaves the Airflow UI running (URL and login printed) until Ctrl-C;
--exit stops instead. Whatever it started stops on Ctrl-C or on exit.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOME = ROOT / ".airflow"
VARIABLES = ROOT / "include" / "variables.json"
QUERIES = [
    "how do plants grow in the garden",
    "saving money for retirement",
    "stars, galaxies and black holes",
    "keeping network traffic secure",
    # Said only near the end of a long read: found on semantic_text (a chunk of it), not through the
    # pipeline, whose model reads the first 512 tokens of each document.
    "magnetar starquakes and giant gamma ray flares",
]
BACKENDS = ("ingest_pipeline", "semantic_text")
CREATED_BY = "bin/demo"  # in the sample index's mapping _meta: the only index the demo deletes
TERMINAL = {"success", "failed"}
TASK_DONE = {"success", "failed", "upstream_failed", "skipped", "removed"}
MARK = {
    "success": "ok",
    "failed": "FAILED",
    "upstream_failed": "not run (upstream failed)",
    "skipped": "skipped",
}


def say(text: str) -> None:
    print(text, flush=True)


def load_corpus(es, index: str) -> int:
    from sample_corpus import create_sample_index

    if es.indices.exists(index=index):
        mappings = next(iter(es.indices.get_mapping(index=index).values()))["mappings"]
        if (mappings.get("_meta") or {}).get("created_by") != CREATED_BY:
            # Never delete what the demo did not make (--es-url may point at a real cluster).
            raise SystemExit(
                f"index [{index}] exists and was not created by bin/demo: choose another --index"
            )
        es.indices.delete(index=index)
    return create_sample_index(es, index, meta={"created_by": CREATED_BY})


def reindex_progress(es) -> str | None:
    """created/total of the running reindex, from the tasks API (what the wait_reindex sensor logs)."""
    try:
        nodes = es.tasks.list(actions="*reindex", detailed=True)["nodes"]
    except Exception:  # progress is a nicety; the run's state comes from Airflow
        return None
    for node in nodes.values():
        for task in node["tasks"].values():
            status = task.get("status") or {}
            if not task.get("parent_task_id") and status.get("total"):
                done = sum(status.get(k) or 0 for k in ("created", "updated", "noops", "version_conflicts"))
                return f"{done}/{status['total']} documents"
    return None


def follow(api, es, run_id: str, timeout: float) -> str:
    """Print each task as it ends (and reindex progress while it runs); the run's final state."""
    from airflow_local import DAG_ID

    started, seen, last_progress = time.monotonic(), {}, None
    while time.monotonic() - started < timeout:
        tis = api.get(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances").json()["task_instances"]
        for ti in sorted(tis, key=lambda t: t.get("start_date") or "9"):
            state = ti.get("state")
            if state in TASK_DONE and seen.get(ti["task_id"]) != state:
                seen[ti["task_id"]] = state
                took = f"{ti['duration']:.1f} s" if ti.get("duration") is not None else ""
                say(f"   {ti['task_id']:<22} {MARK.get(state, state):<10} {took}")
            elif state == "deferred" and seen.get(ti["task_id"]) != state:
                seen[ti["task_id"]] = state
                say(f"   {ti['task_id']:<22} waiting (deferred to the triggerer)")
        if seen.get("wait_reindex") == "deferred" and (progress := reindex_progress(es)) != last_progress:
            if progress:
                say(f"   {'':<22} reindex: {progress}")
            last_progress = progress
        state = api.get(f"/dags/{DAG_ID}/dagRuns/{run_id}").json()["state"]
        if state in TERMINAL and all(ti.get("state") in TASK_DONE for ti in tis):
            return state
        time.sleep(1)
    raise TimeoutError(f"embedding_reindex run {run_id} did not finish in {timeout:.0f} s")


def run_report(api, run_id: str) -> str | None:
    from airflow_local import DAG_ID
    from es_embedding.report.summary import render

    resp = api.get(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/run_report/xcomEntries/return_value")
    if resp.status_code != 200:
        return None
    value = resp.json()["value"]
    return render(json.loads(value) if isinstance(value, str) else value)


def excerpt(chunk: str, query: str, width: int = 140) -> str:
    """About `width` characters of a chunk, from the sentence where a word of the query first appears
    (a chunk is up to 250 words: its start may say nothing of what matched)."""
    text = " ".join(chunk.split())
    words = [w for w in re.findall(r"\w+", query.lower()) if len(w) > 3]
    found = [i for w in words if (i := text.lower().find(w)) >= 0]
    cut = text.rfind(". ", 0, min(found)) if found else -1
    start = cut + 2 if cut >= 0 else 0
    piece = text[start : start + width]
    return ("... " if start else "") + piece + (" ..." if start + width < len(text) else "")


def show_hits(es, alias: str, output_field: str, model_ref: str, semantic_text: bool) -> None:
    """The top hits of each query; on semantic_text with the best chunk (semantic highlighting)."""
    from es_embedding import bodies

    field_type = "semantic_text" if semantic_text else "sparse_vector"
    best_chunk = {"fields": {output_field: {"type": "semantic", "number_of_fragments": 1, "order": "score"}}}
    for text in QUERIES:
        resp = es.search(
            index=alias,
            size=3,
            source=["title", "topic"],
            **bodies.sample_search(field_type, output_field, text, model_ref),
            **({"highlight": best_chunk} if semantic_text else {}),
        )
        say(f"\n  query: {text!r}")
        for hit in resp["hits"]["hits"]:
            src = hit["_source"]
            say(f"    {hit['_score']:7.2f}  [{src.get('topic')}] {src.get('title')}")
            for chunk in (hit.get("highlight") or {}).get(output_field, []):
                say(f"             best chunk: {excerpt(chunk, text)}")


def interrupted(signum, frame):
    raise KeyboardInterrupt


def main() -> int:
    p = argparse.ArgumentParser(
        prog="bin/demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--exit", action="store_true", help="stop everything after the run instead of leaving the UI up"
    )
    p.add_argument(
        "--es-url",
        help="an Elasticsearch URL instead of the sandbox (API key: environment variable ES_API_KEY)",
    )
    p.add_argument("--index", default="articles", help="source index to create from the sample corpus")
    p.add_argument("--alias", default="articles-embedded")
    p.add_argument("--port", type=int, default=8080, help="Airflow UI port (another free one if taken)")
    p.add_argument("--timeout", type=float, default=900, help="seconds to wait for the run")
    p.add_argument(
        "--backend",
        choices=BACKENDS,
        default="ingest_pipeline",
        help="how the documents are embedded (Variable embedding_inference.backend): an ingest pipeline "
        "(default), or an inference endpoint and a semantic_text field that chunks long documents",
    )
    args = p.parse_args()

    # Ctrl-C, and a plain kill, stop everything below through the finally clause.
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored

    from elasticsearch import Elasticsearch

    from airflow_local import DAG_ID, AirflowStandalone, wait_for_dag
    from es_embedding.hooks import quiet_technical_preview_warnings
    from es_sandbox import SandboxConfig, SandboxProcess

    quiet_technical_preview_warnings(rf"{re.escape(__name__)}\Z")  # reindex_progress's tasks API calls

    # Importing Airflow routes library logs to the console: keep the client's request lines out.
    logging.getLogger("elastic_transport").setLevel(logging.WARNING)
    HOME.mkdir(exist_ok=True)
    sandbox = standalone = None
    try:
        if args.es_url is None:
            sandbox = SandboxProcess(SandboxConfig(port=0), log_path=HOME / "es_sandbox.log")
            say(f"==> es_sandbox (Elasticsearch-compatible) running at {sandbox.url}")
        url = args.es_url or sandbox.url
        # A real cluster's API key from the environment (never an argument: `ps` shows those).
        api_key = os.environ.get("ES_API_KEY") if args.es_url else None
        es = Elasticsearch(url, request_timeout=60, api_key=api_key)
        conn = {
            "conn_type": "elasticsearch",
            "host": url,
            **({"extra": {"api_key": api_key}} if api_key else {}),
        }
        say(f"==> loaded {load_corpus(es, args.index)} documents into [{args.index}]")

        standalone = AirflowStandalone(HOME, conn, port=args.port)
        say(f"==> starting airflow standalone in {HOME} (log: {standalone.log_path}) ...")
        started = time.monotonic()
        standalone.start()
        say(f"==> Airflow is up at {standalone.url} ({time.monotonic() - started:.0f} s)")
        imported = standalone.airflow(
            "variables", "import", "--action-on-existing-key", "overwrite", str(VARIABLES),
            capture_output=True, text=True,
        )  # fmt: skip
        if imported.returncode != 0:
            raise RuntimeError(f"airflow variables import failed:\n{imported.stdout}{imported.stderr}")
        say(f"==> imported the Variables from {VARIABLES.relative_to(ROOT)}")
        if args.backend != "ingest_pipeline":
            inference = json.dumps(
                {**json.loads(VARIABLES.read_text())["embedding_inference"], "backend": args.backend}
            )
            chosen = standalone.airflow(
                "variables", "set", "embedding_inference", inference, capture_output=True, text=True
            )
            if chosen.returncode != 0:
                raise RuntimeError(f"airflow variables set failed:\n{chosen.stdout}{chosen.stderr}")
            say(f"==> Variable embedding_inference = {inference}")

        api = standalone.api()
        wait_for_dag(api)
        api.patch(f"/dags/{DAG_ID}", json={"is_paused": False}).raise_for_status()
        conf = {"source_index": args.index, "alias": args.alias}
        resp = api.post(f"/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": conf})
        resp.raise_for_status()
        run_id = resp.json()["dag_run_id"]
        say(f"==> triggered {DAG_ID} ({run_id}) with {json.dumps(conf)}")
        state = follow(api, es, run_id, args.timeout)
        say(f"==> {DAG_ID} finished: {state}\n")
        report = run_report(api, run_id)
        say(report or "(no run report: see the run_report task's log in the UI)")
        if state == "success":
            defaults = json.loads(VARIABLES.read_text())
            show_hits(
                es,
                args.alias,
                defaults["embedding_pipeline"]["output_field"],
                defaults["embedding_deployment"]["deployment_id"],
                semantic_text=args.backend == "semantic_text",
            )
        say(
            f"\n==> Airflow UI: {standalone.url}/dags/{DAG_ID}/runs/{run_id}  "
            f"(login: {standalone.username} / {standalone.password})"
        )
        if args.exit:
            return 0 if state == "success" else 1
        say("==> the UI stays up; Ctrl-C stops Airflow and the sandbox")
        while standalone.proc.poll() is None:
            time.sleep(1)
        say(f"airflow standalone exited ({standalone.proc.returncode}); see {standalone.log_path}")
        return 1
    except KeyboardInterrupt:
        say("\n==> stopping")
        return 130
    finally:
        if standalone is not None:
            standalone.stop()
        if sandbox is not None:
            sandbox.stop()
        if standalone is not None or sandbox is not None:
            say("==> stopped airflow standalone and the sandbox")


if __name__ == "__main__":
    sys.path[:0] = [str(ROOT / "bin"), str(ROOT), str(ROOT / "plugins")]
    sys.exit(main())
