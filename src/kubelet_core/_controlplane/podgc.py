"""Pod garbage collection: pods bound to a node that no longer exists are removed.

A pod's kubelet confirms its deletion; when the node is gone nobody will, and
the pod would stay Terminating forever.  As kube-controller-manager's PodGC
does, a pod whose ``spec.nodeName`` names no Node is, after a quarantine
(40 s upstream, in case the node is only being re-registered), marked
``Failed`` with ``DisruptionTarget`` (``DeletionByPodGC``, "PodGC: node no
longer exists") and deleted with grace period 0.  A node that comes back in
time cancels it.  The quarantine runs on the controller's clock.
"""

from __future__ import annotations

import logging
from typing import Any

from kubelet_core._controlplane.clock import Clock, MonotonicClock, TimedLoop
from kubelet_core._controlplane.errors import ApiError
from kubelet_core._controlplane.eviction import mark_disruption_target
from kubelet_core._controlplane.registry import DeleteOptions, Registry, is_terminal
from kubelet_core._controlplane.resources import NODES, PODS
from kubelet_core._controlplane.store import Event, Store

KubeObject = dict[str, Any]
PodKey = tuple[str, str]
log = logging.getLogger(__name__)


class PodGC:
    def __init__(
        self,
        store: Store,
        registry: Registry,
        *,
        quarantine: float = 40.0,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.quarantine = quarantine
        self.clock = clock or MonotonicClock()
        self._dirty: set[PodKey] = set()
        self.loop = TimedLoop(self.clock, "pod-gc", self._step)

    def start(self) -> None:
        self._dirty |= {_key(e.obj) for e in self.store.entries(PODS)}
        self.store.add_listener(self._on_event)
        self.loop.start()

    async def stop(self) -> None:
        await self.loop.stop()

    def _on_event(self, event: Event) -> None:
        if event.rt is PODS:
            key = _key(event.obj)
            if event.type == "DELETED":
                self.loop.cancel(key)
                self._dirty.discard(key)
            elif (event.obj.get("spec") or {}).get("nodeName"):
                self._dirty.add(key)
                self.loop.poke()
        elif event.rt is NODES and event.type in ("ADDED", "DELETED"):
            name = event.obj["metadata"]["name"]
            for entry in self.store.entries(PODS):
                if (entry.obj.get("spec") or {}).get("nodeName") == name:
                    self._dirty.add(_key(entry.obj))
            self.loop.poke()

    async def _step(self, due: list[Any]) -> None:
        while self._dirty:
            key = self._dirty.pop()
            orphan = self._orphan(key)
            if orphan is None:
                self.loop.cancel(key)
            elif self.loop.scheduled(key) is None:
                self.loop.schedule(key, self.clock.now() + self.quarantine)
        for key in due:
            pod = self._orphan(key)
            if pod is not None:
                await self._collect(pod)

    def _orphan(self, key: PodKey) -> KubeObject | None:
        entry = self.store.get(PODS, *key)
        if entry is None:
            return None
        node = (entry.obj.get("spec") or {}).get("nodeName")
        if not node or self.store.get(NODES, "", node) is not None:
            return None
        return entry.obj

    async def _collect(self, pod: KubeObject) -> None:
        meta = pod["metadata"]
        log.info("pod GC: deleting %s/%s, its node is gone", meta["namespace"], meta["name"])
        try:
            if not is_terminal(pod):
                await mark_disruption_target(
                    self.registry,
                    pod,
                    "DeletionByPodGC",
                    "PodGC: node no longer exists",
                    phase="Failed",
                )
            options = DeleteOptions({"gracePeriodSeconds": 0})
            await self.registry.delete(PODS, meta["namespace"], meta["name"], options)
        except ApiError as exc:
            log.debug("pod GC of %s/%s: %s", meta["namespace"], meta["name"], exc.message)


def _key(pod: KubeObject) -> PodKey:
    return pod["metadata"].get("namespace") or "", pod["metadata"]["name"]
