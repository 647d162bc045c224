"""The inference cost model of one deployment route (the native process of a deployment on one node).

As in Elasticsearch, each route has one process with `allocations` parallel workers and a request
queue of `queue_capacity` (PriorityProcessWorkerExecutorService: a request is rejected when the
queue already holds `queue_capacity` requests; high-priority requests, such as search-time
inference, are served before the normal ones queued earlier). Each worker serves one request at a time, taking
`inference_ms` divided by the speed-up of its `threads_per_allocation` threads (Amdahl's law).
Waiting is `asyncio.sleep`; with `inference_ms == 0` nothing waits and no future is created.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import time
from collections import OrderedDict, deque
from typing import Any

PARALLEL_FRACTION = 0.9  # the share of one inference that more threads speed up


def thread_speedup(threads: int) -> float:
    return 1.0 / ((1.0 - PARALLEL_FRACTION) + PARALLEL_FRACTION / threads)


class MinuteWindow:
    """Counts and time sums over the last minute in one-second buckets, and the peak per minute."""

    __slots__ = ("counts", "times", "stamps", "total", "time_total", "peak")

    def __init__(self) -> None:
        self.counts = [0] * 60
        self.times = [0.0] * 60
        self.stamps = [0] * 60
        self.total = 0
        self.time_total = 0.0
        self.peak = 0

    def _expire(self, second: int) -> None:
        for i in range(60):
            if self.stamps[i] and second - self.stamps[i] >= 60:
                self.total -= self.counts[i]
                self.time_total -= self.times[i]
                self.counts[i], self.times[i], self.stamps[i] = 0, 0.0, 0

    def add(self, elapsed_ms: float, now: float) -> None:
        second = int(now)
        slot = second % 60
        if self.stamps[slot] != second:
            self._expire(second)
            self.stamps[slot] = second
        self.counts[slot] += 1
        self.times[slot] += elapsed_ms
        self.total += 1
        self.time_total += elapsed_ms
        self.peak = max(self.peak, self.total)

    def last_minute(self, now: float) -> tuple[int, float]:
        self._expire(int(now))
        return self.total, self.time_total


class ResultCache:
    """The process's inference cache (cache_size bytes; 0 disables it): the least recently used
    results leave first. Sizes are estimated from the text and the result."""

    def __init__(self, capacity_bytes: int) -> None:
        self.capacity = capacity_bytes
        self.used = 0
        self.entries: OrderedDict[tuple[str, ...], tuple[dict[str, Any], int]] = OrderedDict()

    def get(self, key: tuple[str, ...]) -> dict[str, Any] | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        self.entries.move_to_end(key)
        return copy.deepcopy(entry[0])

    def put(self, key: tuple[str, ...], result: dict[str, Any]) -> None:
        size = sum(len(part) for part in key) + len(json.dumps(result))
        if size > self.capacity or key in self.entries:
            return
        self.entries[key] = (copy.deepcopy(result), size)
        self.used += size
        while self.used > self.capacity:
            _, (_, freed) = self.entries.popitem(last=False)
            self.used -= freed

    def clear(self) -> None:
        self.entries.clear()
        self.used = 0


class RouteWorker:
    """Queue, workers and counters of one route. Counters live on the node, so a restart clears them."""

    def __init__(self, allocations: int, threads: int, queue_capacity: int, cache_size: int = 0) -> None:
        self.allocations = allocations
        self.threads = threads
        self.queue_capacity = queue_capacity
        self.in_service = 0
        self.waiting: deque[asyncio.Future[float]] = deque()
        self.waiting_high: deque[asyncio.Future[float]] = deque()
        self.inference_count = 0
        self.inference_time_ms = 0.0
        self.rejected_execution_count = 0
        self.timeout_count = 0
        self.error_count = 0
        self.last_access: int | None = None
        self.window = MinuteWindow()
        self.cache = ResultCache(cache_size) if cache_size > 0 else None
        self.cache_hit_count = 0
        self.hit_window = MinuteWindow()

    def count_cache_hit(self) -> None:
        self.cache_hit_count += 1
        self.hit_window.add(0.0, time.time())

    @property
    def queued(self) -> int:
        return len(self.waiting) + len(self.waiting_high)

    @property
    def load(self) -> float:
        return (self.in_service + self.queued) / max(1, self.allocations)

    @property
    def pending(self) -> int:
        return self.in_service + self.queued

    def can_accept(self) -> bool:
        return self.in_service < self.allocations or self.queued < self.queue_capacity

    async def _acquire(self, high_priority: bool) -> float:
        """A worker slot; the (monotonic) time it became free: now, or when its last request ended."""
        if self.in_service < self.allocations and not self.queued:
            self.in_service += 1
            return time.monotonic()
        waiter: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        queue = self.waiting_high if high_priority else self.waiting
        queue.append(waiter)
        try:
            return await waiter  # the releasing worker hands its slot over, with the time it ended
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._release(waiter.result())  # handed over just before the cancellation: pass it on
            else:
                with contextlib.suppress(ValueError):  # a releasing worker may have skipped it already
                    queue.remove(waiter)
            raise

    def set_allocations(self, allocations: int) -> None:
        """The process gained or lost allocations: new ones take queued requests at once; lost ones
        finish what they serve and take nothing more."""
        self.allocations = allocations
        now = time.monotonic()
        while self.in_service < self.allocations and self._hand_over(now):
            self.in_service += 1

    def _hand_over(self, ended: float) -> bool:
        for queue in (self.waiting_high, self.waiting):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(ended)
                    return True
        return False

    def _release(self, ended: float) -> None:
        if self.in_service > self.allocations or not self._hand_over(ended):
            self.in_service -= 1

    async def run(self, inference_s: float, *, high_priority: bool = False) -> float:
        """Serve one request; returns the inference time in ms. The caller checked can_accept().

        A worker's requests follow one another on its own clock: the next starts when the last one
        was due to end, not when the event loop got round to waking it, as a native process takes
        its next request at once (the event loop's delays would otherwise slow the model)."""
        self.last_access = int(time.time() * 1000)
        work = inference_s / thread_speedup(self.threads)
        arrived = time.monotonic()
        free_since = await self._acquire(high_priority)
        ends = max(arrived, free_since) + work
        try:
            if work > 0:
                await asyncio.sleep(max(0.0, ends - time.monotonic()))
        finally:
            self._release(min(ends, time.monotonic()))  # cancelled early: free from now
        elapsed_ms = work * 1000.0
        self.inference_count += 1
        self.inference_time_ms += elapsed_ms
        self.window.add(elapsed_ms, time.time())
        return elapsed_ms

    def fail_pending(self, exc: BaseException) -> None:
        """The process stops: queued requests fail (in-flight ones finish their sleep and then fail)."""
        for queue in (self.waiting_high, self.waiting):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_exception(exc)
