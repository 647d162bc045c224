"""The document a pipeline works on (ES's IngestDocument): metadata, _source and _ingest metadata
addressed by dotted paths, with the exact errors Elasticsearch gives for missing or mistyped fields,
and the small mustache subset ingest templates use ({{field}} escaped, {{{field}}} raw)."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from es_sandbox.errors import illegal_argument
from es_sandbox.java import java_type

# Metadata fields live beside _source in the ingest context map (IngestDocument.Metadata).
METADATA_KEYS = (
    "_index",
    "_id",
    "_routing",
    "_version",
    "_version_type",
    "_if_seq_no",
    "_if_primary_term",
    "_dynamic_templates",
)
_INGEST_PREFIX = "_ingest."
_SOURCE_PREFIX = "_source."


def clone(value: Any) -> Any:
    """A deep copy of JSON-like data, several times faster than copy.deepcopy."""
    if type(value) is dict:
        return {k: clone(v) for k, v in value.items()}
    if type(value) is list:
        return [clone(v) for v in value]
    return value


_second: list[Any] = [None, ""]  # the last whole second formatted, reused: every document needs a timestamp


def ingest_timestamp() -> str:
    """_ingest.timestamp, ISO-8601 UTC with microseconds."""
    now = time.time()
    second = int(now)
    if _second[0] != second:
        _second[0], _second[1] = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
    return f"{_second[1]}.{int((now - second) * 1_000_000):06d}Z"


class IngestDocument:
    __slots__ = ("meta", "source", "ingest", "pipelines", "executed")

    def __init__(
        self, meta: dict[str, Any], source: dict[str, Any], ingest: dict[str, Any] | None = None
    ) -> None:
        self.meta = meta
        self.source = source
        self.ingest = ingest if ingest is not None else {"timestamp": ingest_timestamp()}
        self.pipelines: list[str] = []  # the executing pipelines, innermost last
        self.executed: list[str] = []  # every pipeline started on the document, in order

    def copy(self) -> IngestDocument:
        doc = IngestDocument(clone(self.meta), clone(self.source), clone(self.ingest))
        doc.pipelines = list(self.pipelines)
        doc.executed = list(self.executed)
        return doc

    # --- path resolution -------------------------------------------------------------------

    def _context(self, path: str) -> tuple[Any, list[str]]:
        if not path:
            raise illegal_argument("path cannot be null nor empty")
        if path.startswith(_INGEST_PREFIX):
            return self.ingest, path[len(_INGEST_PREFIX) :].split(".")
        if path.startswith(_SOURCE_PREFIX):
            return self.source, path[len(_SOURCE_PREFIX) :].split(".")
        elements = path.split(".")
        if elements[0] in METADATA_KEYS:
            return self.meta, elements
        return self.source, elements

    @staticmethod
    def _resolve(element: str, path: str, context: Any) -> Any:
        if context is None:
            raise illegal_argument(f"cannot resolve [{element}] from null as part of path [{path}]")
        if isinstance(context, dict):
            if element in context:
                return context[element]
            raise illegal_argument(f"field [{element}] not present as part of path [{path}]")
        if isinstance(context, list):
            index = _list_index(element, path, context)
            return context[index]
        raise illegal_argument(
            f"cannot resolve [{element}] from object of type [{java_type(context)}] as part of path [{path}]"
        )

    def get(self, path: str, ignore_missing: bool = False) -> Any:
        """getFieldValue: the value at the path; with ignore_missing, None when it cannot be resolved."""
        if ignore_missing and not self.has(path):
            return None
        context, elements = self._context(path)
        for element in elements:
            context = self._resolve(element, path, context)
        return context

    def get_string(self, path: str, ignore_missing: bool = False) -> str | None:
        value = self.get(path, ignore_missing)
        if value is not None and not isinstance(value, str):
            raise illegal_argument(
                f"field [{path}] of type [{java_type(value)}] cannot be cast to [java.lang.String]"
            )
        return value

    def has(self, path: str) -> bool:
        context, elements = self._context(path)
        for element in elements[:-1]:
            if isinstance(context, dict):
                context = context.get(element)
            elif isinstance(context, list):
                try:
                    index = int(element)
                except ValueError:
                    return False
                if index < 0 or index >= len(context):
                    return False
                context = context[index]
            else:
                return False
        leaf = elements[-1]
        if isinstance(context, dict):
            return leaf in context
        if isinstance(context, list):
            try:
                return 0 <= int(leaf) < len(context)
            except ValueError:
                return False
        return False

    def set(self, path: str, value: Any, *, append: bool = False) -> None:
        context, elements = self._context(path)
        for element in elements[:-1]:
            if isinstance(context, dict):
                if element not in context or context[element] is None:
                    context[element] = {}
                context = context[element]
            elif isinstance(context, list):
                index = _list_index(element, path, context)
                context = context[index]
            else:
                raise illegal_argument(
                    f"cannot resolve [{element}] from object of type [{java_type(context)}] as part of path [{path}]"
                )
        leaf = elements[-1]
        if isinstance(context, dict):
            if append and leaf in context:
                context[leaf] = _appended(context[leaf], value)
            elif context is self.meta:
                check_metadata(leaf, value)
                context[leaf] = value
            else:
                context[leaf] = [value] if append and not isinstance(value, list) else value
        elif isinstance(context, list):
            index = _list_index(leaf, path, context)
            context[index] = _appended(context[index], value) if append else value
        else:
            raise illegal_argument(
                f"cannot set [{leaf}] with parent object of type [{java_type(context)}] as part of path [{path}]"
            )

    def set_or_append(self, path: str, value: Any) -> None:
        """InferenceResults.setOrAppendValue: append when the field exists, set otherwise."""
        self.set(path, value, append=self.has(path))

    def remove(self, path: str) -> None:
        context, elements = self._context(path)
        for element in elements[:-1]:
            context = self._resolve(element, path, context)
        leaf = elements[-1]
        if isinstance(context, dict):
            if leaf in context:
                del context[leaf]
                return
            raise illegal_argument(f"field [{leaf}] not present as part of path [{path}]")
        if isinstance(context, list):
            index = _list_index(leaf, path, context)
            del context[index]
            return
        if context is None:
            raise illegal_argument(f"cannot remove [{leaf}] from null as part of path [{path}]")
        raise illegal_argument(
            f"cannot remove [{leaf}] from object of type [{java_type(context)}] as part of path [{path}]"
        )

    # --- views -----------------------------------------------------------------------------

    def template_model(self) -> dict[str, Any]:
        return {**self.source, **self.meta, "_source": self.source, "_ingest": self.ingest}

    def simulate_view(self) -> dict[str, Any]:
        """WriteableIngestDocument: metadata values as strings, then _source and _ingest."""
        view: dict[str, Any] = {
            k: str(v) if not isinstance(v, dict) else v for k, v in self.meta.items() if v is not None
        }
        view["_source"] = clone(self.source)
        view["_ingest"] = clone(self.ingest)
        return view


def _list_index(element: str, path: str, values: list) -> int:
    """A path element that indexes into a list: an integer within the list's bounds."""
    try:
        index = int(element)
    except ValueError:
        raise illegal_argument(
            f"[{element}] is not an integer, cannot be used as an index as part of path [{path}]"
        ) from None
    if index < 0 or index >= len(values):
        raise illegal_argument(
            f"[{index}] is out of bounds for array with length [{len(values)}] as part of path [{path}]"
        )
    return index


def _appended(existing: Any, value: Any) -> list:
    values = existing if isinstance(existing, list) else [existing]
    return values + (value if isinstance(value, list) else [value])


def check_metadata(key: str, value: Any) -> None:
    if key in ("_index", "_id", "_routing") and value is not None and not isinstance(value, str):
        raise illegal_argument(
            f"{key} must be null or of type [java.lang.String] but was [{value}] with type [{java_type(value)}]"
        )


# --- mustache subset -------------------------------------------------------------------------

_TEMPLATE_RE = re.compile(r"\{\{\{\s*([^{}]+?)\s*\}\}\}|\{\{\s*([^{}#^/!>&][^{}]*?)\s*\}\}")


def is_template(value: Any) -> bool:
    return isinstance(value, str) and "{{" in value


def render(template: str, doc: IngestDocument) -> str:
    """{{field}} (JSON-escaped, as ingest templates are) and {{{field}}} (raw), dotted paths."""
    if "{{" not in template:
        return template
    model = doc.template_model()

    def substitute(m: re.Match) -> str:
        raw, escaped = m.group(1), m.group(2)
        text = _stringify(_lookup(model, (raw or escaped).strip()))
        return text if raw is not None else json.dumps(text, ensure_ascii=False)[1:-1]

    return _TEMPLATE_RE.sub(substitute, template)


def render_value(value: Any, doc: IngestDocument) -> Any:
    """ValueSource: strings are templates, maps and lists are rendered element by element."""
    if isinstance(value, str):
        return render(value, doc)
    if isinstance(value, dict):
        return {render(k, doc): render_value(v, doc) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, doc) for v in value]
    return value


def _lookup(model: dict[str, Any], name: str) -> Any:
    context: Any = model
    if name in context:
        return context[name]
    for element in name.split("."):
        if isinstance(context, dict) and element in context:
            context = context[element]
        elif isinstance(context, list) and element.isdigit() and int(element) < len(context):
            context = context[int(element)]
        else:
            return None
    return context


def _stringify(value: Any) -> str:
    """Java's toString of the value, which is what mustache renders."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={_stringify(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return ", ".join(_stringify(v) for v in value)
    return str(value)
