"""Index blocks and closed indices as the operations on an index meet them (ClusterBlocks,
IndexClosedException).

A block comes from an `index.blocks.*` setting (set through `_settings` or `PUT {index}/_block/{block}`)
and stops the operations of its levels: `write` stops document writes, `read` stops searches and gets.
A closed index refuses both with `index_closed_exception`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from es_sandbox.errors import EsError

if TYPE_CHECKING:
    from es_sandbox.indices.index import Index


class Block(NamedTuple):
    id: int
    description: str
    levels: tuple[str, ...]
    status: int = 403  # FORBIDDEN, the API blocks' status

    @property
    def label(self) -> str:
        name = "FORBIDDEN" if self.status == 403 else "TOO_MANY_REQUESTS"
        return f"{name}/{self.id}/{self.description}"


# IndexMetadata's API blocks, by the setting that sets each.
INDEX_BLOCKS = {
    "index.blocks.read_only": Block(5, "index read-only (api)", ("write", "metadata_write")),
    "index.blocks.read": Block(7, "index read (api)", ("read",)),
    "index.blocks.write": Block(8, "index write (api)", ("write",)),
    "index.blocks.metadata": Block(9, "index metadata (api)", ("metadata_read", "metadata_write")),
    "index.blocks.read_only_allow_delete": Block(
        12,
        "disk usage exceeded flood-stage watermark, index has read-only-allow-delete block",
        ("write", "metadata_write"),
        429,
    ),
}
# What `PUT {index}/_block/{block}` takes, and the setting each names.
API_BLOCKS = {
    "metadata": "index.blocks.metadata",
    "read": "index.blocks.read",
    "read_only": "index.blocks.read_only",
    "write": "index.blocks.write",
}


def active(index: Index) -> list[Block]:
    return [block for setting, block in INDEX_BLOCKS.items() if index.flat_settings.get(setting) == "true"]


def index_closed(index: Index) -> EsError:
    return EsError(
        400, "index_closed_exception", "closed", extra={"index_uuid": index.uuid, "index": index.name}
    )


def check(index: Index, level: str, *, deleting: bool = False) -> None:
    """Refuse an operation of `level` (`read` or `write`) on a closed or blocked index."""
    if index.closed:
        raise index_closed(index)
    blocking = [b for b in active(index) if level in b.levels and not (deleting and b.id == 12)]
    if blocking:
        labels = ", ".join(b.label for b in blocking)
        status = 429 if all(b.status == 429 for b in blocking) else 403
        raise EsError(status, "cluster_block_exception", f"index [{index.name}] blocked by: [{labels}];")
