"""Elasticsearch's cat tables: columns with aliases, default visibility and alignment, rows of typed
values, and the way RestTable and AbstractCatAction answer them.

Rendering follows RestTable: `format=json` (or a JSON Accept header) gives a list of objects whose
values are the rendered strings; otherwise text, one line per row, `v` adds the header line, column
widths fit the widest value, right-aligned columns are padded on the left and the last column is not
padded. `h` picks columns by name, alias or wildcard (unknown names are skipped, as ES skips them), `s`
sorts by names or aliases with `:asc`/`:desc`, `bytes` and `time` fix the unit of sizes and times,
`ts=false` drops the timestamp columns, and `help` lists the columns.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from es_sandbox.errors import EsError
from es_sandbox.http import JSON_MEDIA, PRODUCT_HEADERS, bool_param

TEXT_MEDIA = "text/plain; charset=UTF-8"
EPOCH, TIMESTAMP = "epoch", "timestamp"


@dataclass(frozen=True)
class Column:
    name: str
    aliases: tuple[str, ...] = ()
    desc: str = "not available"
    default: bool = True
    right: bool = False
    sibling: str | None = None  # "pri": `pri=true` shows pri.<name> next to it


def column(name: str, aliases: str = "", desc: str = "not available", **flags: Any) -> Column:
    return Column(name, tuple(a for a in aliases.split(",") if a), desc, **flags)


def with_primaries(name: str, aliases: str, desc: str, **flags: Any) -> list[Column]:
    """A statistic over all copies and its `pri.` twin over the primaries, as cat indices lists them."""
    flags = {"default": False, "right": True, **flags}
    return [column(name, aliases, desc, sibling="pri", **flags), column(f"pri.{name}", "", desc, **flags)]


TIMESTAMP_COLUMNS = [
    column(EPOCH, "t,time", "seconds since 1970-01-01 00:00:00"),
    column(TIMESTAMP, "ts,hms,hhmmss", "time in HH:MM:SS"),
]


# --- typed values --------------------------------------------------------------------------------

_BYTE_UNITS = (("pb", 1024**5), ("tb", 1024**4), ("gb", 1024**3), ("mb", 1024**2), ("kb", 1024))
_BYTES_PARAM = {"b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3, "gb": 1024**3}
_BYTES_PARAM.update({"t": 1024**4, "tb": 1024**4, "p": 1024**5, "pb": 1024**5})


def _one_decimal_truncated(value: float, suffix: str) -> str:
    """Strings.format1Decimals: the first decimal kept, not rounded, and dropped when it is 0."""
    whole, _, fraction = repr(float(value)).partition(".")
    digit = fraction[:1]
    return f"{whole}{suffix}" if digit in ("", "0") else f"{whole}.{digit}{suffix}"


@dataclass(frozen=True, order=True)
class ByteSize:
    bytes: int

    def render(self, unit: str | None) -> str:
        if unit in _BYTES_PARAM:
            return str(self.bytes // _BYTES_PARAM[unit])
        for suffix, size in _BYTE_UNITS:
            if self.bytes >= size:
                return _one_decimal_truncated(self.bytes / size, suffix)
        return f"{self.bytes}b"


_TIME_UNITS = (("d", 86400 * 10**9), ("h", 3600 * 10**9), ("m", 60 * 10**9), ("s", 10**9))
_TIME_UNITS += (("ms", 10**6), ("micros", 10**3))
_TIME_PARAM = {"nanos": 1, "micros": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9}
_TIME_PARAM.update({"h": 3600 * 10**9, "d": 86400 * 10**9})


@dataclass(frozen=True, order=True)
class Duration:
    nanos: int

    @classmethod
    def millis(cls, ms: float) -> Duration:
        return cls(int(ms * 10**6))

    def render(self, unit: str | None) -> str:
        if unit in _TIME_PARAM:
            return str(self.nanos // _TIME_PARAM[unit])
        if self.nanos == 0:
            return "0s"
        for suffix, size in _TIME_UNITS:
            if self.nanos >= size:
                value = Decimal(self.nanos) / Decimal(size)
                text = str(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))
                return (text[:-2] if text.endswith(".0") else text) + suffix
        return f"{self.nanos}nanos"


def _render(value: Any, request: Request) -> str | None:
    if value is None:
        return None
    if isinstance(value, ByteSize):
        return value.render(request.query_params.get("bytes"))
    if isinstance(value, Duration):
        return value.render(request.query_params.get("time"))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- the table -----------------------------------------------------------------------------------


class Table:
    def __init__(self, columns: list[Column], *, timestamped: bool = False) -> None:
        self.timestamped = timestamped
        self.columns = [*TIMESTAMP_COLUMNS, *columns] if timestamped else list(columns)
        self.by_name = {c.name: c for c in self.columns}
        self.rows: list[dict[str, Any]] = []

    def add_row(self, values: dict[str, Any]) -> None:
        row = dict(values)
        if self.timestamped:
            now = time.time()
            row[EPOCH] = int(now)
            row[TIMESTAMP] = datetime.fromtimestamp(now, UTC).strftime("%H:%M:%S")
        self.rows.append(row)

    def alias_map(self) -> dict[str, str]:
        """Table.getAliasMap: every alias and name to its column (a later column wins an alias)."""
        names: dict[str, str] = {}
        for c in self.columns:
            for alias in c.aliases:
                names[alias] = c.name
            names[c.name] = c.name
        return names


@dataclass(frozen=True)
class _Shown:
    name: str  # the column
    display: str  # what the header and JSON key say: the name or alias the request used


def _requested(table: Table, request: Request) -> list[_Shown]:
    shows_time = bool_param(request, "ts", True)
    h = request.query_params.get("h")
    if h is None:
        return [
            _Shown(c.name, c.name)
            for c in table.columns
            if c.default and (shows_time or c.name not in (EPOCH, TIMESTAMP))
        ]
    wanted: list[str] = []
    for token in (t.strip() for t in h.split(",")):
        if not token:
            continue
        if "*" in token:
            wanted += [c.name for c in table.columns if _wildcard_hit(token, c)]
        else:
            wanted.append(token)
    shown: list[_Shown] = []
    for token in dict.fromkeys(wanted):
        display = _resolve(table, token)
        if display is None or (not shows_time and display.name in (EPOCH, TIMESTAMP)):
            continue
        shown.append(display)
        sibling = table.by_name[display.name].sibling
        twin = table.by_name.get(f"{sibling}.{display.name}") if sibling else None
        if twin is not None and bool_param(request, sibling, False):
            shown.append(_Shown(twin.name, f"{sibling}.{display.display}"))
    return shown


def _wildcard_hit(pattern: str, c: Column) -> bool:
    return fnmatch.fnmatchcase(c.name, pattern) or any(fnmatch.fnmatchcase(a, pattern) for a in c.aliases)


def _resolve(table: Table, token: str) -> _Shown | None:
    if token in table.by_name:
        return _Shown(token, token)
    found = None
    for c in table.columns:  # the last column with that alias wins, as in RestTable
        if token in c.aliases:
            found = _Shown(c.name, token)
    return found


def _compare(a: Any, b: Any) -> int:
    """TableIndexComparator.compareCell: nulls first, like types naturally, anything else as text."""
    if a is None or b is None:
        return (a is not None) - (b is not None)
    if type(a) is type(b):
        return (a > b) - (a < b)
    return (str(a) > str(b)) - (str(a) < str(b))


def _row_order(table: Table, request: Request) -> list[dict[str, Any]]:
    s = request.query_params.get("s")
    if not s:
        return table.rows
    names = table.alias_map()
    keys: list[tuple[str, bool]] = []
    for token in (t.strip() for t in s.split(",") if t.strip()):
        reverse = token.endswith(":desc")
        name = token.removesuffix(":desc").removesuffix(":asc") if reverse else token.removesuffix(":asc")
        if name not in names:
            # RestTable throws UnsupportedOperationException, which Elasticsearch answers with a 500.
            raise EsError(
                500, "unsupported_operation_exception", f"Unable to sort by unknown sort key `{name}`"
            )
        keys.append((names[name], reverse))

    def compare(a: dict[str, Any], b: dict[str, Any]) -> int:
        for name, reverse in keys:
            result = _compare(a.get(name), b.get(name))
            if result:
                return -result if reverse else result
        return 0

    return sorted(table.rows, key=functools.cmp_to_key(compare))


def _wants_json(request: Request) -> bool:
    """RestTable.getResponseContentType: `format`, else a single JSON media type in Accept (a list of
    media types is a range, which selects nothing)."""
    fmt = request.query_params.get("format")
    if fmt is not None:
        return fmt.lower() == "json"
    accept = (request.headers.get("accept") or "").lower()
    if not accept or "," in accept:
        return False
    media = accept.split(";")[0].strip()
    return media == JSON_MEDIA or (
        media.startswith("application/vnd.elasticsearch+") and media.endswith("json")
    )


def respond(table: Table, request: Request) -> Response:
    if bool_param(request, "help", False):
        return _help(table)
    shown = _requested(table, request)
    rows = _row_order(table, request)
    if _wants_json(request):
        body = [{s.display: _render(row.get(s.name), request) for s in shown} for row in rows]
        return Response(
            json.dumps(body, separators=(",", ":")), media_type=JSON_MEDIA, headers=PRODUCT_HEADERS
        )
    return _text(table, shown, rows, request)


def _text(table: Table, shown: list[_Shown], rows: list[dict[str, Any]], request: Request) -> Response:
    verbose = bool_param(request, "v", False)
    cells = [[_render(row.get(s.name), request) for s in shown] for row in rows]
    widths = [len(s.display) if verbose else 0 for s in shown]
    for line in cells:
        widths = [max(w, len(v or "")) for w, v in zip(widths, line, strict=True)]
    right = [table.by_name[s.name].right for s in shown]
    lines = [[s.display for s in shown]] if verbose else []
    out = []
    for line in [*lines, *cells]:
        parts = []
        for i, value in enumerate(line):
            text = value or ""
            last = i == len(line) - 1
            if right[i] and len(text) < widths[i]:
                parts.append(text.rjust(widths[i]))
            else:
                parts.append(text if last else text.ljust(widths[i]))
        out.append(" ".join(parts) + "\n")
    return Response("".join(out), media_type=TEXT_MEDIA, headers=PRODUCT_HEADERS)


def _help(table: Table) -> Response:
    """AbstractCatAction's help: name | aliases | description, every cell left-aligned and padded."""
    rows = [(c.name, ",".join(c.aliases), c.desc) for c in table.columns]
    widths = [max((len(r[i]) for r in rows), default=0) for i in range(3)]
    text = "".join(" | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) + "\n" for r in rows)
    return Response(text, media_type=TEXT_MEDIA, headers=PRODUCT_HEADERS)
