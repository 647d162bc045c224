#!/usr/bin/env bash
# Runs every benchmark one after the other (they share the machine's cores), then writes BENCHMARKS.md.
# Usage: bench/run_all.sh [python]   (default: .venv/bin/python, which bin/demo and bin/test create, else python3)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-}"
if [ -z "$PY" ]; then
  for candidate in .venv/bin/python python3; do
    if command -v "$candidate" >/dev/null 2>&1; then PY="$candidate"; break; fi
  done
fi
for bench in parse utilisation sandbox_reindex overhead waiting requests_per_run scale; do
  echo "== $bench"
  "$PY" "bench/$bench.py"
done
"$PY" bench/report.py
