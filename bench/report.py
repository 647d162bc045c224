"""Writes BENCHMARKS.md and bench/results/throughput.png from bench/results/*.json."""

from __future__ import annotations

import json

from common import RESULTS, ROOT
from png import line_chart

COLORS = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189)]


def load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def machine_line(data: dict) -> str:
    m = data["machine"]
    return (
        f"Command: `{data['command']}` · machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory_gib']} GiB, "
        f"Python {m['python']}, load average at start {m['loadavg_at_start'][0]} · date: {m['date']}"
    )


def section(title: str, data: dict) -> list[str]:
    """A section's heading and the line that says how its figures were taken."""
    return [f"## {title}", "", machine_line(data), ""]


def table_head(*columns: str) -> list[str]:
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]


def plot(util: dict) -> str:
    rows = [r for r in util["rows"] if r["config"] == "derived"]
    series = []
    for i, threads in enumerate(sorted({r["threads"] for r in rows})):
        mine = [r for r in rows if r["threads"] == threads]
        color = COLORS[i % len(COLORS)]
        series.append(
            {
                "label": f"{threads} thread",
                "color": color,
                "points": [(r["allocations"], r["docs_per_second"]) for r in mine],
            }
        )
        series.append(
            {
                "label": "capacity",
                "color": color,
                "dash": True,
                "points": [(r["allocations"], r["capacity_docs_per_second"]) for r in mine],
            }
        )
    png = line_chart(
        series,
        "allocations",
        "docs/s",
        f"derived settings, inference {util['setup']['inference_ms']:g} ms",
    )
    path = RESULTS / "throughput.png"
    path.write_bytes(png)
    return str(path.relative_to(ROOT))


def conformance_section() -> list[str]:
    """Elasticsearch's YAML REST tests against the sandbox: before and after issue 13's fixes."""
    after, before = load("conformance"), load("conformance-before")
    if not after:
        return []
    out = section("Sandbox conformance: Elasticsearch's YAML REST tests (issue 13)", after)
    out += [f"Sources: {', '.join(s['origin'] or s['name'] for s in after['sources'])}.", ""]
    out += table_head("run", "pass", "fail", "skip", "pass rate")
    for label, data in (("before", before), ("after", after)):
        if data:
            o = data["overall"]
            out.append(
                f"| {label} ({data['date']}) | {o['pass']} | {o['fail']} | {o['skip']} | {o['pass_rate']:.1%} |"
            )
    if before:
        out += ["", "Groups whose figures moved:", ""]
        out += table_head("group", "before (pass / run)", "after (pass / run)")
        for group, now in after["per_group"].items():
            then = before["per_group"].get(group)
            if then and then != now:
                out.append(
                    f"| {group} | {then['pass']} / {then['pass'] + then['fail']} | {now['pass']} / {now['pass'] + now['fail']} |"
                )
    out.append("")
    return out


def main() -> None:
    out = [
        "# Benchmarks",
        "",
        "Written by `bench/report.py` from `bench/results/*.json`. The scripts ran one after the other",
        "(`bench/run_all.sh` runs them in that order) on one machine on one afternoon; each section",
        "gives its command, machine, load and start time. Notes on each figure follow the tables.",
        "",
    ]
    util = load("utilisation")
    if util:
        out += section("1. Utilisation", util)
        out += table_head(
            "allocations",
            "threads",
            "settings",
            "batch x slices",
            "docs/s",
            "capacity",
            "utilisation (whole run)",
            "steady",
            "rejected docs",
        )
        for r in util["rows"]:
            out.append(
                f"| {r['allocations']} | {r['threads']} | {r['config']} | {r['batch_size']} x {r['slices']} | "
                f"{r['docs_per_second']} | {r['capacity_docs_per_second']} | {r['utilisation']} | "
                f"{r['steady_utilisation']} | {r['rejected_docs']} |"
            )
        out += ["", f"![throughput against allocations and threads]({plot(util)})", ""]
    over = load("overhead")
    if over:
        runs = [over, *filter(None, [load("overhead_semantic_text")])]
        out += section("2. Orchestration overhead", over)
        out += table_head(
            "backend",
            "docs",
            "DAG wall s",
            "deployment start s",
            "download s",
            "reindex took s",
            "overhead s",
            "overhead share",
        )
        for run in runs:
            r = run["result"]
            out.append(
                f"| {r.get('backend', 'ingest_pipeline')} | {r['docs']} | {r['dag_wall_seconds']} | "
                f"{r['deployment_start_seconds']} | {r['download_seconds']} | {r['reindex_took_seconds']} | "
                f"{r['overhead_seconds']} | {r['overhead_share']:.1%} |"
            )
        out.append("")
        for run in runs:
            r = run["result"]
            out.append(
                f"{r.get('backend', 'ingest_pipeline')}: run state {r['state']}; warm-up run (200 docs, model "
                f"download, dag.test() start-up) {r['warmup_wall_seconds']} s; `{run['command']}` at "
                f"{run['machine']['date']}, load average {run['machine']['loadavg_at_start'][0]}."
            )
        out.append("")
    wait = load("waiting")
    if wait:
        out += section("3. Waiting costs nothing", wait)
        out += table_head("mode", "wait tasks' seconds", "worker slot-seconds", "per wait (task s / slot s)")
        for mode, r in wait["modes"].items():
            per = ", ".join(
                f"{k}: {v['task_seconds']} / {v['worker_slot_seconds']}" for k, v in r["waits"].items()
            )
            out.append(f"| {mode} | {r['wait_seconds']} | {r['worker_slot_seconds']} | {per} |")
        out.append("")
    parse = load("parse")
    if parse:
        out += section("4. DAG parse time", parse)
        out += table_head("file", "warm ms (imports pre-loaded)", "cold ms", "I/O during parse")
        for name, r in parse["files"].items():
            out.append(f"| {name} | {r['warm_ms']} | {r['cold_ms']} | {len(r['io_events'] or [])} |")
        out.append("")
    req = load("requests_per_run")
    if req:
        r = req["result"]
        out += section("5. Requests to Elasticsearch per run", req)
        out += [f"{r['docs']} documents, run {r['state']}, {r['total_requests']} requests in total.", ""]
        out += table_head("endpoint", "requests")
        out += [f"| `{k}` | {v} |" for k, v in r["by_endpoint"].items()]
        out.append("")
    scale = load("scale")
    if scale:
        r = scale["result"]
        m = r["dag_process_rss_mib"]
        out += section("6. Scale", scale)
        out += table_head(
            "docs",
            "state",
            "load s",
            "DAG wall s",
            "reindex took s",
            "DAG process RSS MiB: first quarter max / last quarter max / peak",
            "sandbox peak RSS MiB",
        )
        out += [
            f"| {r['docs']} | {r['state']} | {r['load_seconds']} | {r['dag_wall_seconds']} | {r['reindex_took_seconds']} | "
            f"{m['first_quarter_max']} / {m['last_quarter_max']} / {m['peak_vmhwm']} | {r['sandbox_peak_rss_mib']} |",
            "",
        ]
    both = load("backends")
    if both:
        out += section("7. The two backends on the same deployment capacity (issue 11)", both)
        out += table_head(
            "allocations",
            "backend",
            "batch x slices",
            "docs",
            "inferences (per doc)",
            "inferences/s",
            "capacity",
            "utilisation",
            "rejected docs",
        )
        for r in both["rows"]:
            out.append(
                f"| {r['allocations']} | {r['backend']} | {r['batch_size']} x {r['slices']} | {r['embedded_docs']} | "
                f"{r['inferences']} ({r['inferences_per_doc']}) | {r['inferences_per_second']} | "
                f"{r['capacity_inferences_per_second']} | {r['utilisation']} | {r['rejected_docs']} |"
            )
        out.append("")
    sand = load("sandbox_reindex")
    if sand:
        out += section("Sandbox: 100,000-document reindex through ELSER (issue 2)", sand)
        s = sand["setup"]
        out += [
            f"{s['allocations']} allocations x {s['threads']} thread, batch {s['batch_size']}, {s['slices']} slices.",
            "",
        ]
        out += table_head(
            "inference ms",
            "docs",
            "reindex took s",
            "docs/s",
            "embedded",
            "failures",
            "rejected",
            "sandbox RSS before / peak MiB",
        )
        for r in sand["runs"]:
            out.append(
                f"| {r['inference_ms']:g} | {r['docs']} | {r['reindex_took_seconds']} | {r['docs_per_second']} | {r['embedded']} | "
                f"{r['failures']} | {r['rejected_execution_count']} | {r['sandbox_rss_before_reindex_mib']} / {r['sandbox_peak_rss_mib']} |"
            )
        out.append("")
    out += conformance_section()
    notes = ROOT / "bench" / "NOTES.md"
    if notes.exists():
        out += [notes.read_text()]
    (ROOT / "BENCHMARKS.md").write_text("\n".join(out).rstrip() + "\n")
    print("wrote BENCHMARKS.md")


if __name__ == "__main__":
    main()
