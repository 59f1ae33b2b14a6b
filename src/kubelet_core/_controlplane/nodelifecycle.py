"""Node lifecycle: what kube-controller-manager does when a kubelet goes quiet.

A node is healthy while its kubelet renews its Lease (kube-node-lease/<node>) or posts
its status. When neither has happened for ``grace`` seconds (node-monitor-grace-period,
40 s upstream) every node condition becomes ``Unknown`` with reason
``NodeStatusUnknown`` ("Kubelet stopped posting node status."). Taints follow the Ready
condition as the real controller sets them: ``node.kubernetes.io/not-ready`` for
Ready=False, ``node.kubernetes.io/unreachable`` for Unknown (NoSchedule and NoExecute),
none for Ready=True, so the taints disappear once the kubelet reports Ready again.
Evicting pods from a tainted node after their tolerationSeconds is not done here.

Heartbeats are observed through a store listener (no polling of objects); a timer only
checks deadlines, every ``grace / 4`` seconds at most.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from kubelet_core._controlplane.errors import ApiError
from kubelet_core._controlplane.registry import Registry, now
from kubelet_core._controlplane.resources import LEASES, NODES
from kubelet_core._controlplane.store import Event, Store

KubeObject = dict[str, Any]
log = logging.getLogger(__name__)

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
_MANAGED = (NOT_READY, UNREACHABLE)


def ready_status(node: KubeObject) -> str:
    for cond in (node.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return str(cond.get("status") or "Unknown")
    return "Unknown"


def wanted_taints(node: KubeObject, stamp: str) -> list[KubeObject]:
    """The node's taints with the lifecycle-managed ones set from its Ready condition."""
    current = (node.get("spec") or {}).get("taints") or []
    kept = [t for t in current if t.get("key") not in _MANAGED]
    key = {"True": None, "False": NOT_READY}.get(ready_status(node), UNREACHABLE)
    if key is None:
        return kept
    managed = []
    for effect in ("NoSchedule", "NoExecute"):
        existing = next(
            (t for t in current if t.get("key") == key and t.get("effect") == effect), None
        )
        managed.append(existing or {"key": key, "effect": effect, "timeAdded": stamp})
    return kept + managed


class NodeLifecycle:
    def __init__(self, store: Store, registry: Registry, *, grace: float = 40.0) -> None:
        self.store = store
        self.registry = registry
        self.grace = grace
        self._heartbeat: dict[str, float] = {}  # node -> monotonic time of last sign of life
        self._dirty: set[str] = set()  # nodes whose taints may need updating
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        started = time.monotonic()
        for entry in self.store.entries(NODES):
            name = entry.obj["metadata"]["name"]
            self._heartbeat[name] = started
            self._dirty.add(name)
        self.store.add_listener(self._on_event)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="node-lifecycle")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _on_event(self, event: Event) -> None:
        if event.rt is LEASES and event.type != "DELETED":
            if event.obj["metadata"].get("namespace") == "kube-node-lease":
                name = event.obj["metadata"]["name"]
                if name in self._heartbeat:
                    self._heartbeat[name] = time.monotonic()
        elif event.rt is NODES:
            name = event.obj["metadata"]["name"]
            if event.type == "DELETED":
                self._heartbeat.pop(name, None)
                self._dirty.discard(name)
                return
            prev_status = (event.prev or {}).get("status")
            changed = event.type == "ADDED" or prev_status != event.obj.get("status")
            if changed and not self._is_own_write(event):
                self._heartbeat[name] = time.monotonic()
            if _taints_differ(event.obj):
                self._dirty.add(name)
                self._wake.set()

    @staticmethod
    def _is_own_write(event: Event) -> bool:
        return ready_status(event.obj) == "Unknown" and any(
            c.get("reason") == "NodeStatusUnknown"
            for c in (event.obj.get("status") or {}).get("conditions") or []
        )

    async def _run(self) -> None:
        interval = max(0.05, min(5.0, self.grace / 4))
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()
            deadline = time.monotonic() - self.grace
            for name, seen in list(self._heartbeat.items()):
                if seen < deadline:
                    await self._mark_unknown(name)
            for name in list(self._dirty):
                self._dirty.discard(name)
                await self._sync_taints(name)

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
        except ApiError as exc:  # changed meanwhile: the next round looks again
            log.debug("marking node %s unknown failed: %s", name, exc.message)

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


def _taints_differ(node: KubeObject) -> bool:
    current = (node.get("spec") or {}).get("taints") or []
    wanted = wanted_taints(node, "")

    def keys(taints: list[KubeObject]) -> set[tuple[str, str]]:
        return {(str(t.get("key")), str(t.get("effect"))) for t in taints}

    return keys(current) != keys(wanted)
