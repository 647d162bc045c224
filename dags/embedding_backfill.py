"""
### embedding_backfill

Embeds several source indices at once, e.g. new indices that have no embeddings yet: Param
`source_indices` lists names and/or `*` patterns, resolved when the run starts (hidden indices and
indices this package created are skipped). One model deployment is started for the whole run; then,
with dynamic task mapping, each index gets its own chain: destination index
`<source>-<model>-<run time>`, reindex, completion, verification, alias `<source>-embedded`, an Asset
event for that alias, retention of the alias's older indices. The deployment's teardown runs last
(Variable `embedding_deployment.stop_after_run`). In the graph: `resolve_sources`, the group
`model`, the mapped group `embed_index` (one chain per source), `stop_deployment`.

**Concurrency**: at most `EMBEDDING_BACKFILL_CONCURRENCY` (environment, default 2) reindexes of one
run at a time (`max_active_tis_per_dagrun`), and at most the slots of the pool `EMBEDDING_POOL`
(environment, default `es_embedding`) across all runs on the cluster. The pool must exist and count
deferred tasks: `airflow pools import include/pools.json` (a task in a missing pool is never
scheduled). Each running reindex is sized for its share of the deployment's queues.

**Variables** and **connection**: as `embedding_reindex`; `resolve_sources` reads the Variables once
and every later task uses that snapshot. No schedule: trigger it from the UI or the REST API.
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import DAG, Param, TriggerRule, task_group

from es_embedding.embedder import from_backend
from es_embedding.endpoint.group import endpoint_group
from es_embedding.errors import transient_retry_args
from es_embedding.index import CompleteIndexOperator, CreateDestIndexOperator, PooledReindexOperator
from es_embedding.model import model_group
from es_embedding.publish import (
    AnnounceReadyOperator,
    ApplyRetentionOperator,
    SwapAliasOperator,
    VerifyEmbeddingsOperator,
)
from es_embedding.resolve import ResolveSourcesOperator
from es_embedding.settings import snapshot_from

POOL = os.environ.get("EMBEDDING_POOL", "es_embedding").strip() or "es_embedding"
CONCURRENCY = max(int(os.environ.get("EMBEDDING_BACKFILL_CONCURRENCY", "2")), 1)

with DAG(
    dag_id="embedding_backfill",
    description="Embed a list or pattern of Elasticsearch indices, one chain per index, one shared deployment",
    doc_md=__doc__,
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["elasticsearch", "embeddings", "ml"],
    default_args=transient_retry_args(),
    params={
        "source_indices": Param(
            ["documents-*"],
            type="array",
            items={"type": "string", "minLength": 1},
            minItems=1,
            title="Source indices",
            description=(
                "Index names and/or patterns with * (e.g. logs-2026-*), resolved when the run starts; "
                "hidden indices and indices created by this package are skipped."
            ),
        ),
        "query": Param(
            {"match_all": {}},
            type="object",
            title="Query",
            description="Query DSL selecting the documents to embed in every source index.",
        ),
    },
) as dag:
    resolve = ResolveSourcesOperator(task_id="resolve_sources")
    settings = snapshot_from("resolve_sources")  # the run's settings, as resolve_sources read them
    model = model_group(settings)
    endpoint = endpoint_group(settings, model)  # the backend's stages: choose_backend skips the other
    query = resolve.output["query"]

    # The index and publish stages of one source, mapped over the sources: their task ids keep the
    # group's prefix (embed_index.create_dest_index, ...), as they always had.
    @task_group(group_id="embed_index")
    def embed_index(source_index: str, dest_index: str, alias: str):
        """One index: its own destination and alias, the run's shared deployment and pipeline (or endpoint)."""
        create = CreateDestIndexOperator(
            task_id="create_dest_index",
            source_index=source_index,
            dest_index=dest_index,
            model_id=model.model_id,
            alias=alias,
            inference_id=from_backend("inference_id"),
            settings=settings,
            trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,  # after whichever backend ran
        )
        # What the reindex, its completion and the verification work on.
        embedding = {
            "source_index": source_index,
            "dest_index": dest_index,
            "query": query,
            "deployment_id": from_backend("deployment_id"),
            "settings": settings,
        }
        reindex = PooledReindexOperator(
            task_id="reindex",
            **embedding,
            pipeline_id=from_backend("pipeline_id"),
            share=CONCURRENCY,
            deferrable=True,
            pool=POOL,
            max_active_tis_per_dagrun=CONCURRENCY,
        )
        complete = CompleteIndexOperator(
            task_id="complete_index",
            **embedding,
            pipeline_id=from_backend("pipeline_id"),
            source_stamp=reindex.output["source_stamp"],
        )
        verify = VerifyEmbeddingsOperator(
            task_id="verify_embeddings",
            **embedding,
            pipeline_id=from_backend("pipeline_id"),
            resume=complete.output["resume"],
        )
        swap = SwapAliasOperator(task_id="swap_alias", alias=alias, dest_index=dest_index)
        announce = AnnounceReadyOperator(
            task_id="announce_ready", alias=alias, dest_index=dest_index, source_index=source_index
        )
        retention = ApplyRetentionOperator(task_id="apply_retention", alias=alias, settings=settings)
        create >> reindex >> complete >> verify >> swap >> [announce, retention]

    chains = embed_index.expand_kwargs(resolve.output)
    stop_deployment = model.stop_deployment()

    resolve >> model.ensure_model
    [model.put_pipeline, endpoint.wait_endpoint] >> chains >> stop_deployment
