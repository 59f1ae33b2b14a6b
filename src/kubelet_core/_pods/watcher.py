"""The pods bound to this node, kept in a cache by the reflector.

One :class:`~kubelet_core._apiclient.reflector.Reflector` lists and watches
``fieldSelector=spec.nodeName=<node>`` (resume, 410 relist, bookmarks and
backoff are its business).  What this module adds is what a list or an event
*means* for the node's pods:

* a list (the first one, a relist) is *diffed* against the cache: pods that
  vanished while we were not watching get a synthesized deletion, the rest
  a "changed", oldest pod first -- the order kubelet admits pods in
  (:func:`kubelet_core._pods.admission.admission_order`);
* a pod replaced by a namesake (another uid) is gone, then changed;
* a periodic resync re-delivers every cached pod, so a failed reconcile is
  retried even when the pod never changes again.

The watcher only reports (``on_changed(pod)``, ``on_gone(pod)``); deciding
what to do is :mod:`kubelet_core._pods.sync`'s job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from kubelet_core._apiclient import KubeApi, pods_path
from kubelet_core._apiclient.reflector import EventType, Reflector, RestartCause
from kubelet_core._observability import AgentMetrics
from kubelet_core._pods import podutil
from kubelet_core._pods.admission import admission_order
from kubelet_core._provider.base import KubeObject

if TYPE_CHECKING:
    from kubelet_core._pods.informer import SharedPodInformer

PodCallback = Callable[[KubeObject], None]


class PodWatcher:
    """The node's pods: a cache, its two events (changed, gone), and the resync."""

    def __init__(
        self,
        api: KubeApi,
        node_name: str,
        *,
        on_changed: PodCallback,
        on_gone: PodCallback,
        metrics: AgentMetrics,
        on_open: Callable[[], None] | None = None,
        watch_timeout_seconds: int = 300,
        informer: SharedPodInformer | None = None,
    ) -> None:
        self.node_name = node_name
        self.on_changed = on_changed
        self.on_gone = on_gone
        self.on_open = on_open
        self.metrics = metrics
        self.cache: dict[str, KubeObject] = {}
        self.established = asyncio.Event()
        #: Set whenever the cache is empty (no pod bound to this node).
        self.empty = asyncio.Event()
        self.empty.set()
        #: With many nodes in one process, one shared watch feeds every node's watcher.
        self.informer = informer
        self.reflector = Reflector(
            api,
            pods_path(),
            self,
            selector={"fieldSelector": f"spec.nodeName={node_name}"},
            watch_timeout_seconds=watch_timeout_seconds,
            on_open=self._opened,
            on_restart=self._restarted,
            describe={"resource": "pods", "node": node_name},
        )

    @property
    def relists(self) -> int:
        return self.reflector.lists

    def _ours(self, pod: KubeObject) -> bool:
        spec = pod.get("spec")
        return isinstance(spec, dict) and spec.get("nodeName") == self.node_name

    async def list_pods(self) -> list[KubeObject]:
        """List our pods and remember the list's resourceVersion (does not touch the cache)."""
        if self.informer is not None:
            await self.informer.synced.wait()
            return self.informer.pods_of(self.node_name)
        pods = [pod for pod in await self.reflector.list() if self._ours(pod)]
        for pod in pods:
            pod.setdefault("apiVersion", "v1")
            pod.setdefault("kind", "Pod")
        return pods

    # -- what the reflector reports --------------------------------------------------------

    def replaced(self, items: list[KubeObject]) -> None:
        self.replace([pod for pod in items if self._ours(pod)])

    def replace(self, pods: list[KubeObject]) -> None:
        """Make the cache equal to ``pods``: vanished pods are gone, the rest oldest first."""
        fresh = {podutil.pod_key(pod): pod for pod in admission_order(pods)}
        for key in [k for k in self.cache if k not in fresh]:
            self.on_gone(self.cache.pop(key))
        for key, pod in fresh.items():
            self._upsert(key, pod)
        if not self.cache:
            self.empty.set()

    def event(self, kind: EventType, pod: KubeObject) -> None:
        key = podutil.pod_key(pod)
        if kind == "DELETED" or not self._ours(pod):
            gone = self.cache.pop(key, None)
            if not self.cache:
                self.empty.set()
            if gone is not None or kind == "DELETED":
                self.on_gone(pod)
            return
        self._upsert(key, pod)

    def _upsert(self, key: str, pod: KubeObject) -> None:
        previous = self.cache.get(key)
        if previous is not None and podutil.pod_uid(previous) != podutil.pod_uid(pod):
            self.on_gone(previous)  # a namesake replaced it while we were not looking
        self.cache[key] = pod
        self.empty.clear()
        self.on_changed(pod)

    def _opened(self) -> None:
        self.established.set()
        if self.on_open is not None:
            self.on_open()

    def _restarted(self, cause: RestartCause) -> None:
        self.metrics.watch_restarts.labels(resource="pods", cause=cause).inc()

    # -- loops ---------------------------------------------------------------------------------

    async def run(self, *, listed: bool = False) -> None:
        """Watch forever (cancel to stop).  ``listed``: the caller already did the first list."""
        if self.informer is None:
            await self.reflector.run(listed=listed)
            return
        self.informer.register(self)  # and the pods bound here now: nothing falls between
        try:
            await asyncio.Event().wait()
        finally:
            self.informer.unregister(self)

    def resync(self) -> None:
        for pod in list(self.cache.values()):
            self.on_changed(pod)

    async def resync_forever(self, period: float) -> None:
        while True:
            await asyncio.sleep(period)
            self.resync()
