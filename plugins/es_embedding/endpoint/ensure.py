"""The inference endpoint, `ensure_endpoint`: creates it with the run's model and capacity, or
reuses it as it is (a preconfigured endpoint, or one that exists: never re-created, never changed,
since the indices that use it search with it).

Creating it is what Elasticsearch recommends for semantic_text: `PUT _inference/<task>/<id>` with
the `elasticsearch` service starts a deployment of the model named after the endpoint, with the
allocations, threads or adaptive allocations of Variable `embedding_deployment` (checked against the
free ML processors first, as `start_deployment` does), and the chunking of Variable
`embedding_inference`. The model is there already: `ensure_model` and `wait_model_download` ran.
"""

from __future__ import annotations

from typing import Any

from es_embedding.endpoint import known
from es_embedding.errors import ClusterRequestError, DeploymentFailedError, SettingsError
from es_embedding.model.deployment import StartDeploymentOperator, refused_for_capacity, still_starting
from es_embedding.settings import DeploymentSettings, InferenceSettings, es_time


def read_endpoint(stage: Any, inference_id: str) -> dict | None:
    """The endpoint as `GET _inference/<id>` lists it (preconfigured ones too), or None."""
    found = stage.get_or_none(
        f"reading inference endpoint [{inference_id}]", stage.es.inference.get, inference_id=inference_id
    )
    endpoints = (found or {}).get("endpoints") or []
    return next((e for e in endpoints if e.get("inference_id") == inference_id), None)


class EnsureEndpointOperator(StartDeploymentOperator):
    """`ensure_endpoint`: the inference endpoint exists, for the model `ensure_model` made ready.

    Creates it when absent (its deployment within the free ML processors, as `start_deployment`
    sizes one); reuses an existing or preconfigured one as it is, after checking it embeds with the
    run's model. Pushes inference_id, deployment_id (empty for endpoints of services outside the ML
    nodes), task_type, model_id (the endpoint's), preconfigured and created.
    """

    ui_color = "#e8e4ff"

    def execute(self, context: Any) -> dict[str, Any]:
        inference = self.run_settings[InferenceSettings]
        inference_id = inference.inference_id or known.default_inference_id(self.model_id)
        endpoint = read_endpoint(self, inference_id)
        created = False
        if endpoint is None:
            if known.is_preconfigured(inference_id):
                raise SettingsError(
                    f"Variable 'embedding_inference': key 'inference_id' has value \"{inference_id}\"; allowed: "
                    "an endpoint this cluster has (ids starting with '.' are Elasticsearch's preconfigured "
                    "ones, which it cannot create), or another id to create"
                )
            endpoint, created = self.create(inference_id, inference), True
        else:
            self.reuse(endpoint)
        return self.publish(
            context,
            inference_id=inference_id,
            deployment_id=known.deployment_of(endpoint) or "",  # XCom keeps no None
            task_type=endpoint.get("task_type"),
            model_id=known.endpoint_model(endpoint),
            preconfigured=known.is_preconfigured(inference_id),
            created=created,
        )

    def reuse(self, endpoint: dict) -> None:
        inference_id = endpoint["inference_id"]
        if problem := known.endpoint_problem(endpoint, self.model_id):
            raise DeploymentFailedError(problem)
        deployment = self.run_settings[DeploymentSettings]
        wanted = {"num_threads": deployment.threads_per_allocation}
        if deployment.adaptive:
            wanted["adaptive_allocations"] = deployment.adaptive_allocations.model_dump(exclude_none=True)
        else:
            wanted["num_allocations"] = deployment.number_of_allocations
        wanted = {key: value for key, value in wanted.items() if value != "auto"}
        if differences := known.capacity_differences(endpoint, wanted):
            self.log.warning(
                "Endpoint [%s] runs with %s: an existing endpoint is used as it is (a new inference_id in "
                "Variable 'embedding_inference' creates one with the Variable's capacity)",
                inference_id,
                "; ".join(differences),
            )
        self.log.info(
            "Endpoint [%s] exists (%s, service %s, model %s): using it as it is",
            inference_id,
            endpoint.get("task_type"),
            endpoint.get("service"),
            known.endpoint_model(endpoint),
        )

    def create(self, inference_id: str, inference: InferenceSettings) -> dict:
        with self.calling(f"reading model [{self.model_id}]"):
            config = self.es.ml.get_trained_models(model_id=self.model_id)["trained_model_configs"][0]
        task_type = known.task_type_for(config)
        if task_type is None:
            raise SettingsError(
                f"Variable 'embedding_model': key 'model_id' has value \"{self.model_id}\"; allowed with backend "
                f"semantic_text: a text_expansion (ELSER) or text_embedding (E5, ...) model; it has "
                f"{sorted(config.get('inference_config') or {})}"
            )
        settings = self.run_settings[DeploymentSettings]
        with self.calling("reading trained model stats"):
            all_stats = self.es.ml.get_trained_models_stats()["trained_model_stats"]
        # The deployment the endpoint starts is named after it: sized and checked as start_deployment does.
        settings = settings.model_copy(update={"deployment_id": inference_id})
        if settings.auto:
            settings = self.resolve_auto(settings, all_stats, None)
        self.capacity_check(settings, all_stats, settings.allocations_at_start)
        service_settings: dict[str, Any] = {
            "model_id": self.model_id,
            "num_threads": settings.threads_per_allocation,
        }
        if settings.adaptive:
            service_settings["adaptive_allocations"] = settings.adaptive_allocations.model_dump(
                exclude_none=True
            )
        else:
            service_settings["num_allocations"] = settings.number_of_allocations
        config_body: dict[str, Any] = {"service": known.SERVICE, "service_settings": service_settings}
        if inference.chunking_settings:
            config_body["chunking_settings"] = inference.chunking_settings
        self.log.info("Creating inference endpoint [%s] (%s): %s", inference_id, task_type, config_body)
        try:
            with self.calling(f"creating inference endpoint [{inference_id}]"):
                return dict(
                    self.hook.waiting(settings.timeout).inference.put(
                        task_type=task_type,
                        inference_id=inference_id,
                        inference_config=config_body,
                        timeout=es_time(settings.timeout),
                    )
                )
        except ClusterRequestError as exc:
            return self.created_anyway(exc, inference_id)

    def created_anyway(self, exc: ClusterRequestError, inference_id: str) -> dict:
        """The endpoint of a refused or timed-out create, when it exists all the same; else the error."""
        text = str(exc)
        if exc.error_type == "resource_already_exists_exception":
            self.log.info("Endpoint [%s] was created meanwhile: using it", inference_id)
        elif still_starting(exc):
            # Stored before its deployment started: the deployment keeps starting, wait_endpoint waits.
            self.log.info("Endpoint [%s] is stored; its deployment keeps starting: %s", inference_id, text)
        elif capacity := refused_for_capacity(exc):
            raise capacity from None
        else:
            raise exc
        endpoint = read_endpoint(self, inference_id)
        if endpoint is None:
            raise exc
        return endpoint
