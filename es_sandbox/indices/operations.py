"""Operations on whole indices beyond create and delete: close and open, blocks, resize (clone, shrink,
split) and rollover, with the checks and answers of Elasticsearch's metadata services
(MetadataIndexStateService, MetadataCreateIndexService.validateResize, MetadataRolloverService)."""

from __future__ import annotations

import copy
import re
import time
from typing import TYPE_CHECKING, Any

from es_sandbox.errors import EsError, illegal_argument
from es_sandbox.http import parse_time
from es_sandbox.indices import blocks
from es_sandbox.indices.settings import flatten_settings
from es_sandbox.ml.units import parse_byte_size as parse_bytes

if TYPE_CHECKING:
    from es_sandbox.indices.index import Index
    from es_sandbox.indices.store import IndexStore

# Settings a resized index takes from its source rather than from the request (the rest are copied
# too, except those that name the source itself).
_NOT_COPIED = {
    "index.uuid",
    "index.creation_date",
    "index.provided_name",
    "index.version.created",
    "index.number_of_shards",
    "index.number_of_replicas",
}


def set_closed(store: IndexStore, indices: list[Index], closed: bool) -> None:
    for index in indices:
        if index.closed != closed:
            index.closed = closed
            index.reallocated()  # a closed index's primaries are allocated again, then the open ones
            index.changed("settings")
    store.changes += 1


def set_block(indices: list[Index], block: str, on: bool) -> str:
    setting = blocks.API_BLOCKS.get(block)
    if setting is None:
        raise illegal_argument(f"No block found with name [{block}]")
    for index in indices:
        if on and index.flat_settings.get(setting) != "true":
            index.flat_settings[setting] = "true"
            index.changed("settings")
        elif not on and setting in index.flat_settings:
            index.flat_settings.pop(setting)
            index.changed("settings")
    return setting


def _shards(flat: dict[str, Any], default: int) -> int:
    return int(flat.get("index.number_of_shards", default))


def _check_shard_counts(kind: str, source: Index, target_shards: int) -> None:
    have = source.number_of_shards
    if kind == "shrink":
        if have == 1:
            raise illegal_argument("can't shrink an index with only one shard")
        if target_shards > have:
            raise illegal_argument(
                f"the number of target shards [{target_shards}] must be less that the number of source shards [{have}]"
            )
        if have % target_shards:
            raise illegal_argument(
                f"the number of source shards [{have}] must be a multiple of [{target_shards}]"
            )
    elif kind == "split":
        if target_shards <= have:
            raise illegal_argument(
                f"the number of source shards [{have}] must be less that the number of target shards [{target_shards}]"
            )
        routing = int(source.setting("number_of_routing_shards", target_shards))
        if routing % target_shards or target_shards % have:
            raise illegal_argument(
                f"the number of routing shards [{routing}] must be a multiple of the target shards [{target_shards}]"
            )
    elif target_shards != have:
        raise illegal_argument(
            f"the number of target shards ({target_shards}) must be the same as the number of source shards ( {have})"
        )


def resize(store: IndexStore, kind: str, source: Index, target: str, body: dict[str, Any]) -> Index:
    """A new index with the source's mappings, settings and documents (the source must block writes)."""
    unknown = set(body) - {"settings", "aliases", "max_primary_shard_size"}
    if "mappings" in body:
        raise illegal_argument(
            "mappings are not allowed when resizing indices, all mappings are copied from the source index"
        )
    if unknown:
        raise EsError(
            400, "x_content_parse_exception", f"[1:2] [resize_request] unknown field [{sorted(unknown)[0]}]"
        )
    if store.exists(target):
        store.create(target, {})  # refuses as create does: the index or alias exists
    if (
        source.flat_settings.get("index.blocks.write") != "true"
        and source.flat_settings.get("index.blocks.read_only") != "true"
    ):
        raise EsError(
            500,
            "illegal_state_exception",
            f'index {source.name} must block write operations to resize index. use "index.blocks.write=true"',
        )
    requested = flatten_settings(body.get("settings"))
    default_shards = 1 if kind == "shrink" else source.number_of_shards
    _check_shard_counts(kind, source, _shards(requested, default_shards))
    inherited = {k: v for k, v in source.flat_settings.items() if k not in _NOT_COPIED}
    settings = {**inherited, "index.number_of_shards": str(default_shards), **requested}
    created = store.create(
        target,
        {
            "settings": settings,
            "mappings": copy.deepcopy(source.mappings),
            "aliases": body.get("aliases") or {},
        },
    )
    for doc_id, doc in source.docs.items():
        created.docs[doc_id] = doc
    # A target shard's history continues from the source shards it was built from (a clone: its own;
    # a shrink or split: the highest of them, as the resized commit records their max_seq_no).
    for number, shard in enumerate(created.shards):
        feeding = [source.shards[number]] if kind == "clone" else source.shards
        shard.next_seq_no = max(s.next_seq_no for s in feeding)
    created.mutations += 1
    return created


# -- rollover -------------------------------------------------------------------------------------

_NUMBERED = re.compile(r"^(.*)-(\d+)$")


def next_index_name(old: str) -> str:
    match = _NUMBERED.match(old)
    if not match:
        raise illegal_argument(f"index name [{old}] does not match pattern '^.*-\\d+$'")
    return f"{match.group(1)}-{int(match.group(2)) + 1:06d}"


def _condition_met(name: str, value: Any, index: Index) -> bool:
    age_seconds = time.time() - index.creation_date / 1000
    docs = len(index.docs)
    size = index.store_size_in_bytes()
    checks = {
        "max_age": lambda: age_seconds >= parse_time(value, name),
        "min_age": lambda: age_seconds >= parse_time(value, name),
        "max_docs": lambda: docs >= int(value),
        "min_docs": lambda: docs >= int(value),
        "max_primary_shard_docs": lambda: docs / index.number_of_shards >= int(value),
        "min_primary_shard_docs": lambda: docs / index.number_of_shards >= int(value),
        "max_size": lambda: size >= parse_bytes(value, name),
        "min_size": lambda: size >= parse_bytes(value, name),
        "max_primary_shard_size": lambda: size / index.number_of_shards >= parse_bytes(value, name),
        "min_primary_shard_size": lambda: size / index.number_of_shards >= parse_bytes(value, name),
    }
    if name not in checks:
        raise EsError(400, "x_content_parse_exception", f"[1:1] [conditions] unknown field [{name}]")
    return checks[name]()


def rollover(
    store: IndexStore, target: str, new_name: str | None, body: dict[str, Any], *, dry_run: bool
) -> dict[str, Any]:
    """Roll an alias over to a new index when its conditions hold (all max_* or min_* met as ES's
    RolloverConditions decide: any max condition, and every min condition)."""
    if not store.exists(target):
        raise illegal_argument(f"rollover target [{target}] does not exist")
    if not store.is_alias(target):
        raise illegal_argument(
            "rollover target is a [concrete index] but one of [alias, data_stream] was expected"
        )
    holders = [i for i in store.indices.values() if target in i.aliases]
    writers = [i for i in holders if i.aliases[target].get("is_write_index")]
    if len(holders) > 1 and len(writers) != 1:
        raise illegal_argument(f"rollover target [{target}] does not point to a write index")
    old = writers[0] if writers else holders[0]
    new_index = new_name or next_index_name(old.name)
    conditions = body.get("conditions") or {}
    results = {f"[{name}: {value}]": _condition_met(name, value, old) for name, value in conditions.items()}
    max_met = [ok for (label, ok) in results.items() if label.startswith("[max_")]
    min_met = [ok for (label, ok) in results.items() if label.startswith("[min_")]
    met = (not max_met or any(max_met)) and all(min_met)
    answer = {
        "acknowledged": False,
        "shards_acknowledged": False,
        "old_index": old.name,
        "new_index": new_index,
        "rolled_over": False,
        "dry_run": dry_run,
        "lazy": False,
        "conditions": results,
    }
    if dry_run or not met:
        return answer
    explicit_writer = old.aliases[target].get("is_write_index") is True
    new_body = {k: v for k, v in body.items() if k in ("settings", "mappings", "aliases")}
    created = store.create(new_index, new_body)
    props = dict(old.aliases[target])
    if explicit_writer:
        old.aliases[target] = {**props, "is_write_index": False}
        created.aliases[target] = {**props, "is_write_index": True}
    else:
        del old.aliases[target]
        created.aliases[target] = props
    old.changed("aliases")
    created.changed("aliases")
    return {**answer, "acknowledged": True, "shards_acknowledged": True, "rolled_over": True}
