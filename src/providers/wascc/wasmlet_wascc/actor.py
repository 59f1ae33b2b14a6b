"""A running actor container: instances, capability bindings, trap accounting, stopping.

Actors are long-running: :meth:`RunningActor.wait` returns only when the
actor is stopped or keeps failing.  A trap inside one call fails that call
(HTTP 500 to that client) and the instance is replaced; only when traps keep
happening -- ``max_traps`` within ``trap_window`` seconds (5 in 10 s by
default), deadline interruptions included -- is the actor terminated with
reason ``Error``, so the pod's restart policy decides what comes next.

Every ``__host_call`` goes through :meth:`RunningActor.host_call`, which
enforces the signed claims (as wascc-host's ``authz::can_invoke`` did): a
capability the actor is not signed for, or one this node lacks, gets a waPC
error, never access.

:meth:`stop` unbinds the capabilities (the HTTP server stops listening at
once, freeing its port) and waits for calls in flight, within the grace period.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Mapping

from kubelet_core.containers import ContainerUsage, ExitStatus, RunningContainer
from wasmlet_wascc.capabilities.base import ActorBinding, Capability
from wasmlet_wascc.claims import ActorClaims
from wasmlet_wascc.logfile import ContainerLog
from wasmlet_wascc.pool import ActorPool
from wasmlet_wascc.wapc import GuestTrap, HostCallError

TRAP_EXIT_CODE = 1


class RunningActor(RunningContainer):
    def __init__(
        self,
        *,
        claims: ActorClaims,
        pool: ActorPool,
        capabilities: Mapping[str, Capability],
        bindings: Mapping[str, ActorBinding],
        log: ContainerLog,
        max_traps: int,
        trap_window_seconds: float,
    ) -> None:
        self.claims = claims
        self.pool = pool
        self._capabilities = dict(capabilities)
        self._bindings = dict(bindings)
        self.log = log
        self.max_traps = max_traps
        self.trap_window_seconds = trap_window_seconds
        self._traps: collections.deque[float] = collections.deque()
        self._done = asyncio.Event()
        self._status: ExitStatus | None = None
        self._stop_task: asyncio.Task[None] | None = None
        self._bound: list[str] = []
        self.calls_trapped = 0

    @property
    def name(self) -> str:
        return self.claims.name or self.claims.subject

    @property
    def endpoints(self) -> list[str]:
        """What the actor serves, e.g. ``["http://127.0.0.1:30001"]``."""
        return [url for binding in self._bindings.values() for url in binding.endpoints]

    # -- starting ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the instances and bind the capabilities; undo everything on failure."""
        try:
            await self.pool.start()
            for capability_id, binding in self._bindings.items():
                await self._capabilities[capability_id].bind(binding)
                self._bound.append(capability_id)
        except BaseException:
            await self._release(grace=1.0)
            raise

    # -- called from guest threads -------------------------------------------------------------

    def host_call(self, binding: str, namespace: str, operation: str, payload: bytes) -> bytes:
        if not self.claims.allows(namespace):
            raise HostCallError(
                f"actor {self.name} is not authorized for capability {namespace} "
                f"(its claims allow: {', '.join(self.claims.capabilities) or 'none'})"
            )
        bound = self._bindings.get(namespace)
        if bound is None:
            raise HostCallError(f"capability {namespace} is not available on this node")
        if binding != bound.name:
            raise HostCallError(f"actor {self.name} has no binding {binding!r} of {namespace}")
        return self._capabilities[namespace].invoke(bound, operation, payload)

    def console_log(self, text: str) -> None:
        self.log.write(text)

    # -- traps (event loop) --------------------------------------------------------------------

    def on_trap(self, trap: GuestTrap) -> None:
        self.calls_trapped += 1
        now = time.monotonic()
        self._traps.append(now)
        while self._traps and now - self._traps[0] > self.trap_window_seconds:
            self._traps.popleft()
        self.log.note(f"actor call failed: {trap}")
        if len(self._traps) >= self.max_traps and self._stop_task is None:
            message = (
                f"the actor trapped {len(self._traps)} times within "
                f"{self.trap_window_seconds:g}s; last: {trap}"
            )
            self.log.note(message)
            status = ExitStatus(TRAP_EXIT_CODE, "Error", message)
            self._stop_task = asyncio.create_task(self._shutdown(1.0, status))

    # -- RunningContainer ----------------------------------------------------------------------

    async def wait(self) -> ExitStatus:
        await self._done.wait()
        assert self._status is not None
        return self._status

    def usage(self) -> ContainerUsage:
        cpu_seconds, memory_bytes = self.pool.usage()
        return ContainerUsage(cpu_seconds=cpu_seconds, memory_bytes=memory_bytes)

    async def stop(self, grace_period_seconds: float) -> None:
        if self._stop_task is None:
            status = ExitStatus(0, "Completed", "the actor was stopped")
            self._stop_task = asyncio.create_task(self._shutdown(grace_period_seconds, status))
        await asyncio.shield(self._stop_task)

    async def _shutdown(self, grace: float, status: ExitStatus) -> None:
        try:
            await self._release(grace)
        finally:
            self._status = status
            self._done.set()

    async def _release(self, grace: float) -> None:
        """Unbind (frees ports first), then let calls in flight finish, within ``grace``."""
        bound, self._bound = self._bound, []
        await asyncio.gather(
            *(self._capabilities[c].unbind(self._bindings[c], grace) for c in bound),
            return_exceptions=True,
        )
        try:
            async with asyncio.timeout(max(grace, 0.1)):
                await self.pool.close()
        except TimeoutError:
            pass
        self.log.close()
