"""swap_alias (SwapAliasOperator): one atomic `_aliases` call, between this package's indices only."""

from __future__ import annotations

import pytest
from elasticsearch import NotFoundError

from es_embedding.errors import AliasError, ClusterRequestError
from es_embedding.publish import SwapAliasOperator
from es_embedding.publish.alias import BEFORE_KEY
from tests.unit.fakes import FakeEs, FakeHook, api_error, context, not_found, with_hook

OURS = {"mappings": {"_meta": {"managed_by": "es_embedding"}}}


def swap(client: FakeEs) -> dict:
    operator = SwapAliasOperator(task_id="swap_alias", alias="a", dest_index="v2")
    return with_hook(operator, FakeHook(client)).execute(context())


def test_the_alias_moves_in_one_call_removing_it_from_the_old_index():
    client = FakeEs(
        **{
            "indices.get_alias": [{"v1": {"aliases": {"a": {}}}}],
            "indices.get_mapping": [{"v1": OURS, "v2": OURS}],
            "indices.update_aliases": [{"acknowledged": True}],
        }
    )
    assert swap(client) == {"alias": "a", "previous_indices": ["v1"]}
    assert client.calls["indices.update_aliases"] == [
        {"actions": [{"remove": {"index": "v1", "alias": "a"}}, {"add": {"index": "v2", "alias": "a"}}]}
    ]


def test_a_new_alias_is_added():
    client = FakeEs(
        **{
            "indices.get_alias": [not_found("alias [a] missing")],
            "indices.exists": [False],
            "indices.get_mapping": [{"v2": OURS}],
            "indices.update_aliases": [{"acknowledged": True}],
        }
    )
    assert swap(client) == {"alias": "a", "previous_indices": []}
    assert client.calls["indices.update_aliases"] == [{"actions": [{"add": {"index": "v2", "alias": "a"}}]}]


def test_an_alias_already_in_place_is_left_alone():
    client = FakeEs(**{"indices.get_alias": [{"v2": {"aliases": {"a": {}}}}]})
    assert swap(client) == {"alias": "a", "previous_indices": ["v2"]}
    assert "indices.update_aliases" not in client.calls


def test_a_concrete_index_of_that_name_is_refused():
    client = FakeEs(**{"indices.get_alias": [not_found("alias [a] missing")], "indices.exists": [True]})
    with pytest.raises(AliasError, match=r"^\[a\] is a concrete index, not an alias"):
        swap(client)


def test_an_alias_on_an_index_of_someone_else_is_not_moved():
    client = FakeEs(
        **{
            "indices.get_alias": [{"legacy": {"aliases": {"a": {}}}}],
            "indices.get_mapping": [{"legacy": {"mappings": {}}, "v2": OURS}],
        }
    )
    with pytest.raises(
        AliasError, match=r"would move from or to indices not created by es_embedding: legacy;"
    ):
        swap(client)
    assert "indices.update_aliases" not in client.calls


def test_a_move_whose_answer_was_lost_succeeds_when_the_alias_points_at_the_destination():
    """The cluster applied the move; the client's resend met the alias moved (404 for the remove)."""
    lost = api_error(404, "aliases_not_found_exception", "aliases [a] missing", cls=NotFoundError)
    client = FakeEs(
        **{
            "indices.get_alias": [{"v1": {"aliases": {"a": {}}}}, {"v2": {"aliases": {"a": {}}}}],
            "indices.get_mapping": [{"v1": OURS, "v2": OURS}],
            "indices.update_aliases": [lost],
        }
    )
    assert swap(client) == {"alias": "a", "previous_indices": ["v1"]}
    assert len(client.calls["indices.update_aliases"]) == 1


def test_a_failed_move_that_left_the_alias_where_it_was_fails():
    refused = api_error(400, "illegal_argument_exception", "alias [a] has more than one write index")
    client = FakeEs(
        **{
            "indices.get_alias": [{"v1": {"aliases": {"a": {}}}}],
            "indices.get_mapping": [{"v1": OURS, "v2": OURS}],
            "indices.update_aliases": [refused],
        }
    )
    with pytest.raises(ClusterRequestError, match="more than one write index"):
        swap(client)


def test_a_retry_after_the_move_reports_where_the_alias_pointed_before():
    ctx = context()
    ctx["task_state_store"].set(BEFORE_KEY, ["v1"])
    operator = SwapAliasOperator(task_id="swap_alias", alias="a", dest_index="v2")
    client = FakeEs(**{"indices.get_alias": [{"v2": {"aliases": {"a": {}}}}]})
    assert with_hook(operator, FakeHook(client)).execute(ctx) == {"alias": "a", "previous_indices": ["v1"]}
