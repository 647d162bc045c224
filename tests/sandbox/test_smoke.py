"""The sandbox starts, answers like a node on unknown routes, and stops on SIGTERM."""

import pytest
from elasticsearch import BadRequestError


def test_unknown_route_answers_like_elasticsearch(es):
    with pytest.raises(BadRequestError) as info:
        es.perform_request("GET", "/_no_such_api/_at_all", headers={"accept": "application/json"})
    assert info.value.meta.status == 400
    assert info.value.meta.headers["x-elastic-product"] == "Elasticsearch"
    # RestController.handleBadRequest answers a bare string error, without a status field. (A single
    # segment such as /_no_such_api would be taken for an index name, as Elasticsearch does.)
    assert info.value.body == {"error": "no handler found for uri [/_no_such_api/_at_all] and method [GET]"}


def test_stops_cleanly(start_sandbox):
    proc = start_sandbox()
    proc.stop()
    assert proc.proc.returncode == 0
