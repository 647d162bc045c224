"""The foreach processor: one inner processor run on each element of a list (or each entry of a
map), the element being `_ingest._value` (and the key `_ingest._key`) while it runs."""

from __future__ import annotations

from typing import Any

from es_sandbox.errors import illegal_argument
from es_sandbox.ingest.processors import Processor
from es_sandbox.java import copied_hashmap_capacity, hashmap_order, java_type


class ForEachProcessor(Processor):
    type = "foreach"

    def __init__(self, tag, description, field, processor, ignore_missing) -> None:
        super().__init__(tag, description)
        self.field, self.processor, self.ignore_missing = field, processor, ignore_missing

    @classmethod
    def build(cls, cfg, service):
        field = cfg.string("field")
        ignore_missing = cfg.boolean("ignore_missing", False)
        config = cfg.map("processor", required=True)
        if len(config) != 1:
            raise cfg.error("processor", "Must specify exactly one processor type")
        ((processor_type, processor_config),) = config.items()
        processor = service.read_processor(processor_type, processor_config)
        return cls(cfg.tag, None, field, processor, ignore_missing)

    def walk(self):
        yield self
        yield from self.processor.walk()

    async def execute(self, doc):
        value = doc.get(self.field, self.ignore_missing)
        if value is None:
            if self.ignore_missing:
                return doc
            raise illegal_argument(f"field [{self.field}] is null, cannot loop over its elements.")
        if isinstance(value, dict):
            return await self._each_entry(doc, dict(value))
        if isinstance(value, list):
            return await self._each_element(doc, list(value))
        raise illegal_argument(
            f"field [{self.field}] of type [{java_type(value)}] cannot be cast to a list or map"
        )

    async def _each_element(self, doc, values: list[Any]):
        results: list[Any] = []
        for value in values:
            previous = doc.ingest.get("_value")
            doc.ingest["_value"] = value
            try:
                result = await self.processor.execute(doc)
            finally:
                # Java's put(previous) leaves the key in place, null included ("_value": null).
                results.append(doc.ingest.get("_value"))
                doc.ingest["_value"] = previous
            if result is None:
                return None
        doc.set(self.field, results)
        return doc

    async def _each_entry(self, doc, entries: dict[str, Any]):
        results: dict[str, Any] = {}
        for key, value in entries.items():
            previous_key, previous_value = doc.ingest.get("_key"), doc.ingest.get("_value")
            doc.ingest["_key"], doc.ingest["_value"] = key, value
            try:
                result = await self.processor.execute(doc)
            finally:
                new_key = doc.ingest.get("_key")
                if isinstance(new_key, str) and new_key.strip():
                    results[new_key] = doc.ingest.get("_value")
                    doc.ingest["_value"] = previous_value
                doc.ingest["_key"] = previous_key
            if result is None:
                return None
        # The new entries are a java.util.HashMap copy: Elasticsearch writes them in its order.
        capacity = copied_hashmap_capacity(len(results))
        doc.set(self.field, {key: results[key] for key in hashmap_order(results, capacity)})
        return doc
