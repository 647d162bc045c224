"""Run by test_es8_client.py with the interpreter that has the `elasticsearch8` client (it cannot share a
virtual environment with elasticsearch 9). Drives a sandbox the way an 8.x application would and prints
one JSON object with what it saw; exits non-zero on any surprise.

    python es8_client_check.py <url>
"""

from __future__ import annotations

import json
import sys

from elasticsearch8 import Elasticsearch, NotFoundError


def main(url: str) -> None:
    es = Elasticsearch(url, request_timeout=30)
    info = es.info()
    es.indices.create(
        index="es8-docs",
        mappings={"properties": {"title": {"type": "text"}, "tokens": {"type": "sparse_vector"}}},
    )
    bulk = es.bulk(
        operations=[
            {"index": {"_index": "es8-docs", "_id": "1"}},
            {"title": "hello from the eight client", "tokens": {"hi": 1.0}},
            {"index": {"_index": "es8-docs", "_id": "2"}},
            {"title": "another document", "tokens": {"yo": 2.0}},
        ],
        refresh=True,
    )
    hits = es.search(index="es8-docs", query={"match": {"title": "hello"}})["hits"]
    sparse = es.search(
        index="es8-docs", query={"sparse_vector": {"field": "tokens", "query_vector": {"yo": 1.0}}}
    )
    try:
        es.get(index="es8-docs", id="missing")
        missing = "found"
    except NotFoundError as err:
        missing = err.meta.status
    print(
        json.dumps(
            {
                "version": info["version"]["number"],
                "product": info.meta.headers.get("x-elastic-product"),
                "bulk_errors": bulk["errors"],
                "bulk_statuses": [item["index"]["status"] for item in bulk["items"]],
                "hit_ids": [h["_id"] for h in hits["hits"]],
                "total": hits["total"],
                "sparse_top": sparse["hits"]["hits"][0]["_id"],
                "missing": missing,
                "client": __import__("elasticsearch8").__versionstr__,
            }
        )
    )
    es.indices.delete(index="es8-docs")


if __name__ == "__main__":
    main(sys.argv[1])
