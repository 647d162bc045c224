"""Driver of bin/demo: sandbox (or a given cluster) -> sample corpus -> embedding_reindex -> queries."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "include" / "sample_corpus.jsonl"
QUERIES = [
    "how do plants grow in the garden",
    "saving money for retirement",
    "stars, galaxies and black holes",
    "keeping network traffic secure",
]


def airflow_env(es_url: str, home: Path) -> dict[str, str]:
    conn = {"conn_type": "elasticsearch", "host": es_url}
    return {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW_CONN_ELASTICSEARCH_DEFAULT": json.dumps(conn),
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "plugins")]),
    }


def load_corpus(es, index: str) -> int:
    from elasticsearch import helpers

    if es.indices.exists(index=index):
        es.indices.delete(index=index)
    es.indices.create(
        index=index,
        mappings={
            "properties": {
                "title": {"type": "text"},
                "topic": {"type": "keyword"},
                "published": {"type": "date"},
                "content": {"type": "text"},
            }
        },
    )
    with CORPUS.open() as lines:
        actions = ({"_index": index, **json.loads(line)} for line in lines)
        ok, _ = helpers.bulk(es, actions, refresh=True)
    return ok


def run_dag(env: dict[str, str], conf: dict) -> None:
    airflow = [sys.executable, "-m", "airflow"]
    subprocess.run([*airflow, "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(
        [*airflow, "dags", "test", "embedding_reindex", "-c", json.dumps(conf)], env=env, check=True
    )


def show_hits(es, alias: str, output_field: str, inference_id: str) -> None:
    for text in QUERIES:
        resp = es.search(
            index=alias,
            size=3,
            query={"sparse_vector": {"field": output_field, "inference_id": inference_id, "query": text}},
            source=["title", "content"],
        )
        print(f"\nquery: {text!r}")
        for hit in resp["hits"]["hits"]:
            print(f"  {hit['_score']:8.2f}  {hit['_source']['title']}: {hit['_source']['content'][:70]}...")


def main() -> int:
    p = argparse.ArgumentParser(prog="bin/demo", description=__doc__)
    p.add_argument("--es-url", help="an Elasticsearch URL to use instead of starting the sandbox")
    p.add_argument("--index", default="articles", help="source index to create from the sample corpus")
    p.add_argument("--alias", default="articles-embedded")
    args = p.parse_args()

    from elasticsearch import Elasticsearch

    from es_sandbox import SandboxProcess
    from es_sandbox.config import SandboxConfig

    sandbox = None
    if args.es_url is None:
        sandbox = SandboxProcess(SandboxConfig(port=0), log_path=ROOT / ".airflow" / "es_sandbox.log")
        print(f"==> es_sandbox running at {sandbox.url}")
    url = args.es_url or sandbox.url
    try:
        es = Elasticsearch(url, request_timeout=60)
        print(f"==> loaded {load_corpus(es, args.index)} documents into [{args.index}]")
        started = time.monotonic()
        run_dag(airflow_env(url, ROOT / ".airflow"), {"source_index": args.index, "alias": args.alias})
        print(f"==> embedding_reindex finished in {time.monotonic() - started:.1f} s")
        show_hits(es, args.alias, "content_embedding", "elser-ingest")
    finally:
        if sandbox:
            sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]
    (ROOT / ".airflow").mkdir(exist_ok=True)
    sys.exit(main())
