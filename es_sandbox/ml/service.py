"""MlService: the ML subsystem of a sandbox cluster (trained models, deployments, inference).

Subsystem contract (see cluster.py) plus what other modules call:
    await infer(id, docs, inference_config=, timeout=)  ingest processors and query builders
    await infer_texts(id, texts, timeout=, input_type=)  inference endpoints (see its docstring)
    await start_deployment(StartRequest(...))           deployments, also an endpoint's own
    await assignments.update(id, n, adaptive, internal=True)   an endpoint's `_update`
    await assignments.stop(id, force=True, allow_no_match=True) an endpoint's DELETE
    endpoints.register(registry)                         the refusals of ML APIs for endpoints' deployments
    input_field(model_id)                                the model's first input field
    node_attributes(node)                                ml.* attributes for _nodes
    check_license()                                      403 on a basic license
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import fnmatch
import logging
import platform
import re
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from es_sandbox.errors import EsError, resource_not_found
from es_sandbox.ml import catalog, definitions
from es_sandbox.ml.adaptive import AdaptiveAllocations
from es_sandbox.ml.assignments import AssignmentManager, StartRequest
from es_sandbox.ml.downloads import Downloader
from es_sandbox.ml.endpoints import EndpointLinks
from es_sandbox.ml.errors import (
    bad_request,
    conflict,
    invalid,
    license_non_compliant,
    model_not_found,
    no_known_model,
)
from es_sandbox.ml.models import (
    Definition,
    TrainedModel,
    config_version,
    custom_model,
    lang_ident_model,
    packaged_model,
    validate_model_id,
)
from es_sandbox.ml.runners import ModelRunners
from es_sandbox.ml.serving import PREFIX_TYPES, Serving

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster, Node

log = logging.getLogger("es_sandbox.ml")

NOTIFICATIONS_INDEX = ".ml-notifications-000002"
TREE_DEFINITION_INDEX = ".ml-inference-000005"  # InferenceIndexConstants.LATEST_INDEX_NAME
MACHINE_MEMORY = 16 * (1 << 30)
MAX_JVM_SIZE = 4 * (1 << 30)
ML_MEMORY_MB = 6553  # 40% of the machine memory, as xpack.ml.max_machine_memory_percent does by default
NATIVE_CODE_OVERHEAD_MB = 30
_ALIAS_RE = re.compile(r"^[a-z0-9][a-z0-9_\-.]*[a-z_\-.]$|^[a-z]$")


class MlService:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.config = cluster.config
        self.version = config_version(cluster.config.version)
        self.models: dict[str, TrainedModel] = {}
        self.aliases: dict[str, str] = {}
        self.lang_ident = lang_ident_model()
        self.downloader = Downloader(self)
        self.assignments = AssignmentManager(self)
        self.adaptive = AdaptiveAllocations(self)
        self.serving = Serving(self)
        self.endpoints = EndpointLinks()
        self.runners = ModelRunners()
        self.notifications: list[dict[str, Any]] = []
        self._background: set[asyncio.Task[Any]] = set()

    # --- subsystem contract --------------------------------------------------------------------

    async def start(self) -> None:
        self.assignments.relaunch_all()
        self.adaptive.start()

    async def stop(self) -> None:
        await self.adaptive.stop()
        await self._cancel_background()

    def reset(self) -> None:
        self.downloader.cancel_all()
        for task in list(self._background):
            task.cancel()
        self._background.clear()
        self.adaptive.reset()
        for deployment in list(self.assignments.deployments.values()):
            self.assignments.remove(deployment)  # requests still queued fail as the process stops
        self.models.clear()
        self.runners.clear()
        self.aliases.clear()
        self.notifications.clear()

    def snapshot(self) -> dict[str, Any]:
        """Models (whatever of their definition is stored), aliases, and deployments: assignments live
        in the cluster state, so a full restart brings them back and the nodes load them again."""
        return {
            "models": [m.snapshot() for m in self.models.values()],
            "aliases": dict(self.aliases),
            "deployments": [d.snapshot() for d in self.assignments.deployments.values()],
        }

    def restore(self, state: dict[str, Any]) -> None:
        for model_state in state.get("models", []):
            model = TrainedModel.restore(model_state)
            self.models[model.model_id] = model
        self.aliases.update(state.get("aliases", {}))
        self.assignments.restore([dict(d) for d in state.get("deployments", [])])

    def on_node_restart(self) -> None:
        self.downloader.cancel_all()
        self.adaptive.reset()  # the scaler's estimates lived in the master node's memory
        self.assignments.restart_routes()

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _cancel_background(self) -> None:
        self.downloader.cancel_all()
        tasks = list(self._background)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- license, nodes, info ------------------------------------------------------------------

    def check_license(self) -> None:
        if not self.cluster.license.allows_ml:
            raise license_non_compliant()

    def licensed(self, model: TrainedModel) -> bool:
        return self.cluster.license.allows_ml or model.license_level == "basic"

    @property
    def ml_nodes(self) -> list[Node]:
        return [n for n in self.cluster.nodes if n.is_ml]

    @property
    def max_queue_capacity(self) -> int:
        """100,000 from 9.0 and late 8.x (#115041, backported ~8.17); 1,000,000 before."""
        return 100_000 if (self.config.major, self.config.minor) >= (8, 17) else 1_000_000

    @property
    def default_queue_capacity(self) -> int:
        return 10_000 if (self.config.major, self.config.minor) >= (8, 17) else 1024

    def node_attributes(self, node: Node) -> dict[str, str]:
        attributes = {
            "ml.config_version": self.version,
            "ml.machine_memory": str(MACHINE_MEMORY),
            "ml.max_jvm_size": str(MAX_JVM_SIZE),
        }
        if node.is_ml:
            attributes["ml.allocated_processors"] = str(node.ml_processors)
            attributes["ml.allocated_processors_double"] = f"{float(node.ml_processors)}"
        return dict(sorted(attributes.items()))

    def info(self) -> dict[str, Any]:
        limits: dict[str, Any] = {}
        nodes = self.ml_nodes
        if nodes:
            limits["max_single_ml_node_processors"] = max(n.ml_processors for n in nodes)
            limits["total_ml_processors"] = sum(n.ml_processors for n in nodes)
            limits["effective_max_model_memory_limit"] = f"{ML_MEMORY_MB - NATIVE_CODE_OVERHEAD_MB}mb"
        limits["total_ml_memory"] = f"{ML_MEMORY_MB * len(nodes)}mb" if nodes else "0b"
        return {
            "defaults": {
                "anomaly_detectors": {
                    "categorization_analyzer": {
                        "char_filter": ["first_line_with_letters"],
                        "tokenizer": "ml_standard",
                        "filter": [
                            {
                                "type": "stop",
                                "stopwords": [
                                    "Monday",
                                    "Tuesday",
                                    "Wednesday",
                                    "Thursday",
                                    "Friday",
                                    "Saturday",
                                    "Sunday",
                                    "Mon",
                                    "Tue",
                                    "Wed",
                                    "Thu",
                                    "Fri",
                                    "Sat",
                                    "Sun",
                                    "January",
                                    "February",
                                    "March",
                                    "April",
                                    "May",
                                    "June",
                                    "July",
                                    "August",
                                    "September",
                                    "October",
                                    "November",
                                    "December",
                                    "Jan",
                                    "Feb",
                                    "Mar",
                                    "Apr",
                                    "May",
                                    "Jun",
                                    "Jul",
                                    "Aug",
                                    "Sep",
                                    "Oct",
                                    "Nov",
                                    "Dec",
                                    "GMT",
                                    "UTC",
                                ],
                            },
                            {"type": "limit", "max_token_count": "100"},
                        ],
                    },
                    "model_memory_limit": "1gb",
                    "categorization_examples_limit": 4,
                    "model_snapshot_retention_days": 10,
                    "daily_model_snapshot_retention_after_days": 1,
                },
                "datafeeds": {"scroll_size": 1000},
                **self._platform_variant(),
            },
            "upgrade_mode": False,
            "native_code": {"version": self.config.version, "build_hash": "f3d5a6c0e0b1b2d1"},
            "limits": limits,
        }

    def ml_node_platform(self) -> str:
        """MlPlatformArchitecturesUtil: the ML nodes run on this host, `<os>-<arch>` as ES names it."""
        machine = platform.machine().lower()
        arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
        return f"{platform.system().lower()}-{arch}"

    def _platform_variant(self) -> dict[str, str]:
        """`defaults.model_platform_variant` (9.5+): linux-x86_64 when every ML node is linux-x86_64
        (or, with no ML nodes, on Elastic Cloud: never here), platform_agnostic otherwise."""
        if (self.config.major, self.config.minor) < (9, 5):
            return {}
        on_x86 = bool(self.ml_nodes) and self.ml_node_platform() == "linux-x86_64"
        return {"model_platform_variant": "linux-x86_64" if on_x86 else "platform_agnostic"}

    # --- collaborators (called defensively: ingest is another helper's module) -----------------

    def pipelines_referencing(self, ids: set[str]) -> list[str]:
        find = getattr(self.cluster.ingest, "pipelines_referencing", None)
        return list(find(ids)) if find is not None else []

    def model_ingest_stats(self, model_id: str, references: set[str]) -> dict[str, Any]:
        stats = getattr(self.cluster.ingest, "model_ingest_stats", None)
        return stats(model_id, references) if stats is not None else {}

    def audit(self, model_id: str, message: str, level: str = "info") -> None:
        """An inference audit notification, kept here and stored in .ml-notifications-000002."""
        doc = {
            "job_id": model_id,
            "job_type": "inference",
            "level": level,
            "message": message,
            "timestamp": int(time.time() * 1000),
            "node_name": self.cluster.master.name,
        }
        self.notifications.append(doc)
        try:
            self.cluster.indices.add_document(NOTIFICATIONS_INDEX, doc)
        except EsError:  # the notification index is best effort, as ES's auditor is
            log.debug("could not store ML notification %s", doc, exc_info=True)

    # --- look-ups --------------------------------------------------------------------------------

    def all_models(self) -> dict[str, TrainedModel]:
        return {self.lang_ident.model_id: self.lang_ident, **self.models}

    def expand_models(self, expression: str | None, *, allow_no_match: bool) -> list[TrainedModel]:
        """TrainedModelProvider.expandIds: explicit ids (or aliases) must exist; wildcards may match
        nothing only with allow_no_match."""
        models = self.all_models()
        tokens = [t.strip() for t in (expression or "_all").split(",") if t.strip()] or ["_all"]
        matched: dict[str, TrainedModel] = {}
        missing: list[str] = []
        for token in tokens:
            if token == "_all" or "*" in token:
                pattern = "*" if token == "_all" else token
                hits = [m for model_id, m in models.items() if fnmatch.fnmatchcase(model_id, pattern)]
                if not hits and not allow_no_match:
                    missing.append(token)
                matched.update((m.model_id, m) for m in hits)
            else:
                model = models.get(self.aliases.get(token, token))
                if model is None:
                    missing.append(token)
                else:
                    matched[model.model_id] = model
        if missing:
            raise no_known_model(",".join(missing))
        return sorted(matched.values(), key=lambda m: m.model_id)

    def model(self, model_id: str) -> TrainedModel:
        """A direct look-up by id or alias (Messages.INFERENCE_NOT_FOUND when unknown)."""
        model = self.all_models().get(self.aliases.get(model_id, model_id))
        if model is None:
            raise model_not_found(model_id)
        return model

    def aliases_of(self, model_id: str) -> list[str]:
        return sorted(alias for alias, target in self.aliases.items() if target == model_id)

    def input_field(self, model_id: str) -> str:
        deployment = self.assignments.deployments.get(model_id)
        return self.model(deployment.model_id if deployment else model_id).input_field

    # --- models ----------------------------------------------------------------------------------

    async def put_model(
        self,
        model_id: str,
        body: dict[str, Any],
        *,
        wait_for_completion: bool,
        defer_decompression: bool = False,
    ) -> dict[str, Any]:
        """PutTrainedModelAction: the body parsed and validated first (REST layer), then the licence,
        then TransportPutTrainedModelAction's checks in its order."""
        custom = None if model_id.startswith(".") else custom_model(model_id, body, self.version)
        if model_id.startswith("."):
            validate_model_id(model_id)
        elif defer_decompression and not custom.model_size_bytes and custom.compressed_unparsed is not None:
            raise invalid(
                "when [defer_definition_decompression] is true and a compressed definition is provided, "
                "model_size_bytes must be set"
            )
        self.check_license()
        if custom is not None:
            self._check_definition(custom, defer_decompression)
        if model_id in self.aliases:
            raise bad_request(
                f"requested model_id [{model_id}] is the same as an existing model_alias. "
                "Model model_aliases and ids must be unique"
            )
        if model_id in self.assignments.deployments:
            raise bad_request(
                f"Cannot create model [{model_id}] the id is the same as an current model deployment"
            )
        running = self.downloader.running.get(model_id)
        if running is not None:  # a concurrent create: answer with the model being downloaded
            if wait_for_completion:
                await running.done.wait()
            return self.models[model_id].to_xcontent()
        if model_id in self.all_models():
            raise EsError(
                400,
                "resource_already_exists_exception",
                f"Trained machine learning model [{model_id}] already exists",
            )
        if custom is None:
            return await self._put_packaged(model_id, body, wait_for_completion)
        self.models[model_id] = custom
        return custom.to_xcontent()

    def _check_definition(self, model: TrainedModel, defer: bool) -> None:
        """masterOperation's definition checks; what it stores: size, operations, or a location."""
        if model.inline is None and model.compressed_unparsed is not None and not defer:
            model.inline = definitions.decompress(model.model_id, model.compressed_unparsed)
        if model.inline is None:
            model.location = {
                "index": {
                    "name": catalog.NATIVE_DEFINITION_INDEX
                    if model.model_type == "pytorch"
                    else TREE_DEFINITION_INDEX
                }
            }
            return
        model.compressed_unparsed = None
        definitions.validate(model.model_id, model.inline)
        if model.model_type is None:
            model.model_type = "tree_ensemble"
        elif model.model_type != "tree_ensemble":
            raise bad_request(
                f"model_type [{model.model_type}] does not match the model definition type [tree_ensemble]"
            )
        target = model.inline.target_type
        if model.task_type != target:
            raise bad_request(
                f"Model [{model.model_id}] inference config type [{model.task_type}] does not support definition "
                f"target type [{target}]"
            )
        model.model_size_bytes = model.inline.size_estimate()
        model.estimated_operations = model.inline.model.estimated_operations()

    async def _put_packaged(self, model_id: str, body: dict[str, Any], wait: bool) -> dict[str, Any]:
        package = catalog.PACKAGES.get(model_id)
        if package is None:
            raise resource_not_found(f"Failed to retrieve model package config for model [{model_id[1:]}]")
        model = packaged_model(model_id, package, body, self.version)
        self.models[model_id] = model
        download = self.downloader.start(model, package)
        response = model.to_xcontent()
        if wait:
            await download.done.wait()
            if download.error is not None:
                raise download.error
        return response

    def put_definition_part(self, model_id: str, part: int, body: dict[str, Any]) -> dict[str, Any]:
        total_length = int(body.get("total_definition_length") or 0)
        total_parts = int(body.get("total_parts") or 0)
        problems = []
        if body.get("definition") is None:
            problems.append("[definition] must not be null")
        if part < 0:
            problems.append("[part] must be greater or equal to 0")
        if total_parts <= 0:
            problems.append("[total_parts] must be greater than 0")
        if part >= total_parts:
            problems.append("[part] must be less than total_parts")
        if total_length <= 0:
            problems.append("[total_definition_length] must be greater than 0")
        if problems:
            raise invalid(*problems)
        self.check_license()
        model = self.models.get(model_id)
        if model is None:
            raise model_not_found(model_id)
        try:
            data = base64.b64decode(body["definition"], validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise bad_request(
                f"[definition] of model [{model_id}] part [{part}] is not valid base64"
            ) from None
        if model.definition is None:
            model.definition = Definition(total_length, total_parts)
        if part in model.definition.part_lengths:
            raise EsError(
                400,
                "resource_already_exists_exception",
                f"Trained machine learning model chunked doc [{model_id}][{part}] already exists",
            )
        model.definition.part_lengths[part] = len(data)
        model.definition.part_bytes[part] = data
        self.runners.forget(model_id)
        return {"acknowledged": True}

    def put_vocabulary(self, model_id: str, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("vocabulary") is None:
            raise invalid("[vocabulary] must not be null")
        self.check_license()
        model = self.models.get(model_id)
        if model is None:
            raise model_not_found(model_id)
        if model.model_type != "pytorch":
            raise bad_request(f"cannot put vocabulary for model [{model_id}] as it is not an NLP model")
        model.has_vocabulary = True
        model.vocabulary = [str(token) for token in body["vocabulary"]]
        self.runners.forget(model_id)
        return {"acknowledged": True}

    def delete_model(self, model_id: str, *, force: bool) -> dict[str, Any]:
        """TransportDeleteTrainedModelAction: any running download is cancelled first, then the checks."""
        if model_id == self.lang_ident.model_id:
            raise bad_request(f"Unable to delete model [{model_id}] as it is required by machine learning")
        self.downloader.cancel(model_id, "by user request")
        if not force and self.pipelines_referencing({model_id}):
            raise conflict(
                f"Cannot delete model [{model_id}] as it is still referenced by ingest processors; use force to delete the model"
            )
        aliases = self.aliases_of(model_id)
        if not force:
            for alias in aliases:
                if self.pipelines_referencing({alias}):
                    raise conflict(
                        f"Cannot delete model [{model_id}] as it has a model_alias [{alias}] that is still referenced by "
                        "ingest processors; use force to delete the model"
                    )
        deployments = self.assignments.using_model(model_id)
        if deployments and not force:
            raise conflict(
                f"Cannot delete model [{model_id}] as it is currently deployed; use force to delete the model"
            )
        for deployment in deployments:
            self.assignments.remove(deployment)
        if model_id not in self.models:
            raise model_not_found(model_id)
        for alias in aliases:
            del self.aliases[alias]
        del self.models[model_id]
        self.runners.forget(model_id)
        return {"acknowledged": True}

    def put_alias(self, model_id: str, alias: str, *, reassign: bool) -> dict[str, Any]:
        problems = []  # PutTrainedModelAliasAction.Request.validate: both problems when both apply
        if alias == model_id:
            problems.append(f"model_alias [{alias}] cannot equal model_id [{model_id}]")
        if not _ALIAS_RE.match(alias):
            problems.append(
                f"Invalid model_alias; '{alias}' can contain lowercase alphanumeric (a-z and 0-9), hyphens or "
                "underscores; must start with alphanumeric and cannot end with numbers"
            )
        if problems:
            raise invalid(*problems)
        old_id = self.aliases.get(alias)
        if old_id is not None and not reassign:
            raise bad_request(
                f"cannot assign model_alias [{alias}] to model_id [{model_id}] as model_alias already refers to "
                f"[{old_id}]. Set parameter [reassign] to [true] if model_alias should be reassigned."
            )
        models = self.all_models()
        if alias in models:
            raise bad_request("model_alias cannot be the same as an existing trained model_id")
        new = models.get(model_id)
        if new is None:
            raise no_known_model(model_id)
        if not self.licensed(new):
            raise license_non_compliant()
        old = models.get(old_id) if old_id else None
        if old is not None:
            self._check_reassign(alias, new, old)
        self.aliases[alias] = model_id
        return {"acknowledged": True}

    def _check_reassign(self, alias: str, new: TrainedModel, old: TrainedModel) -> None:
        if new.task_type and old.task_type and new.task_type != old.task_type:
            raise bad_request(
                f"cannot reassign model_alias [{alias}] to model [{new.model_id}] with inference config type "
                f"[{new.task_type}] from model [{old.model_id}] with type [{old.task_type}]"
            )
        if new.model_type != old.model_type:
            raise bad_request(
                f"cannot reassign model_alias [{alias}] to model [{new.model_id}] with type [{new.model_type}] "
                f"from model [{old.model_id}] with type [{old.model_type}]"
            )
        if new.model_type == "pytorch" and self.assignments.using_model(old.model_id):
            if not self.assignments.using_model(new.model_id):
                raise bad_request(
                    f"cannot reassign model_alias [{alias}] to model [{new.model_id}] from model [{old.model_id}] "
                    "as it is not yet deployed"
                )

    def delete_alias(self, model_id: str, alias: str) -> dict[str, Any]:
        target = self.aliases.get(alias)
        if target is None:
            raise resource_not_found(f"trained model alias [{alias}] does not exist")
        if target != model_id:
            raise conflict(f"trained model alias [{alias}] does not refer to provided model id [{model_id}]")
        if self.pipelines_referencing({alias}):
            raise conflict(
                f"Cannot delete model_alias [{alias}] as it is still referenced by ingest processors"
            )
        del self.aliases[alias]
        return {"acknowledged": True}

    # --- deployments -----------------------------------------------------------------------------

    async def start_deployment(self, request: StartRequest) -> dict[str, Any]:
        return await self.assignments.start(request)

    # --- inference -------------------------------------------------------------------------------

    async def infer(
        self,
        model_id: str,
        docs: list[dict[str, Any]],
        *,
        inference_config: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> list[dict[str, Any]]:
        """`_infer`, ingest processors and query builders: one result per doc, shaped as `_infer`
        returns it. `timeout=None` waits as long as it takes (ingest)."""
        return await self.serving.infer(model_id, docs, inference_config=inference_config, timeout=timeout)

    async def infer_texts(
        self,
        target_id: str,
        texts: list[str],
        *,
        timeout: float | None,
        input_type: str | None = None,
        inference_config: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Inference for an `_inference` endpoint (or any caller with plain texts), as the
        `elasticsearch` service sends it (InferModelAction.Request.forTextInput).

        target_id        the endpoint's deployment id (= its inference id when the endpoint created the
                         deployment), or a model id or alias
        texts            one model input each, in order; one result each, in the same order
        timeout          seconds; None waits as long as it takes (ES's bulk path for semantic_text);
                         `_inference` POST uses 30, query-time inference 10
        input_type       "search" or "ingest" (None: neither): the model's prefix string for it is put
                         before each text (E5: "query: " / "passage: "); "search" is also served before
                         queued normal requests (high priority), as ES does for search-time inference
        inference_config an update of the model's config, as `_infer` takes it

        Each result is the `_infer` result: {"predicted_value": <tokens -> weights> (text_expansion)
        or <floats> (text_embedding)}, plus "is_truncated": true only when the input was cut.

        It costs what any inference costs: each text is one request on a route's queue (429
        es_rejected_execution_exception "inference process queue is full. Unable to execute command"
        when full, or when the `inference_rejection` fault says so), served by an allocation at
        inference_ms / thread speed-up; a timeout answers 408. A deployment scaled to zero is woken
        and the request waits for its first allocation (429 when 100 requests already wait, 408 after
        `timeout`, 409 when the deployment is stopped meanwhile). Errors are EsError (status, type,
        reason as ES words them); the first failed text fails the call, as ES fails the request.
        """
        if input_type not in (None, *PREFIX_TYPES):
            raise ValueError(f"input_type must be one of {PREFIX_TYPES} or None, got {input_type!r}")
        model, _ = self.serving.target(target_id)
        docs = [{model.input_field: text} for text in texts]
        return await self.serving.infer(
            target_id,
            docs,
            inference_config=inference_config,
            timeout=timeout,
            prefix_type=input_type,
            high_priority=input_type == "search",
        )
