"""Starting, stopping and updating deployments, and moving their routes through their states over
time (TransportStartTrainedModelDeploymentAction, TrainedModelAssignmentClusterService)."""

from __future__ import annotations

import asyncio
import fnmatch
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from es_sandbox.errors import EsError, resource_not_found, status_exception
from es_sandbox.ml.deployments import (
    STARTED,
    STARTING,
    STOPPING,
    Deployment,
    Route,
    no_capacity,
    plan_allocations,
)
from es_sandbox.ml.errors import (
    bad_request,
    conflict,
    invalid,
    missing_deployment,
    process_stopping,
    validation_exception,
)
from es_sandbox.ml.units import time_value_str

if TYPE_CHECKING:
    from es_sandbox.ml.service import MlService

MAX_THREADS_PER_ALLOCATION = 32
STUCK_POLL_SECONDS = 0.1


@dataclass
class StartRequest:
    """StartTrainedModelDeploymentAction.Request after the REST layer merged query and body."""

    model_id: str
    deployment_id: str
    number_of_allocations: int | None = None
    threads_per_allocation: int = 1
    queue_capacity: int = 10_000
    cache_size: int | None = None
    priority: str = "normal"
    wait_for: str = "started"
    timeout: float = 30.0
    adaptive_allocations: dict[str, Any] | None = None

    def problems(self, max_queue_capacity: int) -> list[str]:
        """Request.validate(), message for message and in its order."""
        found = []
        if self.wait_for not in ("started", "starting", "fully_allocated"):
            found.append(
                f"invalid [wait_for] state [{self.wait_for}]; must be one of [started,starting,fully_allocated"
            )
        adaptive_enabled = bool(
            self.adaptive_allocations and self.adaptive_allocations.get("enabled") is True
        )
        if self.number_of_allocations is not None:
            if self.number_of_allocations < 1:
                found.append("[number_of_allocations] must be a positive integer")
            if adaptive_enabled:
                found.append("[number_of_allocations] cannot be set if adaptive allocations is enabled")
        if self.threads_per_allocation < 1:
            found.append("[threads_per_allocation] must be a positive integer")
        if self.adaptive_allocations is not None:
            found += adaptive_problems(self.adaptive_allocations)
        threads = self.threads_per_allocation
        if threads > MAX_THREADS_PER_ALLOCATION or threads < 1 or threads & (threads - 1):
            found.append(
                f"[threads_per_allocation] must be a power of 2 less than or equal to {MAX_THREADS_PER_ALLOCATION}"
            )
        if self.queue_capacity < 1:
            found.append("[queue_capacity] must be a positive integer")
        if self.queue_capacity > max_queue_capacity:
            found.append(f"[queue_capacity] must be less than {max_queue_capacity}")
        if self.timeout <= 0:
            found.append("[timeout] must be positive")
        if self.priority == "low":
            if self.number_of_allocations is not None and self.number_of_allocations > 1:
                found.append("[number_of_allocations] must be 1 when [priority] is low")
            if threads > 1:
                found.append("[threads_per_allocation] must be 1 when [priority] is low")
        return found

    @property
    def allocations(self) -> int:
        """computeNumberOfAllocations: adaptive allocations start at their minimum (at least 1)."""
        if self.number_of_allocations is not None:
            return self.number_of_allocations
        minimum = (self.adaptive_allocations or {}).get("min_number_of_allocations")
        return minimum if minimum else 1


def adaptive_problems(settings: dict[str, Any]) -> list[str]:
    """AdaptiveAllocationsSettings.validate()."""
    found = []
    low, high = settings.get("min_number_of_allocations"), settings.get("max_number_of_allocations")
    has_low, has_high = low not in (None, -1), high not in (None, -1)
    if has_low and low < 0:
        found.append("[min_number_of_allocations] must be a non-negative integer or null")
    if has_high and high < 1:
        found.append("[max_number_of_allocations] must be a positive integer or null")
    if has_low and has_high and low > high:
        found.append("[min_number_of_allocations] must not be larger than [max_number_of_allocations]")
    return found


def download_in_progress(model_id: str) -> EsError:
    return status_exception(
        408,
        f"Model download task is currently running. Wait for trained model [{model_id}] download task to "
        "complete then try again",
    )


class AssignmentManager:
    def __init__(self, service: MlService) -> None:
        self.service = service
        self.deployments: dict[str, Deployment] = {}

    @property
    def load_seconds(self) -> float:
        """How long a node takes to load a model into its process: a fraction of the download time."""
        return min(5.0, self.service.cluster.config.download_seconds / 2)

    def using_model(self, model_id: str) -> list[Deployment]:
        return sorted(
            (d for d in self.deployments.values() if d.model_id == model_id), key=lambda d: d.deployment_id
        )

    # --- start ---------------------------------------------------------------------------------

    async def start(self, req: StartRequest) -> dict[str, Any]:
        svc = self.service
        deadline = time.monotonic() + req.timeout
        problems = req.problems(svc.max_queue_capacity)
        if problems:
            raise invalid(*problems)
        svc.check_license()
        if req.deployment_id in self.deployments:
            raise bad_request(
                "Could not start model deployment because an existing deployment with the same id "
                f"[{req.deployment_id}] exist"
            )
        matches = svc.expand_models(req.model_id, allow_no_match=False)
        if len(matches) > 1:
            ids = ", ".join(m.model_id for m in matches)
            raise bad_request(
                f"cannot deploy more than one model at the same time; [{req.model_id}] matches models [[{ids}]]"
            )
        model = matches[0]
        if model.model_type != "pytorch":
            raise bad_request(
                f"model [{model.model_id}] of type [{model.model_type}] cannot be deployed. Only PyTorch models can be deployed"
            )
        if req.deployment_id != req.model_id and req.deployment_id in svc.models:
            raise bad_request(
                f"Deployment id [{req.deployment_id}] is the same as an another model which is not the model being "
                "deployed. Deployment id can be the same as the model being deployed but cannot match a different model"
            )
        await self._check_definition(model.model_id, deadline)
        model_bytes = model.definition_length
        others = list(self.deployments.values())
        placed, explanation = plan_allocations(
            svc.ml_nodes, others, req.allocations, req.threads_per_allocation, req.priority
        )
        if not placed:
            raise no_capacity(explanation)
        if req.priority == "normal" and sum(placed.values()) < req.allocations:
            raise status_exception(
                429,
                "Could not start deployment because there are not enough resources to provide all requested allocations",
            )
        deployment = Deployment(
            model_id=model.model_id,
            deployment_id=req.deployment_id,
            model_bytes=model_bytes,
            threads_per_allocation=req.threads_per_allocation,
            number_of_allocations=req.allocations,
            queue_capacity=req.queue_capacity,
            cache_size=model_bytes if req.cache_size is None else req.cache_size,
            priority=req.priority,
            adaptive_allocations=req.adaptive_allocations,
        )
        self.deployments[req.deployment_id] = deployment
        for node_id, allocations in placed.items():
            self._add_route(deployment, node_id, allocations)
        deployment.notify()
        await self._wait(deployment, req.wait_for, deadline, req.timeout)
        return {"assignment": deployment.assignment()}

    async def _check_definition(self, model_id: str, deadline: float) -> None:
        """checkFullModelDefinitionIsPresent: wait for a running download, then count the parts."""
        download = self.service.downloader.running.get(model_id)
        if download is not None:
            try:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    await download.done.wait()
            except TimeoutError:
                raise download_in_progress(model_id) from None
        model = self.service.models.get(model_id)
        definition = model.definition if model else None
        if definition is None or not definition.part_lengths:
            raise resource_not_found(f"Could not find trained model definition [{model_id}]")
        if not definition.complete:
            raise bad_request(
                f"Model definition truncated. Unable to deserialize trained model definition [{model_id}]"
            )

    async def _wait(self, deployment: Deployment, wait_for: str, deadline: float, timeout: float) -> None:
        while True:
            if self.deployments.get(deployment.deployment_id) is not deployment:
                raise bad_request(
                    "Error waiting for the model deployment to start. The trained model assignment was removed while waiting"
                )
            if deployment.reached(wait_for):
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise EsError(
                    408,
                    "model_deployment_timeout_exception",
                    f"Timed out after [{time_value_str(timeout)}] waiting for trained model deployment "
                    f"[{deployment.deployment_id}] to start. Use the trained model stats API to track the state of "
                    "the deployment and try again once it has started.",
                )
            try:
                async with asyncio.timeout(remaining):
                    await deployment.changed()
            except TimeoutError:
                pass

    # --- routes over time ----------------------------------------------------------------------

    def _add_route(self, deployment: Deployment, node_id: str, allocations: int) -> Route:
        node = self.service.cluster.node(node_id)
        assert node is not None
        route = Route(
            node=node,
            target_allocations=allocations,
            current_allocations=allocations,
            worker=deployment.new_worker(allocations),
        )
        deployment.routes[node_id] = route
        self.launch(deployment, route)
        return route

    def launch(self, deployment: Deployment, route: Route) -> None:
        """(Re)load the model into the route's process: `starting` now, `started` after the load time."""
        route.generation += 1
        route.state = STARTING
        route.reason = None
        route.current_allocations = route.target_allocations
        self.service.spawn(self._load(deployment, route, route.generation))

    def _stuck_reason(self, deployment_id: str) -> str | None:
        fault = self.service.cluster.faults.spec.deployment_stuck
        if fault is not None and fnmatch.fnmatchcase(deployment_id, fault.deployment_id):
            return fault.reason
        return None

    def _live(self, deployment: Deployment, route: Route, generation: int) -> bool:
        return (
            self.deployments.get(deployment.deployment_id) is deployment
            and not deployment.stopping
            and route.generation == generation
        )

    async def _load(self, deployment: Deployment, route: Route, generation: int) -> None:
        await asyncio.sleep(self.load_seconds)
        while self._live(deployment, route, generation) and (
            reason := self._stuck_reason(deployment.deployment_id)
        ):
            if route.reason != reason:
                route.reason = reason
                deployment.notify()
            await asyncio.sleep(STUCK_POLL_SECONDS)
        if not self._live(deployment, route, generation):
            return
        route.state = STARTED
        route.reason = None
        route.start_time = int(time.time() * 1000)
        route.worker.set_allocations(route.current_allocations)
        deployment.notify()

    async def _grow(self, deployment: Deployment, route: Route, generation: int) -> None:
        """More allocations on a started route: the process takes them after the load time."""
        await asyncio.sleep(self.load_seconds)
        if self._live(deployment, route, generation) and route.state == STARTED:
            route.current_allocations = route.target_allocations
            route.worker.set_allocations(route.current_allocations)
            deployment.notify()

    # --- stop and update -----------------------------------------------------------------------

    async def stop(self, deployment_id: str, *, force: bool, allow_no_match: bool) -> dict[str, Any]:
        deployment = self.deployments.get(deployment_id)
        if deployment is None:
            if not allow_no_match:
                raise missing_deployment(deployment_id)
            return {"stopped": True}
        if not force:
            if self.service.pipelines_referencing({deployment_id}):
                raise conflict(
                    f"Cannot stop deployment [{deployment_id}] as it is referenced by ingest processors; "
                    "use force to stop the deployment"
                )
            for alias in self.service.aliases_of(deployment_id):
                if self.service.pipelines_referencing({alias}):
                    raise conflict(
                        f"Cannot stop deployment [{deployment_id}] as it has a model_alias [{alias}] that is still "
                        "referenced by ingest processors; use force to stop the deployment"
                    )
            self.service.endpoints.check_stop_allowed(deployment_id)
        self.remove(deployment)
        await asyncio.sleep(0)
        return {"stopped": True}

    def clear_cache(self, deployment_id: str) -> dict[str, Any]:
        """ClearDeploymentCacheAction: every route's process forgets its cached results."""
        deployment = self.deployments.get(deployment_id)
        if deployment is None:
            raise missing_deployment(deployment_id)
        for route in deployment.routes.values():
            if route.worker.cache is not None:
                route.worker.cache.clear()
        return {"cleared": True}

    def remove(self, deployment: Deployment) -> None:
        deployment.stopping = True
        for route in deployment.routes.values():
            route.state = STOPPING
            route.worker.fail_pending(process_stopping())
        if self.deployments.get(deployment.deployment_id) is deployment:
            del self.deployments[deployment.deployment_id]
        deployment.notify()

    async def update(
        self,
        deployment_id: str,
        number_of_allocations: int | None,
        adaptive: dict[str, Any] | None,
        *,
        internal: bool = False,
    ) -> dict[str, Any]:
        """TransportUpdateTrainedModelDeploymentAction. `internal` is the scaler's own update (and an
        inference endpoint's `_update`): it may set 0 allocations, and set them while adaptive
        allocations are enabled; the user's API may not."""
        problems = []
        if number_of_allocations is not None:
            if number_of_allocations < (0 if internal else 1):
                problems.append("[number_of_allocations] must be a positive integer")
            if not internal and adaptive is not None and adaptive.get("enabled") is True:
                problems.append("[number_of_allocations] cannot be set if adaptive allocations is enabled")
        if adaptive is not None:
            problems += adaptive_problems(adaptive)
        if problems:
            raise invalid(*problems)
        self.service.check_license()
        deployment = self.deployments.get(deployment_id)
        if deployment is None:
            raise missing_deployment(deployment_id)
        if not internal:
            self.service.endpoints.check_update_allowed(deployment_id)
        merged = deployment.adaptive_allocations
        if adaptive is not None:
            merged = {**(merged or {}), **{k: v for k, v in adaptive.items() if v is not None}}
        if not internal and number_of_allocations is not None and (merged or {}).get("enabled") is True:
            raise validation_exception(
                "[number_of_allocations] cannot be set if adaptive allocations is enabled"
            )
        allocations_change = (
            number_of_allocations is not None and number_of_allocations != deployment.number_of_allocations
        )
        if not allocations_change and merged == deployment.adaptive_allocations:
            return {"assignment": deployment.assignment()}
        if deployment.state != STARTED:
            raise conflict("cannot update deployment that is not in [started] state")
        if allocations_change:
            assert number_of_allocations is not None
            if number_of_allocations > deployment.number_of_allocations:
                self._increase(deployment, number_of_allocations)
            else:
                self._decrease(deployment, number_of_allocations)
            deployment.number_of_allocations = number_of_allocations
        deployment.adaptive_allocations = merged
        deployment.notify()
        return {"assignment": deployment.assignment()}

    def _increase(self, deployment: Deployment, wanted: int) -> None:
        extra = wanted - sum(r.target_allocations for r in deployment.routes.values())
        others = list(self.deployments.values())
        placed, _ = plan_allocations(
            self.service.ml_nodes, others, extra, deployment.threads_per_allocation, "normal"
        )
        if deployment.priority == "low" or sum(placed.values()) < extra:
            raise status_exception(
                429,
                "Could not update deployment because there are not enough resources to provide all requested allocations",
            )
        for node_id, count in placed.items():
            route = deployment.routes.get(node_id)
            if route is None:
                self._add_route(deployment, node_id, count)
            else:
                route.target_allocations += count
                if route.state == STARTED:
                    self.service.spawn(self._grow(deployment, route, route.generation))
                else:
                    route.current_allocations = route.target_allocations

    def _decrease(self, deployment: Deployment, wanted: int) -> None:
        """AllocationReducer: take allocations from the nodes that hold the most."""
        surplus = sum(r.target_allocations for r in deployment.routes.values()) - wanted
        while surplus > 0:
            route = max(deployment.routes.values(), key=lambda r: r.target_allocations)
            route.target_allocations -= 1
            surplus -= 1
            if route.target_allocations == 0:
                route.worker.fail_pending(process_stopping())
                del deployment.routes[route.node.id]
            else:
                route.current_allocations = min(route.current_allocations, route.target_allocations)
                route.worker.set_allocations(route.current_allocations)
        deployment.reason = None

    # --- restarts and persistence --------------------------------------------------------------

    def restart_routes(self) -> None:
        """A node restart: processes die with their queues and counters, then load the model again."""
        for deployment in self.deployments.values():
            for route in deployment.routes.values():
                route.worker.fail_pending(process_stopping())
                route.worker = deployment.new_worker(route.target_allocations)
                self.launch(deployment, route)
            deployment.notify()

    def restore(self, states: list[dict[str, Any]]) -> None:
        for state in states:
            routes = state.pop("routes", {})
            deployment = Deployment(**state)
            for node_id, allocations in routes.items():
                if self.service.cluster.node(node_id) is not None:
                    deployment.routes[node_id] = Route(
                        node=self.service.cluster.node(node_id),
                        target_allocations=allocations,
                        current_allocations=allocations,
                        worker=deployment.new_worker(allocations),
                    )
            self.deployments[deployment.deployment_id] = deployment

    def relaunch_all(self) -> None:
        for deployment in self.deployments.values():
            for route in deployment.routes.values():
                self.launch(deployment, route)
