"""Many node agents in one process: one event loop, one connection pool, one pod watch.

For simulation and density (kwok's use, Virtual Kubelet issue #251): a
thousand nodes that are real to the API server -- registered, leased,
reporting status, running their pods through a provider -- at the cost of
one process.  What the nodes share, and why:

* **one API client** (:class:`~kubelet_core._apiclient.KubeApi`): one pool of
  kept-alive connections; each node gets its own rate limiter on it
  (``api.qps``/``api.burst`` per node, like separate kubelets), so one busy
  node cannot spend another's budget;
* **one pod informer** (:class:`~kubelet_core._pods.informer.SharedPodInformer`):
  one list+watch of pods, routed by ``spec.nodeName``, instead of one watch
  per node;
* the event loop, and whatever the providers share among themselves (each node
  gets its own provider instance from ``provider_factory``).

Everything else stays per node, exactly as for one agent: its Lease, status,
kubelet API port (use port 0), data directory (``<data dir>/nodes/<name>``).
Nodes start a few at a time, so a thousand registrations do not arrive at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence

import structlog

from kubelet_core._agent import NodeAgent
from kubelet_core._apiclient import KubeApi
from kubelet_core._config import NodeConfig
from kubelet_core._lifecycle import ShutdownSignals
from kubelet_core._pods.informer import SharedPodInformer
from kubelet_core._provider.base import Provider

log = structlog.get_logger(__name__)

#: Nodes starting at the same time (registration, first status, first list).
STARTING_AT_ONCE = 32


class NodeFleet:
    """``configs`` as node agents in this process, each with ``provider_factory(name)``."""

    def __init__(
        self,
        provider_factory: Callable[[str], Provider],
        configs: Sequence[NodeConfig],
        *,
        api: KubeApi | None = None,
    ) -> None:
        if not configs:
            raise ValueError("a fleet needs at least one node config")
        names = [config.node_name for config in configs]
        if len(set(names)) != len(names):
            raise ValueError("every node of a fleet needs a name of its own")
        self.configs = list(configs)
        self._factory = provider_factory
        self._api = api
        self._owns_api = api is None
        self.agents: list[NodeAgent] = []
        self.informer: SharedPodInformer | None = None
        self._informer_task: asyncio.Task[None] | None = None

    @property
    def api(self) -> KubeApi:
        if self._api is None:
            raise RuntimeError("the fleet has not started")
        return self._api

    async def start(self) -> None:
        """Start every node; returns once all are registered and watching their pods."""
        first = self.configs[0]
        if self._api is None:
            self._api = await KubeApi.from_kubeconfig(
                first.kubeconfig, qps=first.api.qps * len(self.configs), burst=first.api.burst
            )
        self.informer = informer = SharedPodInformer(self._api)
        self._informer_task = asyncio.create_task(informer.run(), name="fleet-pod-informer")
        self.agents = [
            NodeAgent(
                self._factory(config.node_name),
                config,
                api=self._api.with_rate_limit(config.api.qps, config.api.burst),
                pod_informer=informer,
            )
            for config in self.configs
        ]
        gate = asyncio.Semaphore(STARTING_AT_ONCE)

        async def start_one(agent: NodeAgent) -> None:
            async with gate:
                await agent.start()

        try:
            await asyncio.gather(*(start_one(agent) for agent in self.agents))
        except BaseException:
            await self.stop()
            raise
        log.info("node fleet started", nodes=len(self.agents))

    async def stop(self) -> None:
        """Stop every node (each marked NotReady first, as one agent stops)."""
        await asyncio.gather(*(agent.stop() for agent in self.agents), return_exceptions=True)
        if self._informer_task is not None:
            self._informer_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._informer_task
            self._informer_task = None
        if self._owns_api and self._api is not None:
            await self._api.close()
        log.info("node fleet stopped", nodes=len(self.agents))

    async def run(self, *, handle_signals: bool = False) -> None:
        """Start, run until a signal (with ``handle_signals``), cancellation or a failed
        node (whose error is raised), then stop every node."""
        signals = ShutdownSignals() if handle_signals else None
        async with signals if signals is not None else contextlib.nullcontext():
            await self.start()
            try:
                waits = [asyncio.ensure_future(a.controllers.failed.wait()) for a in self.agents]
                if signals is not None:
                    waits.append(asyncio.ensure_future(signals.requested.wait()))
                try:
                    await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for waiter in waits:
                        waiter.cancel()
            finally:
                await asyncio.shield(self.stop())
            for agent in self.agents:
                if agent.controllers.error is not None:
                    raise agent.controllers.error
