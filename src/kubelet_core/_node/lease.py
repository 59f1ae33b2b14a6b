"""The node Lease (coordination.k8s.io/v1): the agent's heartbeat.

Kubelet's scheme: a Lease named after the node in ``kube-node-lease``,
owned by the Node (so it is garbage-collected with it), held by the node
name, ``leaseDurationSeconds`` 40 and ``renewTime`` moved forward every 10 s.
Failures back off from 200 ms doubling to 7 s; a 409 means someone else
wrote the Lease since we read it, so we re-read it and apply our renewal on
top (a rebase) rather than giving up.  A deleted Lease is recreated.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from kubelet_core._apiclient import ApiError, Backoff, KubeApi, lease_path
from kubelet_core._apiclient.paths import LEASE_NAMESPACE
from kubelet_core._apiclient.timefmt import micro_time
from kubelet_core._provider.base import KubeObject

log = structlog.get_logger(__name__)


class LeaseController:
    def __init__(
        self,
        api: KubeApi,
        node_name: str,
        *,
        duration_seconds: int,
        renew_interval: float,
        node_uid: Callable[[], str],
    ) -> None:
        self.api = api
        self.node_name = node_name
        self.duration_seconds = duration_seconds
        self.renew_interval = renew_interval
        self._node_uid = node_uid
        self._lease: KubeObject | None = None
        self.backoff = Backoff(0.2, 7.0, jitter=0.2)
        self.renewals = 0

    def _owner_references(self) -> list[KubeObject]:
        uid = self._node_uid()
        if not uid:
            return []
        return [{"apiVersion": "v1", "kind": "Node", "name": self.node_name, "uid": uid}]

    def _desired(self, lease: KubeObject | None) -> KubeObject:
        now = micro_time()
        body: KubeObject = (
            dict(lease)
            if lease
            else {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.node_name, "namespace": LEASE_NAMESPACE},
            }
        )
        metadata = dict(body.get("metadata") or {})
        owners = self._owner_references()
        if owners:
            metadata["ownerReferences"] = owners
        body["metadata"] = metadata
        spec = dict(body.get("spec") or {})
        spec["holderIdentity"] = self.node_name
        spec["leaseDurationSeconds"] = self.duration_seconds
        spec["renewTime"] = now
        spec.setdefault("acquireTime", now)
        body["spec"] = spec
        return body

    async def renew(self) -> KubeObject:
        """Create or renew the Lease once (with one rebase on conflict)."""
        path = lease_path(self.node_name)
        for _ in range(3):
            if self._lease is None:
                try:
                    self._lease = await self.api.get(path)
                except ApiError as error:
                    if error.status != 404:
                        raise
                    try:
                        self._lease = await self.api.create(lease_path(), self._desired(None))
                        self.renewals += 1
                        return self._lease
                    except ApiError as create_error:
                        if create_error.status != 409:
                            raise
                        continue  # someone created it meanwhile: read it
            try:
                self._lease = await self.api.replace(path, self._desired(self._lease))
                self.renewals += 1
                return self._lease
            except ApiError as error:
                if error.status not in (404, 409):
                    raise
                self._lease = None  # rebase on a fresh read (or recreate)
        raise ApiError(409, "Conflict", "lease kept conflicting")

    async def run(self, stopping: asyncio.Event) -> None:
        """Renew every ``renew_interval``; on errors retry with backoff (200 ms → 7 s)."""
        while not stopping.is_set():
            try:
                await self.renew()
                self.backoff.reset()
                delay = self.renew_interval
            except ApiError as error:
                self._lease = None if error.status != 0 else self._lease
                delay = self.backoff.next()
                log.warning(
                    "lease renewal failed",
                    node=self.node_name,
                    error=str(error),
                    retry_in=round(delay, 2),
                )
            except Exception:  # the heartbeat must outlive any bug
                delay = self.backoff.next()
                log.exception("lease renewal crashed", node=self.node_name)
            try:
                async with asyncio.timeout(delay):
                    await stopping.wait()
            except TimeoutError:
                pass
