"""One operator per stage that acts on the cluster. Each takes its settings from the run's snapshot,
finds what already exists and continues from there, so a re-run or a retry never does the work twice.

XCom: every operator returns a dict and also pushes each of its keys, so a DAG wires stages with
`op.output["<key>"]`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from functools import cached_property
from typing import Any

from airflow.sdk import BaseOperator
from elasticsearch import NotFoundError

from es_embedding import bodies, checks, intervals
from es_embedding.errors import (
    LICENSE_HINT,
    AliasError,
    AuthenticationError,
    CapacityError,
    ClusterRequestError,
    DeploymentFailedError,
    EmbeddingError,
    LicenseError,
    SettingsError,
    VerificationError,
    cluster_call,
)
from es_embedding.hooks import DEFAULT_CONN_ID, ElasticsearchEmbeddingHook
from es_embedding.links import KibanaIndexLink, KibanaModelLink
from es_embedding.naming import MANAGED_BY, default_alias, dest_index_name, index_name_problem
from es_embedding.settings import (
    SNAPSHOT_KEY,
    DeploymentSettings,
    ModelSettings,
    PipelineSettings,
    ReindexSettings,
    RunSettings,
    es_time,
)
from es_embedding.sizing import (
    Queues,
    auto_slices,
    capacity_for,
    capacity_problem,
    choose_deployment,
    plan_reindex,
)

PLATFORM_SPECIFIC = "linux-x86_64"
_ELSER_ID = re.compile(r"^\.elser_model_\d+$")
# Models Elasticsearch downloads by id (besides ELSER): an unknown id is refused before any write.
BUILTIN_MODELS = (".multilingual-e5-small", ".multilingual-e5-small_linux-x86_64", ".rerank-v1")
# Seconds after its put within which a model's download task is listed: an incomplete model younger
# than that may be another run's fresh download, not a failed one.
DOWNLOAD_START_GRACE = 5.0


# Licence types that include machine learning (x-pack License.OperationMode).
ML_LICENCES = ("trial", "platinum", "enterprise")


def query_problem(query: Any) -> str | None:
    """What is wrong with Param 'query' (a query DSL object has exactly one key), or None."""
    if isinstance(query, dict) and len(query) == 1:
        return None
    return f"Param 'query' has value {query!r}: a query DSL object such as {{\"match_all\": {{}}}}"


class EsStageOperator(BaseOperator):
    """Base of the stage operators: the hook, translated cluster errors, the run's settings snapshot
    (argument `settings`, templated: es_embedding.settings.snapshot_from), XCom of every result key."""

    template_fields: Sequence[str] = ("settings",)
    ui_color = "#f3e7ff"

    def __init__(
        self,
        *,
        es_conn_id: str = DEFAULT_CONN_ID,
        settings: RunSettings | dict | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.es_conn_id = es_conn_id
        self.settings = settings

    @cached_property
    def run_settings(self) -> RunSettings:
        """The run's settings as the resolving task validated them (read after rendering only)."""
        return RunSettings.of(self.settings)

    @cached_property
    def hook(self) -> ElasticsearchEmbeddingHook:
        return ElasticsearchEmbeddingHook(self.es_conn_id)

    @property
    def es(self):
        return self.hook.client

    def calling(self, action: str):
        """Context for cluster calls: ES errors leave as EmbeddingErrors naming `action`, secret-free."""
        return cluster_call(action, self.hook.secrets, self.es_conn_id)

    def publish(self, context: Any, **values: Any) -> dict[str, Any]:
        for key, value in values.items():
            context["ti"].xcom_push(key=key, value=value)
        return values

    def get_or_none(self, action: str, call, *args, **kwargs):
        """A GET that answers 404 when the thing does not exist: None instead of an error."""
        with self.calling(action):
            try:
                return call(*args, **kwargs)
            except NotFoundError:
                return None

    def check_cluster(self, settings: RunSettings) -> str:
        """The cluster's version, after refusing a version the settings cannot use (SettingsError)
        and a licence without machine learning (LicenseError): before anything is written."""
        with self.calling("reading the cluster version"):
            version = self.es.info()["version"]["number"]
        settings.check_cluster_version(version)
        self.check_ml_licence()
        return version

    def check_ml_licence(self) -> None:
        try:
            with self.calling("reading the cluster's licence"):
                licence = self.es.license.get()["license"]
        except AuthenticationError as refused:  # no `monitor` privilege: the first ML call will tell
            self.log.warning("Not checking the cluster's licence: %s", refused)
            return
        kind, status = licence.get("type"), licence.get("status")
        if kind not in ML_LICENCES or status != "active":
            raise LicenseError(f"the cluster's licence: type {kind}, status {status}; {LICENSE_HINT}")


class ValidateRunOperator(EsStageOperator):
    """First task: validates the four Variables and the run's Params, and resolves the run's names.

    Reads only (cluster version, source index, the query's count); writes nothing. Pushes
    source_index, dest_index, alias, query, es_version, mode, interval, dest_query, and settings:
    the run's snapshot of the Variables, the only time a run reads them (es_embedding.settings).

    Mode (es_embedding.intervals): `full` embeds the query into a new index; `incremental` embeds
    only the documents whose timestamp field lies in the run's data interval into the index the
    alias points at (dest_query then scopes the verification to them); an incremental run whose
    alias does not exist yet falls back to full and says so.
    """

    def execute(self, context: Any) -> dict[str, Any]:
        settings = RunSettings.read()
        params = context["params"]
        source = (params.get("source_index") or "").strip()
        interval = intervals.run_interval(context)
        mode, why = intervals.resolve_mode(params.get("mode"), context["dag_run"], interval)
        dest_param = (params.get("dest_index") or "").strip()
        dest = dest_param or dest_index_name(
            source, settings[ModelSettings].model_id, context["dag_run"].run_after
        )
        alias = (params.get("alias") or "").strip() or default_alias(source)
        query = params.get("query") or {"match_all": {}}
        problems = [
            f"Param '{name}' has value {value!r}: {problem}"
            for name, value in (("source_index", source), ("dest_index", dest), ("alias", alias))
            if (problem := index_name_problem(value))
        ]
        if problem := query_problem(query):
            problems.append(problem)
        if len({source, dest, alias}) < 3:
            problems.append(
                f"Params source_index, dest_index and alias must differ (got {source!r}, {dest!r}, {alias!r})"
            )
        if problems:
            raise SettingsError("\n".join(problems))

        version = self.check_cluster(settings)
        with self.calling(f"reading source index [{source}]"):
            if not self.es.indices.exists(index=source):
                raise SettingsError(f"Param 'source_index': index [{source}] does not exist")
            mappings = [entry["mappings"] for entry in self.es.indices.get_mapping(index=source).values()]
        field = settings[PipelineSettings].input_field
        if not any(bodies.field_mapping_at(m, field) for m in mappings):
            raise SettingsError(
                f"Variable 'embedding_pipeline': key 'input_field' has value \"{field}\"; allowed: a field "
                f"mapped in [{source}] (none of its indices maps it)"
            )
        dest_query = {"match_all": {}}  # XCom keeps no None: "all of the destination"
        if mode == "incremental":
            target = self.alias_target(alias)
            if target is None:
                self.log.warning(
                    "Mode incremental (%s), but alias [%s] does not exist yet: falling back to mode full "
                    "(every document matching the query, into the new index [%s])",
                    why,
                    alias,
                    dest,
                )
                mode, why = "full", f"fallback: alias [{alias}] does not exist yet"
            else:
                if dest_param and dest_param != target:
                    raise SettingsError(
                        f"Param 'dest_index' has value {dest_param!r}; allowed in mode incremental: empty or "
                        f"{target!r}, the index alias [{alias}] points at"
                    )
                dest = target
                query = dest_query = self.interval_scope(params, settings, mappings, source, query, interval)
        with self.calling(f"checking Param 'query' against [{source}]"):
            matching = self.es.count(index=source, query=query)["count"]
        self.check_alias_is_ours(alias)
        self.check_model_known(settings[ModelSettings].model_id)
        self.log.info(
            "Run (%s, %s%s): [%s] (%d matching documents) -> [%s], alias [%s], ES %s",
            mode,
            why,
            f", data interval {interval}" if mode == "incremental" else "",
            source,
            matching,
            dest,
            alias,
            version,
        )
        return self.publish(
            context,
            source_index=source,
            dest_index=dest,
            alias=alias,
            query=query,
            es_version=version,
            mode=mode,
            interval=[str(interval.start), str(interval.end)] if mode == "incremental" else [],
            dest_query=dest_query,
            **{SNAPSHOT_KEY: settings.to_json()},
        )

    def check_alias_is_ours(self, alias: str) -> None:
        """The alias may only move between indices this package created: refused before any write."""
        found = self.get_or_none(f"reading alias [{alias}]", self.es.indices.get_alias, name=alias)
        if not found:
            with self.calling(f"checking [{alias}]"):
                if self.es.indices.exists(index=alias):
                    raise SettingsError(
                        f"Param 'alias' has value {alias!r}: it is a concrete index, not an alias; "
                        "allowed: a new name or an alias of indices created by this package"
                    )
            return
        with self.calling(f"reading the indices of alias [{alias}]"):
            entries = self.es.indices.get_mapping(index=",".join(sorted(found)))
        foreign = sorted(
            n for n in found if not bodies.managed_meta((entries.get(n) or {}).get("mappings") or {})
        )
        if foreign:
            raise SettingsError(
                f"Param 'alias' has value {alias!r}: it points at {', '.join(foreign)}, not created by "
                f"{MANAGED_BY} (mapping _meta.managed_by); allowed: a new name or an alias of indices "
                "created by this package"
            )

    def check_model_known(self, model_id: str) -> None:
        """A model the cluster has, or a built-in one it can download; anything else is refused."""
        if _ELSER_ID.match(model_id) or model_id in BUILTIN_MODELS:
            return
        if self.get_or_none(f"reading model [{model_id}]", self.es.ml.get_trained_models, model_id=model_id):
            return
        raise SettingsError(
            f"Variable 'embedding_model': key 'model_id' has value \"{model_id}\"; allowed: a trained model "
            f"in the cluster, or a built-in one ({', '.join(['.elser_model_2', *BUILTIN_MODELS])})"
        )

    def alias_target(self, alias: str) -> str | None:
        """The one index `alias` points at (incremental runs write there), or None when it does not exist."""
        found = self.get_or_none(f"reading alias [{alias}]", self.es.indices.get_alias, name=alias)
        targets = sorted(found or {})
        if len(targets) > 1:
            raise SettingsError(
                f"Param 'alias': alias [{alias}] points at {len(targets)} indices ({', '.join(targets)}); "
                "mode incremental needs exactly one to write into"
            )
        return targets[0] if targets else None

    def interval_scope(self, params, settings, mappings, source, query, interval) -> dict:
        """The query restricted to the data interval on the timestamp field (Param, else Variable)."""
        field = (params.get("timestamp_field") or "").strip()
        origin = "Param 'timestamp_field'"
        if not field:
            field = settings[ReindexSettings].timestamp_field
            origin = "Variable 'embedding_reindex': key 'timestamp_field'"
        if problem := intervals.timestamp_problem(mappings, field):
            raise SettingsError(f"{origin} has value {json.dumps(field)}; allowed: {problem} [{source}]")
        return intervals.interval_query(query, field, interval)


class EnsureModelOperator(EsStageOperator):
    """Stage 1: the trained model exists (put it, which starts the download, when absent).

    Prefers ELSER's linux-x86_64 build when every ML node is linux-x86_64 and the setting asks for
    it. `force_download` deletes and re-puts a model created before this run. Pushes model_id.
    """

    operator_extra_links = (KibanaModelLink(),)

    def execute(self, context: Any) -> dict[str, Any]:
        settings = self.run_settings[ModelSettings]
        model_id = self.resolve_model_id(settings)
        existing = self.model_config(model_id)
        if existing and settings.force_download and self.created_before_run(existing, context):
            self.log.info("force_download: deleting model [%s] to download it again", model_id)
            with self.calling(f"deleting model [{model_id}]"):
                self.es.ml.delete_trained_model(model_id=model_id, force=True)
            existing = None
        if existing and self.download_ended_incomplete(model_id, existing):
            # Elasticsearch cannot resume a download: the model stays, not fully defined, until it is
            # deleted; putting it again starts a fresh download (what Kibana's Download does).
            self.log.warning(
                "Model [%s] is not fully defined and no download of it is running (an earlier download "
                "failed or stalled): deleting it to download it again",
                model_id,
            )
            with self.calling(f"deleting the incomplete model [{model_id}]"):
                self.es.ml.delete_trained_model(model_id=model_id, force=True)
            existing = None
        if existing:
            self.log.info(
                "Model [%s] exists (fully_defined=%s): leaving it", model_id, existing.get("fully_defined")
            )
        else:
            self.put_model(model_id)
        return self.publish(context, model_id=model_id)

    def resolve_model_id(self, settings: ModelSettings) -> str:
        if not (settings.prefer_platform_specific and _ELSER_ID.match(settings.model_id)):
            return settings.model_id
        platform = self.ml_platform()
        if platform == PLATFORM_SPECIFIC:
            return f"{settings.model_id}_{PLATFORM_SPECIFIC}"
        self.log.info(
            "ML nodes are %s: using the cross-platform [%s]",
            platform or "of unknown platform",
            settings.model_id,
        )
        return settings.model_id

    def ml_platform(self) -> str | None:
        """linux-x86_64 when the cluster says so (_ml/info) or every ML node runs Linux on x86_64."""
        with self.calling("reading _ml/info and _nodes"):
            variant = (self.es.ml.info().get("defaults") or {}).get("model_platform_variant")
            if variant:
                return variant
            nodes = self.es.nodes.info()["nodes"].values()
        platforms = {
            f"{(n.get('os') or {}).get('name', '?').lower()}-{(n.get('os') or {}).get('arch', '?')}"
            for n in nodes
            if "ml" in (n.get("roles") or [])
        }
        platforms = {p.replace("-amd64", "-x86_64") for p in platforms}
        return platforms.pop() if len(platforms) == 1 else None

    def model_config(self, model_id: str) -> dict | None:
        found = self.get_or_none(
            f"reading model [{model_id}]",
            self.es.ml.get_trained_models,
            model_id=model_id,
            include="definition_status",
        )
        configs = (found or {}).get("trained_model_configs") or []
        return configs[0] if configs else None

    def download_ended_incomplete(self, model_id: str, config: dict) -> bool:
        """A model Elasticsearch downloads itself, not fully defined, with no download task running
        and created more than DOWNLOAD_START_GRACE seconds ago (a fresh put has its task by then).
        Models uploaded part by part (eland) are never touched: their upload may be under way."""
        if config.get("fully_defined") is not False:
            return False
        if not (
            _ELSER_ID.match(model_id.removesuffix(f"_{PLATFORM_SPECIFIC}")) or model_id in BUILTIN_MODELS
        ):
            return False
        created_ms = config.get("create_time") or 0
        if time.time() * 1000 - created_ms < DOWNLOAD_START_GRACE * 1000:
            return False
        with self.calling(f"listing the download tasks of model [{model_id}]"):
            tasks = self.es.tasks.list(actions=checks.MODEL_IMPORT_ACTIONS, detailed=True)
        return checks.import_task_id(dict(tasks), model_id) is None

    @staticmethod
    def created_before_run(config: dict, context: Any) -> bool:
        started = context["dag_run"].start_date
        created_ms = config.get("create_time")
        return started is None or created_ms is None or created_ms < started.timestamp() * 1000

    def put_model(self, model_id: str) -> None:
        self.log.info("Putting model [%s]: the cluster starts downloading it", model_id)
        try:
            with self.calling(f"putting model [{model_id}]"):
                self.es.ml.put_trained_model(
                    model_id=model_id, input={"field_names": [bodies.ELSER_INPUT_FIELD]}
                )
        except ClusterRequestError as exc:
            # A concurrent run (or a retry after a lost response) created it first.
            if exc.error_type != "resource_already_exists_exception":
                raise
            self.log.info("Model [%s] was created meanwhile: leaving it", model_id)


class StartDeploymentOperator(EsStageOperator):
    """Stage 3: the deployment runs with the Variable's parameters.

    New: checks free ML processors first and fails with the numbers and what to change. Existing:
    reused; its allocations updated when they differ (threads, queue and priority cannot change
    without a restart, so a difference there is only reported). Pushes deployment_id, model_id.
    """

    template_fields: Sequence[str] = (
        *EsStageOperator.template_fields,
        "model_id",
    )
    operator_extra_links = (KibanaModelLink(),)

    def __init__(self, *, model_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model_id = model_id

    def execute(self, context: Any) -> dict[str, Any]:
        settings = self.run_settings[DeploymentSettings]
        with self.calling("reading trained model stats"):
            all_stats = self.es.ml.get_trained_models_stats()["trained_model_stats"]
        existing = checks.deployment_stats({"trained_model_stats": all_stats}, settings.deployment_id)
        if settings.auto:
            settings = self.resolve_auto(settings, all_stats, existing)
        if existing:
            self.reuse(existing, settings, all_stats)
        else:
            self.start(settings, all_stats)
        return self.publish(context, deployment_id=settings.deployment_id, model_id=self.model_id)

    def resolve_auto(
        self, settings: DeploymentSettings, all_stats: list[dict], existing: dict | None
    ) -> DeploymentSettings:
        """`auto` allocations/threads from the free ML processors (this deployment's own count as free;
        a running deployment keeps its threads, which only a restart changes)."""
        threads = settings.threads_per_allocation
        if threads == "auto" and existing and existing.get("threads_per_allocation"):
            threads = existing["threads_per_allocation"]
        with self.calling("reading _nodes"):
            nodes = self.es.nodes.info()
        free = capacity_for(nodes, all_stats, 1, settings.deployment_id).free
        allocations, threads, how = choose_deployment(
            free, settings.number_of_allocations, threads, settings.max_processors
        )
        self.log.info("Deployment [%s] %s", settings.deployment_id, how)
        return settings.model_copy(
            update={"number_of_allocations": allocations, "threads_per_allocation": threads}
        )

    def capacity_check(self, settings: DeploymentSettings, all_stats: list[dict], allocations: int) -> None:
        if settings.priority == "low":
            return
        with self.calling("reading _nodes"):
            nodes = self.es.nodes.info()
        capacity = capacity_for(nodes, all_stats, settings.threads_per_allocation, settings.deployment_id)
        if problem := capacity_problem(
            capacity, settings.deployment_id, allocations, settings.threads_per_allocation
        ):
            raise CapacityError(problem)

    def start(self, settings: DeploymentSettings, all_stats: list[dict]) -> None:
        self.capacity_check(settings, all_stats, settings.allocations_at_start)
        params: dict[str, Any] = {
            "model_id": self.model_id,
            "deployment_id": settings.deployment_id,
            "threads_per_allocation": settings.threads_per_allocation,
            "queue_capacity": settings.queue_capacity,
            "priority": settings.priority,
            "wait_for": settings.wait_for,
            "timeout": es_time(settings.timeout),
        }
        if settings.adaptive:
            params["adaptive_allocations"] = settings.adaptive_allocations.model_dump(exclude_none=True)
        else:
            params["number_of_allocations"] = settings.number_of_allocations
        self.log.info("Starting deployment %s", params)
        try:
            with self.calling(f"starting deployment [{settings.deployment_id}] of model [{self.model_id}]"):
                self.hook.waiting(settings.timeout).ml.start_trained_model_deployment(**params)
        except ClusterRequestError as exc:
            self.handle_start_error(exc, settings)

    def handle_start_error(self, exc: ClusterRequestError, settings: DeploymentSettings) -> None:
        text = str(exc)
        if "existing deployment with the same id" in text or "already been started" in text:
            self.log.info("Deployment [%s] was started meanwhile: reusing it", settings.deployment_id)
        elif exc.status == 408 and "Timed out after" in text:
            # The deployment keeps starting; the sensor waits for it.
            self.log.info("Start call timed out server-side; the deployment keeps starting: %s", text)
        elif exc.status == 429 and ("capacity" in text or "not enough resources" in text):
            raise CapacityError(
                f"{text}. Lower number_of_allocations or threads_per_allocation in Variable "
                "'embedding_deployment', stop other deployments, or add ML capacity"
            ) from None
        else:
            raise exc

    def reuse(self, existing: dict, settings: DeploymentSettings, all_stats: list[dict]) -> None:
        deployment_id = settings.deployment_id
        if existing.get("model_id") != self.model_id:
            raise DeploymentFailedError(
                f"deployment [{deployment_id}] exists for model [{existing.get('model_id')}], not "
                f"[{self.model_id}]; set another deployment_id in Variable 'embedding_deployment' or stop it"
            )
        if existing.get("state") in ("failed", "stopping"):
            reasons = "; ".join(checks.route_reasons(existing)) or "no reason given"
            raise DeploymentFailedError(
                f"deployment [{deployment_id}] is {existing['state']} ({reasons}); stop it "
                f"(POST _ml/trained_models/{deployment_id}/deployment/_stop?force=true) and run again"
            )
        for key in ("threads_per_allocation", "queue_capacity", "priority"):
            if existing.get(key) is not None and existing[key] != getattr(settings, key):
                self.log.warning(
                    "Deployment [%s] runs with %s=%s, the Variable asks for %s: only a stop and start changes it",
                    deployment_id,
                    key,
                    existing[key],
                    getattr(settings, key),
                )
        update = self.allocation_update(existing, settings)
        if not update:
            self.log.info("Deployment [%s] exists with the wanted allocations: reusing it", deployment_id)
            return
        if "number_of_allocations" in update:
            self.capacity_check(settings, all_stats, update["number_of_allocations"])
        self.log.info("Updating deployment [%s]: %s", deployment_id, update)
        with self.calling(f"updating deployment [{deployment_id}]"):
            self.es.ml.update_trained_model_deployment(model_id=deployment_id, **update)

    @staticmethod
    def allocation_update(existing: dict, settings: DeploymentSettings) -> dict[str, Any]:
        current_adaptive = existing.get("adaptive_allocations") or {}
        if settings.adaptive:
            wanted = settings.adaptive_allocations.model_dump(exclude_none=True)
            current = {k: v for k, v in current_adaptive.items() if v is not None}
            return {} if current == wanted else {"adaptive_allocations": wanted}
        update: dict[str, Any] = {}
        if current_adaptive.get("enabled"):
            update["adaptive_allocations"] = {"enabled": False}
        if existing.get("number_of_allocations") != settings.number_of_allocations or update:
            update["number_of_allocations"] = settings.number_of_allocations
        return update


class PutPipelineOperator(EsStageOperator):
    """Stage 5: the ingest pipeline with the inference processor. Unchanged: left alone; changed:
    put again with version + 1. Pushes pipeline_id, pipeline_version."""

    template_fields: Sequence[str] = (*EsStageOperator.template_fields, "model_id", "deployment_id")

    def __init__(self, *, model_id: str, deployment_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model_id = model_id
        self.deployment_id = deployment_id

    def execute(self, context: Any) -> dict[str, Any]:
        settings = self.run_settings[PipelineSettings]
        pipeline_id = settings.pipeline_id
        model_ref = self.deployment_id if settings.processor_model == "deployment_id" else self.model_id
        wanted = bodies.pipeline_definition(settings, model_ref)
        found = self.get_or_none(
            f"reading pipeline [{pipeline_id}]", self.es.ingest.get_pipeline, id=pipeline_id
        )
        stored = (found or {}).get(pipeline_id)
        if stored and bodies.same_pipeline(stored, wanted):
            self.log.info(
                "Pipeline [%s] version %s is up to date: leaving it", pipeline_id, stored.get("version")
            )
            return self.publish(context, pipeline_id=pipeline_id, pipeline_version=stored.get("version"))
        version = (stored.get("version") or 0) + 1 if stored else 1
        self.log.info(
            "%s pipeline [%s] as version %d", "Updating" if stored else "Creating", pipeline_id, version
        )
        with self.calling(f"putting pipeline [{pipeline_id}]"):
            self.es.ingest.put_pipeline(
                id=pipeline_id,
                version=version,
                description=wanted["description"],
                processors=wanted["processors"],
                on_failure=wanted["on_failure"],
                meta=wanted["_meta"],
            )
        return self.publish(context, pipeline_id=pipeline_id, pipeline_version=version)


class CreateDestIndexOperator(EsStageOperator):
    """Stage 6: the destination index with the source's mapping plus the embedding field typed for
    the model (sparse_vector for ELSER, dense_vector for text_embedding), marked as ours in
    `_meta`. An existing compatible index of ours is reused; anything else is an error."""

    template_fields: Sequence[str] = (
        *EsStageOperator.template_fields,
        "source_index",
        "dest_index",
        "model_id",
        "alias",
    )
    operator_extra_links = (KibanaIndexLink(),)

    def __init__(
        self, *, source_index: str, dest_index: str, model_id: str, alias: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.source_index = source_index
        self.dest_index = dest_index
        self.model_id = model_id
        # Recorded in _meta.alias: retention (es_embedding.lifecycle) only ever deletes an alias's own indices.
        self.alias = alias

    def execute(self, context: Any) -> dict[str, Any]:
        settings = self.run_settings[PipelineSettings]
        with self.calling(f"reading model [{self.model_id}]"):
            config = self.es.ml.get_trained_models(model_id=self.model_id)["trained_model_configs"][0]
        field_mapping = bodies.embedding_field_mapping(config)
        with self.calling(f"checking destination index [{self.dest_index}]"):
            exists = self.es.indices.exists(index=self.dest_index)
        if exists:
            self.check_reusable(settings, field_mapping)
            return self.publish(context, dest_index=self.dest_index, created=False)
        with self.calling(f"reading source index [{self.source_index}]"):
            sources = list(self.es.indices.get(index=self.source_index).values())
        meta = {
            "source_index": self.source_index,
            "model_id": self.model_id,
            "output_field": settings.output_field,
            "dag_run_id": context["run_id"],
            **({"alias": self.alias} if self.alias else {}),
        }
        body = bodies.dest_index_body(sources[0], settings, field_mapping, meta)
        self.log.info(
            "Creating [%s] with %s mapped as %s", self.dest_index, settings.output_field, field_mapping
        )
        try:
            with self.calling(f"creating destination index [{self.dest_index}]"):
                self.es.indices.create(index=self.dest_index, **body)
        except ClusterRequestError as exc:
            if exc.error_type != "resource_already_exists_exception":
                raise
            self.check_reusable(settings, field_mapping)
        return self.publish(context, dest_index=self.dest_index, created=True)

    def check_reusable(self, settings: PipelineSettings, field_mapping: dict) -> None:
        with self.calling(f"reading destination index [{self.dest_index}]"):
            entries = self.es.indices.get_mapping(index=self.dest_index)
        if self.dest_index not in entries:
            raise EmbeddingError(f"[{self.dest_index}] is an alias, not an index; choose another dest_index")
        mappings = entries[self.dest_index]["mappings"]
        actual = bodies.field_mapping_at(mappings, settings.output_field)
        problems = []
        if not bodies.managed_meta(mappings):
            problems.append(f"it was not created by {MANAGED_BY} (mapping _meta.managed_by)")
        if actual is None or any(actual.get(k) != v for k, v in field_mapping.items()):
            problems.append(f"its field [{settings.output_field}] is mapped as {actual}, not {field_mapping}")
        if problems:
            raise EmbeddingError(
                f"destination index [{self.dest_index}] exists and cannot be reused: {'; '.join(problems)}. "
                "Choose another Param 'dest_index' or delete that index"
            )
        self.log.info("Destination index [%s] exists and is compatible: reusing it", self.dest_index)


class ReindexStageOperator(EsStageOperator):
    """Base of the stages that write the source's documents into the destination through the
    deployment's ingest pipeline (StartReindexOperator, es_embedding.resume.CompleteIndexOperator):
    their arguments, all templated."""

    template_fields: Sequence[str] = (
        *EsStageOperator.template_fields,
        "source_index",
        "dest_index",
        "query",
        "deployment_id",
        "pipeline_id",
    )

    def __init__(
        self,
        *,
        source_index: str,
        dest_index: str,
        deployment_id: str,
        pipeline_id: str,
        query: dict | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source_index = source_index
        self.dest_index = dest_index
        self.deployment_id = deployment_id
        self.pipeline_id = pipeline_id
        self.query = query

    def copy_missing(self, settings: ReindexSettings) -> str:
        """Starts copying what the destination lacks from the source, without the pipeline
        (es_embedding.resume.copy_request); returns the ES task id."""
        # resume imports this module (its operator builds on ReindexStageOperator): imported here.
        from es_embedding.resume import copy_request

        request = copy_request(
            self.source_index,
            self.dest_index,
            self.query,
            slices=settings.slices,
            max_docs=settings.max_docs,
        )
        with self.calling(f"copying what [{self.dest_index}] lacks from [{self.source_index}]"):
            return self.hook.once().reindex(**request)["task"]


class StartReindexOperator(ReindexStageOperator):
    """Stage 7: `_reindex?wait_for_completion=false` through the pipeline, sized so that one round of
    batches (slices x batch_size) fits the deployment's queues. A reindex of the same source to
    the same destination that is still running is re-attached to, not started twice.
    The task id is kept in the task's `task_state_store` as soon as the cluster returns it, so a
    retry after a worker crash follows that task (running or completed) instead of starting another.
    When the destination already holds documents, only the missing ones are copied, without the
    pipeline (es_embedding.resume). Pushes es_task_id, batch_size, slices."""

    template_fields: Sequence[str] = (*ReindexStageOperator.template_fields, "mode")
    STORE_KEY = "reindex_task_id"  # task_state_store key; renaming it breaks retries in flight

    def __init__(self, *, mode: str = "full", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # incremental: the destination is the alias's index, full by design; its interval documents
        # are overwritten through the pipeline, never "copy only the missing ones".
        self.mode = mode

    def execute(self, context: Any) -> dict[str, Any]:
        from es_embedding.resume import TaskMemory  # imported here: see copy_missing

        settings = self.run_settings[ReindexSettings]
        memory = TaskMemory(context)
        if stored := memory.get(self.STORE_KEY):
            # A retry (worker crash, lost answer): the task this task instance started before.
            found = self.get_or_none(f"reading reindex task {stored}", self.es.tasks.get, task_id=stored)
            if found is not None:
                state = "completed" if found.get("completed") else "running"
                self.log.info("Reindex task %s started by an earlier try is %s: following it", stored, state)
                return self.publish(context, es_task_id=stored)
            self.log.warning("Reindex task %s started by an earlier try is lost (node restart?)", stored)
        with self.calling("listing running reindex tasks"):
            running = checks.running_reindex(
                dict(self.es.tasks.list(actions=checks.REINDEX_ACTIONS, detailed=True)),
                self.source_index,
                self.dest_index,
            )
        if running:
            self.log.info(
                "Reindex [%s] -> [%s] already running as %s: following it",
                self.source_index,
                self.dest_index,
                running,
            )
            memory.set(self.STORE_KEY, running)
            return self.publish(context, es_task_id=running)
        with self.calling(f"counting [{self.dest_index}]"):
            present = self.es.count(index=self.dest_index)["count"]
        if present and self.mode != "incremental":
            # An earlier try or run left documents (with embeddings or not): copying through the
            # pipeline again would pay their inference twice. Copy only what is missing, without
            # the pipeline; the resume step embeds what lacks an embedding.
            es_task_id = self.copy_missing(settings)
            memory.set(self.STORE_KEY, es_task_id)
            self.log.info(
                "[%s] already holds %d documents: task %s copies only the missing ones, without inference",
                self.dest_index,
                present,
                es_task_id,
            )
            return self.publish(context, es_task_id=es_task_id)
        queues = self.deployment_queues()
        slices = self.requested_slices(settings, queues)
        plan = plan_reindex(settings.batch_size, slices, queues, settings.requests_per_second)
        if plan.note:
            (self.log.warning if plan.resized else self.log.info)("Reindex sizing: %s", plan.note)
        request: dict[str, Any] = {
            "source": {
                "index": self.source_index,
                "query": self.query or {"match_all": {}},
                "size": plan.batch_size,
            },
            "dest": {"index": self.dest_index, "pipeline": self.pipeline_id},
            "wait_for_completion": False,
            "slices": plan.slices,
            "requests_per_second": plan.requests_per_second,
            "conflicts": settings.conflicts,
        }
        if settings.max_docs:
            request["max_docs"] = settings.max_docs
        with self.calling(f"starting reindex [{self.source_index}] -> [{self.dest_index}]"):
            es_task_id = self.hook.once().reindex(**request)["task"]
        # Kept before anything else can fail: a retry re-attaches to it instead of starting another.
        memory.set(self.STORE_KEY, es_task_id)
        with self.calling(f"reading reindex task {es_task_id}"):
            first = self.es.tasks.get(task_id=es_task_id)
        self.log.info("Reindex task %s: %s", es_task_id, (first.get("task") or {}).get("description"))
        self.log.info(
            "Reindex started as task %s (batch_size %d, slices %d)", es_task_id, plan.batch_size, plan.slices
        )
        return self.publish(context, es_task_id=es_task_id, batch_size=plan.batch_size, slices=plan.slices)

    def requested_slices(self, settings: ReindexSettings, queues: Queues) -> int:
        if settings.slices != "auto":
            return int(settings.slices)
        # ES's "auto" is one slice per shard; resolved here (at least two, see auto_slices) so that
        # the queue sizing knows the number.
        with self.calling(f"reading the shards of [{self.source_index}]"):
            entries = self.es.indices.get_settings(index=self.source_index, name="index.number_of_shards")
        shards = [int(e["settings"]["index"]["number_of_shards"]) for e in entries.values()]
        return auto_slices(min(shards) if shards else 1, queues.allocations)

    def deployment_queues(self) -> Queues:
        with self.calling(f"reading deployment [{self.deployment_id}]"):
            stats = checks.deployment_stats(dict(self.es.ml.get_trained_models_stats()), self.deployment_id)
        if stats is None:
            raise DeploymentFailedError(
                f"deployment [{self.deployment_id}] is not running; the reindex would fail"
            )
        return Queues.of(stats)


class VerifyEmbeddingsOperator(EsStageOperator):
    """Stage 9: the destination holds every document of the source query, each with its embedding,
    and a sample semantic query finds documents. Fails with the numbers otherwise."""

    template_fields: Sequence[str] = (
        *EsStageOperator.template_fields,
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
            if field_type == "dense_vector":
                builder = {"text_embedding": {"model_id": self.deployment_id, "model_text": text}}
                result = self.es.search(
                    index=self.dest_index,
                    knn={
                        "field": pipeline.output_field,
                        "k": 10,
                        "num_candidates": 50,
                        "query_vector_builder": builder,
                    },
                    size=10,
                )
            else:
                sparse = {"field": pipeline.output_field, "inference_id": self.deployment_id, "query": text}
                result = self.es.search(index=self.dest_index, query={"sparse_vector": sparse}, size=10)
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


class SwapAliasOperator(EsStageOperator):
    """Stage 10: points the alias at the destination in one atomic `_aliases` call (remove + add).

    Refuses an alias name that is a concrete index, or one that points at indices this package did
    not create. Pushes alias, previous_indices."""

    template_fields: Sequence[str] = (*EsStageOperator.template_fields, "alias", "dest_index")
    operator_extra_links = (KibanaIndexLink(),)

    def __init__(self, *, alias: str, dest_index: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alias = alias
        self.dest_index = dest_index

    def execute(self, context: Any) -> dict[str, Any]:
        found = self.get_or_none(f"reading alias [{self.alias}]", self.es.indices.get_alias, name=self.alias)
        current = sorted(found or {})
        if not current:
            with self.calling(f"checking [{self.alias}]"):
                if self.es.indices.exists(index=self.alias):
                    raise AliasError(
                        f"[{self.alias}] is a concrete index, not an alias; choose another Param 'alias'"
                    )
        if current == [self.dest_index]:
            self.log.info("Alias [%s] already points at [%s]", self.alias, self.dest_index)
            return self.publish(context, alias=self.alias, previous_indices=current)
        self.check_ours([*current, self.dest_index])
        actions = [
            {"remove": {"index": index, "alias": self.alias}} for index in current if index != self.dest_index
        ]
        actions.append({"add": {"index": self.dest_index, "alias": self.alias}})
        with self.calling(f"moving alias [{self.alias}] to [{self.dest_index}]"):
            self.es.indices.update_aliases(actions=actions)
        self.log.info("Alias [%s]: %s -> [%s]", self.alias, current or "(new)", self.dest_index)
        return self.publish(context, alias=self.alias, previous_indices=current)

    def check_ours(self, indices: list[str]) -> None:
        with self.calling("reading index mappings"):
            entries = self.es.indices.get_mapping(index=",".join(indices))
        foreign = [
            name
            for name in indices
            if not bodies.managed_meta((entries.get(name) or {}).get("mappings") or {})
        ]
        if foreign:
            raise AliasError(
                f"alias [{self.alias}] would move from or to indices not created by {MANAGED_BY}: "
                f"{', '.join(foreign)}; choose another Param 'alias' or move it by hand"
            )
