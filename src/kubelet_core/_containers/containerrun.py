"""One run of a container (one ``restartCount``): its handle, its wait, and how it is killed.

The runtime's ``RunningContainer.wait`` is awaited in a task of its own
(:attr:`ContainerRun.wait_task`) that callers reach through
:func:`asyncio.shield`: cancelling a supervisor (the pod is being stopped)
never cancels the runtime's bookkeeping nor loses the handle, and
termination can still wait for the same exit.  A start still under way when
the pod is stopped is a :class:`PendingStart`, which termination takes over.

These are the mechanics only; what a run means for the pod (events, the
status, the restart policy) is the supervisor's (:mod:`.supervisor`).
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import structlog

from kubelet_core._apiclient.timefmt import rfc3339
from kubelet_core._containers.runtime import ExitStatus, RunningContainer
from kubelet_core._containers.status import ContainerRecord

log = structlog.get_logger(__name__)


@dataclasses.dataclass
class ContainerRun:
    """One run of a container (one ``restartCount``)."""

    record: ContainerRecord
    restart: int
    running: RunningContainer
    wait_task: asyncio.Task[ExitStatus]
    started_at: str
    started_loop: float
    log_path: Path
    #: Set when the run has ended (``kubectl logs -f`` stops following then).
    ended: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    finished: bool = False

    @classmethod
    def begin(
        cls,
        record: ContainerRecord,
        restart: int,
        log_path: Path,
        running: RunningContainer,
        started_at: str,
    ) -> ContainerRun:
        """Start waiting on ``running`` and mark its record running."""
        run = cls(
            record=record,
            restart=restart,
            running=running,
            wait_task=asyncio.ensure_future(_wait_for_exit(running)),
            started_at=started_at,
            started_loop=asyncio.get_running_loop().time(),
            log_path=log_path,
        )
        record.set_running(started_at)
        return run

    def finish(self, status: ExitStatus) -> bool:
        """Record how the run ended (once); False if it already was."""
        if self.finished:
            return False
        self.finished = True
        self.record.set_terminated(status, self.started_at, rfc3339())
        self.ended.set()
        return True

    async def kill(self, grace: float, slack: float) -> ExitStatus:
        """Ask the runtime to stop the run; its exit, or exit 137 once ``grace + slack`` is over.

        The runtime's ``stop`` may return at once or when the container is gone;
        either way the run's own exit is what counts, and a runtime that cannot
        kill it does not keep the pod from being reported stopped.
        """
        stop_task = asyncio.ensure_future(self.running.stop(grace))
        done, _ = await asyncio.wait({self.wait_task}, timeout=grace + slack)
        if done:
            status = self.wait_task.result()
        else:
            status = ExitStatus(
                137, "Error", f"the container did not stop within {grace:g}s grace period"
            )
        if not stop_task.done():
            stop_task.cancel()
            await asyncio.wait({stop_task})
        if not stop_task.cancelled() and stop_task.exception() is not None:
            log.error(
                "stopping a container failed",
                container=self.record.name,
                error=repr(stop_task.exception()),
            )
        return status


@dataclasses.dataclass
class PendingStart:
    """A ``start_container`` call under way (it is not cancelled when the pod stops)."""

    record: ContainerRecord
    restart: int
    log_path: Path
    task: asyncio.Task[RunningContainer]


async def _wait_for_exit(running: RunningContainer) -> ExitStatus:
    try:
        return await running.wait()
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        return ExitStatus(255, "Error", f"lost track of the container: {exc!r}")
