"""The index family: the destination index and the reindex into it.

- destination: `create_dest_index` (the source's mapping plus the embedding field)
- start: `start_reindex`, and `ReindexStarter`, the one start both it and the pooled reindex call
- wait: `wait_reindex` (the ES task, its progress and failures)
- complete: `complete_index` (copy and embed passes until nothing is missing)
- pooled: the fan-out's start-and-wait in one task instance, holding its pool slot
"""

from es_embedding.index.complete import CompleteIndexOperator
from es_embedding.index.destination import CreateDestIndexOperator
from es_embedding.index.pooled import PooledReindexOperator
from es_embedding.index.start import ReindexStarter, StartReindexOperator
from es_embedding.index.wait import ReindexTaskSensor

__all__ = [
    "CompleteIndexOperator",
    "CreateDestIndexOperator",
    "PooledReindexOperator",
    "ReindexStarter",
    "ReindexTaskSensor",
    "StartReindexOperator",
]
