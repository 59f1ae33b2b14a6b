"""An agent embedded in one call, as a user's program would: ``kubelet_core.run``.

``python -m tests.node.embedded_agent KUBECONFIG DATA_DIR NODE [hang]``, run
by tests/node/test_signals.py.  Its provider marks its pods Succeeded when it
is shut down (as a runtime stopping its containers would report them), or,
with ``hang``, never finishes shutting down (for the second-signal test).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import kubelet_core
from kubelet_core import (
    ApiClientConfig,
    IdentityConfig,
    NodeConfig,
    ShutdownConfig,
    StorageConfig,
)
from tests.node.scripted import ScriptedProvider


class StopsItsPods(ScriptedProvider):
    def __init__(self, *, hang: bool) -> None:
        super().__init__()
        self.hang = hang

    async def shutdown(self) -> None:
        if self.hang:
            await asyncio.Event().wait()
        for key in list(self.pods):
            self.succeed(key)
        await super().shutdown()


def main() -> None:
    kubeconfig, data_dir, node = sys.argv[1:4]
    hang = sys.argv[4:] == ["hang"]
    config = NodeConfig(
        identity=IdentityConfig(name=node),
        api=ApiClientConfig(kubeconfig=Path(kubeconfig)),
        storage=StorageConfig(data_dir=Path(data_dir)),
        shutdown=ShutdownConfig(keep_pods_on_exit=False, grace_period_seconds=60.0),
    )
    kubelet_core.run(StopsItsPods(hang=hang), config)
    print("agent stopped", flush=True)


if __name__ == "__main__":
    main()
