"""Readable summaries of what the cluster reports: reindex progress and reindex failures."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

SAMPLE_FAILURES = 3


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    rate: float | None  # documents per second since the task started
    eta_seconds: float | None

    @classmethod
    def of(cls, status: dict, running_seconds: float) -> Progress:
        done = sum(
            status.get(k) or 0 for k in ("created", "updated", "deleted", "version_conflicts", "noops")
        )
        total = status.get("total") or 0
        rate = done / running_seconds if running_seconds > 0 and done else None
        eta = (total - done) / rate if rate and total >= done else None
        return cls(done=done, total=total, rate=rate, eta_seconds=eta)

    def line(self, es_task_id: str) -> str:
        share = f" ({100 * self.done / self.total:.1f}%)" if self.total else ""
        rate = f"{self.rate:.1f} docs/s" if self.rate else "- docs/s"
        eta = f"ETA {_duration(self.eta_seconds)}" if self.eta_seconds is not None else "ETA unknown"
        return f"reindex {es_task_id}: {self.done}/{self.total} documents{share}, {rate}, {eta}"


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def summarize_failures(failures: list[dict]) -> dict:
    """Counts by (error type, status) and a few samples of a reindex response's `failures`."""
    kinds: Counter[str] = Counter()
    samples = []
    for failure in failures:
        cause = failure.get("cause") or failure.get("reason") or {}
        kind = f"{cause.get('type', 'unknown')} (status {failure.get('status', '-')})"
        kinds[kind] += 1
        if len(samples) < SAMPLE_FAILURES:
            samples.append(
                {"index": failure.get("index"), "id": failure.get("id"), "reason": cause.get("reason")}
            )
    return {"count": len(failures), "by_kind": dict(kinds.most_common()), "samples": samples}


def failure_text(summary: dict) -> str:
    kinds = ", ".join(f"{count} x {kind}" for kind, count in summary["by_kind"].items())
    samples = "; ".join(f"[{s['index']}/{s['id']}] {s['reason']}" for s in summary["samples"])
    return f"{summary['count']} failure(s): {kinds}. Samples: {samples}"
