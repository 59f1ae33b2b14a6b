"""Store internals that HTTP cannot reach deterministically: slow-watcher eviction."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubelet_core._controlplane import store as store_module
from kubelet_core._controlplane.persistence import Persistence
from kubelet_core._controlplane.resources import CONFIGMAPS
from kubelet_core._controlplane.store import Store


async def test_a_watcher_that_stops_reading_is_dropped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "MAX_BACKLOG", 3)
    persistence = Persistence(tmp_path / "state.db")
    persistence.open()
    store = Store(persistence)
    stuck = store.watch(CONFIGMAPS, None)
    for i in range(5):
        _event, durable = store.put(
            CONFIGMAPS, {"metadata": {"name": f"c{i}", "namespace": "default"}}
        )
        await durable  # watchers are told only once the write is committed
    events = []
    while (event := stuck.queue.get_nowait()) is not None:
        events.append(event)
    assert len(events) == 4  # then the end-of-stream marker: the client must re-watch
    assert stuck not in store._watchers[CONFIGMAPS.key]
    await persistence.close()
