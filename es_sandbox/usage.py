"""REST usage counters for `GET _nodes/usage`: the node that receives a request counts it under the
Elasticsearch handler that serves it (BaseRestHandler.getName), whatever the answer; requests that
reach no handler (400, 405) are not counted, as in Elasticsearch.

Keyed by the method and path template the sandbox dispatched to; sandbox-only endpoints and routes
whose Elasticsearch handler name is not listed here are not counted."""

from __future__ import annotations

import time
from collections import Counter

_GET_ALIASES = "get_aliases_action"
_HANDLERS: dict[str, str] = {
    "GET /": "main_action",
    "HEAD /": "main_action",
    "GET /_alias": _GET_ALIASES,
    "GET /_alias/{}": _GET_ALIASES,
    "HEAD /_alias/{}": _GET_ALIASES,
    "GET /_aliases": _GET_ALIASES,
    "GET /{}/_alias": _GET_ALIASES,
    "GET /{}/_alias/{}": _GET_ALIASES,
    "HEAD /{}/_alias/{}": _GET_ALIASES,
    "GET /{}/_aliases": _GET_ALIASES,
    "POST /_aliases": "indices_aliases_action",
    "PUT /{}/_alias/{}": "index_put_alias_action",
    "POST /{}/_alias/{}": "index_put_alias_action",
    "PUT /{}/_aliases/{}": "index_put_alias_action",
    "POST /{}/_aliases/{}": "index_put_alias_action",
    "DELETE /{}/_alias/{}": "index_delete_aliases_action",
    "DELETE /{}/_aliases/{}": "index_delete_aliases_action",
    "POST /_bulk": "bulk_action",
    "PUT /_bulk": "bulk_action",
    "POST /{}/_bulk": "bulk_action",
    "PUT /{}/_bulk": "bulk_action",
    "GET /_cat": "cat_action",
    "GET /_cat/aliases": "cat_alias_action",
    "GET /_cat/aliases/{}": "cat_alias_action",
    "GET /_cat/count": "cat_count_action",
    "POST /_cat/count": "cat_count_action",
    "GET /_cat/count/{}": "cat_count_action",
    "POST /_cat/count/{}": "cat_count_action",
    "GET /_cat/health": "cat_health_action",
    "GET /_cat/indices": "cat_indices_action",
    "GET /_cat/indices/{}": "cat_indices_action",
    "GET /_cat/ml/trained_models": "cat_ml_get_trained_models_action",
    "GET /_cat/ml/trained_models/{}": "cat_ml_get_trained_models_action",
    "GET /_cat/nodes": "cat_nodes_action",
    "GET /_cat/tasks": "cat_tasks_action",
    "GET /_cluster/health": "cluster_health_action",
    "GET /_cluster/health/{}": "cluster_health_action",
    "GET /_count": "count_action",
    "POST /_count": "count_action",
    "GET /{}/_count": "count_action",
    "POST /{}/_count": "count_action",
    "GET /_data_stream": "get_data_streams_action",
    "GET /_data_stream/{}": "get_data_streams_action",
    "GET /_ingest/pipeline": "ingest_get_pipeline_action",
    "GET /_ingest/pipeline/{}": "ingest_get_pipeline_action",
    "PUT /_ingest/pipeline/{}": "ingest_put_pipeline_action",
    "DELETE /_ingest/pipeline/{}": "ingest_delete_pipeline_action",
    "GET /_ingest/pipeline/_simulate": "ingest_simulate_pipeline_action",
    "POST /_ingest/pipeline/_simulate": "ingest_simulate_pipeline_action",
    "GET /_ingest/pipeline/{}/_simulate": "ingest_simulate_pipeline_action",
    "POST /_ingest/pipeline/{}/_simulate": "ingest_simulate_pipeline_action",
    "GET /_license": "get_license",
    "GET /_mapping": "get_mapping_action",
    "GET /{}/_mapping": "get_mapping_action",
    "PUT /{}/_mapping": "put_mapping_action",
    "POST /{}/_mapping": "put_mapping_action",
    "GET /_mget": "document_mget_action",
    "POST /_mget": "document_mget_action",
    "GET /{}/_mget": "document_mget_action",
    "POST /{}/_mget": "document_mget_action",
    "GET /_ml/trained_models": "xpack_ml_get_trained_models_action",
    "GET /_ml/trained_models/{}": "xpack_ml_get_trained_models_action",
    "GET /_ml/trained_models/_stats": "xpack_ml_get_trained_models_stats_action",
    "GET /_ml/trained_models/{}/_stats": "xpack_ml_get_trained_models_stats_action",
    "PUT /_ml/trained_models/{}": "xpack_ml_put_trained_model_action",
    "DELETE /_ml/trained_models/{}": "xpack_ml_delete_trained_models_action",
    "PUT /_ml/trained_models/{}/definition/{}": "xpack_ml_put_trained_model_definition_part_action",
    "PUT /_ml/trained_models/{}/vocabulary": "xpack_ml_put_trained_model_vocabulary_action",
    "POST /_ml/trained_models/{}/_infer": "xpack_ml_infer_trained_models_deployment_action",
    "POST /_ml/trained_models/{}/deployment/_infer": "xpack_ml_infer_trained_models_deployment_action",
    "POST /_ml/trained_models/{}/deployment/_start": "xpack_ml_start_trained_models_deployment_action",
    "POST /_ml/trained_models/{}/deployment/_stop": "xpack_ml_stop_trained_models_deployment_action",
    "POST /_ml/trained_models/{}/deployment/_update": "xpack_ml_update_trained_model_deployment_action",
    "PUT /_ml/trained_models/{}/model_aliases/{}": "xpack_ml_put_trained_model_alias_action",
    "DELETE /_ml/trained_models/{}/model_aliases/{}": "xpack_ml_delete_trained_model_alias_action",
    "GET /_nodes": "nodes_info_action",
    "GET /_nodes/{}": "nodes_info_action",
    "GET /_nodes/{}/{}": "nodes_info_action",
    "GET /_nodes/{}/info/{}": "nodes_info_action",
    "GET /_nodes/stats": "nodes_stats_action",
    "GET /_nodes/stats/{}": "nodes_stats_action",
    "GET /_nodes/{}/stats": "nodes_stats_action",
    "GET /_nodes/{}/stats/{}": "nodes_stats_action",
    "GET /_nodes/usage": "nodes_usage_action",
    "GET /_nodes/usage/{}": "nodes_usage_action",
    "GET /_nodes/{}/usage": "nodes_usage_action",
    "GET /_nodes/{}/usage/{}": "nodes_usage_action",
    "POST /{}/_pit": "open_point_in_time_action",
    "DELETE /_pit": "close_point_in_time_action",
    "GET /_refresh": "refresh_action",
    "POST /_refresh": "refresh_action",
    "GET /{}/_refresh": "refresh_action",
    "POST /{}/_refresh": "refresh_action",
    "POST /_reindex": "reindex_action",
    "POST /{}/_update_by_query": "update_by_query_action",
    "POST /{}/_delete_by_query": "delete_by_query_action",
    "POST /_reindex/{}/_rethrottle": "rethrottle_action",
    "POST /_update_by_query/{}/_rethrottle": "rethrottle_action",
    "POST /_delete_by_query/{}/_rethrottle": "rethrottle_action",
    "GET /_search": "search_action",
    "POST /_search": "search_action",
    "GET /{}/_search": "search_action",
    "POST /{}/_search": "search_action",
    "GET /_search/scroll": "search_scroll_action",
    "POST /_search/scroll": "search_scroll_action",
    "GET /_search/scroll/{}": "search_scroll_action",
    "POST /_search/scroll/{}": "search_scroll_action",
    "DELETE /_search/scroll": "clear_scroll_action",
    "DELETE /_search/scroll/{}": "clear_scroll_action",
    "GET /_security/_authenticate": "security_authenticate_action",
    "GET /_settings": "get_settings_action",
    "GET /{}/_settings": "get_settings_action",
    "GET /{}/_settings/{}": "get_settings_action",
    "PUT /_settings": "update_settings_action",
    "PUT /{}/_settings": "update_settings_action",
    "GET /_tasks": "list_tasks_action",
    "GET /_tasks/{}": "get_task_action",
    "POST /_tasks/_cancel": "cancel_tasks_action",
    "POST /_tasks/{}/_cancel": "cancel_tasks_action",
    "PUT /{}": "create_index_action",
    "DELETE /{}": "delete_index_action",
    "GET /{}": "get_indices_action",
    "HEAD /{}": "get_indices_action",
    "PUT /{}/_doc/{}": "document_index_action",
    "POST /{}/_doc/{}": "document_index_action",
    "POST /{}/_doc": "document_create_action_auto_id",
    "PUT /{}/_create/{}": "document_create_action",
    "POST /{}/_create/{}": "document_create_action",
    "GET /{}/_doc/{}": "document_get_action",
    "HEAD /{}/_doc/{}": "document_get_action",
    "DELETE /{}/_doc/{}": "document_delete_action",
    "GET /{}/_source/{}": "document_get_source_action",
    "POST /{}/_update/{}": "document_update_action",
}


def handler_name(method: str, template: str) -> str | None:
    shape = "/".join("{}" if part.startswith("{") else part for part in template.split("/"))
    return _HANDLERS.get(f"{method} {shape or '/'}")


class RestUsage:
    """One node's counters (UsageService): since when, and requests per handler name."""

    def __init__(self) -> None:
        self.since = int(time.time() * 1000)
        self.counts: Counter[str] = Counter()

    def count(self, method: str, template: str) -> None:
        name = handler_name(method, template)
        if name is not None:
            self.counts[name] += 1

    def rest_actions(self) -> dict[str, int]:
        return dict(sorted(self.counts.items()))
