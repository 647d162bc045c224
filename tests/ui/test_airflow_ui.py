"""The Airflow UI as a person uses it, in headless Chromium (Debian's `chromium`, driven by
Playwright with its executable path; never a browser Playwright downloads): log in, open
embedding_reindex, fill the trigger form, watch the run succeed, keep screenshots of the form and
the graph: as it opens (the first task and four task groups, on one screen) and with every group
expanded. Against one real `airflow standalone` (SQLite) and the sandbox, with a real login
(simple auth manager, a generated password).

Screenshots go to test-artifacts/ui/ (UI_ARTIFACTS_DIR overrides). Without chromium or playwright
the test skips on a developer's machine and fails under CI=true: CI must run it (.ci/run installs both).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from urllib.parse import unquote

import pytest
from elasticsearch import Elasticsearch

from bin.airflow_local import DAG_ID, AirflowStandalone, wait_for_dag
from tests.e2e.harness import ROOT, load_corpus, missing_prerequisite

pytestmark = [pytest.mark.standalone, pytest.mark.slow, pytest.mark.ui]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("UI_ARTIFACTS_DIR", ROOT / "test-artifacts" / "ui"))
SOURCE, ALIAS, DOCS = "ui-articles", "ui-articles-embedded", 40
RUN_TIMEOUT_MS = 300_000
# The graph as it opens: the first task and the task groups (collapsed).
GRAPH = ("validate_settings", "model", "endpoint", "index", "publish", "report")


def sync_playwright():
    """Playwright and the system chromium, or a skip (a failure under CI)."""
    problems = []
    try:
        from playwright.sync_api import sync_playwright as start
    except ImportError:
        start, _ = None, problems.append("the Python package playwright is not installed")
    if not (shutil.which(CHROMIUM) or Path(CHROMIUM).is_file()):
        problems.append(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    if problems:
        missing_prerequisite("; ".join(problems))
    return start


@pytest.fixture
def browser_tools():
    """Checked before anything starts: a missing browser skips (fails under CI) at once."""
    return sync_playwright()


@pytest.fixture
def stack(browser_tools, tmp_path: Path, start_sandbox):
    sandbox = start_sandbox(download_seconds=2, inference_ms=20)
    es = Elasticsearch(sandbox.url)
    load_corpus(es, index=SOURCE, limit=DOCS)
    fast_polls = {  # Variables as environment variables: short polls keep the run short
        "AIRFLOW_VAR_EMBEDDING_MODEL": json.dumps({"poll_interval": "1s"}),
        "AIRFLOW_VAR_EMBEDDING_DEPLOYMENT": json.dumps({"poll_interval": "1s"}),
        "AIRFLOW_VAR_EMBEDDING_REINDEX": json.dumps({"poll_interval": "1s"}),
    }
    standalone = AirflowStandalone(
        tmp_path / "airflow", {"conn_type": "elasticsearch", "host": sandbox.url}, extra_env=fast_polls
    )
    try:
        standalone.start()
        api = standalone.api()
        wait_for_dag(api)
        yield standalone, api, es
    finally:
        standalone.stop()
        es.close()


def test_trigger_from_the_form_and_watch_the_run_succeed(browser_tools, stack):
    standalone, api, es = stack
    start_playwright = browser_tools
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    form_png, graph_png = ARTIFACTS / "trigger_form.png", ARTIFACTS / "run_graph.png"
    expanded_png = ARTIFACTS / "run_graph_expanded.png"
    for old in (form_png, graph_png, expanded_png):
        old.unlink(missing_ok=True)

    with start_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.set_default_timeout(60_000)

            # Log in: the DAG's page sends an anonymous visitor to the login form first.
            page.goto(f"{standalone.url}/dags/{DAG_ID}")
            page.wait_for_url("**/auth/login**")
            page.fill("input[name=username]", standalone.username)
            page.fill("input[name=password]", standalone.password)
            page.keyboard.press("Enter")
            page.wait_for_url(f"**/dags/{DAG_ID}")

            # The trigger form: the DAG's Params as fields.
            page.click("[data-testid=trigger-dag-button]")
            page.fill("#element_source_index", SOURCE)
            page.fill("#element_alias", ALIAS)
            page.get_by_role("dialog").screenshot(path=str(form_png))
            page.click("[data-testid=trigger-dag-submit]")

            # The UI opens the new run; watch its state badge until the run ends.
            page.wait_for_url(f"**/dags/{DAG_ID}/runs/**")
            run_id = unquote(page.url.split("/runs/")[1].split("?")[0].split("/")[0])
            badge = page.locator("[data-testid=header-card] [data-testid=state-badge]")
            deadline = time.monotonic() + RUN_TIMEOUT_MS / 1000
            while (state := badge.inner_text().strip().lower()) not in ("success", "failed"):
                assert time.monotonic() < deadline, f"run still {state!r} after {RUN_TIMEOUT_MS / 1000:.0f} s"
                time.sleep(2)
            tis = api.get(f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances").json()["task_instances"]
            assert state == "success", {t["task_id"]: t["state"] for t in tis}

            # The graph of the finished run, with the details panel folded away to give it the width.
            # It opens with its task groups collapsed: the first task and the five groups, which fit
            # one screen at a size that reads.
            page.get_by_role("button", name="Show Graph").click()
            page.get_by_role("button", name="Collapse Details Panel").click()
            nodes = page.locator(".react-flow__node")
            nodes.first.wait_for()
            page.mouse.move(5, 5)  # no tooltip over the graph
            page.wait_for_timeout(1500)  # let the layout settle before the picture
            page.screenshot(path=str(graph_png))
            graph_text = page.locator(".react-flow").inner_text()
            viewport = page.viewport_size
            boxes = [
                box for box in (node.bounding_box() for node in nodes.all()) if box and box["width"] > 20
            ]
            assert len(boxes) == len(GRAPH), graph_text
            for box in boxes:
                assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], box
                assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"], box
                assert box["width"] >= 120, box  # not shrunk to fit: a name on it can be read

            # Expanded: every task, in its group.
            page.get_by_role("button", name="Expand all task groups").click()
            page.wait_for_function(
                f"document.querySelectorAll('.react-flow__node').length >= {len(GRAPH) - 1 + len(tis)}"
            )
            page.mouse.move(5, 5)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(expanded_png))
            expanded_text = page.locator(".react-flow").inner_text()
        finally:
            browser.close()

    # What the browser did, as Airflow and Elasticsearch recorded it.
    run = api.get(f"/dags/{DAG_ID}/dagRuns/{run_id}").json()
    assert run["state"] == "success" and run["run_type"] == "manual"
    assert run["conf"]["source_index"] == SOURCE and run["conf"]["alias"] == ALIAS
    assert es.count(index=ALIAS)["count"] == DOCS
    assert set(GRAPH) <= set(graph_text.split()), graph_text
    assert {t["task_id"] for t in tis} <= set(expanded_text.split()), expanded_text
    for png in (form_png, graph_png, expanded_png):
        assert png.stat().st_size > 10_000, png
