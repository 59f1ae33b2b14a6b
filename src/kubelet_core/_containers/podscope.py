"""What every part of one pod's runner shares: the pod, the node's services, the state.

A pod's runner is split by concern (:mod:`.lifecycle` the phases,
:mod:`.supervisor` one per container, :mod:`.termination`, :mod:`.statusview`);
:class:`PodScope` is the one object handed down to all of them, built once
per pod.  It holds the current pod object (replaced by updates, so every
part reads the same version), the services that never change for the pod
(runtime, timings, log store, volumes, the provider context), the runner's
explicit state (:mod:`.podstate`), the ``activeDeadlineSeconds`` timer, and
the pod's tasks: the phases' task and the short side tasks (a stop spawned
by an eviction, a replacement after an image change) that detaching must
cancel too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import structlog

from kubelet_core._containers.backoff import LifecycleTimings
from kubelet_core._containers.deadline import ActiveDeadline
from kubelet_core._containers.logs import LogStore
from kubelet_core._containers.podstate import PodStateMachine
from kubelet_core._containers.runtime import ContainerRuntime
from kubelet_core._containers.status import ContainerRecord
from kubelet_core._containers.volumes import PodVolumes
from kubelet_core._provider.base import KubeObject, ProviderContext
from kubelet_core._provider.errors import InvalidPodSpec

log = structlog.get_logger(__name__)

#: Kubernetes' default ``terminationGracePeriodSeconds``.
DEFAULT_GRACE = 30.0


class PodScope:
    """One pod's shared data and services (see module docstring)."""

    def __init__(
        self,
        pod: KubeObject,
        *,
        runtime: ContainerRuntime,
        context: ProviderContext,
        timings: LifecycleTimings,
        logs: LogStore,
        volumes: PodVolumes,
        id_scheme: str,
        on_deadline: Callable[[], None],
    ) -> None:
        self.pod = pod
        self.runtime = runtime
        self.context = context
        self.timings = timings
        self.logs = logs
        self.volumes = volumes
        self.id_scheme = id_scheme
        self.state = PodStateMachine()
        self.deadline = ActiveDeadline(on_deadline)
        #: Set on every pod update (a pull that cannot be retried waits for one).
        self.updated = asyncio.Event()
        #: The task running the pod's phases (:meth:`PodRunner.start`).
        self.main_task: asyncio.Task[None] | None = None
        self._side_tasks: set[asyncio.Task[Any]] = set()
        self.log = log.bind(pod=f"{self.namespace}/{self.name}")

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
    def restart_policy(self) -> str:
        return str(self.spec.get("restartPolicy", "Always"))

    def grace_period(self) -> float:
        value = self.spec.get("terminationGracePeriodSeconds")
        return DEFAULT_GRACE if value is None else float(value)

    def container_spec(self, record: ContainerRecord) -> KubeObject:
        """The container's spec in the current pod (a copy: launches may keep it)."""
        key = "initContainers" if record.is_init else "containers"
        for container in self.spec.get(key) or []:
            if container.get("name") == record.name:
                return dict(container)
        raise InvalidPodSpec(f"container {record.name!r} is no longer in the pod spec")

    def container_id(self, name: str, restart: int) -> str:
        return f"{self.id_scheme}://{self.uid}/{name}/{restart}"

    def log_path(self, name: str, restart: int) -> Path:
        return self.logs.path(self.pod, name, restart)

    # -- tasks ---------------------------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` beside the phases (kept referenced; cancelled by :meth:`cancel_tasks`)."""
        task = asyncio.ensure_future(coro)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    async def cancel_tasks(self) -> None:
        """Cancel the phases and every side task, and wait until they are gone."""
        tasks = [t for t in (self.main_task, *self._side_tasks) if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
