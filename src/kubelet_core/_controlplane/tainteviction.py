"""Taint-based eviction: pods leave a node with a NoExecute taint they do not tolerate.

kube-controller-manager's taint eviction controller, over the store:

* a pod bound to a node with a NoExecute taint it does not tolerate is
  deleted at once;
* a pod that tolerates all of them, some for ``tolerationSeconds``, is deleted
  when the shortest of those has passed since the controller first saw it
  under the taints (the DefaultTolerationSeconds admission gives every pod
  300 s for ``not-ready`` / ``unreachable``);
* the taints going away (the node is back) cancel the pending deletion.

A deleted pod first gets ``DisruptionTarget`` (``DeletionByTaintManager``) and
is deleted with its own grace period.  Deadlines are on the controller's
:class:`~kubelet_core._controlplane.clock.Clock`.
"""

from __future__ import annotations

import logging
from typing import Any

from kubelet_core._controlplane.clock import Clock, MonotonicClock, TimedLoop
from kubelet_core._controlplane.errors import ApiError
from kubelet_core._controlplane.eviction import mark_disruption_target
from kubelet_core._controlplane.registry import DeleteOptions, Registry, is_terminal
from kubelet_core._controlplane.resources import NODES, PODS
from kubelet_core._controlplane.scheduler import tolerates
from kubelet_core._controlplane.store import Event, Store

KubeObject = dict[str, Any]
PodKey = tuple[str, str]
log = logging.getLogger(__name__)


def toleration_time(pod: KubeObject, taints: list[KubeObject]) -> float | None:
    """Seconds the pod may stay under ``taints`` (NoExecute): 0 now, None forever."""
    tolerations = [
        t for t in (pod.get("spec") or {}).get("tolerations") or [] if isinstance(t, dict)
    ]
    shortest: float | None = None
    for taint in taints:
        used = [t for t in tolerations if tolerates(t, taint)]
        if not used:
            return 0.0
        seconds = [
            float(t["tolerationSeconds"]) for t in used if t.get("tolerationSeconds") is not None
        ]
        if len(seconds) < len(used):
            continue  # one toleration without a limit tolerates it forever
        value = max(0.0, min(seconds))
        shortest = value if shortest is None else min(shortest, value)
    return shortest


def no_execute_taints(node: KubeObject | None) -> list[KubeObject]:
    if node is None:
        return []
    return [
        t for t in (node.get("spec") or {}).get("taints") or [] if t.get("effect") == "NoExecute"
    ]


class TaintEviction:
    def __init__(self, store: Store, registry: Registry, *, clock: Clock | None = None) -> None:
        self.store = store
        self.registry = registry
        self.clock = clock or MonotonicClock()
        self._dirty: set[PodKey] = set()
        self._since: dict[PodKey, float] = {}  # when each pod was first seen under the taints
        self.loop = TimedLoop(self.clock, "taint-eviction", self._step)

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
                self._forget(key)
            else:
                self._dirty.add(key)
                self.loop.poke()
        elif event.rt is NODES:
            if (event.prev or {}).get("spec") == event.obj.get("spec") and event.type != "DELETED":
                return
            name = event.obj["metadata"]["name"]
            for entry in self.store.entries(PODS):
                if (entry.obj.get("spec") or {}).get("nodeName") == name:
                    self._dirty.add(_key(entry.obj))
            self.loop.poke()

    def _forget(self, key: PodKey) -> None:
        self._since.pop(key, None)
        self.loop.cancel(key)
        self._dirty.discard(key)

    async def _step(self, due: list[Any]) -> None:
        while self._dirty:
            self._plan(self._dirty.pop())
        for key in due:
            await self._evict(key)

    def _plan(self, key: PodKey) -> None:
        entry = self.store.get(PODS, *key)
        if entry is None:
            self._forget(key)
            return
        pod = entry.obj
        node_name = (pod.get("spec") or {}).get("nodeName")
        node = self.store.get(NODES, "", node_name) if node_name else None
        taints = no_execute_taints(node.obj if node else None)
        seconds = toleration_time(pod, taints) if taints else None
        if seconds is None or pod["metadata"].get("deletionTimestamp") or is_terminal(pod):
            self._since.pop(key, None)
            self.loop.cancel(key)
            return
        since = self._since.setdefault(key, self.clock.now())
        self.loop.schedule(key, since + seconds)

    async def _evict(self, key: PodKey) -> None:
        self._since.pop(key, None)
        entry = self.store.get(PODS, *key)
        if entry is None or entry.obj["metadata"].get("deletionTimestamp"):
            return
        log.info("taint eviction: deleting pod %s/%s", *key)
        try:
            await mark_disruption_target(
                self.registry,
                entry.obj,
                "DeletionByTaintManager",
                "Taint manager: deleting due to NoExecute taint",
            )
            await self.registry.delete(PODS, key[0], key[1], DeleteOptions())
        except ApiError as exc:
            log.debug("taint eviction of %s/%s: %s", key[0], key[1], exc.message)


def _key(pod: KubeObject) -> PodKey:
    return pod["metadata"].get("namespace") or "", pod["metadata"]["name"]
