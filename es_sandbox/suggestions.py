"""Elasticsearch's "did you mean" for unknown names: candidates whose Lucene Levenshtein similarity
(1 - edit distance / longer length) is above 0.5, most similar first, then by name."""

from __future__ import annotations

from collections.abc import Iterable


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def similar(name: str, candidates: Iterable[str]) -> list[str]:
    scored = []
    for candidate in candidates:
        longest = max(len(name), len(candidate)) or 1
        similarity = 1.0 - edit_distance(name, candidate) / longest
        if similarity > 0.5:
            scored.append((-similarity, candidate))
    return [candidate for _, candidate in sorted(scored)]


def unrecognized(path: str, invalid: Iterable[str], candidates: Iterable[str], detail: str) -> str:
    """BaseRestHandler.unrecognized: `request [path] contains unrecognized metric: [x] -> did you mean [y]?`"""
    names = sorted(set(invalid))
    known = list(candidates)
    parts = []
    for name in names:
        part = f"[{name}]"
        hits = similar(name, known)
        if hits:
            part += f" -> did you mean {'any of ' if len(hits) > 1 else ''}[{', '.join(hits)}]?"
        parts.append(part)
    plural = "s" if len(names) > 1 else ""
    return f"request [{path}] contains unrecognized {detail}{plural}: {', '.join(parts)}"
