"""Starting the reindex: `ReindexStarter`, the one place that starts (or re-attaches to) the reindex
of a source into its destination, called by `start_reindex` (StartReindexOperator) and by the
fan-out's pooled reindex (es_embedding.index.pooled); and the copy of what a destination lacks,
which `complete_index` starts too.

A start happens once. The ES task id is kept in the task's `task_state_store` as soon as the cluster
returns it, so a retry after a worker crash follows that task (running or completed); a reindex of
the same source to the same destination that is already running is followed, not started twice;
a destination that already holds documents gets only the missing ones, copied without the pipeline.
Before the first copy into a destination that holds nothing, the source's write position is recorded
(es_embedding.index.stamp): unchanged at the end, it proves the copies current without reading them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, ClassVar, NamedTuple

from es_embedding import bodies, checks
from es_embedding.base import EsStage, TaskMemory
from es_embedding.errors import DeploymentFailedError
from es_embedding.index import stamp as source_stamp
from es_embedding.index.backend import EmbeddingBackend, backend_for
from es_embedding.index.currency import ID_LIMIT, ReEmbed, ScopeReader, re_embed_plan
from es_embedding.index.scope import Scope, all_of, ids_query
from es_embedding.settings import ReindexSettings
from es_embedding.sizing import Queues, ReindexPlan, auto_slices, plan_reindex


class ReindexStage(EsStage):
    """Base of the operators that write the source's documents into the destination and embed them
    with the deployment (StartReindexOperator, CompleteIndexOperator): their arguments, and the
    run's backend (es_embedding.index.backend)."""

    template_fields: Sequence[str] = (
        *EsStage.template_fields,
        "source_index",
        "dest_index",
        "query",
        "deployment_id",
        "pipeline_id",
    )

    def __init__(
        self,
        *,
        source_index: str,
        dest_index: str,
        deployment_id: str,
        pipeline_id: str,
        query: dict | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source_index = source_index
        self.dest_index = dest_index
        self.deployment_id = deployment_id
        self.pipeline_id = pipeline_id
        self.query = query

    @property
    def backend(self) -> EmbeddingBackend:
        return backend_for(self.run_settings, self.pipeline_id)


# Share of the deployment's queues one embed batch may fill (the rest: search and routing skew).
QUEUE_SHARE = 0.8
DEFAULT_EMBED_BATCH = 100


def embed_batch_size(setting: int | str, allocations: int, queue_capacity: int) -> int:
    """An embed or re-embed pass's batch: the Variable's batch_size (a number, else
    DEFAULT_EMBED_BATCH), at most what the deployment holds at once (its allocations plus
    QUEUE_SHARE of its queue)."""
    wanted = setting if isinstance(setting, int) else DEFAULT_EMBED_BATCH
    return max(1, min(wanted, int(QUEUE_SHARE * (queue_capacity + allocations))))


def deployment_queues(stage: EsStage, deployment_id: str, purpose: str) -> Queues:
    """The running deployment's allocations and queues (what a round of batches may fill)."""
    with stage.calling(f"reading deployment [{deployment_id}]"):
        stats = checks.deployment_stats(dict(stage.es.ml.get_trained_models_stats()), deployment_id)
    if stats is None:
        raise DeploymentFailedError(f"deployment [{deployment_id}] is not running; {purpose}")
    return Queues.of(stats)


def copy_missing(
    stage: EsStage,
    source: str,
    dest: str,
    query: dict | None,
    settings: ReindexSettings,
    backend: EmbeddingBackend,
) -> str | None:
    """Starts copying what `dest` lacks from `source` the backend's cheap way (no inference for what
    is present: EmbeddingBackend.copy_dest); returns the ES task id, or None when the backend has no
    such copy. Sent once: a retry finds the task instead of starting a second one."""
    copy_dest = backend.copy_dest({"index": dest})
    if copy_dest is None:
        return None
    request = bodies.reindex_request(
        source, copy_dest, query, slices=settings.slices, conflicts="proceed", max_docs=settings.max_docs
    )
    with stage.calling(f"copying what [{dest}] lacks from [{source}]"):
        return stage.hook.once().reindex(**request)["task"]


class Started(NamedTuple):
    """A started (or followed) reindex: its ES task id, and the sizing when this start chose one."""

    es_task_id: str
    batch_size: int | None = None
    slices: int | None = None

    def xcom(self) -> dict[str, Any]:
        return {key: value for key, value in self._asdict().items() if value is not None}


@dataclasses.dataclass
class ReindexStarter:
    """Starts `_reindex?wait_for_completion=false` from `source_index` into `dest_index`, embedding what
    it writes the backend's way (es_embedding.index.backend), sized so that one round of batches
    (slices x batch_size) fits the deployment's queues, or 1/`share` of them when `share` reindexes
    run side by side. `stage` is the task it starts for: its cluster calls, its log. `mode`
    incremental writes into the alias's index on purpose: its interval's documents are overwritten
    and embedded again, never "copy only the missing ones"."""

    STORE_KEY: ClassVar[str] = "reindex_task_id"  # task_state_store key; renaming it breaks retries in flight
    # The source stamp taken before the reindex STORE_KEY names (None: that reindex proves nothing).
    STAMP_KEY: ClassVar[str] = "source_stamp"

    stage: EsStage
    source_index: str
    dest_index: str
    query: dict | None
    deployment_id: str
    backend: EmbeddingBackend
    settings: ReindexSettings
    mode: str = "full"
    share: int = 1
    # The source stamp this start's reindex was started after (es_embedding.index.stamp), or None.
    stamp: dict[str, Any] | None = dataclasses.field(default=None, init=False)

    def start(self, memory: TaskMemory) -> Started:
        stage, log = self.stage, self.stage.log
        if stored := memory.get(self.STORE_KEY):
            # A retry (worker crash, lost answer): the task this task instance started before.
            found = stage.get_or_none(f"reading reindex task {stored}", stage.es.tasks.get, task_id=stored)
            if found is not None:
                state = "completed" if found.get("completed") else "running"
                log.info("Reindex task %s started by an earlier try is %s: following it", stored, state)
                self.stamp = memory.get(self.STAMP_KEY)
                return Started(stored)
            log.warning("Reindex task %s started by an earlier try is lost (node restart?)", stored)
        with stage.calling("listing running reindex tasks"):
            running = checks.running_reindex(
                dict(stage.es.tasks.list(actions=checks.REINDEX_ACTIONS, detailed=True)),
                self.source_index,
                self.dest_index,
            )
        if running:
            log.info(
                "Reindex [%s] -> [%s] already running as %s: following it",
                self.source_index,
                self.dest_index,
                running,
            )
            # Not known to have started after a stamp of this task's: it proves nothing.
            self.keep_stamp(memory, None)
            memory.set(self.STORE_KEY, running)
            return Started(running)
        with stage.calling(f"counting [{self.dest_index}]"):
            present = stage.es.count(index=self.dest_index)["count"]
        if present and self.mode != "incremental":
            # An earlier try or run left documents (with embeddings or not): embedding them all
            # again would pay their inference twice. Copy only what is missing, the backend's cheap
            # way (complete_index embeds what lacks an embedding and re-embeds what is stale); a
            # backend without one (semantic_text) re-embeds only what a comparison finds missing
            # or changed.
            es_task_id = copy_missing(
                stage, self.source_index, self.dest_index, self.query, self.settings, self.backend
            )
            if es_task_id is not None:
                what = "only the missing ones, without inference"
            else:
                es_task_id, what = self.start_what_changed()
            self.keep_stamp(memory, None)
            memory.set(self.STORE_KEY, es_task_id)
            log.info(
                "[%s] already holds %d documents: task %s copies %s",
                self.dest_index,
                present,
                es_task_id,
                what,
            )
            return Started(es_task_id)
        return self.start_embedding(memory, record_stamp=not present)

    def keep_stamp(self, memory: TaskMemory, stamp: dict[str, Any] | None) -> None:
        """The source stamp of the reindex about to be kept under STORE_KEY (None: none)."""
        self.stamp = stamp
        if stamp is None:
            memory.delete(self.STAMP_KEY)
        else:
            memory.set(self.STAMP_KEY, stamp)

    def start_what_changed(self) -> tuple[str, str]:
        """Compares the source query's documents with the destination's and starts re-embedding the
        missing and stale ones (a reindex that matches nothing when there are none, so that
        wait_reindex has a task to follow)."""
        scope = Scope.of(self.query, None)
        comparison = ScopeReader(
            self.stage, self.source_index, self.dest_index, scope, self.backend.added_fields()
        ).compare(ID_LIMIT)
        expected = min(comparison.compared, self.settings.max_docs or comparison.compared)
        self.stage.log.info(
            "[%s] compared with [%s]: %s", self.dest_index, self.source_index, comparison.summary()
        )
        return self.start_re_embed(re_embed_plan(comparison, expected))

    def start_re_embed(self, plan: ReEmbed) -> tuple[str, str]:
        """Starts the `_reindex` that copies again and embeds `plan`'s documents (by id, or the whole
        query's); returns its ES task id and what it copies. Sent once."""
        if plan.whole_scope:
            request, _ = self.embedding_request(self.query, "proceed")
            what = "the whole scope again"
        else:
            queues = deployment_queues(self.stage, self.deployment_id, "nothing could be embedded")
            request = bodies.reindex_request(
                self.source_index,
                self.backend.embedding_dest({"index": self.dest_index}),
                all_of(self.query, ids_query(plan.ids)),
                slices=1,
                conflicts="proceed",
                batch_size=embed_batch_size(
                    self.settings.batch_size, queues.allocations, queues.queue_capacity
                ),
                requests_per_second=self.settings.requests_per_second,
            )
            what = f"{len(plan.ids)} documents by id"
        with self.stage.calling(f"re-embedding into [{self.dest_index}] {what}"):
            return self.stage.hook.once().reindex(**request)["task"], what

    def embedding_request(self, query: dict | None, conflicts: str) -> tuple[dict[str, Any], ReindexPlan]:
        """The sized `_reindex` of `query`'s source documents that embeds what it writes (overwriting
        what the destination holds), and its plan."""
        stage, settings = self.stage, self.settings
        queues = self.queues()
        plan = plan_reindex(
            settings.batch_size, self.requested_slices(queues), queues, settings.requests_per_second
        )
        if plan.note:
            (stage.log.warning if plan.resized else stage.log.info)("Reindex sizing: %s", plan.note)
        request = bodies.reindex_request(
            self.source_index,
            self.backend.embedding_dest({"index": self.dest_index}),
            query,
            batch_size=plan.batch_size,
            slices=plan.slices,
            requests_per_second=plan.requests_per_second,
            conflicts=conflicts,
            max_docs=settings.max_docs,
        )
        return request, plan

    def start_embedding(self, memory: TaskMemory, record_stamp: bool) -> Started:
        """Starts the sized reindex that embeds what it writes; into a destination that holds nothing
        (`record_stamp`), records the source's write position first (es_embedding.index.stamp), kept
        before the reindex starts so that a retry following it knows what it was started after."""
        stage = self.stage
        request, plan = self.embedding_request(self.query, self.settings.conflicts)
        self.keep_stamp(
            memory, source_stamp.record(stage, self.source_index, self.dest_index) if record_stamp else None
        )
        with stage.calling(f"starting reindex [{self.source_index}] -> [{self.dest_index}]"):
            es_task_id = stage.hook.once().reindex(**request)["task"]
        # Kept before anything else can fail: a retry re-attaches to it instead of starting another.
        memory.set(self.STORE_KEY, es_task_id)
        first = stage.get_or_none(
            f"reading reindex task {es_task_id}", stage.es.tasks.get, task_id=es_task_id
        )
        if first is None:
            # Lost at once (its node restarted): wait_reindex sees it lost and complete_index copies
            # and embeds what it did not.
            stage.log.warning(
                "Reindex task %s is already lost (node restart?): handed on as lost", es_task_id
            )
        else:
            stage.log.info("Reindex task %s: %s", es_task_id, (first.get("task") or {}).get("description"))
        stage.log.info(
            "Reindex started as task %s (batch_size %d, slices %d)", es_task_id, plan.batch_size, plan.slices
        )
        return Started(es_task_id, plan.batch_size, plan.slices)

    def queues(self) -> Queues:
        """The deployment's queues, or this reindex's share of them."""
        queues = deployment_queues(self.stage, self.deployment_id, "the reindex would fail")
        if self.share <= 1:
            return queues
        return dataclasses.replace(queues, queue_capacity=max(1, queues.queue_capacity // self.share))

    def requested_slices(self, queues: Queues) -> int:
        if self.settings.slices != "auto":
            return int(self.settings.slices)
        # ES's "auto" is one slice per shard; resolved here (at least two, see auto_slices) so that
        # the queue sizing knows the number.
        with self.stage.calling(f"reading the shards of [{self.source_index}]"):
            entries = self.stage.es.indices.get_settings(
                index=self.source_index, name="index.number_of_shards"
            )
        shards = [int(e["settings"]["index"]["number_of_shards"]) for e in entries.values()]
        return auto_slices(min(shards) if shards else 1, queues.allocations)


class StartReindexOperator(ReindexStage):
    """`start_reindex`: starts the reindex (ReindexStarter) and hands its ES task id to `wait_reindex`.
    Pushes es_task_id, and batch_size and slices when it sized a new reindex; and source_stamp, the
    source's write position taken before that reindex ({} when it proves nothing), for
    complete_index."""

    template_fields: Sequence[str] = (*ReindexStage.template_fields, "mode")

    def __init__(self, *, mode: str = "full", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mode = mode

    def execute(self, context: Any) -> dict[str, Any]:
        starter = ReindexStarter(
            stage=self,
            source_index=self.source_index,
            dest_index=self.dest_index,
            query=self.query,
            deployment_id=self.deployment_id,
            backend=self.backend,
            settings=self.run_settings[ReindexSettings],
            mode=self.mode,
        )
        started = starter.start(TaskMemory(context))
        self.publish(context, source_stamp=starter.stamp or {})  # {}: none (XCom keeps no None)
        return self.publish(context, **started.xcom())
