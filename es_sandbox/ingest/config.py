"""Reading processor and pipeline configurations as ConfigurationUtils does: each property is
removed from the config as it is read, and every problem is a parse_exception carrying
processor_type / processor_tag / property_name, as Elasticsearch's errors do."""

from __future__ import annotations

from typing import Any

from es_sandbox.errors import EsError
from es_sandbox.java import java_str, java_type

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


def wrapped_cause(cause: EsError, java_class: str) -> EsError:
    """ExceptionsHelper.convertToElastic of an exception that is no ElasticsearchException, as a
    processor factory's failure becomes: a 500 `exception` whose reason is the cause's toString()."""
    return EsError(500, "exception", f"{java_class}: {cause.reason}", caused_by=cause.to_xcontent())


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

    def _typed(self, prop: str, required: bool, kind: type, kind_name: str) -> Any:
        """The property (None when absent and not required), refused when it is not of `kind`."""
        value = self._take(prop, required=required)
        if value is not None and not isinstance(value, kind):
            raise self.error(prop, f"property isn't a {kind_name}, but of type [{java_type(value)}]")
        return value

    def string(self, prop: str, default: str | None = _MISSING) -> str | None:  # type: ignore[assignment]
        value = self._typed(prop, default is _MISSING, str, "string")
        if value is None:
            return None if default is _MISSING else default
        return value

    def optional_string(self, prop: str) -> str | None:
        return self.string(prop, None)

    def boolean(self, prop: str, default: bool) -> bool:
        value = self._typed(prop, False, bool, "boolean")
        return default if value is None else value

    def integer(self, prop: str) -> int | None:
        value = self._take(prop, required=False)
        if value is None:
            return None
        try:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        except (TypeError, ValueError):
            raise self.error(prop, f"property cannot be converted to an int [{java_str(value)}]") from None

    def map(self, prop: str, required: bool = False) -> dict[str, Any] | None:
        return self._typed(prop, required, dict, "map")

    def list(self, prop: str, required: bool = False) -> list[Any] | None:
        return self._typed(prop, required, list, "list")

    def object(self, prop: str, required: bool = True) -> Any:
        return self._take(prop, required=required)

    def leftover(self, what: str) -> None:
        if self.config:
            raise EsError(
                400,
                "parse_exception",
                f"{what} doesn't support one or more provided configuration parameters [{', '.join(self.config)}]",
            )
