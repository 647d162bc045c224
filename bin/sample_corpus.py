"""The sample corpus (include/sample_corpus.jsonl: 120 articles on four topics, with `_id`, title,
topic, published date and content) put into a new index: what the demo embeds and the end-to-end
tests run on."""

from __future__ import annotations

import json
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1] / "include" / "sample_corpus.jsonl"
PROPERTIES = {
    "title": {"type": "text"},
    "topic": {"type": "keyword"},
    "published": {"type": "date"},
    "content": {"type": "text"},
}


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
