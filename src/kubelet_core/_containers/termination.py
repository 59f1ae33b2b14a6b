"""How a pod's containers are stopped: deletion, eviction, deadline, failure, shutdown.

Every way a pod ends early goes through :meth:`PodTermination.terminate`
(idempotent: the first call's stop is the one every caller waits for):

1. the runner's state becomes ``TERMINATING`` (:mod:`.podstate`): from now
   on nothing pulls, backs off, starts or restarts;
2. the phases' task is cancelled -- the supervisors with it -- and the
   starts still under way are taken over (a container that does start is
   stopped too; one hanging past the grace period is abandoned);
3. the running containers get the grace period, after which they are
   reported killed (exit 137) whether the runtime managed it or not;
4. the state becomes ``TERMINATED`` and the final status is pushed.

What starts it: the pod's deletion (the grace from the API), agent shutdown
(the provider's shutdown grace), an emptyDir over its ``sizeLimit``
(:meth:`evict`, kubelet's eviction manager: no grace, reason Evicted),
``activeDeadlineSeconds`` (:meth:`deadline_exceeded`, reason
DeadlineExceeded), or a pod-level error (:meth:`fail_pod`).  A pod failure
is recorded at once, so the pod reads Failed while its containers stop.
Kubernetes has no preStop hooks for wasm containers here: stopping is the
runtime's ``stop(grace)``.

Sidecars end differently: once the app containers are done, they are
stopped in reverse start order (:meth:`stop_sidecars`), as kubelet does.
:meth:`detach` is the one exit that stops nothing (the agent goes, the
containers run on, to be re-adopted by its successor).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from kubelet_core._containers import deadline
from kubelet_core._containers.podscope import PodScope
from kubelet_core._containers.podstate import PodState
from kubelet_core._containers.statusview import PodStatusView
from kubelet_core._containers.supervisor import ContainerSupervisor


class PodTermination:
    """Stops one pod's containers (see module docstring)."""

    def __init__(
        self,
        scope: PodScope,
        view: PodStatusView,
        supervisors: Sequence[ContainerSupervisor],
    ) -> None:
        self.scope = scope
        self.view = view
        self.supervisors = supervisors
        self._stop: asyncio.Task[None] | None = None

    async def terminate(
        self, grace: float, *, reason: str | None = None, message: str | None = None
    ) -> None:
        """Stop everything (idempotent): no more restarts, running containers get ``grace``."""
        if self._stop is None:
            self._stop = asyncio.create_task(
                self._terminate(grace, reason, message),
                name=f"stop {self.scope.namespace}/{self.scope.name}",
            )
        await asyncio.shield(self._stop)

    async def _terminate(self, grace: float, reason: str | None, message: str | None) -> None:
        scope, state = self.scope, self.scope.state
        state.advance(PodState.TERMINATING)
        scope.volumes.stop_sync()
        if reason is not None and not self.view.finished:
            state.fail(reason, message or "")
            self.view.notify()  # the pod is Failed from now on, as kubelet reports it
        scope.deadline.cancel()
        main = scope.main_task
        if main is not None and main is not asyncio.current_task():
            main.cancel()
            await asyncio.wait({main})  # (not "await main": that would re-raise its cancel)
        for supervisor in self.supervisors:  # starts under way when the phases were cancelled
            await supervisor.take_over_start(grace + scope.timings.stop_slack)
        running = [s for s in self.supervisors if s.active is not None]
        await asyncio.gather(*(supervisor.stop(grace) for supervisor in running))
        state.advance(PodState.TERMINATED)
        self.view.notify()

    def fail_pod(self, reason: str, message: str) -> None:
        """A pod-level failure: record it and stop every container (from a new task)."""
        self.scope.state.fail(reason, message)
        self.view.event("Warning", reason, message)
        self.scope.spawn(self.terminate(self.scope.grace_period()))
        self.view.notify()

    def evict(self, message: str) -> None:
        """An emptyDir is over its sizeLimit: fail the pod as kubelet's eviction manager does."""
        if self.view.finished or self.scope.state.stopping:
            return
        self.view.event("Warning", "Evicted", message)
        self.scope.state.advance(PodState.TERMINATING)
        self.scope.spawn(self.terminate(0.0, reason="Evicted", message=message))

    def deadline_exceeded(self) -> None:
        """``activeDeadlineSeconds`` passed: fail the pod, its containers get the grace period."""
        if self.view.finished or self.scope.state.stopping:
            return
        self.view.event("Warning", deadline.REASON, deadline.MESSAGE)
        self.scope.state.advance(PodState.TERMINATING)
        self.scope.spawn(
            self.terminate(
                self.scope.grace_period(), reason=deadline.REASON, message=deadline.MESSAGE
            )
        )

    async def stop_sidecars(self) -> None:
        """The app containers are done: stop the sidecars, last started first (as kubelet)."""
        sidecars = [s for s in self.supervisors if s.record.sidecar]
        for supervisor in reversed(sidecars):
            await supervisor.stop(self.scope.grace_period())
        for supervisor in sidecars:
            if supervisor.task is not None:
                supervisor.task.cancel()
        self.view.notify()

    async def detach(self) -> None:
        """Let go of the pod without stopping it (agent shutdown; its containers run on).

        Nothing more is reported, pulled, started or restarted; the containers
        are left to the runtime, whose next agent re-adopts them.
        """
        self.view.mute()
        self.scope.state.advance(PodState.DETACHED)
        self.scope.volumes.stop_sync()
        self.scope.deadline.cancel()
        await self.scope.cancel_tasks()
