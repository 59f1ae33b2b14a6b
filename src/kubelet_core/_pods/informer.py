"""One pod informer for many nodes in one process.

A node agent alone watches ``spec.nodeName=<node>``.  A thousand agents in one
process (``wasmlet node --nodes 1000``, simulations, density tests) would open
a thousand watches and hold a thousand copies of the same stream; kwok and
Virtual Kubelet's many-node setups avoid that with one shared watch.  This is
that watch: one :class:`~kubelet_core._apiclient.reflector.Reflector` over all
pods, routing every list and event by ``spec.nodeName`` to the
:class:`~kubelet_core._pods.watcher.PodWatcher` of that node.  Unbound pods are
no node's business and are dropped.  A watcher that joins late is handed the
pods bound to its node at once, then follows the stream like the others.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import TYPE_CHECKING

from kubelet_core._apiclient import KubeApi, pods_path
from kubelet_core._apiclient.reflector import EventType, Reflector
from kubelet_core._pods import podutil
from kubelet_core._provider.base import KubeObject

if TYPE_CHECKING:
    from kubelet_core._pods.watcher import PodWatcher


def _node_of(pod: KubeObject) -> str:
    spec = pod.get("spec")
    return str(spec.get("nodeName") or "") if isinstance(spec, dict) else ""


class SharedPodInformer:
    """All bound pods, by node, for the node agents of this process."""

    def __init__(self, api: KubeApi, *, watch_timeout_seconds: int = 300) -> None:
        self._watchers: dict[str, PodWatcher] = {}
        self._pods: dict[str, dict[str, KubeObject]] = defaultdict(dict)  # node -> key -> pod
        self._node_of_key: dict[str, str] = {}
        #: Set once the first list has arrived (``pods_of`` answers from then on).
        self.synced = asyncio.Event()
        #: Set while the watch is open.
        self.established = asyncio.Event()
        self.reflector = Reflector(
            api,
            pods_path(),
            self,
            watch_timeout_seconds=watch_timeout_seconds,
            on_open=self._opened,
            describe={"resource": "pods", "node": "<shared>"},
        )

    async def run(self) -> None:
        """List and watch until cancelled."""
        await self.reflector.run()

    # -- the watchers ---------------------------------------------------------------

    def register(self, watcher: PodWatcher) -> None:
        """Route ``watcher``'s node to it, starting with the pods bound there now."""
        self._watchers[watcher.node_name] = watcher
        watcher.replace(list(self._pods.get(watcher.node_name, {}).values()))
        if self.established.is_set():
            watcher.established.set()

    def unregister(self, watcher: PodWatcher) -> None:
        if self._watchers.get(watcher.node_name) is watcher:
            del self._watchers[watcher.node_name]

    def pods_of(self, node_name: str) -> list[KubeObject]:
        return list(self._pods.get(node_name, {}).values())

    # -- what the reflector reports -----------------------------------------------------

    def replaced(self, items: list[KubeObject]) -> None:
        self._pods.clear()
        self._node_of_key.clear()
        for pod in items:
            node = _node_of(pod)
            if node:
                key = podutil.pod_key(pod)
                self._pods[node][key] = pod
                self._node_of_key[key] = node
        for node, watcher in self._watchers.items():
            watcher.replace(list(self._pods.get(node, {}).values()))
        self.synced.set()

    def event(self, kind: EventType, pod: KubeObject) -> None:
        key = podutil.pod_key(pod)
        node = _node_of(pod)
        before = self._node_of_key.get(key)
        if before is not None and (before != node or kind == "DELETED"):
            self._pods[before].pop(key, None)
            del self._node_of_key[key]
            if before != node and (watcher := self._watchers.get(before)) is not None:
                watcher.event("DELETED", pod)
        if not node:
            return
        if kind != "DELETED":
            self._pods[node][key] = pod
            self._node_of_key[key] = node
        if (watcher := self._watchers.get(node)) is not None:
            watcher.event(kind, pod)

    def _opened(self) -> None:
        self.established.set()
        for watcher in self._watchers.values():
            watcher.established.set()
