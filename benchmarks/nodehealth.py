"""Is a loaded node still a healthy node?  Its Lease renewals and its kubelet API, as the
cluster sees them.

Density asks for more than a count of Running pods: the node must keep
renewing its Lease on time (the node lifecycle controller marks it
NotReady 40 s after the last renewal) and keep answering its kubelet API
(``kubectl logs`` goes through it).  :class:`NodeHealth` polls the node's
Lease once a second for the whole climb and records every renewal it sees,
so the report can say the longest time between two of them; and
:meth:`NodeHealth.kubelet_api_seconds` times a pod's log read through the
API server, which reaches the node's kubelet API exactly as ``kubectl logs``
does.  Both work the same against an existing cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from typing import Any

from kubelet_core._apiclient import ApiError, ApiUnreachable, KubeApi
from kubelet_core._apiclient.timefmt import parse_time

LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"


class NodeHealth:
    """Watches one node's Lease renewals in the background (an async context manager)."""

    def __init__(self, api: KubeApi, node: str, interval: float = 1.0) -> None:
        self.api = api
        self.node = node
        self.interval = interval
        #: Every distinct renewTime seen, as seconds since the epoch, in order.
        self.renewals: list[float] = []
        self.lease_duration = 0.0
        self.failed_reads = 0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> NodeHealth:
        self._task = asyncio.create_task(self._poll(), name=f"lease-{self.node}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _poll(self) -> None:
        while True:
            try:
                lease = await self.api.request("GET", f"{LEASES}/{self.node}")
            except (ApiError, ApiUnreachable):
                self.failed_reads += 1
            else:
                self._saw(lease)
            await asyncio.sleep(self.interval)

    def _saw(self, lease: dict[str, Any]) -> None:
        spec = lease.get("spec") or {}
        self.lease_duration = float(spec.get("leaseDurationSeconds") or 0)
        renew = spec.get("renewTime")
        if not renew:
            return
        parsed = parse_time(str(renew))
        if parsed is None:
            return
        stamp = parsed.timestamp()
        if not self.renewals or stamp > self.renewals[-1]:
            self.renewals.append(stamp)

    def longest_gap(self) -> float:
        """The longest time between two renewals seen, or from the last one until now."""
        if not self.renewals:
            return float("inf")
        stamps = [*self.renewals, time.time()]
        return max(b - a for a, b in itertools.pairwise(stamps))

    async def kubelet_api_seconds(self, namespace: str, pod: str) -> float:
        """How long a log read of ``pod`` takes through the API server (its kubelet API)."""
        began = time.perf_counter()
        await self.api.request_bytes(
            "GET", f"/api/v1/namespaces/{namespace}/pods/{pod}/log", params={"tailLines": "1"}
        )
        return time.perf_counter() - began

    def figures(self) -> dict[str, float]:
        return {
            "lease_renewals_seen": len(self.renewals),
            "lease_longest_gap_s": self.longest_gap(),
            "lease_duration_s": self.lease_duration,
            "lease_failed_reads": self.failed_reads,
        }
