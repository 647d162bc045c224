"""_reindex, _update_by_query, _delete_by_query and rethrottle."""

from es_sandbox.http import Router

router = Router()
