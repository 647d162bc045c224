"""The inference cost model's clock (es_sandbox/ml/inference.py), without a server: requests queued
on one worker follow one another on the worker's own timeline, so the event loop's wake-up delays
do not lower the modelled capacity. A virtual clock stands in for time.monotonic and asyncio.sleep
(each sleep oversleeps by LAG, as a busy event loop does), which makes the check exact; the clock
is read inside the event loop, before asyncio.run's own clean-up."""

from __future__ import annotations

import asyncio

import pytest

from es_sandbox.ml import inference
from es_sandbox.ml.inference import RouteWorker

LAG = 0.005  # every sleep wakes 5 ms late
WORK = 0.020  # one inference: 20 ms (one thread: no speed-up)


@pytest.fixture
def virtual_clock(monkeypatch):
    now = [1000.0]
    real_sleep = asyncio.sleep

    async def sleep(seconds: float) -> None:
        await real_sleep(0)  # the other requests arrive (and queue) while this one sleeps
        now[0] += max(0.0, seconds) + LAG

    monkeypatch.setattr(inference.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(inference.asyncio, "sleep", sleep)
    return now


def test_queued_requests_start_when_the_last_one_was_due_to_end_not_when_the_loop_woke(virtual_clock):
    worker = RouteWorker(allocations=1, threads=1, queue_capacity=100)
    started = virtual_clock[0]

    async def ten_requests():
        elapsed = await asyncio.gather(*(worker.run(WORK) for _ in range(10)))
        return elapsed, virtual_clock[0]

    elapsed_ms, ended = asyncio.run(ten_requests())

    assert elapsed_ms == [pytest.approx(WORK * 1000)] * 10  # each reports its own inference time
    # Ten back-to-back inferences take 10 x 20 ms; only the last wake-up is late. Each sleeping for
    # its full 20 ms after a late wake-up would take 10 x 25 ms.
    assert ended - started == pytest.approx(10 * WORK + LAG)
    assert (worker.in_service, len(worker.waiting), worker.inference_count) == (0, 0, 10)


def test_an_idle_worker_does_not_bank_time(virtual_clock):
    worker = RouteWorker(allocations=1, threads=1, queue_capacity=100)

    async def two_apart():
        await worker.run(WORK)
        virtual_clock[0] += 1.0  # nothing to do for a second
        before = virtual_clock[0]
        await worker.run(WORK)
        return virtual_clock[0] - before

    assert asyncio.run(two_apart()) == pytest.approx(WORK + LAG)  # a full inference after the pause
