"""announce_ready (AnnounceReadyOperator): the alias's Asset event, through the AssetAlias outlet."""

from __future__ import annotations

from collections import defaultdict

from es_embedding.assets import READY
from es_embedding.publish import AnnounceReadyOperator
from tests.unit.fakes import context


class Events:
    def __init__(self) -> None:
        self.added: list = []

    def add(self, asset, extra) -> None:
        self.added.append((asset, extra))


def test_the_event_names_the_alias_index_source_and_interval():
    operator = AnnounceReadyOperator(
        task_id="announce_ready",
        alias="a",
        dest_index="v2",
        source_index="src",
        mode="incremental",
        interval=["2026-03-04 02:00:00+00:00", "2026-03-05 02:00:00+00:00"],
        es_conn_id="prod",
    )
    assert operator.outlets == [READY]
    outlet_events = defaultdict(Events)
    assert operator.execute(context(outlet_events=outlet_events)) == "elasticsearch://prod/a"
    [(asset, extra)] = outlet_events[READY].added
    assert asset.uri == "elasticsearch://prod/a"
    assert extra == {
        "alias": "a",
        "index": "v2",
        "source_index": "src",
        "mode": "incremental",
        "data_interval": ["2026-03-04 02:00:00+00:00", "2026-03-05 02:00:00+00:00"],
    }
