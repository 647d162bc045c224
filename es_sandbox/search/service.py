"""SearchService: the search subsystem of a cluster (`cluster.search`), owner of the open search
contexts, points in time and scrolls. They live in node memory, as in Elasticsearch: a reset or a
node restart drops them, and persistence keeps none of them."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from es_sandbox.errors import illegal_argument
from es_sandbox.http import parse_time
from es_sandbox.indices import random_id
from es_sandbox.search.errors import context_missing

if TYPE_CHECKING:
    from es_sandbox.cluster import Cluster
    from es_sandbox.indices import Doc, Index
    from es_sandbox.search.hits import Hit

MAX_KEEP_ALIVE = 24 * 3600  # search.max_keep_alive


@dataclass
class Snapshot:
    """The documents of some indices as they were when the context opened (references, not copies)."""

    indices: list[Index]
    docs: list[dict[str, Doc]]

    @classmethod
    def take(cls, indices: list[Index]) -> Snapshot:
        return cls(indices, [dict(i.docs) for i in indices])


@dataclass
class PointInTime:
    id: str
    snapshot: Snapshot
    keep_alive: float
    expires: float
    orderings: dict[str, list[Hit]] = field(default_factory=dict)  # request signature -> sorted hits


@dataclass
class Scroll:
    id: str
    hits: list[Hit]
    position: int
    size: int
    keep_alive: float
    expires: float
    total: int
    request: dict[str, Any]


_Context = TypeVar("_Context", PointInTime, Scroll)


class SearchService:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.pits: dict[str, PointInTime] = {}
        self.scrolls: dict[str, Scroll] = {}

    # -- subsystem contract --
    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def reset(self) -> None:
        self.pits.clear()
        self.scrolls.clear()

    def snapshot(self) -> dict[str, Any]:
        return {}  # search contexts are node memory

    def restore(self, state: dict[str, Any]) -> None:
        pass

    def on_node_restart(self) -> None:
        self.reset()

    # -- contexts --
    def open_contexts(self, index: Index) -> int:
        """The scrolls and points in time open on an index (its search stats' open_contexts)."""
        held = [pit.snapshot.indices for pit in self.pits.values()]
        held += [scroll.request.get("indices", ()) for scroll in self.scrolls.values()]
        return sum(any(i is index for i in indices) for indices in held)

    def expire(self) -> None:
        now = time.monotonic()
        for table in (self.pits, self.scrolls):
            for key in [k for k, c in table.items() if c.expires <= now]:
                del table[key]

    def _in_use(self, table: dict[str, _Context], context_id: str, keep_alive: float | None) -> _Context:
        """A live context used again: it lives another keep-alive (the new one, when given); an
        expired or unknown id is search_context_missing_exception."""
        self.expire()
        context = table.get(context_id)
        if context is None:
            raise context_missing(context_id)
        if keep_alive is not None:
            context.keep_alive = keep_alive
        context.expires = time.monotonic() + context.keep_alive
        return context

    def open_pit(self, indices: list[Index], keep_alive: float) -> PointInTime:
        pit = PointInTime(
            context_id("pit"), Snapshot.take(indices), keep_alive, time.monotonic() + keep_alive
        )
        self.pits[pit.id] = pit
        return pit

    def pit(self, pit_id: str, keep_alive: float | None) -> PointInTime:
        """An open point in time, its keep-alive renewed (and replaced when given)."""
        return self._in_use(self.pits, pit_id, keep_alive)

    def close_pit(self, pit_id: str) -> int:
        return 1 if self.pits.pop(pit_id, None) is not None else 0

    def open_scroll(
        self, hits: list[Hit], size: int, keep_alive: float, total: int, request: dict[str, Any]
    ) -> Scroll:
        scroll = Scroll(
            context_id("scroll"), hits, size, size, keep_alive, time.monotonic() + keep_alive, total, request
        )
        self.scrolls[scroll.id] = scroll
        return scroll

    def next_page(self, scroll_id: str, keep_alive: float | None) -> tuple[Scroll, list[Hit]]:
        check_scroll_id(scroll_id)
        scroll = self._in_use(self.scrolls, scroll_id, keep_alive)
        page = scroll.hits[scroll.position : scroll.position + scroll.size]
        scroll.position += len(page)
        return scroll, page

    def clear_scrolls(self, scroll_ids: list[str]) -> int:
        """ClearScrollController: `_all` alone frees every scroll; otherwise every id must parse
        before any is freed."""
        if set(scroll_ids) == {"_all"}:
            freed = len(self.scrolls)
            self.scrolls.clear()
            return freed
        for scroll_id in scroll_ids:
            check_scroll_id(scroll_id)
        return sum(self.scrolls.pop(scroll_id, None) is not None for scroll_id in scroll_ids)


def context_id(kind: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{random_id(24)}".encode()).decode().rstrip("=")


def check_scroll_id(scroll_id: str) -> None:
    """TransportSearchHelper.parseScrollId: a text that is not the URL-safe base64 of a scroll id
    (expired or not) cannot name a scroll: 400, before any context is looked up."""
    try:
        decoded = base64.urlsafe_b64decode(scroll_id + "=" * (-len(scroll_id) % 4))
    except ValueError:
        decoded = b""
    if (
        not decoded.startswith(b"scroll:")
        or base64.urlsafe_b64encode(decoded).decode().rstrip("=") != scroll_id
    ):
        raise illegal_argument("Cannot parse scroll id")


def keep_alive(value: Any, setting: str) -> float:
    """A keep-alive time, refused above search.max_keep_alive as ES refuses it."""
    seconds = parse_time(value if isinstance(value, str) else str(value), setting)
    if seconds > MAX_KEEP_ALIVE:
        raise illegal_argument(
            f"Keep alive for request ({_fmt_time(seconds)}) is too large. It must be less than (1d). This limit can be "
            "set by changing the [search.max_keep_alive] cluster level setting."
        )
    return seconds


def _fmt_time(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds * 1000)}ms"
