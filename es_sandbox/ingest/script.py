"""Scripts in pipelines: the `if` of any processor and the script processor, read as Elasticsearch
reads a script object (a source string, or {source|inline, lang, params, options}), compiled by the
sandbox's Painless subset, and refused clearly when they need more than it runs."""

from __future__ import annotations

from typing import Any

from es_sandbox.errors import EsError, illegal_argument
from es_sandbox.ingest.config import config_error, wrapped_cause
from es_sandbox.ingest.painless import CONDITION_FORMS, SCRIPT_FORMS, Refused, Script
from es_sandbox.ingest.processors import Processor
from es_sandbox.java import java_type

SCRIPT_KEYS = ("source", "inline", "id", "lang", "params", "options")


def _refusal(
    what: str, source: str, refused: Refused, processor_type: str, tag: str | None, prop: str
) -> EsError:
    forms = CONDITION_FORMS if what == "conditions" else SCRIPT_FORMS
    return config_error(
        f"es_sandbox does not run Painless scripts; it runs {what} made of {forms} only: cannot run "
        f"[{source}]: {refused.reason} (at offset {refused.offset}); run this pipeline against a real "
        "Elasticsearch for more",
        processor_type=processor_type,
        tag=tag,
        prop=prop,
    )


def _script_fields(config: dict[str, Any], what: str, processor_type: str, tag: str | None, prop: str):
    """(source, params) of a script object; stored scripts and other languages are refused."""
    if config.get("id") is not None:
        raise config_error(
            f"es_sandbox has no stored scripts: give the {what} inline as [source]",
            processor_type=processor_type,
            tag=tag,
            prop=prop,
        )
    source = config.get("source", config.get("inline"))
    if source is None:
        raise illegal_argument(
            "must specify either [source] for an inline script or [id] for a stored script"
        )
    lang = config.get("lang", "painless")
    if lang != "painless":
        raise config_error(
            f"es_sandbox runs only painless {what}, not [{lang}]",
            processor_type=processor_type,
            tag=tag,
            prop=prop,
        )
    params = config.get("params") or {}
    if not isinstance(source, str) or not isinstance(params, dict):
        bad, value = ("source", source) if not isinstance(source, str) else ("params", params)
        raise config_error(
            f"[script] {bad} doesn't support values of type [{java_type(value)}]",
            processor_type=processor_type,
            tag=tag,
            prop=prop,
        )
    return source, params


def read_condition(value: Any, processor_type: str, tag: str | None) -> Script:
    """ConfigurationUtils.extractConditional: `if` as a source string or a script object."""
    if isinstance(value, str):
        value = {"source": value}
    elif not isinstance(value, dict):
        raise config_error(
            f"property isn't a map or string, but of type [{java_type(value)}]",
            processor_type="conditional",
            prop="script",
        )
    unknown = [key for key in value if key not in SCRIPT_KEYS]
    if unknown:
        raise config_error(
            f"[script] unknown field [{unknown[0]}]", processor_type=processor_type, tag=tag, prop="if"
        )
    source, params = _script_fields(value, "conditions", processor_type, tag, "if")
    try:
        return Script(source, params, statements=False)
    except Refused as refused:
        raise _refusal("conditions", source, refused, processor_type, tag, "if") from None


class ScriptProcessor(Processor):
    """Runs a script of ctx field assignments against the document."""

    type = "script"

    def __init__(self, tag, description, script: Script) -> None:
        super().__init__(tag, description)
        self.script = script

    @classmethod
    def build(cls, cfg, service):
        fields = {key: cfg.config.pop(key) for key in SCRIPT_KEYS if key in cfg.config}
        try:
            source, params = _script_fields(fields, "scripts", cls.type, cfg.tag, "source")
        except EsError as err:
            if err.type == "illegal_argument_exception":  # no ElasticsearchException: wrapped, as ES does
                raise wrapped_cause(err, "java.lang.IllegalArgumentException") from None
            raise
        try:
            return cls(cfg.tag, None, Script(source, params, statements=True))
        except Refused as refused:
            raise _refusal("scripts", source, refused, cls.type, cfg.tag, "source") from None

    async def execute(self, doc):
        self.script.run(doc)
        return doc
