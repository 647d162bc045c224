"""
### embedding_reindex

Embeds the documents of an Elasticsearch index with a model deployed in Elasticsearch ML (ELSER by
default) into a new index, verifies every document carries its embedding, then points an alias at
it.

**Params** (the trigger form): `source_index` (required; its default, which nightly runs use, is
the environment variable `EMBEDDING_REINDEX_SOURCE_INDEX`), `dest_index` (default
`<source>-<model>-<run time>`), `alias` (default `<source>-embedded`), `query` (which documents,
default all), `mode` (`auto`: incremental for scheduled and backfill runs, full for manual ones),
`timestamp_field`.

**Variables** (JSON, read at run time; missing keys keep their defaults, see
`include/variables.json`): `embedding_model`, `embedding_deployment`, `embedding_pipeline`,
`embedding_reindex`, `embedding_inference` (the backend: an ingest pipeline, or an inference endpoint
and a `semantic_text` field that chunks long documents; `choose_backend` runs one and skips the
other's tasks). The first task validates them and the Params before anything is written, and
pushes the validated settings as the run's snapshot: later tasks use it, never the Variables, so
editing a Variable during a run changes nothing in that run (clear `validate_settings` too to apply
a fix to a running run).

**Connection**: `elasticsearch_default`.

**Schedule**: nightly at 02:00 UTC when `EMBEDDING_REINDEX_SOURCE_INDEX` names the source, else
manual runs only; override with the environment variable `EMBEDDING_REINDEX_SCHEDULE` (a cron
expression, or `none` for manual runs only). Both environment variables are read when the file is
parsed; nothing else is (no Variable, no cluster).
"""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import DAG, CronDataIntervalTimetable, Param, TaskGroup, TriggerRule

from es_embedding.embedder import from_backend
from es_embedding.endpoint.group import endpoint_group
from es_embedding.errors import transient_retry_args
from es_embedding.index import (
    CompleteIndexOperator,
    CreateDestIndexOperator,
    ReindexTaskSensor,
    StartReindexOperator,
)
from es_embedding.model import model_group
from es_embedding.publish import (
    AnnounceReadyOperator,
    ApplyRetentionOperator,
    SwapAliasOperator,
    VerifyEmbeddingsOperator,
)
from es_embedding.report import RunReportOperator
from es_embedding.resolve import ValidateRunOperator
from es_embedding.settings import snapshot_from

DEFAULT_SCHEDULE = "0 2 * * *"
# Nightly runs need a source to embed: without EMBEDDING_REINDEX_SOURCE_INDEX the DAG runs only when
# triggered, and the trigger form asks for the source (a guessed default would make failing runs).
_source_default = os.environ.get("EMBEDDING_REINDEX_SOURCE_INDEX", "").strip()
# Unset or empty: nightly when there is a source; "none": manual runs only.
_schedule = os.environ.get("EMBEDDING_REINDEX_SCHEDULE", "").strip() or (
    DEFAULT_SCHEDULE if _source_default else "none"
)
if _schedule.lower() != "none" and not _source_default:
    raise ValueError(
        f"EMBEDDING_REINDEX_SCHEDULE is {_schedule!r} but EMBEDDING_REINDEX_SOURCE_INDEX is not set: "
        "scheduled runs need the source index to embed (set it, or set the schedule to 'none')"
    )

with DAG(
    dag_id="embedding_reindex",
    description="Embed an Elasticsearch index with an ML model into a new index and swap an alias to it",
    doc_md=__doc__,
    # A cron string would be a CronTriggerTimetable (Airflow 3): runs with start == end, no interval.
    # CronDataIntervalTimetable gives each nightly or backfill run [previous fire time, this one).
    schedule=None if _schedule.lower() == "none" else CronDataIntervalTimetable(_schedule, timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["elasticsearch", "embeddings", "ml"],
    default_args=transient_retry_args(),
    params={
        "source_index": Param(
            *([_source_default] if _source_default else []),  # no default: the form requires it
            type="string",
            minLength=1,
            title="Source index",
            description="Index (or alias) whose documents are embedded.",
        ),
        "dest_index": Param(
            None,
            type=["null", "string"],
            title="Destination index",
            description="New index for the embedded documents. Empty: <source>-<model>-<run time>.",
        ),
        "alias": Param(
            None,
            type=["null", "string"],
            title="Alias",
            description="Alias moved to the destination once verified. Empty: <source>-embedded.",
        ),
        "query": Param(
            {"match_all": {}},
            type="object",
            title="Query",
            description="Query DSL selecting the source documents to embed.",
        ),
        "mode": Param(
            "auto",
            type="string",
            enum=["auto", "full", "incremental"],
            values_display={
                "auto": "auto: incremental for scheduled and backfill runs, full for manual runs",
                "full": "full: every document into a new index, then swap the alias",
                "incremental": "incremental: the data interval's documents into the alias's index",
            },
            title="Mode",
            description=(
                "full: embed every document matching the query into a new versioned index, verify it, "
                "swap the alias. incremental: embed only the documents whose timestamp field lies in "
                "the run's data interval into the index the alias points at, overwriting updated ones "
                "(falls back to full when the alias does not exist yet). auto: incremental for "
                "scheduled and backfill runs, full for manual runs."
            ),
        ),
        "timestamp_field": Param(
            None,
            type=["null", "string"],
            title="Timestamp field",
            description=(
                "Date field placing a document in a data interval (incremental mode). "
                "Empty: Variable embedding_reindex.timestamp_field."
            ),
        ),
    },
) as dag:
    # The chain reads as four task groups after the first task; the groups do not prefix task ids.
    validate = ValidateRunOperator(task_id="validate_settings")
    settings = snapshot_from("validate_settings")  # the run's settings, as validate_settings read them
    names = validate.output  # source_index, dest_index, alias, query, mode, interval, dest_query
    # The model, then the backend's stages: the model group's deployment and pipeline, or the endpoint
    # group (Variable embedding_inference.backend; choose_backend skips the other).
    model = model_group(settings)
    endpoint = endpoint_group(settings, model)

    with TaskGroup("index", prefix_group_id=False, tooltip="the destination index, filled and embedded"):
        create_index = CreateDestIndexOperator(
            task_id="create_dest_index",
            source_index=names["source_index"],
            dest_index=names["dest_index"],
            model_id=model.model_id,
            alias=names["alias"],
            inference_id=from_backend("inference_id"),
            settings=settings,
            trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS,  # after whichever backend ran
        )
        dest_index = create_index.output["dest_index"]
        # What the reindex, its completion and the verification work on.
        embedding = {
            "source_index": names["source_index"],
            "dest_index": dest_index,
            "query": names["query"],
            "deployment_id": from_backend("deployment_id"),
            "settings": settings,
        }
        start_reindex = StartReindexOperator(
            task_id="start_reindex", **embedding, pipeline_id=from_backend("pipeline_id"), mode=names["mode"]
        )
        wait_reindex = ReindexTaskSensor(
            task_id="wait_reindex",
            es_task_id=start_reindex.output["es_task_id"],
            settings=settings,
            deferrable=True,
        )
        complete_index = CompleteIndexOperator(
            task_id="complete_index",
            **embedding,
            pipeline_id=from_backend("pipeline_id"),
            dest_query=names["dest_query"],
            source_stamp=start_reindex.output["source_stamp"],
        )
        create_index >> start_reindex >> wait_reindex >> complete_index

    with TaskGroup("publish", prefix_group_id=False, tooltip="verify, swap the alias, announce, retention"):
        verify = VerifyEmbeddingsOperator(
            task_id="verify_embeddings",
            **embedding,
            pipeline_id=from_backend("pipeline_id"),
            dest_query=names["dest_query"],
            resume=complete_index.output["resume"],
        )
        swap_alias = SwapAliasOperator(task_id="swap_alias", alias=names["alias"], dest_index=dest_index)
        # The alias's Asset (es_embedding.assets) and the retention of its older indices.
        announce_ready = AnnounceReadyOperator(
            task_id="announce_ready",
            alias=names["alias"],
            dest_index=dest_index,
            source_index=names["source_index"],
            mode=names["mode"],
            interval=names["interval"],
        )
        apply_retention = ApplyRetentionOperator(
            task_id="apply_retention", alias=names["alias"], settings=settings
        )
        verify >> swap_alias >> [announce_ready, apply_retention]

    with TaskGroup("report", prefix_group_id=False, tooltip="after every run, failed ones too"):
        # Teardowns: they run after failures too, and leave the run's outcome to the stages. The
        # deployment's (Variable embedding_deployment.stop_after_run) comes after the report, which
        # reads the deployment's stats.
        run_report = RunReportOperator(task_id="run_report", settings=settings).as_teardown()
        stop_deployment = model.stop_deployment()
        run_report >> stop_deployment

    validate >> model.ensure_model
    [model.put_pipeline, endpoint.wait_endpoint] >> create_index
    complete_index >> verify
    swap_alias >> run_report
    [announce_ready, apply_retention] >> run_report  # so the report covers them too
    [announce_ready, apply_retention] >> stop_deployment
