"""A small in-process pod scheduler with kube-scheduler's filters and messages.

It watches the store through a synchronous listener (no polling): new unbound pods join
an active queue; pods that fit nowhere wait in an unschedulable set and move back to the
active queue whenever a node or a pod changes (a node becoming Ready, a pod freeing a
slot). Filters: node Ready and not cordoned, nodeSelector, NoSchedule/NoExecute taints
against tolerations, and max pods (status.allocatable.pods). Among fitting nodes the one
with the fewest pods wins. Bindings go through ``Registry.bind`` (the pods/binding
subresource logic), followed by a ``Scheduled`` event; failures set PodScheduled=False
(reason Unschedulable) and record a ``FailedScheduling`` event, as kube-scheduler does.
Per-node pod counts are kept incrementally from store events, so scheduling 1,000 pods
costs O(pods * nodes), not a scan of all pods per decision.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import Counter
from collections.abc import Coroutine
from typing import Any

from kubelet_core._controlplane.errors import ApiError
from kubelet_core._controlplane.nodelifecycle import ready_status
from kubelet_core._controlplane.registry import Registry, is_terminal, now
from kubelet_core._controlplane.resources import EVENTS, NODES, PODS
from kubelet_core._controlplane.store import Event, Store

KubeObject = dict[str, Any]
SCHEDULER_NAME = "default-scheduler"
log = logging.getLogger(__name__)


def tolerates(toleration: KubeObject, taint: KubeObject) -> bool:
    effect = toleration.get("effect")
    if effect and effect != taint.get("effect"):
        return False
    operator = toleration.get("operator") or "Equal"
    key = toleration.get("key") or ""
    if operator == "Exists":
        return not key or key == taint.get("key")
    return key == taint.get("key") and (toleration.get("value") or "") == (taint.get("value") or "")


def untolerated_taint(pod: KubeObject, node: KubeObject) -> KubeObject | None:
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if not any(tolerates(t, taint) for t in tolerations if isinstance(t, dict)):
            return dict(taint)
    return None


def node_ready(node: KubeObject) -> bool:
    return ready_status(node) == "True"


def max_pods(node: KubeObject) -> int | None:
    status = node.get("status") or {}
    value = (status.get("allocatable") or {}).get("pods") or (status.get("capacity") or {}).get(
        "pods"
    )
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _counted_node(pod: KubeObject | None) -> str | None:
    if pod is None or is_terminal(pod):
        return None
    node = (pod.get("spec") or {}).get("nodeName")
    return str(node) if node else None


class Scheduler:
    def __init__(self, store: Store, registry: Registry) -> None:
        self.store = store
        self.registry = registry
        self._active: dict[tuple[str, str], None] = {}  # FIFO set
        self._unschedulable: set[tuple[str, str]] = set()
        self._last_message: dict[tuple[str, str], str] = {}
        self._pods_on: Counter[str] = Counter()
        # Bindings made but not yet committed (the store publishes only after the commit):
        # counted on their node right away, as kube-scheduler "assumes" a pod, so the next
        # decision in the same burst already sees them.
        self._assumed: dict[tuple[str, str], str] = {}
        self._assumed_on: Counter[str] = Counter()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        for entry in self.store.entries(PODS):
            pod = entry.obj
            node = _counted_node(pod)
            if node:
                self._pods_on[node] += 1
            elif self._wants(pod):
                self._active[_key(pod)] = None
        self.store.add_listener(self._on_event)
        self._task = asyncio.get_running_loop().create_task(self._run(), name="scheduler")
        self._wake.set()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @staticmethod
    def _wants(pod: KubeObject) -> bool:
        spec = pod.get("spec") or {}
        return (
            not spec.get("nodeName")
            and not pod["metadata"].get("deletionTimestamp")
            and spec.get("schedulerName", SCHEDULER_NAME) == SCHEDULER_NAME
            and not is_terminal(pod)
        )

    def _on_event(self, event: Event) -> None:
        if event.rt is PODS:
            self._forget_assumed(_key(event.obj))
            before = _counted_node(event.prev)
            after = None if event.type == "DELETED" else _counted_node(event.obj)
            if before != after:
                if before:
                    self._pods_on[before] -= 1
                    self._retry_unschedulable()
                if after:
                    self._pods_on[after] += 1
            key = _key(event.obj)
            if event.type == "ADDED" and self._wants(event.obj):
                self._active[key] = None
                self._wake.set()
            elif event.type == "DELETED" or not self._wants(event.obj):
                self._active.pop(key, None)
                self._unschedulable.discard(key)
                self._last_message.pop(key, None)
        elif event.rt is NODES:
            self._retry_unschedulable()

    def _forget_assumed(self, key: tuple[str, str]) -> None:
        node = self._assumed.pop(key, None)
        if node is not None:
            self._assumed_on[node] -= 1

    def _retry_unschedulable(self) -> None:
        if self._unschedulable:
            for key in self._unschedulable:
                self._active[key] = None
            self._unschedulable.clear()
            self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            # Decisions and bindings are synchronous (so per-node counts are exact for
            # the next decision); their SQLite writes are awaited together per batch.
            pending: list[asyncio.Future[None]] = []
            while self._active:
                key = next(iter(self._active))
                del self._active[key]
                try:
                    durable = self._schedule_one(key)
                except ApiError as exc:
                    log.debug("scheduling %s/%s failed: %s", key[0], key[1], exc.message)
                    continue
                except Exception:
                    log.exception("scheduler error for %s/%s", *key)
                    continue
                if durable is not None:
                    pending.append(durable)
                if len(pending) >= 100:
                    await asyncio.gather(*pending, return_exceptions=True)
                    pending.clear()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            log.debug("scheduler write failed: %s", exc)

    def _schedule_one(self, key: tuple[str, str]) -> asyncio.Future[None] | None:
        entry = self.store.get(PODS, *key)
        if entry is None or not self._wants(entry.obj):
            return None
        pod = entry.obj
        node, message = self._pick(pod)
        if node is None:
            self._unschedulable.add(key)
            if self._last_message.get(key) != message:
                self._last_message[key] = message
                self._spawn(self._mark_unschedulable(key, message))
            return None
        durable = self.registry.bind_now(
            key[0],
            key[1],
            {
                "metadata": {"name": key[1], "namespace": key[0], "uid": pod["metadata"]["uid"]},
                "target": {"apiVersion": "v1", "kind": "Node", "name": node},
            },
        )
        self._assumed[key] = node
        self._assumed_on[node] += 1
        # A failed commit publishes nothing: drop the assumption then (a no-op otherwise).
        durable.add_done_callback(lambda _f: self._forget_assumed(key))
        self._last_message.pop(key, None)
        self._spawn(
            self._event(
                pod, "Normal", "Scheduled", f"Successfully assigned {key[0]}/{key[1]} to {node}"
            )
        )
        return durable

    def _pick(self, pod: KubeObject) -> tuple[str | None, str]:
        spec = pod.get("spec") or {}
        selector = spec.get("nodeSelector") or {}
        reasons: Counter[str] = Counter()
        best: tuple[int, str] | None = None
        nodes = list(self.store.entries(NODES))
        for entry in nodes:
            node = entry.obj
            name = node["metadata"]["name"]
            labels = node["metadata"].get("labels") or {}
            if (node.get("spec") or {}).get("unschedulable"):
                reasons["node(s) were unschedulable"] += 1
                continue
            if not node_ready(node):
                # The taint the node lifecycle puts on such a node (Unknown: unreachable).
                key = "unreachable" if ready_status(node) == "Unknown" else "not-ready"
                reasons[f"node(s) had untolerated taint {{node.kubernetes.io/{key}: }}"] += 1
                continue
            if any(labels.get(k) != v for k, v in selector.items()):
                reasons["node(s) didn't match Pod's node affinity/selector"] += 1
                continue
            taint = untolerated_taint(pod, node)
            if taint is not None:
                reasons[
                    "node(s) had untolerated taint "
                    f"{{{taint.get('key', '')}: {taint.get('value', '')}}}"
                ] += 1
                continue
            limit = max_pods(node)
            count = self._pods_on[name] + self._assumed_on[name]
            if limit is not None and count >= limit:
                reasons["Too many pods"] += 1
                continue
            if best is None or (count, name) < best:
                best = (count, name)
        if best is not None:
            return best[1], ""
        if not nodes:
            return None, "no nodes available to schedule pods"
        parts = sorted(f"{n} {reason}" for reason, n in reasons.items())
        return None, (
            f"0/{len(nodes)} nodes are available: {', '.join(parts)}. preemption: "
            f"0/{len(nodes)} nodes are available: {len(nodes)} Preemption is not "
            "helpful for scheduling."
        )

    async def _mark_unschedulable(self, key: tuple[str, str], message: str) -> None:
        entry = self.store.get(PODS, *key)
        if entry is None or not self._wants(entry.obj):
            return
        pod = entry.obj
        status = dict(pod.get("status") or {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conditions.append(
            {
                "type": "PodScheduled",
                "status": "False",
                "lastProbeTime": None,
                "lastTransitionTime": now(),
                "reason": "Unschedulable",
                "message": message,
            }
        )
        status["conditions"] = conditions
        try:
            await self.registry.update(
                PODS, key[0], key[1], dict(pod, status=status), subresource="status"
            )
        except ApiError:
            # The pod changed meanwhile (409): look at it again.
            self._last_message.pop(key, None)
            if key in self._unschedulable:
                self._unschedulable.discard(key)
                self._active[key] = None
                self._wake.set()
            return
        await self._event(pod, "Warning", "FailedScheduling", message)

    async def _event(self, pod: KubeObject, type_: str, reason: str, message: str) -> None:
        meta = pod["metadata"]
        stamp = now()
        await self.registry.create(
            EVENTS,
            meta["namespace"],
            {
                "metadata": {
                    "name": f"{meta['name']}.{secrets.token_hex(8)}",
                    "namespace": meta["namespace"],
                },
                "involvedObject": {
                    "kind": "Pod",
                    "namespace": meta["namespace"],
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "apiVersion": "v1",
                    "resourceVersion": meta.get("resourceVersion", ""),
                },
                "reason": reason,
                "message": message,
                "type": type_,
                "count": 1,
                "source": {"component": SCHEDULER_NAME},
                "firstTimestamp": stamp,
                "lastTimestamp": stamp,
                "reportingComponent": SCHEDULER_NAME,
                "reportingInstance": SCHEDULER_NAME,
            },
        )


def _key(pod: KubeObject) -> tuple[str, str]:
    return pod["metadata"].get("namespace") or "", pod["metadata"]["name"]
