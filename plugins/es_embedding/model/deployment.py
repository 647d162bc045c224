"""The deployment: `start_deployment` starts it (or reuses and resizes it) within the ML processors
the cluster has free, and `wait_deployment` waits until it is allocated."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from es_embedding import checks
from es_embedding.base import EsStage
from es_embedding.errors import CapacityError, ClusterRequestError, DeploymentFailedError
from es_embedding.links import KibanaModelLink
from es_embedding.settings import DeploymentSettings, es_time
from es_embedding.sizing import capacity_for, capacity_problem, choose_deployment
from es_embedding.triggers import DeploymentStateTrigger
from es_embedding.waits import EsWait


def still_starting(exc: ClusterRequestError) -> bool:
    """A start that timed out server-side (408): the deployment keeps starting, and a wait follows it."""
    return exc.status == 408 and "Timed out after" in str(exc)


def refused_for_capacity(exc: ClusterRequestError) -> CapacityError | None:
    """A start refused for lack of ML capacity (429), as the error that says what to change; else None."""
    text = str(exc)
    if exc.status == 429 and ("capacity" in text or "not enough resources" in text):
        return CapacityError(
            f"{text}. Lower number_of_allocations or threads_per_allocation in Variable "
            "'embedding_deployment', stop other deployments, or add ML capacity"
        )
    return None


class StartDeploymentOperator(EsStage):
    """`start_deployment`: the deployment runs with the Variable's parameters.

    New: checks free ML processors first and fails with the numbers and what to change. Existing:
    reused; its allocations updated when they differ (threads, queue and priority cannot change
    without a restart, so a difference there is only reported). Pushes deployment_id, model_id.
    """

    template_fields: Sequence[str] = (
        *EsStage.template_fields,
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
        elif still_starting(exc):
            # The deployment keeps starting; the sensor waits for it.
            self.log.info("Start call timed out server-side; the deployment keeps starting: %s", text)
        elif capacity := refused_for_capacity(exc):
            raise capacity from None
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


class DeploymentStateSensor(EsWait):
    """`wait_deployment`: waits until the deployment is `started` or `fully_allocated` (Variable
    `embedding_deployment.wanted_state`), logging per-node routing reasons; fails on `failed`.
    Returns the deployment's allocation_count, threads_per_allocation and queue_capacity."""

    template_fields: Sequence[str] = (*EsWait.template_fields, "deployment_id")
    failure = DeploymentFailedError
    bound_setting = "Variable 'embedding_deployment': key 'wait_timeout'"

    def __init__(self, *, deployment_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deployment_id = deployment_id

    @property
    def deployment(self) -> DeploymentSettings:
        return self.run_settings[DeploymentSettings]

    def wait_bounds(self) -> tuple[float, float]:
        return self.deployment.wait_timeout, self.deployment.poll_interval

    def make_trigger(self, poll_interval: float) -> DeploymentStateTrigger:
        return DeploymentStateTrigger(
            deployment_id=self.deployment_id,
            wanted_state=self.deployment.wanted_state,
            conn_id=self.es_conn_id,
            poll_interval=poll_interval,
        )
