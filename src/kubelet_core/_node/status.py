"""Node status: the Ready and pressure conditions plus the fields the agent owns.

Kubelet's model: compute the conditions every check interval, write them
when something changed or when the report interval (60 s by default) has
passed, so the Node's ``lastHeartbeatTime`` stays fresh while idle nodes
make one write a minute.  Liveness proper is the Lease
(:mod:`kubelet_core._node.lease`).

Each write starts from a fresh read of the Node (VK #956: patches computed
against a stale copy can leave a node NotReady forever), keeps conditions of
types it does not own, keeps ``lastTransitionTime`` while a condition's
status is unchanged, and is kubelet's strategic merge patch from the Node read
to the Node wanted (:mod:`kubelet_core._node.status_patch`), without a
resourceVersion: a concurrent writer (the node lifecycle controller marking
Ready Unknown) causes no conflict, and what it changed that the agent does not
own stays.  A vanished Node (404) is registered again.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import structlog

from kubelet_core._apiclient import STRATEGIC_MERGE_PATCH, ApiError, KubeApi, node_path
from kubelet_core._apiclient.timefmt import rfc3339
from kubelet_core._node import host
from kubelet_core._node.description import NodeDescription
from kubelet_core._node.status_patch import node_status_patch
from kubelet_core._provider.base import KubeObject

log = structlog.get_logger(__name__)

OWNED_TYPES = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")


@dataclasses.dataclass(frozen=True)
class Condition:
    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str


def ready_condition(ready: bool, message: str = "") -> Condition:
    if ready:
        return Condition(
            "Ready", "True", "KubeletReady", message or "kubelet is posting ready status"
        )
    return Condition("Ready", "False", "KubeletNotReady", message or "kubelet is not ready")


def pressure_conditions(data_dir: Path) -> list[Condition]:
    memory, disk, pids = host.memory_pressure(), host.disk_pressure(data_dir), host.pid_pressure()
    return [
        Condition(
            "MemoryPressure",
            str(memory.under_pressure),
            "KubeletHasInsufficientMemory"
            if memory.under_pressure
            else "KubeletHasSufficientMemory",
            memory.message,
        ),
        Condition(
            "DiskPressure",
            str(disk.under_pressure),
            "KubeletHasDiskPressure" if disk.under_pressure else "KubeletHasNoDiskPressure",
            disk.message,
        ),
        Condition(
            "PIDPressure",
            str(pids.under_pressure),
            "KubeletHasInsufficientPID" if pids.under_pressure else "KubeletHasSufficientPID",
            pids.message,
        ),
    ]


def merge_conditions(
    existing: list[KubeObject], ours: list[Condition], now: str
) -> list[KubeObject]:
    """Ours replace same-type conditions in place (keeping their transition time while
    the status holds) or are appended, as kubelet's condition setters do; others stay."""
    merged = [c for c in existing if isinstance(c, dict)]
    for condition in ours:
        index = next((n for n, c in enumerate(merged) if c.get("type") == condition.type), None)
        previous = merged[index] if index is not None else None
        transition = now
        if previous is not None and previous.get("status") == condition.status:
            transition = previous.get("lastTransitionTime") or now
        written = {
            "type": condition.type,
            "status": condition.status,
            "lastHeartbeatTime": now,
            "lastTransitionTime": transition,
            "reason": condition.reason,
            "message": condition.message,
        }
        if index is None:
            merged.append(written)
        else:
            merged[index] = written
    return merged


class NodeStatusReporter:
    """Computes the node's conditions and writes them on change or when due."""

    def __init__(
        self,
        api: KubeApi,
        description: NodeDescription,
        data_dir: Path,
        *,
        report_interval: float,
        check_interval: float,
        reregister: Callable[[], Awaitable[KubeObject]],
    ) -> None:
        self.api = api
        self.description = description
        self.data_dir = data_dir
        self.report_interval = report_interval
        self.check_interval = check_interval
        self._reregister = reregister
        self._last: list[Condition] | None = None
        self._last_write = 0.0
        self._ready = True
        self._ready_message = ""
        self._lock = asyncio.Lock()

    def conditions(self) -> list[Condition]:
        return [
            ready_condition(self._ready, self._ready_message),
            *pressure_conditions(self.data_dir),
        ]

    async def report(self, *, force: bool = False) -> bool:
        """Write the status if it changed or is due; True if a write happened."""
        async with self._lock:
            conditions = await asyncio.to_thread(self.conditions)
            due = time.monotonic() - self._last_write >= self.report_interval
            if not force and not due and conditions == self._last:
                return False
            await self._write(conditions)
            self._last = conditions
            self._last_write = time.monotonic()
            return True

    async def mark_not_ready(self, message: str) -> None:
        """Set Ready=False (reason KubeletNotReady) and write it now."""
        self._ready = False
        self._ready_message = message
        await self.report(force=True)

    async def _write(self, conditions: list[Condition]) -> None:
        path = node_path(self.description.name)
        for attempt in range(5):
            try:
                node = await self.api.get(path)
            except ApiError as error:
                if error.status != 404:
                    raise
                log.warning("node vanished, registering it again", node=self.description.name)
                node = await self._reregister()
            try:
                await self.api.patch(
                    path + "/status",
                    node_status_patch(node, self._wanted(node, conditions)),
                    content_type=STRATEGIC_MERGE_PATCH,
                )
                return
            except ApiError as error:
                if error.status not in (404, 409) or attempt == 4:
                    raise
                log.debug("node status write failed, retrying", node=self.description.name)

    def _wanted(self, node: KubeObject, conditions: list[Condition]) -> KubeObject:
        """The Node read with the fields the agent owns set to what it reports."""
        wanted = copy.deepcopy(node)
        status = wanted.setdefault("status", {})
        status.update(self.description.status_fields())
        status["conditions"] = merge_conditions(
            status.get("conditions") or [], conditions, rfc3339()
        )
        return wanted

    async def run(self, stopping: asyncio.Event) -> None:
        """Check every ``check_interval``; errors are logged and retried next round."""
        while not stopping.is_set():
            try:
                async with asyncio.timeout(self.check_interval):
                    await stopping.wait()
                return
            except TimeoutError:
                pass
            try:
                await self.report()
            except ApiError as error:
                log.warning(
                    "node status update failed", node=self.description.name, error=str(error)
                )
                self._last = None  # force the next round to write
            except Exception:  # the status loop must outlive any bug
                log.exception("node status update crashed", node=self.description.name)
                self._last = None
