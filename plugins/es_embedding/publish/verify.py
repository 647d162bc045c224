"""Verification, `verify_embeddings`: within the run's scope, the destination holds every covered
document, each current (its content equals its source's) and embedded, nothing else, and a
semantic query finds documents; only then may the alias move.

Currency is proven by a comparison of contents (es_embedding.index.currency), or, when the source's
write position is unchanged since before the first copy into a destination that held nothing, by
that (es_embedding.index.stamp). `complete_index` ends with one of the two proofs, over the whole
scope, and hands it over (`resume.currency`, whose `proof` says which); verification accepts it when
it found nothing missing or stale, the destination is the one it proved, the scope's counts on both
indices are what it counted, and it finished less than PROOF_MAX_AGE ago: the seconds between the
two tasks. Otherwise (a verification run later, alone, or after a wait for the deployment) it
compares again itself. Either way the run is verified as of that comparison's cut: a document the
source changes after it is the next run's, as it would be after any verification, since the swap
comes after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from es_embedding import bodies
from es_embedding.base import EsStage
from es_embedding.errors import VerificationError
from es_embedding.index.allocation import allocated_or_defer, resumed
from es_embedding.index.backend import EmbeddingBackend, backend_for
from es_embedding.index.currency import ScopeReader
from es_embedding.index.scope import Scope
from es_embedding.settings import PipelineSettings, ReindexSettings

# How old complete_index's comparison may be for verification to take it as its own.
PROOF_MAX_AGE = timedelta(minutes=5)
SHOWN = 5  # ids named per problem


def accepted_proof(proof: Any, dest_index: str, source_count: int, dest_count: int, now: datetime) -> bool:
    """Whether complete_index's proof (`resume.currency`: a comparison, or an unchanged source)
    stands for this verification."""
    if not isinstance(proof, dict) or proof.get("dest_index") != dest_index:
        return False
    try:
        finished = datetime.fromisoformat(proof["finished"])
    except (KeyError, TypeError, ValueError):
        return False
    # A comparison read every source document of the scope; the other proof counted them.
    proven = proof.get("source_count") if proof.get("proof") == "unchanged_source" else proof.get("compared")
    return (
        proof.get("stale") == 0
        and proven == source_count
        and proof.get("present") == dest_count
        and timedelta(0) <= now - finished <= PROOF_MAX_AGE
    )


class VerifyEmbeddingsOperator(EsStage):
    """`verify_embeddings`: the run's scope is complete, current and embedded in the destination, and a
    sample semantic query finds documents. Fails with the numbers and sample ids otherwise. Pushes
    verification."""

    template_fields: Sequence[str] = (
        *EsStage.template_fields,
        "source_index",
        "dest_index",
        "query",
        "deployment_id",
        "dest_query",
        "pipeline_id",
        "resume",
    )

    def __init__(
        self,
        *,
        source_index: str,
        dest_index: str,
        deployment_id: str,
        query: dict | str | None = None,
        dest_query: dict | str | None = None,
        pipeline_id: str | None = None,
        resume: dict | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source_index = source_index
        self.dest_index = dest_index
        self.deployment_id = deployment_id
        self.query = query
        # The destination's documents this run is answerable for (incremental: its interval); None: all.
        self.dest_query = dest_query
        self.pipeline_id = pipeline_id
        # complete_index's summary: its last comparison is the currency proof this step may accept.
        self.resume = resume

    @property
    def backend(self) -> EmbeddingBackend:
        return backend_for(self.run_settings, self.pipeline_id)

    def execute(self, context: Any) -> dict[str, Any]:
        # The sample query infers: after a node restart, wait for the deployment's allocation first.
        allocated_or_defer(self, self.deployment_id, "allocation_complete")
        return self.verify(context)

    def allocation_complete(self, context: Any, event: dict | None = None) -> dict[str, Any]:
        resumed(event)
        return self.verify(context)

    def verify(self, context: Any) -> dict[str, Any]:
        started = datetime.now(UTC)
        backend = self.backend
        reindex = self.run_settings[ReindexSettings]
        scope = Scope.of(self.query, self.dest_query)
        failure = backend.failed()
        with self.calling(f"counting the scope in [{self.source_index}] and [{self.dest_index}]"):
            self.es.indices.refresh(index=self.dest_index)
            source_count = self.es.count(index=self.source_index, query=scope.source)["count"]
            expected = min(source_count, reindex.max_docs) if reindex.max_docs else source_count
            actual = self.es.count(index=self.dest_index, query=scope.dest)["count"]
            missing = self.es.count(index=self.dest_index, query=scope.dest_where(backend.unembedded()))[
                "count"
            ]
            failed = (
                self.es.count(index=self.dest_index, query=scope.dest_where(failure))["count"]
                if failure
                else 0
            )
        currency = self.currency(scope, backend, source_count, actual, started)
        sample_id, hits = self.sample_search(self.run_settings[PipelineSettings], scope.source)
        report = {
            "expected": expected,
            "indexed": actual,
            "missing_embeddings": missing,
            "recorded_failures": failed,
            "stale": currency["stale"],
            "compared": currency["compared"],
            "current_as_of": currency["cut"],
            "currency_checked_by": currency["by"],
            "sample_doc": sample_id,
            "sample_hits": hits,
        }
        problems = []
        if actual != expected:
            problems.append(
                f"[{self.dest_index}] holds {actual} documents of the run's scope, the source query matches "
                f"{expected}" + self.named(currency, "missing")
            )
        if currency["stale"]:
            problems.append(
                f"{currency['stale']} documents are older than their source (changed since they were copied)"
                + self.named(currency, "stale")
            )
        if missing > reindex.max_missing_embeddings:
            problems.append(
                f"{missing} documents lack their embedding ({failed} carry a recorded failure; "
                f"max_missing_embeddings is {reindex.max_missing_embeddings})"
            )
        if expected and not hits:
            problems.append(f"a semantic query with the text of document [{sample_id}] found nothing")
        if problems:
            raise VerificationError(
                "verification failed: " + "; ".join(problems) + self.failure_samples(scope, failure)
            )
        self.log.info("Verified: %s", report)
        return self.publish(context, verification=report)

    def currency(
        self, scope: Scope, backend: EmbeddingBackend, source_count: int, dest_count: int, now: datetime
    ) -> dict[str, Any]:
        """The proof this verification stands on: complete_index's (a comparison, or an unchanged
        source), or a comparison made here."""
        proof = (self.resume or {}).get("currency") if isinstance(self.resume, dict) else None
        if accepted_proof(proof, self.dest_index, source_count, dest_count, now):
            self.log.info("Currency: complete_index's proof stands (%s)", proof)
            return {**proof, "by": "complete_index"}
        self.log.info(
            "Currency: comparing [%s] with [%s] (complete_index's proof: %s)",
            self.dest_index,
            self.source_index,
            proof or "none",
        )
        reader = ScopeReader(self, self.source_index, self.dest_index, scope, backend.added_fields())
        comparison = reader.compare(id_limit=SHOWN * 2)
        return {
            **comparison.summary(),
            "missing_ids": comparison.missing_ids[:SHOWN],
            "stale_ids": comparison.stale_ids[:SHOWN],
            "by": "verify_embeddings",
        }

    @staticmethod
    def named(currency: dict, kind: str) -> str:
        ids = currency.get(f"{kind}_ids") or []
        return f" (e.g. {', '.join(ids)})" if ids else ""

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

    def failure_samples(self, scope: Scope, failure: dict | None) -> str:
        if failure is None:
            return ""
        field = self.run_settings[PipelineSettings].failure_field
        with self.calling(f"reading recorded failures in [{self.dest_index}]"):
            docs = self.es.search(
                index=self.dest_index, query=scope.dest_where(failure), size=3, source=[field]
            )["hits"]["hits"]
        samples = "; ".join(f"[{d['_id']}] {d['_source'].get(field)}" for d in docs)
        return f". Recorded failures, e.g.: {samples}" if samples else ""
