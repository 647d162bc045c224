"""The columns of each cat table, in the order, with the aliases, defaults and alignment Elasticsearch
9.5 defines them (the cat actions' getTableWithHeader)."""

from __future__ import annotations

from es_sandbox.cat.table import Column, column, with_primaries

R = {"right": True}
HIDDEN = {"default": False}
HIDDEN_R = {"default": False, "right": True}

ALIASES = [
    column("alias", "a", "alias name"),
    column("index", "i,idx", "index alias points to"),
    column("filter", "f,fi", "filter"),
    column("routing.index", "ri,routingIndex", "index routing"),
    column("routing.search", "rs,routingSearch", "search routing"),
    column("is_write_index", "w,isWriteIndex", "write index"),
]

COUNT = [column("count", "dc,docs.count,docsCount", "the document count")]

HEALTH = [
    column("cluster", "cl", "cluster name"),
    column("status", "st", "health status"),
    column("node.total", "nt,nodeTotal", "total number of nodes", **R),
    column("node.data", "nd,nodeData", "number of nodes that can store data", **R),
    column("shards", "t,sh,shards.total,shardsTotal", "total number of shards", **R),
    column("pri", "p,shards.primary,shardsPrimary", "number of primary shards", **R),
    column("relo", "r,shards.relocating,shardsRelocating", "number of relocating nodes", **R),
    column("init", "i,shards.initializing,shardsInitializing", "number of initializing nodes", **R),
    column("unassign", "u,shards.unassigned,shardsUnassigned", "number of unassigned shards", **R),
    column(
        "unassign.pri",
        "up,shards.unassigned.primary,shardsUnassignedPrimary",
        "number of unassigned primary shards",
        **R,
    ),
    column("pending_tasks", "pt,pendingTasks", "number of pending tasks", **R),
    column("max_task_wait_time", "mtwt,maxTaskWaitTime", "wait time of longest task pending", **R),
    column("active_shards_percent", "asp,activeShardsPercent", "active number of shards in percent", **R),
]

TASKS = [
    column("id", "", "id of the task with the node", **HIDDEN),
    column("action", "ac", "task action"),
    column("task_id", "ti", "unique task id"),
    column("parent_task_id", "pti", "parent task id"),
    column("type", "ty", "task type"),
    column("start_time", "start", "start time in ms"),
    column("timestamp", "ts,hms,hhmmss", "start time in HH:MM:SS"),
    column("running_time_ns", "time", "running time ns", **HIDDEN),
    column("running_time", "time", "running time"),
    column("node_id", "ni", "unique node id", **HIDDEN),
    column("ip", "i", "ip address"),
    column("port", "po", "bound transport port", **HIDDEN),
    column("node", "n", "node name"),
    column("version", "v", "es version", **HIDDEN),
    column("x_opaque_id", "x", "X-Opaque-ID header", **HIDDEN),
]
TASK_DESCRIPTION = column("description", "desc", "task action")

TRAINED_MODELS = [
    column("id", "", "the trained model id"),
    column("created_by", "c,createdBy", "who created the model", default=False, right=True),
    column("heap_size", "hs,modelHeapSize", "the estimated heap size to keep the model in memory"),
    column("operations", "o,modelOperations", "the estimated number of operations to use the model"),
    column("license", "l", "The license level of the model", **HIDDEN),
    column("create_time", "ct", "The time the model was created"),
    column("version", "v", "The version of Elasticsearch when the model was created", **HIDDEN),
    column("description", "d", "The model description", **HIDDEN),
    column("type", "t", "The model type", **HIDDEN),
    column("ingest.pipelines", "ip,ingestPipelines", "The number of pipelines referencing the model"),
    column("ingest.count", "ic,ingestCount", "The total number of docs processed by the model", **HIDDEN),
    column("ingest.time", "it,ingestTime", "The total time spent processing docs with this model", **HIDDEN),
    column(
        "ingest.current",
        "icurr,ingestCurrent",
        "The total documents currently being handled by the model",
        **HIDDEN,
    ),
    column(
        "ingest.failed",
        "if,ingestFailed",
        "The total count of failed ingest attempts with this model",
        **HIDDEN,
    ),
    column(
        "data_frame.id",
        "dfid,dataFrameAnalytics",
        "The data frame analytics config id that created the model (if still available)",
    ),
    column(
        "data_frame.create_time",
        "dft,dataFrameAnalyticsTime",
        "The time the data frame analytics config was created",
        **HIDDEN,
    ),
    column(
        "data_frame.source_index",
        "dfsi,dataFrameAnalyticsSrcIndex",
        "The source index used to train in the data frame analysis",
        **HIDDEN,
    ),
    column(
        "data_frame.analysis",
        "dfa,dataFrameAnalyticsAnalysis",
        "The analysis used by the data frame to build the model",
        **HIDDEN,
    ),
]

# Statistics shared by cat indices (with `pri.` twins) and cat nodes: (name, aliases, description).
_CACHE_STATS = [
    ("completion.size", "cs,completionSize", "size of completion"),
    ("fielddata.memory_size", "fm,fielddataMemory", "used fielddata cache"),
    ("fielddata.evictions", "fe,fielddataEvictions", "fielddata evictions"),
    ("query_cache.memory_size", "qcm,queryCacheMemory", "used query cache"),
    ("query_cache.evictions", "qce,queryCacheEvictions", "query cache evictions"),
]
_NODE_QUERY_CACHE = [
    ("query_cache.hit_count", "qchc,queryCacheHitCount", "query cache hit counts"),
    ("query_cache.miss_count", "qcmc,queryCacheMissCount", "query cache miss counts"),
]
_REQUEST_CACHE = [
    ("request_cache.memory_size", "rcm,requestCacheMemory", "used request cache"),
    ("request_cache.evictions", "rce,requestCacheEvictions", "request cache evictions"),
    ("request_cache.hit_count", "rchc,requestCacheHitCount", "request cache hit count"),
    ("request_cache.miss_count", "rcmc,requestCacheMissCount", "request cache miss count"),
]
_OPERATIONS = [
    ("flush.total", "ft,flushTotal", "number of flushes"),
    ("flush.total_time", "ftt,flushTotalTime", "time spent in flush"),
    ("get.current", "gc,getCurrent", "number of current get ops"),
    ("get.time", "gti,getTime", "time spent in get"),
    ("get.total", "gto,getTotal", "number of get ops"),
    ("get.exists_time", "geti,getExistsTime", "time spent in successful gets"),
    ("get.exists_total", "geto,getExistsTotal", "number of successful gets"),
    ("get.missing_time", "gmti,getMissingTime", "time spent in failed gets"),
    ("get.missing_total", "gmto,getMissingTotal", "number of failed gets"),
    ("indexing.delete_current", "idc,indexingDeleteCurrent", "number of current deletions"),
    ("indexing.delete_time", "idti,indexingDeleteTime", "time spent in deletions"),
    ("indexing.delete_total", "idto,indexingDeleteTotal", "number of delete ops"),
    ("indexing.index_current", "iic,indexingIndexCurrent", "number of current indexing ops"),
    ("indexing.index_time", "iiti,indexingIndexTime", "time spent in indexing"),
    ("indexing.index_total", "iito,indexingIndexTotal", "number of indexing ops"),
    ("indexing.index_failed", "iif,indexingIndexFailed", "number of failed indexing ops"),
    (
        "indexing.index_failed_due_to_version_conflict",
        "iifvc,indexingIndexFailedDueToVersionConflict",
        "number of failed indexing ops due to version conflict",
    ),
    ("merges.current", "mc,mergesCurrent", "number of current merges"),
    ("merges.current_docs", "mcd,mergesCurrentDocs", "number of current merging docs"),
    ("merges.current_size", "mcs,mergesCurrentSize", "size of current merges"),
    ("merges.total", "mt,mergesTotal", "number of completed merge ops"),
    ("merges.total_docs", "mtd,mergesTotalDocs", "docs merged"),
    ("merges.total_size", "mts,mergesTotalSize", "size merged"),
    ("merges.total_time", "mtt,mergesTotalTime", "time spent in merges"),
    ("refresh.total", "rto,refreshTotal", "total refreshes"),
    ("refresh.time", "rti,refreshTime", "time spent in refreshes"),
    ("refresh.external_total", "rto,refreshTotal", "total external refreshes"),
    ("refresh.external_time", "rti,refreshTime", "time spent in external refreshes"),
    ("refresh.listeners", "rli,refreshListeners", "number of pending refresh listeners"),
]
_SCRIPT = [
    ("script.compilations", "scrcc,scriptCompilations", "script compilations"),
    ("script.cache_evictions", "scrce,scriptCacheEvictions", "script cache evictions"),
    (
        "script.compilation_limit_triggered",
        "scrclt,scriptCacheCompilationLimitTriggered",
        "script cache compilation limit triggered",
    ),
]
_SEARCH_AND_SEGMENTS = [
    ("search.fetch_current", "sfc,searchFetchCurrent", "current fetch phase ops"),
    ("search.fetch_time", "sfti,searchFetchTime", "time spent in fetch phase"),
    ("search.fetch_total", "sfto,searchFetchTotal", "total fetch ops"),
    ("search.open_contexts", "so,searchOpenContexts", "open search contexts"),
    ("search.query_current", "sqc,searchQueryCurrent", "current query phase ops"),
    ("search.query_time", "sqti,searchQueryTime", "time spent in query phase"),
    ("search.query_total", "sqto,searchQueryTotal", "total query phase ops"),
    ("search.scroll_current", "scc,searchScrollCurrent", "open scroll contexts"),
    ("search.scroll_time", "scti,searchScrollTime", "time scroll contexts held open"),
    ("search.scroll_total", "scto,searchScrollTotal", "completed scroll contexts"),
    ("segments.count", "sc,segmentsCount", "number of segments"),
    ("segments.memory", "sm,segmentsMemory", "memory used by segments"),
    ("segments.index_writer_memory", "siwm,segmentsIndexWriterMemory", "memory used by index writer"),
    ("segments.version_map_memory", "svmm,segmentsVersionMapMemory", "memory used by version map"),
    (
        "segments.fixed_bitset_memory",
        "sfbm,fixedBitsetMemory",
        "memory used by fixed bit sets for nested object field types and type filters for types referred in "
        "_parent fields",
    ),
]
_WARMER = [
    ("warmer.current", "wc,warmerCurrent", "current warmer ops"),
    ("warmer.total", "wto,warmerTotal", "total warmer ops"),
    ("warmer.total_time", "wtt,warmerTotalTime", "time spent in warmers"),
]
_SUGGEST = [
    ("suggest.current", "suc,suggestCurrent", "number of current suggest ops"),
    ("suggest.time", "suti,suggestTime", "time spend in suggest"),
    ("suggest.total", "suto,suggestTotal", "number of suggest ops"),
]
_BULK = [
    ("bulk.total_operations", "bto,bulkTotalOperations", "number of bulk shard ops"),
    ("bulk.total_time", "btti,bulkTotalTime", "time spend in shard bulk"),
    ("bulk.total_size_in_bytes", "btsi,bulkTotalSizeInBytes", "total size in bytes of shard bulk"),
    ("bulk.avg_time", "bati,bulkAvgTime", "average time spend in shard bulk"),
    ("bulk.avg_size_in_bytes", "basi,bulkAvgSizeInBytes", "average size in bytes of shard bulk"),
]
_VECTORS = [
    ("dense_vector.value_count", "dvc,denseVectorCount", "total count of indexed dense vector"),
    ("sparse_vector.value_count", "svc,sparseVectorCount", "total count of indexed sparse vectors"),
]


# The statistics that are sizes (ByteSizeValue) and times (TimeValue); the others are counts.
SIZES = {
    "completion.size",
    "fielddata.memory_size",
    "query_cache.memory_size",
    "request_cache.memory_size",
    "merges.current_size",
    "merges.total_size",
    "segments.memory",
    "segments.index_writer_memory",
    "segments.version_map_memory",
    "segments.fixed_bitset_memory",
    "memory.total",
    "mappings.total_estimated_overhead_in_bytes",
}
TIMES = {
    "flush.total_time",
    "get.time",
    "get.exists_time",
    "get.missing_time",
    "indexing.delete_time",
    "indexing.index_time",
    "merges.total_time",
    "refresh.time",
    "refresh.external_time",
    "search.fetch_time",
    "search.query_time",
    "search.scroll_time",
    "warmer.total_time",
    "suggest.time",
    "bulk.total_time",
    "bulk.avg_time",
}


def zero(name: str) -> object:
    """A statistic's value where nothing was measured: 0b, 0s or 0."""
    from es_sandbox.cat.table import ByteSize, Duration

    return ByteSize(0) if name in SIZES else Duration(0) if name in TIMES else 0


def _twins(stats: list[tuple[str, str, str]]) -> list[Column]:
    return [c for name, aliases, desc in stats for c in with_primaries(name, aliases, desc)]


def _plain(stats: list[tuple[str, str, str]]) -> list[Column]:
    return [column(name, aliases, desc, **HIDDEN_R) for name, aliases, desc in stats]


# Statistics every cat indices row carries, in table order (after the dataset size).
INDEX_STATS = [
    *_CACHE_STATS,
    *_REQUEST_CACHE,
    *_OPERATIONS,
    *_SEARCH_AND_SEGMENTS,
    *_WARMER,
    *_SUGGEST,
    ("memory.total", "tm,memoryTotal", "total used memory"),
    *_BULK,
    *_VECTORS,
]

INDICES = [
    column("health", "h", "current health status"),
    column("status", "s", "open/close status"),
    column("index", "i,idx", "index name"),
    column("uuid", "id,uuid", "index uuid"),
    column("pri", "p,shards.primary,shardsPrimary", "number of primary shards", **R),
    column("rep", "r,shards.replica,shardsReplica", "number of replica shards", **R),
    column("docs.count", "dc,docsCount", "available docs", **R),
    column("docs.deleted", "dd,docsDeleted", "deleted docs", **R),
    column("creation.date", "cd", "index creation date (millisecond value)", **HIDDEN),
    column("creation.date.string", "cds", "index creation date (as string)", **HIDDEN),
    column("store.size", "ss,storeSize", "store size of primaries & replicas", sibling="pri", **R),
    column("pri.store.size", "", "store size of primaries", **R),
    column(
        "dataset.size", "", "total size of dataset (including the cache for partially mounted indices)", **R
    ),
    *_twins(INDEX_STATS),
]

# Statistics every cat nodes row carries, in table order (after the node's own columns).
NODE_STATS = [
    *_CACHE_STATS,
    *_NODE_QUERY_CACHE,
    *_REQUEST_CACHE,
    *_OPERATIONS,
    *_SCRIPT,
    *_SEARCH_AND_SEGMENTS,
    *_SUGGEST,
    *_BULK,
    ("shard_stats.total_count", "sstc,shards,shardStatsTotalCount", "number of shards assigned"),
    ("mappings.total_count", "mtc,mappingsTotalCount", "number of mappings"),
    (
        "mappings.total_estimated_overhead_in_bytes",
        "mteo,mappingsTotalEstimatedOverheadInBytes",
        "estimated heap overhead of mappings",
    ),
]

NODES: list[Column] = [
    column("id", "id,nodeId", "unique node id", **HIDDEN),
    column("pid", "p", "process id", **HIDDEN),
    column("ip", "i", "ip address"),
    column("port", "po", "bound transport port", **HIDDEN),
    column("http_address", "http", "bound http address", **HIDDEN),
    column("version", "v", "es version", **HIDDEN),
    column("type", "t", "es distribution type", **HIDDEN),
    column("build", "b", "es build hash", **HIDDEN),
    column("jdk", "j", "jdk version", **HIDDEN),
    column("disk.total", "dt,diskTotal", "total disk space", **HIDDEN_R),
    column("disk.used", "du,diskUsed", "used disk space", **HIDDEN_R),
    column("disk.avail", "d,da,disk,diskAvail", "available disk space", **HIDDEN_R),
    column("disk.used_percent", "dup,diskUsedPercent", "used disk space percentage", **HIDDEN_R),
    column("heap.current", "hc,heapCurrent", "used heap", **HIDDEN_R),
    column("heap.percent", "hp,heapPercent", "used heap ratio", **R),
    column("heap.max", "hm,heapMax", "max configured heap", **HIDDEN_R),
    column("ram.current", "rc,ramCurrent", "used machine memory", **HIDDEN_R),
    column("ram.percent", "rp,ramPercent", "used machine memory ratio", **R),
    column("ram.max", "rm,ramMax", "total machine memory", **HIDDEN_R),
    column("file_desc.current", "fdc,fileDescriptorCurrent", "used file descriptors", **HIDDEN_R),
    column("file_desc.percent", "fdp,fileDescriptorPercent", "used file descriptor ratio", **HIDDEN_R),
    column("file_desc.max", "fdm,fileDescriptorMax", "max file descriptors", **HIDDEN_R),
    column("cpu", "cpu", "recent cpu usage", **R),
    column("load_1m", "l", "1m load avg", **R),
    column("load_5m", "l", "5m load avg", **R),
    column("load_15m", "l", "15m load avg", **R),
    column("available_processors", "ap,availableProcessors", "available processors", **HIDDEN_R),
    column("uptime", "u", "node uptime", **HIDDEN_R),
    column(
        "node.role",
        "r,role,nodeRole",
        "m:master eligible node, d:data node, i:ingest node, -:coordinating node only",
    ),
    column("master", "m", "*:current master"),
    column("name", "n", "node name"),
    *_plain(NODE_STATS),
]

# --- cluster tables (RestShardsAction, RestAllocationAction, RestCatRecoveryAction, ...) -----------

SHARD_STATS = [
    *_CACHE_STATS,
    *_OPERATIONS,
    *_SEARCH_AND_SEGMENTS,
    ("seq_no.max", "sqm,maxSeqNo", "max sequence number"),
    ("seq_no.local_checkpoint", "sql,localCheckpoint", "local checkpoint"),
    ("seq_no.global_checkpoint", "sqg,globalCheckpoint", "global checkpoint"),
    *_WARMER,
    ("path.data", "pd,dataPath", "shard data path"),
    ("path.state", "ps,statsPath", "shard state path"),
    *_BULK,
    *_VECTORS,
]
SHARDS = [
    column("index", "i,idx", "index name"),
    column("shard", "s,sh", "shard name"),
    column("prirep", "p,pr,primaryOrReplica", "primary or replica"),
    column("state", "st", "shard state"),
    column("docs", "d,dc", "number of docs in shard", **R),
    column("store", "sto", "store size of shard (how much disk it uses)", **R),
    column("dataset", "ds", "total size of dataset (including the cache for partially mounted indices)", **R),
    column("ip", "", "ip of node where it lives"),
    column("id", "", "unique id of node where it lives", **HIDDEN),
    column("node", "n", "name of node where it lives"),
    column("unassigned.reason", "ur", "reason shard became unassigned", **HIDDEN),
    column("unassigned.at", "ua", "time shard became unassigned (UTC)", **HIDDEN),
    column("unassigned.for", "uf", "time has been unassigned", **HIDDEN_R),
    column("unassigned.details", "ud", "additional details as to why the shard became unassigned", **HIDDEN),
    column("recoverysource.type", "rs", "recovery source type", **HIDDEN),
    *_plain(SHARD_STATS),
]

ALLOCATION = [
    column("shards", "s", "number of shards on node", **R),
    column(
        "shards.undesired",
        "",
        "number of shards that are scheduled to be moved elsewhere in the cluster",
        **R,
    ),
    column("write_load.forecast", "wlf,writeLoadForecast", "sum of index write load forecasts", **R),
    column("disk.indices.forecast", "dif,diskIndicesForecast", "sum of shard size forecasts", **R),
    column("disk.indices", "di,diskIndices", "disk used by ES indices", **R),
    column("disk.used", "du,diskUsed", "disk used (total, not just ES)", **R),
    column("disk.avail", "da,diskAvail", "disk available", **R),
    column("disk.total", "dt,diskTotal", "total capacity of all volumes", **R),
    column("disk.percent", "dp,diskPercent", "percent disk used", **R),
    column("host", "h", "host of node"),
    column("ip", "", "ip of node"),
    column("node", "n", "name of node"),
    column("node.role", "r,role,nodeRole", "node roles"),
]

RECOVERY = [
    column("index", "i,idx", "index name"),
    column("shard", "s,sh", "shard name"),
    column("start_time", "start", "recovery start time", **HIDDEN),
    column("start_time_millis", "start_millis", "recovery start time in epoch milliseconds", **HIDDEN),
    column("stop_time", "stop", "recovery stop time", **HIDDEN),
    column("stop_time_millis", "stop_millis", "recovery stop time in epoch milliseconds", **HIDDEN),
    column("time", "t,ti", "recovery time"),
    column("type", "ty", "recovery type"),
    column("stage", "st", "recovery stage"),
    column("source_host", "shost", "source host"),
    column("source_node", "snode", "source node name"),
    column("target_host", "thost", "target host"),
    column("target_node", "tnode", "target node name"),
    column("repository", "rep", "repository"),
    column("snapshot", "snap", "snapshot"),
    column("files", "f", "number of files to recover"),
    column("files_recovered", "fr", "files recovered"),
    column("files_percent", "fp", "percent of files recovered"),
    column("files_total", "tf", "total number of files"),
    column("bytes", "b", "number of bytes to recover"),
    column("bytes_recovered", "br", "bytes recovered"),
    column("bytes_percent", "bp", "percent of bytes recovered"),
    column("bytes_total", "tb", "total number of bytes"),
    column("translog_ops", "to", "number of translog ops to recover"),
    column("translog_ops_recovered", "tor", "translog ops recovered"),
    column("translog_ops_percent", "top", "percent of translog ops recovered"),
]

MASTER = [
    column("id", "", "node id"),
    column("host", "h", "host name"),
    column("ip", "", "ip address"),
    column("node", "n", "node name"),
]

NODEATTRS = [
    column("node", "name", "node name"),
    column("id", "id,nodeId", "unique node id", **HIDDEN),
    column("pid", "p", "process id", **HIDDEN),
    column("host", "h", "host name"),
    column("ip", "i", "ip address"),
    column("port", "po", "bound transport port", **HIDDEN),
    column("attr", "attr.name", "attribute description"),
    column("value", "attr.value", "attribute value"),
]

PENDING_TASKS = [
    column("insertOrder", "o", "task insertion order", **R),
    column("timeInQueue", "t", "how long task has been in queue", **R),
    column("priority", "p", "task priority"),
    column("source", "s", "task source"),
]

PLUGINS = [
    column("id", "", "unique node id", **HIDDEN),
    column("name", "n", "node name"),
    column("component", "c", "component"),
    column("version", "v", "component version"),
    column("description", "d", "plugin details", **HIDDEN),
    column("type", "t", "plugin type", **HIDDEN),
]

THREAD_POOL = [
    column("node_name", "nn", "node name"),
    column("node_id", "id", "persistent node id", **HIDDEN),
    column("ephemeral_node_id", "eid", "ephemeral node id", **HIDDEN),
    column("pid", "p", "process id", **HIDDEN),
    column("host", "h", "host name", **HIDDEN),
    column("ip", "i", "ip address", **HIDDEN),
    column("port", "po", "bound transport port", **HIDDEN),
    column("name", "n", "thread pool name"),
    column("type", "t", "thread pool type", **HIDDEN),
    column("active", "a", "number of active threads", **R),
    column("pool_size", "psz", "number of threads", **HIDDEN_R),
    column("queue", "q", "number of tasks currently in queue", **R),
    column("queue_size", "qs", "maximum number of tasks permitted in queue", **HIDDEN_R),
    column("rejected", "r", "number of rejected tasks", **R),
    column("largest", "l", "highest number of seen active threads", **HIDDEN_R),
    column("completed", "c", "number of completed tasks", **HIDDEN_R),
    column("core", "cr", "core number of threads in a scaling thread pool", **HIDDEN_R),
    column("max", "mx", "maximum number of threads in a scaling thread pool", **HIDDEN_R),
    column("size", "sz", "number of threads in a fixed thread pool", **HIDDEN_R),
    column("keep_alive", "ka", "thread keep alive time", **HIDDEN_R),
]

CIRCUIT_BREAKER = [
    column("node_id", "id", "persistent node id"),
    column("node_name", "nn", "node name", **HIDDEN),
    column("breaker", "br", "breaker name"),
    column("limit", "l", "limit size"),
    column("limit_bytes", "lb", "limit size in bytes", **HIDDEN),
    column("estimated", "e", "estimated size"),
    column("estimated_bytes", "eb", "estimated size in bytes", **HIDDEN),
    column("tripped", "t", "tripped count"),
    column("overhead", "o", "overhead", **HIDDEN),
]

FIELDDATA = [
    column("id", "", "node id"),
    column("host", "h", "host name"),
    column("ip", "", "ip address"),
    column("node", "n", "node name"),
    column("field", "f", "field name"),
    column("size", "s", "field data usage", **R),
]

TEMPLATES = [
    column("name", "n", "template name"),
    column("index_patterns", "t", "template index patterns"),
    column("order", "o,p", "template application order/priority number"),
    column("version", "v", "version"),
    column("composed_of", "c", "component templates comprising index template"),
]

COMPONENT_TEMPLATES = [
    column("name", "n", "component template name"),
    column("version", "v", "version"),
    column("alias_count", "a", "alias count"),
    column("mapping_count", "m", "mapping count"),
    column("settings_count", "s", "settings count"),
    column("metadata_count", "me", "metadata count"),
    column("included_in", "i", "included in"),
]

SEGMENTS = [
    column("index", "i,idx", "index name"),
    column("shard", "s,sh", "shard name"),
    column("prirep", "p,pr,primaryOrReplica", "primary or replica"),
    column("ip", "", "ip of node where it lives"),
    column("id", "", "unique id of node where it lives", **HIDDEN),
    column("segment", "seg", "segment name"),
    column("generation", "g,gen", "segment generation", **R),
    column("docs.count", "dc,docsCount", "number of docs in segment", **R),
    column("docs.deleted", "dd,docsDeleted", "number of deleted docs in segment", **R),
    column("size", "si", "segment size in bytes", **R),
    column("size.memory", "sm,sizeMemory", "segment memory in bytes", **R),
    column("committed", "ic,isCommitted", "is segment committed"),
    column("searchable", "is,isSearchable", "is segment searched"),
    column("version", "v,ver", "version"),
    column("compound", "ico,isCompound", "is segment compound"),
]

REPOSITORIES = [
    column("id", "id,repoId", "unique repository id"),
    column("type", "t,type", "repository type"),
]

SNAPSHOTS = [
    column("id", "id,snapshot", "unique snapshot"),
    column("repository", "re,repo", "repository name"),
    column("status", "s,status", "snapshot name"),
    column("start_epoch", "ste,startEpoch", "start time in seconds since 1970-01-01 00:00:00"),
    column("start_time", "sti,startTime", "start time in HH:MM:SS"),
    column("end_epoch", "ete,endEpoch", "end time in seconds since 1970-01-01 00:00:00"),
    column("end_time", "eti,endTime", "end time in HH:MM:SS"),
    column("duration", "dur,duration", "duration"),
    column("indices", "i,indices", "number of indices"),
    column("successful_shards", "ss,successful_shards", "number of successful shards"),
    column("failed_shards", "fs,failed_shards", "number of failed shards"),
    column("total_shards", "ts,total_shards", "number of total shards"),
    column("reason", "r,reason", "reason for failures", **HIDDEN),
]
