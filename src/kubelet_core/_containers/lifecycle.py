"""The pod runner: one asyncio task per pod that drives its containers like kubelet.

A :class:`PodRunner` pulls each container's image, resolves its environment
and mounts, starts it through the provider's :class:`ContainerRuntime`, waits
for it, and applies the restart policy:

* init containers run one at a time, in order, each until it exits 0; a
  failure fails the pod under ``restartPolicy: Never`` and is retried with
  CrashLoopBackOff otherwise (``kubectl`` then shows ``Init:CrashLoopBackOff``,
  the app containers wait in ``PodInitializing``); sidecars (init containers
  with ``restartPolicy: Always``) start in their turn, run beside the app
  containers and are stopped, last first, once those are done;
* app containers then run side by side (one small supervisor coroutine each,
  inside the runner's task group) and restart per policy with exponential
  back-off (:mod:`kubelet_core._containers.backoff`);
* image pulls report Pulling/Pulled, and failures ErrImagePull then
  ImagePullBackOff, with their own back-off.

Before any container, every pod volume is set up (:mod:`kubelet_core._containers.volumes`);
one that cannot be yet (a missing ConfigMap) is a ``FailedMount`` Warning and a
retry with back-off, woken early by a change of the watched object, while the
containers wait in ContainerCreating.  Once mounted, the volumes are kept up to
date (and emptyDir ``sizeLimit`` enforced by eviction) until the pod is removed.

Every state change is pushed with ``ProviderContext.notify_pod_status``; the
pod phase is derived from the container records (:func:`status.pod_phase`).

Stopping (deletion, ``activeDeadlineSeconds``, a pod-level error, agent
shutdown) goes through :meth:`PodRunner.terminate`: it cancels the runner's
task first -- so nothing pulls, backs off or restarts any more -- and then
stops the containers still running with the grace period.  ``start_container``
and ``RunningContainer.wait`` are awaited through :func:`asyncio.shield`, so
cancelling the runner never loses a container handle or cancels the
runtime's own bookkeeping; :meth:`terminate` picks those handles up.

``update`` (kubelet semantics: only images and ``activeDeadlineSeconds``
can change) re-arms the deadline and restarts a running container whose
image changed, at once and without back-off; a container not running picks
the new image up at its next start.

Runtime failures never escape: ImagePullError and any other pull exception
become ErrImagePull; ContainerConfigError becomes
CreateContainerConfigError; ContainerStartError with reason
CreateContainerError is a waiting state retried with back-off; any other
ContainerStartError (or start exception) becomes a ``terminated`` state with
its reason (StartError by default) that the restart policy then handles;
InvalidPodSpec fails the whole pod.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

from kubelet_core._apiclient.timefmt import rfc3339
from kubelet_core._containers import deadline
from kubelet_core._containers.backoff import Backoff, LifecycleTimings, go_duration
from kubelet_core._containers.deadline import ActiveDeadline
from kubelet_core._containers.env import EnvResolver, expand_all
from kubelet_core._containers.identity import identity_for, volume_group
from kubelet_core._containers.images import pull_with_backoff
from kubelet_core._containers.logs import LogStore
from kubelet_core._containers.runtime import (
    ContainerLaunch,
    ContainerRuntime,
    ExitStatus,
    ImageRef,
    RunningContainer,
)
from kubelet_core._containers.status import (
    CONFIG_ERROR,
    CONTAINER_CREATING,
    CRASH_LOOP_BACKOFF,
    POD_INITIALIZING,
    ContainerRecord,
    pod_phase,
    waiting,
)
from kubelet_core._containers.volumes import PodVolumes
from kubelet_core._provider.base import EventType, KubeObject, ProviderContext
from kubelet_core._provider.errors import (
    ContainerConfigError,
    ContainerStartError,
    InvalidPodSpec,
    NotFound,
)
from kubelet_core._volumes.sources import VolumeHost

log = structlog.get_logger(__name__)


CREATE_ERROR = "CreateContainerError"


class _NotCreated(Exception):
    """start_container refused with CreateContainerError: wait and retry, no restart."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _images(spec: KubeObject) -> dict[str, str]:
    containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    return {str(c.get("name")): str(c.get("image", "")) for c in containers}


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
    ended: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    finished: bool = False


class PodRunner:
    """Runs one pod's containers; owned by :class:`ContainerProvider`."""

    def __init__(
        self,
        pod: KubeObject,
        *,
        runtime: ContainerRuntime,
        context: ProviderContext,
        timings: LifecycleTimings,
        logs: LogStore,
        volumes_root: Path,
        id_scheme: str,
        volume_host: VolumeHost | None = None,
    ) -> None:
        self.pod = pod
        self.runtime = runtime
        self.context = context
        self.timings = timings
        self.logs = logs
        self.volumes = PodVolumes(
            volumes_root,
            pod,
            host=volume_host,
            group=volume_group(pod, context.default_run_as_user),
        )
        self.id_scheme = id_scheme
        self.env = EnvResolver(
            context.node_name,
            context.node_ip,
            self.volumes.objects,
            record_event=lambda _pod, kind, reason, message: self.event(kind, reason, message),
            allocatable=volume_host.allocatable if volume_host is not None else None,
        )
        spec = pod.get("spec") or {}
        inits = spec.get("initContainers") or []
        self.init_records = [
            ContainerRecord(
                c["name"],
                str(c.get("image", "")),
                True,
                waiting(POD_INITIALIZING),
                sidecar=c.get("restartPolicy") == "Always",
            )
            for c in inits
        ]
        first = POD_INITIALIZING if inits else CONTAINER_CREATING
        self.app_records = [
            ContainerRecord(c["name"], str(c.get("image", "")), False, waiting(first))
            for c in spec.get("containers") or []
        ]
        # A pod re-created after an agent restart continues after the runs on disk: the
        # last one is recovered (see _recover_run) before anything starts.
        self._recover: dict[str, int] = {}
        self._lost: set[str] = set()  # died with the agent: restart without back-off
        for record in (*self.init_records, *self.app_records):
            record.restart_count = logs.next_restart(pod, record.name)
            if record.restart_count:
                self._recover[record.name] = record.restart_count - 1
        self._apps_ran = any(r.restart_count for r in self.app_records)
        self._runs: dict[str, ContainerRun] = {}
        self._started_events: dict[str, asyncio.Event] = {}
        self._sidecars: list[asyncio.Task[None]] = []
        self._sidecars_done = False
        self._replace: set[str] = set()  # containers killed to restart with a new image
        self._starting: dict[str, tuple[ContainerRecord, int, Path, asyncio.Task[Any]]] = {}
        self._stopping = False  # no more starts or restarts
        self._stopped = False  # every container is down after terminate()
        self._pod_reason: str | None = None
        self._pod_message: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._terminate_task: asyncio.Task[None] | None = None
        self._side_tasks: set[asyncio.Task[Any]] = set()
        self._deadline = ActiveDeadline(self._deadline_exceeded)
        self._updated = asyncio.Event()
        self._last_status: KubeObject | None = None
        self._muted = False
        self._log = log.bind(pod=f"{self.namespace}/{self.name}")

    # -- identity ------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return str(self.pod["metadata"].get("name", ""))

    @property
    def namespace(self) -> str:
        return str(self.pod["metadata"].get("namespace", "default"))

    @property
    def uid(self) -> str:
        return str(self.pod["metadata"].get("uid", ""))

    @property
    def kubelet_pod_name(self) -> str:
        """``name_namespace(uid)``, as kubelet names pods in messages."""
        return f"{self.name}_{self.namespace}({self.uid})"

    @property
    def spec(self) -> KubeObject:
        return self.pod.get("spec") or {}

    @property
    def finished(self) -> bool:
        return self.phase() in ("Succeeded", "Failed")

    # -- life ------------------------------------------------------------------------------

    def start(self) -> None:
        self._deadline.arm(self.pod)
        self.notify()
        self._task = asyncio.create_task(self._run(), name=f"pod {self.namespace}/{self.name}")

    def update(self, pod: KubeObject) -> None:
        """Take a new version of the pod (kubelet semantics: only a few fields can change).

        ``activeDeadlineSeconds`` is re-armed.  A running app or sidecar container
        whose image changed is killed and started again with the new image, at
        once and without back-off, as kubelet does when a container's spec hash
        changes; a container that is not running uses the new image at its next
        (re)start.
        """
        old_spec = self.spec
        self.pod = pod
        self.volumes.update_pod(pod)
        if not self._stopping:
            if self.spec.get("activeDeadlineSeconds") != old_spec.get("activeDeadlineSeconds"):
                self._deadline.arm(self.pod)
            old_images = _images(old_spec)
            for name, image in _images(self.spec).items():
                run = self._runs.get(name)
                if old_images.get(name, image) == image or run is None or run.finished:
                    continue
                if run.record.is_init and not run.record.sidecar:
                    continue
                self._replace.add(name)
                self._spawn(
                    self._stop_run(
                        run,
                        self._grace_period(),
                        f"Container {name} definition changed, will be restarted",
                    )
                )
        self._updated.set()

    async def _run(self) -> None:
        try:
            await self._mount_volumes()
            self.volumes.start_sync(self._evict)
            async with asyncio.TaskGroup() as group:
                if await self._initialize(group):
                    await self._run_apps(group)
                await self._stop_sidecars()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug: report it on the pod rather than hang silently
            self._log.exception("pod runner failed")
            self._fail_pod("ProviderFailed", f"internal error running the pod: {exc!r}")
        finally:
            if self.finished:
                self._deadline.cancel()

    async def _mount_volumes(self) -> None:
        """Set up every pod volume before any container; FailedMount and retry until done.

        The containers keep waiting in ContainerCreating (PodInitializing) meanwhile,
        as with kubelet; a change of a watched ConfigMap/Secret retries at once.
        """
        backoff = Backoff(self.timings.config_retry)
        while True:
            failures = await self.volumes.setup()
            if not failures:
                return
            for volume, message in failures.items():
                self.event(
                    "Warning",
                    "FailedMount",
                    f'MountVolume.SetUp failed for volume "{volume}" : {message}',
                )
            self.notify()
            await self.volumes.wait_changed(backoff.next_delay())

    def _evict(self, message: str) -> None:
        """An emptyDir is over its sizeLimit: fail the pod as kubelet's eviction manager does."""
        if self.finished or self._stopping:
            return
        self.event("Warning", "Evicted", message)
        self._stopping = True
        self._spawn(self.terminate(0.0, reason="Evicted", message=message))

    async def _initialize(self, group: asyncio.TaskGroup) -> bool:
        """Init containers in order; sidecars (``restartPolicy: Always``) start and stay."""
        for record in self.init_records:
            if record.sidecar:
                task = group.create_task(self._supervise(record), name=f"sidecar {record.name}")
                self._sidecars.append(task)
                await self._started(record).wait()
            elif not await self._run_init(record):
                return False
        for record in self.app_records:
            if record.state.get("waiting", {}).get("reason") == POD_INITIALIZING:
                record.state = waiting(CONTAINER_CREATING)
        if self.init_records:
            self.notify()
        return True

    async def _run_apps(self, group: asyncio.TaskGroup) -> None:
        if len(self.app_records) == 1:  # the common case: no extra task
            await self._supervise(self.app_records[0])
            return
        tasks = [
            group.create_task(self._supervise(record), name=f"container {record.name}")
            for record in self.app_records
        ]
        await asyncio.gather(*tasks)

    async def _stop_sidecars(self) -> None:
        """The regular containers are done: stop sidecars, last started first (as kubelet)."""
        self._sidecars_done = True
        for record in reversed(self.init_records):
            run = self._runs.get(record.name)
            if record.sidecar and run is not None and not run.finished:
                await self._stop_run(run, self._grace_period())
        for task in self._sidecars:
            task.cancel()
        self.notify()

    def _started(self, record: ContainerRecord) -> asyncio.Event:
        return self._started_events.setdefault(record.name, asyncio.Event())

    async def _run_init(self, record: ContainerRecord) -> bool:
        """Run one init container until it exits 0; False if the pod has failed."""
        backoff = Backoff(self.timings.crash_loop)
        while True:
            status, ran_for = await self._run_once(record)
            if self._stopping:
                return False
            if status.exit_code == 0:
                return True
            if self.spec.get("restartPolicy", "Always") == "Never":
                self.notify()
                return False
            if self._restart_lost(record):
                continue
            await self._crash_backoff(record, backoff, ran_for)

    async def _supervise(self, record: ContainerRecord) -> None:
        """Run one app container for as long as its restart policy says."""
        backoff = Backoff(self.timings.crash_loop)
        while True:
            status, ran_for = await self._run_once(record)
            if self._stopping or (record.sidecar and self._sidecars_done):
                return
            if record.name in self._replace:  # killed for a new image: start again at once
                self._replace.discard(record.name)
                record.restart_count += 1
                continue
            container = self._container_spec(record)
            policy = container.get("restartPolicy") or self.spec.get("restartPolicy", "Always")
            if policy == "Never" or (policy == "OnFailure" and status.exit_code == 0):
                return
            if self._restart_lost(record):
                continue
            await self._crash_backoff(record, backoff, ran_for)

    def _restart_lost(self, record: ContainerRecord) -> bool:
        """A container that died with the agent starts again at once (no back-off)."""
        if record.name not in self._lost:
            return False
        self._lost.discard(record.name)
        record.restart_count += 1
        return True

    async def _crash_backoff(
        self, record: ContainerRecord, backoff: Backoff, ran_for: float
    ) -> None:
        delay = backoff.next_delay(ran_for=ran_for)
        record.set_waiting(
            CRASH_LOOP_BACKOFF,
            f"back-off {go_duration(delay)} restarting failed container={record.name} "
            f"pod={self.kubelet_pod_name}",
        )
        self.event(
            "Warning",
            "BackOff",
            f"Back-off restarting failed container {record.name} in pod {self.kubelet_pod_name}",
        )
        self.notify()
        await asyncio.sleep(delay)
        record.restart_count += 1

    # -- one run of a container -------------------------------------------------------------

    def _container_spec(self, record: ContainerRecord) -> KubeObject:
        key = "initContainers" if record.is_init else "containers"
        for container in self.spec.get(key) or []:
            if container.get("name") == record.name:
                return dict(container)
        raise InvalidPodSpec(f"container {record.name!r} is no longer in the pod spec")

    async def _run_once(self, record: ContainerRecord) -> tuple[ExitStatus, float]:
        """Pull, prepare, start and wait for one run; returns how it ended and how long it ran.

        A start refused with reason ``CreateContainerError`` means the container
        was never created: like kubelet, it waits in that state and is retried
        (from the pull on) with back-off, without a restart being counted.
        """
        recovered = await self._recover_run(record)
        if recovered is not None:
            return recovered
        backoff = Backoff(self.timings.config_retry)
        while True:
            image = await pull_with_backoff(
                self.runtime,
                record,
                lambda: (self.pod, self._container_spec(record)),
                timings=self.timings,
                reporter=self,
                updated=self._updated,
                objects=self.volumes.objects,
            )
            launch = await self._prepare(record, self._container_spec(record), image)
            try:
                return await self._start_and_wait(record, launch)
            except _NotCreated as exc:
                record.container_id = ""  # nothing was created
                record.set_waiting(CREATE_ERROR, exc.message)
                self.event("Warning", "Failed", f"Error: {exc.message}")
                self.notify()
                await asyncio.sleep(backoff.next_delay())

    async def _recover_run(self, record: ContainerRecord) -> tuple[ExitStatus, float] | None:
        """The run of ``record`` from before an agent restart, adopted (or how it ended).

        A container that still runs is waited on, not started again (no Created or
        Started event: nothing was created); one that ended while the agent was
        away is reported terminated as it ended, and the caller's restart policy
        decides -- under ``restartPolicy: Never`` it is never run twice.
        """
        restart = self._recover.pop(record.name, None)
        if restart is None:
            return None
        if not self.runtime.survives_agent_restart:
            return self._lost_with_agent(record, restart)
        try:
            found = await self.runtime.recover_container(self.pod, record.name, restart)
        except Exception as exc:
            self._log.warning("cannot recover container", container=record.name, error=repr(exc))
            return None
        if found is None:
            return None
        record.restart_count = restart
        record.container_id = f"{self.id_scheme}://{self.uid}/{record.name}/{restart}"
        if found.image is not None:
            record.image_ref = found.image
        if found.running is not None:
            log_path = self.logs.path(self.pod, record.name, restart)
            run = self._begin_run(
                record, restart, log_path, found.running, found.started_at, announce=False
            )
            status = await asyncio.shield(run.wait_task)
            self._finish_run(run, status)
            return status, asyncio.get_running_loop().time() - run.started_loop
        status = found.exit or ExitStatus(137, "ContainerStatusUnknown", "")
        record.set_terminated(status, found.started_at, found.finished_at or rfc3339())
        self.notify()
        return status, 0.0

    def _lost_with_agent(self, record: ContainerRecord, restart: int) -> tuple[ExitStatus, float]:
        """A run of a runtime that lives inside the agent: it ended when the agent did.

        Its state is unknown, as kubelet reports a container it cannot find
        (``ContainerStatusUnknown``, exit code 137); the restart policy then
        decides -- a ``restartPolicy: Never`` container is not run a second
        time, others start again at once (the agent stopped, not the
        container).  An init container is known to have succeeded when an app
        container had started after it.
        """
        record.restart_count = restart
        record.container_id = f"{self.id_scheme}://{self.uid}/{record.name}/{restart}"
        if record.is_init and not record.sidecar and self._apps_ran:
            status = ExitStatus(0, "Completed")
        else:
            status = ExitStatus(
                137,
                "ContainerStatusUnknown",
                "The container could not be located when the agent restarted: it ran "
                "inside the agent, which stopped",
            )
            self._lost.add(record.name)
        record.set_terminated(status, "", "")
        self.notify()
        return status, 0.0

    async def _prepare(
        self, record: ContainerRecord, container: KubeObject, image: ImageRef
    ) -> ContainerLaunch:
        backoff = Backoff(self.timings.config_retry)
        while True:
            error: ContainerConfigError
            try:
                env = await self.env.resolve(self.pod, container)
                env_map = dict(env)
                mounts = self.volumes.mounts_for(container, env_map)
                command = expand_all(container.get("command") or [], env_map)
                args = expand_all(container.get("args") or [], env_map)
                break
            except asyncio.CancelledError:
                raise
            except ContainerConfigError as exc:
                error = exc
            except Exception as exc:
                error = ContainerConfigError(f"{type(exc).__name__}: {exc}")
            record.set_waiting(CONFIG_ERROR, error.message)
            self.event("Warning", "Failed", f"Error: {error.message}")
            self.notify()
            await asyncio.sleep(backoff.next_delay())
        restart = record.restart_count
        log_path = self.logs.allocate(self.pod, record.name, restart)
        record.container_id = f"{self.id_scheme}://{self.uid}/{record.name}/{restart}"
        limits = (container.get("resources") or {}).get("limits") or {}
        return ContainerLaunch(
            pod=self.pod,
            container=container,
            image=image,
            command=command,
            args=args,
            env=env,
            mounts=mounts,
            working_dir=container.get("workingDir") or None,
            log_path=log_path,
            restart_count=restart,
            limits={str(k): str(v) for k, v in limits.items()},
            deadline_seconds=self._deadline.left(),
            identity=identity_for(self.pod, container, self.context.default_run_as_user),
        )

    async def _start_and_wait(
        self, record: ContainerRecord, launch: ContainerLaunch
    ) -> tuple[ExitStatus, float]:
        loop = asyncio.get_running_loop()
        self.event("Normal", "Created", f"Created container {record.name}")
        started_at = rfc3339()
        began = loop.time()
        start_task = asyncio.ensure_future(self.runtime.start_container(launch))
        self._starting[record.name] = (record, launch.restart_count, launch.log_path, start_task)
        failure: ExitStatus | None = None
        try:
            running = await asyncio.shield(start_task)
        except asyncio.CancelledError:
            raise  # terminate() takes over the start task from _starting
        except InvalidPodSpec as exc:
            self._starting.pop(record.name, None)
            failure = ExitStatus(128, exc.reason, exc.message)
            self._fail_pod(exc.reason, exc.message)
        except ContainerStartError as exc:
            self._starting.pop(record.name, None)
            if exc.reason == CREATE_ERROR:
                raise _NotCreated(exc.message) from exc
            failure = ExitStatus(exc.exit_code, exc.reason, exc.message)
        except Exception as exc:
            self._starting.pop(record.name, None)
            failure = ExitStatus(128, "StartError", f"{type(exc).__name__}: {exc}")
        if failure is not None:
            record.set_terminated(failure, started_at, rfc3339())
            self.event("Warning", "Failed", f"Error: {failure.message}")
            self.notify()
            return failure, 0.0
        self._starting.pop(record.name, None)
        run = self._begin_run(record, launch.restart_count, launch.log_path, running, started_at)
        run.started_loop = began
        status = await asyncio.shield(run.wait_task)
        self._finish_run(run, status)
        return status, loop.time() - began

    def _begin_run(
        self,
        record: ContainerRecord,
        restart: int,
        log_path: Path,
        running: RunningContainer,
        started_at: str,
        *,
        announce: bool = True,
    ) -> ContainerRun:
        run = ContainerRun(
            record=record,
            restart=restart,
            running=running,
            wait_task=asyncio.ensure_future(self._wait(running)),
            started_at=started_at,
            started_loop=asyncio.get_running_loop().time(),
            log_path=log_path,
        )
        self._runs[record.name] = run
        self._started(record).set()
        record.set_running(started_at)
        if announce:
            self.event("Normal", "Started", f"Started container {record.name}")
        self.notify()
        return run

    async def _wait(self, running: RunningContainer) -> ExitStatus:
        try:
            return await running.wait()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return ExitStatus(255, "Error", f"lost track of the container: {exc!r}")

    def _finish_run(self, run: ContainerRun, status: ExitStatus) -> None:
        if run.finished:
            return
        run.finished = True
        run.record.set_terminated(status, run.started_at, rfc3339())
        run.ended.set()
        self.notify()

    # -- stopping ------------------------------------------------------------------------------

    async def terminate(
        self, grace: float, *, reason: str | None = None, message: str | None = None
    ) -> None:
        """Stop everything (idempotent): no more restarts, running containers get ``grace``."""
        if self._terminate_task is None:
            self._terminate_task = asyncio.create_task(
                self._terminate(grace, reason, message), name=f"stop {self.namespace}/{self.name}"
            )
        await asyncio.shield(self._terminate_task)

    async def _terminate(self, grace: float, reason: str | None, message: str | None) -> None:
        self._stopping = True
        self.volumes.stop_sync()
        if reason is not None and not self.finished:
            self._pod_reason, self._pod_message = reason, message
            self.notify()  # the pod is Failed from now on, as kubelet reports it
        self._deadline.cancel()
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
            await asyncio.wait({self._task})  # (not "await task": that would re-raise its cancel)
        slack = self.timings.stop_slack
        # Containers whose start was under way when the runner was cancelled.
        for record, restart, log_path, start_task in list(self._starting.values()):
            done, _ = await asyncio.wait({start_task}, timeout=grace + slack)
            if not done:
                start_task.cancel()  # a start that hangs this long is abandoned
                continue
            if start_task.cancelled() or start_task.exception() is not None:
                continue
            self._begin_run(record, restart, log_path, start_task.result(), rfc3339())
        self._starting.clear()
        active = [run for run in self._runs.values() if not run.finished]
        await asyncio.gather(*(self._stop_run(run, grace) for run in active))
        self._stopped = True
        self.notify()

    async def _stop_run(self, run: ContainerRun, grace: float, why: str = "") -> None:
        self.event("Normal", "Killing", why or f"Stopping container {run.record.name}")
        stop_task = asyncio.ensure_future(run.running.stop(grace))
        done, _ = await asyncio.wait({run.wait_task}, timeout=grace + self.timings.stop_slack)
        if done:
            status = run.wait_task.result()
        else:
            status = ExitStatus(
                137, "Error", f"the container did not stop within {grace:g}s grace period"
            )
        if not stop_task.done():
            stop_task.cancel()
            await asyncio.wait({stop_task})
        if not stop_task.cancelled() and stop_task.exception() is not None:
            self._log.error(
                "stopping a container failed",
                container=run.record.name,
                error=repr(stop_task.exception()),
            )
        self._finish_run(run, status)

    def _fail_pod(self, reason: str, message: str) -> None:
        """A pod-level failure: record it and stop every container (from a new task)."""
        self._stopping = True
        if self._pod_reason is None:
            self._pod_reason, self._pod_message = reason, message
        self.event("Warning", reason, message)
        self._spawn(self.terminate(self._grace_period()))
        self.notify()

    def _grace_period(self) -> float:
        value = self.spec.get("terminationGracePeriodSeconds")
        return 30.0 if value is None else float(value)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    # -- activeDeadlineSeconds ----------------------------------------------------------------

    def _deadline_exceeded(self) -> None:
        if self.finished or self._stopping:
            return
        self.event("Warning", deadline.REASON, deadline.MESSAGE)
        self._stopping = True
        self._spawn(
            self.terminate(self._grace_period(), reason=deadline.REASON, message=deadline.MESSAGE)
        )

    # -- status, events, logs ------------------------------------------------------------------

    def phase(self) -> str:
        if self._pod_reason is not None:
            return "Failed"
        return pod_phase(
            str(self.spec.get("restartPolicy", "Always")),
            self.init_records,
            self.app_records,
            stopping=self._stopped,
        )

    def status(self) -> KubeObject:
        status: KubeObject = {
            "phase": self.phase(),
            "containerStatuses": [record.to_json() for record in self.app_records],
        }
        if self.init_records:
            status["initContainerStatuses"] = [record.to_json() for record in self.init_records]
        if self._pod_reason is not None:
            status["reason"] = self._pod_reason
            status["message"] = self._pod_message or ""
        return status

    async def detach(self) -> None:
        """Let go of the pod without stopping it (agent shutdown; its containers run on).

        Nothing more is reported, pulled, started or restarted; the containers
        are left to the runtime, whose next agent re-adopts them.
        """
        self.mute()
        self._stopping = True
        self.volumes.stop_sync()
        self._deadline.cancel()
        tasks = [t for t in (self._task, *self._side_tasks) if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)

    def mute(self) -> None:
        """Report nothing more (agent shutdown: the pods live on in the cluster)."""
        self._muted = True

    def notify(self) -> None:
        if self._muted:
            return
        status = self.status()
        if status == self._last_status:
            return
        self._last_status = status
        try:
            # A fresh copy: the receiver may keep or extend it without touching ours.
            self.context.notify_pod_status(self.pod, self.status())
        except Exception:
            self._log.exception("notify_pod_status failed")

    def event(self, event_type: EventType, reason: str, message: str) -> None:
        if self._muted:
            return
        try:
            self.context.record_event(self.pod, event_type, reason, message)
        except Exception:
            self._log.exception("record_event failed", reason=reason)

    def log_source(self, container: str, previous: bool) -> tuple[Path, asyncio.Event | None]:
        """The log file ``container_logs`` should serve, and the event that ends ``follow``."""
        records: Sequence[ContainerRecord] = [*self.init_records, *self.app_records]
        record = next((r for r in records if r.name == container), None)
        if record is None:
            raise NotFound(f"container {container} is not valid for pod {self.name}")
        run = self._runs.get(container)
        if previous:
            path = self.logs.path(self.pod, container, (run.restart if run else 0) - 1)
            if run is None or run.restart < 1 or not path.exists():
                raise NotFound(
                    f'previous terminated container "{container}" in pod "{self.name}" not found'
                )
            return path, None
        if run is None:
            # A container refused at start may still have left lines (the reason
            # it was refused): serve them, as kubelet serves a terminated one.
            path = self.logs.path(self.pod, container, record.restart_count)
            if "terminated" in record.state and path.exists():
                return path, None
            reason = record.state.get("waiting", {}).get("reason", "")
            if "terminated" in record.state:
                reason = record.state["terminated"].get("reason", "")
                raise NotFound(
                    f'container "{container}" in pod "{self.name}" is terminated: {reason}'
                )
            raise NotFound(
                f'container "{container}" in pod "{self.name}" is waiting to start: {reason}'
            )
        return run.log_path, run.ended

    def active_runs(self) -> list[ContainerRun]:
        """The containers running now (for stats)."""
        return [run for run in self._runs.values() if not run.finished]

    async def cleanup(self) -> None:
        """Remove the pod's volumes and logs (after :meth:`terminate`), off the event loop."""
        await self.volumes.aremove()
        await asyncio.to_thread(self.logs.remove_pod, self.pod)
