"""The pod runner: one asyncio task per pod that takes it through its phases, like kubelet.

A :class:`PodRunner` is the composition of a pod's parts, each in its own
module, built once per pod and handed what it needs, downwards:

* :mod:`.podscope` -- the pod (replaced by updates), the node's services,
  the runner's explicit state (:mod:`.podstate`) and the pod's tasks;
* :mod:`.statusview` -- the pod status, derived from that state and the
  containers' records, pushed with ``ProviderContext.notify_pod_status`` on
  every change, and the pod's events;
* :mod:`.supervisor` -- one per container: pull, launch, start, wait,
  restart per policy with CrashLoopBackOff, take up a run from before an
  agent restart (:mod:`.recovery`);
* :mod:`.termination` -- deletion, eviction, ``activeDeadlineSeconds``,
  pod failures, shutdown, and letting sidecars go.

This module holds the phases themselves, in order (:meth:`PodRunner._run`):

1. ``MOUNTING``: every pod volume is set up before any container
   (:mod:`.volumes`); one that cannot be yet (a missing ConfigMap) is a
   ``FailedMount`` Warning and a retry with back-off, woken early by a change
   of the watched object, while the containers wait in ContainerCreating.
   Once mounted, the volumes are kept up to date (and emptyDir ``sizeLimit``
   enforced by eviction) until the pod is removed.
2. ``INITIALIZING``: init containers one at a time, in order, each until it
   exits 0; a failure fails the pod under ``restartPolicy: Never`` and is
   retried with CrashLoopBackOff otherwise (``kubectl`` then shows
   ``Init:CrashLoopBackOff``, the app containers wait in
   ``PodInitializing``); sidecars (init containers with ``restartPolicy:
   Always``) start in their turn and run beside the app containers.
3. ``RUNNING``: the app containers side by side, each under its supervisor.
4. ``COMPLETING``: once those are done, the sidecars are stopped, last first.

``update`` (kubelet semantics: only images and ``activeDeadlineSeconds``
can change) re-arms the deadline and restarts a running container whose
image changed, at once and without back-off; a container not running picks
the new image up at its next start.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from kubelet_core._containers import recovery
from kubelet_core._containers.backoff import Backoff, LifecycleTimings
from kubelet_core._containers.containerrun import ContainerRun
from kubelet_core._containers.identity import volume_group
from kubelet_core._containers.launch import LaunchBuilder
from kubelet_core._containers.logs import LogStore
from kubelet_core._containers.logsource import log_source
from kubelet_core._containers.podscope import PodScope
from kubelet_core._containers.podstate import PodState
from kubelet_core._containers.runtime import ContainerRuntime
from kubelet_core._containers.status import (
    CONTAINER_CREATING,
    POD_INITIALIZING,
    ContainerRecord,
    waiting,
)
from kubelet_core._containers.statusview import PodStatusView
from kubelet_core._containers.supervisor import ContainerSupervisor
from kubelet_core._containers.termination import PodTermination
from kubelet_core._containers.volumes import PodVolumes
from kubelet_core._provider.base import KubeObject, ProviderContext
from kubelet_core._provider.errors import NotFound
from kubelet_core._volumes.sources import VolumeHost


def _images(spec: KubeObject) -> dict[str, str]:
    containers = [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]
    return {str(c.get("name")): str(c.get("image", "")) for c in containers}


def _records(spec: KubeObject) -> tuple[list[ContainerRecord], list[ContainerRecord]]:
    """The init and app containers' records, as they stand before anything ran."""
    inits = spec.get("initContainers") or []
    init_records = [
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
    app_records = [
        ContainerRecord(c["name"], str(c.get("image", "")), False, waiting(first))
        for c in spec.get("containers") or []
    ]
    return init_records, app_records


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
        volumes = PodVolumes(
            volumes_root,
            pod,
            host=volume_host,
            group=volume_group(pod, context.default_run_as_user),
        )
        # Built top-down: scope, view, supervisors, and termination last (it stops the
        # supervisors); the two callbacks into termination are bound late for that reason.
        self.scope = scope = PodScope(
            pod,
            runtime=runtime,
            context=context,
            timings=timings,
            logs=logs,
            volumes=volumes,
            id_scheme=id_scheme,
            on_deadline=lambda: self.termination.deadline_exceeded(),
        )
        init_records, app_records = _records(scope.spec)
        # A pod re-created after an agent restart continues after the runs on disk.
        for record in (*init_records, *app_records):
            record.restart_count = logs.next_restart(pod, record.name)
        apps_ran = any(r.restart_count for r in app_records)
        self.view = view = PodStatusView(scope, init_records, app_records)
        launcher = LaunchBuilder(scope, view, volume_host)

        def supervisor(record: ContainerRecord) -> ContainerSupervisor:
            return ContainerSupervisor(
                scope,
                view,
                launcher,
                record,
                on_pod_failure=lambda reason, message: self.termination.fail_pod(reason, message),
                previous=recovery.previous_run(record, apps_ran=apps_ran),
            )

        self.init_supervisors = [supervisor(record) for record in init_records]
        self.app_supervisors = [supervisor(record) for record in app_records]
        self.supervisors = [*self.init_supervisors, *self.app_supervisors]
        self.termination = PodTermination(scope, view, self.supervisors)

    @property
    def name(self) -> str:
        return self.scope.name

    @property
    def namespace(self) -> str:
        return self.scope.namespace

    @property
    def uid(self) -> str:
        return self.scope.uid

    # -- the phases ------------------------------------------------------------------------

    def start(self) -> None:
        scope = self.scope
        scope.deadline.arm(scope.pod)
        self.view.notify()
        scope.main_task = asyncio.create_task(
            self._run(), name=f"pod {scope.namespace}/{scope.name}"
        )

    async def _run(self) -> None:
        scope, state = self.scope, self.scope.state
        try:
            state.advance(PodState.MOUNTING)
            await self._mount_volumes()
            scope.volumes.start_sync(self.termination.evict)
            state.advance(PodState.INITIALIZING)
            async with asyncio.TaskGroup() as group:
                if await self._initialize(group):
                    state.advance(PodState.RUNNING)
                    await self._run_apps(group)
                state.advance(PodState.COMPLETING)
                await self.termination.stop_sidecars()
            state.advance(PodState.COMPLETED)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug: report it on the pod rather than hang silently
            scope.log.exception("pod runner failed")
            self.termination.fail_pod("ProviderFailed", f"internal error running the pod: {exc!r}")
        finally:
            if self.view.finished:
                scope.deadline.cancel()

    async def _mount_volumes(self) -> None:
        """Set up every pod volume before any container; FailedMount and retry until done.

        The containers keep waiting in ContainerCreating (PodInitializing) meanwhile,
        as with kubelet; a change of a watched ConfigMap/Secret retries at once.
        """
        volumes = self.scope.volumes
        backoff = Backoff(self.scope.timings.config_retry)
        while True:
            failures = await volumes.setup()
            if not failures:
                return
            for volume, message in failures.items():
                self.view.event(
                    "Warning",
                    "FailedMount",
                    f'MountVolume.SetUp failed for volume "{volume}" : {message}',
                )
            self.view.notify()
            await volumes.wait_changed(backoff.next_delay())

    async def _initialize(self, group: asyncio.TaskGroup) -> bool:
        """Init containers in order; sidecars (``restartPolicy: Always``) start and stay."""
        for supervisor in self.init_supervisors:
            if supervisor.record.sidecar:
                supervisor.task = group.create_task(
                    supervisor.supervise(), name=f"sidecar {supervisor.name}"
                )
                await supervisor.started.wait()
            elif not await supervisor.run_until_success():
                return False
        for record in self.view.app_records:
            if record.state.get("waiting", {}).get("reason") == POD_INITIALIZING:
                record.state = waiting(CONTAINER_CREATING)
        if self.init_supervisors:
            self.view.notify()
        return True

    async def _run_apps(self, group: asyncio.TaskGroup) -> None:
        if len(self.app_supervisors) == 1:  # the common case: no extra task
            await self.app_supervisors[0].supervise()
            return
        for supervisor in self.app_supervisors:
            supervisor.task = group.create_task(
                supervisor.supervise(), name=f"container {supervisor.name}"
            )
        await asyncio.gather(*(s.task for s in self.app_supervisors if s.task is not None))

    def update(self, pod: KubeObject) -> None:
        """Take a new version of the pod (kubelet semantics: only a few fields can change).

        ``activeDeadlineSeconds`` is re-armed.  A running app or sidecar container
        whose image changed is killed and started again with the new image, at
        once and without back-off, as kubelet does when a container's spec hash
        changes; a container that is not running uses the new image at its next
        (re)start.
        """
        scope = self.scope
        old_spec = scope.spec
        scope.pod = pod
        scope.volumes.update_pod(pod)
        if not scope.state.stopping:
            if scope.spec.get("activeDeadlineSeconds") != old_spec.get("activeDeadlineSeconds"):
                scope.deadline.arm(pod)
            old_images, new_images = _images(old_spec), _images(scope.spec)
            for supervisor in self.supervisors:
                image = new_images.get(supervisor.name)
                if image is not None and old_images.get(supervisor.name, image) != image:
                    supervisor.replace()
        scope.updated.set()

    # -- what the provider asks of a pod -------------------------------------------------------

    async def terminate(
        self, grace: float, *, reason: str | None = None, message: str | None = None
    ) -> None:
        """Stop everything (idempotent): see :class:`PodTermination`."""
        await self.termination.terminate(grace, reason=reason, message=message)

    async def detach(self) -> None:
        """Let go of the pod without stopping it (agent shutdown; its containers run on)."""
        await self.termination.detach()

    def mute(self) -> None:
        """Report nothing more (agent shutdown: the pods live on in the cluster)."""
        self.view.mute()

    def status(self) -> KubeObject:
        return self.view.build()

    def log_source(self, container: str, previous: bool) -> tuple[Path, asyncio.Event | None]:
        """The log file ``container_logs`` should serve, and the event that ends ``follow``."""
        for supervisor in self.supervisors:
            if supervisor.name == container:
                return log_source(supervisor, previous)
        raise NotFound(f"container {container} is not valid for pod {self.name}")

    def active_runs(self) -> list[ContainerRun]:
        """The containers running now (for stats)."""
        return [s.active for s in self.supervisors if s.active is not None]

    async def cleanup(self) -> None:
        """Remove the pod's volumes and logs (after :meth:`terminate`), off the event loop."""
        await self.scope.volumes.aremove()
        await asyncio.to_thread(self.scope.logs.remove_pod, self.scope.pod)
