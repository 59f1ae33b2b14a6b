"""List and watch the pods bound to this node, and keep a cache of them.

An informer reduced to what a node needs (client-go's reflector semantics):

* only pods with ``fieldSelector=spec.nodeName=<node>`` are listed/watched;
* a watch resumes from the last resourceVersion seen (events and bookmarks),
  so a dropped stream costs no relist;
* 410 Gone (the version left the server's history) means relist, and the
  relist is *diffed* against the cache: pods that vanished while we were not
  watching get a synthesized deletion, the rest a "changed";
* an unreachable server is retried with backoff (200 ms → 30 s, jittered);
* a periodic resync re-delivers every cached pod, so a failed reconcile is
  retried even when the pod never changes again;
* a list (the first one, a relist) is reported oldest pod first, the order
  kubelet admits pods in (:func:`kubelet_core._pods.admission.admission_order`).

The watcher only reports (``on_changed(pod)``, ``on_gone(pod)``); deciding
what to do is :mod:`kubelet_core._pods.sync`'s job.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

import structlog

from kubelet_core._apiclient import ApiError, Backoff, KubeApi, pods_path, watch_error
from kubelet_core._observability import AgentMetrics
from kubelet_core._pods import podutil
from kubelet_core._pods.admission import admission_order
from kubelet_core._provider.base import KubeObject

log = structlog.get_logger(__name__)

PodCallback = Callable[[KubeObject], None]


class PodWatcher:
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
    ) -> None:
        self.api = api
        self.node_name = node_name
        self.on_changed = on_changed
        self.on_gone = on_gone
        self.on_open = on_open
        self.metrics = metrics
        self.watch_timeout_seconds = watch_timeout_seconds
        self.cache: dict[str, KubeObject] = {}
        self.resource_version = ""
        self.established = asyncio.Event()
        #: Set whenever the cache is empty (no pod bound to this node).
        self.empty = asyncio.Event()
        self.empty.set()
        self.backoff = Backoff(0.2, 30.0)
        self.relists = 0

    @property
    def _selector(self) -> str:
        return f"spec.nodeName={self.node_name}"

    def _ours(self, pod: KubeObject) -> bool:
        spec = pod.get("spec")
        return isinstance(spec, dict) and spec.get("nodeName") == self.node_name

    async def list_pods(self) -> list[KubeObject]:
        """List our pods and remember the list's resourceVersion (does not touch the cache)."""
        answer = await self.api.get(pods_path(), params={"fieldSelector": self._selector})
        self.resource_version = str((answer.get("metadata") or {}).get("resourceVersion") or "")
        pods: list[KubeObject] = []
        for item in answer.get("items") or []:
            if isinstance(item, dict) and self._ours(item):
                item.setdefault("apiVersion", "v1")
                item.setdefault("kind", "Pod")
                pods.append(item)
        return pods

    def replace(self, pods: list[KubeObject]) -> None:
        """Make the cache equal to ``pods``: vanished pods are gone, the rest oldest first."""
        fresh = {podutil.pod_key(pod): pod for pod in admission_order(pods)}
        for key in [k for k in self.cache if k not in fresh]:
            self.on_gone(self.cache.pop(key))
        for key, pod in fresh.items():
            self._upsert(key, pod)
        if not self.cache:
            self.empty.set()

    def _upsert(self, key: str, pod: KubeObject) -> None:
        previous = self.cache.get(key)
        if previous is not None and podutil.pod_uid(previous) != podutil.pod_uid(pod):
            self.on_gone(previous)  # a namesake replaced it while we were not looking
        self.cache[key] = pod
        self.empty.clear()
        self.on_changed(pod)

    def _handle(self, event: KubeObject) -> None:
        error = watch_error(event)
        if error is not None:
            raise error
        kind = event.get("type")
        pod = event.get("object")
        if not isinstance(pod, dict):
            return
        version = (pod.get("metadata") or {}).get("resourceVersion")
        if version:
            self.resource_version = str(version)
        if kind == "BOOKMARK":
            return
        key = podutil.pod_key(pod)
        if kind == "DELETED" or not self._ours(pod):
            gone = self.cache.pop(key, None)
            if not self.cache:
                self.empty.set()
            if gone is not None or kind == "DELETED":
                self.on_gone(pod)
            return
        if kind in ("ADDED", "MODIFIED"):
            self._upsert(key, pod)

    def resync(self) -> None:
        for pod in list(self.cache.values()):
            self.on_changed(pod)

    async def run(self, *, listed: bool = False) -> None:
        """Watch forever (cancel to stop).  ``listed``: the caller already did the first list."""
        need_list = not listed
        while True:
            try:
                if need_list:
                    self.replace(await self.list_pods())
                    self.relists += 1
                    need_list = False
                timeout = self.watch_timeout_seconds + random.randint(0, 60)
                params = {
                    "fieldSelector": self._selector,
                    "resourceVersion": self.resource_version or None,
                    "allowWatchBookmarks": True,
                    "timeoutSeconds": timeout,
                }
                opened_at = time.monotonic()
                async for event in self.api.watch(pods_path(), params=params, on_open=self._opened):
                    self._handle(event)
                self.metrics.watch_restarts.labels(resource="pods", cause="closed").inc()
                if time.monotonic() - opened_at < 1.0:
                    await asyncio.sleep(self.backoff.next())  # a server closing at once
            except ApiError as error:
                if error.status == 410:
                    log.info("pod watch expired, relisting", node=self.node_name)
                    self.metrics.watch_restarts.labels(resource="pods", cause="expired").inc()
                    need_list = True
                    continue
                delay = self.backoff.next()
                self.metrics.watch_restarts.labels(resource="pods", cause="error").inc()
                log.warning(
                    "pod watch failed, reconnecting",
                    node=self.node_name,
                    error=str(error),
                    retry_in=round(delay, 2),
                )
                await asyncio.sleep(delay)
            except Exception:  # the watch must outlive bad data
                delay = self.backoff.next()
                log.exception("pod watch crashed, relisting", node=self.node_name)
                need_list = True
                await asyncio.sleep(delay)

    def _opened(self) -> None:
        self.backoff.reset()
        self.established.set()
        if self.on_open is not None:
            self.on_open()

    async def resync_forever(self, period: float) -> None:
        while True:
            await asyncio.sleep(period)
            self.resync()
