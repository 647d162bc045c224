"""Scripts of the update context (`_update`, `_update_by_query`, `_reindex`): the script object of a
request compiled with the sandbox's Painless subset, and run over a `ctx` of `_source`, `op` and the
document's metadata, as UpdateHelper and the by-scroll ScriptApplier run it."""

from __future__ import annotations

from typing import Any

from es_sandbox.errors import EsError, illegal_argument
from es_sandbox.ingest.painless import SCRIPT_FORMS, Refused, Script

OPS = ("noop", "index", "delete")


def compile_script(spec: Any) -> Script:
    """`"script": "ctx._source.n++"` or `{"source": ..., "params": {...}, "lang": "painless"}`."""
    if isinstance(spec, str):
        spec = {"source": spec}
    if not isinstance(spec, dict):
        raise EsError(400, "x_content_parse_exception", "[script] failed to parse field [script]")
    if "id" in spec:
        raise illegal_argument("es_sandbox does not run stored scripts: give the script's [source]")
    lang = spec.get("lang", "painless")
    if lang != "painless":
        raise illegal_argument(f"script_lang not supported [{lang}]")
    source = spec.get("source")
    if not isinstance(source, str):
        raise illegal_argument(
            "must specify either [source] for an inline script or [id] for a stored script"
        )
    try:
        return Script(source, dict(spec.get("params") or {}), statements=True)
    except Refused as refused:
        raise illegal_argument(
            f"es_sandbox runs only {SCRIPT_FORMS}; at offset {refused.offset} of [{source}]: {refused}"
        ) from None


def run(script: Script, ctx: dict[str, Any]) -> str:
    """Run the script over `ctx` and return the operation it leaves (`index` unless it changed `op`)."""
    script.run_update(ctx)
    op = ctx.get("op")
    if op not in OPS:
        raise illegal_argument(f"Operation type [{op}] not allowed, only [{', '.join(OPS)}] are allowed")
    return op
