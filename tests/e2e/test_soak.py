"""The soak's short version (issue 15, item 5): four scripted nights of embedding_reindex with the
soak's engine (bench/chaos: the real DAG through dag.test() on the real metadata DB, the real client
over HTTP, faults of the sandbox), each checked as bench/soak.py checks every run, with a fixed seed
for the source's changes:

    night 1  full, no fault                                    -> every check passes
    night 2  incremental, node restart as wait_reindex starts  -> issue 15 defect 1
    night 3  full, the answer of POST _aliases lost (502 after the alias moved) -> defect 2
    night 4  full into night 3's index after rewrites in the source             -> defect 3

The nights run once for the module; each test reads its night. The defects' tests raise Defect when
a check fails: they failed before issue 15's fixes, as strict xfails, and pass since. A broken
precondition (the fault did not fire where it must) is a plain assertion.
"""

from __future__ import annotations

import json

import pytest

from bench.chaos import faults
from bench.chaos.checks import Fields
from bench.chaos.runner import Attempt, Soak, retry_delay
from tests.e2e.harness import ROOT, SOURCE_INDEX, connect, load_corpus, set_variables

pytestmark = pytest.mark.slow

SEED = 15
ALIAS = "articles-soak"
DOCS = 10
VARIABLES = json.loads((ROOT / "include" / "variables.json").read_text())
FAST = {
    "embedding_model": {"poll_interval": "100ms", "timeout": "10s"},
    "embedding_deployment": {"poll_interval": "100ms", "wait_timeout": "10s"},
    "embedding_reindex": {"poll_interval": "100ms"},
}
# 60 ms per inference on one allocation: night 2's interval (32 documents) takes 2 s to reindex, so
# the restart as wait_reindex starts meets the reindex running.
INFERENCE_MS = 60.0


class Defect(AssertionError):
    """A check of the soak failed on a night that must pass it once issue 15 is fixed."""


def assert_clean_first_time(attempt: Attempt) -> None:
    """The run completed at once and every check passed."""
    problems = [*attempt.verdict.problems]
    if not attempt.succeeded:
        problems.insert(0, f"the run failed ({', '.join(attempt.failed_tasks)}): {attempt.error}")
    if problems:
        raise Defect(f"night {attempt.night}, {attempt.fault.label}: " + "; ".join(problems))


@pytest.fixture(scope="module")
def nights(embedding_dag) -> dict[int, list[Attempt]]:
    from elasticsearch import Elasticsearch

    from es_sandbox import SandboxConfig, SandboxProcess

    sandbox = SandboxProcess(SandboxConfig(port=0, download_seconds=0.5, inference_ms=INFERENCE_MS))
    es = Elasticsearch(sandbox.url, request_timeout=30)
    pipeline = VARIABLES["embedding_pipeline"]
    try:
        with pytest.MonkeyPatch.context() as monkeypatch, retry_delay(embedding_dag, 1.0):
            connect(monkeypatch, sandbox.url)
            set_variables(monkeypatch, **FAST)
            load_corpus(es, limit=DOCS)
            soak = Soak(
                embedding_dag,
                es,
                sandbox.url,
                source_index=SOURCE_INDEX,
                alias=ALIAS,
                docs=DOCS,
                fields=Fields(
                    input=pipeline["input_field"],
                    output=pipeline["output_field"],
                    failure=pipeline["failure_field"],
                    deployment_id=VARIABLES["embedding_deployment"]["deployment_id"],
                ),
                pipeline_id=pipeline["pipeline_id"],
                seed=SEED,
                prefix=ALIAS,
                change_before_rerun=False,  # each defect on one night of its own
            )
            alias_swap = next(t for t in faults.http_targets(f"{ALIAS}-003") if t.path == r"^/_aliases$")
            return {
                1: soak.night(1, "full", faults.NO_FAULT, changes={}),
                2: soak.night(
                    2,
                    "incremental",
                    faults.node_restart("task:wait_reindex"),
                    changes={"new": 30, "moved_in": 2},
                ),
                3: soak.night(
                    3, "full", faults.http_error(alias_swap, status=502, after=True), changes={"new": 2}
                ),
                4: soak.night(
                    4, "full", faults.NO_FAULT, dest_index=f"{ALIAS}-003", changes={"rewritten": 5}
                ),
            }
    finally:
        es.close()
        sandbox.stop()


def test_the_soak_draws_every_fault_the_sandbox_has():
    assert faults.uncovered_kinds() == set()


def test_a_fault_free_full_run_passes_every_check(nights):
    [attempt] = nights[1]
    assert attempt.succeeded, attempt.error
    assert attempt.verdict.ok, attempt.verdict.problems
    assert attempt.verdict.covered == DOCS


def test_no_run_changes_the_source_and_every_failed_run_recovers_on_a_plain_re_run(nights):
    attempts = [a for night in nights.values() for a in night]
    assert [a.verdict.source_changed for a in attempts] == [0] * len(attempts)
    for rerun in (a for a in attempts if a.attempt == "re-run"):
        assert rerun.succeeded, (rerun.night, rerun.error)
        assert rerun.verdict.ok, (rerun.night, rerun.verdict.problems)


def test_an_incremental_run_completes_after_its_reindex_task_is_lost(nights):
    attempt = nights[2][0]
    assert attempt.fired and "reindex task" in attempt.fired and "running" in attempt.fired, attempt.fired
    assert_clean_first_time(attempt)


def test_a_lost_answer_of_the_alias_swap_does_not_fail_the_run(nights):
    attempt = nights[3][0]
    assert attempt.fired, "the 502 after POST _aliases was not met"
    assert_clean_first_time(attempt)


def test_a_re_run_into_the_same_index_after_source_rewrites_publishes_no_stale_document(nights):
    [attempt] = nights[4]
    assert len(attempt.changes.rewritten) == 5
    assert_clean_first_time(attempt)
