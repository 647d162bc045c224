"""swap_alias (SwapAliasOperator): one atomic `_aliases` call, between this package's indices only."""

from __future__ import annotations

import pytest

from es_embedding.errors import AliasError
from es_embedding.publish import SwapAliasOperator
from tests.unit.fakes import FakeEs, FakeHook, context, not_found, with_hook

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
