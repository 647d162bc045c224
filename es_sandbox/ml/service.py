"""(being written)"""


class MlService:
    def __init__(self, cluster) -> None:
        self.cluster = cluster

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def reset(self) -> None:
        pass

    def snapshot(self) -> dict:
        return {}

    def restore(self, state: dict) -> None:
        pass

    def on_node_restart(self) -> None:
        pass
