"""One container's supervisor: start it, wait for it, restart it as its policy says.

A pod has one :class:`ContainerSupervisor` per container, each owning that
container's :class:`~kubelet_core._containers.status.ContainerRecord` (what
its status shows) and its runs.  A run goes: the previous run from before an
agent restart, if any (:mod:`.recovery`), else pull
(:func:`~kubelet_core._containers.images.pull_with_backoff`), resolve the
launch (:mod:`.launch`), start, wait (:mod:`.containerrun`).  Then the
restart policy decides, with kubelet's CrashLoopBackOff
(:mod:`.backoff`: 10 s doubling to 300 s, reset after 10 minutes of clean
running):

* an init container runs until it exits 0 (:meth:`run_until_success`);
* an app container or a sidecar runs for as long as its policy says
  (:meth:`supervise`); a sidecar is not restarted once the app containers
  are done.

The supervisor never decides the pod's fate: it reads the runner's state
(:mod:`.podstate`) to know whether it may still restart, and reports a start
that invalidates the whole pod (``InvalidPodSpec``) through ``on_pod_failure``.

Runtime failures never escape: any pull error is ErrImagePull; a start
refused with reason ``CreateContainerError`` means nothing was created (the
container waits in that state and is retried with back-off, no restart
counted); any other start error is a ``terminated`` state (StartError by
default) that the restart policy then handles.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from kubelet_core._apiclient.timefmt import rfc3339
from kubelet_core._containers import recovery
from kubelet_core._containers.backoff import Backoff, go_duration
from kubelet_core._containers.containerrun import ContainerRun, PendingStart
from kubelet_core._containers.images import pull_with_backoff
from kubelet_core._containers.launch import LaunchBuilder
from kubelet_core._containers.podscope import PodScope
from kubelet_core._containers.runtime import ContainerLaunch, ExitStatus, RunningContainer
from kubelet_core._containers.status import CRASH_LOOP_BACKOFF, ContainerRecord
from kubelet_core._containers.statusview import PodStatusView
from kubelet_core._provider.errors import ContainerStartError, InvalidPodSpec

CREATE_ERROR = "CreateContainerError"

#: How a run ended, and how long it ran (the back-off resets after long clean runs).
Outcome = tuple[ExitStatus, float]


class _NotCreated(Exception):
    """start_container refused with CreateContainerError: wait and retry, no restart."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ContainerSupervisor:
    """Runs one container of a pod (see module docstring)."""

    def __init__(
        self,
        scope: PodScope,
        view: PodStatusView,
        launcher: LaunchBuilder,
        record: ContainerRecord,
        *,
        on_pod_failure: Callable[[str, str], None],
        previous: recovery.PreviousRun | None,
    ) -> None:
        self.scope = scope
        self.view = view
        self.launcher = launcher
        self.record = record
        self._on_pod_failure = on_pod_failure
        self._previous = previous  # a run from before an agent restart, looked at first
        #: The last run (finished or not), None before the first start.
        self.run: ContainerRun | None = None
        #: A start under way (termination takes it over if the pod stops meanwhile).
        self.pending: PendingStart | None = None
        #: Set once the container first runs (sidecars: the next init container may go).
        self.started = asyncio.Event()
        #: The supervising task, when it runs beside others (sidecars, several apps).
        self.task: asyncio.Task[None] | None = None
        self._died_with_agent = False  # its last run did: restart at once if the policy says so
        self._replacing = False  # killed for a new image: start again at once, whatever the policy

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def active(self) -> ContainerRun | None:
        """The run going on now, if any."""
        return self.run if self.run is not None and not self.run.finished else None

    # -- the restart policy ------------------------------------------------------------------

    async def run_until_success(self) -> bool:
        """Run an init container until it exits 0; False if the pod has failed or stops."""
        backoff = Backoff(self.scope.timings.crash_loop)
        while True:
            status, ran_for = await self._run_once()
            if self.scope.state.stopping:
                return False
            if status.exit_code == 0:
                return True
            if self.scope.restart_policy == "Never":
                self.view.notify()
                return False
            if not self._restart_lost():
                await self._crash_backoff(backoff, ran_for)

    async def supervise(self) -> None:
        """Run an app container (or a sidecar) for as long as its restart policy says."""
        backoff = Backoff(self.scope.timings.crash_loop)
        state = self.scope.state
        while True:
            status, ran_for = await self._run_once()
            if state.stopping or (self.record.sidecar and state.sidecars_released):
                return
            if self._replacing:  # killed for a new image: start again at once
                self._replacing = False
                self.record.restart_count += 1
                continue
            container = self.scope.container_spec(self.record)
            policy = container.get("restartPolicy") or self.scope.restart_policy
            if policy == "Never" or (policy == "OnFailure" and status.exit_code == 0):
                return
            if not self._restart_lost():
                await self._crash_backoff(backoff, ran_for)

    def _restart_lost(self) -> bool:
        """A container that died with the agent starts again at once (no back-off)."""
        if not self._died_with_agent:
            return False
        self._died_with_agent = False
        self.record.restart_count += 1
        return True

    async def _crash_backoff(self, backoff: Backoff, ran_for: float) -> None:
        delay = backoff.next_delay(ran_for=ran_for)
        name, pod = self.record.name, self.scope.kubelet_pod_name
        self.record.set_waiting(
            CRASH_LOOP_BACKOFF,
            f"back-off {go_duration(delay)} restarting failed container={name} pod={pod}",
        )
        self.view.event(
            "Warning", "BackOff", f"Back-off restarting failed container {name} in pod {pod}"
        )
        self.view.notify()
        await asyncio.sleep(delay)
        self.record.restart_count += 1

    def replace(self) -> None:
        """The image changed (a pod update): kill the running container, start it at once anew.

        As kubelet does when a container's spec hash changes; a plain init
        container, or one not running, just uses the new image next time.
        """
        run = self.active
        if run is None or (self.record.is_init and not self.record.sidecar):
            return
        self._replacing = True
        why = f"Container {self.name} definition changed, will be restarted"
        self.scope.spawn(self._stop_run(run, self.scope.grace_period(), why))

    # -- one run ------------------------------------------------------------------------------

    async def _run_once(self) -> Outcome:
        """Pull, prepare, start and wait for one run (or take up the one from before a restart)."""
        previous, self._previous = self._previous, None
        if previous is not None:
            outcome = await self._take_up(previous)
            if outcome is not None:
                return outcome
        scope, record = self.scope, self.record
        backoff = Backoff(scope.timings.config_retry)
        while True:
            image = await pull_with_backoff(
                scope.runtime,
                record,
                lambda: (scope.pod, scope.container_spec(record)),
                timings=scope.timings,
                reporter=self.view,
                updated=scope.updated,
                objects=scope.volumes.objects,
            )
            launch = await self.launcher.build(record, image)
            try:
                return await self._start_and_wait(launch)
            except _NotCreated as exc:
                record.container_id = ""  # nothing was created
                record.set_waiting(CREATE_ERROR, exc.message)
                self.view.event("Warning", "Failed", f"Error: {exc.message}")
                self.view.notify()
                await asyncio.sleep(backoff.next_delay())

    async def _take_up(self, previous: recovery.PreviousRun) -> Outcome | None:
        """Adopt the run from before an agent restart, or report how it ended; None: start anew."""
        found = await recovery.look_up(self.scope, self.record, previous)
        if found is None:
            return None
        record = self.record
        record.restart_count = previous.restart
        record.container_id = self.scope.container_id(record.name, previous.restart)
        if found.image is not None:
            record.image_ref = found.image
        if found.running is not None:  # adopted: no Created or Started event, nothing was created
            log_path = self.scope.log_path(record.name, previous.restart)
            run = self._begin_run(
                previous.restart, log_path, found.running, found.started_at, announce=False
            )
            return await self._wait_run(run)
        status = found.exit or recovery.UNKNOWN
        self._died_with_agent = status is recovery.LOST_WITH_AGENT
        record.set_terminated(status, found.started_at, found.finished_at)
        self.view.notify()
        return status, 0.0

    async def _start_and_wait(self, launch: ContainerLaunch) -> Outcome:
        record = self.record
        self.view.event("Normal", "Created", f"Created container {record.name}")
        started_at = rfc3339()
        began = asyncio.get_running_loop().time()
        start = asyncio.ensure_future(self.scope.runtime.start_container(launch))
        self.pending = PendingStart(record, launch.restart_count, launch.log_path, start)
        failure: ExitStatus | None = None
        try:
            running = await asyncio.shield(start)
        except asyncio.CancelledError:
            raise  # termination takes the start over from self.pending
        except InvalidPodSpec as exc:
            self.pending = None
            failure = ExitStatus(128, exc.reason, exc.message)
            self._on_pod_failure(exc.reason, exc.message)
        except ContainerStartError as exc:
            self.pending = None
            if exc.reason == CREATE_ERROR:
                raise _NotCreated(exc.message) from exc
            failure = ExitStatus(exc.exit_code, exc.reason, exc.message)
        except Exception as exc:
            self.pending = None
            failure = ExitStatus(128, "StartError", f"{type(exc).__name__}: {exc}")
        if failure is not None:
            record.set_terminated(failure, started_at, rfc3339())
            self.view.event("Warning", "Failed", f"Error: {failure.message}")
            self.view.notify()
            return failure, 0.0
        self.pending = None
        run = self._begin_run(launch.restart_count, launch.log_path, running, started_at)
        run.started_loop = began
        return await self._wait_run(run)

    def _begin_run(
        self,
        restart: int,
        log_path: Path,
        running: RunningContainer,
        started_at: str,
        *,
        announce: bool = True,
    ) -> ContainerRun:
        run = self.run = ContainerRun.begin(self.record, restart, log_path, running, started_at)
        self.started.set()
        if announce:
            self.view.event("Normal", "Started", f"Started container {self.record.name}")
        self.view.notify()
        return run

    async def _wait_run(self, run: ContainerRun) -> Outcome:
        status = await asyncio.shield(run.wait_task)
        self._finish_run(run, status)
        return status, asyncio.get_running_loop().time() - run.started_loop

    def _finish_run(self, run: ContainerRun, status: ExitStatus) -> None:
        if run.finish(status):
            self.view.notify()

    # -- stopping (driven by termination) -------------------------------------------------------

    async def take_over_start(self, timeout: float) -> None:
        """The pod stops during a start: keep the container it starts (to stop it), if it does.

        A start that hangs longer than ``timeout`` is abandoned (cancelled).
        """
        pending, self.pending = self.pending, None
        if pending is None:
            return
        done, _ = await asyncio.wait({pending.task}, timeout=timeout)
        if not done:
            pending.task.cancel()
        elif not pending.task.cancelled() and pending.task.exception() is None:
            self._begin_run(pending.restart, pending.log_path, pending.task.result(), rfc3339())

    async def stop(self, grace: float) -> None:
        """Stop the running container, if any, with ``grace`` (a Killing event)."""
        run = self.active
        if run is not None:
            await self._stop_run(run, grace)

    async def _stop_run(self, run: ContainerRun, grace: float, why: str = "") -> None:
        self.view.event("Normal", "Killing", why or f"Stopping container {run.record.name}")
        status = await run.kill(grace, self.scope.timings.stop_slack)
        self._finish_run(run, status)
