"""The ingest processors the sandbox runs, each built from its config the way its Elasticsearch
factory reads it (same property names, defaults and configuration errors) and executed with the same
field semantics and failure messages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from es_sandbox.errors import EsError, illegal_argument
from es_sandbox.ingest.config import ConfigReader
from es_sandbox.ingest.document import IngestDocument, clone, is_template, render, render_value
from es_sandbox.java import java_type

if TYPE_CHECKING:
    from es_sandbox.ingest.service import IngestService

MEDIA_TYPES = ("application/json", "text/plain", "application/x-www-form-urlencoded")


class Processor:
    type: ClassVar[str] = ""
    is_async: ClassVar[bool] = False

    def __init__(self, tag: str | None, description: str | None) -> None:
        self.tag = tag
        self.description = description

    @classmethod
    def build(cls, cfg: ConfigReader, service: IngestService) -> Processor:
        raise NotImplementedError

    async def execute(self, doc: IngestDocument) -> IngestDocument | None:
        """The transformed document, or None when the document is dropped."""
        raise NotImplementedError

    @property
    def stats_name(self) -> str:
        return f"{self.type}:{self.tag}" if self.tag else self.type

    def walk(self):
        """This processor and the ones it runs itself (foreach's inner processor)."""
        yield self


def field_string(
    doc: IngestDocument, field: str, ignore_missing: bool, *, cannot: str = "process it"
) -> str | None:
    """The string a processor works on: None when the field is missing or null and ignore_missing is
    set; null otherwise is ES's "field [f] is null, cannot <what the processor does>"."""
    text = doc.get_string(field, ignore_missing)
    if text is None and not ignore_missing:
        raise illegal_argument(f"field [{field}] is null, cannot {cannot}.")
    return text


def _read_media_type(cfg: ConfigReader) -> None:
    media_type = cfg.string("media_type", "application/json")
    if media_type not in MEDIA_TYPES:
        raise cfg.error("media_type", f"property does not contain a supported media type [{media_type}]")


class SetProcessor(Processor):
    type = "set"

    def __init__(self, tag, description, field, value, copy_from, override, ignore_empty_value) -> None:
        super().__init__(tag, description)
        self.field, self.value, self.copy_from = field, value, copy_from
        self.override, self.ignore_empty_value = override, ignore_empty_value

    @classmethod
    def build(cls, cfg, service):
        field = cfg.string("field")
        copy_from = cfg.optional_string("copy_from")
        _read_media_type(cfg)
        value = None
        if copy_from is None:
            value = cfg.object("value")
        elif cfg.config.pop("value", None) is not None:
            raise cfg.error("copy_from", "cannot set both `copy_from` and `value` in the same processor")
        override = cfg.boolean("override", True)
        ignore_empty_value = cfg.boolean("ignore_empty_value", False)
        return cls(cfg.tag, None, field, value, copy_from, override, ignore_empty_value)

    async def execute(self, doc):
        path = render(self.field, doc)
        if self.override or not doc.has(path) or doc.get(path) is None:
            if self.copy_from is not None:
                value = clone(doc.get(self.copy_from))
            else:
                value = (
                    render_value(self.value, doc)
                    if is_template(self.value) or isinstance(self.value, dict | list)
                    else self.value
                )
            if self.ignore_empty_value and (value is None or value == ""):
                return doc
            doc.set(path, value)
        return doc


class AppendProcessor(Processor):
    type = "append"

    def __init__(self, tag, description, field, value, allow_duplicates) -> None:
        super().__init__(tag, description)
        self.field, self.value, self.allow_duplicates = field, value, allow_duplicates

    @classmethod
    def build(cls, cfg, service):
        field = cfg.string("field")
        value = cfg.object("value")
        allow_duplicates = cfg.boolean("allow_duplicates", True)
        _read_media_type(cfg)
        return cls(cfg.tag, None, field, value, allow_duplicates)

    async def execute(self, doc):
        path = render(self.field, doc)
        value = render_value(self.value, doc)
        values = value if isinstance(value, list) else [value]
        if not self.allow_duplicates and doc.has(path):
            existing = doc.get(path)
            existing = existing if isinstance(existing, list) else [existing]
            values = [v for v in values if v not in existing]
            if not values:
                return doc
        doc.set(path, values, append=True)
        return doc


class StringProcessor(Processor):
    """AbstractStringProcessor: field, ignore_missing, target_field; strings or lists of strings."""

    def __init__(self, tag, description, field, ignore_missing, target_field) -> None:
        super().__init__(tag, description)
        self.field, self.ignore_missing, self.target_field = field, ignore_missing, target_field

    @classmethod
    def build(cls, cfg, service):
        field = cfg.string("field")
        ignore_missing = cfg.boolean("ignore_missing", False)
        target_field = cfg.string("target_field", field)
        return cls(cfg.tag, None, field, ignore_missing, target_field)

    def transform(self, value: str) -> Any:
        raise NotImplementedError

    async def execute(self, doc):
        if self.ignore_missing and not doc.has(self.field):
            return doc
        value = doc.get(self.field)
        if value is None:
            if self.ignore_missing:
                return doc
            raise illegal_argument(f"field [{self.field}] is null, cannot process it.")
        if isinstance(value, list):
            for item in value:
                if not isinstance(item, str):
                    raise illegal_argument(
                        f"value [{item}] of type [{java_type(item)}] in list field [{self.field}] "
                        "cannot be cast to [java.lang.String]"
                    )
            new_value: Any = [self.transform(v) for v in value]
        elif isinstance(value, str):
            new_value = self.transform(value)
        else:
            raise illegal_argument(
                f"field [{self.field}] of type [{java_type(value)}] cannot be cast to [java.lang.String]"
            )
        doc.set(self.target_field, new_value)
        return doc


class LowercaseProcessor(StringProcessor):
    type = "lowercase"

    def transform(self, value: str) -> str:
        return value.lower()


class UppercaseProcessor(StringProcessor):
    type = "uppercase"

    def transform(self, value: str) -> str:
        return value.upper()


class TrimProcessor(StringProcessor):
    type = "trim"

    def transform(self, value: str) -> str:
        return value.strip()


class RemoveProcessor(Processor):
    type = "remove"

    def __init__(self, tag, description, fields, keep, ignore_missing) -> None:
        super().__init__(tag, description)
        self.fields, self.keep, self.ignore_missing = fields, keep, ignore_missing

    @classmethod
    def build(cls, cfg, service):
        def names(prop: str) -> list[str]:
            if prop not in cfg.config:
                return []
            value = cfg.object(prop)
            return list(value) if isinstance(value, list) else [value]

        fields, keep = names("field"), names("keep")
        if not fields and not keep:
            raise cfg.error("keep", "or [field] must be specified")
        if fields and keep:
            raise cfg.error("keep", "and [field] cannot both be used in the same processor")
        ignore_missing = cfg.boolean("ignore_missing", False)
        return cls(cfg.tag, None, fields, keep, ignore_missing)

    async def execute(self, doc):
        if self.keep:
            kept = [render(k, doc) for k in self.keep]
            for name in list(_leaf_paths(doc.source)):
                if not any(name == k or k.startswith(name + ".") or name.startswith(k + ".") for k in kept):
                    if doc.has(name):
                        doc.remove(name)
            return doc
        for template in self.fields:
            path = render(template, doc)
            if self.ignore_missing:
                if doc.has(path):
                    doc.remove(path)
            else:
                doc.remove(path)
        return doc


def _leaf_paths(source: dict[str, Any], prefix: str = "") -> list[str]:
    paths = []
    for key, value in source.items():
        path = prefix + key
        paths.append(path)
        if isinstance(value, dict):
            paths.extend(_leaf_paths(value, path + "."))
    return paths


class RenameProcessor(Processor):
    type = "rename"

    def __init__(self, tag, description, field, target_field, ignore_missing, override) -> None:
        super().__init__(tag, description)
        self.field, self.target_field = field, target_field
        self.ignore_missing, self.override = ignore_missing, override

    @classmethod
    def build(cls, cfg, service):
        field = cfg.string("field")
        target_field = cfg.string("target_field")
        ignore_missing = cfg.boolean("ignore_missing", False)
        override = cfg.boolean("override", False)
        return cls(cfg.tag, None, field, target_field, ignore_missing, override)

    async def execute(self, doc):
        field, target = render(self.field, doc), render(self.target_field, doc)
        if not doc.has(field):
            if self.ignore_missing:
                return doc
            raise illegal_argument(f"field [{field}] doesn't exist")
        if doc.has(target) and not self.override:
            raise illegal_argument(f"field [{target}] already exists")
        value = doc.get(field)
        doc.remove(field)
        try:
            doc.set(target, value)
        except EsError:
            doc.set(field, value)
            raise
        return doc


class FailProcessor(Processor):
    type = "fail"

    def __init__(self, tag, description, message) -> None:
        super().__init__(tag, description)
        self.message = message

    @classmethod
    def build(cls, cfg, service):
        return cls(cfg.tag, None, cfg.string("message"))

    async def execute(self, doc):
        raise EsError(500, "fail_processor_exception", render(self.message, doc))


class DropProcessor(Processor):
    type = "drop"

    @classmethod
    def build(cls, cfg, service):
        return cls(cfg.tag, None)

    async def execute(self, doc):
        return None


class PipelineProcessor(Processor):
    type = "pipeline"
    is_async = True

    def __init__(self, tag, description, name, ignore_missing_pipeline, service) -> None:
        super().__init__(tag, description)
        self.name, self.ignore_missing_pipeline, self.service = name, ignore_missing_pipeline, service

    @classmethod
    def build(cls, cfg, service):
        name = cfg.string("name")
        ignore_missing_pipeline = cfg.boolean("ignore_missing_pipeline", False)
        return cls(cfg.tag, None, name, ignore_missing_pipeline, service)

    @property
    def stats_name(self) -> str:
        name = f"{self.type}:{self.name}"
        return f"{name}:{self.tag}" if self.tag else name

    def pipeline_name(self, doc: IngestDocument) -> str:
        return render(self.name, doc)

    def target(self, doc: IngestDocument):
        name = self.pipeline_name(doc)
        pipeline = self.service.pipelines.get(name)
        if pipeline is None and not self.ignore_missing_pipeline:
            raise EsError(
                500,
                "illegal_state_exception",
                f"Pipeline processor configured for non-existent pipeline [{name}]",
            )
        return pipeline

    async def execute(self, doc):
        pipeline = self.target(doc)
        if pipeline is None:
            return doc
        return await pipeline.execute(doc)


class InferenceProcessor(Processor):
    """Calls the model once per document, as ES does: all `input_output` inputs of the document in
    one request, or the whole (field-mapped) document in `target_field` mode."""

    type = "inference"
    is_async = True

    def __init__(
        self,
        tag,
        description,
        model_id,
        inference_config,
        inputs,
        ignore_missing,
        target_field,
        field_map,
        service,
    ) -> None:
        super().__init__(tag, description)
        self.model_id, self.inference_config = model_id, inference_config
        self.inputs, self.ignore_missing = inputs, ignore_missing
        self.target_field, self.field_map = target_field, field_map
        self.service = service

    @classmethod
    def build(cls, cfg, service):
        model_id = cfg.string("model_id")
        inference_config = cfg.map("inference_config")
        if inference_config is not None:
            _check_inference_config(inference_config)
        raw_inputs = cfg.config.pop("input_output", None)
        if raw_inputs is not None:
            inputs = _read_input_output(cfg, raw_inputs)
            ignore_missing = cfg.boolean("ignore_missing", False)
            if cfg.optional_string("target_field") is not None:
                raise cfg.error(
                    "target_field",
                    "option is incompatible with [input_output]. Use the [output_field] option to specify where "
                    "to write the inference results to.",
                )
            if inference_config and "results_field" in next(iter(inference_config.values())):
                raise cfg.error(
                    None,
                    "The [inference_config.results_field] setting is incompatible with using [input_output]. "
                    "Prefer to use the [input_output.output_field] option to specify where to write the inference "
                    "results to.",
                )
            return cls(cfg.tag, None, model_id, inference_config, inputs, ignore_missing, None, None, service)
        default_target = "ml.inference" if cfg.tag is None else f"ml.inference.{cfg.tag}"
        target_field = cfg.string("target_field", default_target)
        field_map = cfg.map("field_map")
        if field_map is None:
            field_map = cfg.map("field_mappings")
        return cls(
            cfg.tag, None, model_id, inference_config, None, False, target_field, field_map or {}, service
        )

    @property
    def results_field(self) -> str:
        if self.inference_config:
            settings = next(iter(self.inference_config.values()))
            if isinstance(settings, dict) and settings.get("results_field"):
                return settings["results_field"]
        return "predicted_value"

    async def execute(self, doc):
        if self.inputs is not None:
            return await self._execute_input_output(doc)
        return await self._execute_target_field(doc)

    @property
    def ml(self):
        return self.service.cluster.ml

    async def _infer(self, texts: list[str]) -> list[dict[str, Any]]:
        field = self.ml.input_field(self.model_id)
        return await self.ml.infer(
            self.model_id, [{field: text} for text in texts], inference_config=self.inference_config
        )

    def _predicted(self, result: dict[str, Any]) -> Any:
        if self.results_field in result:
            return result[self.results_field]
        if "predicted_value" in result:
            return result["predicted_value"]
        return next((v for k, v in result.items() if k not in ("is_truncated", "warning")), None)

    async def _execute_input_output(self, doc):
        texts: list[str] = []
        any_present = False
        for input_field, _, _ in self.inputs:
            try:
                text = (
                    doc.get_string(input_field) if not self.ignore_missing or doc.has(input_field) else None
                )
            except EsError:
                if doc.has(input_field):
                    raise illegal_argument(
                        f"input field [{input_field}] cannot be processed because it is not a text field"
                    ) from None
                raise
            any_present = any_present or text is not None
            texts.append(text if text is not None else "")
            if not any_present:
                return doc
        results = await self._infer(texts)
        for i, (_, base, final) in enumerate(self.inputs):
            values: dict[str, Any] = {final: self._predicted(results[i])}
            if results[i].get("is_truncated"):
                values["is_truncated"] = True
            if i == 0:
                values["model_id"] = self.model_id
            for key, value in values.items():
                doc.set_or_append(f"{base}.{key}" if base else key, value)
        return doc

    async def _execute_target_field(self, doc):
        fields = {**doc.source, **doc.meta}
        if doc.ingest:
            fields["_ingest"] = doc.ingest
        for src, dest in self.field_map.items():  # LocalModel.mapFieldsIfNecessary
            value = _dig(fields, src)
            if value is not None:
                fields[dest] = value
        # The whole (field-mapped) document goes to the model, which finds its input field in it and
        # answers "Input field [x] does not exist in the source document" when it is missing.
        (result,) = await self.ml.infer(self.model_id, [fields], inference_config=self.inference_config)
        result = dict(result)
        if self.results_field not in result and "predicted_value" in result:
            result[self.results_field] = result.pop("predicted_value")
        result["model_id"] = self.model_id
        doc.set_or_append(self.target_field, result)
        return doc


def _dig(fields: dict[str, Any], path: str) -> Any:
    """MapHelper.dig: a dotted key as it stands, else the dotted path through nested maps."""
    if path in fields:
        return fields[path]
    context: Any = fields
    for element in path.split("."):
        if not isinstance(context, dict) or element not in context:
            return None
        context = context[element]
    return context


_INFERENCE_CONFIG_TYPES = (
    "classification",
    "regression",
    "fill_mask",
    "ner",
    "pass_through",
    "question_answering",
    "text_classification",
    "text_embedding",
    "text_expansion",
    "text_similarity",
    "zero_shot_classification",
)


def _check_inference_config(config: dict[str, Any]) -> None:
    if len(config) != 1 or not isinstance(next(iter(config.values())), dict):
        raise EsError(
            400,
            "status_exception",
            "inference_config must be an object with one inference type mapped to an object.",
        )
    kind = next(iter(config))
    if kind not in _INFERENCE_CONFIG_TYPES:
        raise EsError(
            400,
            "status_exception",
            f"unrecognized inference configuration type [{kind}]. Supported types [{', '.join(_INFERENCE_CONFIG_TYPES)}]",
        )


def _read_input_output(cfg: ConfigReader, raw: Any) -> list[tuple[str, str | None, str]]:
    if isinstance(raw, dict):
        raw = [raw]
    elif isinstance(raw, list):
        if raw and not isinstance(raw[0], dict):
            raise cfg.error("input_output", "property isn't a list of maps")
    else:
        raise cfg.error("input_output", "property isn't a map or list of maps")
    if not raw:
        raise cfg.error("input_output", "property cannot be empty at least one is required")
    inputs: list[tuple[str, str | None, str]] = []
    seen_in: set[str] = set()
    seen_out: set[str] = set()
    for entry in raw:
        io = ConfigReader(dict(entry), cfg.type, cfg.tag)
        input_field = io.string("input_field")
        output_field = io.string("output_field")
        for prop, name, seen in (
            ("input_field", input_field, seen_in),
            ("output_field", output_field, seen_out),
        ):
            if name in seen:
                raise cfg.error(prop, f"names must be unique but [{name}] is repeated")
            seen.add(name)
        base, _, final = output_field.rpartition(".")
        inputs.append((input_field, base or None, final))
    return inputs
