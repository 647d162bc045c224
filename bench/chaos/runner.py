"""One night of the soak: change the source, run `embedding_reindex` (dag.test() on the real metadata
DB) with one fault armed at its moment, check what the cluster holds; after a failure, the plain
re-run (the same Params and logical date, no fault), checked the same way.

Retries: the DAG retries transient errors after 30 s, doubling; dag.test() waits that out in real
time, so the soak sets the first delay to `retry_delay` seconds (1 by default, with the sandbox's
model load of 1 s at --download-seconds 2: the ratio of a real cluster's load to 30 s), still
doubling. Nothing else of the DAG is changed.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import timedelta

from elasticsearch import Elasticsearch

from . import faults as catalogue
from .checks import Fields, Verdict, check, observe
from .faults import NO_FAULT, Fault, Injector
from .moments import Moment, TaskHooks, bare_task_id, describe, reindex_progress
from .source import Changes, Interval, Source, interval, logical_date


@dataclass
class Attempt:
    """One dag.test() run and what the checks found."""

    night: int
    attempt: str  # "run" or "re-run"
    mode: str
    conf: dict
    fault: Fault
    window: Interval | None
    changes: Changes
    state: str = ""
    failed_tasks: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    fired: str | None = None  # when the fault bit; None: it did not
    verdict: Verdict = field(default_factory=Verdict)
    inherited: str | None = None  # what an earlier night left armed that this run meets

    @property
    def succeeded(self) -> bool:
        return self.state == "success"

    @property
    def clear(self) -> bool | None:
        """A failed run's error names what happened (the fault's signature); None: nothing to judge."""
        if self.succeeded or not self.fired or self.error is None:
            return None
        return any(word.lower() in self.error.lower() for word in self.fault.signature)

    @property
    def broken_promise(self) -> str | None:
        if self.succeeded:
            return None
        if self.attempt == "re-run":
            return "the plain re-run did not complete"
        if not self.fired:
            return "the run failed without a fault"
        if self.fault.survivable is True:
            return f"{self.fault.promise}, but it failed"
        return None

    def as_json(self) -> dict:
        return {
            "night": self.night,
            "attempt": self.attempt,
            "mode": self.mode,
            "interval": str(self.window) if self.window else None,
            "conf": self.conf,
            "changes": self.changes.as_json(),
            "fault": self.fault.as_json(),
            "fired": self.fired,
            "inherited": self.inherited,
            "state": self.state,
            "failed_tasks": self.failed_tasks,
            "error": self.error,
            "error_clear": self.clear,
            "broken_promise": self.broken_promise,
            "seconds": round(self.seconds, 2),
            "checks": self.verdict.as_json(),
        }


@contextlib.contextmanager
def retry_delay(dag, seconds: float) -> Generator[None, None, None]:
    saved = {t.task_id: t.retry_delay for t in dag.tasks}
    for task in dag.tasks:
        task.retry_delay = timedelta(seconds=seconds)
    try:
        yield
    finally:
        for task in dag.tasks:
            task.retry_delay = saved[task.task_id]


class Soak:
    """Nights of `embedding_reindex` on `source_index` into `alias`, with their checks."""

    def __init__(
        self,
        dag,
        es: Elasticsearch,
        url: str,
        *,
        source_index: str,
        alias: str,
        docs: int,
        fields: Fields,
        pipeline_id: str,
        seed: int,
        prefix: str = "soak",
        change_before_rerun: bool = True,
        say: Callable[[str], None] = print,
    ) -> None:
        self.dag, self.es, self.url = dag, es, url
        self.source_index, self.alias, self.docs, self.fields = source_index, alias, docs, fields
        self.seed, self.prefix, self.change_before_rerun, self.say = seed, prefix, change_before_rerun, say
        self.source = Source(es, source_index)
        self.injector = Injector(es, deployment_id=fields.deployment_id, pipeline_id=pipeline_id)
        self.attempts: list[Attempt] = []
        # Latency entries cannot be disarmed (chaos.faults): the index each slows, and by how much.
        self.slowed: dict[str, float] = {}

    def rng(self, night: int, purpose: str) -> random.Random:
        """The random generator of one purpose of one night: a night draws the same changes, fault
        and moment for a seed whatever earlier nights met (a failure's re-run draws from its own)."""
        return random.Random(f"{self.seed}/{night}/{purpose}")

    def alias_index(self) -> str | None:
        found = self.es.options(ignore_status=404).indices.get_alias(name=self.alias)
        return next(iter(sorted(found.body)), None) if found.meta.status == 200 else None

    def night(
        self,
        number: int,
        mode: str,
        fault: Fault | None = None,
        *,
        dest_index: str | None = None,
        changes: dict[str, int] | None = None,
        kinds=catalogue.KINDS,
    ) -> list[Attempt]:
        """Night `number`: the source changes (`changes`: how many of each kind, see Source.apply;
        None: drawn), then a run in `mode` with `fault` (None: drawn from `kinds`); a failed run is
        re-run once. Full runs write into `dest_index` (default <prefix>-<night>), given as a Param,
        so that the re-run writes into the same index."""
        changes = (
            self.source.apply(number, self.rng(number, "changes"), **changes)
            if changes is not None
            else self.source.change(number, self.docs, self.rng(number, "changes"))
        )
        dest = self.alias_index() if mode == "incremental" else None
        if mode == "incremental" and dest is None:
            # As the DAG would fall back, but into a name the checks know.
            self.say(
                f"night {number}: alias [{self.alias}] does not exist (no full run completed): a full night"
            )
            mode = "full"
        window = interval(number) if mode == "incremental" else None
        dest = dest or dest_index or f"{self.prefix}-{number:03d}"
        conf = {
            "source_index": self.source_index,
            "dest_index": dest if mode == "full" else None,
            "alias": self.alias,
            "query": {"match_all": {}},
            "mode": mode,
            "timestamp_field": None,
        }
        if fault is None:
            covered = len(changes.new) + len(changes.moved_in) if window else self.source_count()
            fault = catalogue.draw(
                self.rng(number, "fault"), mode=mode, write_index=dest, covered=covered, kinds=kinds
            )
        self.say(f"night {number} {mode}{f' {window}' if window else ''} -> [{dest}]; source: {changes}")
        self.say(f"  fault: {fault.label}" + (f" ({fault.moment})" if fault.moment != "start" else ""))
        if dest in self.slowed:
            self.say(
                f"  still armed: {self.slowed[dest]:.0f} ms latency on [{dest}] left armed by an earlier run"
            )
        first = self.attempt(number, "run", mode, conf, fault, window, changes, dest)
        attempts = [first]
        if not first.succeeded:
            time.sleep(fault.rerun_after)
            again = (
                self.source.change(number, self.docs, self.rng(number, "re-run changes"), scale=0.3, tag="r")
                if self.change_before_rerun
                else Changes()
            )
            self.say(f"  re-run (same Params, no fault); source: {again}")
            attempts.append(self.attempt(number, "re-run", mode, conf, NO_FAULT, window, again, dest))
        return attempts

    def source_count(self) -> int:
        self.es.indices.refresh(index=self.source_index)
        return self.es.count(index=self.source_index)["count"]

    def attempt(
        self,
        number: int,
        kind: str,
        mode: str,
        conf: dict,
        fault: Fault,
        window: Interval | None,
        changes: Changes,
        dest: str,
    ) -> Attempt:
        record = Attempt(number, kind, mode, conf, fault, window, changes)
        if dest in self.slowed:
            record.inherited = f"{self.slowed[dest]:.0f} ms latency on [{dest}] left armed by an earlier run"
        self.attempts.append(record)
        before = observe(self.es, self.source_index, self.alias)
        self.injector.prepare(fault)
        hooks = TaskHooks()
        moment = Moment(fault.moment, lambda: None, self.url, dest)

        def act() -> None:
            if fault.kind == "node_restart":  # what the restart interrupts
                moment.context = describe(reindex_progress(self.es, dest))
            self.injector.arm(fault)

        moment.action = act
        started = time.monotonic()
        with hooks.installed(), moment.armed(hooks) if fault is not NO_FAULT else contextlib.nullcontext():
            run = self.dag.test(logical_date=logical_date(number), run_conf=conf)
        record.seconds = time.monotonic() - started
        bit = self.injector.disarm(fault)
        for entry in fault.spec.get("latency", []):
            self.slowed[dest] = self.slowed.get(dest, 0.0) + entry["ms"]
        record.fired = moment.fired if fault is not NO_FAULT and bit is not False else None
        record.state, states = self.outcome(run, window)
        failed = [t.task_id for t in hooks.tries if states.get(t.task_id) == "failed"]
        record.failed_tasks = list(dict.fromkeys(failed))
        if record.failed_tasks:
            errors = hooks.errors(record.failed_tasks[0])
            record.error = errors[-1] if errors else "(no exception recorded)"
        after = observe(self.es, self.source_index, self.alias)
        record.verdict = check(
            self.es,
            before,
            after,
            succeeded=record.succeeded,
            dest_index=dest,
            window=window,
            fields=self.fields,
            touched=changes.touched,
            rng=self.rng(number, f"{kind} checks"),
        )
        self.say("  " + self.summary(record))
        return record

    @staticmethod
    def outcome(run, window: Interval | None) -> tuple[str, dict[str, str]]:
        from airflow.utils.session import create_session

        with create_session() as session:
            states = {
                bare_task_id(ti.task_id): str(ti.state) for ti in run.get_task_instances(session=session)
            }
            got = (run.data_interval_start, run.data_interval_end)
        if window is not None and got != (window.start, window.end):
            raise RuntimeError(
                f"the run's data interval is [{got[0]}, {got[1]}), the soak expected {window}: "
                "parse the DAG with a nightly schedule (EMBEDDING_REINDEX_SOURCE_INDEX set)"
            )
        return str(run.state), states

    @staticmethod
    def summary(a: Attempt) -> str:
        if a.succeeded:
            parts = [f"-> success in {a.seconds:.1f} s"]
        else:
            error = " ".join((a.error or "").split())
            error = error if len(error) <= 300 else error[:300] + " ..."
            parts = [f"-> FAILED in {a.seconds:.1f} s ({', '.join(a.failed_tasks)}: {error})"]
        if a.fault is not NO_FAULT:
            parts.append(f"fault fired {a.fired}" if a.fired else "fault did not fire")
        if a.clear is not None:
            parts.append("error clear" if a.clear else "ERROR UNCLEAR")
        parts.append("checks ok" if a.verdict.ok else "CHECKS: " + "; ".join(a.verdict.problems))
        if notes := {k: n for k, n in a.verdict.notes.items() if n}:
            parts.append("notes: " + ", ".join(f"{k} {n}" for k, n in notes.items()))
        if a.broken_promise:
            parts.append(f"BROKEN PROMISE: {a.broken_promise}")
        return "; ".join(parts)
