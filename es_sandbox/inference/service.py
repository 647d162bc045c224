"""InferenceService: the `_inference` subsystem of a sandbox cluster (endpoints of the `elasticsearch`
service, their deployments through the ML subsystem, and inference with them).

Subsystem contract (see cluster.py) plus what other modules call:
    endpoint(inference_id)                 a stored or preconfigured endpoint (404 when unknown)
    await embed(endpoint, texts, input_type=, timeout=)
                                           one embedding per text, through the endpoint's deployment
                                           (semantic_text ingestion and queries)
"""

from __future__ import annotations

import asyncio
import platform
import re
import time
from typing import TYPE_CHECKING, Any

from es_sandbox.errors import EsError, resource_not_found, status_exception, validation_failed
from es_sandbox.inference import endpoints as ep
from es_sandbox.inference.chunking import OLD_DEFAULT_SETTINGS, parse_chunking_settings
from es_sandbox.inference.ingestion import SemanticTextWriteStep
from es_sandbox.inference.semantic_text import indices_using, minimal_service_settings
from es_sandbox.ml.assignments import StartRequest
from es_sandbox.ml.endpoints import EndpointUse

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster
    from es_sandbox.ml.deployments import Deployment

DEFAULT_TIMEOUT = 30.0
_VALID_ID = re.compile(r"^[a-z0-9](?:[a-z0-9_\-.]*[a-z0-9])?$")
# InputType.fromRestString: what a REST caller may name (the internal ones are refused).
REST_INPUT_TYPES = ("ingest", "search", "unspecified", "classification", "clustering")
# buildInferenceRequest: the model's prefix (and priority) follows the input type.
PREFIX_TYPE_OF = {
    "search": "search",
    "internal_search": "search",
    "ingest": "ingest",
    "internal_ingest": "ingest",
}


def license_non_compliant() -> EsError:
    """LicenseUtils.newComplianceException("inference"): the API needs an enterprise licence or a trial."""
    return EsError(
        403,
        "security_exception",
        "current license is non-compliant for [inference]",
        extra={"license.expired.feature": "inference"},
    )


def endpoint_not_found(inference_id: str) -> EsError:
    return resource_not_found(f"Inference endpoint not found [{inference_id}]")


def mismatched_task_type(requested: str, actual: str) -> EsError:
    return status_exception(
        400, f"Requested task type [{requested}] does not match the inference endpoint's task type [{actual}]"
    )


class InferenceService:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.config = cluster.config
        self.endpoints: dict[str, ep.Endpoint] = {}
        self._starting: dict[str, asyncio.Future[None]] = {}
        cluster.ml.endpoints.register(self)  # the _ml APIs refuse to change deployments endpoints manage
        cluster.documents.register_write_step(SemanticTextWriteStep(self))

    # --- subsystem contract --------------------------------------------------------------------

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        for future in self._starting.values():
            future.cancel()

    def reset(self) -> None:
        self.endpoints.clear()
        self._starting.clear()

    def snapshot(self) -> dict[str, Any]:
        return {"endpoints": [e.snapshot() for e in self.endpoints.values()]}

    def restore(self, state: dict[str, Any]) -> None:
        for endpoint_state in state.get("endpoints", []):
            endpoint = ep.Endpoint.restore(endpoint_state)
            self.endpoints[endpoint.inference_id] = endpoint

    def on_node_restart(self) -> None:
        pass

    # --- versions, licence, platform -----------------------------------------------------------

    @property
    def version(self) -> tuple[int, int]:
        return self.config.major, self.config.minor

    @property
    def available(self) -> bool:
        """The sandbox answers as a cluster without the API before 8.15 (see the reference notes)."""
        return self.version >= (8, 15)

    @property
    def has_preconfigured(self) -> bool:
        return self.version >= (8, 16)

    def check_license(self) -> None:
        if not self.cluster.license.allows_ml:
            raise license_non_compliant()

    def linux_x86_nodes(self) -> bool:
        """Whether every ML node runs linux-x86_64 (the sandbox's nodes run where the sandbox runs)."""
        return (
            bool(self.cluster.ml.ml_nodes)
            and platform.system() == "Linux"
            and platform.machine().lower() in ("x86_64", "amd64")
        )

    # --- look-ups ------------------------------------------------------------------------------

    def preconfigured(self) -> dict[str, ep.Endpoint]:
        if not self.has_preconfigured:
            return {}
        return ep.preconfigured_endpoints(self.linux_x86_nodes())

    def all_endpoints(self) -> list[ep.Endpoint]:
        found = {**self.preconfigured(), **self.endpoints}
        return [found[i] for i in sorted(found)]

    def endpoint(self, inference_id: str) -> ep.Endpoint:
        found = self.endpoints.get(inference_id) or self.preconfigured().get(inference_id)
        if found is None:
            raise endpoint_not_found(inference_id)
        return found

    def endpoints_using_deployment(self, deployment_id: str) -> list[EndpointUse]:
        """ml.endpoints.EndpointRegistry: the endpoints that created or attached to a deployment."""
        uses = []
        for endpoint in [*self.endpoints.values(), *self.preconfigured().values()]:
            if endpoint.deployment_name == deployment_id:
                uses.append(EndpointUse(endpoint.inference_id, endpoint.creates_deployment))
        return uses

    def deployment_of(self, endpoint: ep.Endpoint) -> Deployment | None:
        return self.cluster.ml.assignments.deployments.get(endpoint.deployment_name)

    def render(self, endpoint: ep.Endpoint, *, live: bool = True) -> dict[str, Any]:
        """ModelConfigurations.toXContent; GET (live) shows the deployment's current allocations."""
        deployment = self.deployment_of(endpoint) if live else None
        body = endpoint.to_xcontent(deployment.number_of_allocations if deployment else None)
        if self.version < (8, 16):
            body.pop("chunking_settings", None)  # chunking settings came with 8.16
        return body

    def get(self, task_type: str, inference_id: str | None) -> dict[str, Any]:
        if inference_id in (None, "_all", "*"):
            found = [e for e in self.all_endpoints() if task_type in ("any", e.task_type)]
        else:
            endpoint = self.endpoint(inference_id)
            if task_type not in ("any", endpoint.task_type):
                raise mismatched_task_type(task_type, endpoint.task_type)
            found = [endpoint]
        return {"endpoints": [self.render(e) for e in found]}

    # --- create --------------------------------------------------------------------------------

    async def put(
        self, url_task_type: str, inference_id: str, body: dict[str, Any], timeout: float
    ) -> dict[str, Any]:
        if not _VALID_ID.match(inference_id.removeprefix(".")) or inference_id in ("_all",):
            raise validation_failed(
                f"Invalid inference_id; '{inference_id}' can contain lowercase alphanumeric (a-z and 0-9), "
                "hyphens or underscores; must start and end with alphanumeric"
            )
        self.check_license()
        if self.has_preconfigured and inference_id in ep.PRECONFIGURED_IDS:
            raise status_exception(
                400,
                f"[{inference_id}] is a reserved inference ID. Cannot create a new inference endpoint with a "
                "reserved ID.",
            )
        body = dict(body)
        task_type = ep.resolve_task_type(url_task_type, body.pop("task_type", None))
        service = body.get("service")
        if service is None:
            raise status_exception(400, "Inference endpoint configuration is missing the [service] setting")
        if service not in (ep.SERVICE, ep.OLD_ELSER_SERVICE):
            raise status_exception(400, f"Unknown service [{service}]")
        if self._assignments_named(inference_id):
            raise status_exception(
                400,
                f"Inference endpoint IDs must be unique. Requested inference endpoint ID [{inference_id}] matches "
                "existing trained model ID(s) but must not.",
            )
        endpoint = self._parse(inference_id, task_type, body)
        if inference_id in self.endpoints:
            raise EsError(
                400,
                "resource_already_exists_exception",
                f"Inference endpoint [{inference_id}] already exists",
            )
        if endpoint.custom_embedding:
            await self._learn_dimensions(endpoint, timeout)
        self.endpoints[inference_id] = endpoint  # stored before its deployment starts, as ES does
        if endpoint.creates_deployment:
            await self._start_deployment(endpoint, timeout)
        return self.render(endpoint, live=False)

    async def _learn_dimensions(self, endpoint: ep.Endpoint, timeout: float) -> None:
        """The validation of a custom text_embedding endpoint (before it is stored): its model is
        deployed and asked for one embedding, whose length becomes the endpoint's dimensions."""
        started = time.monotonic()
        if endpoint.creates_deployment:
            await self._start_deployment(endpoint, timeout)
        remaining = max(0.001, timeout - (time.monotonic() - started))
        (result,) = await self.cluster.ml.infer_texts(
            endpoint.deployment_name, ["how big is an embedding"], timeout=remaining
        )
        endpoint.dimensions = len(result.get("predicted_value") or [])

    def model_settings_of(self, inference_id: str) -> dict[str, Any] | None:
        """ModelRegistry.getMinimalServiceSettings: what a semantic_text field records of its endpoint
        (None when no such endpoint exists, or its embedding size is not known yet)."""
        found = self.endpoints.get(inference_id) or self.preconfigured().get(inference_id)
        if found is None:
            return None
        return minimal_service_settings(found)

    def _assignments_named(self, name: str) -> list[Deployment]:
        """TrainedModelAssignmentUtils.modelAssignments: deployments with that id or of that model."""
        return [
            d
            for d in self.cluster.ml.assignments.deployments.values()
            if name in (d.deployment_id, d.model_id)
        ]

    def _parse(self, inference_id: str, task_type: str, body: dict[str, Any]) -> ep.Endpoint:
        """ElasticsearchInternalService.parseRequestConfig."""
        if task_type not in ep.SERVICE_TASK_TYPES:
            raise ep.unsupported_task_type(task_type)
        request = ep.split_put_body(task_type, body)
        if self.version < (8, 16) and request.chunking is not None:
            request.chunking = OLD_DEFAULT_SETTINGS if "chunking_settings" not in body else request.chunking
        settings = request.service_settings
        model_id, deployment_id = settings.get("model_id"), settings.get("deployment_id")
        if deployment_id is not None:
            return self._attached(inference_id, task_type, model_id, deployment_id, request)
        if model_id is None:
            if request.service != ep.OLD_ELSER_SERVICE:
                raise EsError(
                    400,
                    "illegal_argument_exception",
                    "Error parsing service settings, model_id must be provided",
                )
            settings["model_id"] = ep.ELSER_V2_X86 if self.linux_x86_nodes() else ep.ELSER_V2
            model_id = settings["model_id"]
        parsed = ep.parse_service_settings(settings)
        similarity = element_type = None
        if model_id in ep.E5_IDS:
            self._check_e5_platform(model_id)
        elif model_id in ep.ELSER_IDS:
            self._check_elser_platform(model_id)
        elif model_id != ep.RERANKER:
            self._check_custom_model(model_id, task_type)
            if task_type == "text_embedding":
                similarity, element_type = ep.parse_embedding_settings(settings)
        if settings:
            raise ep.unknown_settings(settings)
        return ep.Endpoint(
            inference_id=inference_id,
            task_type=task_type,
            model_id=model_id,
            num_threads=parsed.num_threads,
            num_allocations=parsed.num_allocations,
            adaptive_allocations=parsed.adaptive_allocations,
            chunking=request.chunking,
            task_settings=request.task_settings,
            similarity=similarity,
            element_type=element_type,
        )

    def _check_e5_platform(self, model_id: str) -> None:
        if model_id == ep.E5_X86 and not self.linux_x86_nodes():
            raise EsError(
                400,
                "illegal_argument_exception",
                "Error parsing request config, model id does not match any models available on this platform. "
                f"Was [{model_id}]",
            )

    def _check_elser_platform(self, model_id: str) -> None:
        preferred = ep.ELSER_V2_X86 if self.linux_x86_nodes() else ep.ELSER_V2
        if model_id not in (preferred, ep.ELSER_V2):
            raise EsError(
                400,
                "illegal_argument_exception",
                "Error parsing request config, model id does not match any models available on this platform. "
                f"Was [{model_id}]. You may need to use a platform agnostic model.",
            )

    def _check_custom_model(self, model_id: str, task_type: str) -> None:
        model = self.cluster.ml.all_models().get(model_id)
        if model is None:
            raise EsError(
                400,
                "illegal_argument_exception",
                "Error parsing request config, model id does not match any models available on this platform. "
                f"Was [{model_id}]. You may need to load it into the cluster using eland.",
            )
        self._check_model_task(model_id, model.task_type, task_type)

    @staticmethod
    def _check_model_task(model_id: str, model_task: str | None, task_type: str) -> None:
        """ElasticsearchInternalService.throwIfUnsupportedTaskType."""
        mapped = ep.ENDPOINT_TASK_OF.get(model_task or "")
        if mapped is None:
            raise status_exception(
                400,
                f"Deployed model [{model_id}] has type [{model_task}] which does not map to any supported task types",
            )
        if mapped != task_type:
            raise status_exception(
                400,
                f"Deployed model [{model_id}] with type [{model_task}] does not match the requested task type "
                f"[{task_type}]",
            )

    def _attached(
        self,
        inference_id: str,
        task_type: str,
        model_id: str | None,
        deployment_id: str,
        request: ep.PutRequest,
    ) -> ep.Endpoint:
        """An endpoint on a deployment started through the trained models API: its allocations and
        threads are the deployment's."""
        deployment = self.cluster.ml.assignments.deployments.get(deployment_id)
        if deployment is None:
            raise status_exception(404, f"Cannot find deployment [{deployment_id}]")
        if model_id is not None and model_id != deployment.model_id:
            raise status_exception(
                400,
                f"Deployment [{deployment_id}] uses model [{deployment.model_id}] which does not match the model "
                f"[{model_id}] in the request.",
            )
        model = self.cluster.ml.all_models().get(deployment.model_id)
        self._check_model_task(deployment.model_id, model.task_type if model else None, task_type)
        similarity = element_type = None
        if task_type == "text_embedding" and deployment.model_id not in ep.E5_IDS:
            similarity, element_type = ep.parse_embedding_settings(request.service_settings)
        return ep.Endpoint(
            inference_id=inference_id,
            task_type=task_type,
            model_id=deployment.model_id,
            num_threads=deployment.threads_per_allocation,
            num_allocations=deployment.number_of_allocations,
            adaptive_allocations=deployment.adaptive_allocations,
            deployment_id=deployment_id,
            chunking=request.chunking,
            task_settings=request.task_settings,
            similarity=similarity,
            element_type=element_type,
        )

    async def _start_deployment(self, endpoint: ep.Endpoint, timeout: float) -> None:
        """BaseElasticsearchInternalService.start: a model the cluster lacks is downloaded first (to the
        end: the put waits for completion), then deployed under the endpoint's id, waiting until it has
        started or the timeout passed; a slow start answers 408 and goes on starting."""
        ml = self.cluster.ml
        if endpoint.model_id not in ml.all_models():
            await ml.put_model(
                endpoint.model_id, {"input": {"field_names": ["text_field"]}}, wait_for_completion=True
            )
        if self.deployment_of(endpoint) is not None:
            return  # "already started" counts as started
        request = StartRequest(
            model_id=endpoint.model_id,
            deployment_id=endpoint.deployment_name,
            number_of_allocations=endpoint.num_allocations,
            threads_per_allocation=endpoint.num_threads,
            queue_capacity=ml.default_queue_capacity,
            wait_for="started",
            timeout=timeout,
            adaptive_allocations=endpoint.adaptive_allocations,
        )
        await ml.start_deployment(request)

    async def ensure_deployed(self, endpoint: ep.Endpoint, timeout: float) -> None:
        """A preconfigured endpoint deploys on first use (maybeStartDeployment); concurrent first uses
        wait for the one start."""
        if not endpoint.preconfigured or self.deployment_of(endpoint) is not None:
            return
        running = self._starting.get(endpoint.inference_id)
        if running is None:
            running = asyncio.get_running_loop().create_future()
            self._starting[endpoint.inference_id] = running
            try:
                await self._start_deployment(endpoint, timeout)
                running.set_result(None)
            except BaseException as exc:
                running.set_exception(exc)
                running.exception()  # retrieved here: waiters re-raise it
                raise
            finally:
                self._starting.pop(endpoint.inference_id, None)
            return
        await asyncio.wait_for(asyncio.shield(running), timeout)

    # --- delete --------------------------------------------------------------------------------

    def references(self, inference_id: str) -> tuple[list[str], list[str]]:
        """Pipelines whose inference processor names the endpoint, and indices whose semantic_text
        fields use it."""
        return self.cluster.ml.pipelines_referencing({inference_id}), indices_using(
            self.cluster, inference_id
        )

    @staticmethod
    def reference_error(inference_id: str, pipelines: list[str], indexes: list[str]) -> str:
        text = ""
        if pipelines:
            text += (
                f"Inference endpoint {inference_id} is referenced by pipelines: [{', '.join(pipelines)}]. Ensure that "
                "no pipelines are using this inference endpoint, or use force to ignore this warning and delete the "
                "inference endpoint."
            )
        if indexes:
            text += (
                f" Inference endpoint {inference_id} is being used in the mapping for indexes: [{', '.join(indexes)}]. "
                "Ensure that no index mappings are using this inference endpoint, or use force to ignore this warning "
                "and delete the inference endpoint."
            )
        return text

    async def delete(
        self, task_type: str, inference_id: str, *, force: bool, dry_run: bool
    ) -> dict[str, Any]:
        endpoint = self.endpoint(inference_id)
        if task_type not in ("any", endpoint.task_type):
            raise mismatched_task_type(task_type, endpoint.task_type)
        pipelines, indexes = self.references(inference_id)
        if dry_run:
            return {
                "acknowledged": False,
                "pipelines": pipelines,
                "indexes": indexes,
                "error_message": self.reference_error(inference_id, pipelines, indexes),
            }
        if endpoint.preconfigured and not force:
            raise status_exception(
                400,
                f"[{inference_id}] is a reserved inference endpoint. Use the force=true query parameter to delete "
                "the inference endpoint.",
            )
        if not force and (pipelines or indexes):
            raise status_exception(409, self.reference_error(inference_id, pipelines, indexes))
        if endpoint.creates_deployment:
            await self.cluster.ml.assignments.stop(endpoint.deployment_name, force=True, allow_no_match=True)
        self.endpoints.pop(inference_id, None)  # a preconfigured endpoint stays listed, undeployed
        return {"acknowledged": True, "pipelines": [], "indexes": []}

    # --- update --------------------------------------------------------------------------------

    async def update(self, url_task_type: str, inference_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """TransportUpdateInferenceModelAction for the elasticsearch service: allocations (or adaptive
        allocations) go to the deployment, chunking settings are replaced."""
        body = dict(body)
        task_type = (
            ep.resolve_task_type(url_task_type, body.pop("task_type", None))
            if (url_task_type != "any" or "task_type" in body)
            else None
        )
        endpoint = self.endpoints.get(inference_id)
        if endpoint is None:
            if inference_id not in self.preconfigured():
                raise resource_not_found(
                    f"The inference endpoint [{inference_id}] does not exist and cannot be updated"
                )
            endpoint = self.preconfigured()[inference_id]
        if inference_id.startswith("."):
            raise status_exception(400, f"Default endpoint [{inference_id}] cannot be updated")
        self.check_license()
        if task_type is not None and task_type != endpoint.task_type:
            raise status_exception(400, "Task type must match the task type of the existing endpoint")
        service_settings = dict(body.pop("service_settings", None) or {})
        task_settings = body.pop("task_settings", None)
        chunking_raw = body.pop("chunking_settings", None)
        if body:
            raise ep.unknown_settings(body)
        allocations, adaptive = self._allocation_update(endpoint, service_settings)
        if service_settings:
            raise ep.unknown_settings(service_settings)
        chunking = endpoint.chunking
        if chunking_raw is not None:
            chunking = parse_chunking_settings(chunking_raw, default_when_empty=True)
        changed = (allocations, adaptive) != (endpoint.num_allocations, endpoint.adaptive_allocations)
        if changed:
            deployment = self.deployment_of(endpoint)
            if deployment is None:
                raise resource_not_found(
                    f"Requested model ID [{inference_id}] does not have a matching trained model and thus cannot be "
                    "updated."
                )
            if not endpoint.creates_deployment:
                raise status_exception(
                    409,
                    f"Cannot update inference endpoint [{inference_id}] using model deployment "
                    f"[{endpoint.deployment_name}]. The model deployment must be updated through the trained models API.",
                )
            await self.cluster.ml.assignments.update(
                endpoint.deployment_name, allocations, adaptive, internal=True
            )
        endpoint.num_allocations, endpoint.adaptive_allocations = allocations, adaptive
        endpoint.chunking = chunking
        if task_settings:
            endpoint.task_settings = {**endpoint.task_settings, **task_settings}
        return self.render(endpoint)

    @staticmethod
    def _allocation_update(
        endpoint: ep.Endpoint, settings: dict[str, Any]
    ) -> tuple[int | None, dict[str, Any] | None]:
        """ElasticsearchInternalServiceSettings.updateServiceSettings: new allocations replace adaptive
        allocations and the other way round; giving both lets the deployment update refuse them."""
        if "num_allocations" not in settings and "adaptive_allocations" not in settings:
            return endpoint.num_allocations, endpoint.adaptive_allocations
        probe = {
            "num_threads": endpoint.num_threads,
            **{
                k: settings.pop(k) for k in list(settings) if k in ("num_allocations", "adaptive_allocations")
            },
        }
        parsed = ep.parse_service_settings(probe)
        return parsed.num_allocations, parsed.adaptive_allocations

    # --- inference -----------------------------------------------------------------------------

    async def infer(
        self,
        task_type: str,
        inference_id: str,
        inputs: list[str],
        *,
        input_type: str = "unspecified",
        timeout: float = DEFAULT_TIMEOUT,
    ) -> dict[str, Any]:
        """POST _inference: one embedding per input, in order, no chunking (the model truncates)."""
        self.check_license()
        endpoint = self.endpoint(inference_id)
        if task_type not in ("any", endpoint.task_type):
            raise status_exception(
                400,
                f"Incompatible task_type, the requested type [{task_type}] does not match the model type "
                f"[{endpoint.task_type}]",
            )
        if endpoint.task_type == "rerank":
            raise validation_failed(
                "Task type [rerank] cannot be used with InferenceAction.Request. Supported task types are "
                "[text_embedding, sparse_embedding, completion, any]"
            )
        results = await self.embed(endpoint, inputs, input_type=input_type, timeout=timeout)
        return {endpoint.task_type: results}

    async def embed(
        self,
        endpoint: ep.Endpoint,
        texts: list[str],
        *,
        input_type: str = "unspecified",
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> list[dict[str, Any]]:
        """One InferModelAction for the texts on the endpoint's deployment: queue, workers, rejections
        and faults are the ML subsystem's."""
        started = time.monotonic()
        await self.ensure_deployed(endpoint, timeout or DEFAULT_TIMEOUT)
        remaining = None if timeout is None else max(0.001, timeout - (time.monotonic() - started))
        results = await self.cluster.ml.infer_texts(
            endpoint.deployment_name, texts, timeout=remaining, input_type=PREFIX_TYPE_OF.get(input_type)
        )
        return [self._result(endpoint.task_type, result) for result in results]

    @staticmethod
    def _result(task_type: str, result: dict[str, Any]) -> dict[str, Any]:
        value = result.get("predicted_value")
        if task_type == "sparse_embedding":
            return {"is_truncated": bool(result.get("is_truncated", False)), "embedding": value}
        return {"embedding": value}
