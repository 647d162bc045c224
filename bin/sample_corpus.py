"""The sample corpus (include/sample_corpus.jsonl: 125 articles on ten topics, with `_id`, title,
topic, published date, `@timestamp` and content: 120 short notes, and five long reads of 550-660
words, longer than ELSER or E5 read at once (512 tokens), each saying something only near its end)
put into a new index with the mapping of include/sample_corpus_mapping.json: what the demo embeds
and the end-to-end tests run on. The Docker stack's loader (es-sample-data in docker-compose.yaml)
reads the same two files."""

from __future__ import annotations

import json
from pathlib import Path

INCLUDE = Path(__file__).resolve().parents[1] / "include"
CORPUS = INCLUDE / "sample_corpus.jsonl"
# `@timestamp` (equal to `published`) is the field the default Variables name for incremental runs.
PROPERTIES = json.loads((INCLUDE / "sample_corpus_mapping.json").read_text())["properties"]


def create_sample_index(es, index: str, *, limit: int | None = None, meta: dict | None = None) -> int:
    """Create `index` (its mapping's `_meta` is `meta`) and bulk-load the first `limit` documents
    (all by default), refreshed; returns how many were indexed."""
    from elasticsearch import helpers

    mappings = {"properties": PROPERTIES, **({"_meta": meta} if meta else {})}
    es.indices.create(index=index, mappings=mappings)
    with CORPUS.open() as lines:
        docs = [json.loads(line) for line in lines if line.strip()][:limit]
    indexed, _ = helpers.bulk(es, ({"_index": index, **doc} for doc in docs), refresh=True)
    return indexed
