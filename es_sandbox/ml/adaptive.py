"""Adaptive allocations, as Elasticsearch scales them (AdaptiveAllocationsScalerService,
AdaptiveAllocationsScaler, KalmanFilter1d; 8.15+, scale to zero 8.16+, scale from zero 9.x).

Every `adaptive_trigger_seconds` (ES: 10 s) the scaler reads each adaptive deployment's per-node
counters, takes what happened since the last tick (requests = served + still pending + failed, and
the mean inference time), and smooths the request rate and the inference time with a Kalman filter.
The load is rate x time; the deployment scales up while the load's lower bound per allocation is
above 0.9 and down while its upper bound would stay below 0.85 with one allocation less, within
[min, max] (max 32 when unset). With min 0 (or none) it scales to zero once no request has come for
`scale_to_zero_seconds` (ES: 24 h). It never scales down within `scale_up_cooldown_seconds` (ES: 5 m)
of a scale-up, nor while a route is starting or has just started, nor a deployment that is not
`started`. Each change is an internal `_update` of the deployment and an audit notification.

Inference that finds no allocation (`wake`): a deployment that may scale to zero is updated to one
allocation at once (one update at a time), and the request waits for it (serving.py parks it).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from es_sandbox.errors import EsError
from es_sandbox.ml.deployments import STARTED, STARTING, Deployment

if TYPE_CHECKING:
    from es_sandbox.ml.service import MlService

log = logging.getLogger("es_sandbox.ml")

SCALE_UP_THRESHOLD = 0.9
SCALE_DOWN_THRESHOLD = 0.85
MAX_ALLOCATIONS_SAFEGUARD = 32  # the ceiling when max_number_of_allocations is unset
SMOOTHING = 100.0  # roughly: the last 100 measurements count


class Estimate:
    """A one-dimensional Kalman filter: a smoothed mean and its standard error. A measurement far
    off the estimate (or a change the caller announces) lets the estimate jump instead of crawl."""

    def __init__(self, *, detect_jumps: bool) -> None:
        self.detect_jumps = detect_jumps
        self.value: float | None = None
        self.variance = math.inf
        self._jumped_last = False

    @property
    def known(self) -> bool:
        return self.value is not None

    def add(self, value: float, variance: float, *, changed: bool = False) -> None:
        if self.value is None:
            self.value, self.variance, jumped = value, variance, True
        else:
            jumped = changed or (
                self.detect_jumps and (value - self.value) ** 2 / (variance + self.variance) > 100.0
            )
            process = value**2 if (jumped or self._jumped_last) else variance / SMOOTHING
            gain = (self.variance + process) / (self.variance + process + variance)
            self.value += gain * (value - self.value)
            self.variance = (1 - gain) * (self.variance + process)
        self._jumped_last = jumped

    def lower(self) -> float:
        return (self.value or 0.0) - math.sqrt(self.variance)

    def upper(self) -> float:
        return (self.value or 0.0) + math.sqrt(self.variance)


@dataclass(frozen=True)
class Counters:
    """One route's cumulative counters as the stats API shows them."""

    served: int
    pending: int
    failed: int
    mean_time_s: float  # of the served ones

    def since(self, before: Counters) -> Counters:
        served = max(0, self.served - before.served)
        total_time = self.served * self.mean_time_s - before.served * before.mean_time_s
        return Counters(
            served,
            max(0, self.pending - before.pending),
            max(0, self.failed - before.failed),
            total_time / served if served else math.nan,
        )

    def plus(self, other: Counters) -> Counters:
        served = self.served + other.served
        total_time = _total(self) + _total(other)
        return Counters(
            served,
            self.pending + other.pending,
            self.failed + other.failed,
            total_time / served if served else math.nan,
        )

    @property
    def requests(self) -> int:
        return self.served + self.pending + self.failed


def _total(c: Counters) -> float:
    return c.served * c.mean_time_s if c.served else 0.0


class DeploymentScaler:
    """AdaptiveAllocationsScaler: the decision for one deployment."""

    def __init__(self, deployment_id: str, allocations: int) -> None:
        self.deployment_id = deployment_id
        self.allocations = allocations
        self.minimum: int | None = None
        self.maximum: int | None = None
        self.rate = Estimate(detect_jumps=True)
        self.time = Estimate(detect_jumps=False)
        self.idle_seconds = 0.0
        self._allocations_changed = False

    def observe(self, recent: Counters, interval_s: float, allocations: int) -> None:
        self.idle_seconds = 0.0 if recent.requests > 0 else self.idle_seconds + interval_s
        # Requests as a Poisson process: the count's variance is its mean (at least 1).
        rate = recent.requests / interval_s
        expected = self.rate.value if self.rate.known else rate
        self.rate.add(rate, max(1.0, expected * interval_s) / interval_s**2)
        if recent.requests > 0 and not math.isnan(recent.mean_time_s):
            expected_time = self.time.value if self.time.known else recent.mean_time_s
            self.time.add(
                recent.mean_time_s, expected_time**2 / recent.requests, changed=self._allocations_changed
            )
        self.allocations = allocations
        self._allocations_changed = False

    def decide(self, scale_to_zero_seconds: float) -> int | None:
        """The new number of allocations, or None to keep the current one."""
        if not self.rate.known:
            return None
        before = wanted = self.allocations
        load_low = max(0.0, self.rate.lower()) * (max(0.0, self.time.lower()) if self.time.known else 1.0)
        while load_low / max(wanted, 1e-9) > SCALE_UP_THRESHOLD:
            wanted += 1
        load_high = self.rate.upper() * (self.time.upper() if self.time.known else 1.0)
        while wanted > 1 and load_high / (wanted - 1) < SCALE_DOWN_THRESHOLD:
            wanted -= 1
        if self.maximum is None:
            wanted = min(wanted, MAX_ALLOCATIONS_SAFEGUARD)
        if self.minimum is not None:
            wanted = max(wanted, self.minimum)
        if self.maximum is not None:
            wanted = min(wanted, self.maximum)
        if not self.minimum and self.idle_seconds > scale_to_zero_seconds:
            wanted = 0
        if wanted == before:
            return None
        self.allocations = wanted
        self._allocations_changed = True
        return wanted


class AdaptiveAllocations:
    """The scaler service of the sandbox's master node: one background loop for all deployments."""

    def __init__(self, service: MlService) -> None:
        self.service = service
        self.scalers: dict[str, DeploymentScaler] = {}
        self._last: dict[str, dict[str, Counters]] = {}
        self._last_tick: float | None = None
        self._scaled_up_at: dict[str, float] = {}
        self._waking: set[str] = set()
        self._last_warning: dict[str, str] = {}
        self._loop: asyncio.Task[None] | None = None

    @property
    def config(self):
        return self.service.cluster.config

    def start(self) -> None:
        if self._loop is None:
            self._loop = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.cancel()
            await asyncio.gather(loop, return_exceptions=True)

    def reset(self) -> None:
        self.scalers.clear()
        self._last.clear()
        self._last_tick = None
        self._scaled_up_at.clear()
        self._waking.clear()
        self._last_warning.clear()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.config.adaptive_trigger_seconds)
            try:
                await self.tick()
            except Exception:  # the scaler logs and carries on, as ES's does
                log.warning("Error in inference adaptive allocations scaling", exc_info=True)

    def _sync_scalers(self) -> list[Deployment]:
        """updateAutoscalers: a scaler per adaptive deployment, created at its target allocations."""
        adaptive = [d for d in self.service.assignments.deployments.values() if d.adaptive]
        ids = {d.deployment_id for d in adaptive}
        for gone in set(self.scalers) - ids:
            del self.scalers[gone]
            self._last.pop(gone, None)
        for deployment in adaptive:
            scaler = self.scalers.get(deployment.deployment_id)
            if scaler is None:
                scaler = self.scalers[deployment.deployment_id] = DeploymentScaler(
                    deployment.deployment_id, deployment.number_of_allocations
                )
            settings = deployment.adaptive_allocations or {}
            scaler.minimum = settings.get("min_number_of_allocations")
            scaler.maximum = settings.get("max_number_of_allocations")
        return adaptive

    async def tick(self) -> None:
        """processDeploymentStats: one look at the counters, and the updates they call for."""
        deployments = self._sync_scalers()
        now = time.monotonic()
        interval = None if self._last_tick is None else now - self._last_tick
        self._last_tick = now
        recent_by_deployment: dict[str, Counters] = {}
        recently_started: set[str] = set()
        cooldown = self.config.scale_up_cooldown_seconds
        wall_ms = time.time() * 1000
        for deployment in deployments:
            last = self._last.setdefault(deployment.deployment_id, {})
            for node_id, route in deployment.routes.items():
                worker = route.worker
                current = Counters(
                    worker.inference_count,
                    worker.pending,
                    worker.error_count + worker.timeout_count + worker.rejected_execution_count,
                    worker.inference_time_ms / worker.inference_count / 1000
                    if worker.inference_count
                    else 0.0,
                )
                if node_id in last:
                    recent = current.since(last[node_id])
                    known = recent_by_deployment.get(deployment.deployment_id)
                    recent_by_deployment[deployment.deployment_id] = (
                        recent if known is None else known.plus(recent)
                    )
                last[node_id] = current
                if route.state == STARTING or wall_ms < route.start_time + cooldown * 1000:
                    recently_started.add(deployment.deployment_id)
        if interval is None:
            return
        for deployment_id, recent in recent_by_deployment.items():
            deployment = self.service.assignments.deployments.get(deployment_id)
            scaler = self.scalers.get(deployment_id)
            if deployment is None or scaler is None:
                continue
            scaler.observe(recent, interval, deployment.number_of_allocations)
            wanted = scaler.decide(self.config.scale_to_zero_seconds)
            if wanted is None:
                continue
            current = deployment.number_of_allocations
            scaled_up_at = self._scaled_up_at.get(deployment_id)
            recent_scale_up = scaled_up_at is not None and now < scaled_up_at + cooldown
            if wanted < current and (recent_scale_up or deployment_id in recently_started):
                continue  # no scale-down right after a scale-up
            if deployment.state != STARTED:
                continue
            if wanted > current:
                self._scaled_up_at[deployment_id] = now
            await self._scale(deployment_id, wanted)

    def wake(self, deployment: Deployment) -> bool:
        """maybeStartAllocation: inference found no allocation. A deployment that may scale to zero
        gets one allocation (one update in flight at a time); True when the caller should wait."""
        if not deployment.scales_to_zero:
            return False
        deployment_id = deployment.deployment_id
        if deployment_id not in self._waking:
            self._scaled_up_at[deployment_id] = time.monotonic()
            self._waking.add(deployment_id)
            task = self.service.spawn(self._scale(deployment_id, 1))
            task.add_done_callback(lambda _: self._waking.discard(deployment_id))
        scaler = self.scalers.get(deployment_id)
        if scaler is not None:
            scaler.idle_seconds = 0.0
        return True

    async def _scale(self, deployment_id: str, allocations: int) -> None:
        message = f"adaptive allocations scaler: scaled [{deployment_id}] to [{allocations}] allocations."
        try:
            await self.service.assignments.update(deployment_id, allocations, None, internal=True)
        except EsError as err:
            log.warning(
                "adaptive allocations scaler: scaling [%s] to [%s] allocations failed: %s",
                deployment_id,
                allocations,
                err,
            )
            if self._last_warning.get(deployment_id) != err.reason:  # a repeated failure is audited once
                self._last_warning[deployment_id] = err.reason
                self.service.audit(
                    deployment_id,
                    f"adaptive allocations scaler: scaling [{deployment_id}] to [{allocations}] allocations failed.",
                    level="warning",
                )
            return
        self._last_warning.pop(deployment_id, None)
        log.info(message)
        self.service.audit(deployment_id, message)
