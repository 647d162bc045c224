"""Verification, `verify_embeddings`: the destination holds every document of the source query, each
with its embedding, and a semantic query finds documents; only then may the alias move."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from es_embedding import bodies
from es_embedding.base import EsStage
from es_embedding.errors import VerificationError
from es_embedding.settings import PipelineSettings, ReindexSettings


class VerifyEmbeddingsOperator(EsStage):
    """`verify_embeddings`: the destination holds every document of the source query, each with its embedding,
    and a sample semantic query finds documents. Fails with the numbers otherwise."""

    template_fields: Sequence[str] = (
        *EsStage.template_fields,
        "source_index",
        "dest_index",
        "query",
        "deployment_id",
        "dest_query",
    )

    def __init__(
        self,
        *,
        source_index: str,
        dest_index: str,
        deployment_id: str,
        query: dict | str | None = None,
        dest_query: dict | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source_index = source_index
        self.dest_index = dest_index
        self.deployment_id = deployment_id
        self.query = query
        # The destination's documents this run is answerable for (incremental: its interval); None: all.
        self.dest_query = dest_query

    def execute(self, context: Any) -> dict[str, Any]:
        pipeline = self.run_settings[PipelineSettings]
        reindex = self.run_settings[ReindexSettings]
        query = self.query or {"match_all": {}}
        out, failure = pipeline.output_field, pipeline.failure_field
        with self.calling(f"counting documents of [{self.source_index}] and [{self.dest_index}]"):
            self.es.indices.refresh(index=self.dest_index)
            expected = self.es.count(index=self.source_index, query=query)["count"]
            if reindex.max_docs:
                expected = min(expected, reindex.max_docs)
            scope = [self.dest_query] if self.dest_query else []
            actual = self.es.count(index=self.dest_index, query={"bool": {"filter": scope}})["count"]
            missing = self.es.count(
                index=self.dest_index,
                query={"bool": {"filter": scope, "must_not": {"exists": {"field": out}}}},
            )["count"]
            failed = self.es.count(
                index=self.dest_index, query={"bool": {"filter": [*scope, {"exists": {"field": failure}}]}}
            )["count"]
        sample_id, hits = self.sample_search(pipeline, query)
        report = {
            "expected": expected,
            "indexed": actual,
            "missing_embeddings": missing,
            "recorded_failures": failed,
            "sample_doc": sample_id,
            "sample_hits": hits,
        }
        problems = []
        if actual != expected:
            problems.append(
                f"[{self.dest_index}] holds {actual} documents, the source query matches {expected}"
            )
        if missing > reindex.max_missing_embeddings:
            problems.append(
                f"{missing} documents lack [{out}] ({failed} carry a failure in [{failure}]; "
                f"max_missing_embeddings is {reindex.max_missing_embeddings})"
            )
        if expected and not hits:
            problems.append(f"a semantic query with the text of document [{sample_id}] found nothing")
        if problems:
            raise VerificationError(
                "verification failed: " + "; ".join(problems) + self.failure_samples(failure)
            )
        self.log.info("Verified: %s", report)
        return self.publish(context, verification=report)

    def sample_search(self, pipeline: PipelineSettings, query: dict) -> tuple[str | None, int]:
        """(id of a source document with text, hits of a semantic query made from that text)."""
        sample_query = {"bool": {"filter": [query, {"exists": {"field": pipeline.input_field}}]}}
        with self.calling(f"sampling [{self.source_index}]"):
            docs = self.es.search(
                index=self.source_index, query=sample_query, size=1, source=[pipeline.input_field]
            )
        found = docs["hits"]["hits"]
        if not found:
            return None, 0
        text = str(bodies.source_value(found[0]["_source"], pipeline.input_field))
        text = " ".join(text.split()[:30])
        with self.calling(f"querying [{self.dest_index}] semantically"):
            mapping = self.es.indices.get_mapping(index=self.dest_index)[self.dest_index]["mappings"]
            field_type = (bodies.field_mapping_at(mapping, pipeline.output_field) or {}).get("type")
            search = bodies.sample_search(field_type, pipeline.output_field, text, self.deployment_id)
            result = self.es.search(index=self.dest_index, size=10, **search)
        return found[0]["_id"], len(result["hits"]["hits"])

    def failure_samples(self, failure_field: str) -> str:
        with self.calling(f"reading recorded failures in [{self.dest_index}]"):
            docs = self.es.search(
                index=self.dest_index,
                query={"exists": {"field": failure_field}},
                size=3,
                source=[failure_field],
            )["hits"]["hits"]
        samples = "; ".join(f"[{d['_id']}] {d['_source'].get(failure_field)}" for d in docs)
        return f". Recorded failures, e.g.: {samples}" if samples else ""
