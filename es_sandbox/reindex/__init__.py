"""_reindex, _update_by_query and _delete_by_query: request parsing (job.py), the workers that run
them as tasks through the document write path (worker.py, service.py) and the endpoints (api.py).
No state of its own: the tasks live in cluster.tasks, the documents in cluster.indices."""
