"""Reading processor and pipeline configurations as ConfigurationUtils does: each property is
removed from the config as it is read, and every problem is a parse_exception carrying
processor_type / processor_tag / property_name, as Elasticsearch's errors do."""

from __future__ import annotations

from typing import Any

from es_sandbox.errors import EsError
from es_sandbox.ingest.document import java_type

_MISSING = object()


def config_error(
    reason: str, *, processor_type: str | None = None, tag: str | None = None, prop: str | None = None
) -> EsError:
    """ConfigurationUtils.newConfigurationException: '[prop] reason' plus the es.* metadata."""
    extra: dict[str, Any] = {}
    if processor_type is not None:
        extra["processor_type"] = processor_type
    if tag is not None:
        extra["processor_tag"] = tag
    if prop is not None:
        extra["property_name"] = prop
    return EsError(400, "parse_exception", f"[{prop}] {reason}" if prop else reason, extra=extra)


def with_processor(err: EsError, processor_type: str, tag: str | None) -> EsError:
    """newConfigurationException(type, tag, null, cause): the cause gains the processor metadata."""
    err.extra.setdefault("processor_type", processor_type)
    if tag is not None:
        err.extra.setdefault("processor_tag", tag)
    return err


class ConfigReader:
    """Reads one processor's (or pipeline's) properties; `leftover()` reports unknown ones."""

    def __init__(self, config: dict[str, Any], processor_type: str | None, tag: str | None) -> None:
        self.config = config
        self.type = processor_type
        self.tag = tag

    def error(self, prop: str | None, reason: str) -> EsError:
        return config_error(reason, processor_type=self.type, tag=self.tag, prop=prop)

    def _take(self, prop: str, required: bool) -> Any:
        value = self.config.pop(prop, None)
        if value is None and required:
            raise self.error(prop, "required property is missing")
        return value

    def string(self, prop: str, default: str | None = _MISSING) -> str | None:  # type: ignore[assignment]
        value = self._take(prop, required=default is _MISSING)
        if value is None:
            return None if default is _MISSING else default
        if not isinstance(value, str):
            raise self.error(prop, f"property isn't a string, but of type [{java_type(value)}]")
        return value

    def optional_string(self, prop: str) -> str | None:
        return self.string(prop, None)

    def boolean(self, prop: str, default: bool) -> bool:
        value = self._take(prop, required=False)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(prop, f"property isn't a boolean, but of type [{java_type(value)}]")
        return value

    def integer(self, prop: str) -> int | None:
        value = self._take(prop, required=False)
        if value is None:
            return None
        try:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        except (TypeError, ValueError):
            raise self.error(prop, f"property cannot be converted to an int [{_java_str(value)}]") from None

    def map(self, prop: str, required: bool = False) -> dict[str, Any] | None:
        value = self._take(prop, required=required)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.error(prop, f"property isn't a map, but of type [{java_type(value)}]")
        return value

    def list(self, prop: str, required: bool = False) -> list[Any] | None:
        value = self._take(prop, required=required)
        if value is None:
            return None
        if not isinstance(value, list):
            raise self.error(prop, f"property isn't a list, but of type [{java_type(value)}]")
        return value

    def object(self, prop: str, required: bool = True) -> Any:
        return self._take(prop, required=required)

    def leftover(self, what: str) -> None:
        if self.config:
            raise EsError(
                400,
                "parse_exception",
                f"{what} doesn't support one or more provided configuration parameters [{', '.join(self.config)}]",
            )


def _java_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
