"""Node lifecycle: what kube-controller-manager's node lifecycle controller does.

* **Heartbeats.** A node is healthy while its kubelet renews its Lease
  (kube-node-lease/<node>) or posts its status.  When neither has happened for
  ``grace`` seconds (node-monitor-grace-period, 40 s upstream) every node
  condition becomes ``Unknown`` with reason ``NodeStatusUnknown`` ("Kubelet
  stopped posting node status.").
* **TaintNodesByCondition.** NoSchedule taints follow the conditions:
  ``node.kubernetes.io/not-ready`` (Ready=False), ``unreachable`` (Unknown),
  ``memory-pressure`` / ``disk-pressure`` / ``pid-pressure`` (True),
  ``network-unavailable`` (True) and ``unschedulable`` (``spec.unschedulable``),
  so the scheduler avoids such nodes through the taint filter, as upstream.
* **NoExecute.** ``not-ready`` / ``unreachable`` also get a NoExecute taint,
  which the taint eviction controller (``tainteviction``) acts on.  Taints go
  once the condition clears; taints set by others are kept.
* **MarkPodsNotReady.** When a node stops being Ready, its pods get
  ``Ready=False``: a node gone quiet cannot vouch for them.

Heartbeats are observed through a store listener (no polling); each node's
deadline is a :class:`~kubelet_core._controlplane.clock.TimedLoop` deadline,
so a test moves a :class:`~kubelet_core._controlplane.clock.ManualClock`.
"""

from __future__ import annotations

import logging
from typing import Any

from kubelet_core._controlplane.clock import Clock, MonotonicClock, TimedLoop
from kubelet_core._controlplane.errors import ApiError
from kubelet_core._controlplane.registry import Registry, now
from kubelet_core._controlplane.resources import LEASES, NODES, PODS
from kubelet_core._controlplane.store import Event, Store

KubeObject = dict[str, Any]
log = logging.getLogger(__name__)

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
#: condition type -> (status that taints, taint key)
CONDITION_TAINTS = {
    "MemoryPressure": ("True", "node.kubernetes.io/memory-pressure"),
    "DiskPressure": ("True", "node.kubernetes.io/disk-pressure"),
    "PIDPressure": ("True", "node.kubernetes.io/pid-pressure"),
    "NetworkUnavailable": ("True", "node.kubernetes.io/network-unavailable"),
}
_MANAGED = (NOT_READY, UNREACHABLE, UNSCHEDULABLE, *(k for _s, k in CONDITION_TAINTS.values()))


def ready_status(node: KubeObject) -> str:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return str(cond.get("status") or "Unknown")
    return "Unknown"


def _wanted_keys(node: KubeObject) -> list[tuple[str, str]]:
    wanted: list[tuple[str, str]] = []
    ready = {"True": None, "False": NOT_READY}.get(ready_status(node), UNREACHABLE)
    if ready is not None:
        wanted += [(ready, "NoSchedule"), (ready, "NoExecute")]
    conditions = {
        c.get("type"): c.get("status") for c in (node.get("status") or {}).get("conditions") or []
    }
    for kind, (status, key) in CONDITION_TAINTS.items():
        if conditions.get(kind) == status:
            wanted.append((key, "NoSchedule"))
    if (node.get("spec") or {}).get("unschedulable"):
        wanted.append((UNSCHEDULABLE, "NoSchedule"))
    return wanted


def wanted_taints(node: KubeObject, stamp: str) -> list[KubeObject]:
    """The node's taints with the lifecycle-managed ones set from its conditions."""
    current = (node.get("spec") or {}).get("taints") or []
    kept = [t for t in current if t.get("key") not in _MANAGED]
    managed = []
    for key, effect in _wanted_keys(node):
        existing = next(
            (t for t in current if t.get("key") == key and t.get("effect") == effect), None
        )
        managed.append(existing or {"key": key, "effect": effect, "timeAdded": stamp})
    return kept + managed


class NodeLifecycle:
    def __init__(
        self,
        store: Store,
        registry: Registry,
        *,
        grace: float = 40.0,
        clock: Clock | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.grace = grace
        self.clock = clock or MonotonicClock()
        self._known: set[str] = set()
        self._dirty: set[str] = set()  # nodes whose taints may need updating
        self._not_ready: set[str] = set()  # nodes whose pods are to be marked not ready
        self.loop = TimedLoop(self.clock, "node-lifecycle", self._step)

    def start(self) -> None:
        started = self.clock.now()
        for entry in self.store.entries(NODES):
            name = entry.obj["metadata"]["name"]
            self._known.add(name)
            self.loop.schedule(name, started + self.grace)
            self._dirty.add(name)
        self.store.add_listener(self._on_event)
        self.loop.start()

    async def stop(self) -> None:
        await self.loop.stop()

    def _heartbeat(self, name: str) -> None:
        self.loop.schedule(name, self.clock.now() + self.grace)

    def _on_event(self, event: Event) -> None:
        if event.rt is LEASES and event.type != "DELETED":
            if event.obj["metadata"].get("namespace") == "kube-node-lease":
                name = event.obj["metadata"]["name"]
                if name in self._known:
                    self._heartbeat(name)
        elif event.rt is NODES:
            name = event.obj["metadata"]["name"]
            if event.type == "DELETED":
                self._known.discard(name)
                self.loop.cancel(name)
                self._dirty.discard(name)
                return
            self._known.add(name)
            prev_status = (event.prev or {}).get("status")
            changed = event.type == "ADDED" or prev_status != event.obj.get("status")
            if changed and not self._is_own_write(event):
                self._heartbeat(name)
            was_ready = event.prev is not None and ready_status(event.prev) == "True"
            if was_ready and ready_status(event.obj) != "True":
                self._not_ready.add(name)
                self.loop.poke()
            if _taints_differ(event.obj):
                self._dirty.add(name)
                self.loop.poke()

    @staticmethod
    def _is_own_write(event: Event) -> bool:
        return ready_status(event.obj) == "Unknown" and any(
            c.get("reason") == "NodeStatusUnknown"
            for c in (event.obj.get("status") or {}).get("conditions") or []
        )

    async def _step(self, quiet: list[Any]) -> None:
        for name in quiet:
            if name in self._known:
                await self._mark_unknown(name)
        while self._dirty:
            await self._sync_taints(self._dirty.pop())
        while self._not_ready:
            await self._mark_pods_not_ready(self._not_ready.pop())

    async def _mark_unknown(self, name: str) -> None:
        entry = self.store.get(NODES, "", name)
        if entry is None or ready_status(entry.obj) == "Unknown":
            return
        node = entry.obj
        stamp = now()
        status = dict(node.get("status") or {})
        conditions = []
        for cond in status.get("conditions") or [{"type": "Ready"}]:
            conditions.append(
                dict(
                    cond,
                    status="Unknown",
                    reason="NodeStatusUnknown",
                    message="Kubelet stopped posting node status.",
                    lastTransitionTime=stamp,
                )
            )
        status["conditions"] = conditions
        try:
            await self.registry.update(
                NODES, "", name, dict(node, status=status), subresource="status"
            )
        except ApiError as exc:  # changed meanwhile: look again after another grace
            log.debug("marking node %s unknown failed: %s", name, exc.message)
            self._heartbeat(name)

    async def _sync_taints(self, name: str) -> None:
        entry = self.store.get(NODES, "", name)
        if entry is None or not _taints_differ(entry.obj):
            return
        node = entry.obj
        spec = dict(node.get("spec") or {})
        spec["taints"] = wanted_taints(node, now())
        if not spec["taints"]:
            del spec["taints"]
        try:
            await self.registry.update(NODES, "", name, dict(node, spec=spec))
        except ApiError as exc:
            log.debug("updating taints of node %s failed: %s", name, exc.message)
            self._dirty.add(name)
            self.loop.poke()

    async def _mark_pods_not_ready(self, node: str) -> None:
        """kube's ``MarkPodsNotReady``: Ready=False on every pod bound to ``node``."""
        entry = self.store.get(NODES, "", node)
        if entry is None or ready_status(entry.obj) == "True":
            return
        for pod_entry in list(self.store.entries(PODS)):
            pod = pod_entry.obj
            if (pod.get("spec") or {}).get("nodeName") != node:
                continue
            status = dict(pod.get("status") or {})
            conditions = [dict(c) for c in status.get("conditions") or []]
            ready = next((c for c in conditions if c.get("type") == "Ready"), None)
            if ready is None or ready.get("status") == "False":
                continue
            ready.update(status="False", lastTransitionTime=now())
            status["conditions"] = conditions
            meta = pod["metadata"]
            try:
                await self.registry.update(
                    PODS,
                    meta["namespace"],
                    meta["name"],
                    dict(pod, status=status),
                    subresource="status",
                )
            except ApiError as exc:
                log.debug(
                    "marking pod %s/%s not ready: %s", meta["namespace"], meta["name"], exc.message
                )


def _taints_differ(node: KubeObject) -> bool:
    current = (node.get("spec") or {}).get("taints") or []
    wanted = wanted_taints(node, "")

    def keys(taints: list[KubeObject]) -> set[tuple[str, str]]:
        return {(str(t.get("key")), str(t.get("effect"))) for t in taints}

    return keys(current) != keys(wanted)
