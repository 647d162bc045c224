"""Helpers of the end-to-end tests: connection and Variables as Airflow reads them in production
(environment), the sample corpus, and the result of one DAG run."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "include" / "sample_corpus.jsonl"
SOURCE_INDEX = "articles"
ALIAS = "articles-embedded"


@dataclass
class RunResult:
    state: str
    task_states: dict[str, str]
    run_id: str

    @property
    def failed_tasks(self) -> list[str]:
        return sorted(t for t, s in self.task_states.items() if s == "failed")


def connect(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """Point the elasticsearch_default connection at `url` (an environment connection, as in prod)."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_ELASTICSEARCH_DEFAULT", json.dumps({"conn_type": "elasticsearch", "host": url})
    )


def set_variables(monkeypatch: pytest.MonkeyPatch, **variables: dict) -> None:
    """Airflow Variables as environment variables (AIRFLOW_VAR_<NAME>, JSON)."""
    for name, value in variables.items():
        monkeypatch.setenv(f"AIRFLOW_VAR_{name.upper()}", json.dumps(value))


def load_corpus(es, index: str = SOURCE_INDEX, limit: int | None = None) -> int:
    from elasticsearch import helpers

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
        docs = [json.loads(line) for line in lines][:limit]
    ok, _ = helpers.bulk(es, ({"_index": index, **d} for d in docs), refresh=True)
    return ok
